"""`platform adopt`: bring an existing bucket, database or function under the platform without replacing it.

The neutral resource `service.resource` is already declared; synthesis put its primary block (the cloud plug-in's
`primary_types[kind]`) into one stack, recorded in `platform.json`'s owners map. Adoption:

1. finds that block and its import id (`CloudPlugin.import_id`), and on a real cloud compares the live object with
   the declaration before anything is written (`CloudPlugin.live_differences`): differences are refused;
2. `terraform import <address> <id>` in that stack (under the state lock Terraform takes);
3. plans the stack and refuses a plan that would replace or destroy the adopted object, naming the attributes
   that differ (`report.differences`); on refusal `terraform state rm` takes the import back, so the state holds
   exactly what it held before;
4. otherwise reports "adopted, N in-place changes"; the saved plan is applied by `platform apply`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from platform_sdk import providers
from platform_sdk.errors import PlatformError
from platform_sdk.model import Service

ADOPTABLE = ("bucket", "database", "function")


@dataclass
class Target:
    """Where a neutral resource lives in the synthesized estate."""

    resource: str  # service.resource
    kind: str
    stack: str
    cloud: str  # the placement's cloud label
    target: str  # the plug-in compiling it (a stand-in's host for local stand-ins)
    address: str  # Terraform address of its primary block
    blocks: dict[str, dict[str, Any]] = field(default_factory=dict)  # every block it owns: address -> body
    declared_id: str | None = None  # the import id of the declared physical name


@dataclass
class Outcome:
    """What an adoption did: `adopted` True when the import stayed; `refused` the reasons when it was taken back."""

    target: Target
    import_id: str
    adopted: bool = False
    in_place: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    result: Any = None  # the stack's StackResult (its plan)

    def to_json(self) -> dict[str, Any]:
        return {"resource": self.target.resource, "kind": self.target.kind, "stack": self.target.stack,
                "address": self.target.address, "id": self.import_id, "declared_id": self.target.declared_id,
                "adopted": self.adopted, "in_place_changes": self.in_place, "refused": self.refused}


def check_resource(services: list[Service], resource: str) -> str:
    """The kind of `resource` (`service.resource`), checked before anything runs.

    Raises:
        PlatformError: (key `resource`) no such resource, or a kind that cannot be adopted.
    """
    declared = {r.address: r for s in services for r in s.resources}
    found = declared.get(resource)
    if found is None:
        raise PlatformError("no such resource: use SERVICE.RESOURCE as declared", key="resource", value=resource,
                            hint="declared: " + ", ".join(sorted(a for a, r in declared.items()
                                                                 if r.kind in ADOPTABLE)))
    if found.kind not in ADOPTABLE:
        raise PlatformError(f"a {found.kind} cannot be adopted (only a {', '.join(ADOPTABLE)}): it holds no data "
                            "worth keeping; let the platform create it", key="resource", value=resource)
    return found.kind


def find_target(services: list[Service], metadata: Mapping[str, Any], outdir: Path, resource: str,
                env: Any) -> Target:
    """The stack and primary Terraform block of `resource` (`service.resource`).

    Raises:
        PlatformError: (key `resource`) as `check_resource`, or nothing synthesized for it.
    """
    kind = check_resource(services, resource)
    for stack, info in sorted(metadata.get("stacks", {}).items()):
        plugin = providers.plugin(info.get("target", info["cloud"]))
        primary = plugin.primary_types.get(kind)
        owned = [a for a, owner in info.get("owners", {}).items() if owner == resource]
        address = next((a for a in owned if a.split(".", 1)[0] == primary), None)
        if address is None:
            continue
        doc = json.loads((outdir / "stacks" / stack / "cdk.tf.json").read_text())
        blocks = {a: doc.get("resource", {}).get(a.split(".", 1)[0], {}).get(a.split(".", 1)[1], {}) for a in owned}
        return Target(resource, kind, stack, info["cloud"], plugin.name, address, blocks,
                      plugin.import_id(kind, blocks[address], env))
    raise PlatformError("synthesis emitted nothing to adopt for this resource", key="resource", value=resource)


def refusals(plan: Any, address: str) -> list[str]:
    """Why a plan must not go ahead after adopting `address`: its replace or destroy, with the differing attributes
    ("<address> would be replaced: <attribute>: <live> -> <declared>")."""
    lines = []
    for change in plan.changes:
        if change.address == address and change.action in ("replace", "destroy"):
            lines.append(f"{address} would be {'replaced' if change.action == 'replace' else 'destroyed'}"
                         + (": " + "; ".join(change.differences) if change.differences else ""))
    return lines


def adopt(runner: Any, target: Target, import_id: str, env: Any, client: Any = None) -> Outcome:
    """Import, plan, keep or take back (see the module docstring). Terraform failures raise AdoptionFailed."""
    outcome = Outcome(target, import_id)
    live = providers.plugin(target.target).live_differences(target.kind, target.blocks, import_id, env, client)
    if live:
        outcome.refused = [f"{target.resource} differs from the existing object {import_id!r}: {line}"
                           for line in live]
        return outcome
    result = runner.results[target.stack]
    state = runner.terraform_in(target.stack, ["state", "list"], init=True)
    if target.address in state.stdout.split():
        raise PlatformError(f"already managed: {target.address} is in the state of stack {target.stack}",
                            key="resource", value=target.resource)
    run = runner.terraform_in(target.stack, ["import", "-input=false", "-no-color", target.address, import_id])
    if not run.ok:
        raise AdoptionFailed(f"terraform import {target.address} {import_id} failed in {target.stack}:\n"
                             + (run.stderr or run.stdout).strip())
    runner.plan_stack(target.stack)
    outcome.result = result
    if result.plan is None:
        outcome.refused = [f"the plan of {target.stack} failed: {(result.error or result.reason or '').strip()}"]
    else:
        outcome.refused = refusals(result.plan, target.address)
        outcome.in_place = [c.address for c in result.plan.by_action("update")]
    if outcome.refused:
        undo = runner.terraform_in(target.stack, ["state", "rm", "-no-color", target.address])
        if not undo.ok:
            raise AdoptionFailed(f"could not take the import back: terraform state rm {target.address} in "
                                 f"{target.stack}: {(undo.stderr or undo.stdout).strip()}")
        runner.discard_plan(target.stack)
        return outcome
    outcome.adopted = True
    return outcome


class AdoptionFailed(Exception):
    """Terraform failed while adopting (the message says which command, in which stack)."""
