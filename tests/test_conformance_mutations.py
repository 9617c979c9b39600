"""Generated mutations: every piece of evidence the analysis relied on in the matrix estates — each permission
(a policy statement's action, a binding, a custom role's entry), endpoint, egress and ingress rule, invoke
permission, `depends_on` entry and environment variable — is removed from the synthesized JSON, one piece at a
time, and the analysis must then report a new finding for a need that relied on it.

Nothing is listed by hand: the mutations are the evidence the analysis recorded. A piece the analysis can do
without (a second statement granting the same action) is recorded as an alternative of the same evidence, and
the alternatives are removed together.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

import pytest

from platform_sdk.conformance import Analysis, examine
from platform_sdk.tfjson import Estate, Location, remove
from tests.conformance_estates import ENVIRONMENTS, Synthesized, encrypted, matrix


def _order(location: Location) -> tuple[Any, ...]:
    """Remove later list items first, so earlier indexes stay valid."""
    def key(parts: tuple[str | int, ...]) -> tuple[tuple[int, Any], ...]:
        return tuple((0, p) if isinstance(p, int) else (1, p) for p in parts)
    return (location.stack, key(location.path), key(location.inner))


def without(documents: dict[str, Any], locations: tuple[Location, ...]) -> dict[str, Any]:
    changed = documents
    for location in sorted(locations, key=_order, reverse=True):
        with contextlib.suppress(KeyError, IndexError):  # inside something already removed
            changed = remove(changed, location)
    return changed


def analyse(synthesized: Synthesized, documents: dict[str, Any], only: set[str] | None = None) -> Analysis:
    return examine(Estate(documents, synthesized.stacks), synthesized.placements, only=only)


def mutations(analysis: Analysis) -> dict[tuple[Location, ...], set[str]]:
    """Each distinct set of alternative locations, with the needs that relied on it."""
    found: dict[tuple[Location, ...], set[str]] = {}
    for evidence in analysis.evidence:
        if evidence.locations:
            found.setdefault(tuple(sorted(evidence.locations, key=str)), set()).add(evidence.need)
    return found


ESTATES = [*(("matrix", env) for env in sorted(ENVIRONMENTS)), ("encrypted", "aws"), ("encrypted", "gcp")]


@pytest.mark.parametrize(("estate", "env_name"), ESTATES)
def test_removing_any_piece_of_evidence_is_caught(estate: str, env_name: str) -> None:
    synthesized = matrix(env_name) if estate == "matrix" else encrypted(env_name)
    documents = synthesized.documents()
    baseline = analyse(synthesized, documents)
    before = {str(finding) for finding in baseline.findings}
    generated = mutations(baseline)
    assert len(generated) >= (50 if estate == "matrix" else 10), len(generated)
    missed = []
    for locations, needs in generated.items():
        functions = {need.split(":")[0] for need in needs}
        after = analyse(synthesized, without(documents, locations), only=functions)
        caught = [f for f in after.findings if str(f) not in before
                  and f"{f.function}: {f.cause} -> {f.operation}" in needs]
        if not caught:
            missed.append(f"{', '.join(map(str, locations))} (relied on by {sorted(needs)[0]})")
    assert not missed, f"{len(missed)} of {len(generated)} removals went unnoticed:\n" + "\n".join(missed)


def test_the_mutations_cover_every_kind_of_evidence() -> None:
    """Across the matrix, the generated mutations take away each kind of provision the analysis reads."""
    kinds: set[str] = set()
    for estate, env_name in ESTATES:
        synthesized = matrix(env_name) if estate == "matrix" else encrypted(env_name)
        for locations in mutations(analyse(synthesized, synthesized.documents())):
            for location in locations:
                kinds.add(location.path[1] if len(location.path) == 3 or location.path[1] in (
                    "aws_iam_role_policy", "google_project_iam_custom_role") else
                    f"{location.path[1]}.{location.path[3]}")
    expected = {
        "aws_iam_role_policy",  # statements' actions: S3, rds-db:connect, ENI
        "aws_lambda_permission", "aws_s3_bucket_notification.lambda_function",
        "aws_cloudwatch_event_target", "aws_cloudwatch_event_rule", "aws_lambda_function_url",
        "aws_lambda_function.depends_on", "aws_s3_bucket_notification.depends_on",
        "aws_lambda_function.environment",
        "aws_vpc_endpoint", "aws_vpc_security_group_egress_rule", "aws_vpc_security_group_ingress_rule",
        "aws_cloudfront_distribution.origin", "aws_cloudfront_distribution.default_cache_behavior",
        "google_storage_bucket_iam_member", "google_project_iam_member", "google_cloud_run_service_iam_member",
        "google_sql_user.name", "aws_lambda_invocation.input",
        "aws_db_instance.iam_database_authentication_enabled", "google_project_service", "google_cloud_scheduler_job",
        "google_cloudfunctions2_function.event_trigger",
        "google_cloudfunctions2_function.service_config", "google_compute_region_network_endpoint_group",
        "google_compute_backend_service", "google_iam_workload_identity_pool_provider.aws",
        "google_iam_workload_identity_pool_provider.attribute_mapping", "aws_iam_role.assume_role_policy",
        "google_kms_crypto_key_iam_member", "google_project_iam_custom_role", "google_service_account_iam_member",
    }
    assert expected <= kinds, sorted(expected - kinds)


def test_a_stack_not_applied_after_its_base_is_caught() -> None:
    """The base stack enables the APIs and binds the Cloud Storage agent that object-created triggers and schedules
    need when they are created: a service stack that does not depend on it would be applied too early."""
    synthesized = matrix("gcp")
    baseline = analyse(synthesized, synthesized.documents())
    assert any(ev.what == "stack gcp-app-gcp is applied after gcp-base-gcp" for ev in baseline.evidence)
    stacks = {name: dataclasses.replace(info, dependencies=[d for d in info.dependencies if d != "gcp-base-gcp"])
              for name, info in synthesized.stacks.items()}
    after = examine(Estate(synthesized.documents(), stacks), synthesized.placements)
    new = sorted({str(f) for f in after.findings} - {str(f) for f in baseline.findings})
    assert "app.events: object_created(inbox) -> events.deliver: missing a dependency of stack gcp-app-gcp on " \
           "gcp-base-gcp (Eventarc refuses to create the trigger while the agent cannot publish)" in new
    assert any(text.startswith("app.both: schedule('0 3 * * *') -> scheduler.invoke: missing a dependency of stack "
                               "gcp-app-gcp on gcp-base-gcp (cloudscheduler.googleapis.com must be enabled")
               for text in new), new
