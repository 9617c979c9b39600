"""Never apply a plan that went stale: compare a fresh plan with the reviewed one before applying it.

In CI the plan that people review (`platform plan --report FILE`, shown in the job summary) is made in one job and
applied wave by wave in later jobs of the same pipeline, at the same commit; each wave job plans again (a consumer
whose producer did not exist, or whose producer's pending plan changed an output it reads, could not be planned
before that producer was applied) and `platform apply --expect FILE` refuses to apply when its fresh plan differs
from the reviewed one:

- a stack the reviewed report planned (changes or no changes) must plan exactly the same resource addresses and
  actions now, or no changes at all (someone applied it meanwhile: nothing is applied); this includes a consumer
  the review planned beside its producer's pending changes (they left every output it reads as it was);
- a stack the reviewed report showed as waiting for its producers may plan anything (its plan could not exist
  before); data loss is still refused without `--allow-data-loss`;
- a stack missing from the reviewed report, or the report of another environment, is a difference.

Compared are addresses, actions and, per change, a digest of the values it sets (`report.change_digest`: the
planned attributes of a create, the changed ones of an update or replace, sensitive values left out): an
environment variable changed after the review, with the same address and action, is a difference. The report
holds the digests, never the values (they may be secret); a report written before digests is compared by address
and action only.
Terraform itself refuses a saved plan whose state changed since it was made, so within a job the applied plan is
the one just compared.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from platform_sdk.errors import PlatformError
from platform_sdk.terraform.report import ACTIONS, StackResult
from platform_sdk.terraform.schedule import CHANGES, NO_CHANGES, UNCHANGED, WAITING


def load_expected(path: Path, env: str) -> dict[str, dict[str, Any]]:
    """The reviewed report's stacks by name.

    Raises:
        PlatformError: the file is missing, not a plan report, or the report of another environment.
    """
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise PlatformError(f"cannot read the reviewed plan report: {err}", file=path, key="--expect") from None
    if not isinstance(report, dict) or not isinstance(report.get("stacks"), list):
        raise PlatformError("not a plan report (`platform plan --report FILE` writes one)", file=path,
                            key="--expect")
    if report.get("environment") != env or report.get("operation") != "plan":
        raise PlatformError(f"the report is a {report.get('operation')} of environment {report.get('environment')}"
                            f", not a plan of {env}", file=path, key="--expect")
    return {stack["name"]: stack for stack in report["stacks"]}


def _changes(result: StackResult) -> dict[str, list[str]]:
    plan = result.plan
    return {a: sorted(c.address for c in plan.by_action(a)) for a in ACTIONS} if plan else dict.fromkeys(ACTIONS, [])


def differences(results: Sequence[StackResult], expected: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """What differs between the fresh plans about to be applied (status CHANGES) and the reviewed report."""
    found = []
    for result in results:
        if result.status != CHANGES:
            continue
        reviewed = expected.get(result.name)
        if reviewed is None:
            found.append(f"{result.name}: not in the reviewed plan")
            continue
        if reviewed["status"] == WAITING:
            continue
        now = _changes(result)
        if reviewed["status"] in (NO_CHANGES, UNCHANGED):
            then: dict[str, list[str]] = dict.fromkeys(ACTIONS, [])
        elif reviewed["status"] == CHANGES:
            then = {a: sorted((reviewed.get("changes") or {}).get(a, [])) for a in ACTIONS}
        else:
            found.append(f"{result.name}: the reviewed plan has no plan for it ({reviewed['status']})")
            continue
        for action in ACTIONS:
            added = sorted(set(now[action]) - set(then[action]))
            gone = sorted(set(then[action]) - set(now[action]))
            if added:
                found.append(f"{result.name}: now also {action}s {', '.join(added)}")
            if gone:
                found.append(f"{result.name}: no longer {action}s {', '.join(gone)}")
        reviewed_digests = reviewed.get("digests") or {}  # a report written before digests has none: not compared
        other = sorted(c.address for c in (result.plan.changes if result.plan else [])
                       if c.digest and reviewed_digests.get(c.address) not in (None, c.digest)
                       and c.address in then.get(c.action, []))
        if other:
            found.append(f"{result.name}: now plans other values for {', '.join(other)} than the reviewed plan")
        if not any(now.values()) and result.plan is not None and result.plan.output_changes \
                and reviewed["status"] != CHANGES:
            found.append(f"{result.name}: now changes outputs {', '.join(result.plan.output_changes)}")
    return found
