"""`platform unlock --env E` without stacks: the environment's move record lock and a move marked as running are
released only when their recorded holder is provably gone; a live holder, one on another machine or an unreadable
one is refused (exit 1) and the record is left as it was; another `platform` command holding the workspace refuses
the whole command.

The record documents are written the way the product writes them (`MoveRecords.save`, `LocalDocument.acquire` with
`Holder`), held by real processes started here (a `sleep`, a Python holding the record's flock); the CLI runs
in-process. The real leftover of a killed `platform move` is in tests/test_unlock_move_e2e.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from platform_sdk.cli import app
from platform_sdk.envs import load_environment
from platform_sdk.move.record import MoveRecords
from platform_sdk.project import Project
from platform_sdk.state_documents import Holder, LocalDocument, hostname, process_start_time
from platform_sdk.terraform.locks import workspace_lock

REPO = Path(__file__).resolve().parent.parent
runner = CliRunner()


def unlock(estate: Path, *extra: str) -> Result:
    return runner.invoke(app, ["unlock", "--env", "local", "--project", str(estate), *extra])


def records(estate: Path) -> MoveRecords:
    return MoveRecords(Project(estate), load_environment(estate / "envs" / "local.toml"))


def write_move(estate: Path, running: dict[str, Any] | None) -> None:
    """An unfinished move of thumbnails to gcp, in phase copy, marked as run by `running`."""
    move = {"id": "m1", "env": "local", "selector": "thumbnails", "target": "gcp",
            "sources": {"thumbnails.originals": "aws"}, "moved": ["thumbnails.originals"],
            "stateful": ["thumbnails.originals"], "phase": "copy", "running": running,
            "started": "2026-11-30T22:00:00Z", "started_by": "me@laptop", "report": {"phases": [], "results": []}}
    records(estate).save(move, "platform move")


def the_move(estate: Path) -> dict[str, Any]:
    (move,) = records(estate).load()
    return move


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "600"])
    yield proc
    proc.kill()
    proc.wait()


def holder_of(proc: subprocess.Popen[Any]) -> Holder:
    return Holder(host=hostname(), pid=proc.pid, started=process_start_time(proc.pid), command="platform move",
                  user="someone", since="2026-11-30T22:00:00Z")


@pytest.fixture
def record_lock_holder(estate: Path) -> Iterator[Any]:
    """Start a process that holds the move record's lock, writing `content` (None: its own `Holder`) as the holder."""
    procs: list[subprocess.Popen[str]] = []

    def start(content: str | None) -> subprocess.Popen[str]:
        doc = records(estate).doc
        assert isinstance(doc, LocalDocument)
        code = ("import sys, time\nfrom pathlib import Path\n"
                "from platform_sdk.state_documents import Holder, LocalDocument\n"
                "doc = LocalDocument(Path(sys.argv[1]))\n"
                "assert doc.acquire(Holder.current('platform move').to_json()) is None\n"
                "if len(sys.argv) > 2:\n    doc.lock_path.write_text(sys.argv[2])\n"
                "print('held', flush=True)\ntime.sleep(600)\n")
        proc = subprocess.Popen([sys.executable, "-c", code, str(doc.path), *([content] if content else [])],
                                stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline() == "held\n"
        return proc
    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def outcomes(result: Result) -> list[dict[str, str]]:
    doc = json.loads(result.stdout)
    assert doc["environment"] == "local"
    return list(doc["locks"])


def test_nothing_held_is_not_locked(estate: Path) -> None:
    result = unlock(estate, "--json")
    assert result.exit_code == 0, result.output
    (outcome,) = outcomes(result)
    assert outcome["status"] == "not locked" and outcome["what"].endswith("moves.json"), outcome
    text = unlock(estate)
    assert text.exit_code == 0 and "not locked" in text.stdout and "nobody holds it" in text.stdout


def files(root: Path) -> dict[str, tuple[bytes | None, int]]:
    """Every file and folder under `root`, a file with its bytes and mtime (ns); a folder's mtime is left out (the
    workspace lock's file comes and goes in `.platform/locks`)."""
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns) if p.is_file() else (None, 0)
            for p in sorted(root.rglob("*"))}


def test_nothing_to_unlock_writes_nothing(estate: Path) -> None:
    """`unlock` with nothing held made the record's lock file (`_platform/moves.json.lock`, and its folder) and wrote
    itself in it as holder (trial s31); a lock file an earlier run left is not rewritten either."""
    before = files(estate)
    result = unlock(estate)
    assert result.exit_code == 0 and "nobody holds it" in result.stdout, result.output
    lock = records(estate).doc
    assert isinstance(lock, LocalDocument) and not lock.lock_path.exists()
    assert files(estate) == before
    with records(estate).change("platform move"):  # a move's run leaves the lock file, empty, when it ends
        pass
    assert lock.lock_path.exists()
    before = files(estate)
    assert unlock(estate).exit_code == 0
    assert files(estate) == before


def test_a_move_whose_run_is_gone_is_released_with_the_resume_command(estate: Path) -> None:
    proc = subprocess.Popen(["sleep", "600"])
    gone = holder_of(proc)
    proc.kill()
    proc.wait()
    write_move(estate, gone.to_json())
    result = unlock(estate, "--json")
    assert result.exit_code == 0, result.output
    record, move = outcomes(result)
    assert record["status"] == "not locked"
    assert move["what"] == "the move of thumbnails" and move["status"] == "released", move
    assert f"pid {gone.pid}" in move["detail"] and "is gone" in move["detail"]
    assert "resume it with `platform move --resume --env local`" in move["detail"]
    assert the_move(estate)["running"] is None and the_move(estate)["phase"] == "copy"


def test_a_reused_pid_is_a_different_process(estate: Path) -> None:
    me = Holder.current("platform move")
    assert me.started is not None
    write_move(estate, {**me.to_json(), "started": me.started - 3600})  # this pid, but not the process that ran
    result = unlock(estate, "--json")
    assert result.exit_code == 0, result.output
    assert outcomes(result)[1]["status"] == "released"
    assert the_move(estate)["running"] is None


def test_a_live_run_is_refused_and_kept(estate: Path, sleeper: subprocess.Popen[bytes]) -> None:
    write_move(estate, holder_of(sleeper).to_json())
    before = the_move(estate)
    result = unlock(estate)
    assert result.exit_code == 1, result.output
    text = " ".join(result.stdout.split())
    assert f"refused the move of thumbnails: `platform move` (pid {sleeper.pid} on {hostname()}" in text, text
    assert "is running: wait for it" in text and "resume" not in text
    assert the_move(estate) == before


def test_a_run_on_another_machine_is_refused_naming_it(estate: Path) -> None:
    foreign = Holder(host="ci-runner-7", pid=4242, started=1.0, command="platform move", user="ci")
    write_move(estate, foreign.to_json())
    before = the_move(estate)
    result = unlock(estate, "--json")
    assert result.exit_code == 1, result.output
    move = outcomes(result)[1]
    assert move["status"] == "refused", move
    assert "on another machine: run `platform unlock --env local` on ci-runner-7" in move["detail"], move
    assert the_move(estate) == before


def test_a_record_lock_held_by_a_live_process_is_refused(estate: Path, record_lock_holder: Any) -> None:
    holder = record_lock_holder(None)
    result = unlock(estate, "--json")
    assert result.exit_code == 1, result.output
    (record,) = outcomes(result)
    assert record["status"] == "refused" and record["what"].endswith("moves.json"), record
    assert f"pid {holder.pid} on {hostname()}" in record["detail"] and "is running: wait for it" in record["detail"]
    assert holder.poll() is None  # still running, still holding it
    assert records(estate).doc.acquire(Holder.current("test").to_json()) is not None


def test_an_unreadable_record_lock_holder_is_refused(estate: Path, record_lock_holder: Any) -> None:
    record_lock_holder("garbage, not a holder")
    result = unlock(estate)
    assert result.exit_code == 1, result.output
    text = " ".join(result.stdout.split())
    assert re.search(r"refused .*moves\.json: held by an unreadable holder .*check by hand", text), text


def test_the_workspace_held_by_another_command_refuses_everything(estate: Path) -> None:
    proc = subprocess.Popen(["sleep", "600"])
    gone = holder_of(proc)
    proc.kill()
    proc.wait()
    write_move(estate, gone.to_json())
    with workspace_lock(Project(estate).cache_dir, "local", "apply"):
        result = unlock(estate)
    assert result.exit_code == 1, result.output
    message = " ".join(result.stderr.split())
    assert message.count("error:") == 1 and "environment local is locked by `platform apply`" in message, message
    assert f"pid {os.getpid()}" in message and "local.lock" in message
    assert result.stdout == ""
    assert the_move(estate)["running"] == gone.to_json(), "nothing released under another command's lock"


def test_a_gone_run_under_a_live_record_lock_is_refused_at_once(estate: Path, record_lock_holder: Any) -> None:
    proc = subprocess.Popen(["sleep", "600"])
    gone = holder_of(proc)
    proc.kill()
    proc.wait()
    write_move(estate, gone.to_json())
    holder = record_lock_holder(None)
    started = time.monotonic()
    result = unlock(estate, "--json")
    assert time.monotonic() - started < 20, "waited for the record's lock instead of refusing"
    assert result.exit_code == 1, result.output
    record, move = outcomes(result)
    assert record["status"] == "refused" and f"pid {holder.pid}" in record["detail"], record
    assert move["what"] == "the move of thumbnails" and move["status"] == "refused", move
    assert "the move record is locked" in move["detail"], move
    assert the_move(estate)["running"] == gone.to_json(), "nothing changed under another run's lock"
