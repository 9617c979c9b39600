"""What was last applied to each stack, recorded next to its Terraform state, so every machine and CI job agrees.

Why: planning a stack costs Terraform about 1.5 s of CPU (init, plan, show), so planning every stack of a large
estate after a one-line edit takes minutes. A stack whose synthesized configuration, declared inputs (files
Terraform reads, secret versions) and upstream outputs are all unchanged since its last successful apply needs
no plan. The record of that apply must live where the state lives, not on one laptop: a small JSON object per
stack, next to the state file (local backend), the state key (S3) or the state prefix (GCS), read and written by
the plug-in owning the backend (`CloudPlugin.state_records`).

A record (`StackRecord`):

    {"format": 1, "stack": "prod-web-gcp", "status": "applied", "updated": "2026-11-30T09:12:03Z",
     "by": "ci@runner-7", "applied": {"at": "...", "fingerprint": "<sha256>", "outputs": "<sha256>",
                                      "upstream": {"prod-auth-aws": "<sha256 of its outputs>"},
                                      "values": {"function_api_url": "https://..."}}}

`status` is `applied` (state matches `applied.fingerprint`), `changes-pending` (a plan with changes was saved but
not applied), `failed` (the last plan or apply failed), `drifted` (`platform drift` found changes made outside
Terraform) or `destroyed`; only `applied` lets a stack be skipped (terraform/changes.py decides). A record that
cannot be read (backend unreachable, not bootstrapped, another format) reads as `unreadable`: planned.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

FORMAT = 1
APPLIED, CHANGES_PENDING, FAILED, DRIFTED, DESTROYED = "applied", "changes-pending", "failed", "drifted", "destroyed"
UNREADABLE = "unreadable"
"""Not a stored status: the record could not be read or parsed (the stack is planned, never skipped)."""
SUFFIX = ".platform.json"
"""Record file or object names end in this, next to `<stack>.tfstate` (never mistaken for a state file)."""


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def who() -> str:
    """`user@host`, for people reading a record ("who applied this, when")."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no passwd entry in some containers
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


@dataclass
class Applied:
    """The last successful apply (or a plan that found nothing to change): what the stack's state matches."""

    at: str
    fingerprint: str
    outputs: str | None = None
    upstream: dict[str, str | None] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    """The non-sensitive output values (URLs and names), so reports need no Terraform for a skipped stack."""

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at, "fingerprint": self.fingerprint, "outputs": self.outputs,
                "upstream": dict(sorted(self.upstream.items())), "values": dict(sorted(self.values.items()))}


@dataclass
class StackRecord:
    """One stack's record (see the module docstring)."""

    stack: str
    status: str
    updated: str = field(default_factory=now)
    by: str = field(default_factory=who)
    applied: Applied | None = None
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"format": FORMAT, "stack": self.stack, "status": self.status, "updated": self.updated,
                                "by": self.by, "applied": self.applied.to_json() if self.applied else None}
        if self.detail:
            data["detail"] = self.detail
        return data

    def dumps(self) -> bytes:
        return (json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def loads(cls, data: bytes, stack: str) -> StackRecord:
        """Parse a stored record; anything unreadable or of another format reads as `unreadable` (never skipped)."""
        try:
            doc = json.loads(data)
            if doc.get("format") != FORMAT:
                raise ValueError(f"record format {doc.get('format')!r}")
            applied = doc.get("applied")
            return cls(stack=stack, status=str(doc["status"]), updated=str(doc.get("updated", "")),
                       by=str(doc.get("by", "")), detail=doc.get("detail"),
                       applied=Applied(at=applied["at"], fingerprint=applied["fingerprint"],
                                       outputs=applied.get("outputs"), upstream=dict(applied.get("upstream", {})),
                                       values=dict(applied.get("values", {})))
                       if applied else None)
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            return cls(stack=stack, status=UNREADABLE, detail=f"{type(err).__name__}: {err}")

    def with_status(self, status: str, detail: str | None = None) -> StackRecord:
        """The same last apply, with a new status (a plan with changes, a failure, drift)."""
        return StackRecord(self.stack, status, applied=self.applied, detail=detail)


class RecordStore(Protocol):
    """Where an environment's records live: next to each stack's state in its backend."""

    def read(self, stack: str) -> bytes | None:
        """The stored record, or None when there is none."""

    def write(self, stack: str, data: bytes) -> None:
        """Store (replace) the record."""

    def describe(self, stack: str) -> str:
        """Where the record of `stack` is, for messages (`s3://bucket/key`, a path)."""


class LocalRecords:
    """Records as files next to local state files: `<state dir>/<stack>.platform.json`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, stack: str) -> Path:
        return self.directory / f"{stack}{SUFFIX}"

    def read(self, stack: str) -> bytes | None:
        try:
            return self.path(stack).read_bytes()
        except FileNotFoundError:
            return None

    def write(self, stack: str, data: bytes) -> None:
        path = self.path(stack)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)

    def describe(self, stack: str) -> str:
        return str(self.path(stack))


class MemoryRecords:
    """Records kept in memory: for unit tests of the decisions."""

    def __init__(self, initial: Mapping[str, bytes] | None = None) -> None:
        self.data = dict(initial or {})

    def read(self, stack: str) -> bytes | None:
        return self.data.get(stack)

    def write(self, stack: str, data: bytes) -> None:
        self.data[stack] = data

    def describe(self, stack: str) -> str:
        return f"memory:{stack}"


def record_store(project_root: Path, env: Any) -> RecordStore:
    """Where `env` keeps its records: next to its local state files, or in the backend of the plug-in owning
    `[state] backend` (`CloudPlugin.state_records`)."""
    from platform_sdk import providers
    from platform_sdk.envs import LocalState

    state = env.state
    if isinstance(state, LocalState):
        return LocalRecords(project_root / state.path / env.name)
    owner = next(p for p in providers.plugins().values() if state.backend in p.state_backends)
    return owner.state_records(env, state)  # type: ignore[no-any-return]


def read_all(store: RecordStore, stacks: Iterable[str], workers: int = 8) -> dict[str, StackRecord | None]:
    """Every stack's record, read in parallel (a remote backend answers each in tens of milliseconds)."""
    names = list(stacks)

    def one(name: str) -> StackRecord | None:
        try:
            data = store.read(name)
        except Exception as err:  # noqa: BLE001 - a backend that cannot be reached: plan, let Terraform say why
            return StackRecord(name, UNREADABLE, detail=f"{type(err).__name__}: {err}")
        return None if data is None else StackRecord.loads(data, name)

    if len(names) <= 1:
        return {n: one(n) for n in names}
    with ThreadPoolExecutor(max_workers=min(workers, len(names)), thread_name_prefix="records") as pool:
        return dict(zip(names, pool.map(one, names), strict=True))


# -- fingerprints ------------------------------------------------------------------------------------------------
def fingerprint(stack_dir: Path, inputs: Mapping[str, str] | None = None) -> str:
    """sha256 of what decides a stack's plan besides its state and its upstream outputs.

    The synthesized configuration (`cdk.tf.json`: every resource and argument, the backend, the provider version
    constraints, function packages by content hash, module sources) plus the stack's declared inputs, name ->
    digest (files Terraform reads while planning, secret versions; `StackInfo.inputs` in platform.json).
    """
    digest = hashlib.sha256()
    digest.update((stack_dir / "cdk.tf.json").read_bytes())
    for name, value in sorted((inputs or {}).items()):
        digest.update(f"\0{name}\0{value}".encode())
    return digest.hexdigest()


def outputs_digest(outputs: Mapping[str, Any]) -> str:
    """sha256 of a stack's output values (`terraform output -json`: name -> {"value": ...}, or name -> value)."""
    values = {name: (item["value"] if isinstance(item, Mapping) and "value" in item else item)
              for name, item in outputs.items()}
    return hashlib.sha256(json.dumps(values, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
