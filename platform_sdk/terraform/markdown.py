"""The plan report as Markdown, for a pull-request comment or a CI job summary (`platform plan --format markdown`).

Rendered from the same report as `--json` (`report.report_json`, plus the secrets without a value), so the three
formats never disagree. Only addresses, actions and statuses appear: never an attribute value (a plan's values
may be secret).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from platform_sdk.terraform.report import ACTIONS, planned_after
from platform_sdk.terraform.schedule import CHANGES, NO_CHANGES, UNCHANGED, WAITING

DIFF_SIGNS = {"create": "+", "update": "!", "replace": "-", "destroy": "-"}
"""First column of a ```diff block (what code review tools colour): added, changed, removed."""
MARKER = "<!-- platform-plan -->"
"""First line of every report: lets a CI job find (and replace) its previous comment."""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _status(stack: Mapping[str, Any], operation: str) -> str:
    status = stack["status"]
    changes = stack.get("changes") or {}
    if status == CHANGES:
        parts = [f"{len(changes.get(a, []))} to {a}" for a in ACTIONS if changes.get(a)]
        if stack.get("renamed"):
            parts.append(f"{len(stack['renamed'])} renamed")
        if not parts and stack.get("output_changes"):
            parts = [f"{len(stack['output_changes'])} output(s) to change"]
        if not parts and stack.get("drift"):
            parts = [f"{len(stack['drift'])} change(s) made outside Terraform to record in the state"]
        return ", ".join(parts)
    if status == NO_CHANGES:
        return "no changes"
    if status == UNCHANGED:
        return f"unchanged since {stack.get('unchanged_since') or '?'} (not refreshed)"
    if status == WAITING:
        hint = f"; {stack['reason']}" if stack.get("reason") else ""
        return planned_after(stack.get("waiting_on") or [], stack.get("waiting_outputs") or {}, operation,
                             stack.get("planned_because")) + hint
    reason = stack.get("reason") or stack.get("error") or ""
    return f"**{status}**" + (f": {reason.splitlines()[0]}" if reason else "")


def render_markdown(report: Mapping[str, Any], secrets: Sequence[Mapping[str, Any]] = ()) -> str:
    """`report`: `report_json(...)` of a plan; `secrets`: `SecretState.to_json()` of each secret.

    Returns the Markdown text, ending with a newline."""
    env, operation = report["environment"], report["operation"]
    title = "Destroy plan" if operation == "destroy" else "Plan"
    lines = [MARKER, f"### {title} for environment `{env}`", ""]
    totals = report["totals"]
    summary = ", ".join(f"{totals[a]} to {a}" for a in ACTIONS)
    stacks = report["stacks"]
    lines.append(f"**Summary:** {summary} in {len(stacks)} stack(s)")
    if report["data_loss"]:
        lines += ["", f"> [!CAUTION]\n> **DATA LOSS:** {len(report['data_loss'])} stateful resource(s) would be "
                  "destroyed or replaced, losing their contents; apply refuses this without `--allow-data-loss`:"]
        lines += [f"> - `{d['address']}` in `{d['stack']}` ({d['action']})" for d in report["data_loss"]]
    if report.get("warnings"):
        lines += ["", "> [!WARNING]"] + [f"> - {_cell(w)}" for w in report["warnings"]]
    lines += ["", "| service | cloud | stack | plan |", "|---|---|---|---|"]
    for stack in stacks:
        cloud = stack["cloud"] if stack["target"] == stack["cloud"] else f"{stack['cloud']} (local stand-in)"
        lines.append(f"| {_cell(stack['service'])} | {_cell(cloud)} | `{stack['name']}` | "
                     f"{_cell(_status(stack, operation))} |")
    detailed = [s for s in stacks
                if s["status"] == CHANGES and (s.get("changes") or s.get("drift") or s.get("renamed"))]
    if detailed:
        lines += ["", "<details><summary>Changes by resource</summary>", "", "```diff"]
        loss = {(d["stack"], d["address"]) for d in report["data_loss"]}
        for stack in detailed:
            lines.append(f"# {stack['name']}")
            for drift in stack.get("drift") or []:
                lines.append(f"! {drift['address']} was {drift['change']} outside Terraform")
            for renamed in stack.get("renamed") or []:
                lines.append(f"> renamed  {renamed['from']} -> {renamed['to']} (kept, not replaced)")
            for action in ACTIONS:
                for address in (stack.get("changes") or {}).get(action, []):
                    mark = "  !! DATA LOSS" if (stack["name"], address) in loss else ""
                    lines.append(f"{DIFF_SIGNS[action]} {action:<8} {address}{mark}")
        lines += ["```", "", "</details>"]
    if report.get("moves"):
        lines += ["", "**Moves** (destroyed in one stack, created in another):"]
        lines += [f"- `{m['resource']}`: `{m['from']}` → `{m['to']}`" for m in report["moves"]]
    missing = [s for s in secrets if s.get("state") != "set"]
    if missing:
        lines += ["", "**Secrets without a value** (`platform apply` refuses a function reading one):"]
        lines += [f"- `{s['secret']}`: " + ("generated by the next apply" if s.get("generate") else
                                            f"set it with `{s.get('set_command', 'platform secret set')}`")
                  for s in missing]
    return "\n".join(lines) + "\n"
