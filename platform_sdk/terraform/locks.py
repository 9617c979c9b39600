"""Locks: Terraform's state lock (parsed from its error text) and our own per-environment workspace lock.

A state lock outlives a run that was killed (SIGKILL, a lost CI runner): every report of one names the exact
command that releases it, `platform unlock --env E STACK`, which first proves that no run is alive — on this
machine: no `platform` command holds the environment's workspace lock and no Terraform process works in that
stack; a lock taken on another machine (its holder's recorded host) is released only there.

Terraform's state lock protects the state between machines. It does not protect this project's working
files: `plan`/`apply` re-synthesize `cdktf.out/<env>`, which would pull the stack directories out from under a
Terraform process another `platform` command is running there. So every command that synthesizes and runs
Terraform for an environment also holds an exclusive `flock` on `.platform/locks/<env>.lock`; the kernel drops
it when the process dies, so it can never go stale.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import json
import os
import re
import socket
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from platform_sdk.errors import PlatformError

LOCK_ERROR_MARKER = "Error acquiring the state lock"
_FIELD_RE = re.compile(r"^\s*(ID|Path|Operation|Who|Version|Created|Info):[ \t]*(.*?)\s*$", re.MULTILINE)


@dataclass
class StateLock:
    """Who holds a Terraform state lock, as Terraform printed it ("Lock Info")."""

    id: str = ""
    who: str = ""
    operation: str = ""
    created: str = ""
    path: str = ""
    version: str = ""
    info: str = ""

    @property
    def host(self) -> str:
        """The machine the holder ran on (Terraform records `user@host`)."""
        return self.who.rpartition("@")[2]

    @property
    def operation_name(self) -> str:
        """`apply`, `plan`, ... (Terraform records `OperationTypeApply`), or `unknown operation`."""
        return self.operation.removeprefix("OperationType").lower() or "unknown operation"

    def describe(self, stack: str, env: str | None = None, local: bool = False) -> str:
        """One line naming the holder (what a person needs to go and ask them) and, given the environment, the
        command that releases a lock whose run is gone. `local`: the state is in the local backend, whose lock is
        an OS lock (fcntl) on the state file that the kernel drops when its holder exits: that holder is alive on
        this machine, and no command releases its lock."""
        who = self.who or "an unknown holder"
        since = f" since {self.created}" if self.created else ""
        text = f"stack {stack} is locked by {who}{since} ({self.operation_name}, lock id {self.id or '?'})"
        if local:
            text += (f": its state file {self.path or '?'} is locked by a process that is still running on this "
                     "machine; wait for it to finish or stop it (its lock goes with it)")
        elif env:
            text += (f"; if that run is gone (killed), release the lock with `platform unlock --env {env} {stack}`"
                     + (f" on {self.host}" if self.host and self.host != socket.gethostname() else ""))
        return text

    def to_json(self) -> dict[str, str]:
        return asdict(self)


def parse_state_lock(text: str) -> StateLock | None:
    """The lock holder from Terraform's "Error acquiring the state lock" output, or None if it is not that."""
    if LOCK_ERROR_MARKER not in text:
        return None
    block = text.split(LOCK_ERROR_MARKER, 1)[1]
    if "Lock Info:" in block:
        block = block.split("Lock Info:", 1)[1]
    fields = {key.lower(): value for key, value in _FIELD_RE.findall(block)}
    return StateLock(**{k: fields.get(k, "") for k in ("id", "who", "operation", "created", "path", "version",
                                                        "info")})


def _backend_of(stack_dir: Path) -> object:
    """The stack's backend block (a local state path resolved), None when unreadable."""
    try:
        backend = json.loads((stack_dir / "cdk.tf.json").read_text()).get("terraform", {}).get("backend")
    except (OSError, ValueError):
        return None
    if isinstance(backend, dict) and isinstance(backend.get("local"), dict) and "path" in backend["local"]:
        backend = {"local": {**backend["local"], "path": str((stack_dir / backend["local"]["path"]).resolve())}}
    return backend


def local_backend(stack_dir: Path) -> bool:
    """Whether the stack in `stack_dir` keeps its state in the local backend (a file locked with fcntl)."""
    backend = _backend_of(stack_dir)
    return isinstance(backend, dict) and "local" in backend


def terraform_processes(stack_dir: Path) -> list[tuple[int, str]]:
    """(pid, working directory) of every Terraform process on this machine working on the same state as the stack
    in `stack_dir` (a stack of the same name whose backend block is the same, or whose folder is gone). A killed
    `platform` leaves its Terraform running on its own: until it exits, its lock is not stale."""
    import psutil

    ours = _backend_of(stack_dir)
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            cmdline = proc.info["cmdline"] or []
            if not cmdline or Path(cmdline[0]).name not in ("terraform", "tofu"):
                continue
            cwd = Path(proc.cwd().removesuffix(" (deleted)"))
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if cwd.parent.name != "stacks" or cwd.name != stack_dir.name:
            continue
        theirs = _backend_of(cwd)
        if theirs is None or theirs == ours:  # unreadable: it may be ours (a killed run's folder was replaced)
            found.append((proc.pid, str(cwd)))
    return found


# ---------------------------------------------------------------------------------------------- workspace lock

class WorkspaceLocked(PlatformError):
    """Another `platform` command is working on this environment in this project: a refusal, not bad input (the CLI
    exits 1, as when a stack's state is locked)."""

    exit_code = 1


def lock_path(cache_dir: Path, env: str) -> Path:
    return cache_dir / "locks" / f"{env}.lock"


def _holder_info(command: str) -> dict[str, object]:
    return {"pid": os.getpid(), "who": f"{getpass.getuser()}@{socket.gethostname()}", "command": command,
            "since": datetime.now(UTC).isoformat(timespec="seconds"), "argv": sys.argv}


@contextlib.contextmanager
def workspace_lock(cache_dir: Path, env: str, command: str) -> Iterator[None]:
    """Hold the environment's workspace lock for the duration, or refuse naming who holds it.

    The lock file exists only while held: it is removed before the lock is released, and a process that locked a
    file another one had just removed (its path now names a new file, or none) retries on the path's file.
    """
    path = lock_path(cache_dir, env)
    made_cache_dir = not cache_dir.exists()  # removed again when empty: a refused command leaves no `.platform/`
    while True:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:  # another command's release removed the empty folder meanwhile: make it again
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise _locked_error(path, env) from None
        try:
            current = os.stat(path).st_ino
        except FileNotFoundError:
            current = None
        if current == os.fstat(fd).st_ino:
            break
        os.close(fd)  # locked a removed file: its holder has finished; lock the path's file instead
    try:
        os.pwrite(fd, json.dumps(_holder_info(command)).encode(), 0)
        yield
    finally:
        path.unlink(missing_ok=True)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        with contextlib.suppress(OSError):  # the folder, once empty, goes too: a refused command leaves nothing
            path.parent.rmdir()  # behind; not empty (another environment's lock is held): it stays
            if made_cache_dir:
                cache_dir.rmdir()  # only when nothing was written there meanwhile


def _locked_error(path: Path, env: str) -> WorkspaceLocked:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    holder = f"`platform {info.get('command', '?')}` (pid {info.get('pid', '?')}, {info.get('who', '?')})"
    return WorkspaceLocked(
        f"environment {env} is locked by {holder} since {info.get('since', '?')}",
        file=path,
        hint="wait for it to finish; the lock is released automatically when that process exits",
    )
