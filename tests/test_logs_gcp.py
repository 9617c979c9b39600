"""`platform logs` on GCP: Cloud Logging `entries.list` through the real google-cloud-logging client (REST) against
a local fake of the API (tests/fake_cloudlogging.py), through the plug-in (`providers/gcp/logs.py`) and through the
`platform logs` command. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from platform_sdk.envs import load_environment
from platform_sdk.errors import PlatformError
from platform_sdk.providers.base import FunctionRef
from platform_sdk.providers.gcp import logs
from platform_sdk.status import function_refs
from tests.fake_cloudlogging import BadRequest, FakeCloudLogging
from tests.terraform_fixtures import Cli

PROJECT = "acme-test-123"
GCP_ENV = f"""
name_prefix = "acme"
default_cloud = "gcp"
[clouds.gcp]
project = "{PROJECT}"
region = "europe-west1"
[state]
backend = "local"
"""
RESIZE, ON_DEMAND = "acme-gcplogs-thumbnails-resize", "acme-gcplogs-thumbnails-on-demand"


def ref(name: str, address: str = "thumbnails.resize", project: str | None = PROJECT) -> FunctionRef:
    service, function = address.split(".")
    return FunctionRef(service, function, address, "stack", "gcp", "gcp", "google_cloudfunctions2_function.fn", name,
                       None, region="europe-west1", project=project)


@pytest.fixture
def env(tmp_path: Path) -> Any:
    path = tmp_path / "envs" / "gcplogs.toml"
    path.parent.mkdir()
    path.write_text(GCP_ENV)
    return load_environment(path)


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Serve a fake and point the plug-in at it; yields the fake."""
    fake = FakeCloudLogging()
    with fake.running() as url:
        monkeypatch.setenv(logs.ENDPOINT_ENV, url)
        yield fake


def invocations(fake: FakeCloudLogging, t0: datetime) -> None:
    """Two invocations of the resize function, as Cloud Run writes them, and one of on-demand."""
    at = [t0 + timedelta(milliseconds=n) for n in range(10)]
    fake.add(PROJECT, RESIZE, at[0], text="resizing photo.jpg", labels={"execution_id": "exec-aaa111"},
             trace="4bf92f3577b34da6a3ce929d0e0e4736")
    fake.add(PROJECT, RESIZE, at[1], json_payload={"message": "metric thumbnails_served=1", "severity": "INFO",
                                                   "platform_metric": "thumbnails_served", "value": 1,
                                                   "request_id": "req-metric-1"}, severity="INFO")
    fake.add(PROJECT, RESIZE, at[2],
             text="invocation fn=thumbnails.resize cloud=gcp request_id=req-line-2 outcome=ok\n")
    fake.add(PROJECT, RESIZE, at[3], json_payload={"message": "a structured line", "severity": "WARNING"},
             trace="0af7651916cd43dd8448eb211c80319c")
    fake.add(PROJECT, RESIZE, at[4], http_request={"requestMethod": "POST", "status": 200, "latency": "0.012s",
                                                   "requestUrl": "https://resize-abc-ew.a.run.app/"},
             trace="0af7651916cd43dd8448eb211c80319c", log="run.googleapis.com%2Frequests")
    fake.add(PROJECT, RESIZE, at[5], text="no id anywhere")
    fake.add(PROJECT, ON_DEMAND, at[6], text="on demand", labels={"execution_id": "exec-ccc333"})
    # not the functions': another service, another resource type, another project
    fake.add(PROJECT, "acme-gcplogs-auth-api", at[7], text="another service")
    fake.add(PROJECT, RESIZE, at[8], text="a job of the same name", resource_type="cloud_run_job")
    fake.add("other-project-1", RESIZE, at[9], text="another project")


def test_request_ids_and_messages_of_text_json_and_request_entries(env: Any, endpoint: FakeCloudLogging) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    invocations(endpoint, t0)
    found = logs.fetch(env, [ref(RESIZE), ref(ON_DEMAND, "thumbnails.on-demand")], t0 - timedelta(minutes=1))
    assert [(e.function, e.request_id, e.message) for e in found] == [
        ("thumbnails.resize", "exec-aaa111", "resizing photo.jpg"),
        ("thumbnails.resize", "req-metric-1", '{"message":"metric thumbnails_served=1","platform_metric":'
                                              '"thumbnails_served","request_id":"req-metric-1","severity":"INFO",'
                                              '"value":1}'),
        ("thumbnails.resize", "req-line-2", "invocation fn=thumbnails.resize cloud=gcp request_id=req-line-2 "
                                            "outcome=ok"),
        ("thumbnails.resize", "0af7651916cd43dd8448eb211c80319c", "a structured line"),
        ("thumbnails.resize", "0af7651916cd43dd8448eb211c80319c", "POST https://resize-abc-ew.a.run.app/ 200 0.012s"),
        ("thumbnails.resize", None, "no id anywhere"),
        ("thumbnails.on-demand", "exec-ccc333", "on demand"),
    ]
    assert found[0].time == t0 and found[-1].time == t0 + timedelta(milliseconds=6)

    # one request for both functions of the project (entries.list allows one a second per project)
    assert len(endpoint.requests) == 1
    body = endpoint.requests[0]
    assert body["resourceNames"] == [f"projects/{PROJECT}"] and body["orderBy"] == "timestamp asc"
    assert body["pageSize"] == 1000
    assert body["filter"] == (f'resource.type = "cloud_run_revision" AND resource.labels.service_name = '
                              f'("{ON_DEMAND}" OR "{RESIZE}") AND timestamp >= '
                              f'"{(t0 - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")}"')


def test_since_leaves_out_older_entries(env: Any, endpoint: FakeCloudLogging) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    for minutes, text in ((120, "two hours ago"), (30, "half an hour ago"), (1, "a minute ago")):
        endpoint.add(PROJECT, RESIZE, now - timedelta(minutes=minutes), text=text)
    assert [e.message for e in logs.fetch(env, [ref(RESIZE)], now - timedelta(hours=1))] == [
        "half an hour ago", "a minute ago"]
    assert [e.message for e in logs.fetch(env, [ref(RESIZE)], now - timedelta(minutes=1))] == ["a minute ago"]
    assert logs.fetch(env, [ref(RESIZE)], now) == []
    assert endpoint.requests[0]["filter"].endswith(f'timestamp >= "{(now - timedelta(hours=1)):%Y-%m-%dT%H:%M:%S}Z"')


def test_every_page_is_read(env: Any, endpoint: FakeCloudLogging) -> None:
    """The API may answer fewer entries than `pageSize` and a nextPageToken: the client follows every token."""
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    for n in range(1_005):
        endpoint.add(PROJECT, RESIZE, t0 + timedelta(milliseconds=n), text=f"line {n}")
    endpoint.page_limit = 400
    found = logs.fetch(env, [ref(RESIZE)], t0)
    assert [e.message for e in found] == [f"line {n}" for n in range(1_005)]
    assert len(endpoint.requests) == 3 and "pageToken" not in endpoint.requests[0]
    assert all(r.get("pageToken") for r in endpoint.requests[1:])


def test_functions_without_a_name_yet_ask_nothing(env: Any, endpoint: FakeCloudLogging) -> None:
    assert logs.fetch(env, [ref("${google_cloudfunctions2_function.fn.name}")], datetime.now(UTC)) == []
    assert endpoint.requests == []


def test_a_project_the_caller_may_not_read_says_which_role_to_grant(env: Any, endpoint: FakeCloudLogging) -> None:
    endpoint.denied.add(PROJECT)
    with pytest.raises(PlatformError) as caught:
        logs.fetch(env, [ref(RESIZE), ref(ON_DEMAND, "thumbnails.on-demand")], datetime.now(UTC))
    assert str(caught.value) == (
        "--env: cannot read the logs of thumbnails.resize, thumbnails.on-demand on GCP: permission denied on project "
        f"{PROJECT}; grant the caller roles/logging.viewer (logging.logEntries.list) on project {PROJECT} "
        "(got 'gcplogs')")


def test_no_credentials_says_how_to_give_them(env: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(logs.ENDPOINT_ENV, raising=False)  # the public API: Application Default Credentials
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("NO_GCE_CHECK", "True")  # google-auth: no metadata server here, do not look for one
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "no-gcloud"))
    with pytest.raises(PlatformError, match=r"logs of thumbnails.resize on GCP: no Google credentials \(run `gcloud "
                                            r"auth application-default login`"):
        logs.fetch(env, [ref(RESIZE)], datetime.now(UTC))


def test_platform_logs_json_on_a_gcp_environment(estate: Path) -> None:
    """The command end to end: the functions' names from the synthesized stacks, their entries from the fake."""
    (estate / "envs" / "gcplogs.toml").write_text(GCP_ENV)
    cli = Cli(Path("terraform-not-needed"))
    assert cli(estate, "synth", "--env", "gcplogs").exit_code == 0
    names = {r.address: r.name for r in function_refs(estate / "cdktf.out" / "gcplogs")}
    assert (names["thumbnails.resize"], names["thumbnails.on-demand"]) == (RESIZE, ON_DEMAND)

    fake = FakeCloudLogging()
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3)
    invocations(fake, t0)
    fake.add(PROJECT, RESIZE, t0 - timedelta(hours=2), text="two hours ago")
    with fake.running() as url:
        result = cli(estate, "logs", "thumbnails", "--env", "gcplogs", "--since", "1h", "--json",
                     env={logs.ENDPOINT_ENV: url})
        assert result.exit_code == 0, result.stdout + result.stderr
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        assert [(line["function"], line["request_id"]) for line in lines] == [
            ("thumbnails.resize", "exec-aaa111"), ("thumbnails.resize", "req-metric-1"),
            ("thumbnails.resize", "req-line-2"), ("thumbnails.resize", "0af7651916cd43dd8448eb211c80319c"),
            ("thumbnails.resize", "0af7651916cd43dd8448eb211c80319c"), ("thumbnails.resize", None),
            ("thumbnails.on-demand", "exec-ccc333")]
        assert lines[0] == {"time": t0.isoformat().replace("+00:00", "Z"), "function": "thumbnails.resize",
                            "request_id": "exec-aaa111", "message": "resizing photo.jpg", "cloud": "gcp"}

        one = cli(estate, "logs", "thumbnails.on-demand", "--env", "gcplogs", env={logs.ENDPOINT_ENV: url})
        assert one.exit_code == 0, one.stdout + one.stderr
        assert one.stdout.splitlines() == [f"{t0:%Y-%m-%d %H:%M:%S}  thumbnails.on-demand  gcp  exec-ccc333  on demand"]

        fake.denied.add(PROJECT)
        denied = cli(estate, "logs", "thumbnails.resize", "--env", "gcplogs", env={logs.ENDPOINT_ENV: url})
        assert denied.exit_code == 2 and denied.stdout == ""
        assert "grant the caller roles/logging.viewer (logging.logEntries.list) on project acme-test-123" in (
            denied.stderr), denied.stderr


def test_without_google_cloud_logging_says_what_to_install(env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "google.cloud.logging", None)  # not installed
    with pytest.raises(PlatformError, match=r"needs google-cloud-logging: pip install 'platform-sdk\[gcp\]'"):
        logs.fetch(env, [ref(RESIZE)], datetime.now(UTC))


def test_the_fake_refuses_a_query_it_cannot_read() -> None:
    """The fake parses the filter rather than ignoring what it does not know (which would pass any query)."""
    fake = FakeCloudLogging()
    fake.add(PROJECT, RESIZE, datetime.now(UTC), text="x")
    for query in ('severity >= "ERROR"', 'resource.labels.service_name = "a" OR timestamp >= "2026-11-30T00:00:00Z"',
                  'timestamp >= "yesterday"'):
        with pytest.raises(BadRequest):
            fake.list_entries({"resourceNames": [f"projects/{PROJECT}"], "filter": query})
    assert fake.list_entries({"resourceNames": [f"projects/{PROJECT}"],
                              "filter": f'resource.labels.service_name = ("a" OR "{RESIZE}")'})["entries"]
    assert fake.list_entries({"resourceNames": [f"projects/{PROJECT}"],
                              "filter": 'resource.labels.service_name = ("a" OR "b")'}) == {}
