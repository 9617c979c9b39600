"""The runner's scheduling, reports, lock parsing and Ctrl-C handling, against a scripted fake Terraform.

The fake (written to tmp_path) behaves per stack as a JSON spec says: which resources it would create,
fail a phase, hold the state lock, block in apply until SIGINT. It logs every call, so the tests check
order and concurrency from the log, never from the clock. Real Terraform runs are in test_deploy_e2e.py.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from platform_sdk.terraform import report as rp
from platform_sdk.terraform.bootstrap import bootstrap
from platform_sdk.terraform.locks import WorkspaceLocked, parse_state_lock, workspace_lock
from platform_sdk.terraform.process import Terraform, TfRun, trim_error
from platform_sdk.terraform.progress import PlainProgress, interrupt_notice
from platform_sdk.terraform.runner import EnvironmentRunner

FAKE_TERRAFORM = r'''#!PYTHON
"""A scripted stand-in for Terraform; see tests/test_runner.py."""
import json, os, signal, sys, time
from pathlib import Path

stack = Path.cwd().name
spec_all = json.loads(Path(os.environ["FAKE_TF_SPEC"]).read_text())
spec = {**spec_all.get("*", {}), **spec_all.get(stack, {})}
state = Path(os.environ["FAKE_TF_STATE"])
state.mkdir(parents=True, exist_ok=True)
cmd = sys.argv[1]
destroy = "-destroy" in sys.argv
marker = state / f"{stack}.applied"


def log(event):
    with open(state / "log", "a") as fh:
        fh.write(f"{stack} {cmd}{'-destroy' if destroy else ''} {event}\n")


log("start")
if spec.get("fail") == cmd:
    print("\nError: " + spec.get("error", "boom") + "\n\n  on cdk.tf.json line 1:\n", file=sys.stderr)
    log("end")
    sys.exit(1)
if spec.get("locked") == cmd:
    print(LOCK_TEXT, file=sys.stderr)
    log("end")
    sys.exit(1)
if spec.get("block") == cmd:
    def stop(signum, frame):
        log("interrupted")
        (state / f"{stack}.lock").unlink()
        print("Interrupt received.\nError: execution halted", file=sys.stderr)
        sys.exit(1)
    signal.signal(signal.SIGINT, stop)
    (state / f"{stack}.lock").write_text("held")
    (state / f"{stack}.blocking").write_text("")
    while True:
        time.sleep(0.02)
if spec.get("barrier") and cmd == "plan":
    with open(state / "barrier", "a") as fh:
        fh.write(stack + "\n")
    for _ in range(6000):  # deadlock guard only
        if len((state / "barrier").read_text().split()) >= spec["barrier"]:
            break
        time.sleep(0.02)
resources = [tuple(r) for r in spec.get("resources", [])]
if cmd == "plan":
    if destroy:
        changes = [(a, t, ["delete"]) for a, t in resources] if marker.exists() else []
    elif not marker.exists():
        changes = [(a, t, ["create"]) for a, t in resources]
    else:
        changes = [tuple(c) for c in spec.get("later", [])]
    Path("platform.tfplan").write_text(json.dumps({"destroy": destroy, "changes": changes}))
elif cmd == "show":
    plan = json.loads(Path("platform.tfplan").read_text())
    doc = {"resource_changes": [{"address": a, "type": t, "mode": "managed", "change": {"actions": acts}}
                                for a, t, acts in plan["changes"]],
           "output_changes": spec.get("output_changes", {}) if marker.exists() else {}}
    if marker.exists() and spec.get("output_changes"):  # an applied stack's prior state, as Terraform 1.0.3 shows it
        doc["prior_state"] = {"values": {"root_module": {"resources": [{"address": a} for a, _ in resources]}}}
    print(json.dumps(doc))
elif cmd == "apply":
    plan = json.loads(Path(sys.argv[-1]).read_text())
    if plan["destroy"]:
        marker.unlink(missing_ok=True)
    else:
        marker.write_text("applied")
elif cmd == "output":
    print(json.dumps({f"bucket_{stack}_url": {"value": f"file:///{stack}", "sensitive": False}}
                     if marker.exists() else {}))
log("end")
'''

LOCK_TEXT = """
Error: Error acquiring the state lock

Error message: resource temporarily unavailable
Lock Info:
  ID:        3c6f5e1b-1111-2222-3333-444455556666
  Path:      /tmp/x/.platform/state/local/local-web-gcp.tfstate
  Operation: OperationTypeApply
  Who:       alice@build-7
  Version:   1.0.3
  Created:   2026-11-27 09:00:00.123456 +0000 UTC
  Info:


Terraform acquires a state lock to protect the state from being written
by multiple users at the same time. Please resolve the issue above and try
again. For most commands, you can disable locking with the "-lock=false"
flag, but this is not recommended.
"""

DYNAMODB_LOCK_TEXT = """
Error: Error acquiring the state lock

Error message: ConditionalCheckFailedException: The conditional request failed
Lock Info:
  ID:        a1b2c3
  Path:      acme-tfstate/platform/s3/s3-web-local.tfstate
  Operation: OperationTypePlan
  Who:       ci@runner-3
  Version:   1.0.3
  Created:   2026-11-27 10:11:12 +0000 UTC
  Info:
"""


# ------------------------------------------------------------------------------------------------ helpers

class Fake:
    """A fake Terraform plus a synthesized-looking environment for it to run in."""

    def __init__(self, tmp_path: Path, stacks: dict[str, list[str]]) -> None:
        self.root = tmp_path
        self.outdir = tmp_path / "cdktf.out" / "fake"
        self.state = tmp_path / "fake-state"
        self.spec_path = tmp_path / "spec.json"
        self.specs: dict[str, dict[str, Any]] = {"*": {}}
        self.binary = tmp_path / "bin" / "terraform"
        self.binary.parent.mkdir(parents=True)
        self.binary.write_text(FAKE_TERRAFORM.replace("PYTHON", sys.executable).replace(
            "LOCK_TEXT, file", f"{LOCK_TEXT!r}, file"))
        self.binary.chmod(0o755)
        meta: dict[str, Any] = {"environment": "fake", "stacks": {}}
        for name, deps in stacks.items():
            (self.outdir / "stacks" / name).mkdir(parents=True)
            meta["stacks"][name] = {"name": name, "service": name.split("-")[1], "cloud": "aws", "target": "local",
                                    "resources": [], "stateful": [], "dependencies": deps}
            self.specs[name] = {"resources": [[f"localcloud_function.{name}", "localcloud_function"]]}
        self.metadata = meta
        (self.outdir / "platform.json").write_text(json.dumps(meta))

    def spec(self, stack: str, **values: Any) -> None:
        self.specs.setdefault(stack, {}).update(values)

    def runner(self, parallelism: int = 4, console: Console | None = None) -> EnvironmentRunner:
        self.spec_path.write_text(json.dumps(self.specs))
        env = {**os.environ, "FAKE_TF_SPEC": str(self.spec_path), "FAKE_TF_STATE": str(self.state)}
        terraform = Terraform(self.binary, env)
        progress = None
        if console is not None:
            def progress(label: str, results: list[rp.StackResult]) -> PlainProgress:
                return PlainProgress(console, label)
        return EnvironmentRunner(self.outdir, self.metadata, terraform, parallelism=parallelism,
                                 progress=progress, on_interrupt=interrupt_notice(console or quiet_console()))

    def log(self) -> list[tuple[str, str, str]]:
        path = self.state / "log"
        lines = path.read_text().splitlines() if path.exists() else []
        return [tuple(line.split()) for line in lines]  # type: ignore[misc]

    def calls(self, cmd: str) -> list[str]:
        return [stack for stack, c, event in self.log() if c == cmd and event == "start"]


def quiet_console() -> Console:
    """A console that records what was printed and writes it nowhere."""
    return Console(record=True, width=200, file=io.StringIO())


def max_concurrency(log: list[tuple[str, str, str]]) -> int:
    running = best = 0
    for _, _, event in log:
        running += 1 if event == "start" else -1 if event == "end" else 0
        best = max(best, running)
    return best


def approve(results: list[rp.StackResult], wave: int) -> bool:
    return True


def statuses(runner: EnvironmentRunner) -> dict[str, str]:
    return {n: r.status for n, r in runner.results.items()}


# ---------------------------------------------------------------------------------------- parsing and report

def test_parse_state_lock_local_backend() -> None:
    lock = parse_state_lock(LOCK_TEXT)
    assert lock is not None
    assert lock.id == "3c6f5e1b-1111-2222-3333-444455556666"
    assert lock.who == "alice@build-7"
    assert lock.operation == "OperationTypeApply"
    assert lock.created == "2026-11-27 09:00:00.123456 +0000 UTC"
    assert lock.describe("local-web-gcp") == (
        "stack local-web-gcp is locked by alice@build-7 since 2026-11-27 09:00:00.123456 +0000 UTC "
        "(apply, lock id 3c6f5e1b-1111-2222-3333-444455556666)")


def test_parse_state_lock_dynamodb_and_not_a_lock() -> None:
    lock = parse_state_lock(DYNAMODB_LOCK_TEXT)
    assert lock is not None and lock.who == "ci@runner-3" and lock.operation == "OperationTypePlan"
    assert "locked by ci@runner-3" in lock.describe("s3-web-local")
    assert parse_state_lock("Error: Invalid resource type") is None


def _doc(*changes: tuple[str, str, list[str]], drift: list[tuple[str, list[str]]] = (),  # type: ignore[assignment]
         outputs: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {
        "resource_changes": [{"address": a, "type": t, "mode": "managed", "change": {"actions": acts}}
                             for a, t, acts in changes],
        "resource_drift": [{"address": a, "type": a.split(".")[0], "mode": "managed", "change": {"actions": acts}}
                           for a, acts in drift],
        "output_changes": {k: {"actions": v, "before": None, "after": "x"} for k, v in (outputs or {}).items()},
    }


def test_parse_plan_actions_and_data_loss() -> None:
    plan = rp.parse_plan(_doc(
        ("localcloud_bucket.a", "localcloud_bucket", ["create"]),
        ("localcloud_bucket.b", "localcloud_bucket", ["update"]),
        ("localcloud_bucket.c", "localcloud_bucket", ["delete", "create"]),
        ("localcloud_database.d", "localcloud_database", ["create", "delete"]),
        ("localcloud_function.f", "localcloud_function", ["delete"]),
        ("localcloud_function.g", "localcloud_function", ["no-op"]),
        ("google_storage_bucket.h", "google_storage_bucket", ["delete"]),
        drift=[("localcloud_bucket.b", ["delete"]), ("localcloud_function.f", ["update"])],
        outputs={"bucket_a_url": ["create"], "same": ["no-op"]},
    ))
    assert [c.address for c in plan.by_action("create")] == ["localcloud_bucket.a"]
    assert [c.address for c in plan.by_action("update")] == ["localcloud_bucket.b"]
    assert [c.address for c in plan.by_action("replace")] == ["localcloud_bucket.c", "localcloud_database.d"]
    assert [c.address for c in plan.by_action("destroy")] == ["localcloud_function.f", "google_storage_bucket.h"]
    assert [c.address for c in plan.data_loss] == ["localcloud_bucket.c", "localcloud_database.d",
                                                   "google_storage_bucket.h"]
    assert plan.drift == [("localcloud_bucket.b", "deleted"), ("localcloud_function.f", "changed")]
    assert plan.output_changes == ["bucket_a_url"]
    assert rp.parse_plan(_doc(outputs={"x": ["no-op"]})).has_changes is False


def test_report_groups_by_service_and_flags_data_loss() -> None:
    web = rp.StackResult("dev-web-aws", "web", "aws", "aws", status=rp.CHANGES, plan=rp.parse_plan(_doc(
        ("aws_s3_bucket.site", "aws_s3_bucket", ["delete", "create"]),
        ("aws_lambda_function.api", "aws_lambda_function", ["update"]))))
    gcp = rp.StackResult("dev-web-gcp", "web", "gcp", "local", dependencies=["dev-web-aws"], status=rp.WAITING,
                         waiting_on=["dev-web-aws"])
    auth = rp.StackResult("dev-auth-aws", "auth", "aws", "aws", status=rp.NO_CHANGES, plan=rp.StackPlan())
    results = [web, gcp, auth]
    data = rp.report_json("dev", "plan", results)
    assert data["totals"] == {"create": 0, "update": 1, "replace": 1, "destroy": 0}
    assert data["data_loss"] == [{"stack": "dev-web-aws", "address": "aws_s3_bucket.site", "type": "aws_s3_bucket",
                                  "action": "replace"}]
    assert data["changes_present"] is True
    assert [s["name"] for s in data["stacks"]] == ["dev-auth-aws", "dev-web-aws", "dev-web-gcp"]
    console = quiet_console()
    rp.render(console, "dev", "plan", results)
    text = console.export_text()
    assert text.index("auth") < text.index("web\n")
    assert "gcp (local stand-in)  dev-web-gcp: planned after dev-web-aws is applied" in text
    assert "1 to update, 1 to replace" in text
    assert "aws_s3_bucket.site  !! DATA LOSS" in text
    assert "aws_s3_bucket.site in dev-web-aws will be REPLACED" in text
    assert "--allow-data-loss" in text


def test_trim_error_keeps_terraform_error_and_drops_boilerplate() -> None:
    stderr = ("╷\n│ Error: Bucket acme-x is not empty (3 objects); refusing to destroy it\n│ \n"
              "│ /x/buckets/acme-x holds: a, b, c.\n╵\n") + "".join(f"line {i}\n" for i in range(100))
    text = trim_error(TfRun(["apply"], 1, "", stderr, False))
    assert text.startswith("Error: Bucket acme-x is not empty")
    assert "╷" not in text and "│" not in text
    assert "more lines" in text


def test_workspace_lock_names_the_holder(tmp_path: Path) -> None:
    with workspace_lock(tmp_path, "local", "apply"):
        with pytest.raises(WorkspaceLocked) as err, workspace_lock(tmp_path, "local", "plan"):
            pass
        message = str(err.value)
        assert "environment local is locked by `platform apply`" in message
        assert f"pid {os.getpid()}" in message
    with workspace_lock(tmp_path, "local", "plan"):  # released
        pass


def test_workspace_lock_leaves_no_file_and_never_two_holders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lock file exists only while held (a refused or finished command leaves nothing behind), a file left by
    a killed holder is taken over, and removing the file on release never lets two holders in at once."""
    import threading

    path = tmp_path / "locks" / "local.lock"
    with workspace_lock(tmp_path, "local", "apply"):
        assert json.loads(path.read_text())["command"] == "apply"
    assert not path.exists() and not path.parent.exists()  # nor its folder, once empty
    path.parent.mkdir()
    path.write_text('{"command": "apply", "pid": 1}')  # a holder killed with SIGKILL: file left, lock dropped
    with workspace_lock(tmp_path, "local", "plan"):
        assert json.loads(path.read_text())["command"] == "plan"
    assert not path.exists()

    # B opens the file, then A releases (removing it) and C locks a new file at the path, then B locks the file
    # it opened: nobody holds that one any more, but C holds the path, so B must be refused.
    real_open = os.open
    b_opened, c_holds = threading.Event(), threading.Event()
    outcome: list[str] = []

    def open_then_wait(*args: Any, **kwargs: Any) -> int:
        fd = real_open(*args, **kwargs)
        if threading.current_thread().name == "B" and not b_opened.is_set():
            b_opened.set()
            c_holds.wait(10)
        return fd

    def b() -> None:
        try:
            with workspace_lock(tmp_path, "local", "plan"):
                outcome.append("B held the lock")
        except WorkspaceLocked:
            outcome.append("B refused")

    monkeypatch.setattr(os, "open", open_then_wait)
    thread = threading.Thread(target=b, name="B")
    with workspace_lock(tmp_path, "local", "apply"):  # A
        thread.start()
        assert b_opened.wait(10)
    with workspace_lock(tmp_path, "local", "deploy"):  # C
        c_holds.set()
        thread.join(10)
    assert outcome == ["B refused"]
    assert not path.exists()


def test_bootstrap_local_is_idempotent(tmp_path: Path) -> None:
    from platform_sdk.envs import Environment

    env = Environment(name="local", name_prefix="acme")
    first = bootstrap(tmp_path, env)
    assert [(s.kind, s.status) for s in first] == [("directory", "created")]
    assert (tmp_path / ".platform" / "state" / "local").is_dir()
    assert [s.status for s in bootstrap(tmp_path, env)] == ["exists"]


# ------------------------------------------------------------------------------------------------ scheduling

def test_consumer_waits_for_an_unapplied_producer(tmp_path: Path) -> None:
    fake = Fake(tmp_path, {"f-web-aws": [], "f-web-gcp": ["f-web-aws"], "f-cdn-gcp": ["f-web-gcp"]})
    runner = fake.runner()
    results = runner.plan()
    assert statuses(runner) == {"f-web-aws": rp.CHANGES, "f-web-gcp": rp.WAITING, "f-cdn-gcp": rp.WAITING}
    assert runner.results["f-web-gcp"].waiting_on == ["f-web-aws"]
    assert fake.calls("plan") == ["f-web-aws"], "a consumer must never be planned against missing outputs"
    text = quiet_console()
    rp.render(text, "fake", "plan", results)
    assert "f-web-gcp: planned after f-web-aws is applied" in text.export_text()


def test_apply_runs_in_waves_and_applies_only_reviewed_plans(tmp_path: Path) -> None:
    fake = Fake(tmp_path, {"f-web-aws": [], "f-web-gcp": ["f-web-aws"], "f-auth-aws": []})
    seen: list[tuple[int, list[str]]] = []

    def confirm(results: list[rp.StackResult], wave: int) -> bool:
        seen.append((wave, sorted(r.name for r in results if r.status == rp.CHANGES)))
        return True

    outcome = fake.runner().apply(confirm)
    assert seen == [(1, ["f-auth-aws", "f-web-aws"]), (2, ["f-web-gcp"])]
    assert len(outcome.waves) == 2 and not outcome.failed
    assert {r.name: r.status for r in outcome.results} == dict.fromkeys(["f-auth-aws", "f-web-aws", "f-web-gcp"],
                                                                        rp.APPLIED)
    log = fake.log()
    order = [(s, c) for s, c, e in log if e == "start" and c in ("plan", "apply")]
    assert order.index(("f-web-aws", "apply")) < order.index(("f-web-gcp", "plan"))
    # Nothing is applied without its reviewed plan file: every apply gets the saved plan.
    assert fake.calls("apply").count("f-web-gcp") == 1
    # Converged: a second apply plans everything, finds nothing, applies nothing.
    again = fake.runner().apply(confirm)
    assert {r.status for r in again.results} == {rp.NO_CHANGES}
    assert len(fake.calls("apply")) == 3


def test_a_consumer_planned_beside_its_producer_is_planned_again_with_its_consumers_when_a_read_output_changed(
        tmp_path: Path) -> None:
    """p -> c -> d, all applied, each with a pending change whose plan says its output stays "file:///old"; each
    apply makes it `file:///<stack>` instead, so the plans made beside it no longer hold and are made again."""
    fake = Fake(tmp_path, {"f-p-aws": [], "f-c-aws": ["f-p-aws"], "f-d-aws": ["f-c-aws"]})
    fake.runner().apply(approve)
    for name in ("f-p-aws", "f-c-aws", "f-d-aws"):
        unchanged = {"actions": ["no-op"], "before": "file:///old", "after": "file:///old", "after_unknown": False}
        fake.spec(name, later=[[f"localcloud_function.{name}", "localcloud_function", ["update"]]],
                  output_changes={f"bucket_{name}_url": unchanged})
    seen: list[tuple[int, list[str]]] = []

    def confirm(results: list[rp.StackResult], wave: int) -> bool:
        seen.append((wave, sorted(r.name for r in results if r.status == rp.CHANGES)))
        return True

    runner = fake.runner()
    outcome = runner.apply(confirm)
    assert not outcome.failed
    assert seen == [(1, ["f-c-aws", "f-d-aws", "f-p-aws"]), (2, ["f-c-aws", "f-d-aws"]), (3, ["f-d-aws"])]
    assert runner.results["f-c-aws"].replanned == ("f-p-aws's output bucket_f-p-aws_url changed when it was applied "
                                                   "(it had been planned with the old value)")
    applied = fake.calls("apply")[3:]  # after the first apply of every stack
    assert applied == ["f-p-aws", "f-c-aws", "f-d-aws"], "each stack applied once, producers first, never stale"


def test_declining_applies_nothing(tmp_path: Path) -> None:
    fake = Fake(tmp_path, {"f-web-aws": []})
    outcome = fake.runner().apply(lambda results, wave: False)
    assert outcome.cancelled and fake.calls("apply") == []


def test_failed_stack_stops_its_dependents_only(tmp_path: Path) -> None:
    fake = Fake(tmp_path, {"f-web-aws": [], "f-web-gcp": ["f-web-aws"], "f-auth-aws": []})
    fake.spec("f-web-aws", fail="apply", error="Bucket acme-web is not empty; refusing")
    outcome = fake.runner().apply(approve)
    results = {r.name: r for r in outcome.results}
    assert results["f-web-aws"].status == rp.FAILED
    assert "Bucket acme-web is not empty" in (results["f-web-aws"].error or "")
    assert results["f-web-gcp"].status == rp.SKIPPED
    assert "f-web-aws" in (results["f-web-gcp"].reason or "")
    assert results["f-auth-aws"].status == rp.APPLIED
    assert outcome.failed
    console = quiet_console()
    rp.render_outcome(console, "apply", outcome.results)
    text = console.export_text()
    assert "failed  f-web-aws" in text and "skipped  f-web-gcp" in text and "applied  f-auth-aws" in text
    # Re-running after the cause is fixed converges.
    fake.spec("f-web-aws", fail=None)
    outcome = fake.runner().apply(approve)
    assert {r.name: r.status for r in outcome.results} == {
        "f-auth-aws": rp.NO_CHANGES, "f-web-aws": rp.APPLIED, "f-web-gcp": rp.APPLIED}


def test_data_loss_is_refused_before_anything_is_applied(tmp_path: Path) -> None:
    fake = Fake(tmp_path, {"f-web-aws": [], "f-auth-aws": []})
    fake.spec("f-web-aws", resources=[["localcloud_bucket.site", "localcloud_bucket"]])
    assert not fake.runner().apply(approve).failed
    fake.spec("f-web-aws", later=[["localcloud_bucket.site", "localcloud_bucket", ["delete", "create"]]])
    fake.spec("f-auth-aws", later=[["localcloud_function.f-auth-aws", "localcloud_function", ["update"]]])
    applies_before = len(fake.calls("apply"))
    outcome = fake.runner().apply(approve)
    assert outcome.refused and [(s, c.address, c.action) for s, c in outcome.refused] == [
        ("f-web-aws", "localcloud_bucket.site", "replace")]
    assert len(fake.calls("apply")) == applies_before, "refusal must come before touching any stack"
    outcome = fake.runner().apply(approve, allow_data_loss=True)
    assert not outcome.refused and len(fake.calls("apply")) == applies_before + 2


def test_destroy_is_planned_whole_and_applied_consumers_first(tmp_path: Path) -> None:
    fake = Fake(tmp_path, {"f-web-aws": [], "f-web-gcp": ["f-web-aws"], "f-top-aws": ["f-web-gcp"]})
    fake.runner().apply(approve)
    before = len(fake.log())
    outcome = fake.runner().apply(approve, destroy=True)
    # one wave: every stack's destroy planned (and counted) before anything is destroyed
    assert len(outcome.waves) == 1 and not outcome.failed
    assert outcome.waves[0]["totals"]["destroy"] == 3
    assert {s["status"] for s in outcome.waves[0]["stacks"]} == {"changes"}
    log = fake.log()[before:]
    plans = [i for i, (_, c, e) in enumerate(log) if c == "plan-destroy" and e == "end"]
    applies = [(i, s) for i, (s, c, e) in enumerate(log) if c == "apply" and e == "start"]
    assert max(plans) < min(i for i, _ in applies)
    assert [s for _, s in applies] == ["f-top-aws", "f-web-gcp", "f-web-aws"]
    assert not list(fake.state.glob("*.applied"))


def test_destroy_keeps_a_producer_whose_consumer_was_not_destroyed(tmp_path: Path) -> None:
    fake = Fake(tmp_path, {"f-web-aws": [], "f-web-gcp": ["f-web-aws"], "f-top-aws": ["f-web-gcp"],
                           "f-lone-aws": []})
    fake.runner().apply(approve)
    fake.spec("f-top-aws", fail="apply")
    runner = fake.runner()
    outcome = runner.apply(approve, destroy=True)
    assert outcome.failed
    assert statuses(runner) == {"f-top-aws": "failed", "f-web-gcp": "skipped", "f-web-aws": "skipped",
                                "f-lone-aws": "applied"}
    assert runner.results["f-web-gcp"].reason == "consumer f-top-aws is not destroyed"
    assert runner.results["f-web-aws"].reason == "consumer f-web-gcp is not destroyed"
    assert sorted(p.stem for p in fake.state.glob("*.applied")) == ["f-top-aws", "f-web-aws", "f-web-gcp"]

    # a consumer whose destroy cannot even be planned keeps its producers before anything is asked or destroyed
    fake.spec("f-top-aws", fail="plan")
    runner = fake.runner()
    asked: list[int] = []

    def asking(results: list[rp.StackResult], wave: int) -> bool:
        asked.append(wave)
        return True

    outcome = runner.apply(asking, destroy=True)
    assert outcome.failed and asked == []  # f-lone-aws was destroyed before: nothing is left to ask about
    assert statuses(runner) == {"f-top-aws": "failed", "f-web-gcp": "skipped", "f-web-aws": "skipped",
                                "f-lone-aws": "no-changes"}
    assert runner.results["f-web-aws"].reason == "consumer f-web-gcp is not destroyed"


def test_parallelism_is_bounded(tmp_path: Path) -> None:
    names = {f"f-s{i}-aws": [] for i in range(6)}
    fake = Fake(tmp_path, names)
    fake.runner(parallelism=1).plan()
    assert max_concurrency(fake.log()) == 1
    (fake.state / "log").unlink()
    fake.spec("*", barrier=3)  # three plans must be in flight at once for any of them to finish
    fake.runner(parallelism=3).plan()
    assert max_concurrency(fake.log()) == 3


def test_locked_stack_names_the_holder(tmp_path: Path) -> None:
    fake = Fake(tmp_path, {"f-web-aws": [], "f-web-gcp": ["f-web-aws"]})
    fake.spec("f-web-aws", locked="plan")
    runner = fake.runner()
    runner.plan()
    result = runner.results["f-web-aws"]
    assert result.status == rp.LOCKED and result.lock is not None
    assert result.error == ("stack f-web-aws is locked by alice@build-7 since 2026-11-27 09:00:00.123456 +0000 UTC "
                            "(apply, lock id 3c6f5e1b-1111-2222-3333-444455556666); if that run is gone (killed), "
                            "release the lock with `platform unlock --env fake f-web-aws` on build-7")
    assert runner.results["f-web-gcp"].status == rp.SKIPPED


def test_ctrl_c_forwards_sigint_and_waits_for_terraform(tmp_path: Path) -> None:
    fake = Fake(tmp_path, {"f-a-aws": [], "f-b-aws": [], "f-c-aws": ["f-a-aws"]})
    fake.spec("f-a-aws", block="apply")
    console = quiet_console()
    runner = fake.runner(parallelism=1, console=console)
    blocking = fake.state / "f-a-aws.blocking"

    def press_ctrl_c() -> None:
        # Wait for the fake to be inside "apply" (a file it writes), then interrupt the main thread.
        while not blocking.exists() and runner_thread_alive():
            threading.Event().wait(0.02)
        os.kill(os.getpid(), signal.SIGINT)

    main_done = threading.Event()

    def runner_thread_alive() -> bool:
        return not main_done.is_set()

    presser = threading.Thread(target=press_ctrl_c)
    presser.start()
    try:
        outcome = runner.apply(approve)
    finally:
        main_done.set()
        presser.join()
    assert outcome.interrupted
    results = {r.name: r for r in outcome.results}
    assert results["f-a-aws"].status == rp.INTERRUPTED
    assert ("f-a-aws", "apply", "interrupted") in fake.log(), "SIGINT must reach Terraform's process group"
    assert not (fake.state / "f-a-aws.lock").exists(), "Terraform exited cleanly and released its lock"
    assert results["f-c-aws"].status in (rp.WAITING, rp.INTERRUPTED)
    assert "f-c-aws" not in fake.calls("plan")
    assert "Interrupt received" in console.export_text()
    assert runner.terraform.running == 0


def test_outputs_are_read_per_stack(tmp_path: Path) -> None:
    fake = Fake(tmp_path, {"f-web-aws": [], "f-auth-aws": []})
    fake.runner().apply(approve)
    runner = fake.runner()
    assert runner.outputs() == {"f-auth-aws": {"bucket_f-auth-aws_url": "file:///f-auth-aws"},
                                "f-web-aws": {"bucket_f-web-aws_url": "file:///f-web-aws"}}


def _progress_lines(fake: Fake, run: Callable[[EnvironmentRunner], object]) -> str:
    console = quiet_console()
    run(fake.runner(console=console))
    return console.export_text()


def test_plain_progress_prints_one_line_per_phase(tmp_path: Path) -> None:
    fake = Fake(tmp_path, {"f-web-aws": []})
    text = _progress_lines(fake, lambda r: r.plan())
    assert "plan f-web-aws: init" in text and "plan f-web-aws: plan" in text and "plan f-web-aws: planned (" in text


def test_bootstrap_gcs_bucket_is_idempotent(tmp_path: Path, gcs_emulator: str) -> None:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    from platform_sdk.envs import Environment

    env = Environment.model_validate({"name": "staging", "name_prefix": "acme", "default_cloud": "gcp",
                                      "clouds": {"gcp": {"project": "acme-staging-123", "region": "us-central1"}},
                                      "state": {"backend": "gcs", "bucket": "acme-tfstate-boot"}})
    assert [(s.kind, s.name, s.status) for s in bootstrap(tmp_path, env)] == [
        ("gcs bucket", "acme-tfstate-boot", "created")]
    bucket = storage.Client(project="acme-staging-123", credentials=AnonymousCredentials()).get_bucket(
        "acme-tfstate-boot")
    assert bucket.versioning_enabled
    assert [s.status for s in bootstrap(tmp_path, env)] == ["exists"]


def test_report_shows_a_placement_move_between_stacks() -> None:
    source = rp.StackResult("dev-web-aws", "web", "aws", "aws", status=rp.CHANGES,
                            owners={"aws_lambda_function.api": "web.api"},
                            plan=rp.parse_plan(_doc(("aws_lambda_function.api", "aws_lambda_function", ["delete"]))))
    target = rp.StackResult("dev-web-gcp", "web", "gcp", "gcp", status=rp.CHANGES,
                            owners={"google_cloudfunctions2_function.api": "web.api"},
                            plan=rp.parse_plan(_doc(("google_cloudfunctions2_function.api",
                                                     "google_cloudfunctions2_function", ["create"]))))
    data = rp.report_json("dev", "plan", [source, target])
    assert data["moves"] == [{"resource": "web.api", "from": "dev-web-aws", "to": "dev-web-gcp"}]
    console = quiet_console()
    rp.render(console, "dev", "plan", [source, target])
    assert "web.api: dev-web-aws -> dev-web-gcp" in console.export_text()


def test_provider_warnings_are_read_from_the_plan_output() -> None:
    """Terraform's warnings (the local cloud announces its SQLite fallback with one) reach the plan report."""
    from platform_sdk.terraform.report import parse_warnings

    text = ("Plan: 1 to add, 0 to change, 0 to destroy.\n\nWarning: Database m is a SQLite stand-in, not PostgreSQL\n\n"
            "  with localcloud_database.main,\n  on cdk.tf.json line 3, in resource.localcloud_database.main:\n"
            "   3:  \"resource\": {}\n\nThe environment sets databases = \"sqlite\" in [clouds.local]. SQL that\n"
            "only PostgreSQL rejects passes here.\n\nWarning: Database m is a SQLite stand-in, not PostgreSQL\n\n"
            "The environment sets databases = \"sqlite\" in [clouds.local]. SQL that\nonly PostgreSQL rejects passes "
            "here.\n\nWarning: Bare\n")
    assert parse_warnings(text) == [
        'Database m is a SQLite stand-in, not PostgreSQL: The environment sets databases = "sqlite" in '
        "[clouds.local]. SQL that only PostgreSQL rejects passes here.", "Bare"]
    assert parse_warnings("No changes. Your infrastructure matches the configuration.\n") == []


def test_trim_error_shows_each_repeated_error_once_with_its_count() -> None:
    """An interrupted apply repeats "Error: execution halted" once per resource in flight: hundreds of lines ("...
    (569 more lines)") before the summary. Each identical error block is shown once, with how many there were."""
    halted = "╷\n│ Error: execution halted\n│ \n╵\n"
    stderr = halted * 300 + "╷\n│ Error: creating bucket: denied\n│ \n│   with localcloud_bucket.a,\n╵\n" + halted
    text = trim_error(TfRun(["apply"], 1, "", stderr, False))
    assert text.count("execution halted") == 1 and "Error: execution halted (x301)" in text
    assert "Error: creating bucket: denied" in text and "with localcloud_bucket.a," in text
    assert "more lines" not in text
