"""`platform dev` serves cloud roots created (or removed) after it started, without a restart.

An apply or a `platform move` that puts a workload on a cloud with no root yet creates that root while the
gateway runs (`.platform/localcloud/<env>/<cloud>`). The next request must find its functions, CDN routes and
buckets; its bucket events and schedules must fire there, once. First against hand-written registry entries
(real gateway, real HTTP, real file watcher), then the example web service applied with real Terraform while
`platform dev` (the CLI, a subprocess) runs. Only 127.0.0.1 is used; waiting is bounded polling.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from platform_sdk.localcloud.base import write_json
from platform_sdk.localcloud.dev import Gateway, RootFinder
from tests.emulators import free_port
from tests.terraform_fixtures import (  # noqa: F401
    Cli,
    make_project,
    remove_database_servers,
    tf_binary_fixture,
)
from tests.test_dev_gateway import poll, start_platform_dev

HANDLER = '''
import base64, json, os

WHO = {who!r}

def handler(event):
    if event["type"] in ("schedule", "object_created"):
        with open(os.environ["MARK"], "a") as fh:
            fh.write(WHO + " " + event["type"] + " " + event.get("key", "") + "\\n")
        return {{"handled": 1}}
    body = json.dumps({{"who": WHO, "path": event["path"]}}).encode()
    return {{"status": 200, "headers": {{"content-type": "application/json"}},
             "body_base64": base64.b64encode(body).decode()}}
'''


def deploy(root: Path, name: str, who: str, mark: Path, triggers: dict[str, Any]) -> None:
    """A function written the way the provider writes one: code first, then its registry entry (atomically)."""
    code = root / "functions" / name / "code"
    code.mkdir(parents=True, exist_ok=True)
    source = HANDLER.format(who=who)
    (code / "main.py").write_text(source)
    digest = hashlib.sha256(source.encode()).hexdigest()
    write_json(root / "functions" / name / "function.json", {
        "name": name, "handler": "main.handler", "runtime": "python3.11", "code_dir": str(code),
        "code_hash": digest, "package_hash": digest, "timeout": 30, "memory": 128,
        "environment": {"MARK": str(mark)}, "triggers": json.dumps(triggers),
        "updated_at": datetime.now(UTC).isoformat(timespec="seconds"), "url": f"http://127.0.0.1:8790/fn/{name}",
    })


def marks(mark: Path) -> list[str]:
    return mark.read_text().splitlines() if mark.exists() else []


@pytest.fixture
def env_dir(tmp_path: Path) -> Path:
    """`.platform/localcloud/<env>`: only the aws root exists when the gateway starts."""
    (tmp_path / "localcloud" / "aws" / "buckets").mkdir(parents=True)
    return tmp_path / "localcloud"


def finder(env_dir: Path) -> RootFinder:
    return RootFinder(env_dir, lambda label: label in ("aws", "gcp"))


def served_roots(url: str) -> list[str]:
    return [r["cloud"] for r in requests.get(f"{url}/_platform/routes").json()["roots"]]


def test_a_root_created_after_start_is_served_on_the_next_request_and_a_removed_one_no_longer(
        env_dir: Path, tmp_path: Path) -> None:
    mark = tmp_path / "mark"
    with Gateway({"aws": env_dir / "aws"}, finder=finder(env_dir), watch=False) as gw:
        assert requests.get(f"{gw.url}/fn/svc").status_code == 404
        assert served_roots(gw.url) == ["aws"]
        gcp = env_dir / "gcp"  # what an apply placing a service on gcp writes
        deploy(gcp, "svc", "gcp", mark, {"http": {"public": True}})
        (gcp / "buckets" / "www").mkdir(parents=True)
        (gcp / "buckets" / "www" / "index.html").write_text("<h1>on gcp</h1>")
        write_json(gcp / "cdn" / "site.json", {"name": "site", "origin": {"kind": "bucket", "name": "www"}})
        other = env_dir / "azure"  # a directory the environment does not run on the local cloud: never a root
        deploy(other, "elsewhere", "azure", mark, {"http": {"public": True}})

        # the very next requests, no waiting: the watcher is off, so the lookups themselves find the new root
        assert requests.get(f"{gw.url}/fn/svc/hi").json() == {"who": "gcp", "path": "/hi"}
        assert requests.get(f"{gw.url}/cdn/site/").text == "<h1>on gcp</h1>"
        assert requests.get(f"{gw.url}/bucket/www/index.html").text == "<h1>on gcp</h1>"
        assert requests.get(f"{gw.url}/fn/elsewhere").status_code == 404
        assert served_roots(gw.url) == ["aws", "gcp"]

        shutil.rmtree(gcp)  # a destroyed (or deleted) root
        assert requests.get(f"{gw.url}/fn/svc/hi").status_code == 404
        assert requests.get(f"{gw.url}/cdn/site/").json() == {"error": "no CDN route named 'site'"}
        assert requests.get(f"{gw.url}/bucket/www/index.html").status_code == 404
        assert served_roots(gw.url) == ["aws"]


def test_a_moved_functions_schedule_fires_on_its_new_cloud_once(env_dir: Path, tmp_path: Path) -> None:
    mark = tmp_path / "mark"
    now = [datetime(2026, 11, 27, 10, 2, tzinfo=UTC)]
    deploy(env_dir / "aws", "job", "aws", mark, {"schedules": ["*/5 * * * *"]})
    gw = Gateway({"aws": env_dir / "aws"}, finder=finder(env_dir), watch=False)
    gw.core.scheduler.clock = lambda: now[0]
    with gw:
        assert [s["function"] for s in requests.get(f"{gw.url}/_platform/routes").json()["schedules"]] == ["job"]
        # the move: the function is created on gcp (a root that did not exist), then removed from aws
        deploy(env_dir / "gcp", "job", "gcp", mark, {"schedules": ["*/5 * * * *"]})
        shutil.rmtree(env_dir / "aws" / "functions" / "job")
        for minute, expected in ((5, ["gcp schedule "]), (10, ["gcp schedule "] * 2)):
            now[0] = datetime(2026, 11, 27, 10, minute, 1, tzinfo=UTC)
            gw.core.scheduler.wake()
            poll(lambda n=len(expected): len(marks(mark)) >= n, f"the run of 10:{minute:02d}")
            gw.core.wait_idle()
            assert marks(mark) == expected  # on gcp, not on aws, not twice
        fired = [i for i in requests.get(f"{gw.url}/_platform/invocations").json() if i["trigger"] == "schedule"]
        assert [(i["function"], i["status"]) for i in fired] == [("job", "ok"), ("job", "ok")]


def test_bucket_events_fire_in_a_root_created_after_start(env_dir: Path, tmp_path: Path) -> None:
    mark = tmp_path / "mark"
    with Gateway({"aws": env_dir / "aws"}, finder=finder(env_dir), schedules=False) as gw:
        assert gw.core.wait_watching(30)
        gcp = env_dir / "gcp"
        (gcp / "buckets" / "inbox").mkdir(parents=True)
        deploy(gcp, "resize", "gcp", mark, {"object_created": [{"bucket": "inbox", "prefix": "", "suffix": ""}]})
        poll(lambda: served_roots(gw.url) == ["aws", "gcp"], "the gcp root")
        (gcp / "buckets" / "inbox" / "a.txt").write_text("an object in a bucket of the new root")
        poll(lambda: marks(mark), "the object-created event on gcp")
        gw.core.wait_idle()
        assert marks(mark) == ["gcp object_created a.txt"]


# --------------------------------------------------------------- the web service applied while `platform dev` runs

@pytest.fixture
def web_project(tmp_path: Path) -> Iterator[Path]:
    project = make_project(tmp_path / "estate", services=["web"])
    yield project
    remove_database_servers(project)


def test_platform_dev_serves_a_service_applied_onto_a_cloud_it_had_no_root_for(web_project: Path,
                                                                               tf_binary: Path) -> None:
    env_file = web_project / "envs" / "local.toml"
    placed = env_file.read_text()
    assert '"web" = "gcp"' in placed, "the example places web on gcp: update this test"
    env_file.write_text(placed.replace('"web" = "gcp"\n', ""))  # everything on aws: dev starts with that root only
    port = free_port()
    proc, routes = start_platform_dev(web_project, port)
    base = f"http://127.0.0.1:{port}"
    try:
        assert [r["cloud"] for r in routes["roots"]] == ["aws"]
        gcp = web_project / ".platform" / "localcloud" / "local" / "gcp"
        assert not gcp.exists()
        env_file.write_text(placed)  # web on gcp, as a move's cut-over writes it
        result = Cli(tf_binary)(web_project, "apply", "--env", "local", "--auto-approve")
        assert result.exit_code == 0, result.output
        assert gcp.is_dir()

        cdn = f"{base}/cdn/acme-local-web-cdn"
        assert requests.get(f"{cdn}/api/").json()["service"] == "web"  # the next request, no restart
        assert requests.get(f"{cdn}/").status_code == 200
        routes = requests.get(f"{base}/_platform/routes").json()
        assert [r["cloud"] for r in routes["roots"]] == ["aws", "gcp"]
        assert {f["name"]: f["cloud"] for f in routes["functions"]} == {"acme-local-web-api": "gcp"}

        shutil.rmtree(gcp)  # the gcp root removed: it is no longer served
        assert requests.get(f"{cdn}/api/").json() == {"error": "no CDN route named 'acme-local-web-cdn'"}
        routes = requests.get(f"{base}/_platform/routes").json()
        assert [r["cloud"] for r in routes["roots"]] == ["aws"] and routes["functions"] == []
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate()
    assert proc.returncode == 0, err
    assert "cloud root added: gcp" in err and "cloud root removed: gcp" in err
