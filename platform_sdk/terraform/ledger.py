"""The runner's bookkeeping of stack records: read them once, decide what to plan, write them after each outcome.

Records (terraform/records.py) are written by whoever ran Terraform, right after it ran, so the next command on
any machine sees it:
- an apply that succeeded -> `applied` with the configuration's fingerprint, a digest of the stack's outputs
  (`terraform output -json`), the non-sensitive output values (so "where things live" needs no Terraform for a
  stack that was not planned) and the digests of the upstream outputs it read;
- a plan that found nothing to change -> `applied` as well (the state matches this configuration);
- a plan with changes -> `changes-pending`; a failed plan or apply -> `failed`; a destroy -> `destroyed`;
  drift found by `platform drift` -> `drifted`.
A record that cannot be written is reported and changes nothing else: the next plan then plans that stack.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from platform_sdk.terraform import changes
from platform_sdk.terraform.records import (
    APPLIED,
    CHANGES_PENDING,
    DESTROYED,
    DRIFTED,
    FAILED,
    Applied,
    RecordStore,
    StackRecord,
    fingerprint,
    now,
    outputs_digest,
    read_all,
)


class Ledger:
    """Records of one environment's stacks, cached for one command (thread-safe: worker threads write)."""

    def __init__(self, store: RecordStore, fingerprints: Mapping[str, str],
                 dependencies: Mapping[str, Sequence[str]]) -> None:
        self.store = store
        self.fingerprints = dict(fingerprints)
        self.dependencies = {name: list(deps) for name, deps in dependencies.items()}
        self.records: dict[str, StackRecord | None] = {}
        self.warnings: list[str] = []
        self._lock = threading.Lock()

    @classmethod
    def for_outdir(cls, store: RecordStore, outdir: Any, stacks: Mapping[str, Mapping[str, Any]]) -> Ledger:
        """Fingerprints of every synthesized stack in `outdir` (stacks: platform.json's `stacks`)."""
        prints = {name: fingerprint(outdir / "stacks" / name, info.get("inputs")) for name, info in stacks.items()}
        return cls(store, prints, {name: list(info.get("dependencies", [])) for name, info in stacks.items()})

    def load(self) -> None:
        self.records = read_all(self.store, self.fingerprints)

    def decide(self, moving: Iterable[str] = (), plan_all: bool = False) -> dict[str, changes.Decision]:
        return changes.decide(list(self.fingerprints), self.dependencies, self.fingerprints, self.records, moving,
                              plan_all)

    # -- reading ------------------------------------------------------------------------------------------------
    def applied(self, name: str) -> Applied | None:
        with self._lock:
            record = self.records.get(name)
        return record.applied if record is not None else None

    def outputs_changed(self, producer: str, consumer: str) -> bool:
        """Did `producer`'s outputs change since `consumer` was last applied (so `consumer` must be planned)?"""
        theirs, mine = self.applied(producer), self.applied(consumer)
        if theirs is None or mine is None:
            return True
        return mine.upstream.get(producer, "<none>") != theirs.outputs

    def values(self, name: str) -> dict[str, Any]:
        """The non-sensitive output values recorded at the last apply."""
        applied = self.applied(name)
        return dict(applied.values) if applied is not None else {}

    # -- writing ------------------------------------------------------------------------------------------------
    def _write(self, record: StackRecord) -> None:
        with self._lock:
            self.records[record.stack] = record
        try:
            self.store.write(record.stack, record.dumps())
        except Exception as err:  # noqa: BLE001 - any failure of the backend: report, never lose the run
            with self._lock:
                self.warnings.append(f"could not write the record of {record.stack} to "
                                     f"{self.store.describe(record.stack)}: {type(err).__name__}: {err}")

    def _upstream(self, name: str) -> dict[str, str | None]:
        result: dict[str, str | None] = {}
        for producer in self.dependencies.get(name, []):
            applied = self.applied(producer)
            result[producer] = applied.outputs if applied is not None else None
        return result

    def settled(self, name: str, raw_outputs: Mapping[str, Any] | None,
                fetch_outputs: Callable[[], Mapping[str, Any] | None]) -> None:
        """The stack's state now matches its configuration (applied, or planned without changes)."""
        previous = self.applied(name)
        with self._lock:
            record = self.records.get(name)
        if raw_outputs is None and record is not None and record.status == APPLIED and previous is not None \
                and previous.fingerprint == self.fingerprints[name] and previous.upstream == self._upstream(name):
            return  # the record already says exactly this
        if raw_outputs is None and previous is not None and previous.outputs is not None:
            digest, values = previous.outputs, previous.values
        else:
            raw = raw_outputs if raw_outputs is not None else fetch_outputs()
            if raw is None:
                return self.failed(name, "its outputs could not be read")
            digest = outputs_digest(raw)
            values = {k: v.get("value") for k, v in raw.items() if isinstance(v, Mapping) and not v.get("sensitive")}
        applied = Applied(at=now(), fingerprint=self.fingerprints[name], outputs=digest,
                          upstream=self._upstream(name), values=values)
        self._write(StackRecord(name, APPLIED, applied=applied))

    def _with_status(self, name: str, status: str, detail: str | None = None) -> None:
        with self._lock:
            loaded, record = name in self.records, self.records.get(name)
        if not loaded:  # a command that did not read the records first (drift): keep the last apply stored
            record = read_all(self.store, [name])[name]
        self._write(record.with_status(status, detail) if record is not None
                    else StackRecord(name, status, detail=detail))

    def pending(self, name: str) -> None:
        self._with_status(name, CHANGES_PENDING)

    def failed(self, name: str, what: str) -> None:
        self._with_status(name, FAILED, what)

    def drifted(self, name: str) -> None:
        self._with_status(name, DRIFTED)

    def destroyed(self, name: str) -> None:
        self._write(StackRecord(name, DESTROYED))
