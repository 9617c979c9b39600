"""Small JSON documents kept next to an environment's Terraform state, changed under a lock.

Why: a record only one laptop holds (`.platform/...`) is invisible to a colleague or a CI job working on the same
environment. What every machine must agree on — today the move record — lives where the Terraform state lives,
read and written by the code that owns that backend:

- local: `<path>/<env>/_platform/<name>.json`, locked with `flock` on `<name>.json.lock` (the kernel releases it
  when its holder dies, so it is never stale);
- s3: `s3://<bucket>/<key_prefix>/<env>/_platform/<name>.json`, locked with an item `LockID = <bucket>/<key>` in
  the state's DynamoDB lock table, put only if absent;
- gcs: `gs://<bucket>/<prefix>/<env>/_platform/<name>.json`, locked with an object `<name>.json.lock` created only
  if absent (generation 0).

(`_platform/` never clashes with a stack: stack names start with the environment's name.) The S3 and GCS
documents belong to their plug-ins (`CloudPlugin.state_document`, next to the backend code in
`providers/<cloud>/state.py`); the local one is here.

A lock records its holder (`Holder`: host, user, pid and the process's start time, command, since). A lock
whose holder ran on this machine and is provably gone (no process with that pid and start time) is taken over;
one held on another machine is reported with its holder and the command that releases it there.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import json
import os
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from platform_sdk.errors import PlatformError

DIRECTORY = "_platform"
LOCK_WAIT_SECONDS = 30.0
"""How long `locked` waits for a live holder (another command's read-modify-write takes well under a second)."""


def process_start_time(pid: int) -> float | None:
    """When process `pid` started (seconds since the epoch), None when no such process exists."""
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def hostname() -> str:
    return socket.gethostname()


@dataclass
class Holder:
    """Who holds a lock (or runs a move): enough to prove, on its machine, whether it is still alive."""

    host: str
    pid: int
    started: float | None
    """The process's start time (psutil `create_time`): a reused pid is a different process."""
    command: str
    user: str = ""
    since: str = ""
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @classmethod
    def current(cls, command: str) -> Holder:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # pragma: no cover - containers without a passwd entry
            user = "unknown"
        return cls(host=hostname(), pid=os.getpid(), started=process_start_time(os.getpid()), command=command,
                   user=user, since=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))

    def alive(self) -> bool | None:
        """True/False on the holder's own machine; None elsewhere (nothing can be proven from here)."""
        if self.host != hostname():
            return None
        started = process_start_time(self.pid)
        if started is None:
            return False
        return self.started is None or abs(started - self.started) < 1.0

    def describe(self) -> str:
        return f"`{self.command}` (pid {self.pid} on {self.host}, {self.user or '?'}, since {self.since or '?'})"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> Holder | None:
        if not isinstance(data, dict):
            return None
        try:
            return cls(host=str(data["host"]), pid=int(data["pid"]), started=data.get("started"),
                       command=str(data.get("command", "?")), user=str(data.get("user", "")),
                       since=str(data.get("since", "")), id=str(data.get("id", "")))
        except (KeyError, TypeError, ValueError):
            return None


class Document(Protocol):
    """One JSON document next to the state, with its own lock (what each backend implements)."""

    def describe(self) -> str:
        """Where it is, for messages (a path, `s3://...`, `gs://...`)."""
        ...

    def read(self) -> bytes | None:
        """Its bytes, None when it does not exist yet."""
        ...

    def write(self, data: bytes) -> None:
        """Replace it (in one step: readers see the old or the new bytes, never a mix)."""
        ...

    def acquire(self, holder: dict[str, Any]) -> dict[str, Any] | None:
        """Take the lock for `holder` (`Holder.to_json()`): None when taken, else the current holder's JSON (or {}
        when unreadable). Never waits."""
        ...

    def release(self, holder: dict[str, Any]) -> None:
        """Give the lock back (only if `holder` still holds it)."""
        ...

    def force_release(self, holder: dict[str, Any]) -> None:
        """Remove a lock held by `holder` (a holder proven gone), only if it still holds it."""
        ...


class DocumentLocked(PlatformError):
    """Another run holds a document's lock and could not be proven gone."""


class LocalDocument:
    """A file next to the local state files, locked with `flock` (released by the kernel when its holder dies)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")
        self._fd: int | None = None

    def describe(self) -> str:
        return str(self.path)

    def read(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None

    def write(self, data: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, self.path)

    def acquire(self, holder: dict[str, Any]) -> dict[str, Any] | None:
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            try:
                current = json.loads(self.lock_path.read_text() or "{}")
            except (OSError, ValueError):
                current = {}
            return current if isinstance(current, dict) else {}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        self._fd = fd
        return None

    def release(self, holder: dict[str, Any]) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def force_release(self, holder: dict[str, Any]) -> None:
        """Nothing to do: a dead holder's flock is already gone."""


def document(project_root: Path, env: Any, name: str) -> Document:
    """The document `name` of environment `env`, in the environment's state backend.

    Raises:
        PlatformError: the backend's plug-in keeps no documents.
    """
    from platform_sdk import providers
    from platform_sdk.envs import LocalState

    state = env.state
    if isinstance(state, LocalState):
        return LocalDocument(project_root / state.path / env.name / DIRECTORY / f"{name}.json")
    owner = next(p for p in providers.plugins().values() if state.backend in p.state_backends)
    return owner.state_document(env, state, name)  # type: ignore[no-any-return]


@contextlib.contextmanager
def locked(doc: Document, command: str, unlock_command: str, wait: float = LOCK_WAIT_SECONDS) -> Iterator[Holder]:
    """Hold `doc`'s lock for the duration (a read-modify-write); yields our Holder.

    A holder on this machine that is gone is taken over at once; a live one is waited for up to `wait` seconds.

    Raises:
        DocumentLocked: still held after `wait` seconds, naming the holder and `unlock_command` (which proves the
            holder gone on its machine before releasing the lock).
    """
    me = Holder.current(command)
    deadline = time.monotonic() + wait
    while True:
        found = doc.acquire(me.to_json())
        if found is None:
            break
        current = Holder.from_json(found) or Holder(host="?", pid=0, started=None, command="unknown")
        if current.alive() is False and found:
            print(f"note: taking over the lock of {doc.describe()} from {current.describe()}, which is gone",
                  file=sys.stderr)
            doc.force_release(found)
            continue
        if time.monotonic() >= deadline:
            where = "this machine" if current.host == hostname() else current.host
            raise DocumentLocked(f"{doc.describe()} is locked by {current.describe()}",
                                 hint=f"wait for it to finish; if that run is gone, release the lock on {where} with "
                                      f"`{unlock_command}`")
        time.sleep(0.2)
    try:
        yield me
    finally:
        doc.release(me.to_json())


def read_json(doc: Document, default: Any) -> Any:
    """The document's JSON, or `default` when it does not exist.

    Raises:
        PlatformError: it exists but is not JSON (named, never overwritten).
    """
    data = doc.read()
    if data is None:
        return default
    try:
        return json.loads(data)
    except ValueError as err:
        raise PlatformError(f"{doc.describe()} is not valid JSON ({err}); it was left as it is") from None


def write_json(doc: Document, value: Any) -> None:
    doc.write((json.dumps(value, indent=2, sort_keys=True) + "\n").encode())
