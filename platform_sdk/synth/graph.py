"""The stack dependency graph: which stacks read from which, the order plans and applies follow.

Two views: the model's (`dependencies_of`: grants, triggers and CDN origins, known before anything is built)
and CDKTF's (`dependencies_from_manifest`: the cross-stack references it actually wired, federation trusts
included), which is what synthesis records for the runner.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from platform_sdk.model import Cdn, Function, ObjectCreatedTrigger, QueueMessageTrigger, Resource

if TYPE_CHECKING:
    from platform_sdk.synth.estate import StackInfo
    from platform_sdk.synth.placement import Placement


def dependencies_of(placements: dict[Resource, Placement]) -> dict[str, list[str]]:
    """Stack -> the stacks it reads from (grants, triggers, CDN origins): the order plans and applies follow."""
    deps: dict[str, set[str]] = {p.stack_name: set() for p in placements.values()}
    for resource, placement in placements.items():
        linked: list[Resource] = []
        if isinstance(resource, Function):
            linked = [g.target for g in resource.grants]
            linked += [t.bucket for t in resource.triggers if isinstance(t, ObjectCreatedTrigger)]
            linked += [t.queue for t in resource.triggers if isinstance(t, QueueMessageTrigger)]
        elif isinstance(resource, Cdn) and resource.origin is not None:
            linked = [resource.origin]
        for other in linked:
            producer = placements[other].stack_name
            if producer != placement.stack_name:
                deps[placement.stack_name].add(producer)
    return {name: sorted(d) for name, d in sorted(deps.items())}


def dependencies_from_manifest(outdir: Path, stacks: dict[str, StackInfo]) -> None:
    """Use the cross-stack references CDKTF actually wired (the model's view cannot see federation trusts)."""
    manifest = json.loads((outdir / "manifest.json").read_text())
    for name, info in stacks.items():
        wired = manifest["stacks"].get(name, {}).get("dependencies", [])
        info.dependencies = sorted(wired)
