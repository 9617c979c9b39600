"""Rule sets: which rules apply (the standard set, or the profile's), and running them with waivers applied.

`run_guardrails_*` are what synthesis calls (they raise); `check_*` are what `platform check` calls (they
report). The rules themselves live in `model_rules` and `stack_rules` (and the cloud plug-ins).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from platform_sdk.conformance import EXPOSURE_RULE
from platform_sdk.errors import EnvironmentError_, PlatformError, did_you_mean
from platform_sdk.guardrails.core import Rule, Violation, apply_waivers, enforce
from platform_sdk.guardrails.model_rules import default_model_rules
from platform_sdk.guardrails.stack_rules import default_stack_rules

if TYPE_CHECKING:
    from platform_sdk.envs import Environment, Waiver
    from platform_sdk.model import Resource, Service
    from platform_sdk.profile import Profile
    from platform_sdk.synth.placement import Placement


def standard_rules(*replacements: Rule, exclude: Iterable[str] = ()) -> list[Rule]:
    """The standard rule set; a rule in `replacements` replaces the standard one with the same id (or is added),
    and rule ids in `exclude` are dropped. For a profile: `guardrails=standard_rules(FunctionLimits(...), MyRule())`.
    """
    skip = set(exclude)
    by_id = {r.id: r for r in replacements}
    rules = [by_id.pop(r.id, r) for r in [*default_model_rules(), *default_stack_rules()] if r.id not in skip]
    return rules + [r for r in replacements if r.id in by_id]


def rules_for(profile: Profile | None) -> list[Rule]:
    """The profile's rules (`Profile.guardrails`), or the standard set when it sets none."""
    if profile is None or profile.guardrails is None:
        return standard_rules()
    for rule in profile.guardrails:
        if not isinstance(rule, Rule):
            raise PlatformError(f"profile guardrails must be Rule objects, got {rule!r}", key="guardrails",
                                file=profile.source)
    return list(profile.guardrails)


@dataclass
class GuardrailReport:
    """Every violation found (waived ones included) and the waivers that matched nothing."""

    violations: list[Violation] = field(default_factory=list)
    unused_waivers: list[Waiver] = field(default_factory=list)

    @property
    def failing(self) -> list[Violation]:
        return [v for v in self.violations if not v.waived]


def check_model(env: Environment, services: list[Service], placements: Mapping[Resource, Placement],
                profile: Profile | None = None, today: date | None = None) -> list[Violation]:
    """All model-rule violations, waivers applied (none raised)."""
    from platform_sdk.profile import Profile

    profile = profile or Profile()
    rules = rules_for(profile)
    if rules:  # an empty rule set (the gate's scratch synthesis) has nothing to hold waivers against
        check_waivers(env, services, placements, rules)
    found = [v for rule in rules for v in rule.check_model(env, services, placements, profile)]
    return apply_waivers(env, found, today)


def check_waivers(env: Environment, services: list[Service], placements: Mapping[Resource, Placement],
                  rules: Sequence[Rule]) -> None:
    """Every `[[waivers]]` entry names a rule of the rule set and something of the estate (globs allowed): a
    resource `service.resource`, a cloud section `clouds.<name>`, or a Terraform address in one of the
    environment's stacks (`<stack>/<type>.<id>`).

    Raises:
        EnvironmentError_: naming the environment file, `waivers.<index>.rule` or `.resource`, and the value, with
            the closest valid name (a waiver that matches nothing hides a typo, and later a real violation).
    """
    ids = [rule.id for rule in rules] + [EXPOSURE_RULE]  # exposure findings of the conformance analysis
    addresses = [resource.address for service in services for resource in service]
    stacks = sorted({placement.stack_name for placement in placements.values()})
    subjects = [*addresses, *(f"clouds.{name}" for name in env.clouds)]
    for index, waiver in enumerate(env.waivers):
        if not any(fnmatch.fnmatchcase(rule_id, waiver.rule) for rule_id in ids):
            raise EnvironmentError_(f"waiver names no guardrail{did_you_mean(waiver.rule, ids)} (rules: "
                                    f"{', '.join(ids)})", file=env.file, key=f"waivers.{index}.rule",
                                    value=waiver.rule)
        stack, slash, _ = waiver.resource.partition("/")
        matched = (any(fnmatch.fnmatchcase(name, stack) for name in stacks) if slash
                   else any(fnmatch.fnmatchcase(subject, waiver.resource) for subject in subjects))
        if not matched:
            known = stacks if slash else subjects
            raise EnvironmentError_(f"waiver names nothing of the estate{did_you_mean(waiver.resource, known)} "
                                    "(a resource 'service.resource', 'clouds.<name>' or '<stack>/<type>.<id>')",
                                    file=env.file, key=f"waivers.{index}.resource", value=waiver.resource)


def check_stacks(env: Environment, outdir: Path, stack_names: Sequence[str], profile: Profile | None = None,
                 today: date | None = None) -> list[Violation]:
    """All Terraform-rule violations, waivers applied (none raised)."""
    from platform_sdk.profile import Profile

    profile = profile or Profile()
    found = [v for rule in rules_for(profile) for v in rule.check_stacks(env, outdir, list(stack_names), profile)]
    return apply_waivers(env, found, today)


def run_guardrails_model(env: Environment, services: list[Service], placements: Mapping[Resource, Placement],
                         profile: Profile | None = None, today: date | None = None) -> list[Violation]:
    """Check the neutral model; raise GuardrailError (exit 2) unless every violation is waived.

    Call it in `synthesize()` once placements are resolved and before anything is built.
    """
    violations = check_model(env, services, placements, profile, today)
    enforce(violations, file=env.file)
    return violations


def run_guardrails_synth(env: Environment, outdir: Path, stack_names: Sequence[str], profile: Profile | None = None,
                         today: date | None = None) -> list[Violation]:
    """Check the synthesized stacks in `outdir`; raise GuardrailError unless every violation is waived.

    Call it in `synthesize()` after `app.synth()` on the temporary folder, before it replaces cdktf.out/<env>,
    so a violation writes nothing.
    """
    violations = check_stacks(env, outdir, stack_names, profile, today)
    enforce(violations, file=env.file)
    return violations
