"""The security gate behind `platform check`: synthesize into a scratch folder, then guardrails and checkov.

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

from platform_sdk.guardrails.checkov import CheckovReport, ensure_checkov, load_skips, run_checkov
from platform_sdk.guardrails.core import Violation, neutral_address, stack_file, unused_waivers
from platform_sdk.guardrails.rulesets import check_model, check_stacks
from platform_sdk.model import Bucket, Cdn, Database, Function, HttpTrigger
from platform_sdk.profile import Profile
from platform_sdk.synth.app import synthesize

if TYPE_CHECKING:
    from platform_sdk.envs import Environment, Waiver
    from platform_sdk.model import Resource, Service
    from platform_sdk.project import Project

CHECKOV_TARGETS = ("aws", "gcp")  # local-cloud stacks hold only localcloud_* resources: nothing for checkov


def _public_function(resource: Resource | None, profile: Profile, cloud: str) -> bool:
    return isinstance(resource, Function) and any(t.public for t in resource.trigger_of(HttpTrigger))


def _function_without_database(resource: Resource | None, profile: Profile, cloud: str) -> bool:
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
# a KMS key in the profile that a compiler ignores).
PUBLIC_FUNCTION = ("is declared public: http(public=True)", _public_function)
NO_KMS_KEY = ("cloud-managed encryption: the profile sets no KMS key for this cloud (Profile.kms_keys)", _no_kms_key)
MODEL_ACCEPTED: dict[str, tuple[str, Accepts]] = {
    "CKV_AWS_258": PUBLIC_FUNCTION,  # Lambda function URL AuthType NONE
    "CKV_AWS_301": PUBLIC_FUNCTION,  # Lambda invokable by everyone
    "CKV_GCP_102": PUBLIC_FUNCTION,  # Cloud Run service invokable by allUsers
    "CKV_GCP_107": PUBLIC_FUNCTION,  # Cloud Function invokable by allUsers
    "CKV_GCP_124": PUBLIC_FUNCTION,  # ingress ALLOW_ALL
    "CKV_AWS_117": ("uses no database, so it runs outside the VPC and reaches only AWS APIs",
                    _function_without_database),
    "CKV2_AWS_42": ("is declared without a domain: served on the CDN's own name and certificate", _cdn_without_domain),
    "CKV_AWS_174": ("is declared without a domain: the default CloudFront certificate fixes the TLS policy",
                    _cdn_without_domain),
    "CKV_AWS_21": ("is declared without versioning: Bucket(versioning=True) turns it on", _unversioned_bucket),
    "CKV_GCP_78": ("is declared without versioning: Bucket(versioning=True) turns it on", _unversioned_bucket),
    "CKV_AWS_145": NO_KMS_KEY,  # S3 default encryption with KMS
    "CKV_AWS_158": NO_KMS_KEY,  # CloudWatch log group KMS
    "CKV_AWS_173": NO_KMS_KEY,  # Lambda environment KMS
    "CKV_AWS_354": NO_KMS_KEY,  # RDS Performance Insights KMS
    "CKV_AWS_157": ("is declared without high availability (production rules require it in protected "
                    "environments)", _single_zone_database),
    "CKV_AWS_338": ("keeps logs for the profile's retention (Profile.log_retention_days < 365)", _short_retention),
}


def accept_declared(report: CheckovReport, outdir: Path, services: list[Service], profile: Profile,
                    stacks: dict[str, str]) -> None:
    """Move findings the model or profile asks for explicitly from `failed` to `accepted`."""
    by_address = {r.address: r for service in services for r in service}
    still_failing = []
    for finding in report.failed:
        rule = MODEL_ACCEPTED.get(finding.check_id)
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

    @property
    def failing_guardrails(self) -> list[Violation]:
        return [v for v in self.guardrails if not v.waived]

    @property
    def passed(self) -> bool:
        checkov_ok = self.checkov is None or (not self.checkov.failed and not self.checkov.parsing_errors)
        return not self.failing_guardrails and checkov_ok

    def rows(self, accepted: bool = False) -> list[tuple[str, str, str, str]]:
        """(check id, resource, result, detail) of every finding: failures, then waivers (then acceptances)."""
        rows = [(v.rule, v.resource, v.status, v.message) for v in self.failing_guardrails]
        if self.checkov is not None:
            rows += [(f.check_id, f"{f.stack}/{f.resource}", "failed", f.name) for f in self.checkov.failed]
        rows += [(v.rule, v.resource, v.status, v.waiver_reason or "") for v in self.guardrails if v.waived]
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
        }


def security_check(project: Project, env: Environment, services: list[Service], profile: Profile | None = None,
                   *, run_checkov_scan: bool = True, today: date | None = None,
                   log: Callable[[str], None] | None = None) -> CheckResult:
    """Synthesize `env` into a temporary folder, run every guardrail (waivers applied) and checkov over the
    AWS/GCP stacks. Nothing in cdktf.out is touched."""
    profile = profile or Profile()
    scratch = Path(tempfile.mkdtemp(prefix=f"platform-check-{env.name}-"))
    try:
        # Guardrails are evaluated below (all of them, not stopping at the first failing synth step).
        quiet = dataclasses.replace(profile, guardrails=[])
        synth = synthesize(project, env, services, profile=quiet, outdir=scratch / env.name)
        stacks = {name: info.target for name, info in sorted(synth.stacks.items())}
        violations = check_model(env, services, synth.placements, profile, today)
        violations += check_stacks(env, synth.outdir, list(stacks), profile, today)
        result = CheckResult(env.name, stacks, violations, unused_waivers(env, violations))
        if run_checkov_scan:
            files = [stack_file(synth.outdir, name) for name, target in stacks.items() if target in CHECKOV_TARGETS]
            skips = load_skips(project.root)
            report = run_checkov(ensure_checkov(project.cache_dir, log=log), files, skips) if files \
                else CheckovReport()
            report.skipped = skips
            accept_declared(report, synth.outdir, services, profile, stacks)
            result.checkov = report
        return result
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
