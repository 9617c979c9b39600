"""Which stacks a plan must run Terraform for, decided from the records without running anything (pure).

A stack is planned when:
- `--all` was asked for;
- it has no record, or its record is not `applied` (a saved plan with changes was never applied, the last run
  failed, drift was found, it was destroyed) or cannot be read;
- it takes part in an unfinished move;
- its fingerprint (synthesized configuration + declared inputs) differs from the one last applied;
- an upstream stack's outputs differ from the ones it read when it was last applied (or it reads a new one).

Every other stack is a candidate for skipping: `unchanged since <time> (not refreshed)`. Whether it stays skipped
is decided when its producers have run (terraform/runner.py): a producer with pending changes to an output it
reads makes it wait ("planned after <producer> is applied (its output X changes)"), a producer applied with
different outputs makes it planned, and a producer whose pending changes leave what it reads as it is keeps it
unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from platform_sdk.terraform.records import APPLIED, StackRecord

OWN_CHANGE = "its configuration changed"
"""Why a stack is planned whose own synthesized configuration (or declared inputs) changed since its last apply."""


@dataclass(frozen=True)
class Decision:
    """`plan` True: run Terraform, because of `reason`. False: unchanged since `since` (unless upstream changes)."""

    plan: bool
    reason: str
    since: str | None = None


def decide(stacks: Sequence[str], dependencies: Mapping[str, Sequence[str]], fingerprints: Mapping[str, str],
           records: Mapping[str, StackRecord | None], moving: Iterable[str] = (), plan_all: bool = False,
           ) -> dict[str, Decision]:
    """One decision per stack in `stacks` (see the module docstring)."""
    moving = set(moving)
    decisions: dict[str, Decision] = {}
    for name in stacks:
        record = records.get(name)
        decisions[name] = _decide(name, dependencies.get(name, ()), fingerprints[name], record, records, moving,
                                  plan_all)
    return decisions


def _decide(name: str, producers: Sequence[str], fingerprint: str, record: StackRecord | None,
            records: Mapping[str, StackRecord | None], moving: set[str], plan_all: bool) -> Decision:
    if plan_all:
        return Decision(True, "--all")
    if record is None:
        return Decision(True, "no record of an apply")
    if record.status != APPLIED or record.applied is None:
        why = {"changes-pending": "a plan with changes was not applied", "failed": "the last run failed",
               "drifted": "drift was found", "destroyed": "it was destroyed",
               "unreadable": "its record could not be read"}.get(record.status, record.status)
        return Decision(True, why + (f" ({record.detail})" if record.detail else ""))
    if name in moving:
        return Decision(True, "an unfinished move")
    if record.applied.fingerprint != fingerprint:
        return Decision(True, OWN_CHANGE)
    for producer in producers:
        if producer not in record.applied.upstream:
            return Decision(True, f"it reads {producer} now")
        current = records.get(producer)
        outputs = current.applied.outputs if current is not None and current.applied is not None else None
        if outputs is None or outputs != record.applied.upstream[producer]:
            return Decision(True, f"the outputs of {producer} changed")
    return Decision(False, f"unchanged since {record.applied.at} (not refreshed)", since=record.applied.at)


def moving_stacks(moves: Iterable[Mapping[str, object]], services: Mapping[str, str]) -> set[str]:
    """Stacks of every service with an unfinished move (`services`: stack -> service)."""
    moved = {str(m.get("selector", "")).split(".", 1)[0] for m in moves if m.get("phase") != "done"}
    return {stack for stack, service in services.items() if service in moved}
