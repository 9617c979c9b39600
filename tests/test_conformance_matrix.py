"""The matrix: every grant kind x trigger kind x cloud x placement, synthesized through the real pipeline, yields
exactly the known faults of today's compilers and nothing else.

The known faults (fixed by later issues; until then these findings are expected, and asserted):
And one the analysis found that no issue lists yet:
- X.1   an AWS function cannot sign URLs for a GCS bucket it reaches through workload identity federation
        (the runtime signs with a service account; a federated AWS identity has none).
Fixed, and asserted absent (any finding of theirs is "unexpected"): 13.1 (a Lambda function in the VPC for its
database had no network path to S3), 14.1 (a function behind a CDN was reachable
around it), 14.3 (GCP `writes` could not overwrite or
delete), 14.4 (GCP signed URLs could not be signed), 14.5 (public function URLs invocable by any principal).
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from platform_sdk.conformance import MISSING, Finding, examine
from tests.conformance_estates import ENVIRONMENTS, OTHER_ACCOUNT, matrix

TAGS = (  # fault -> what its findings say
    ("X.1", MISSING, r"a way to sign URLs for AWS role \S+ \(workload identity federation\)"),
)
READ = ("get", "head", "list", "signed_url_get")
WRITE = ("put", "overwrite", "delete", "signed_url_put")


def tag(finding: Finding) -> str:
    for name, kind, pattern in TAGS:
        if finding.kind == kind and re.search(pattern, finding.missing):
            return name
    return "unexpected"


def aws_app() -> set[tuple[str, str, str, str]]:
    # 13.1 (a VPC function without a path to S3) is fixed: app.vpcfiles reaches its bucket through the gateway;
    # app.edge is behind a CDN: its URL admits only CloudFront (14.1 fixed), so no exposure applies to it
    expected: set[tuple[str, str, str, str]] = set()
    return expected


def gcp_app() -> set[tuple[str, str, str, str]]:
    return set()  # app.edge's ingress admits only the load balancer (14.1 fixed)


def aws_to_gcs() -> set[tuple[str, str, str, str]]:
    """app.remote on AWS reaching the store's buckets on GCP."""
    expected = {("app.remote", "reads(store.shared-r)", "bucket.signed_url_get", "X.1"),
                ("app.remote", "writes(store.shared-w)", "bucket.signed_url_put", "X.1"),
                ("app.remote", "reads_writes(store.shared-rw)", "bucket.signed_url_get", "X.1"),
                ("app.remote", "reads_writes(store.shared-rw)", "bucket.signed_url_put", "X.1")}
    return expected


EXPECTED = {
    "aws": aws_app(),
    "gcp": gcp_app(),
    "aws-gcp": aws_app() | aws_to_gcs(),
    "gcp-aws": gcp_app(),
}


@pytest.mark.parametrize("env_name", sorted(ENVIRONMENTS))
def test_matrix_finds_exactly_the_known_faults(env_name: str) -> None:
    synthesized = matrix(env_name)
    analysis = examine(synthesized.outdir, synthesized.placements, synthesized.stacks)
    found = {(f.function, f.cause, f.operation, tag(f)) for f in analysis.findings}
    unexpected = sorted(str(f) for f in analysis.findings if tag(f) == "unexpected")
    assert not unexpected, "\n".join(unexpected)
    missing = EXPECTED[env_name] - found
    extra = found - EXPECTED[env_name]
    assert not missing and not extra, f"not found: {sorted(missing)}\nnot expected: {sorted(extra)}"
    assert not analysis.unverified


@pytest.mark.parametrize("env_name", sorted(ENVIRONMENTS))
def test_every_declared_operation_was_examined(env_name: str) -> None:
    """The analysis relied on evidence for every grant, trigger and CDN of every function on a cloud, so a clean
    result is a proof, not silence."""
    synthesized = matrix(env_name)
    analysis = examine(synthesized.outdir, synthesized.placements, synthesized.stacks)
    examined = Counter(ev.need.split(" -> ")[1] for ev in analysis.evidence)
    operations = {"bucket.get", "bucket.head", "bucket.list", "bucket.put", "bucket.overwrite", "bucket.delete",
                  "database.connect", "events.deliver", "scheduler.invoke", "http.invoke", "cdn.fetch_get",
                  "cdn.fetch_post"}
    assert operations <= set(examined), operations - set(examined)
    if env_name in ("aws-gcp", "gcp-aws"):
        assert examined["federation.token_exchange"] >= 3
    needs = {ev.need for ev in analysis.evidence} | {f"{f.function}: {f.cause} -> {f.operation}"
                                                     for f in analysis.findings}
    by_function = Counter(need.split(":")[0] for need in needs)
    assert set(by_function) == {"app.reader", "app.writer", "app.both", "app.events", "app.edge", "app.dbuser",
                                "app.vpcfiles", "app.remote", "client.dbclient"}


def test_cross_stack_references_resolve_to_the_producer() -> None:
    """The function's policy names the other stack's bucket through terraform_remote_state; the evidence says so."""
    synthesized = matrix("aws")
    analysis = examine(synthesized.outdir, synthesized.placements, synthesized.stacks)
    get = [ev for ev in analysis.evidence if ev.need == "app.remote: reads(store.shared-r) -> bucket.get"
           and ev.what.startswith("s3:GetObject")]
    assert [ev.what for ev in get] == ["s3:GetObject on arn:aws:s3:::acme-aws-store-shared-r/* for role "
                                       "acme-aws-app-remote"]
    doc = synthesized.documents()["aws-app-aws"]
    assert "terraform_remote_state" in doc["data"]


@pytest.mark.parametrize("env_name", ["aws-gcp", "gcp-aws"])
def test_cross_cloud_grants_are_checked_on_the_resource_cloud(env_name: str) -> None:
    synthesized = matrix(env_name)
    analysis = examine(synthesized.outdir, synthesized.placements, synthesized.stacks)
    federation = [ev.what for ev in analysis.evidence
                  if ev.need == "app.remote: reads(store.shared-r) -> federation.token_exchange"]
    if env_name == "aws-gcp":
        assert any(f"trusts AWS account {OTHER_ACCOUNT}" in what for what in federation), federation
        assert any("sts.googleapis.com is enabled" in what for what in federation), federation
    else:
        assert any("trusts the function's Google identity" in what for what in federation), federation
