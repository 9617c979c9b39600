"""The local gateway (`platform dev`): functions, CDN routes, bucket events and schedules, through real parts.

Two halves: gateway behaviour against hand-written registry entries (fast, no Terraform: isolation, reload,
crashes, filters, serving), then the example estate applied to the local cloud with real Terraform and
exercised end to end (thumbnails through the CDN, auth against PostgreSQL as least-privilege roles, a schedule,
a code reload, the CLI).
Only 127.0.0.1 is used; waiting is done with bounded polling loops, never by asserting on elapsed time.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
from PIL import Image

from platform_sdk.localcloud import dbserver
from platform_sdk.localcloud.base import write_json
from platform_sdk.localcloud.dev import Gateway, Scheduler, roots_for_env
from platform_sdk.localcloud.invoker import WorkerOptions
from platform_sdk.localcloud.registry import FunctionEntry
from platform_sdk.providers.local.runtime.buckets import LocalBucket
from tests.emulators import free_port
from tests.terraform_fixtures import (  # noqa: F401
    PLATFORM_BIN,
    Cli,
    make_project,
    remove_database_servers,
    tf_binary_fixture,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("dev_gateway")]  # one applied estate per module

T = TypeVar("T")
POLL_ATTEMPTS = 1200  # x 0.05 s: a bound on waiting, not a performance assertion


def poll(check: Callable[[], T | None], what: str) -> T:
    """Call `check` until it returns something truthy (bounded number of attempts)."""
    for _ in range(POLL_ATTEMPTS):
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def image_bytes(fmt: str, size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 90)).save(out, format=fmt)
    return out.getvalue()


# ------------------------------------------------------------------------------- hand-written deployments

ENTRY = "from api import handler  # noqa\n"

API = '''
import base64, json, os, sys, time

WHO = {who!r}

def reply(status, payload):
    body = json.dumps(payload).encode()
    return {{"status": status, "headers": {{"content-type": "application/json", "x-who": WHO}},
             "body_base64": base64.b64encode(body).decode()}}

def handler(event):
    if event["type"] != "http":
        return {{"handled": 1}}
    path = event["path"]
    if path == "/exit":
        os._exit(3)
    if path == "/sleep":
        time.sleep(60)
    if path == "/print":
        print("hello from user code")
    if path == "/sdk":
        import platform_sdk
        return reply(200, {{"sdk": platform_sdk.__file__}})
    return reply(200, {{"who": WHO, "fn": os.environ.get("PLATFORM_FUNCTION"), "file": sys.modules["api"].__file__,
                       "path": path, "query": event["query"], "method": event["method"],
                       "body": base64.b64decode(event["body_base64"]).decode(),
                       "gateway": os.environ.get("PLATFORM_LOCAL_GATEWAY"), "secret": os.environ.get("SECRET")}})
'''


def deploy(root: Path, name: str, who: str, *, triggers: dict[str, Any] | None = None, timeout: int = 30,
           environment: dict[str, str] | None = None) -> Path:
    """Write a function the way the provider does: code dir first, then the registry entry (atomically)."""
    fn_dir = root / "functions" / name
    code = fn_dir / "code"
    code.mkdir(parents=True, exist_ok=True)
    (code / "_platform_entry.py").write_text(ENTRY)
    (code / "api.py").write_text(API.format(who=who))
    digest = hashlib.sha256((ENTRY + API.format(who=who)).encode()).hexdigest()
    write_json(fn_dir / "function.json", {
        "name": name, "handler": "_platform_entry.handler", "runtime": "python3.11", "code_dir": str(code),
        "code_hash": digest, "package_hash": digest, "timeout": timeout, "memory": 128,
        "environment": {"PLATFORM_FUNCTION": name, **(environment or {})},
        "triggers": json.dumps(triggers if triggers is not None else {"http": {"public": True}}),
        "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "url": f"http://127.0.0.1:8790/fn/{name}",
    })
    return code


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "localcloud" / "aws"
    (path / "buckets").mkdir(parents=True)
    return path


@pytest.fixture
def gateway(root: Path) -> Iterator[Gateway]:
    with Gateway({"aws": root}) as gw:
        yield gw


def test_functions_with_the_same_module_name_are_isolated(root: Path, gateway: Gateway) -> None:
    deploy(root, "one", "one", environment={"SECRET": "s1"})
    deploy(root, "two", "two", environment={"SECRET": "s2"})
    for _ in range(2):  # warm workers too
        one = requests.get(f"{gateway.url}/fn/one/hello", params={"a": "1"}).json()
        two = requests.post(f"{gateway.url}/fn/two", data=b"payload").json()
        assert (one["who"], one["fn"], one["secret"]) == ("one", "one", "s1")
        assert (two["who"], two["fn"], two["secret"]) == ("two", "two", "s2")
        assert one["file"].startswith(str(root / "functions" / "one" / "code"))
        assert two["file"].startswith(str(root / "functions" / "two" / "code"))
    assert (one["path"], one["query"], one["method"]) == ("/hello", {"a": "1"}, "GET")
    assert (two["path"], two["method"], two["body"]) == ("/", "POST", "payload")
    assert one["gateway"] == gateway.url  # local signed URLs point back at this gateway


def test_next_request_runs_redeployed_code(root: Path, gateway: Gateway) -> None:
    deploy(root, "svc", "v1")
    assert requests.get(f"{gateway.url}/fn/svc").json()["who"] == "v1"
    deploy(root, "svc", "v2")  # what a re-apply does: new code, then a new registry entry
    response = requests.get(f"{gateway.url}/fn/svc")
    assert response.json()["who"] == "v2" and response.headers["x-who"] == "v2"


def test_crash_timeout_and_prints_do_not_break_the_gateway(root: Path, gateway: Gateway) -> None:
    deploy(root, "fragile", "f", timeout=1)
    printed = requests.get(f"{gateway.url}/fn/fragile/print")
    assert printed.status_code == 200 and printed.json()["who"] == "f"  # print() went to the log, not the pipe
    crashed = requests.get(f"{gateway.url}/fn/fragile/exit")
    assert crashed.status_code == 502 and "exited with code 3" in crashed.json()["error"]
    assert crashed.json()["request_id"] == crashed.headers["x-request-id"]
    timed_out = requests.get(f"{gateway.url}/fn/fragile/sleep")
    assert timed_out.status_code == 504 and "timed out" in timed_out.json()["error"]
    assert requests.get(f"{gateway.url}/fn/fragile").status_code == 200  # a fresh worker


def test_workers_import_the_gateways_platform_sdk(root: Path, tmp_path: Path) -> None:
    """An interpreter that cannot find platform_sdk by itself (here: without site-packages, like a gateway run from
    a checkout through PYTHONPATH, which workers do not inherit) still runs functions against the gateway's SDK."""
    import platform_sdk

    python = tmp_path / "python-without-site"
    python.write_text(f'#!/bin/sh\nexec {sys.executable} -S "$@"\n')
    python.chmod(0o755)
    deploy(root, "sdk", "s")
    with Gateway({"aws": root}, options=WorkerOptions(python=str(python))) as gw:
        response = requests.get(f"{gw.url}/fn/sdk/sdk")
    assert response.status_code == 200, response.text
    assert Path(response.json()["sdk"]).resolve() == Path(platform_sdk.__file__).resolve()


def test_unknown_function_and_function_without_http_trigger(root: Path, gateway: Gateway) -> None:
    deploy(root, "quiet", "q", triggers={"schedules": ["0 3 * * *"]})
    assert requests.get(f"{gateway.url}/fn/nope").status_code == 404
    assert "no HTTP trigger" in requests.get(f"{gateway.url}/fn/quiet").json()["error"]
    ran = requests.post(f"{gateway.url}/_platform/schedule/quiet")
    assert ran.status_code == 200 and ran.json()["status"] == "ok" and ran.json()["trigger"] == "schedule"
    assert requests.post(f"{gateway.url}/_platform/schedule/quiet", params={"cron": "* * * * *"}).status_code == 400
    deploy(root, "plain", "p")
    assert requests.post(f"{gateway.url}/_platform/schedule/plain").status_code == 409


def test_object_created_matches_filters_and_ignores_temp_files(root: Path, gateway: Gateway) -> None:
    inbox = root / "buckets" / "inbox"
    inbox.mkdir()
    deploy(root, "watcher", "w", triggers={"object_created": [{"bucket": "inbox", "prefix": "in/", "suffix": ".txt"}]})
    (inbox / "in").mkdir()
    (inbox / "in" / ".hidden.txt").write_text("x")
    (inbox / "in" / "upload.txt.part").write_text("x")
    (inbox / "in" / "y.txt.tmp").write_text("x")
    (inbox / "other").mkdir()
    (inbox / "other" / "y.txt").write_text("x")
    (inbox / "in" / "z.jpg").write_text("x")
    (root / "buckets" / "elsewhere").mkdir()
    (root / "buckets" / "elsewhere" / "in").mkdir()
    (root / "buckets" / "elsewhere" / "in" / "w.txt").write_text("x")
    LocalBucket(inbox).put("in/a.txt", b"via LocalBucket (temp file + rename)")
    (inbox / "in" / "new" / "deeper").mkdir(parents=True)
    (inbox / "in" / "new" / "deeper" / "b.txt").write_bytes(b"a plain write in a brand-new directory")

    def delivered() -> list[str]:
        return [i["detail"] for i in requests.get(f"{gateway.url}/_platform/invocations").json()
                if i["trigger"] == "object_created"]

    poll(lambda: len(delivered()) >= 2, "two object-created events")
    gateway.core.wait_idle()
    details = delivered()
    assert sorted(re.search(r"key='([^']+)'", d).group(1) for d in details) == ["in/a.txt", "in/new/deeper/b.txt"]
    assert all("bucket=inbox" in d for d in details)


def test_cdn_routes_and_bucket_objects(root: Path, gateway: Gateway) -> None:
    www = LocalBucket(root / "buckets" / "www")
    www.put("index.html", b"<h1>home</h1>", content_type="text/html")
    www.put("docs/index.html", b"<h1>docs</h1>")
    www.put("style.css", b"h1 {}")
    www.put("data.bin", b"\x00\x01", content_type="application/x-platform-test")
    (root / "buckets" / "www" / ".platform-tmp").mkdir(exist_ok=True)
    (root / "buckets" / "www" / ".platform-tmp" / "x.part").write_text("partial")
    (root / "cdn").mkdir()
    write_json(root / "cdn" / "site.json", {"name": "site", "origin": {"kind": "bucket", "name": "www"}})
    write_json(root / "cdn" / "app.json", {"name": "app", "origin": {"kind": "function", "name": "one"}})
    deploy(root, "one", "one")
    base = gateway.url

    home = requests.get(f"{base}/cdn/site/")
    assert home.status_code == 200 and home.text == "<h1>home</h1>" and home.headers["content-type"].startswith(
        "text/html")
    bare = requests.get(f"{base}/cdn/site", allow_redirects=False)
    assert bare.status_code == 307 and bare.headers["location"].endswith("/cdn/site/")
    assert requests.get(f"{base}/cdn/site/docs/").text == "<h1>docs</h1>"
    assert requests.get(f"{base}/cdn/site/docs").text == "<h1>docs</h1>"
    assert requests.get(f"{base}/cdn/site/style.css").headers["content-type"].startswith("text/css")
    custom = requests.get(f"{base}/cdn/site/data.bin")
    assert custom.content == b"\x00\x01"
    if hasattr(os, "getxattr") and www.stat("data.bin").content_type == "application/x-platform-test":
        assert custom.headers["content-type"] == "application/x-platform-test"  # the type it was stored with
    assert requests.get(f"{base}/cdn/site/missing.png").status_code == 404
    assert requests.post(f"{base}/cdn/site/").status_code == 405
    assert requests.get(f"{base}/cdn/nope/").status_code == 404

    proxied = requests.get(f"{base}/cdn/app/hello/world", params={"q": "1"}).json()
    assert (proxied["who"], proxied["path"], proxied["query"]) == ("one", "/hello/world", {"q": "1"})

    assert requests.get(f"{base}/bucket/www/docs/index.html").text == "<h1>docs</h1>"
    assert requests.head(f"{base}/bucket/www/style.css").status_code == 200
    assert requests.put(f"{base}/bucket/www/style.css", data=b"x").status_code == 405
    assert requests.get(f"{base}/bucket/www/.platform-tmp/x.part").status_code == 404
    assert requests.get(f"{base}/bucket/www/").status_code == 404
    (root / "secret.txt").write_text("outside every bucket")
    conn = http.client.HTTPConnection("127.0.0.1", gateway.port)
    escapes = ("/bucket/www/../../secret.txt", "/bucket/www/%2e%2e/%2e%2e/secret.txt", "/cdn/site/..%2F..%2Fsecret.txt")
    for raw in escapes:
        conn.request("GET", raw)
        response = conn.getresponse()
        assert response.status == 404 and b"outside" not in response.read(), raw
    conn.close()

    routes = requests.get(f"{base}/_platform/routes").json()
    assert {r["name"]: r["origin"]["kind"] for r in routes["cdn"]} == {"app": "function", "site": "bucket"}
    assert [f["name"] for f in routes["functions"]] == ["one"]
    assert routes["functions"][0]["url"] == f"{base}/fn/one"
    assert [b["name"] for b in routes["buckets"]] == ["www"]


def test_a_cdn_origin_answers_only_through_its_cdn_route(root: Path, gateway: Gateway) -> None:
    """Issue 14.1, as on the clouds: a function whose http trigger is `via_cdn` refuses its own URL with 403."""
    deploy(root, "origin", "o", triggers={"http": {"public": True, "via_cdn": True}})
    (root / "cdn").mkdir()
    write_json(root / "cdn" / "front.json", {"name": "front", "origin": {"kind": "function", "name": "origin"}})
    direct = requests.post(f"{gateway.url}/fn/origin/feedback", data=b"around")
    assert direct.status_code == 403 and "/cdn/front/" in direct.json()["error"]
    assert requests.get(f"{gateway.url}/fn/origin").status_code == 403
    got = requests.get(f"{gateway.url}/cdn/front/hello", params={"q": "1"}).json()
    assert (got["who"], got["method"], got["path"], got["query"]) == ("o", "GET", "/hello", {"q": "1"})
    posted = requests.post(f"{gateway.url}/cdn/front/feedback", data=b"through").json()
    assert (posted["method"], posted["body"]) == ("POST", "through")
    listed = requests.get(f"{gateway.url}/_platform/routes").json()["functions"]
    assert [(f["name"], f["url"], f["http"]) for f in listed] == [("origin", None, {"public": True, "via_cdn": True})]


def test_every_invocation_is_logged(root: Path, gateway: Gateway, caplog: pytest.LogCaptureFixture) -> None:
    deploy(root, "one", "one")
    with caplog.at_level(logging.INFO, logger="platform.dev"):
        response = requests.get(f"{gateway.url}/fn/one/x")
    request_id = response.headers["x-request-id"]
    lines = [r.getMessage() for r in caplog.records if r.name == "platform.dev"]
    assert any(re.search(rf"request_id={request_id} fn=one trigger=http status=200 duration_ms=\d+\.\d", line)
               for line in lines), lines
    recorded = requests.get(f"{gateway.url}/_platform/invocations").json()[-1]
    assert recorded["request_id"] == request_id and recorded["status"] == "200" and recorded["duration_ms"] > 0


def test_scheduler_fires_on_the_cron_with_an_injected_clock() -> None:
    now = [datetime(2026, 11, 27, 10, 2, tzinfo=UTC)]
    scheduler = Scheduler(lambda entry, cron, when: None, clock=lambda: now[0])
    entry = FunctionEntry(name="job", cloud="aws", root=Path("/r"), handler="h.h", runtime="python3.11",
                          code_dir=Path("/r/code"), code_hash="", package_hash="", environment={}, http=None,
                          schedules=("*/5 * * * *",), object_created=(), timeout=30, memory=128, updated_at="",
                          url="", fingerprint=(0, 0, 0), raw={})
    scheduler.update([entry])
    due, sleep = scheduler.due()
    assert due == [] and 0 < sleep <= 180
    now[0] = datetime(2026, 11, 27, 10, 5, 0, 1, tzinfo=UTC)
    due, _ = scheduler.due()
    assert [(e.name, cron, when) for e, cron, when in due] == [
        ("job", "*/5 * * * *", datetime(2026, 11, 27, 10, 5, tzinfo=UTC))]
    assert scheduler.due()[0] == []  # moved on to 10:10
    now[0] = datetime(2026, 11, 27, 13, 0, 30, tzinfo=UTC)  # slept through many runs: fire once, not 34 times
    assert len(scheduler.due()[0]) == 1
    assert scheduler.schedules()[0]["next"] == "2026-11-27T13:05:00+00:00"


# --------------------------------------------------------------------------- the example estate, applied

@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory, tf_binary: Path) -> Iterator[Path]:
    """The example estate applied to the local cloud with real Terraform (once for this module)."""
    project = make_project(tmp_path_factory.mktemp("dev") / "estate")
    result = Cli(tf_binary)(project, "apply", "--env", "local", "--auto-approve")
    assert result.exit_code == 0, result.output
    yield project
    remove_database_servers(project)


@pytest.fixture(scope="module")
def live(applied: Path) -> Iterator[Gateway]:
    from platform_sdk.envs import find_environment

    env = find_environment(applied / "envs", "local")
    with Gateway(roots_for_env(applied, env)) as gw:
        yield gw


def cloud(project: Path, label: str) -> Path:
    return project / ".platform" / "localcloud" / "local" / label


def test_estate_routes(live: Gateway) -> None:
    routes = requests.get(f"{live.url}/_platform/routes").json()
    functions = {f["name"]: f for f in routes["functions"]}
    assert sorted(functions) == ["acme-local-auth-api", "acme-local-auth-cleanup", "acme-local-notifications-render",
                                 "acme-local-notifications-worker", "acme-local-thumbnails-on-demand",
                                 "acme-local-thumbnails-resize", "acme-local-web-api"]
    # notifications: render is only for granted callers, worker is fed by its queue and has no URL
    assert functions["acme-local-notifications-render"]["http"] == {"auth": "iam", "public": False}
    assert functions["acme-local-notifications-worker"]["url"] is None
    assert functions["acme-local-web-api"]["cloud"] == "gcp" and functions["acme-local-auth-api"]["cloud"] == "aws"
    assert functions["acme-local-web-api"]["registry_url"] == "http://127.0.0.1:8790/fn/acme-local-web-api"
    assert functions["acme-local-auth-cleanup"]["url"] is None
    assert [t["suffix"] for t in functions["acme-local-thumbnails-resize"]["object_created"]] == [".jpg", ".png"]
    assert sorted(r["name"] for r in routes["cdn"]) == ["acme-local-thumbnails-cdn", "acme-local-web-cdn"]
    (web,) = [r for r in routes["cdn"] if r["name"] == "acme-local-web-cdn"]
    assert web["origin"] == {"kind": "bucket", "name": "acme-local-web-site"}
    assert web["paths"] == [{"pattern": "/api/*", "kind": "function", "name": "acme-local-web-api"}]
    assert functions["acme-local-web-api"]["url"] is None and functions["acme-local-web-api"]["http"]["via_cdn"]
    assert routes["schedules"] == [{"function": "acme-local-auth-cleanup", "cron": "0 3 * * *",
                                    "next": routes["schedules"][0]["next"]}]


def test_uploaded_images_get_thumbnails_served_through_the_cdn(applied: Path, live: Gateway) -> None:
    originals = cloud(applied, "aws") / "buckets" / "acme-local-thumbnails-originals"
    LocalBucket(originals).put("cat.png", image_bytes("PNG", (640, 480)), content_type="image/png")
    (originals / "photos").mkdir()
    (originals / "photos" / "dog.jpg").write_bytes(image_bytes("JPEG", (1024, 768)))  # a plain file write
    (originals / "notes.txt").write_text("not an image: no trigger matches")

    cdn = f"{live.url}/cdn/acme-local-thumbnails-cdn"
    for key, content_type in (("cat.png", "image/png"), ("photos/dog.jpg", "image/jpeg")):
        for width in (128, 512):
            response = poll(lambda k=key, w=width: (r := requests.get(f"{cdn}/{w}/{k}")).ok and r,
                            f"thumbnail {width}/{key}")
            assert response.headers["content-type"] == content_type
            with Image.open(io.BytesIO(response.content)) as image:
                assert image.width == width
    live.core.wait_idle()
    written = {"cat.png", "photos/dog.jpg", "notes.txt"}  # other tests of this module upload to the same bucket
    events = [i for i in requests.get(f"{live.url}/_platform/invocations").json() if i["trigger"] == "object_created"
              and re.search(r"key='([^']+)'", i["detail"]).group(1) in written]
    assert sorted(re.search(r"key='([^']+)'", e["detail"]).group(1) for e in events) == ["cat.png", "photos/dog.jpg"]
    assert {e["status"] for e in events} == {"ok"} and {e["function"] for e in events} == {
        "acme-local-thumbnails-resize"}

    signed = requests.get(f"{live.url}/bucket/acme-local-thumbnails-thumbs/128/cat.png")
    assert signed.status_code == 200 and signed.headers["content-type"] == "image/png"


def test_on_demand_thumbnail_over_http(applied: Path, live: Gateway) -> None:
    originals = LocalBucket(cloud(applied, "aws") / "buckets" / "acme-local-thumbnails-originals")
    originals.put("wide.png", image_bytes("PNG", (1024, 256)), content_type="image/png")
    fn = f"{live.url}/fn/acme-local-thumbnails-on-demand"
    response = requests.get(fn, params={"key": "wide.png", "width": "512"})
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(response.content)) as image:
        assert image.size == (512, 128)
    assert requests.get(fn, params={"key": "missing.png", "width": "512"}).status_code == 404
    assert requests.get(fn, params={"key": "wide.png", "width": "7"}).status_code == 400


def test_auth_signup_signin_me_and_the_cleanup_schedule(applied: Path, live: Gateway) -> None:
    auth = f"{live.url}/fn/acme-local-auth-api"
    account = {"email": "ada@example.com", "password": "correct horse"}
    assert requests.post(f"{auth}/signup", json=account).status_code == 201
    assert requests.post(f"{auth}/signup", json=account).status_code == 409
    assert requests.post(f"{auth}/signin", json={**account, "password": "wrong"}).status_code == 401
    token = requests.post(f"{auth}/signin", json=account).json()["token"]
    me = requests.get(f"{auth}/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json() == {"email": "ada@example.com"}
    assert requests.get(f"{auth}/me", headers={"Authorization": "Bearer nope"}).status_code == 401

    # Real PostgreSQL, and each function its own least-privilege role: api created the tables (it owns them),
    # cleanup (its own role) deletes from them; neither is the administrator.
    server = dbserver.Server(cloud(applied, "aws"), "postgres")
    with server.admin("acme-local-auth-users") as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        assert [tuple(row) for row in cursor.fetchall()] == [
            ("sessions", "acme_local_auth_api__acme_local_auth_users"),
            ("users", "acme_local_auth_api__acme_local_auth_users")]
        cursor.execute("SELECT rolname, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolcanlogin AND "
                       "rolname LIKE 'acme_local_auth_%' ORDER BY 1")
        assert [tuple(row) for row in cursor.fetchall()] == [
            ("acme_local_auth_api__acme_local_auth_users", False, False, False),
            ("acme_local_auth_cleanup__acme_local_auth_users", False, False, False)]
        cursor.execute("INSERT INTO sessions (token, email, expires) VALUES ('stale', 'ada@example.com', 1)")
        conn.commit()
    ran = requests.post(f"{live.url}/_platform/schedule/acme-local-auth-cleanup")
    assert ran.status_code == 200 and ran.json()["status"] == "ok", ran.text
    with server.admin("acme-local-auth-users") as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT token FROM sessions")
        tokens = {row[0] for row in cursor.fetchall()}
    assert "stale" not in tokens and token in tokens
    assert requests.get(f"{auth}/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    entry = json.loads((cloud(applied, "aws") / "functions" / "acme-local-auth-api" / "function.json").read_text())
    url = entry["environment"]["PLATFORM_DATABASE_USERS"]
    assert url.startswith("postgres://acme_local_auth_api__acme_local_auth_users@127.0.0.1:"), url
    assert "platform_admin" not in url and "password" not in url


def test_web_site_and_api_next_to_auth_api(applied: Path, live: Gateway) -> None:
    site = LocalBucket(cloud(applied, "gcp") / "buckets" / "acme-local-web-site")
    site.put("index.html", b"<h1>shop</h1>", content_type="text/html")
    home = requests.get(f"{live.url}/cdn/acme-local-web-cdn/")
    assert home.status_code == 200 and home.text == "<h1>shop</h1>"
    # web's api.py and auth's api.py: same module name, separate workers
    api = f"{live.url}/cdn/acme-local-web-cdn/api"
    assert requests.get(f"{api}/pages").json() == {"pages": ["index.html"]}
    assert requests.get(f"{live.url}/fn/acme-local-auth-api/other").status_code == 404


def test_the_site_and_its_api_are_served_through_one_cdn_route(applied: Path, live: Gateway) -> None:
    """Issue 18, done means: on the local cloud the site and the API are served through one gateway route end to
    end: GET of the page from the bucket, POST to the API function under /api/, by path."""
    site = LocalBucket(cloud(applied, "gcp") / "buckets" / "acme-local-web-site")
    page = (applied / "services" / "site" / "index.html").read_bytes()
    site.put("index.html", page, content_type="text/html")
    web = f"{live.url}/cdn/acme-local-web-cdn"
    home = requests.get(f"{web}/")
    assert home.status_code == 200 and home.content == page and home.headers["content-type"].startswith("text/html")
    assert requests.get(f"{web}/index.html").content == page
    posted = requests.post(f"{web}/api/feedback", json={"stars": 5})
    assert posted.status_code == 201 and posted.json() == {"received": len(b'{"stars": 5}')}
    assert requests.get(f"{web}/api/").json()["service"] == "web"  # the function sees the whole path
    assert requests.post(f"{web}/index.html", data=b"x").status_code == 405  # the bucket route is read-only
    assert requests.get(f"{web}/api").status_code == 404  # /api/* needs the slash, as on CloudFront and GCP


def test_the_web_api_serves_get_and_post_through_its_cdn_and_refuses_its_own_url(live: Gateway) -> None:
    """Issue 14.1 end to end: the example's web API is a CDN's origin; through the CDN route GET and POST work,
    its own URL is refused (403), like CloudFront's origin access control and GCP's load-balancer-only ingress."""
    api = f"{live.url}/cdn/acme-local-web-cdn/api"
    assert requests.get(f"{api}/").json()["service"] == "web"
    posted = requests.post(f"{api}/feedback", json={"stars": 5, "text": "lovely shop"})
    assert posted.status_code == 201 and posted.json() == {"received": len(b'{"stars": 5, "text": "lovely shop"}')}
    assert requests.get(f"{api}/feedback").status_code == 405
    for method in ("GET", "POST"):
        direct = requests.request(method, f"{live.url}/fn/acme-local-web-api/feedback", data=b"around the CDN")
        assert direct.status_code == 403, method
        assert "/cdn/acme-local-web-cdn/" in direct.json()["error"]


def test_code_reload_after_reapply(applied: Path, live: Gateway, tf_binary: Path,
                                   caplog: pytest.LogCaptureFixture) -> None:
    api = f"{live.url}/cdn/acme-local-web-cdn/api/"
    assert requests.get(api).json()["service"] == "web"
    before = {f["name"]: f["code_hash"] for f in requests.get(f"{live.url}/_platform/routes").json()["functions"]}
    source = applied / "services" / "functions" / "web" / "api.py"
    text = source.read_text()
    assert '{"service": "web", "routes": ["/pages", "/feedback"]}' in text, "the example API changed: update this"
    source.write_text(text.replace('{"service": "web", "routes": ["/pages", "/feedback"]}',
                                   '{"service": "web", "routes": ["/pages", "/feedback"], "version": 2}'))
    with caplog.at_level(logging.INFO, logger="platform.dev"):
        result = Cli(tf_binary)(applied, "apply", "--env", "local", "--auto-approve")
        assert result.exit_code == 0, result.output
        assert requests.get(api).json() == {"service": "web", "routes": ["/pages", "/feedback"], "version": 2}
        poll(lambda: any("reload fn=acme-local-web-api" in r.getMessage() for r in caplog.records), "reload log")
    after = {f["name"]: f["code_hash"] for f in requests.get(f"{live.url}/_platform/routes").json()["functions"]}
    assert [name for name in after if after[name] != before[name]] == ["acme-local-web-api"]


def start_platform_dev(project: Path, port: int) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """`platform dev --env local` of `project` in its own process on `port`, once it answers: (the process, its
    `/_platform/routes`). The caller stops it (SIGINT) and reads its output."""
    env = {k: v for k, v in os.environ.items() if k != "PLATFORM_PROJECT"}
    proc = subprocess.Popen([str(PLATFORM_BIN), "dev", "--env", "local", "--port", str(port), "--project",
                             str(project)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

    def up() -> dict[str, Any] | None:
        if proc.poll() is not None:
            raise AssertionError(f"platform dev exited {proc.returncode}: {proc.stderr.read()}")
        try:
            return requests.get(f"http://127.0.0.1:{port}/_platform/routes", timeout=5).json()
        except requests.ConnectionError:
            return None

    try:
        return proc, poll(up, "platform dev to listen")
    except BaseException:
        proc.kill()
        proc.communicate()
        raise


def test_platform_dev_cli(applied: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PLATFORM_PROJECT"}
    proc, routes = start_platform_dev(applied, port)
    try:
        assert len(routes["functions"]) == 7  # auth 2, notifications 2, thumbnails 2, web 1
        pages = requests.get(f"http://127.0.0.1:{port}/fn/acme-local-auth-api/other")
        assert pages.status_code == 404
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate()
    assert proc.returncode == 0, err
    assert f"http://127.0.0.1:{port}/fn/acme-local-auth-api" in out
    assert "acme-local-web-api  http only through its CDN" in out
    # a queue's consumer and a CDN's routes are said as they are (not "no triggers", not the default origin only)
    assert "acme-local-notifications-worker  messages of queue acme-local-notifications-outbox (batches of 10)" in out
    assert "-> /api/* function acme-local-web-api, /* bucket acme-local-web-site" in out
    assert re.search(r"request_id=[0-9a-f]{32} fn=acme-local-auth-api trigger=http status=404", err), err

    listing = subprocess.run([str(PLATFORM_BIN), "dev", "--env", "local", "--routes", "--json", "--project",
                              str(applied)], capture_output=True, text=True, env=env, check=True)
    assert json.loads(listing.stdout)["gateway"] == "http://127.0.0.1:8790"
