"""The plan report: one summary per environment, grouped by service and cloud, with data loss flagged loudly.

Built from `terraform show -json <plan>` of every stack (Terraform's own vocabulary: create, update,
replace, destroy) plus what the runner knows about stacks it did not plan (waiting for a producer, skipped
after a failure, locked, interrupted). The same data renders for people (rich) and for CI (`--json`).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape

from platform_sdk.terraform.changes import OWN_CHANGE
from platform_sdk.terraform.locks import StateLock
from platform_sdk.terraform.schedule import (  # noqa: F401 - the stack statuses, re-exported for report users
    APPLIED,
    BROKEN,
    CHANGES,
    FAILED,
    INTERRUPTED,
    LOCKED,
    NO_CHANGES,
    PENDING,
    RUNNING,
    SETTLED,
    SKIPPED,
    UNCHANGED,
    WAITING,
)
from platform_sdk.terraform.stateful import is_stateful

ACTIONS = ("create", "update", "replace", "destroy")
SYMBOLS = {"create": "+", "update": "~", "replace": "-/+", "destroy": "-"}
COLORS = {"create": "green", "update": "yellow", "replace": "magenta", "destroy": "red"}



def _action_of(actions: list[str]) -> str | None:
    """Terraform's action list -> one of ACTIONS (None for no-op and read)."""
    if "delete" in actions and "create" in actions:
        return "replace"
    if actions == ["create"]:
        return "create"
    if actions == ["update"]:
        return "update"
    if actions == ["delete"]:
        return "destroy"
    return None


def _at(value: Any, path: list[Any]) -> Any:
    for step in path:
        if isinstance(value, dict) and isinstance(step, str):
            value = value.get(step)
        elif isinstance(value, list) and isinstance(step, int) and 0 <= step < len(value):
            value = value[step]
        else:
            return None
    return value


def differences(change: dict[str, Any]) -> list[str]:
    """Why Terraform replaces a resource, from one `resource_changes[].change` of `terraform show -json`:
    "<attribute>: <before> -> <after>" for each of its `replace_paths` (Terraform >= 0.15), else for every top-level
    attribute whose value differs ("(known after apply)" when `after_unknown` says so)."""
    before, after = change.get("before") or {}, change.get("after") or {}
    unknown = change.get("after_unknown") or {}
    paths = [list(p) for p in change.get("replace_paths") or [] if isinstance(p, list)]
    if not paths and isinstance(before, dict) and isinstance(after, dict):
        paths = [[k] for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k) or _at(unknown, [k])]
    lines = []
    for path in paths:
        new = "(known after apply)" if _at(unknown, path) is True else repr(_at(after, path))
        lines.append(f"{'.'.join(str(p) for p in path)}: {_at(before, path)!r} -> {new}")
    return lines


@dataclass
class ResourceChange:
    """One planned change to one Terraform resource; `differences` says why it is replaced or destroyed."""

    address: str
    type: str
    action: str
    differences: list[str] = field(default_factory=list)
    digest: str = ""
    """`change_digest` of the planned values: what `apply --expect` compares besides the action ("" when unknown)."""

    @property
    def stateful(self) -> bool:
        return is_stateful(self.type)

    @property
    def data_loss(self) -> bool:
        """Destroying or replacing a bucket or database loses what is in it."""
        return self.stateful and self.action in ("replace", "destroy")


@dataclass
class StackPlan:
    """What one stack's saved plan would do."""

    changes: list[ResourceChange] = field(default_factory=list)
    drift: list[tuple[str, str]] = field(default_factory=list)  # (address, what changed outside Terraform)
    # (previous address, address) of objects renamed without replacement: `terraform state mv` before the plan, or
    # a `moved` block (the plan's `previous_address`, Terraform >= 1.1)
    renamed: list[tuple[str, str]] = field(default_factory=list)
    output_changes: list[str] = field(default_factory=list)
    # every root output of the plan -> its planned action: "no-op", "create", "update", "delete", or "unknown" (known
    # only after the apply: `after_unknown`); what a consumer planned with this stack's current outputs checks
    output_actions: dict[str, str] = field(default_factory=dict)
    # the current (prior state's) value of every output the plan found in the state; held in memory only, never
    # reported (values may be secret)
    prior_outputs: dict[str, Any] = field(default_factory=dict, repr=False)
    exists: bool = False  # the stack's state held resources or outputs when it was planned (it had been applied)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes or self.output_changes or self.renamed)

    def by_action(self, action: str) -> list[ResourceChange]:
        return [c for c in self.changes if c.action == action]

    @property
    def data_loss(self) -> list[ResourceChange]:
        return [c for c in self.changes if c.data_loss]


def parse_plan(doc: dict[str, Any], destroy: bool = False) -> StackPlan:
    """`terraform show -json <planfile>` -> StackPlan.

    Output changes of a destroy plan are ignored: Terraform 1.0 evaluates outputs from the configuration during
    the destroy plan's refresh and always reports them as deleted, even for a stack whose state is empty.
    """
    plan = StackPlan()
    for rc in doc.get("resource_changes") or []:
        if rc.get("mode", "managed") != "managed":
            continue
        action = _action_of(list(rc.get("change", {}).get("actions", [])))
        if action:
            why = differences(rc.get("change", {})) if action in ("replace", "destroy") else []
            plan.changes.append(ResourceChange(rc["address"], rc.get("type", ""), action, why,
                                               change_digest(rc.get("change", {}), action)))
        if rc.get("previous_address") and rc["previous_address"] != rc["address"]:
            plan.renamed.append((rc["previous_address"], rc["address"]))
    for rc in doc.get("resource_drift") or []:
        if rc.get("mode", "managed") != "managed":
            continue
        actions = list(rc.get("change", {}).get("actions", []))
        plan.drift.append((rc["address"], "deleted" if actions == ["delete"] else "changed"))
    # Terraform 1.0.3 fills the prior state's outputs with the planned values, even for a stack never applied: its
    # resources, and the outputs' `before`, say what the state holds
    prior = (doc.get("prior_state") or {}).get("values") or {}
    plan.exists = bool((prior.get("root_module") or {}).get("resources")) or any(
        oc.get("before") is not None and "create" not in oc.get("actions", [])
        for oc in (doc.get("output_changes") or {}).values())
    for name, oc in sorted(({} if destroy else doc.get("output_changes") or {}).items()):
        plan.output_actions[name] = _output_action(oc)
        if "before" in oc and "create" not in oc.get("actions", []):
            plan.prior_outputs[name] = oc["before"]
        if not any(a not in ("no-op", "read") for a in oc.get("actions", [])):
            continue
        if oc.get("before") is None and oc.get("after") is None and not oc.get("after_unknown"):
            continue  # e.g. a destroy plan of a stack that was never applied: nothing to remove
        plan.output_changes.append(name)
    return plan


SENSITIVE, UNKNOWN = "(sensitive)", "(known after apply)"


def _masked(value: Any, sensitive: Any, unknown: Any) -> Any:
    """A planned value with its sensitive parts (`after_sensitive`/`before_sensitive`: the value's shape with `true`
    where sensitive) replaced by SENSITIVE and its unknown parts (`after_unknown`) by UNKNOWN."""
    if sensitive is True:
        return SENSITIVE
    if unknown is True:
        return UNKNOWN
    if isinstance(value, dict) or isinstance(unknown, dict):
        value = value if isinstance(value, dict) else {}
        keys = set(value) | (set(unknown) if isinstance(unknown, dict) else set())
        return {k: _masked(value.get(k), sensitive.get(k) if isinstance(sensitive, dict) else None,
                           unknown.get(k) if isinstance(unknown, dict) else None) for k in sorted(keys)}
    if isinstance(value, list):
        return [_masked(item, sensitive[i] if isinstance(sensitive, list) and i < len(sensitive) else None,
                        unknown[i] if isinstance(unknown, list) and i < len(unknown) else None)
                for i, item in enumerate(value)]
    return value


def change_digest(change: dict[str, Any], action: str) -> str:
    """sha256 (hex) of what a planned change sets, never holding a sensitive value: for a create, every planned
    attribute; for an update or replace, the attributes whose planned value differs from the state's; for a
    destroy, nothing. Sensitive values (as the plan marks them) are left out and values known only after the apply
    are UNKNOWN, so the digest of the same change planned twice is the same, and differs when the configuration
    sets another value (an environment variable, a memory size) with the same address and action: the reviewed
    plan's digest is what `apply --expect` holds a fresh plan to (terraform/expect.py)."""
    if action == "destroy":
        payload: Any = None
    else:
        after = _masked(change.get("after"), change.get("after_sensitive"), change.get("after_unknown"))
        if action == "create" or not isinstance(after, dict):
            payload = after
        else:
            before = _masked(change.get("before"), change.get("before_sensitive"), None)
            before = before if isinstance(before, dict) else {}
            payload = {k: v for k, v in after.items() if before.get(k) != v}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _output_action(change: dict[str, Any]) -> str:
    """One `output_changes` entry -> "no-op", "create", "update", "delete" or "unknown" (Terraform 1.0.3 lists every
    root output there, unchanged ones with `["no-op"]`, and sets `after_unknown` when the value is known only after
    the apply)."""
    actions = [a for a in change.get("actions", []) if a != "read"] or ["no-op"]
    if change.get("after_unknown") and actions != ["delete"]:
        return "unknown"
    if actions == ["no-op"]:
        return "no-op"
    return "delete" if actions == ["delete"] else "create" if actions == ["create"] else "update"


@dataclass
class StackResult:
    """Everything the runner learned about one stack during one command."""

    name: str
    service: str
    cloud: str
    target: str
    dependencies: list[str] = field(default_factory=list)
    status: str = PENDING
    phase: str = ""
    plan: StackPlan | None = None
    error: str | None = None
    lock: StateLock | None = None
    waiting_on: list[str] = field(default_factory=list)
    # producer -> the outputs this stack reads that the producer's pending plan changes (why it waits for it)
    waiting_outputs: dict[str, list[str]] = field(default_factory=dict)
    replanned: str | None = None  # why its plan of an earlier wave was discarded and it was planned again
    reason: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    started: float | None = None
    finished: float | None = None
    applied: bool = False
    owners: dict[str, str] = field(default_factory=dict)  # Terraform address -> neutral resource (platform.json)
    declared: dict[str, str] = field(default_factory=dict)  # neutral resource -> "path:line" (platform.json)
    candidate: bool = False  # skipped unless a producer changes (terraform/changes.py)
    why: str | None = None  # why it was planned, or since when it is unchanged
    unchanged_since: str | None = None
    outputs_known: bool = False  # `outputs` are this stack's current outputs (no `terraform output` needed)
    warnings: list[str] = field(default_factory=list)  # the providers' warnings while planning ("summary: detail")

    @property
    def cloud_label(self) -> str:
        return self.cloud if self.target == self.cloud else f"{self.cloud} (local stand-in)"

    @property
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or time.monotonic()) - self.started

    def to_json(self) -> dict[str, Any]:
        plan = self.plan
        data: dict[str, Any] = {
            "name": self.name, "service": self.service, "cloud": self.cloud, "target": self.target,
            "status": self.status, "dependencies": self.dependencies,
            "changes": {a: [c.address for c in plan.by_action(a)] for a in ACTIONS} if plan else None,
            "digests": {c.address: c.digest for c in plan.changes if c.digest} if plan else {},
            "data_loss": [{"address": c.address, "type": c.type, "action": c.action} for c in plan.data_loss]
            if plan else [],
            "drift": [{"address": a, "change": what} for a, what in plan.drift] if plan else [],
            "renamed": [{"from": old, "to": new} for old, new in plan.renamed] if plan else [],
            "output_changes": plan.output_changes if plan else [],
            "waiting_on": self.waiting_on, "waiting_outputs": self.waiting_outputs, "replanned": self.replanned,
            "reason": self.reason, "error": self.error,
            "planned_because": None if self.status == UNCHANGED else self.why,
            "unchanged_since": self.unchanged_since if self.status == UNCHANGED else None,
            "lock": self.lock.to_json() if self.lock else None, "elapsed_seconds": round(self.elapsed, 2),
            "warnings": self.warnings,
        }
        if self.outputs:
            data["outputs"] = self.outputs
        return data


def parse_warnings(text: str) -> list[str]:
    """The warnings in Terraform's human output (`-no-color`), each as "summary: detail", once each.

    Terraform prints `Warning: <summary>`, then the configuration it is about (indented lines), then the detail
    as a wrapped paragraph."""
    found: list[str] = []
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if not line.startswith("Warning: "):
            continue
        detail: list[str] = []
        for follow in lines[index + 1:]:
            if follow.startswith(("Warning: ", "Error: ")):
                break
            if not follow.strip():
                if detail:
                    break
                continue
            if follow.startswith("  ") and not detail:
                continue  # "  with <address>," / "  on <file> line N" / "   N: <source>"
            detail.append(follow.strip())
        text_of = line.removeprefix("Warning: ").strip() + (f": {' '.join(detail)}" if detail else "")
        if text_of not in found:
            found.append(text_of)
    return found


def totals(results: list[StackResult]) -> dict[str, int]:
    counts = dict.fromkeys(ACTIONS, 0)
    for result in results:
        if result.plan and result.status in (CHANGES, APPLIED):
            for change in result.plan.changes:
                counts[change.action] += 1
    return counts


def data_loss(results: list[StackResult]) -> list[tuple[str, ResourceChange]]:
    """(stack, change) for every stateful resource a pending plan would destroy or replace."""
    return [(r.name, c) for r in results if r.plan and r.status == CHANGES for c in r.plan.data_loss]


def moves(results: list[StackResult]) -> list[dict[str, str]]:
    """Neutral resources leaving one stack and arriving in another in the same plan (a placement change)."""
    gone: dict[str, str] = {}
    came: dict[str, str] = {}
    for result in results:
        if result.plan is None or result.status not in (CHANGES, APPLIED):
            continue
        for change in result.plan.changes:
            owner = result.owners.get(change.address)
            if owner and change.action == "destroy":
                gone[owner] = result.name
            elif owner and change.action == "create":
                came[owner] = result.name
    return [{"resource": owner, "from": gone[owner], "to": came[owner]} for owner in sorted(gone) if owner in came]


def report_json(env: str, operation: str, results: list[StackResult]) -> dict[str, Any]:
    ordered = sorted(results, key=lambda r: (r.service, r.cloud, r.name))
    return {
        "environment": env,
        "operation": operation,
        "changes_present": any(r.status in (CHANGES, WAITING) for r in results),
        "totals": totals(results),
        "data_loss": [{"stack": s, "address": c.address, "type": c.type, "action": c.action}
                      for s, c in data_loss(results)],
        "moves": moves(results),
        "stacks": [r.to_json() for r in ordered],
    }


def planned_after(waiting_on: Sequence[str], waiting_outputs: Mapping[str, Sequence[str]], operation: str,
                  because: str | None = None) -> str:
    """"planned after A is applied (its output X changes)": the producers a stack waits for, and for each producer
    that exists, the outputs the stack reads that its pending plan changes (`StackResult.waiting_outputs`).
    `because`: why the stack is planned at all (`StackResult.why`); when its own configuration changed, the line
    says so (a reviewer sees that a change of its own is pending, planned only after its producers)."""
    text = f"planned after {', '.join(waiting_on)} is {'destroyed' if operation == 'destroy' else 'applied'}"
    why = []
    for producer in waiting_on:
        outputs = list(waiting_outputs.get(producer) or ())
        whose = "its" if len(waiting_on) == 1 else f"{producer}'s"
        if len(outputs) == 1:
            why.append(f"{whose} output {outputs[0]} changes")
        elif outputs:
            why.append(f"{whose} outputs {', '.join(outputs)} change")
    own = "; its own configuration changed too: it is planned then" \
        if operation != "destroy" and (because or "").startswith(OWN_CHANGE) else ""
    return text + (f" ({'; '.join(why)})" if why else "") + own


def _status_line(result: StackResult, operation: str) -> str:
    """The short status shown next to a stack."""
    plan = result.plan
    if result.status in (CHANGES, APPLIED) and plan is not None:
        parts = [f"{len(plan.by_action(a))} to {a}" for a in ACTIONS if plan.by_action(a)]
        if plan.renamed:
            parts.append(f"{len(plan.renamed)} renamed")
        if not parts and plan.output_changes:
            parts = [f"{len(plan.output_changes)} output(s) to change"]
        if not parts and plan.drift:
            parts = [f"{len(plan.drift)} change(s) made outside Terraform to record in the state"]
        text = ", ".join(parts)
        return f"[green]applied[/]: {text}" if result.status == APPLIED else text
    if result.status == NO_CHANGES:
        return "[dim]no changes[/]"
    if result.status == UNCHANGED:
        return f"[dim]unchanged since {escape(result.unchanged_since or '?')} (not refreshed)[/]"
    if result.status == WAITING:
        return f"[cyan]{escape(planned_after(result.waiting_on, result.waiting_outputs, operation, result.why))}[/]"
    if result.status == LOCKED and result.lock is not None:
        return f"[bold red]locked[/]: {escape(result.error or result.lock.describe(result.name))}"
    if result.status == FAILED:
        return "[bold red]failed[/]"
    if result.status == SKIPPED:
        return f"[yellow]skipped[/]: {escape(result.reason or '')}"
    if result.status == INTERRUPTED:
        return f"[bold yellow]interrupted[/]{': ' + escape(result.reason) if result.reason else ''}"
    return result.status


def _say(console: Console, text: str) -> None:
    """Print markup without rich's auto-highlighting or hard wrapping (addresses must stay whole)."""
    console.print(text, highlight=False, soft_wrap=True)


def render(console: Console, env: str, operation: str, results: list[StackResult], *,
           title: str | None = None) -> None:
    """Print the report: per service, per cloud, the stacks and the resource addresses behind each count."""
    _say(console, f"[bold]{escape(title or f'{operation.capitalize()} for environment {env}')}[/]")
    by_service: dict[str, list[StackResult]] = {}
    for result in sorted(results, key=lambda r: (r.service, r.cloud, r.name)):
        by_service.setdefault(result.service, []).append(result)
    for service, stacks in by_service.items():
        _say(console, f"[bold]{escape(service)}[/]")
        for result in stacks:
            _say(console, f"  [cyan]{escape(result.cloud_label)}[/]  {escape(result.name)}: "
                          f"{_status_line(result, operation)}")
            if result.replanned and result.status in (CHANGES, NO_CHANGES, APPLIED):
                _say(console, f"      [cyan]planned again:[/] {escape(result.replanned)}")
            if result.status == WAITING and result.reason:
                _say(console, f"      [yellow]hint:[/] {escape(result.reason)}")
            for warning in result.warnings:
                _say(console, f"      [yellow]warning:[/] {escape(warning)}")
            plan = result.plan
            if plan is not None and result.status in (CHANGES, APPLIED):
                for address, what in plan.drift:
                    _say(console, f"      [yellow]![/] {escape(address)} was {what} outside Terraform")
                for old, new in plan.renamed:
                    owner = result.owners.get(new)
                    _say(console, f"      [blue]  > renamed [/] {escape(old)} -> {escape(new)} "
                                  f"({f'{escape(owner)}; ' if owner else ''}kept, not replaced)")
                for action in ACTIONS:
                    for change in plan.by_action(action):
                        loss = "  [bold red]!! DATA LOSS[/]" if change.data_loss else ""
                        _say(console, f"      [{COLORS[action]}]{SYMBOLS[action]:>3} {action:<8}[/] "
                                      f"{escape(change.address)}{loss}")
            if result.error and result.status in (FAILED, INTERRUPTED) or (result.status == LOCKED
                                                                           and result.lock is None):
                for line in (result.error or "").splitlines():
                    _say(console, f"      [red]{escape(line)}[/]")
    moved = moves(results)
    if moved:
        _say(console, "")
        _say(console, "[bold]Moves[/] (destroyed in one stack, created in another):")
        for move in moved:
            _say(console, f"  {escape(move['resource'])}: {escape(move['from'])} -> {escape(move['to'])}")
    loss = data_loss(results)
    if loss:
        _say(console, "")
        _say(console, f"[bold red]!! DATA LOSS: {len(loss)} stateful resource(s) would be "
                      "destroyed or replaced, losing their contents:[/]")
        for stack, change in loss:
            _say(console, f"[bold red]  ! {escape(change.address)} in {escape(stack)} will be "
                          f"{'REPLACED' if change.action == 'replace' else 'DESTROYED'}[/]")
        _say(console, "[red]  apply/destroy refuse this without --allow-data-loss.[/]")
    counts = totals(results)
    waiting = [r for r in results if r.status == WAITING]
    broken = [r for r in results if r.status in BROKEN]
    unchanged = [r for r in results if r.status == UNCHANGED]
    summary = ", ".join(f"{n} to {a}" for a, n in counts.items())
    extra = ""
    if unchanged:
        extra += f"; {len(unchanged)} stack(s) unchanged, not planned (--all plans them)"
    if waiting:
        extra += f"; {len(waiting)} stack(s) planned after their " + \
            ("consumers are destroyed" if operation == "destroy" else "producers are applied")
    if broken:
        extra += f"; [red]{len(broken)} stack(s) failed, locked, skipped or interrupted[/]"
    _say(console, f"[bold]Summary:[/] {summary} in {len(results)} stack(s){extra}")


def render_outcome(console: Console, operation: str, results: list[StackResult]) -> None:
    """After apply/destroy: which stacks ran, which failed (with Terraform's error), which were skipped."""
    done = "destroyed" if operation == "destroy" else "applied"
    past = {"create": "created", "update": "updated", "replace": "replaced", "destroy": "destroyed"}
    for result in sorted(results, key=lambda r: (r.service, r.cloud, r.name)):
        label = f"{escape(result.name)} [dim]({escape(result.service)}, {escape(result.cloud_label)})[/]"
        if result.status == APPLIED:
            plan = result.plan
            counts = ", ".join(f"{len(plan.by_action(a))} {past[a]}" for a in ACTIONS if plan and plan.by_action(a))
            recorded = "state records what changed outside Terraform" if plan and plan.drift else "outputs updated"
            _say(console, f"[green]{done:>11}[/]  {label}: {counts or recorded}")
        elif result.status in (NO_CHANGES, UNCHANGED):
            _say(console, f"[dim]{'unchanged':>11}[/]  {label}")
        elif result.status == WAITING:
            _say(console, f"[cyan]{'not planned':>11}[/]  {label}: "
                          f"{escape(planned_after(result.waiting_on, result.waiting_outputs, operation, result.why))}"
                          + (f"; {escape(result.reason)}" if result.reason else ""))
        elif result.status == CHANGES:
            _say(console, f"[yellow]{'not ' + done:>11}[/]  {label}: plan was not applied")
        elif result.status == LOCKED and result.lock is not None:
            _say(console, f"[bold red]{'locked':>11}[/]  {escape(result.error or result.lock.describe(result.name))}")
        elif result.status in BROKEN:
            style = "bold red" if result.status in (FAILED, LOCKED) else "yellow"
            reason = f": {escape(result.reason)}" if result.reason else ""
            _say(console, f"[{style}]{result.status:>11}[/]  {label}{reason}")
            if result.error and result.status != SKIPPED:
                for line in result.error.splitlines():
                    _say(console, f"             [red]{escape(line)}[/]")


_DIAGNOSTIC_SUBJECT = re.compile(r"^[\s│]*with ([A-Za-z0-9_.\[\]\"-]+),\s*$", re.M)
"""The line Terraform puts under an error about one block: `  with aws_s3_bucket.site,`."""


def owners_named(text: str, owners: dict[str, str], declared: dict[str, str]) -> str:
    """For the blocks Terraform's error `text` is about (`with ADDRESS,`), the neutral resources they implement and
    where the user declared them, one `hint:` line each ("" when none is ours), e.g.
    `hint: localcloud_bucket.site is web.site, declared at services/web.py:7`. Terraform names the block and a line
    of cdk.tf.json, which the user never wrote."""
    lines: list[str] = []
    for address in dict.fromkeys(_DIAGNOSTIC_SUBJECT.findall(text)):
        owner = owners.get(address)
        if owner is None:
            continue
        where = declared.get(owner)
        lines.append(f"hint: {address} is {owner}" + (f", declared at {where}" if where else ""))
    return "\n".join(lines)
