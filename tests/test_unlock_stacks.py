"""`platform unlock --env E STACK ...` on stacks whose state is in the local backend, through the real CLI and the
real Terraform: a stack named twice is checked once; a service's name instead of a stack's gets the service's stacks
as the hint; a local state file locked by a live process that is not Terraform is refused naming its holder, and
`terraform force-unlock` is never run for it (Terraform's local lock is an OS lock, fcntl F_SETLK, on the state file:
a lock it reports there is held by a live process of this machine).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.terraform_fixtures import Cli, cli_fixture, make_project, tf_binary_fixture, tree  # noqa: F401 - fixtures

STACK = "local-auth-aws"
LOCK_ID = "11111111-2222-3333-4444-555555555555"
# Holds the state file's lock as Terraform 1.0.3 does for the local backend (statemgr/filesystem_lock_unix.go:
# fcntl F_SETLK, F_WRLCK over the whole file) and writes the lock info file next to it, `.<state file>.lock.info`.
HOLDER = """
import fcntl, json, os, sys, time
state = sys.argv[1]
fd = os.open(state, os.O_RDWR | os.O_CREAT, 0o666)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
folder, name = os.path.split(state)
with open(os.path.join(folder, f".{name}.lock.info"), "w") as out:
    json.dump({"ID": sys.argv[2], "Operation": "OperationTypeApply", "Info": "", "Who": "root@vm", "Version": "1.0.3",
               "Created": "2026-11-30T22:00:00Z", "Path": state}, out)
print("held", flush=True)
time.sleep(600)
"""


@pytest.fixture
def auth(tmp_path: Path) -> Path:
    return make_project(tmp_path / "estate", services=["auth", "web"])


def test_a_stack_named_twice_is_checked_once(cli: Cli, auth: Path) -> None:
    result = cli(auth, "unlock", "--env", "local", STACK, STACK, "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    (outcome,) = json.loads(result.stdout)["locks"]
    assert outcome["what"] == f"stack {STACK}" and outcome["status"] == "not locked", outcome


def _state(project: Path) -> dict[str, bytes]:
    """`.platform` without the function-package cache, which synthesis may refresh (the session's shared package
    store can hold a package another test built from edited sources: tests/shared_caches.py), as `platform synth`
    would: a refusal leaves the cache, and writes nothing else."""
    return {path: data for path, data in tree(project / ".platform").items() if not path.startswith("packages/")}


def test_a_service_name_is_answered_with_its_stacks(cli: Cli, auth: Path) -> None:
    before = _state(auth)
    result = cli(auth, "unlock", "--env", "local", "auth")
    assert result.exit_code == 2, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert message.count("error:") == 1 and "no stack auth in environment local" in message, message
    assert f"(did you mean {STACK!r}?)" in message, message
    other = cli(auth, "unlock", "--env", "local", "nosuch")
    assert other.exit_code == 2 and "did you mean" not in other.stderr, other.stderr
    assert not (auth / "cdktf.out").exists() and before == _state(auth), "a refusal writes nothing"


@pytest.fixture
def held_state(auth: Path) -> Iterator[Path]:
    """The stack's local state file, locked by a live process that is not Terraform."""
    state = auth / ".platform" / "state" / "local" / f"{STACK}.tfstate"
    state.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(state), LOCK_ID], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "held\n"
    yield state
    proc.kill()
    proc.wait()


def test_a_local_state_lock_of_a_live_process_is_refused_and_never_force_unlocked(tf_binary: Path, auth: Path,
                                                                                  held_state: Path,
                                                                                  tmp_path: Path) -> None:
    calls = tmp_path / "terraform-calls"
    wrapper = tmp_path / "bin" / "terraform"  # the real Terraform, each command it runs written down
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexec {tf_binary} "$@"\n')
    wrapper.chmod(0o755)
    cli = Cli(wrapper)

    code, plan = cli.json(auth, "plan", "--env", "local")
    assert code == 1
    stack = next(s for s in plan["stacks"] if s["name"] == STACK)
    assert stack["status"] == "locked", stack
    assert "root@vm" in stack["error"] and "still running on this machine" in stack["error"], stack["error"]
    assert "platform unlock" not in stack["error"], "a killed holder releases a local lock itself"

    result = cli(auth, "unlock", "--env", "local", STACK)
    assert result.exit_code == 1, result.stdout + result.stderr
    text = " ".join(result.stdout.split())
    assert (f"refused stack {STACK}: its state file {held_state} is locked by a process that is still running on "
            "this machine (root@vm, apply since 2026-11-30 22:00:00 +0000 UTC): wait for it to finish or stop it"
            in text), text
    assert "force-unlock" not in calls.read_text(), calls.read_text()
    assert (held_state.parent / f".{held_state.name}.lock.info").exists()
