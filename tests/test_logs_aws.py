"""`platform logs` on AWS: CloudWatch Logs FilterLogEvents through boto3 against moto in server mode.

The log groups are written with boto3 as Lambda writes them (START/END/REPORT lines, the Python runtime's
tab-separated prefix, EMF metric lines, two execution environments' streams interleaved in time), then read through
the plug-in (`providers/aws/logs.py`) and through the `platform logs` command. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from platform_sdk.envs import load_environment
from platform_sdk.errors import PlatformError
from platform_sdk.providers.aws import logs
from platform_sdk.providers.base import FunctionRef
from tests.emulators import MOTO_ENVIRONMENT
from tests.terraform_fixtures import Cli


def ref(name: str, address: str = "thumbnails.resize") -> FunctionRef:
    service, function = address.split(".")
    return FunctionRef(service, function, address, "stack", "aws", "aws", "aws_lambda_function.fn", name, None,
                       region="us-east-1")


def ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def stream() -> str:
    return f"2026/11/30/[$LATEST]{uuid.uuid4().hex}"


def put(client: Any, group: str, stream_name: str, events: list[tuple[datetime, str]]) -> None:
    """Write events into one stream (created if needed), as Lambda's log agent does."""
    with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
        client.create_log_stream(logGroupName=group, logStreamName=stream_name)
    client.put_log_events(logGroupName=group, logStreamName=stream_name,
                          logEvents=[{"timestamp": ms(when), "message": message} for when, message in events])


@pytest.fixture
def cloudwatch(moto_server: str) -> Any:
    return boto3.client("logs", endpoint_url=moto_server, region_name="us-east-1")


@pytest.fixture
def env(tmp_path: Path, moto_server: str) -> Any:
    path = tmp_path / "envs" / "awslogs.toml"
    path.parent.mkdir()
    path.write_text(MOTO_ENVIRONMENT.format(endpoint=moto_server))
    return load_environment(path)


@pytest.fixture
def group(cloudwatch: Any) -> Iterator[tuple[str, str]]:
    """A fresh function name and its log group `/aws/lambda/<name>`, created as the compiler creates it."""
    name = f"acme-awslogs-{uuid.uuid4().hex[:10]}"
    cloudwatch.create_log_group(logGroupName=f"/aws/lambda/{name}")
    yield name, f"/aws/lambda/{name}"
    cloudwatch.delete_log_group(logGroupName=f"/aws/lambda/{name}")


R1, R2, R3 = (str(uuid.UUID(int=n)) for n in (0x1111, 0x2222, 0x3333))


def two_invocations(cloudwatch: Any, group: str, t0: datetime) -> None:
    """Two execution environments (streams), each running one invocation, their lines interleaved in time."""
    at = [t0 + timedelta(milliseconds=n) for n in range(12)]
    put(cloudwatch, group, "2026/11/30/[$LATEST]aaaa", [
        (at[0], f"START RequestId: {R1} Version: $LATEST"),
        (at[1], f"[INFO]\t{at[1]:%Y-%m-%dT%H:%M:%S.%f}Z\t{R1}\tresizing photo.jpg\n"),
        (at[3], json.dumps({"_aws": {"Timestamp": ms(at[3]), "CloudWatchMetrics": []}, "service": "thumbnails",
                            "thumbnails_served": 1, "requestId": R2})),  # names its own request
        (at[5], "print() without a prefix"),
        (at[6], f"END RequestId: {R1}"),
        (at[6], f"REPORT RequestId: {R1}\tDuration: 5.00 ms\tBilled Duration: 6 ms"),
        (at[9], "a line between invocations"),
    ])
    put(cloudwatch, group, "2026/11/30/[$LATEST]bbbb", [
        (at[2], f"START RequestId: {R2} Version: $LATEST"),
        (at[4], "the second environment's own print()"),
        (at[7], f"invocation fn=thumbnails.resize cloud=aws request_id={R3} outcome=ok"),
        (at[8], f"END RequestId: {R2}"),
    ])


def test_request_ids_come_from_lambda_marks_and_the_lines_own(env: Any, cloudwatch: Any,
                                                              group: tuple[str, str]) -> None:
    name, log_group = group
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    two_invocations(cloudwatch, log_group, t0)

    found = logs.fetch(env, [ref(name)], t0 - timedelta(minutes=1))
    assert [(e.message.split("\t")[-1], e.request_id) for e in found] == [
        (f"START RequestId: {R1} Version: $LATEST", R1),
        ("resizing photo.jpg", R1),
        (f"START RequestId: {R2} Version: $LATEST", R2),
        (found[3].message, R2),  # the EMF line's own requestId, not the stream's R1
        ("the second environment's own print()", R2),
        ("print() without a prefix", R1),
        (f"END RequestId: {R1}", R1),
        ("Billed Duration: 6 ms", R1),
        (f"invocation fn=thumbnails.resize cloud=aws request_id={R3} outcome=ok", R3),
        (f"END RequestId: {R2}", R2),
        ("a line between invocations", None),
    ]
    assert json.loads(found[3].message)["thumbnails_served"] == 1
    assert all(e.function == "thumbnails.resize" for e in found)
    assert [e.time for e in found] == sorted(e.time for e in found) and found[0].time == t0
    assert found[1].message == f"[INFO]\t{t0 + timedelta(milliseconds=1):%Y-%m-%dT%H:%M:%S.%f}Z\t{R1}\tresizing " \
                               "photo.jpg"  # the trailing newline Lambda keeps is dropped


def test_since_leaves_out_older_events(env: Any, cloudwatch: Any, group: tuple[str, str]) -> None:
    name, log_group = group
    now = datetime.now(UTC).replace(microsecond=0)
    put(cloudwatch, log_group, stream(), [(now - timedelta(hours=2), "two hours ago"),
                                          (now - timedelta(minutes=30), "half an hour ago"),
                                          (now - timedelta(minutes=1), "a minute ago")])
    assert [e.message for e in logs.fetch(env, [ref(name)], now - timedelta(hours=1))] == [
        "half an hour ago", "a minute ago"]
    assert [e.message for e in logs.fetch(env, [ref(name)], now - timedelta(minutes=1))] == ["a minute ago"]
    assert logs.fetch(env, [ref(name)], now) == []


def test_every_page_is_read(env: Any, cloudwatch: Any, group: tuple[str, str]) -> None:
    """FilterLogEvents returns at most 10,000 events a call (its default and largest `limit`) and a nextToken."""
    name, log_group = group
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    count = 10_050
    for first in range(0, count, 5_000):
        put(cloudwatch, log_group, "one-stream", [(t0 + timedelta(milliseconds=n), f"line {n}")
                                                  for n in range(first, min(first + 5_000, count))])
    page = cloudwatch.filter_log_events(logGroupName=log_group, startTime=ms(t0))
    assert len(page["events"]) == 10_000 and page.get("nextToken")  # moto pages as CloudWatch Logs does

    found = logs.fetch(env, [ref(name)], t0)
    assert [e.message for e in found] == [f"line {n}" for n in range(count)]


def test_a_missing_log_group_is_no_entries_and_each_function_keeps_its_address(
        env: Any, cloudwatch: Any, group: tuple[str, str]) -> None:
    name, log_group = group
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    put(cloudwatch, log_group, stream(), [(when, "resized")])
    refs = [ref(name), ref(f"acme-awslogs-never-invoked-{uuid.uuid4().hex[:6]}", "auth.api"),
            ref("${aws_lambda_function.fn.function_name}", "auth.cleanup")]  # not resolvable before apply: skipped
    found = logs.fetch(env, refs, when - timedelta(minutes=1))
    assert [(e.function, e.message) for e in found] == [("thumbnails.resize", "resized")]


def test_events_of_the_same_millisecond_keep_the_order_cloudwatch_returned() -> None:
    """moto numbers event ids 9, 10, 11: as text, "10" < "9", which once put the line before its START."""
    at = 1_764_489_600_000
    events = [{"eventId": "9", "timestamp": at, "logStreamName": "s", "message": f"START RequestId: {R1}"},
              {"eventId": "10", "timestamp": at, "logStreamName": "s", "message": "the handler's line"},
              {"eventId": "11", "timestamp": at, "logStreamName": "s", "message": f"END RequestId: {R1}"}]
    assert [(e.message, e.request_id) for e in logs.entries(events, "a.b")] == [
        (f"START RequestId: {R1}", R1), ("the handler's line", R1), (f"END RequestId: {R1}", R1)]


def test_access_denied_names_the_function_and_the_permission_to_grant(env: Any, moto_server: str) -> None:
    client = boto3.client("logs", endpoint_url=moto_server, region_name="us-east-1")
    with Stubber(client) as stub:  # moto in server mode does not enforce IAM: the API's error, as AWS sends it
        stub.add_client_error("filter_log_events", service_error_code="AccessDeniedException", http_status_code=400,
                              service_message="User: arn:aws:iam::123456789012:user/dev is not authorized to "
                                              "perform: logs:FilterLogEvents")
        with pytest.raises(PlatformError) as caught:
            logs.fetch(env, [ref("acme-awslogs-thumbnails-resize")], datetime.now(UTC), client=client)
    assert str(caught.value) == (
        "--env: cannot read the logs of thumbnails.resize on AWS: access denied to log group "
        "/aws/lambda/acme-awslogs-thumbnails-resize; grant the caller logs:FilterLogEvents on "
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/acme-awslogs-thumbnails-resize:* (got 'awslogs')")


def test_no_credentials_says_how_to_give_them(env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                 "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # a session made earlier keeps the credentials it found
    with pytest.raises(PlatformError, match=r"logs of thumbnails.resize on AWS: no AWS credentials \(set AWS_PROFILE"):
        logs.fetch(env, [ref("acme-awslogs-thumbnails-resize")], datetime.now(UTC))


def test_platform_logs_json_on_an_aws_environment(estate: Path, moto_server: str, cloudwatch: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The command end to end: the function's physical name from the synthesized stacks, its log group in moto."""
    (estate / "envs" / "awslogs.toml").write_text(MOTO_ENVIRONMENT.format(endpoint=moto_server))
    log_group = "/aws/lambda/acme-awslogs-thumbnails-resize"
    cloudwatch.create_log_group(logGroupName=log_group)
    try:
        t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3)
        two_invocations(cloudwatch, log_group, t0)
        put(cloudwatch, log_group, stream(), [(t0 - timedelta(hours=3), "three hours ago")])
        cli = Cli(Path("terraform-not-needed"))
        result = cli(estate, "logs", "thumbnails.resize", "--env", "awslogs", "--since", "1h", "--json")
        assert result.exit_code == 0, result.stdout + result.stderr
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        assert len(lines) == 11 and {line["function"] for line in lines} == {"thumbnails.resize"}
        assert {line["cloud"] for line in lines} == {"aws"}
        assert lines[0] == {"time": t0.isoformat().replace("+00:00", "Z"), "function": "thumbnails.resize",
                            "request_id": R1, "message": f"START RequestId: {R1} Version: $LATEST", "cloud": "aws"}
        assert [line["request_id"] for line in lines] == [R1, R1, R2, R2, R2, R1, R1, R1, R3, R2, None]

        text = cli(estate, "logs", "thumbnails", "--env", "awslogs", "--since", "1h")
        assert text.exit_code == 0, text.stdout + text.stderr
        line = next(line for line in text.stdout.splitlines() if "resizing photo.jpg" in line)
        assert line.startswith(f"{t0:%Y-%m-%d %H:%M:%S}  thumbnails.resize  aws  {R1}  [INFO]"), line

        no_credentials = {name: None for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                                                  "AWS_SECURITY_TOKEN", "AWS_PROFILE")}
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # else the in-process CLI reuses earlier credentials
        denied = cli(estate, "logs", "thumbnails.resize", "--env", "awslogs", env=no_credentials)  # type: ignore[arg-type]
        assert denied.exit_code == 2 and denied.stdout == ""
        assert "cannot read the logs of thumbnails.resize on AWS: no AWS credentials" in denied.stderr, denied.stderr
    finally:
        cloudwatch.delete_log_group(logGroupName=log_group)


def test_follow_prints_each_line_once_though_its_start_falls_out_of_the_window(
        tmp_path: Path, env: Any, cloudwatch: Any, group: tuple[str, str]) -> None:
    """`--follow` asks again from a second before the newest line: a line whose START is older then comes back
    without the request id, and once was printed a second time."""
    from platform_sdk.status.logs import follow

    name, log_group = group
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    put(cloudwatch, log_group, "2026/11/30/[$LATEST]aaaa", [
        (t0, f"START RequestId: {R1} Version: $LATEST"), (t0 + timedelta(seconds=5), "a slow handler's line"),
        (t0 + timedelta(seconds=5), "ok"), (t0 + timedelta(seconds=5), "ok")])  # the same text twice: both shown
    polls = iter((False, False, True))
    found = list(follow(tmp_path, env, [ref(name)], t0 - timedelta(seconds=1), poll_s=0, stop=lambda: next(polls)))
    assert [(e.message, e.request_id) for e in found] == [
        (f"START RequestId: {R1} Version: $LATEST", R1), ("a slow handler's line", R1), ("ok", R1), ("ok", R1)]
