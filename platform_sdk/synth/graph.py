"""The stack dependency graph: which stacks read from which, the order plans and applies follow.

Two views: the model's (`dependencies_of`: grants, triggers and CDN origins, known before anything is built)
and CDKTF's (`dependencies_from_manifest`: the cross-stack references it actually wired, federation trusts
included), which is what synthesis records for the runner.

Cycles: two services whose functions are granted each other's buckets would need each stack applied before the
other (and CDKTF cannot reference both ways). Where the consumer's cloud can name the bucket by values known
before apply (its name from the naming convention, an ARN derived from it: the compiler's `known_kinds`), one
grant of the cycle is wired with those values instead of a reference (`known_grants`), and the cycle is gone;
otherwise synthesis refuses it, naming every grant of the cycle. Grants across clouds are left out: federation
wires them (the bucket's stack may reference the function's identity instead), so the model cannot tell their
direction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from platform_sdk.errors import PlatformError
from platform_sdk.model import Cdn, Function, Grant, ObjectCreatedTrigger, QueueMessageTrigger, Resource
from platform_sdk.model.function import last_made

if TYPE_CHECKING:
    from platform_sdk.providers.base import Compiler
    from platform_sdk.synth.estate import StackInfo
    from platform_sdk.synth.placement import Placement


@dataclass(frozen=True)
class Link:
    """One reason a stack reads from another: a grant, an object-created trigger or a CDN origin, as written."""

    consumer: str  # stack
    producer: str  # stack
    label: str  # `invoices.api reads(orders.files)`
    file: str | None
    line: int | None
    grant: Grant | None = None
    federated: bool = False  # a grant across clouds: wired by federation, whose references may run the other way

    def __str__(self) -> str:
        where = f" ({self.file}:{self.line})" if self.file else ""
        return f"{self.label}{where}"


def links_of(placements: Mapping[Resource, Placement]) -> list[Link]:
    """Every link from one stack to another, in declaration order."""
    found: list[tuple[Resource, Resource, str, str | None, int | None, Grant | None]] = []
    for resource in placements:
        if isinstance(resource, Function):
            for grant in resource.grants:
                file, line = grant.location
                found.append((resource, grant.target, grant.label, file, line, grant))
            for trigger in resource.trigger_of(ObjectCreatedTrigger):
                found.append((resource, trigger.bucket, f"{resource.address} object_created({trigger.bucket.address})",
                              resource.declared_in, resource.declared_line, None))
            for queued in resource.trigger_of(QueueMessageTrigger):
                found.append((resource, queued.queue, f"{resource.address} queue_message({queued.queue.address})",
                              resource.declared_in, resource.declared_line, None))
        elif isinstance(resource, Cdn):
            for origin in resource.origins:
                found.append((resource, origin, f"{resource.address} origin={origin.address}",
                              resource.declared_in, resource.declared_line, None))
    return [Link(placements[consumer].stack_name, placements[producer].stack_name, label, file, line, grant,
                 federated=placements[consumer].target != placements[producer].target)
            for consumer, producer, label, file, line, grant in found
            if placements[consumer].stack_name != placements[producer].stack_name]


def dependencies_of(placements: Mapping[Resource, Placement], known: Collection[Grant] = ()) -> dict[str, list[str]]:
    """Stack -> the stacks it reads from (grants, triggers, CDN origins): the order plans and applies follow.

    Grants in `known` are wired with values known before apply (`known_grants`) and make no dependency.
    """
    deps: dict[str, set[str]] = {p.stack_name: set() for p in placements.values()}
    for link in links_of(placements):
        if link.grant is None or link.grant not in known:
            deps[link.consumer].add(link.producer)
    return {name: sorted(d) for name, d in sorted(deps.items())}


def _cycle(links: list[Link]) -> list[Link]:
    """One cycle of stacks as the links that close it (empty: none), found deterministically."""
    edges: dict[str, list[Link]] = {}
    for link in links:
        edges.setdefault(link.consumer, []).append(link)
    state: dict[str, str] = {}
    path: list[Link] = []

    def visit(stack: str) -> list[Link]:
        state[stack] = "open"
        for link in edges.get(stack, []):
            if state.get(link.producer) == "open":
                start = next((i for i, step in enumerate(path) if step.consumer == link.producer), len(path))
                return [*path[start:], link]
            if link.producer not in state:
                path.append(link)
                found = visit(link.producer)
                if found:
                    return found
                path.pop()
        state[stack] = "done"
        return []

    for stack in sorted(edges):
        if stack not in state:
            found = visit(stack)
            if found:
                return found
    return []


def knowable(placements: Mapping[Resource, Placement], compilers: Mapping[str, Compiler],
             backed: Collection[tuple[str, str]] = ()) -> Callable[[Grant], bool]:
    """Whether a grant can be wired with values known before apply: its target is of a kind the compiler
    building both sides names from the naming convention (`Compiler.known_kinds`), and no platform team's module
    (`backed`: (target, kind) pairs of `Profile.modules`) builds it."""
    def check(grant: Grant) -> bool:
        function, target = placements[grant.function], placements[grant.target]
        kind = grant.target.kind
        return (function.target == target.target and kind in compilers[target.target].known_kinds
                and (target.target, kind) not in backed)
    return check


def known_grants(placements: Mapping[Resource, Placement], can_know: Callable[[Grant], bool]) -> frozenset[Grant]:
    """The grants to wire with known values so that no two stacks need each other first (see the module docstring).

    Raises:
        PlatformError: a cycle that no such grant breaks, naming every link of it, at the file and line of the grant
            made last (the one that closed it, wherever the function it names was declared).
    """
    links = [link for link in links_of(placements) if not link.federated]  # their direction is the clouds' to say
    known: set[Grant] = set()
    while cycle := _cycle([link for link in links if link.grant is None or link.grant not in known]):
        breakable = [link for link in cycle if link.grant is not None and can_know(link.grant)]
        if not breakable:
            stacks = " -> ".join([cycle[0].consumer, *(link.producer for link in cycle)])
            grants = [link.grant for link in cycle if link.grant is not None]
            file, line = last_made(grants).location if grants else (cycle[0].file, cycle[0].line)
            raise PlatformError(
                f"a cycle between stacks ({stacks}): {'; '.join(map(str, cycle))}; each stack needs the other's "
                "resource to exist before it can be applied, and none of these can be wired with values known "
                "before apply on its cloud", file=file, line=line,
                hint="keep the linked resources in one service, or drop one of the links",
            )
        known.add(breakable[-1].grant)  # type: ignore[arg-type]
    return frozenset(known)


def dependencies_from_manifest(outdir: Path, stacks: dict[str, StackInfo]) -> None:
    """Use the cross-stack references CDKTF actually wired (the model's view cannot see federation trusts)."""
    manifest = json.loads((outdir / "manifest.json").read_text())
    for name, info in stacks.items():
        wired = manifest["stacks"].get(name, {}).get("dependencies", [])
        info.dependencies = sorted(wired)
