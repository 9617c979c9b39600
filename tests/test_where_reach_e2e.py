"""Every URL "Where things live" (`platform apply`, `platform outputs`) and `platform status` print serves what it
names: a function's own URL only with an `http()` trigger and no CDN in front; a CDN's origin says `via CDN
<cdn url><pattern>`, a function without an HTTP trigger says its trigger (`queue ...`, `cron ...`, `object created
in ...`, `called by ...`) instead. Tryout faults seedA 9, seedB 9, seedC 21: a `/fn/` URL was listed for every
function, answering 403 (CDN origin) or 404 (no HTTP trigger).

Through the real parts: real Terraform applies the example estate to the local cloud, the real gateway answers
every printed URL; the AWS and GCP rows come from the outputs the real synthesis declares for prod's stacks.
Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests

from platform_sdk.model import Bucket, Cdn, Function, Queue, Service, http, object_created, queue_message, schedule
from platform_sdk.model.reach import reaches
from tests.emulators import free_port
from tests.terraform_fixtures import (  # noqa: F401 - the *_fixture imports register fixtures
    Cli,
    make_project,
    remove_database_servers,
    tf_binary_fixture,
)

pytestmark = pytest.mark.e2e

REACHED = {  # the example estate: how each function is reached when not (only) at its own URL
    "auth.api": None,
    "auth.cleanup": "cron 0 3 * * *",
    "notifications.render": "called by notifications.worker",
    "notifications.worker": "queue notifications.outbox",
    "thumbnails.on-demand": None,
    "thumbnails.resize": "object created in thumbnails.originals (*.jpg), "
                         "object created in thumbnails.originals (*.png)",
    "web.api": "via CDN {web}/api/*",
}
SERVED_AT_OWN_URL = {"auth.api", "notifications.render", "thumbnails.on-demand"}


def test_reach_of_each_trigger_kind() -> None:
    service = Service("svc", owner="t")
    outbox, uploads, site = (service.add(Queue("outbox")), service.add(Bucket("uploads")),
                             service.add(Bucket("site")))
    api = service.add(Function("api", handler="h.handle", triggers=[http()]))
    inner = service.add(Function("inner", handler="h.handle", triggers=[http(auth="iam"), schedule("*/5 * * * *")]))
    worker = service.add(Function("worker", handler="h.work", triggers=[
        queue_message(outbox), object_created(uploads, prefix="in/", suffix=".csv")]))
    service.add(Function("idle", handler="h.work"))
    service.add(Cdn("cdn", routes={"/api/*": api, "/v2/*": api, "/*": site}))
    worker.invokes(inner)
    found = reaches([service])
    assert not found["svc.api"].url and found["svc.api"].cdn_routes == (("svc.cdn", "/api/*"), ("svc.cdn", "/v2/*"))
    assert found["svc.api"].describe({"svc.cdn": "https://d1.cloudfront.net/"}.get) == (
        "via CDN https://d1.cloudfront.net/api/*, via CDN https://d1.cloudfront.net/v2/*")
    assert found["svc.api"].describe() == "via CDN svc.cdn /api/*, via CDN svc.cdn /v2/*"  # the CDN's URL unknown
    assert found["svc.inner"].url and found["svc.inner"].iam
    assert found["svc.inner"].describe() == "cron */5 * * * *, called by svc.worker"
    assert not found["svc.worker"].url
    assert found["svc.worker"].describe() == "queue svc.outbox, object created in svc.uploads (in/*.csv)"
    assert not found["svc.idle"].url and found["svc.idle"].describe() == "no trigger"


GATEWAY_REFUSALS = ("no function named", "has no HTTP trigger", "answers only through it", "no CDN route named")


def _refused(response: requests.Response) -> str | None:
    """The local gateway's own refusal (403/404 before any function or bucket is reached), else None: a function
    that answers 404 for a path it has no route for was still reached."""
    if response.status_code in (403, 404) and any(why in response.text for why in GATEWAY_REFUSALS):
        return f"{response.status_code} {response.text}"
    return None


def _where_text(stdout: str) -> dict[tuple[str, str], str]:
    """(service, function) -> the rest of its line in the text listing."""
    found = {}
    for line in stdout.splitlines():
        match = re.match(r"^\s+(\S+)\s+function\s+(\S+)\s+(.*)$", line)
        if match:
            found[(match[1], match[2])] = re.sub(r"\s+", " ", match[3]).strip()
    return found


def test_every_url_printed_serves_what_it_names(tmp_path: Path, tf_binary: Path) -> None:
    from platform_sdk.envs import find_environment
    from platform_sdk.localcloud.dev import Gateway, roots_for_env

    project = make_project(tmp_path / "estate")
    port = free_port()
    env_file = project / "envs" / "local.toml"
    env_file.write_text(env_file.read_text().replace("gateway_port = 8790", f"gateway_port = {port}"))
    cli = Cli(tf_binary)
    try:
        applied = cli(project, "apply", "--env", "local", "--auto-approve")
        assert applied.exit_code == 0, applied.output
        code, outputs = cli.json(project, "outputs", "--env", "local")
        assert code == 0, outputs
        rows = outputs["where"]
        functions = {f"{r['service']}.{r['name']}": r for r in rows if r["kind"] == "function"}
        web = next(r["url"] for r in rows if r["kind"] == "cdn" and r["service"] == "web").rstrip("/")
        assert set(functions) == set(REACHED)
        for address, row in functions.items():
            expected = REACHED[address]
            assert row.get("reached") == (expected.format(web=web) if expected else None), row
            assert ("url" in row) == (address in SERVED_AT_OWN_URL), row
        assert functions["notifications.render"]["iam"] is True and "iam" not in functions["auth.api"]

        text = _where_text(applied.stdout)  # the apply's listing says the same as `platform outputs`
        assert text[("web", "api")] == f"via CDN {web}/api/* gcp (local stand-in)"
        assert text[("notifications", "worker")] == "queue notifications.outbox aws (local stand-in)"
        assert text[("auth", "cleanup")] == "cron 0 3 * * * aws (local stand-in)"
        render = functions["notifications.render"]["url"]
        assert text[("notifications", "render")] == (f"{render} (callers granted invokes) (also called by "
                                                     "notifications.worker) aws (local stand-in)")
        assert "/fn/acme-local-web-api" not in applied.stdout and "/fn/acme-local-auth-cleanup" not in applied.stdout
        assert _where_text(cli(project, "outputs", "--env", "local").stdout) == text

        code, status = cli.json(project, "status", "--env", "local")
        assert code == 0, status
        listed = {f["address"]: f for f in status["functions"]}
        for address in REACHED:
            if address in SERVED_AT_OWN_URL:
                assert listed[address]["url"] == functions[address]["url"]
            else:
                assert listed[address]["url"] is None, listed[address]
        assert listed["web.api"]["reached"] == f"via CDN {web}/api/*"  # the CDN's URL from its stack's record
        assert listed["notifications.worker"]["reached"] == "queue notifications.outbox"
        assert listed["notifications.render"]["reached"] == "called by notifications.worker"
        human = cli(project, "status", "--env", "local").stdout
        assert "/fn/acme-local-web-api" not in human and "/fn/acme-local-notifications-worker" not in human
        assert "queue notifications.outbox" in human

        # Every printed URL reaches what it names through the real gateway: none is refused (403/404 from the
        # gateway itself); the /fn/ URLs the listing used to print for the others are refused.
        env = find_environment(project / "envs", "local")
        urls = [row["url"] for row in rows if row["kind"] in ("function", "cdn") and "url" in row]
        urls += [f"{web}/api/pages" for row in functions.values() if "via CDN" in row.get("reached", "")]
        unserved = [f"http://127.0.0.1:{port}/fn/acme-local-{address.replace('.', '-')}"
                    for address in REACHED if address not in SERVED_AT_OWN_URL]
        with Gateway(roots_for_env(project, env), port=port):
            answers = {url: _refused(requests.get(url, timeout=60)) for url in [*urls, *unserved]}
        assert len(urls) == 6 and not [url for url in urls if answers[url]], answers
        assert all(answers[url] for url in unserved), answers
    finally:
        remove_database_servers(project)


def _declared_outputs(project: Path, env: str) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """stack -> (its metadata, an output value per output its synthesized configuration declares)."""
    outdir = project / "cdktf.out" / env
    meta = json.loads((outdir / "platform.json").read_text())
    stacks = {}
    for name, info in meta["stacks"].items():
        doc = json.loads((outdir / "stacks" / name / "cdk.tf.json").read_text())
        stacks[name] = (info, {key: f"https://{key}.example/" if key.endswith("_url") else key
                               for key in doc.get("output") or {}})
    return stacks


def test_aws_and_gcp_rows_list_every_function_and_only_urls_that_serve(tmp_path: Path) -> None:
    """prod places auth, notifications and thumbnails on AWS and web on GCP: the outputs its synthesis declares
    (AWS declares no URL output for a function without an HTTP trigger, GCP one for every function)."""
    from platform_sdk.loader import load_services
    from platform_sdk.terraform.report import StackResult
    from platform_sdk.terraform.runner import where_things_live

    project = make_project(tmp_path / "estate")
    result = Cli(Path("terraform-not-needed"))(project, "synth", "--env", "prod")
    assert result.exit_code == 0, result.output
    stacks = _declared_outputs(project, "prod")
    results = [StackResult(name, info["service"], info["cloud"], info["target"], outputs=outputs)
               for name, (info, outputs) in stacks.items()]
    rows = where_things_live(results, {"stacks": {n: info for n, (info, _) in stacks.items()}},
                             reach=reaches(load_services(project / "services")))
    functions = {f"{r['service']}.{r['name']}": r for r in rows if r["kind"] == "function"}
    assert set(functions) == set(REACHED)
    assert {r["cloud"] for r in functions.values()} == {"aws", "gcp"}
    for address, row in functions.items():
        assert ("url" in row) == (address in SERVED_AT_OWN_URL), row
    assert functions["web.api"]["reached"] == "via CDN https://cdn_cdn_url.example/api/*"
    assert functions["auth.cleanup"]["reached"] == "cron 0 3 * * *"
    assert functions["auth.api"]["url"] == "https://function_api_url.example/"
