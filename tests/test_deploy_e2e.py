"""plan / apply / destroy of the example estate on the local cloud, through the CLI and real Terraform.

Each test owns a copy of the estate in tmp_path; nothing here uses the network beyond 127.0.0.1 and no
assertion depends on the clock (races are made deterministic with the local cloud's hold file).
"""

from __future__ import annotations

import json
import re
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest

from platform_sdk.localcloud import dbserver
from tests.terraform_fixtures import (  # noqa: F401 - the *_fixture imports register fixtures
    HOLD_ENV,
    Cli,
    cli_fixture,
    cloud_root,
    hold_file_fixture,
    make_project,
    project_fixture,
    set_placement,
    spawn,
    state_files,
    state_resources,
    tf_binary_fixture,
    tree,
    wait_for_line,
    wait_for_path,
)

pytestmark = pytest.mark.e2e

STACKS = ["local-auth-aws", "local-notifications-aws", "local-thumbnails-aws", "local-web-gcp"]


def stack(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in report["stacks"] if s["name"] == name)


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


NOTES = """from platform_sdk import Bucket, Service

service = Service("notes", owner="test-team", description="A bucket this test edits")
service.add(Bucket("archive", versioning=True))
"""


def test_apply_update_drift_and_destroy(cli: Cli, project: Path) -> None:
    root = cloud_root(project)
    notes = project / "services" / "notes.py"  # a service of the test's own, so edits do not track the estate
    notes.write_text(NOTES)
    result = cli(project, "apply", "--env", "local", "--auto-approve")
    assert result.exit_code == 0, result.output
    assert "Where things live" in result.stdout
    assert "http://127.0.0.1:8790/fn/acme-local-auth-api" in result.stdout
    assert sorted(state_resources(project)) == sorted(f"{s}.tfstate" for s in [*STACKS, "local-notes-aws"])

    code, outputs = cli.json(project, "outputs", "--env", "local")
    assert code == 0
    where = {(w["service"], w["kind"], w["name"]): w.get("url") or w["reached"] for w in outputs["where"]}
    originals = root / "aws" / "buckets" / "acme-local-thumbnails-originals"
    assert where[("thumbnails", "bucket", "originals")] == originals.as_uri()
    assert where[("thumbnails", "cdn", "cdn")] == "http://127.0.0.1:8790/cdn/acme-local-thumbnails-cdn/"
    # a CDN's origin answers only through it: its row gives that route, not its own URL (403 there)
    assert where[("web", "function", "api")] == "via CDN http://127.0.0.1:8790/cdn/acme-local-web-cdn/api/*"
    assert outputs["stacks"]["local-web-gcp"]["bucket_site_name"] == "acme-local-web-site"
    assert originals.is_dir()

    # Converged: nothing to do.
    assert cli(project, "plan", "--env", "local", "--detailed-exitcode").exit_code == 0

    # An attribute changes in the service file: an in-place update, nothing else.
    notes.write_text(NOTES.replace("versioning=True", "versioning=False"))
    code, report = cli.json(project, "plan", "--env", "local", "--detailed-exitcode")
    assert code == 2
    changed = stack(report, "local-notes-aws")
    assert changed["changes"] == {"create": [], "update": ["localcloud_bucket.archive"], "replace": [], "destroy": []}
    assert report["data_loss"] == [] and report["totals"]["update"] == 1
    assert stack(report, "local-web-gcp")["status"] == "unchanged"  # not planned: nothing it depends on changed
    assert cli(project, "apply", "--env", "local", "--auto-approve").exit_code == 0
    meta = json.loads((root / "aws" / "buckets" / ".meta" / "acme-local-notes-archive.json").read_text())
    assert meta["versioning"] is False

    # Drift made by hand: the bucket directory disappears. A plan of what changed does not refresh unchanged
    # stacks (and says so); `platform drift` finds it, then the plan shows it and apply repairs it.
    site = root / "gcp" / "buckets" / "acme-local-web-site"
    shutil.rmtree(site)
    code, report = cli.json(project, "plan", "--env", "local")
    assert stack(report, "local-web-gcp")["status"] == "unchanged"
    assert "(not refreshed)" in cli(project, "plan", "--env", "local").stdout
    code, found = cli.json(project, "drift", "--env", "local")
    assert code == 2 and found["drifted"] == ["local-web-gcp"]
    code, report = cli.json(project, "plan", "--env", "local")
    web = stack(report, "local-web-gcp")
    assert web["drift"] == [{"address": "localcloud_bucket.site", "change": "deleted"}]
    assert web["changes"]["create"] == ["localcloud_bucket.site"]
    result = cli(project, "plan", "--env", "local")
    assert "localcloud_bucket.site was deleted outside Terraform" in result.stdout
    assert cli(project, "apply", "--env", "local", "--auto-approve").exit_code == 0
    assert site.is_dir()
    assert cli(project, "plan", "--env", "local", "--detailed-exitcode").exit_code == 0

    # Data in a bucket and a database: destroy refuses without --allow-data-loss and touches nothing.
    (originals / "photo.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with dbserver.Server(root / "aws", "postgres").admin("acme-local-auth-users") as conn:  # real PostgreSQL
        cursor = conn.cursor()
        cursor.execute("CREATE TABLE users (email TEXT)")
        cursor.execute("INSERT INTO users VALUES ('a@example.com')")
        conn.commit()
    before_state, before_disk = state_files(project), tree(root)
    result = cli(project, "destroy", "--env", "local", "--auto-approve")
    assert result.exit_code == 1, result.output
    refusal = flat(result.stderr)
    assert "refusing to destroy" in refusal and "--allow-data-loss" in refusal
    for address in ("localcloud_bucket.originals", "localcloud_bucket.thumbs", "localcloud_bucket.site",
                    "localcloud_database.users"):
        assert address in refusal
    assert "!! DATA LOSS" in result.stdout
    assert state_files(project) == before_state and tree(root) == before_disk

    result = cli(project, "destroy", "--env", "local", "--auto-approve", "--allow-data-loss")
    assert result.exit_code == 0, result.output
    assert all(not resources for resources in state_resources(project).values())
    left = [p for p in root.rglob("*") if p.is_file()]
    assert left == [], f"left on disk after destroy: {left}"
    assert not list(root.rglob("*.sqlite3*")) and not list(root.rglob("function.json"))
    assert not dbserver.Server(root / "aws", "postgres").dir.exists()  # the last database took its server along


def test_replace_without_allow_data_loss_is_refused(cli: Cli, project: Path) -> None:
    assert cli(project, "apply", "--env", "local", "--auto-approve").exit_code == 0
    root = cloud_root(project)
    before_state, before_disk = state_files(project), tree(root)
    env = project / "envs" / "local.toml"
    env.write_text(env.read_text().replace('name_prefix = "acme"', 'name_prefix = "beta"'))  # every name changes

    result = cli(project, "plan", "--env", "local")
    assert result.exit_code == 0
    assert "-/+ replace  localcloud_bucket.originals  !! DATA LOSS" in result.stdout
    assert "localcloud_queue.outbox in local-notifications-aws will be REPLACED" in result.stdout
    # auth reads the outbox's (renamed) URL: it is planned once notifications is applied, never against stale outputs
    assert "local-auth-aws: planned after local-notifications-aws is applied" in result.stdout

    result = cli(project, "apply", "--env", "local", "--auto-approve")
    assert result.exit_code == 1, result.output
    refusal = flat(result.stderr)
    assert "refusing to apply" in refusal and "Nothing was changed" in refusal
    assert "localcloud_bucket.originals in local-thumbnails-aws (replace)" in refusal
    assert "localcloud_queue.outbox in local-notifications-aws (replace)" in refusal
    assert state_files(project) == before_state
    assert tree(root) == before_disk


def test_dependent_stacks_run_in_waves_and_failures_stop_dependents(cli: Cli, project: Path) -> None:
    # on-demand moves to the gcp stand-in but still reads and writes the aws buckets: a cross-stack consumer.
    set_placement(project, "thumbnails.on-demand", "gcp")
    code, report = cli.json(project, "plan", "--env", "local")
    assert code == 0
    consumer = stack(report, "local-thumbnails-gcp")
    assert consumer["status"] == "waiting" and consumer["waiting_on"] == ["local-thumbnails-aws"]
    assert consumer["changes"] is None, "a consumer is never planned against outputs that do not exist yet"
    result = cli(project, "plan", "--env", "local")
    assert "local-thumbnails-gcp: planned after local-thumbnails-aws is applied" in result.stdout

    # Sabotage the producer: a plain file where its bucket directory must go.
    blocker = cloud_root(project) / "aws" / "buckets" / "acme-local-thumbnails-originals"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("in the way")
    code, outcome = cli.json(project, "apply", "--env", "local", "--auto-approve")
    assert code == 1
    statuses = {s["name"]: s["status"] for s in outcome["stacks"]}
    assert statuses == {"local-auth-aws": "applied", "local-notifications-aws": "applied",
                        "local-thumbnails-aws": "failed", "local-thumbnails-gcp": "skipped", "local-web-gcp": "applied"}
    failed = stack(outcome, "local-thumbnails-aws")
    assert "localcloud_bucket" in failed["error"] or "originals" in failed["error"]
    assert "local-thumbnails-aws" in stack(outcome, "local-thumbnails-gcp")["reason"]

    # Fix the cause and run again: it converges. The producer exists now (its first apply created part of it) and
    # its plan leaves the outputs the consumer reads as they are, so the consumer is planned beside it, in one wave,
    # and applied after it.
    blocker.unlink()
    code, outcome = cli.json(project, "apply", "--env", "local", "--auto-approve")
    assert code == 0, outcome
    assert len(outcome["waves"]) == 1
    assert stack(outcome["waves"][0], "local-thumbnails-gcp")["status"] == "changes"
    assert stack(outcome["waves"][0], "local-thumbnails-aws")["status"] == "changes"
    assert stack(outcome, "local-thumbnails-gcp")["replanned"] is None
    assert {s["status"] for s in outcome["stacks"]} <= {"applied", "no-changes", "unchanged"}
    assert any(w["name"] == "on-demand" and w["cloud"] == "gcp (local stand-in)" for w in outcome["where"])
    assert cli(project, "plan", "--env", "local", "--detailed-exitcode").exit_code == 0


def test_apply_asks_before_applying(cli: Cli, project: Path) -> None:
    result = cli(project, "apply", "--env", "local", input="no\n")
    assert result.exit_code == 1
    assert "Only 'yes' will be accepted" in flat(result.stderr) and "cancelled" in result.stderr
    assert all(not r for r in state_resources(project).values())


def test_concurrent_applies_are_refused_with_the_holder_named(cli: Cli, tf_binary: Path, tmp_path: Path,
                                                             hold_file: Path) -> None:
    # Two checkouts of one estate sharing state and cloud (like two engineers with one backend).
    shared = tmp_path / "shared"
    first = make_project(tmp_path / "one", services=["web"])
    second = make_project(tmp_path / "two", services=["web"])
    for checkout in (first, second):
        env = checkout / "envs" / "local.toml"
        env.write_text(env.read_text().replace('root = ".platform/localcloud"', f'root = "{shared}/cloud"')
                       .replace('path = ".platform/state"', f'path = "{shared}/state"'))
    hold_file.write_text("")
    proc = spawn(first, tf_binary, "apply", "--env", "local", "--auto-approve", env={HOLD_ENV: str(hold_file)})
    seen: list[str] = []
    try:
        wait_for_line(proc, r"local-web-gcp: apply", seen)
        wait_for_path(shared / "state" / "local" / ".local-web-gcp.tfstate.lock.info", proc)

        # Same checkout: our workspace lock refuses at once, naming the command holding it.
        result = cli(first, "apply", "--env", "local", "--auto-approve")
        assert result.exit_code == 1
        message = flat(result.stderr)
        assert "environment local is locked by `platform apply` (pid" in message, message

        # Other checkout, same state: Terraform's state lock, reported with who holds it.
        code, report = cli.json(second, "plan", "--env", "local")
        assert code == 1
        web = stack(report, "local-web-gcp")
        assert web["status"] == "locked"
        # the local backend's lock is an OS lock on the state file: its holder is alive here, no unlock releases it
        assert re.fullmatch(r"stack local-web-gcp is locked by \S+@\S+ since .+ \(apply, lock id [0-9a-f-]+\): "
                            r"its state file \S+/local-web-gcp\.tfstate is locked by a process that is still running "
                            r"on this machine; wait for it to finish or stop it \(its lock goes with it\)",
                            web["error"]), web["error"]
        result = cli(second, "plan", "--env", "local")
        assert "locked by" in result.stdout and result.exit_code == 1
    finally:
        hold_file.unlink(missing_ok=True)
        out, err = proc.communicate()
    assert proc.returncode == 0, "".join(seen) + err
    assert cli(second, "plan", "--env", "local", "--detailed-exitcode").exit_code == 0


def test_ctrl_c_mid_apply_releases_the_lock_and_a_rerun_converges(cli: Cli, tf_binary: Path, project: Path,
                                                                   hold_file: Path) -> None:
    hold_file.write_text("")
    proc = spawn(project, tf_binary, "apply", "--env", "local", "--auto-approve", "--parallelism", "1",
                 env={HOLD_ENV: str(hold_file)})
    seen: list[str] = []
    # The first stack applied (auth waits for it: its function sends to the outbox queue)
    lock_info = project / ".platform" / "state" / "local" / ".local-notifications-aws.tfstate.lock.info"
    try:
        wait_for_line(proc, r"local-notifications-aws: apply", seen)
        wait_for_path(Path(f"{hold_file}.entered"), proc)  # Terraform is creating resources, lock held
        assert lock_info.exists()
        proc.send_signal(signal.SIGINT)
        wait_for_line(proc, r"Interrupt received", seen)
    finally:
        hold_file.unlink(missing_ok=True)  # let the operation in flight finish; Terraform then stops
        out, err = proc.communicate()
    text = flat("".join(seen) + err)
    assert proc.returncode == 130, text
    assert "Interrupted while running: local-notifications-aws." in text
    assert "Not started: local-thumbnails-aws, local-web-gcp." in text  # auth was still waiting for its producer
    assert "interrupted local-notifications-aws (notifications, aws (local stand-in)): interrupted during apply" \
        in flat(out)
    assert "execution halted" in out
    assert not lock_info.exists(), "the state lock must be released"
    # The outbox queue and the render function (which depend on nothing) were being created when Ctrl-C came:
    # Terraform finished what was in flight and recorded it, nothing more (not the worker, which needs the queue).
    recorded = state_resources(project)["local-notifications-aws.tfstate"]
    assert recorded, out
    assert set(recorded) <= {"localcloud_queue.outbox", "localcloud_function.render"}, out
    assert not state_resources(project).get("local-auth-aws.tfstate"), "auth is applied only after notifications"
    # Not every stack got to apply; a re-run picks up where it stopped and converges.
    result = cli(project, "apply", "--env", "local", "--auto-approve")
    assert result.exit_code == 0, result.output
    result = cli(project, "plan", "--env", "local", "--detailed-exitcode")
    assert result.exit_code == 0, result.output
    assert all(state_resources(project)[f"{s}.tfstate"] for s in STACKS)


def test_ctrl_c_while_the_applied_outputs_are_read_stops_before_content_and_exits_130(
        cli: Cli, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C after the last Terraform apply, while the applied stacks' outputs are read: the outputs may be missing,
    so nothing that needs them runs (the static site's content upload, generated secrets, DNS, "Where things live");
    "Interrupted.", exit code 130, as during the apply. It used to be ignored: the apply went on without them and
    ended with exit code 0. A re-run finishes the job."""
    from platform_sdk.terraform.runner import EnvironmentRunner

    read = EnvironmentRunner.outputs

    def interrupted_read(self: EnvironmentRunner, names: list[str] | None = None, init: bool = False,
                         known: bool = False) -> dict[str, dict[str, Any]]:
        if known:  # the read after the apply; Ctrl-C as the runner's SIGINT handler takes it
            self.interrupt()
        return read(self, names, init, known)

    site = cloud_root(project) / "gcp" / "buckets" / "acme-local-web-site"
    with monkeypatch.context() as patched:
        patched.setattr(EnvironmentRunner, "outputs", interrupted_read)
        result = cli(project, "apply", "--env", "local", "--auto-approve")
    assert result.exit_code == 130, result.output
    assert "Interrupted." in result.output and "Run the command again to continue." in flat(result.output)
    assert "Where things live" not in result.output
    assert site.is_dir() and not any(site.rglob("index.html")), "no content uploaded after the interrupt"
    result = cli(project, "apply", "--env", "local", "--auto-approve")
    assert result.exit_code == 0, result.output
    assert "Where things live" in result.stdout and any(site.rglob("index.html"))


def test_a_command_that_changes_nothing_leaves_the_move_record_cache_alone(cli: Cli, project: Path) -> None:
    """Every command that reads the environment's move record refreshes its cache (`.platform/moves/<env>.json`):
    it was rewritten with the same content each time, a refused command (exit 2) included. Now only a change is
    written."""
    import os
    import time

    cache = project / ".platform" / "moves" / "local.json"
    cache.parent.mkdir(parents=True)
    cache.write_text('{"moves": []}\n')  # a cache of an older format: replaced once
    assert cli(project, "plan", "--env", "local", "--stack", "nosuch").exit_code == 2
    written = cache.read_text()
    assert json.loads(written)["moves"] == []
    before = os.stat(cache).st_mtime_ns
    time.sleep(0.05)
    for _ in range(2):
        assert cli(project, "plan", "--env", "local", "--stack", "nosuch").exit_code == 2
    assert os.stat(cache).st_mtime_ns == before and cache.read_text() == written


def test_function_code_edited_in_place_on_the_local_cloud_is_drift_and_apply_restores_it(cli: Cli,
                                                                                       project: Path) -> None:
    """A deployed function's code edited by hand (debugging in the local cloud's folder) went unnoticed: status in
    sync, drift none, apply no changes, the function still running the edit. As a cloud's refresh compares the
    deployed code's hash (Lambda's source_code_hash), the local cloud's compares the deployed tree with the one it
    unpacked: `platform drift` names the stack, the plan updates the function, the apply puts the package back."""
    assert cli(project, "apply", "--env", "local", "--auto-approve").exit_code == 0
    code_dirs = sorted((cloud_root(project) / "gcp" / "functions").glob("*/code"))
    assert code_dirs, "the estate's gcp functions"
    code = code_dirs[0]
    handler = next(p for p in sorted(code.glob("*.py")) if not p.name.startswith("_platform"))
    original = handler.read_text()
    (code / "__pycache__").mkdir(exist_ok=True)  # what the runtime writes as it imports is not an edit
    (code / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    assert cli(project, "plan", "--env", "local", "--all", "--detailed-exitcode").exit_code == 0
    assert _status_of(cli, project) == {}, "nothing edited yet"
    _, listed = cli.json(project, "status", "--env", "local")  # no `platform dev` runs: its URL's port is named
    assert all(re.search(r"no gateway answers on port \d+ \(clouds\.local\.gateway_port\)", f["detail"] or "")
               for f in listed["functions"]), listed["functions"]
    handler.write_text(original + "\nraise RuntimeError('edited in place')\n")
    edited = _status_of(cli, project)
    assert list(edited) == ["web.api"] and edited["web.api"]["changed_outside"], edited  # it said "in sync"
    assert "code changed outside Terraform" in edited["web.api"]["detail"], edited
    assert edited["web.api"]["code_hash"] is None, edited  # it said the deployed package's hash, equal to the expected
    shown = cli(project, "status", "--env", "local")
    line = next(line for line in shown.stdout.splitlines() if line.strip().startswith("web.api "))
    assert "code changed outside Terraform" in line and "in sync" not in line, shown.stdout
    assert "1 drifted" in shown.stdout and "platform apply --env local --all" in " ".join(shown.stdout.split())
    code_, found = cli.json(project, "drift", "--env", "local")
    assert code_ == 2 and found["drifted"] == ["local-web-gcp"], found
    assert cli(project, "plan", "--env", "local", "--all", "--detailed-exitcode").exit_code == 2
    assert cli(project, "apply", "--env", "local", "--auto-approve").exit_code == 0
    assert handler.read_text() == original
    assert cli(project, "plan", "--env", "local", "--all", "--detailed-exitcode").exit_code == 0
    assert _status_of(cli, project) == {}, "the package deployed again"


def _status_of(cli: Cli, project: Path) -> dict[str, dict[str, Any]]:
    """`platform status --json`: the deployed functions it reports drifted, by address (every function deployed)."""
    code, found = cli.json(project, "status", "--env", "local")
    assert code == 0 and not found["not_deployed"] and found["functions"], found
    return {f["address"]: f for f in found["functions"] if f["drifted"] is not False}
