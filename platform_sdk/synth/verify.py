"""The conformance analysis inside every synthesis (platform_sdk.conformance): would each function work on its cloud?

Synthesis calls `require_conformance` on the temporary folder, after the guardrails and before anything replaces
`cdktf.out/<env>`: a finding fails the synthesis (exit 2, nothing written). `platform check` calls `examine_env`
and reports instead. Only functions placed on a cloud whose plug-in has conformance rules are analysed (the local
cloud, and stand-ins compiled by it, permit everything: a rehearsal asks the rehearsed environment instead, see
synth/rehearsal.py).

How findings are treated:
- "missing" (a permission, API or network path the function's own grants, triggers or CDN need): always fails.
  It is a fault of the compiler or of the platform's configuration, which no waiver can make work.
- "exposure" (a way in the model never declared: a function reachable around its CDN, invocable by any
  principal): fails too, unless the environment file waives it like a guardrail, by function, until a date:

      [[waivers]]
      rule = "conformance.exposure"
      resource = "login.page"
      reason = "issue 14.1: reachable around its CDN until the CDN fix ships"
      expires = 2027-01-31

  `platform check` always reports both kinds, waived exposures included.

Bring-your-own networks: a cloud's plug-in describes the network the environment file gives it
(`CloudPlugin.trusted_network`); the analysis trusts it as described (`trusted_networks`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from platform_sdk import providers
from platform_sdk.conformance import (
    EXPOSURE,
    EXPOSURE_RULE,
    MISSING,
    ConformanceError,
    Finding,
    TrustedNetwork,
    examine,
    grant_cause,
    load_rules,
)
from platform_sdk.guardrails.core import Violation, apply_waivers
from platform_sdk.model import Function, Resource

if TYPE_CHECKING:
    from platform_sdk.envs import Environment
    from platform_sdk.tfjson import StackLike

EXPOSURE_FIX = ("close the way in (the compiler should not open it), or waive it in the environment file: "
                f'[[waivers]] rule = "{EXPOSURE_RULE}", resource = "<service.function>", reason, expires')


def trusted_networks(env: Environment) -> dict[str, TrustedNetwork]:
    """Cloud label -> the bring-your-own network its environment-file section describes, trusted as described.

    Each cloud's plug-in reads its own section (`CloudPlugin.trusted_network`); none describes one yet (the
    environment-file key comes with issue 13), so this is empty today.
    """
    found: dict[str, TrustedNetwork] = {}
    for cloud in env.clouds:
        network = providers.plugin(cloud).trusted_network(env)
        if network is not None:
            found[cloud] = network
    return found


@dataclass
class ConformanceReport:
    """The analysis of one synthesized environment, with exposure waivers applied."""

    env: str
    findings: list[Finding] = field(default_factory=list)  # every finding, both kinds
    exposures: list[Violation] = field(default_factory=list)  # the exposure findings as waivable violations
    evidence: Counter[str] = field(default_factory=Counter)  # function address -> pieces of evidence relied on
    unverified: list[str] = field(default_factory=list)  # functions a profile module builds (not visible)

    @property
    def missing(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == MISSING]

    @property
    def failing_exposures(self) -> list[Finding]:
        waived = {(v.resource, v.message) for v in self.exposures if v.waived}
        return [f for f in self.findings if f.kind == EXPOSURE and (f.function, str(f)) not in waived]

    @property
    def failing(self) -> list[Finding]:
        return self.missing + self.failing_exposures

    @property
    def passed(self) -> bool:
        return not self.failing

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "findings": [{**vars(f), "text": str(f)} for f in self.findings],
            "exposures": [v.to_json() for v in self.exposures],
            "evidence": dict(sorted(self.evidence.items())),
            "unverified": self.unverified,
        }


def examine_env(env: Environment, outdir: Path, stacks: Mapping[str, StackLike], placements: Mapping[Resource, Any],
                today: date | None = None, rehearsed: Environment | None = None) -> ConformanceReport:
    """Analyse the environment synthesized into `outdir` (its stacks and the placement of every resource).

    `rehearsed`: analyse the stacks as the clouds of that environment (synth/rehearsal.py); its networks and
    waivers apply.
    """
    subject = rehearsed or env
    rules = load_rules(placement.target for placement in placements.values())
    if not rules:  # nothing placed on a cloud with rules (the local cloud permits everything)
        return ConformanceReport(subject.name)
    analysis = examine(outdir, placements, stacks, trusted=trusted_networks(subject), rules=rules)
    report = ConformanceReport(subject.name, list(analysis.findings), unverified=list(analysis.unverified))
    report.evidence.update(ev.need.split(":", 1)[0] for ev in analysis.evidence)
    exposures = [Violation(EXPOSURE_RULE, f.function, str(f), EXPOSURE_FIX) for f in analysis.findings
                 if f.kind == EXPOSURE]
    report.exposures = apply_waivers(subject, exposures, today)
    return report


def require_conformance(env: Environment, outdir: Path, stacks: Mapping[str, StackLike],
                        placements: Mapping[Resource, Any], today: date | None = None) -> ConformanceReport:
    """Raise ConformanceError (exit 2, nothing written) for every missing permission or path and every exposure no
    valid waiver covers; otherwise return the report."""
    report = examine_env(env, outdir, stacks, placements, today)
    if report.failing:
        expired = {v.resource: v.waiver_expired_on for v in report.exposures if v.waiver_expired_on}
        declared = {r.address: f"{r.declared_in}:{r.declared_line}" for r in placements if r.declared_in}
        for grant in (g for r in placements if isinstance(r, Function) for g in r.grants):
            file, line = grant.location  # the grant's own line, maybe in another file than the function's
            if file:
                declared.setdefault(f"{grant.function.address}: {grant_cause(grant)}", f"{file}:{line}")
        raise ConformanceError(report.failing, env.name, declared=declared, expired=expired)
    return report
