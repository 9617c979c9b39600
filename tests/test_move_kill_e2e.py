"""A move killed at every phase boundary, in the middle of a Terraform apply and in the middle of its final sync,
resumed each time, ends in the same verified result: every object where it belongs, no trigger fired twice (the
local gateway's watcher runs throughout), no process left behind (psutil), no partial object visible.

Through real parts: the example estate on the local cloud, real Terraform, the `platform` CLI as separate processes
killed with SIGKILL, the gateway core with its file watcher.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from platform_sdk.envs import load_environment
from platform_sdk.localcloud.dev import roots_for_env
from platform_sdk.localcloud.dev.core import GatewayCore
from platform_sdk.move.record import MoveRecords
from platform_sdk.project import Project
from platform_sdk.providers.local.runtime.buckets import LocalBucket
from tests.terraform_fixtures import (  # noqa: F401 - fixtures
    HOLD_ENV,
    Cli,
    cli_fixture,
    project_fixture,
    spawn,
    tf_binary_fixture,
    wait_for_path,
)

pytestmark = pytest.mark.e2e

ORIGINALS = "acme-local-thumbnails-originals"
PROVIDER_MODULE = "platform_sdk.localcloud.plugin"


def wait_until(check: object, what: str, attempts: int = 1200) -> None:
    for _ in range(attempts):
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def leftovers(root: Path) -> list[str]:
    """Terraform and provider processes working under `root` whose parent is gone (or any Terraform there)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
            if not proc.cwd().startswith(str(root)):
                continue
            if PROVIDER_MODULE in cmdline:
                parent = proc.parent()
                if parent is None or "terraform" not in " ".join(parent.cmdline()):
                    found.append(f"provider {proc.pid} without its Terraform")
            elif Path((proc.info["cmdline"] or [""])[0]).name == "terraform":
                found.append(f"terraform {proc.pid} of a killed run")
        except psutil.Error:
            continue
    return found


def partial_files(bucket: Path) -> list[Path]:
    tmp = bucket / ".platform-tmp"
    return sorted(tmp.iterdir()) if tmp.is_dir() else []


@pytest.fixture
def gateway(cli: Cli, project: Path) -> Iterator[GatewayCore]:
    assert cli(project, "apply", "--env", "local", "--auto-approve").exit_code == 0
    env = load_environment(project / "envs" / "local.toml")
    roots = roots_for_env(project, env)
    assert set(roots) == {"aws", "gcp"}
    aws = project / ".platform" / "localcloud" / "local" / "aws" / "buckets" / ORIGINALS
    for i in range(40):  # there before the gateway watches: never processed, and a copy must not process them
        (aws / f"img-{i:03d}.jpg").write_bytes(os.urandom(2000 + i))
    core = GatewayCore(roots, watch=True, schedules=False)
    core.start()
    try:
        yield core
    finally:
        core.stop()


def fired(core: GatewayCore) -> Counter[tuple[str, str]]:
    """(cloud, key) of every object-created invocation so far."""
    out: Counter[tuple[str, str]] = Counter()
    for invocation in list(core.invocations):
        if invocation.trigger == "object_created":
            found = re.search(r"key='([^']+)' cloud=(\w+)", invocation.detail)
            assert found, invocation.detail
            out[(found.group(2), found.group(1))] += 1
    return out


def run(project: Path, tf_binary: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return spawn(project, tf_binary, "move", *args, "--env", "local", "--yes", "--workers", "2", env=env)


def test_killed_everywhere_the_move_resumes_to_the_same_verified_result(cli: Cli, tf_binary: Path, project: Path,
                                                                      tmp_path: Path, gateway: GatewayCore) -> None:
    root = project / ".platform" / "localcloud" / "local"
    aws, gcp = root / "aws" / "buckets" / ORIGINALS, root / "gcp" / "buckets" / ORIGINALS
    assert len(list(aws.glob("img-*.jpg"))) == 40  # written by the fixture before the gateway watched
    time.sleep(2)  # the watcher's debounce window passes with nothing new
    source = LocalBucket(aws)
    source.put("k1.jpg", os.urandom(500))
    source.put("k2.jpg", os.urandom(500))
    wait_until(lambda: sum(fired(gateway).values()) >= 2, "the two uploads to be processed on aws")

    # 1. killed at a phase boundary: right after the target step is recorded
    proc = run(project, tf_binary, "thumbnails", "--to", "gcp", env={"PLATFORM_MOVE_KILL_AFTER": "copy"})
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    records = MoveRecords(Project(project), load_environment(project / "envs" / "local.toml"))
    assert records.load()[0]["phase"] == "copy"

    # 2. killed in the middle of the copy
    hold = tmp_path / "pause"
    hold.touch()
    proc = run(project, tf_binary, "--resume", env={"PLATFORM_MOVE_PAUSE_AFTER": "10",
                                                   "PLATFORM_MOVE_PAUSE_FILE": str(hold)})
    wait_for_path(Path(f"{hold}.entered"), proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    hold.unlink()
    Path(f"{hold}.entered").unlink()
    assert 10 <= len(list(LocalBucket(gcp).list())) < 42

    # the source app keeps working before cut-over: a new upload (processed on aws), a delete
    source.put("late.jpg", os.urandom(700))
    source.delete("img-007.jpg")
    wait_until(lambda: fired(gateway)[("aws", "late.jpg")] == 1, "late.jpg to be processed on aws")

    # 3. killed in the middle of the cut-over's Terraform apply
    hold_apply = tmp_path / "hold-apply"
    hold_apply.touch()
    proc = run(project, tf_binary, "--resume", env={HOLD_ENV: str(hold_apply)})
    wait_for_path(Path(f"{hold_apply}.entered"), proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    hold_apply.unlink()  # the orphaned Terraform goes on, then dies; its providers must follow it
    wait_until(lambda: not leftovers(project), "no Terraform or provider of the killed run")

    # 4. killed in the middle of the final sync
    hold.touch()
    proc = run(project, tf_binary, "--resume", env={"PLATFORM_MOVE_PAUSE_AFTER": "5", "PLATFORM_MOVE_PAUSE_FILE":
                                                   str(hold), "PLATFORM_MOVE_PAUSE_PASS": "sync"})
    wait_for_path(Path(f"{hold}.entered"), proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    hold.unlink()
    assert records.load()[0]["phase"] == "verify"

    # 5. resumed to the end
    code, report = cli.json(project, "move", "--resume", "--env", "local", "--yes")
    assert code == 0, report
    assert report["finished"] and report["source_removed"]
    assert not leftovers(project)
    expected = {f"img-{i:03d}.jpg" for i in range(40)} - {"img-007.jpg"} | {"k1.jpg", "k2.jpg", "late.jpg"}
    assert {info.key for info in LocalBucket(gcp).list()} == expected
    assert not aws.exists() and partial_files(gcp) == []
    last = [c for c in report["copies"] if c["resource"] == "thumbnails.originals"][-1]
    assert last["phase"] == "verify" and last["verify"]["ok"] and last["verify"]["matched"] == len(expected)
    assert last["verify"]["target_objects"] == len(expected)
    phases = [p["phase"] for p in report["phases"]]
    assert phases[:1] == ["target"] and phases[-1] == "cleanup" and all("seconds" in p for p in report["phases"])

    # after cut-over, a new upload to the new home is processed once, there
    LocalBucket(gcp).put("after.jpg", os.urandom(600))
    wait_until(lambda: fired(gateway)[("gcp", "after.jpg")] == 1, "after.jpg to be processed on gcp")
    time.sleep(3)  # one more debounce window: anything that would fire late fires now
    gateway.wait_idle()
    counts = fired(gateway)
    assert counts == Counter({("aws", "k1.jpg"): 1, ("aws", "k2.jpg"): 1, ("aws", "late.jpg"): 1,
                              ("gcp", "after.jpg"): 1}), counts
