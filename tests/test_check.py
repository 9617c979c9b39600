"""`platform check`: guardrails and a real checkov run over a scratch synth; nothing in cdktf.out is touched."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from platform_sdk.cli import app
from platform_sdk.errors import PlatformError
from platform_sdk.gate.checkov import (
    CHECKOV_SPEC,
    SDK_SKIPS,
    ensure_checkov,
    load_skips,
    parse_skip_file,
    run_checkov,
    tool_dir,
)
from tests.conftest import REPO

runner = CliRunner()

@pytest.fixture(autouse=True)
def shared_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    """One checkov install for every throwaway estate (the repo's own .platform/tools), made by `make test-tools`.

    No test installs it (that took minutes inside whichever test came first): without it, a test that needs it
    skips, and fails in CI.
    """
    monkeypatch.setenv("PLATFORM_TOOLS_DIR", str(REPO / ".platform" / "tools"))


@pytest.fixture
def checkov_installed() -> None:
    marker = tool_dir(REPO / ".platform") / ".platform-installed"
    if not (marker.is_file() and marker.read_text().strip() == CHECKOV_SPEC):
        pytest.skip(f"{CHECKOV_SPEC} is not installed in {marker.parent}: run `make test-tools`")


def check(estate: Path, env: str, *extra: str) -> tuple[int, str]:
    result = runner.invoke(app, ["check", "--env", env, "--project", str(estate), *extra])
    return result.exit_code, result.stdout if "--json" in extra else result.output  # warnings go to stderr


def test_skip_list_entries_all_have_reasons(tmp_path: Path) -> None:
    skips = parse_skip_file(REPO / ".checkov.yaml")
    assert skips and all(len(reason) > 15 for reason in skips.values())
    assert all(len(reason) > 15 for reason in SDK_SKIPS.values())
    bad = tmp_path / ".checkov.yaml"
    bad.write_text("framework: terraform_json\nskip-check:\n  - CKV_AWS_1  # a good reason here\n  - CKV_AWS_2\n")
    with pytest.raises(PlatformError) as err:
        parse_skip_file(bad)
    assert err.value.line == 4 and "reason" in str(err.value)
    assert load_skips(tmp_path.parent) == SDK_SKIPS


def test_check_local_has_nothing_for_checkov_and_passes(estate: Path) -> None:
    code, output = check(estate, "local", "--json")
    assert code == 0, output
    doc = json.loads(output)
    assert doc["passed"] and doc["guardrails"] == [] and doc["checkov"]["failed"] == []
    assert set(doc["stacks"].values()) == {"local"}
    assert not (estate / "cdktf.out").exists(), "check synthesizes into a scratch folder"


def test_check_reports_a_guardrail_violation_and_exits_1(estate: Path) -> None:
    env = estate / "envs" / "staging.toml"
    env.write_text(env.read_text().replace('"web" = "gcp"', '"web" = "gcp"\n\n[overrides."thumbnails.resize"]\n'
                                                           'memory = 8192'))
    code, output = check(estate, "staging", "--no-checkov")
    assert code == 1, output
    assert "function.limits" in output and "thumbnails.resize" in output and "check staging: failed" in output
    env.write_text(env.read_text() + textwrap.dedent("""
        [[waivers]]
        rule = "function.limits"
        resource = "thumbnails.*"
        reason = "panorama originals need 8 GB until the tiling change ships"
        expires = 2099-12-31
    """))
    code, output = check(estate, "staging", "--no-checkov", "--json")
    doc = json.loads(output)
    limits = [v for v in doc["guardrails"] if v["rule"] == "function.limits"]
    assert limits and all(v["status"] == "waived" for v in limits)
    assert all(v["rule"] != "function.limits" for v in doc["guardrails"] if v["status"] == "failed")


def test_checkov_reads_cdktf_json_as_it_is(estate: Path, tmp_path: Path, checkov_installed: None) -> None:
    """cdk.tf.json with its `//` metadata keys, no renaming: the terraform_json framework parses it."""
    stack = tmp_path / "s" / "cdk.tf.json"
    stack.parent.mkdir()
    stack.write_text(json.dumps({
        "//": {"metadata": {"stackName": "s", "version": "0.21.0"}},
        "provider": {"aws": [{"region": "eu-west-1"}]},
        "resource": {"aws_iam_role_policy": {"p": {
            "//": {"metadata": {"path": "s/p"}}, "role": "r",
            "policy": json.dumps({"Version": "2012-10-17",
                                  "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})}}},
    }, indent=2))
    report = run_checkov(ensure_checkov(estate / ".platform"), [stack])
    assert report.passed + len(report.failed) > 0 and report.parsing_errors == 0
    assert {"CKV_AWS_62", "CKV_AWS_63"} <= {f.check_id for f in report.failed}
    assert all(f.stack == "s" and f.resource == "aws_iam_role_policy.p" for f in report.failed)


def test_platform_check_prod_passes_on_the_example_estate(estate: Path, checkov_installed: None) -> None:
    """The real gate: synth prod, guardrails, checkov over every AWS/GCP stack (slow: a real checkov run)."""
    shutil.copy(REPO / ".checkov.yaml", estate / ".checkov.yaml")
    (estate / "cdktf.out").mkdir()
    marker = estate / "cdktf.out" / "keep.txt"
    marker.write_text("untouched")
    code, output = check(estate, "prod", "--json")
    doc = json.loads(output)
    assert marker.read_text() == "untouched" and sorted(p.name for p in (estate / "cdktf.out").iterdir()) == [
        "keep.txt"]
    assert doc["checkov"]["version"].startswith("3.") and doc["checkov"]["parsing_errors"] == 0
    assert sorted(doc["checkov"]["stacks"]) == ["prod-auth-aws", "prod-base-aws", "prod-base-gcp",
                                                "prod-notifications-aws", "prod-thumbnails-aws", "prod-web-gcp"]
    assert doc["checkov"]["passed"] > 50
    accepted = {(a["check_id"], a["reason"].split(" ")[0]) for a in doc["checkov"]["accepted"]}
    assert ("CKV_AWS_258", "thumbnails.on-demand") in accepted, "public by declaration is accepted per resource"
    assert doc["checkov"]["failed"] == [], "checkov findings are fixed in the compilers, not skipped"
    assert [v for v in doc["guardrails"] if v["status"] == "failed"] == []
    assert code == 0 and doc["passed"], output


def test_the_platforms_own_resources_are_accepted_or_skipped_with_a_reason() -> None:
    """A tester's protected estate failed `platform check` on resources the platform makes itself: a CDN's
    Lambda@Edge function outside a VPC (CKV_AWS_117, which AWS requires), queues' Pub/Sub topics without a CSEK while
    the profile names no KMS key (CKV_GCP_83), the AWS-federation workload identity provider read as GitHub's
    (CKV_GCP_125), a CloudFront distribution without geo restriction (CKV_AWS_374)."""
    from platform_sdk.gate import model_accepted
    from platform_sdk.model import Cdn, Function, Service, http
    from platform_sdk.profile import Profile

    accepted = model_accepted()
    service = Service("shop")
    edge_owner = service.add(Cdn("cdn", origin=service.add(Function("api", handler="a.h", source="src",
                                                                          triggers=[http()]))))
    assert accepted["CKV_AWS_117"][1](edge_owner, Profile(), "aws")  # the finding on the CDN's own function
    assert accepted["CKV_GCP_83"][1](None, Profile(), "gcp") and "KMS" in accepted["CKV_GCP_83"][0]
    assert not accepted["CKV_GCP_83"][1](None, Profile(kms_keys={"gcp": "projects/p/keys/k"}), "gcp")
    assert {"CKV_GCP_125", "CKV_AWS_374"} <= set(SDK_SKIPS)
