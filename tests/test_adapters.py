"""Entry adapters fed real event shapes (tests/events/), running real packages built by synth/assets.

AWS: the generated `_platform_entry.handler(event, context)` is called directly, S3 through moto.
GCP: the generated `main.handler` is served by functions-framework's own Flask app (test client), with
CloudEvents in binary and structured mode and GCS on gcp-storage-emulator. Local: the local gateway's
`handler(event)` dict protocol, including the example services' unchanged function code.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import io
import json
import logging
import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from platform_sdk.model import Bucket, Function, http, object_created, schedule
from platform_sdk.runtime import ObjectCreated, ScheduleTick
from platform_sdk.runtime.adapters.common import parse_time
from platform_sdk.synth.assets import package_entries
from tests.markers import starts_server

pytestmark = pytest.mark.xdist_group("adapters")  # module-scoped fixtures: keep the module on one worker

REPO = Path(__file__).resolve().parent.parent
EVENTS = Path(__file__).resolve().parent / "events"

NEUTRAL_CODE = '''
"""A neutral handler module: the same code for every cloud."""
from platform_sdk.runtime import HttpRequest, HttpResponse, ObjectCreated, ScheduleTick, bucket

SEEN = []


def web(request: HttpRequest) -> HttpResponse:
    SEEN.append(request)
    if request.path == "/boom":
        raise RuntimeError("kaboom")
    if request.path == "/binary":
        return HttpResponse(200, bytes(range(256)), {"content-type": "image/png"})
    return HttpResponse(200, {"method": request.method, "path": request.path, "query": request.query,
                              "body": request.text, "cookie": request.headers.get("cookie"),
                              "header2": request.headers.get("header2")})


def on_object(event: ObjectCreated) -> None:
    SEEN.append(event)
    if event.key.startswith("fail/"):
        raise RuntimeError("cannot process " + event.key)
    data = bucket("originals").get(event.key)
    bucket("thumbs").put("copy/" + event.key, data[::-1])


def on_tick(tick: ScheduleTick) -> None:
    SEEN.append(tick)
    if getattr(tick, "schedule", None) == "fail":
        raise RuntimeError("tick failed")
'''


def load(events_file: str) -> dict[str, Any]:
    return json.loads((EVENTS / events_file).read_text())


@pytest.fixture(autouse=True)
def function_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in list(os.environ):
        if key.startswith("PLATFORM_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("PLATFORM_ENV", "test")
    monkeypatch.setenv("PLATFORM_SERVICE", "media")
    monkeypatch.setenv("PLATFORM_FUNCTION", "worker")
    monkeypatch.setenv("PLATFORM_GRANTS", "")
    saved_path = list(sys.path)
    yield
    sys.path[:] = saved_path


class App:
    """The neutral handler module in a source dir, and real packages of it for each target."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.module = f"neutral_{uuid.uuid4().hex[:10]}"
        self.source = root / "src"
        self.source.mkdir()
        (self.source / f"{self.module}.py").write_text(NEUTRAL_CODE)

    def package(self, target: str, attr: str, triggers: list[Any]) -> Path:
        fn = Function("worker", handler=f"{self.module}.{attr}", source=self.source, triggers=triggers)
        out = self.root / f"pkg-{target}-{attr}-{uuid.uuid4().hex[:6]}"
        for name, data in package_entries(fn, target).items():
            path = out / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        return out

    def entry(self, target: str, attr: str, triggers: list[Any]) -> Callable[..., Any]:
        """The generated entry module's `handler`, imported from the built package directory."""
        out = self.package(target, attr, triggers)
        spec = importlib.util.spec_from_file_location(f"entry_{uuid.uuid4().hex}", out / "_platform_entry.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.handler

    @property
    def seen(self) -> list[Any]:
        module: ModuleType | None = sys.modules.get(self.module)
        return module.SEEN if module else []


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    neutral = App(tmp_path)
    yield neutral
    sys.modules.pop(neutral.module, None)


def local_buckets(monkeypatch: pytest.MonkeyPatch, root: Path, **access: str) -> dict[str, Path]:
    dirs = {}
    for name in access:
        path = root / "buckets" / f"media-{name}-x1y2"
        path.mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(f"PLATFORM_BUCKET_{name.upper()}", path.as_uri())
        dirs[name] = path
    monkeypatch.setenv("PLATFORM_GRANTS", ",".join(f"bucket:{n}:{a}" for n, a in sorted(access.items())))
    return dirs


def invocation_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "platform.runtime" and "invocation " in r.getMessage()]


# -------------------------------------------------------------------------------------------------- AWS


@contextlib.contextmanager
def moto_endpoint() -> Iterator[str]:
    """tests/emulators.py's moto helper when present, else a ThreadedMotoServer of our own."""
    try:
        from emulators import start_moto  # type: ignore[import-not-found]
    except ImportError:
        start_moto = None
    if start_moto is not None:
        with start_moto() as url:
            yield url
        return
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
@starts_server
def moto() -> Iterator[str]:
    with moto_endpoint() as url:
        yield url


def lambda_context(request_id: str = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef") -> SimpleNamespace:
    return SimpleNamespace(aws_request_id=request_id, function_name="media-worker")


def test_aws_function_url_get(app: App, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="platform.runtime")
    handler = app.entry("aws", "web", [http()])
    response = handler(load("aws_function_url_get.json"), lambda_context())
    assert response["statusCode"] == 200
    assert response["isBase64Encoded"] is False
    assert response["headers"]["content-type"] == "application/json"
    body = json.loads(response["body"])
    assert body["method"] == "GET" and body["path"] == "/" and body["query"] == {} and body["body"] == ""
    request = app.seen[0]
    assert request.headers["user-agent"].startswith("Mozilla/5.0")
    lines = invocation_lines(caplog)
    assert len(lines) == 1
    assert "fn=media.worker" in lines[0] and "cloud=aws" in lines[0] and "trigger=http" in lines[0]
    assert "request_id=c6af9ac6-7b61-11e6-9a41-93e8deadbeef" in lines[0] and "duration_ms=" in lines[0]


def test_aws_function_url_post_with_cookies_and_repeated_query(app: App) -> None:
    handler = app.entry("aws", "web", [http()])
    response = handler(load("aws_function_url_post.json"), lambda_context())
    body = json.loads(response["body"])
    assert body == {"method": "POST", "path": "/my/path", "query": {"parameter1": "value1", "parameter2": "value"},
                    "body": "Hello from client!", "cookie": "cookie1; cookie2", "header2": "value1,value2"}


def test_aws_api_gateway_rest_payload_v1(app: App) -> None:
    handler = app.entry("aws", "web", [http()])
    response = handler(load("aws_apigw_rest_get.json"), lambda_context())
    assert response["statusCode"] == 200 and "cookies" not in response
    assert json.loads(response["body"]) == {"method": "GET", "path": "/my/path", "body": "Hello from Lambda!",
                                            "query": {"parameter1": "value1", "parameter2": "value"},
                                            "cookie": None, "header2": "value2"}


def test_aws_base64_request_and_binary_response(app: App) -> None:
    handler = app.entry("aws", "web", [http()])
    event = load("aws_function_url_post.json")
    event["body"] = base64.b64encode("ünïcode ✓".encode()).decode()
    event["isBase64Encoded"] = True
    assert json.loads(handler(event, lambda_context())["body"])["body"] == "ünïcode ✓"
    event = load("aws_function_url_get.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/binary"
    response = handler(event, lambda_context())
    assert response["isBase64Encoded"] is True
    assert response["headers"]["content-type"] == "image/png"
    assert base64.b64decode(response["body"]) == bytes(range(256))


def test_aws_handler_exception_is_a_logged_500(app: App, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="platform.runtime")
    handler = app.entry("aws", "web", [http()])
    event = load("aws_function_url_get.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/boom"
    response = handler(event, lambda_context("req-500"))
    assert response["statusCode"] == 500
    assert json.loads(response["body"]) == {"error": "internal error", "request_id": "req-500"}
    assert "kaboom" not in response["body"]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and "request_id=req-500" in errors[0].getMessage()
    assert "kaboom" in caplog.text  # the traceback is in the log, not in the response
    assert "outcome=error" in invocation_lines(caplog)[0]


def test_aws_s3_put_maps_physical_bucket_and_decodes_key(app: App, moto: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    suffix = uuid.uuid4().hex[:8]
    s3 = boto3.client("s3", endpoint_url=moto, region_name="us-east-1")
    for name in ("originals", "thumbs"):
        s3.create_bucket(Bucket=f"media-{name}-{suffix}")
        monkeypatch.setenv(f"PLATFORM_BUCKET_{name.upper()}", f"s3://media-{name}-{suffix}")
    monkeypatch.setenv("PLATFORM_GRANTS", "bucket:originals:read,bucket:thumbs:write")
    monkeypatch.setenv("PLATFORM_S3_ENDPOINT", moto)
    key = "photos/my cat (1).jpg"
    s3.put_object(Bucket=f"media-originals-{suffix}", Key=key, Body=b"JPEGDATA")

    event = load("aws_s3_put.json")
    record = event["Records"][0]
    record["s3"]["bucket"]["name"] = f"media-originals-{suffix}"
    record["s3"]["object"]["key"] = "photos/my+cat+%281%29.jpg"  # how S3 encodes keys in notifications
    record["s3"]["object"]["size"] = 8
    handler = app.entry("aws", "on_object", [object_created(Bucket("originals"), prefix="photos/")])
    assert handler(event, lambda_context()) == {"handled": 1}
    assert app.seen == [ObjectCreated(bucket="originals", key=key, size=8, content_type=None)]
    copy = s3.get_object(Bucket=f"media-thumbs-{suffix}", Key=f"copy/{key}")["Body"].read()
    assert copy == b"ATADGEPJ"


def test_aws_s3_one_call_per_record_and_ignores_other_events(app: App, monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    local_buckets(monkeypatch, tmp_path, originals="read", thumbs="write")
    monkeypatch.setenv("PLATFORM_BUCKET_ORIGINALS", "s3://lambda-artifacts-deafc19498e3f2df")
    event = load("aws_s3_put.json")
    first = event["Records"][0]
    second = json.loads(json.dumps(first))
    second["s3"]["object"]["key"] = "fail/second"
    removed = json.loads(json.dumps(first))
    removed["eventName"] = "ObjectRemoved:Delete"
    event["Records"] = [removed]
    handler = app.entry("aws", "on_tick", [object_created(Bucket("originals"))])
    assert handler(event, lambda_context()) == {"handled": 0}
    event["Records"] = [first, second]
    assert handler(event, lambda_context()) == {"handled": 2}
    assert [e.key for e in app.seen] == ["b21b84d653bb07b05b1e6b33684dc11b", "fail/second"]
    assert {e.bucket for e in app.seen} == {"originals"}
    assert app.seen[0].size == 1305107


def test_aws_event_handler_failure_is_reraised(app: App, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    local_buckets(monkeypatch, tmp_path, originals="read", thumbs="write")
    event = load("aws_s3_put.json")
    event["Records"][0]["s3"]["object"]["key"] = "fail/x.jpg"
    handler = app.entry("aws", "on_object", [object_created(Bucket("originals"))])
    with pytest.raises(RuntimeError, match="cannot process fail/x.jpg"):
        handler(event, lambda_context("retry-me"))
    assert any("request_id=retry-me" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)


def test_aws_scheduled_event_is_a_tick_with_the_cron(app: App) -> None:
    handler = app.entry("aws", "on_tick", [schedule("0 3 * * *")])
    assert handler(load("aws_scheduled.json"), lambda_context()) == {"handled": 1}
    assert app.seen == [ScheduleTick(time=datetime(2019, 3, 1, 1, 23, 45, tzinfo=timezone.utc),  # noqa: UP017
                                     schedule="0 3 * * *")]
    with pytest.raises(RuntimeError, match="tick failed"):
        handler({"platform_schedule": "fail", "time": "2026-01-01T00:00:00Z"}, lambda_context())


def test_aws_unknown_event_is_refused(app: App) -> None:
    handler = app.entry("aws", "on_tick", [schedule("0 3 * * *")])
    with pytest.raises(ValueError, match="unrecognised Lambda event"):
        handler({"hello": "world"}, lambda_context())


# -------------------------------------------------------------------------------------------------- GCP


def gcp_client(app: App, attr: str, triggers: list[Any]) -> Any:
    import functions_framework

    out = app.package("gcp", attr, triggers)
    flask_app = functions_framework.create_app(target="handler", source=str(out / "main.py"))
    return flask_app.test_client()


def test_gcp_http_through_functions_framework(app: App, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="platform.runtime")
    client = gcp_client(app, "web", [http()])
    response = client.post("/my/path?parameter1=value1&parameter1=value2", data=b"Hello from client!",
                           headers={"Header2": "value1,value2", "Function-Execution-Id": "exec-1"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.get_json() == {"method": "POST", "path": "/my/path", "query": {"parameter1": "value1"},
                                   "body": "Hello from client!", "cookie": None, "header2": "value1,value2"}
    assert "request_id=exec-1" in invocation_lines(caplog)[0]
    binary = client.get("/binary")
    assert binary.data == bytes(range(256)) and binary.headers["content-type"] == "image/png"
    failed = client.get("/boom", headers={"Function-Execution-Id": "exec-boom"})
    assert failed.status_code == 500
    assert failed.get_json() == {"error": "internal error", "request_id": "exec-boom"}
    # Without one, functions-framework's middleware mints the execution id: ours is the same id.
    assert client.get("/boom").get_json()["request_id"]


def test_gcp_cloud_scheduler_post_is_a_tick(app: App) -> None:
    client = gcp_client(app, "on_tick", [http(), schedule("0 3 * * *")])
    response = client.post("/", data=b"", headers={"User-Agent": "Google-Cloud-Scheduler",
                                                    "X-CloudScheduler-ScheduleTime": "2026-11-27T03:00:00.123Z"})
    assert response.status_code == 200
    assert app.seen == [ScheduleTick(time=parse_time("2026-11-27T03:00:00.123Z"), schedule="0 3 * * *")]
    assert app.seen[0].time.microsecond == 123000
    response = client.post("/", json={"platform_schedule": "*/5 * * * *", "time": "2026-11-27T03:05:00Z"})
    assert response.status_code == 200 and app.seen[1].schedule == "*/5 * * * *"
    assert client.post("/", json={"platform_schedule": "fail"}).status_code == 500


def test_gcp_schedule_only_function_treats_every_call_as_a_tick(app: App) -> None:
    client = gcp_client(app, "on_tick", [schedule("15 * * * *")])
    assert client.post("/", data=b"{}").status_code == 200
    assert isinstance(app.seen[0], ScheduleTick) and app.seen[0].schedule == "15 * * * *"


def test_gcp_http_function_ignores_scheduler_shape_without_schedule_trigger(app: App) -> None:
    client = gcp_client(app, "web", [http()])
    response = client.post("/x", json={"platform_schedule": "* * * * *"})
    assert response.get_json()["path"] == "/x"  # a forged schedule body is just a request here


@pytest.fixture(scope="module")
@starts_server
def gcs() -> Iterator[str]:
    try:
        from emulators import start_gcs  # type: ignore[import-not-found]
    except ImportError:
        pytest.skip("tests/emulators.py (gcp-storage-emulator fixture) is not available")
    with start_gcs() as url:
        yield url


def _cloudevent_binary(event: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    headers = {f"ce-{k}": str(v) for k, v in event.items() if k not in ("data", "datacontenttype")}
    headers["Content-Type"] = event.get("datacontenttype", "application/json")
    return headers, json.dumps(event["data"]).encode()


@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_gcp_storage_finalized_cloudevent(app: App, gcs: str, mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from platform_sdk.providers.gcp.runtime.buckets import GcsBucket

    suffix = uuid.uuid4().hex[:8]
    event = load("gcp_storage_finalized.json")
    physical = f"some-bucket-{suffix}"
    event["data"]["bucket"] = physical
    originals, thumbs = GcsBucket(physical), GcsBucket(f"media-thumbs-{suffix}")
    originals.create()
    thumbs.create()
    originals.put("folder/Test.cs", b"class Test {}")
    monkeypatch.setenv("PLATFORM_BUCKET_ORIGINALS", f"gs://{physical}")
    monkeypatch.setenv("PLATFORM_BUCKET_THUMBS", f"gs://media-thumbs-{suffix}")
    monkeypatch.setenv("PLATFORM_GRANTS", "bucket:originals:read,bucket:thumbs:write")
    client = gcp_client(app, "on_object", [object_created(Bucket("originals"), prefix="folder/", suffix=".cs")])
    if mode == "binary":
        headers, body = _cloudevent_binary(event)
        response = client.post("/", data=body, headers=headers)
    else:
        response = client.post("/", data=json.dumps(event), headers={"Content-Type": "application/cloudevents+json"})
    assert response.status_code == 200, response.data
    assert app.seen == [ObjectCreated(bucket="originals", key="folder/Test.cs", size=352, content_type="text/plain")]
    assert thumbs.get("copy/folder/Test.cs") == b"class Test {}"[::-1]


def test_gcp_trigger_filters_drop_unwanted_objects(app: App, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="platform.runtime")
    local_buckets(monkeypatch, tmp_path, originals="read", thumbs="write")
    monkeypatch.setenv("PLATFORM_BUCKET_ORIGINALS", "gs://some-bucket")
    client = gcp_client(app, "on_tick", [object_created(Bucket("originals"), suffix=".cs")])
    event = load("gcp_storage_finalized.json")
    structured = {"Content-Type": "application/cloudevents+json"}
    monkeypatch.setenv("PLATFORM_TRIGGER_FILTERS", json.dumps([{"bucket": "some-bucket", "suffix": ".png"}]))
    assert client.post("/", data=json.dumps(event), headers=structured).status_code == 200
    assert app.seen == []
    assert "outcome=ignored" in invocation_lines(caplog)[-1]
    monkeypatch.setenv("PLATFORM_TRIGGER_FILTERS", json.dumps([{"bucket": "originals", "prefix": "folder/"}]))
    assert client.post("/", data=json.dumps(event), headers=structured).status_code == 200
    assert [e.key for e in app.seen] == ["folder/Test.cs"]
    monkeypatch.delenv("PLATFORM_TRIGGER_FILTERS")  # falls back to the package's own trigger: suffix .cs
    event["data"]["name"] = "folder/readme.txt"
    assert client.post("/", data=json.dumps(event), headers=structured).status_code == 200
    assert len(app.seen) == 1


def test_gcp_cloudevent_handler_failure_is_a_500_for_retry(app: App, monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    local_buckets(monkeypatch, tmp_path, originals="read", thumbs="write")
    client = gcp_client(app, "on_object", [object_created(Bucket("originals"))])
    event = load("gcp_storage_finalized.json")
    event["data"]["name"] = "fail/x.bin"
    response = client.post("/", data=json.dumps(event), headers={"Content-Type": "application/cloudevents+json"})
    assert response.status_code == 500
    assert any(f"request_id={event['id']}" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)


# ------------------------------------------------------------------------------------------------ local


def local_http(handler: Callable[..., Any], method: str, path: str, body: Any = None,
               headers: dict[str, str] | None = None, query: dict[str, str] | None = None) -> tuple[int, Any, dict]:
    raw = json.dumps(body).encode() if isinstance(body, (dict, list)) else (body or b"")
    result = handler({"type": "http", "method": method, "path": path, "query": query or {},
                      "headers": headers or {}, "body_base64": base64.b64encode(raw).decode()})
    data = base64.b64decode(result["body_base64"])
    content_type = result["headers"].get("content-type", "")
    return result["status"], (json.loads(data) if "json" in content_type else data), result["headers"]


def test_local_http_object_and_schedule(app: App, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    dirs = local_buckets(monkeypatch, tmp_path, originals="read", thumbs="write")
    web = app.entry("local", "web", [http()])
    status, body, _ = local_http(web, "PUT", "/p", b"raw body", {"Header2": "h"}, {"a": "1"})
    assert status == 200
    assert body == {"method": "PUT", "path": "/p", "query": {"a": "1"}, "body": "raw body", "cookie": None,
                    "header2": "h"}
    status, body, _ = local_http(web, "GET", "/boom")
    assert status == 500 and set(body) == {"error", "request_id"}

    (dirs["originals"] / "in").mkdir()
    (dirs["originals"] / "in" / "a.txt").write_bytes(b"abc")
    objects = app.entry("local", "on_object", [object_created(Bucket("originals"))])
    result = objects({"type": "object_created", "bucket": dirs["originals"].name, "key": "in/a.txt", "size": 3,
                      "request_id": "local-1"})
    assert result == {"handled": 1, "request_id": "local-1"}
    assert app.seen[-1] == ObjectCreated(bucket="originals", key="in/a.txt", size=3)
    assert (dirs["thumbs"] / "copy" / "in" / "a.txt").read_bytes() == b"cba"
    with pytest.raises(RuntimeError):
        objects({"type": "object_created", "bucket": dirs["originals"].name, "key": "fail/a", "size": 0})

    ticks = app.entry("local", "on_tick", [schedule("0 3 * * *")])
    assert ticks({"type": "schedule", "cron": "0 3 * * *", "time": "2026-11-27T03:00:00+00:00"})["handled"] == 1
    assert app.seen[-1] == ScheduleTick(time=datetime(2026, 11, 27, 3, tzinfo=timezone.utc),  # noqa: UP017
                                        schedule="0 3 * * *")
    with pytest.raises(ValueError, match="unknown local event type"):
        ticks({"type": "carrier-pigeon"})


def test_local_write_only_grant_is_enforced_in_handler(app: App, monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    """What cloud IAM would deny is denied locally too: on_object reads originals, granted write only."""
    dirs = local_buckets(monkeypatch, tmp_path, originals="write", thumbs="write")
    (dirs["originals"] / "a.txt").write_bytes(b"abc")
    objects = app.entry("local", "on_object", [object_created(Bucket("originals"))])
    from platform_sdk.runtime import GrantError

    with pytest.raises(GrantError, match=r"media.worker may not call get\(\) on bucket 'originals'"):
        objects({"type": "object_created", "bucket": dirs["originals"].name, "key": "a.txt", "size": 3})


@pytest.fixture
def example_code(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """Copies of the example services' function directories, with their module names kept out of sys.modules."""
    names = ("api", "cleanup", "resize")

    def copy(service: str) -> Path:
        for name in names:
            sys.modules.pop(name, None)
        target = tmp_path / f"code-{service}"
        shutil.copytree(REPO / "services" / "functions" / service, target)
        return target

    yield copy
    for name in names:
        sys.modules.pop(name, None)


def test_example_auth_service_locally_on_sqlite(example_code: Callable[[str], Path], tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from platform_sdk.providers.local.runtime import adapter as local

    code = example_code("auth")
    db_file = tmp_path / "databases" / "users.sqlite3"
    db_file.parent.mkdir()
    monkeypatch.setenv("PLATFORM_DATABASE_USERS", f"sqlite:///{db_file}")
    key = tmp_path / "secrets" / "jwt-key"  # the local cloud's secret container, its value a 0600 file
    key.mkdir(parents=True)
    from platform_sdk.runtime.secrets import open_secret

    open_secret(key.as_uri()).write("k" * 64)
    monkeypatch.setenv("PLATFORM_SECRET_JWT_KEY", key.as_uri())
    outbox = tmp_path / "queues" / "outbox"  # the notifications service's queue, as localcloud_queue makes it
    outbox.mkdir(parents=True)
    monkeypatch.setenv("PLATFORM_QUEUE_OUTBOX", outbox.as_uri())
    monkeypatch.setenv("PLATFORM_GRANTS", "database:users:connect,queue:outbox:send,secret:jwt-key:read")
    api = local.make_entry("api.handle", base_dir=code)
    creds = {"email": "ada@example.com", "password": "lovelace"}
    assert local_http(api, "POST", "/signup", creds)[:2] == (201, {"email": "ada@example.com"})
    from platform_sdk.runtime.queues import open_queue

    (welcome,) = open_queue(outbox.as_uri()).receive()
    assert json.loads(welcome.body) == {"template": "welcome", "email": "ada@example.com"}
    status, body, _ = local_http(api, "POST", "/signin", creds)
    assert status == 200
    assert local_http(api, "GET", "/me", headers={"Authorization": f"Bearer {body['token']}"})[:2] == (
        200, {"email": "ada@example.com"})
    cleanup = local.make_entry("cleanup.run", base_dir=code)
    import sqlite3

    with contextlib.closing(sqlite3.connect(db_file)) as raw:
        raw.execute("UPDATE sessions SET expires = 0")
        raw.commit()
    assert cleanup({"type": "schedule", "cron": "0 3 * * *", "time": "2026-11-27T03:00:00Z"})["handled"] == 1
    assert local_http(api, "GET", "/me", headers={"Authorization": f"Bearer {body['token']}"})[0] == 401


def test_example_thumbnails_service_locally(example_code: Callable[[str], Path], tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    from platform_sdk import contract
    from platform_sdk.providers.local.runtime import adapter as local

    code = example_code("thumbnails")
    # as services/thumbnails.py declares it: the code counts every thumbnail it serves
    monkeypatch.setenv(contract.METRICS, contract.encode_metrics(
        "acme/test", [contract.MetricSpec("thumbnails_served", "Count", ("width", "made"))]))
    dirs = local_buckets(monkeypatch, tmp_path, originals="read", thumbs="write")
    monkeypatch.setenv("THUMBNAIL_WIDTHS", "128,512")
    picture = io.BytesIO()
    Image.new("RGB", (1024, 768), (200, 30, 30)).save(picture, format="PNG")
    (dirs["originals"] / "cat.png").write_bytes(picture.getvalue())
    resize = local.make_entry("resize.on_upload", base_dir=code)
    resize({"type": "object_created", "bucket": dirs["originals"].name, "key": "cat.png", "size": 1})
    with Image.open(dirs["thumbs"] / "128" / "cat.png") as small:
        assert small.size == (128, 96)
    assert (dirs["thumbs"] / "512" / "cat.png").is_file()

    monkeypatch.setenv("PLATFORM_GRANTS", "bucket:originals:read,bucket:thumbs:readwrite")  # the on-demand grant
    on_demand = local.make_entry("resize.on_request", base_dir=code)
    status, data, headers = local_http(on_demand, "GET", "/", query={"key": "cat.png", "width": "512"})
    assert status == 200 and headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(data)) as thumb:
        assert thumb.size == (512, 384)
    assert "metric thumbnails_served=1 made=no width=512 unit=Count" in capsys.readouterr().err
    assert local_http(on_demand, "GET", "/", query={"key": "dog.png", "width": "128"})[0] == 404


def test_parse_time_accepts_cloud_formats() -> None:
    utc = timezone.utc  # noqa: UP017
    assert parse_time("2019-03-01T01:23:45Z") == datetime(2019, 3, 1, 1, 23, 45, tzinfo=utc)
    assert parse_time("2020-09-29T11:32:00.000Z") == datetime(2020, 9, 29, 11, 32, tzinfo=utc)
    assert parse_time("2026-11-27T04:00:00+01:00") == datetime(2026, 11, 27, 3, tzinfo=utc)
    assert parse_time(0) == datetime(1970, 1, 1, tzinfo=utc)
    with pytest.raises(ValueError):
        parse_time("yesterday")
