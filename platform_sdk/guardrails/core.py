"""Guardrails: the platform team's rules, checked on every synth, waivable per resource until a date.

A rule checks either the neutral model (fast, before anything is built: placement, sizes, safety settings)
or the synthesized Terraform (what will really be deployed: tags, IAM policies). Each violation names the
rule, the resource, what is wrong and how to fix it, so an app team can act without asking.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from platform_sdk.errors import PlatformError
from platform_sdk.rules import (  # noqa: F401 - the rule contract, re-exported for rule authors
    Rule,
    Violation,
    aliases_of,
    first_block,
    is_token,
    neutral_address,
    providers_of,
    read_stack,
    schema_types_with,
    stack_address,
    stack_file,
    stack_resources,
)

if TYPE_CHECKING:
    from platform_sdk.envs import Environment, Waiver


class GuardrailError(PlatformError):
    """Guardrail violations that no valid waiver covers. The CLI exits 2; nothing is written."""

    def __init__(self, violations: Sequence[Violation], file: str | Path | None = None) -> None:
        count = len(violations)
        lines = [f"{count} guardrail violation{'s' if count != 1 else ''}:"]
        lines += [f"  {v}".replace("\n", "\n  ") for v in violations]
        super().__init__("\n".join(lines), file=file,
                         hint="fix them, or waive one in the environment file: a `waivers` entry with rule, "
                              "resource, reason and expires")
        self.violations = list(violations)


# -- waivers -----------------------------------------------------------------------------------------------------

def _matches(waiver: Waiver, violation: Violation) -> bool:
    if not fnmatch.fnmatchcase(violation.rule, waiver.rule):
        return False
    return any(fnmatch.fnmatchcase(address, waiver.resource) for address in (violation.resource, *violation.aliases))


def apply_waivers(env: Environment, violations: Iterable[Violation], today: date | None = None) -> list[Violation]:
    """Mark violations covered by a waiver of the environment that has not expired (`expires` is inclusive).

    A matching waiver that has expired no longer suppresses anything: the violation stays, and says when the
    waiver expired, so the team sees why a synth that passed yesterday fails today.
    """
    today = today or date.today()
    result = []
    for violation in violations:
        matching = [w for w in env.waivers if _matches(w, violation)]
        valid = sorted((w for w in matching if w.expires >= today), key=lambda w: w.expires, reverse=True)
        expired = sorted((w for w in matching if w.expires < today), key=lambda w: w.expires, reverse=True)
        if valid:
            violation = replace(violation, waived_until=valid[0].expires, waiver_reason=valid[0].reason,
                                waiver_expired_on=None)
        elif expired:
            violation = replace(violation, waiver_expired_on=expired[0].expires)
        result.append(violation)
    return result


def unused_waivers(env: Environment, violations: Iterable[Violation]) -> list[Waiver]:
    """Waivers that match no violation: a typo in the rule or resource, or a problem that was fixed."""
    found = list(violations)
    return [w for w in env.waivers if not any(_matches(w, v) for v in found)]


def enforce(violations: Iterable[Violation], file: str | Path | None = None) -> None:
    """Raise GuardrailError listing every violation that no valid waiver covers."""
    failing = [v for v in violations if not v.waived]
    if failing:
        raise GuardrailError(failing, file=file)
