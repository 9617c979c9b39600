"""`platform dev` serves cloud roots created (or removed) after it started, without a restart.

An apply or a `platform move` that puts a workload on a cloud with no root yet creates that root while the
gateway runs (`.platform/localcloud/<env>/<cloud>`). The next request must find its functions, CDN routes and
buckets; its bucket events and schedules must fire there, once. The cloud may even have had no local stand-in
when the gateway started: it follows the environment file (`[clouds.gcp] stand_in = "local"` added, removed).
First against hand-written registry entries (real gateway, real HTTP, real file watcher, a real environment
file), then the example web service applied, and moved, with real Terraform while `platform dev` (the CLI, a
subprocess) runs. Only 127.0.0.1 is used; waiting is bounded polling.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import signal
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from platform_sdk.envs import load_environment
from platform_sdk.localcloud.base import write_json
from platform_sdk.localcloud.dev import Gateway, RootFinder, finder_for_env
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


# --------------------------------------------------------------- clouds given a local stand-in after start

ENV_FILE = """name_prefix = "t"
default_cloud = "aws"

[clouds.aws]
stand_in = "local"
"""
GCP_STAND_IN = """
[clouds.gcp]
stand_in = "local"
"""


@pytest.fixture
def env_file(tmp_path: Path) -> Path:
    """A project's `envs/local.toml` whose only cloud is aws (a local stand-in), and its aws root."""
    path = tmp_path / "envs" / "local.toml"
    path.parent.mkdir()
    path.write_text(ENV_FILE)
    (tmp_path / ".platform" / "localcloud" / "local" / "aws").mkdir(parents=True)
    return path


def followed_gateway(env_file: Path, **options: Any) -> Gateway:
    """The gateway `platform dev` starts: the roots of the environment as it is now, following its file."""
    env = load_environment(env_file)
    project = env_file.parent.parent
    finder = finder_for_env(project, env, load_environment)
    return Gateway({"aws": finder.parent / "aws"}, finder=finder, **options)


def test_a_cloud_given_a_local_stand_in_after_start_is_served_and_one_whose_stand_in_is_removed_no_longer(
        env_file: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    mark = tmp_path / "mark"
    gcp = tmp_path / ".platform" / "localcloud" / "local" / "gcp"
    with caplog.at_level(logging.INFO, logger="platform.dev"), followed_gateway(env_file, watch=False) as gw:
        deploy(gcp, "svc", "gcp", mark, {"http": {"public": True}})  # gcp is not a local cloud of the file yet
        assert requests.get(f"{gw.url}/fn/svc").status_code == 404
        assert served_roots(gw.url) == ["aws"]

        env_file.write_text(ENV_FILE + GCP_STAND_IN)  # the file edited while the gateway runs
        assert requests.get(f"{gw.url}/fn/svc/hi").json() == {"who": "gcp", "path": "/hi"}  # the next request
        assert served_roots(gw.url) == ["aws", "gcp"]

        env_file.write_text(ENV_FILE + GCP_STAND_IN + "[placement\n")  # half-way through an edit: not TOML
        assert requests.get(f"{gw.url}/fn/svc/hi").status_code == 200  # the last valid version still holds
        assert served_roots(gw.url) == ["aws", "gcp"]
        assert sum("no longer loads" in r.getMessage() for r in caplog.records) == 1  # once per change

        env_file.write_text(ENV_FILE)  # the stand-in removed: its root (still on disk) is not served any more
        assert served_roots(gw.url) == ["aws"]  # (a found name looks again only with the watcher: the next test)
        assert requests.get(f"{gw.url}/fn/svc/hi").status_code == 404
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("cloud root added: gcp") for m in messages)
    assert any(m.startswith("cloud root removed: gcp") for m in messages)


def test_the_watcher_follows_the_environment_file(env_file: Path, tmp_path: Path) -> None:
    """No request needed: an edit of the file alone makes a root with a stand-in now served (its bucket events
    fire) and one without no longer served."""
    mark = tmp_path / "mark"
    gcp = tmp_path / ".platform" / "localcloud" / "local" / "gcp"
    (gcp / "buckets" / "inbox").mkdir(parents=True)
    deploy(gcp, "resize", "gcp", mark, {"object_created": [{"bucket": "inbox", "prefix": "", "suffix": ""}]})
    with followed_gateway(env_file, schedules=False) as gw:
        assert gw.core.wait_watching(30)

        def labels() -> list[str]:  # what is served, without asking for the routes (which look again)
            return [r.label for r in gw.core.roots]

        assert labels() == ["aws"]
        env_file.write_text(ENV_FILE + GCP_STAND_IN)
        poll(lambda: labels() == ["aws", "gcp"], "the gcp root after the file gave gcp a stand-in")
        (gcp / "buckets" / "inbox" / "a.txt").write_text("an object in a bucket of the newly local cloud")
        poll(lambda: marks(mark), "the object-created event on gcp")
        env_file.write_text(ENV_FILE)
        poll(lambda: labels() == ["aws"], "the gcp root gone after its stand-in was removed")
        gw.core.wait_idle()
        assert marks(mark) == ["gcp object_created a.txt"]


def test_a_local_root_moved_in_the_environment_file_asks_for_a_restart(
        env_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="platform.dev"), followed_gateway(env_file, watch=False) as gw:
        env_file.write_text(ENV_FILE + '\n[clouds.local]\nroot = "elsewhere"\n')
        assert served_roots(gw.url) == ["aws"]  # still the roots it watches
    assert any("restart platform dev" in r.getMessage() and "elsewhere" in r.getMessage() for r in caplog.records)


# -------------------------------------------------------- the web service applied or moved while `platform dev` runs

@pytest.fixture
def web_project(tmp_path: Path) -> Iterator[Path]:
    project = make_project(tmp_path / "estate", services=["web"])
    yield project
    remove_database_servers(project)


GCP_SECTION = '[clouds.gcp]\nstand_in = "local"\n\n'
WEB_ON_GCP = '"web" = "gcp"\n'


def without_gcp(env_file: Path) -> str:
    """Write the example's local environment without gcp (no stand-in, web on aws); returns the example's text."""
    placed = env_file.read_text()
    assert GCP_SECTION in placed and WEB_ON_GCP in placed, "the example places web on a gcp stand-in: update this"
    env_file.write_text(placed.replace(GCP_SECTION, "").replace(WEB_ON_GCP, ""))
    return placed


def test_platform_dev_serves_a_service_applied_onto_a_cloud_it_had_no_root_for(web_project: Path,
                                                                               tf_binary: Path) -> None:
    """The cloud had no local stand-in either when `platform dev` started: the file gains both, then an apply."""
    env_file = web_project / "envs" / "local.toml"
    placed = without_gcp(env_file)  # everything on aws: dev starts with that root only
    port = free_port()
    proc, routes = start_platform_dev(web_project, port)
    base = f"http://127.0.0.1:{port}"
    try:
        assert [r["cloud"] for r in routes["roots"]] == ["aws"]
        gcp = web_project / ".platform" / "localcloud" / "local" / "gcp"
        assert not gcp.exists()
        env_file.write_text(placed)  # a gcp stand-in, and web on it
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


def test_platform_dev_follows_a_move_onto_a_stand_in_added_after_it_started(web_project: Path,
                                                                            tf_binary: Path) -> None:
    env_file = web_project / "envs" / "local.toml"
    without_gcp(env_file)
    cli = Cli(tf_binary)
    result = cli(web_project, "apply", "--env", "local", "--auto-approve")
    assert result.exit_code == 0, result.output
    port = free_port()
    proc, routes = start_platform_dev(web_project, port)
    cdn = f"http://127.0.0.1:{port}/cdn/acme-local-web-cdn"
    try:
        assert {f["name"]: f["cloud"] for f in routes["functions"]} == {"acme-local-web-api": "aws"}
        assert requests.get(f"{cdn}/api/").json()["service"] == "web"
        env_file.write_text(env_file.read_text().replace("[placement]\n", GCP_SECTION + "[placement]\n"))
        result = cli(web_project, "move", "web", "--to", "gcp", "--env", "local", "--yes")
        assert result.exit_code == 0, result.output
        assert WEB_ON_GCP in env_file.read_text()  # the cut-over

        assert requests.get(f"{cdn}/api/").json()["service"] == "web"  # served from gcp now, no restart
        routes = requests.get(f"http://127.0.0.1:{port}/_platform/routes").json()
        assert [r["cloud"] for r in routes["roots"]] == ["aws", "gcp"]
        assert {f["name"]: f["cloud"] for f in routes["functions"]} == {"acme-local-web-api": "gcp"}
        assert {r["name"]: r["cloud"] for r in routes["cdn"]} == {"acme-local-web-cdn": "gcp"}
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate()
    assert proc.returncode == 0, err
    assert "cloud root added: gcp" in err
