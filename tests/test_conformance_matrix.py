"""The matrix: every grant kind x trigger kind x cloud x placement, synthesized through the real pipeline, yields
exactly the known faults of today's compilers and nothing else.

The known faults (fixed by later issues; until then these findings are expected, and asserted):
- 14.1  a function behind a CDN is also reachable around it (public function URL / allUsers + ALLOW_ALL);
- 14.3  GCP `writes(bucket)` (objectCreator) lacks storage.objects.delete: no overwrite, no delete;
- 14.4  GCP `signed_url()` signs through signBlob with no grant on the function's own account and the IAM
        Credentials API not enabled;
- 14.5  a public function URL grants lambda:InvokeFunction to "*" without invoked_via_function_url.
And one the analysis found that no issue lists yet:
- X.1   an AWS function cannot sign URLs for a GCS bucket it reaches through workload identity federation
        (the runtime signs with a service account; a federated AWS identity has none).
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from platform_sdk.conformance import EXPOSURE, MISSING, Finding, examine
from tests.conformance_estates import ENVIRONMENTS, matrix

TAGS = (  # fault -> what its findings say
    ("14.1", EXPOSURE, r"it can be reached around app\.edge-cdn"),
    ("14.3", MISSING, r"^storage\.objects\.delete on bucket"),
    ("14.4", MISSING, r"iam\.serviceAccounts\.signBlob on service account|enabling iamcredentials\.googleapis\.com"),
    ("14.5", EXPOSURE, r"lambda:InvokeFunction for every principal \('\*'\) without invoked_via_function_url"),
    ("X.1", MISSING, r"a way to sign URLs for AWS role \S+ \(workload identity federation\)"),
)
READ = ("get", "head", "list", "signed_url_get")
WRITE = ("put", "overwrite", "delete", "signed_url_put")
APP_ON = {"aws": "aws", "gcp": "gcp", "aws-gcp": "aws", "gcp-aws": "gcp"}


def tag(finding: Finding) -> str:
    for name, kind, pattern in TAGS:
        if finding.kind == kind and re.search(pattern, finding.missing):
            return name
    return "unexpected"


def aws_app() -> set[tuple[str, str, str, str]]:
    # 13.1 (a VPC function without a path to S3) is fixed: app.vpcfiles reaches its bucket through the gateway.
    expected = {(f"app.{fn}", "http()", "http.invoke", "14.5") for fn in ("reader", "edge", "remote")}
    expected.add(("app.edge", "http()", "http.invoke", "14.1"))
    return expected


def gcp_app(remote_on_gcp: bool) -> set[tuple[str, str, str, str]]:
    grants = [("reader", "reads(r)"), ("writer", "writes(w)"), ("both", "reads_writes(rw)"),
              ("events", "reads(inbox)"), ("events", "writes(w)"), ("vpcfiles", "reads_writes(rw)")]
    if remote_on_gcp:
        grants += [("remote", "reads(store.shared-r)"), ("remote", "writes(store.shared-w)"),
                   ("remote", "reads_writes(store.shared-rw)")]
    expected = set()
    for fn, cause in grants:
        ops = READ if cause.startswith("reads(") else WRITE if cause.startswith("writes(") else READ + WRITE
        expected |= {(f"app.{fn}", cause, f"bucket.{op}", "14.4") for op in ops if op.startswith("signed_url")}
        if cause.startswith("writes("):
            expected |= {(f"app.{fn}", cause, f"bucket.{op}", "14.3") for op in ("overwrite", "delete",
                                                                               "signed_url_put")}
    expected.add(("app.edge", "http()", "http.invoke", "14.1"))
    return expected


def aws_to_gcs() -> set[tuple[str, str, str, str]]:
    """app.remote on AWS reaching the store's buckets on GCP."""
    expected = {("app.remote", "reads(store.shared-r)", "bucket.signed_url_get", "X.1"),
                ("app.remote", "writes(store.shared-w)", "bucket.signed_url_put", "X.1"),
                ("app.remote", "reads_writes(store.shared-rw)", "bucket.signed_url_get", "X.1"),
                ("app.remote", "reads_writes(store.shared-rw)", "bucket.signed_url_put", "X.1")}
    expected |= {("app.remote", "writes(store.shared-w)", f"bucket.{op}", "14.3")
                 for op in ("overwrite", "delete", "signed_url_put")}
    return expected


EXPECTED = {
    "aws": aws_app(),
    "gcp": gcp_app(remote_on_gcp=True),
    "aws-gcp": aws_app() | aws_to_gcs(),
    "gcp-aws": gcp_app(remote_on_gcp=False),
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
        assert any("trusts AWS account 333333333333" in what for what in federation), federation
        assert any("sts.googleapis.com is enabled" in what for what in federation), federation
    else:
        assert any("trusts the function's Google identity" in what for what in federation), federation
