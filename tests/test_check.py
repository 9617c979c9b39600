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
from platform_sdk.guardrails.checkov import SDK_SKIPS, ensure_checkov, load_skips, parse_skip_file, run_checkov
from tests.conftest import REPO

runner = CliRunner()

# Checkov findings that come from compiler output and are reported to the compiler owners (not skipped). While only
# these remain, the estate test xfails naming them; once fixed it passes. Delete an entry when it is fixed.
PENDING_COMPILER_FIXES = {
    "CKV2_AWS_30": "AWS database: a parameter group with query logging (log_min_duration_statement)",
    "CKV_AWS_129": "AWS database: enabled_cloudwatch_logs_exports (postgresql, upgrade / mysql error, slowquery)",
    "CKV_AWS_161": "AWS database: iam_database_authentication_enabled = true",
    "CKV_AWS_353": "AWS database: performance_insights_enabled = true",
    "CKV2_AWS_32": "AWS CDN: attach a response headers policy (the managed SecurityHeadersPolicy)",
    "CKV2_AWS_61": "AWS bucket: a lifecycle rule on every bucket (abort incomplete multipart uploads)",
    "CKV_GCP_78": "GCP function packages bucket: versioning on (objects are content-addressed, so it costs nothing)",
    "CKV_AWS_117": "AWS function: functions with a database grant run in the VPC",
}


@pytest.fixture(autouse=True)
def shared_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    """One checkov install for every throwaway estate (the repo's own .platform/tools)."""
    monkeypatch.setenv("PLATFORM_TOOLS_DIR", str(REPO / ".platform" / "tools"))


def check(estate: Path, env: str, *extra: str) -> tuple[int, str]:
    result = runner.invoke(app, ["check", "--env", env, "--project", str(estate), *extra])
    return result.exit_code, result.output


def test_skip_list_entries_all_have_reasons(tmp_path: Path) -> None:
    skips = parse_skip_file(REPO / ".checkov.yaml")
    assert skips and all(len(reason) > 15 for reason in skips.values())
    assert all(len(reason) > 15 for reason in SDK_SKIPS.values())
    assert not set(PENDING_COMPILER_FIXES) & (set(skips) | set(SDK_SKIPS)), "compiler gaps are fixed, not skipped"
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


def test_checkov_reads_cdktf_json_as_it_is(estate: Path, tmp_path: Path) -> None:
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


def test_platform_check_prod_passes_on_the_example_estate(estate: Path) -> None:
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
    assert sorted(doc["checkov"]["stacks"]) == ["prod-auth-aws", "prod-thumbnails-aws", "prod-web-gcp"]
    assert doc["checkov"]["passed"] > 50
    accepted = {(a["check_id"], a["reason"].split(" ")[0]) for a in doc["checkov"]["accepted"]}
    assert ("CKV_AWS_258", "thumbnails.on-demand") in accepted, "public by declaration is accepted per resource"
    failed = {f["check_id"] for f in doc["checkov"]["failed"]}
    guardrails = [v for v in doc["guardrails"] if v["status"] == "failed"]
    unexpected = failed - set(PENDING_COMPILER_FIXES)
    assert not unexpected, f"checkov failures outside the skip list: {doc['checkov']['failed']}"
    assert all(v["rule"] == "iam.no-wildcards" and "AWSLambdaVPCAccessExecutionRole" in v["message"]
               for v in guardrails), guardrails
    if failed or guardrails:
        assert code == 1
        pytest.xfail("pending compiler fixes: " + "; ".join(PENDING_COMPILER_FIXES[c] for c in sorted(failed))
                     + ("; AWSLambdaVPCAccessExecutionRole attachment" if guardrails else ""))
    assert code == 0 and doc["passed"], output
