"""The security gate behind `platform check`: synthesize into a scratch folder, then guardrails, the conformance
analysis (synth/verify.py: findings of both kinds, waived exposures included, and the evidence relied on) and
checkov.

A workflow above synthesis (it synthesizes), so it lives outside the guardrails package, which synthesis uses.

Why a scratch folder: a check must never replace the environment's real output (someone may be planning from
it), and it must see every violation at once, so guardrails are evaluated here rather than raised by synth.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from platform_sdk import providers
from platform_sdk.gate.checkov import CheckovReport, ensure_checkov, load_skips, run_checkov
from platform_sdk.guardrails.core import Violation, neutral_address, stack_file, unused_waivers
from platform_sdk.guardrails.rulesets import check_model, check_stacks
from platform_sdk.model import Bucket, Cdn, Database, Function, HttpTrigger
from platform_sdk.profile import Profile
from platform_sdk.synth.app import synthesize
from platform_sdk.synth.verify import ConformanceReport, examine_env

if TYPE_CHECKING:
    from platform_sdk.envs import Environment, Waiver
    from platform_sdk.model import Resource, Service
    from platform_sdk.project import Project



def _public_function(resource: Resource | None, profile: Profile, cloud: str) -> bool:
    return isinstance(resource, Function) and any(t.public for t in resource.trigger_of(HttpTrigger))


def _function_without_database(resource: Resource | None, profile: Profile, cloud: str) -> bool:
    """A function with no database grant, or a CDN's own function at the edge (its owner is the CDN)."""
    if isinstance(resource, Cdn):
        return True
    return isinstance(resource, Function) and not any(isinstance(g.target, Database) for g in resource.grants)


def _cdn_without_domain(resource: Resource | None, profile: Profile, cloud: str) -> bool:
    return isinstance(resource, Cdn) and not resource.domain


def _unversioned_bucket(resource: Resource | None, profile: Profile, cloud: str) -> bool:
    return isinstance(resource, Bucket) and not resource.versioning


def _single_zone_database(resource: Resource | None, profile: Profile, cloud: str) -> bool:
    return isinstance(resource, Database) and not resource.high_availability


def _no_kms_key(resource: Resource | None, profile: Profile, cloud: str) -> bool:
    return not profile.kms_keys.get(cloud)


def _short_retention(resource: Resource | None, profile: Profile, cloud: str) -> bool:
    return profile.log_retention_days < 365


Accepts = Callable[["Resource | None", "Profile", str], bool]
# Checkov cannot know intent: the neutral model and the profile declare it. A finding whose resource (or profile)
# asks for exactly what the check objects to is accepted and listed with the reason, per resource, never as a
# blanket skip: the same check still fails where the declaration says otherwise (a private function made public,
# a KMS key in the profile that a compiler ignores). Which check id needs which declaration is cloud knowledge:
# each plug-in's `checkov_accepted` maps its check ids to (declaration, reason).
DECLARATIONS: dict[str, Accepts] = {
    "public-function": _public_function,
    "no-database": _function_without_database,
    "no-domain": _cdn_without_domain,
    "unversioned": _unversioned_bucket,
    "single-zone": _single_zone_database,
    "no-kms-key": _no_kms_key,
    "short-retention": _short_retention,
}


def model_accepted() -> dict[str, tuple[str, Accepts]]:
    """Check id -> (reason, does this resource declare it), over every plug-in."""
    return {check: (reason, DECLARATIONS[declaration]) for plugin in providers.plugins().values()
            for check, (declaration, reason) in plugin.checkov_accepted.items()}


def scanned(target: str) -> bool:
    """Whether checkov scans the stacks a plug-in builds (local-cloud stacks hold nothing checkov knows)."""
    return providers.plugin(target).checkov


def accept_declared(report: CheckovReport, outdir: Path, services: list[Service], profile: Profile,
                    stacks: dict[str, str]) -> None:
    """Move findings the model or profile asks for explicitly from `failed` to `accepted`."""
    by_address = {r.address: r for service in services for r in service}
    accepted = model_accepted()
    still_failing = []
    for finding in report.failed:
        rule = accepted.get(finding.check_id)
        if rule is None:
            still_failing.append(finding)
            continue
        address = neutral_address(outdir, finding.stack, finding.resource)
        resource = by_address.get(address) if address else None
        if rule[1](resource, profile, stacks.get(finding.stack, "")):
            report.accepted.append((finding, f"{address or finding.resource} {rule[0]}"))
        else:
            still_failing.append(finding)
    report.failed = still_failing


@dataclass
class CheckResult:
    """Everything `platform check` found for one environment."""

    env: str
    stacks: dict[str, str] = field(default_factory=dict)  # stack -> target
    guardrails: list[Violation] = field(default_factory=list)
    unused_waivers: list[Waiver] = field(default_factory=list)
    checkov: CheckovReport | None = None
    conformance: ConformanceReport | None = None

    @property
    def failing_guardrails(self) -> list[Violation]:
        return [v for v in self.guardrails if not v.waived]

    @property
    def passed(self) -> bool:
        checkov_ok = self.checkov is None or (not self.checkov.failed and not self.checkov.parsing_errors)
        conformance_ok = self.conformance is None or self.conformance.passed
        return not self.failing_guardrails and checkov_ok and conformance_ok

    def rows(self, accepted: bool = False) -> list[tuple[str, str, str, str]]:
        """(check id, resource, result, detail) of every finding: failures, then waivers (then acceptances)."""
        rows = [(v.rule, v.resource, v.status, v.message) for v in self.failing_guardrails]
        if self.conformance is not None:
            rows += [("conformance.missing", f.function, "failed", str(f)) for f in self.conformance.missing]
            rows += [(v.rule, v.resource, v.status, v.message) for v in self.conformance.exposures if not v.waived]
        if self.checkov is not None:
            rows += [(f.check_id, f"{f.stack}/{f.resource}", "failed", f.name) for f in self.checkov.failed]
        rows += [(v.rule, v.resource, v.status, v.waiver_reason or "") for v in self.guardrails if v.waived]
        if self.conformance is not None:
            rows += [(v.rule, v.resource, v.status, f"{v.message} ({v.waiver_reason})")
                     for v in self.conformance.exposures if v.waived]
        if accepted and self.checkov is not None:
            rows += [(f.check_id, f"{f.stack}/{f.resource}", "accepted", reason) for f, reason in self.checkov.accepted]
        return rows

    def to_json(self) -> dict[str, Any]:
        return {
            "environment": self.env,
            "passed": self.passed,
            "stacks": self.stacks,
            "guardrails": [v.to_json() for v in self.guardrails],
            "unused_waivers": [{"rule": w.rule, "resource": w.resource, "expires": w.expires.isoformat()}
                               for w in self.unused_waivers],
            "checkov": self.checkov.to_json() if self.checkov is not None else None,
            "conformance": self.conformance.to_json() if self.conformance is not None else None,
        }


def security_check(project: Project, env: Environment, services: list[Service], profile: Profile | None = None,
                   *, run_checkov_scan: bool = True, today: date | None = None,
                   log: Callable[[str], None] | None = None) -> CheckResult:
    """Synthesize `env` into a temporary folder, run every guardrail (waivers applied), the conformance analysis
    (exposure waivers applied) and checkov over the stacks of the plug-ins that ask for it
    (`CloudPlugin.checkov`). Nothing in cdktf.out is touched."""
    profile = profile or Profile()
    scratch = Path(tempfile.mkdtemp(prefix=f"platform-check-{env.name}-"))
    try:
        # Guardrails and the conformance analysis are evaluated below (all of them, not stopping at the first
        # failing synth step).
        quiet = dataclasses.replace(profile, guardrails=[])
        synth = synthesize(project, env, services, profile=quiet, outdir=scratch / env.name, conformance=False)
        stacks = {name: info.target for name, info in sorted(synth.stacks.items())}
        violations = check_model(env, services, synth.placements, profile, today)
        violations += check_stacks(env, synth.outdir, list(stacks), profile, today)
        conformance = examine_env(env, synth.outdir, synth.stacks, synth.placements, today)
        result = CheckResult(env.name, stacks, violations, unused_waivers(env, violations + conformance.exposures),
                             conformance=conformance)
        if run_checkov_scan:
            files = [stack_file(synth.outdir, name) for name, target in stacks.items() if scanned(target)]
            skips = load_skips(project.root)
            report = run_checkov(ensure_checkov(project.cache_dir, log=log), files, skips) if files \
                else CheckovReport()
            report.skipped = skips
            accept_declared(report, synth.outdir, services, profile, stacks)
            result.checkov = report
        return result
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
