"""Dependency waves, decided without running anything: which stacks may start now, which wait, which are skipped.

Pure functions over stack names and statuses (no Terraform, no threads), so the rules are unit-tested alone:
- a stack runs once every stack it depends on is settled (applied, planned with no changes, or unchanged);
- a stack whose dependency failed, was skipped, locked or interrupted is skipped;
- a stack whose dependency has pending changes (or waits itself) waits: it is reported as "planned after
  <producer> is applied" instead of being planned against values that do not exist yet; except a dependency
  whose pending changes leave every output the stack reads as it is (it exists and its plan says so, decided by
  the caller: terraform/reads.py), which counts as settled for that stack;
- otherwise it is undecided until its dependencies are.
For a destroy the order reverses: consumers are destroyed before the producers they read from.

The stack statuses are Terraform's plan vocabulary plus the scheduler's own; `report` re-exports them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

PENDING, RUNNING = "pending", "running"
NO_CHANGES, CHANGES, WAITING = "no-changes", "changes", "waiting"
APPLIED, FAILED, SKIPPED, LOCKED, INTERRUPTED = "applied", "failed", "skipped", "locked", "interrupted"
UNCHANGED = "unchanged"
"""Not planned: nothing it depends on changed since its last apply (terraform/changes.py)."""
SETTLED = frozenset({NO_CHANGES, APPLIED, UNCHANGED})
"""Statuses that let dependent stacks run."""
BROKEN = frozenset({FAILED, SKIPPED, LOCKED, INTERRUPTED})
"""Statuses after which dependent stacks are skipped."""
READY = "ready"
"""A verdict, not a status: the stack may start now."""


def order(dependencies: Mapping[str, Sequence[str]], destroy: bool) -> dict[str, list[str]]:
    """Stack -> the stacks that must be settled first: its producers, or for a destroy its consumers.

    Dependencies on stacks outside `dependencies` are dropped (they are not part of this run).
    """
    if not destroy:
        return {name: [d for d in deps if d in dependencies] for name, deps in dependencies.items()}
    consumers: dict[str, list[str]] = {name: [] for name in dependencies}
    for name, deps in dependencies.items():
        for dep in deps:
            if dep in consumers:
                consumers[dep].append(name)
    return consumers


@dataclass(frozen=True)
class Verdict:
    """What to do with one stack now: READY, WAITING (on `on`) or SKIPPED (because `on` did not finish)."""

    status: str
    on: tuple[str, ...] = ()


def readiness(deps: Sequence[str], statuses: Mapping[str, str], unaffected: Collection[str] = ()) -> Verdict | None:
    """The verdict for a stack with these dependencies, or None while a dependency is still undecided.

    `unaffected`: dependencies with pending changes (CHANGES) that change nothing the stack reads: settled for it.
    """
    waiting: list[str] = []
    broken: list[str] = []
    undecided = False
    for dep in deps:
        status = statuses[dep]
        if status in SETTLED or status == CHANGES and dep in unaffected:
            continue
        if status in BROKEN:
            broken.append(dep)
        elif status in (CHANGES, WAITING):
            waiting.append(dep)
        else:
            undecided = True
    if broken:
        return Verdict(SKIPPED, tuple(broken))
    if undecided:
        return None
    if waiting:
        return Verdict(WAITING, tuple(waiting))
    return Verdict(READY)


def decide(pending: Sequence[str], deps: Mapping[str, Sequence[str]] | None, statuses: Mapping[str, str],
           slots: int, unaffected: Callable[[str], Collection[str]] | None = None) -> list[tuple[str, Verdict]]:
    """Verdicts for the pending stacks that can be decided now, in the order they were decided.

    At most `slots` stacks are started (READY); deciding stops once they are used up. A stack marked waiting
    or skipped can decide the stacks that depend on it, so passes repeat until nothing changes. `deps` None
    means no ordering (every pending stack is ready). Stacks without a verdict stay pending. `unaffected(stack)`:
    its dependencies whose pending changes change nothing it reads (see `readiness`).
    """
    known = dict(statuses)
    left = list(pending)
    decided: list[tuple[str, Verdict]] = []
    started = 0
    changed = True
    while changed:
        changed = False
        for name in list(left):
            if started >= slots:
                return decided
            verdict = Verdict(READY) if deps is None else \
                readiness(deps[name], known, unaffected(name) if unaffected is not None else ())
            if verdict is None:
                continue
            left.remove(name)
            changed = True
            decided.append((name, verdict))
            if verdict.status == READY:
                started += 1
                known[name] = RUNNING
            else:
                known[name] = verdict.status
    return decided
