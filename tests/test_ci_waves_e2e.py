"""What the generated CI jobs run, through real Terraform on the local cloud: `platform plan --format markdown
--report`, then `platform apply --stack ... --expect` wave by wave; a plan that went stale since the review is
refused with nothing applied. Plus the pure comparison (terraform/expect.py) and the Markdown report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from platform_sdk.errors import PlatformError
from platform_sdk.terraform.expect import differences, load_expected
from platform_sdk.terraform.markdown import MARKER, render_markdown
from platform_sdk.terraform.report import ResourceChange, StackPlan, StackResult, report_json
from platform_sdk.terraform.schedule import CHANGES, NO_CHANGES, WAITING
from tests.terraform_fixtures import Cli, cli_fixture, make_project, state_resources, tf_binary_fixture

__all__ = ["cli_fixture", "tf_binary_fixture"]

WAVE_1 = ["local-notifications-aws", "local-thumbnails-aws", "local-web-gcp"]
WAVE_2 = ["local-auth-aws"]  # reads the notifications queue


def _stacks(names: list[str]) -> list[str]:
    return [w for name in names for w in ("--stack", name)]


@pytest.mark.e2e
def test_reviewed_plan_applied_wave_by_wave_and_a_stale_one_refused(tmp_path: Path, cli: Cli) -> None:
    project = make_project(tmp_path / "estate")
    report = tmp_path / "plan-local.json"
    planned = cli(project, "plan", "--env", "local", "--format", "markdown", "--report", str(report))
    assert planned.exit_code == 0, planned.stderr
    assert planned.stdout.startswith(MARKER) and "| `local-thumbnails-aws` |" in planned.stdout
    assert "planned after local-notifications-aws is applied" in planned.stdout
    reviewed = {s["name"]: s for s in json.loads(report.read_text())["stacks"]}
    assert reviewed["local-auth-aws"]["status"] == WAITING and reviewed["local-web-gcp"]["status"] == CHANGES

    # The code changed after the review: the wave's fresh plan differs, and nothing is applied.
    service = project / "services" / "thumbnails.py"
    original = service.read_text()
    service.write_text(original + "\nfrom platform_sdk import Bucket\nservice.add(Bucket(\"extra\"))\n")
    stale = cli(project, "apply", "--env", "local", *_stacks(WAVE_1), "--auto-approve", "--expect", str(report))
    assert stale.exit_code == 1
    assert "differs from the reviewed plan" in stale.stderr and "localcloud_bucket.extra" in stale.stderr
    assert state_resources(project) == {} or not any(state_resources(project).values())

    service.write_text(original)
    first = cli(project, "apply", "--env", "local", *_stacks(WAVE_1), "--auto-approve", "--expect", str(report))
    assert first.exit_code == 0, first.stderr
    applied = {name.removesuffix(".tfstate"): found for name, found in state_resources(project).items() if found}
    assert sorted(applied) == WAVE_1, "only the wave's stacks are applied"

    second = cli(project, "apply", "--env", "local", *_stacks(WAVE_2), "--auto-approve", "--expect", str(report))
    assert second.exit_code == 0, second.stderr  # it was waiting at review time: its plan could not exist then
    assert any("localcloud_function" in r for r in state_resources(project)["local-auth-aws.tfstate"])

    unknown = cli(project, "apply", "--env", "local", "--stack", "local-nope", "--auto-approve")
    assert unknown.exit_code == 2 and "no stack local-nope" in unknown.stderr


def _result(name: str, status: str, *changes: tuple[str, str]) -> StackResult:
    result = StackResult(name=name, service="s", cloud="aws", target="aws", status=status)
    result.plan = StackPlan([ResourceChange(address, "aws_s3_bucket", action) for action, address in changes])
    return result


def test_differences_from_the_reviewed_plan() -> None:
    reviewed = {s["name"]: s for s in report_json("dev", "plan", [
        _result("a", CHANGES, ("create", "aws_s3_bucket.x")),
        _result("b", NO_CHANGES),
        _result("c", WAITING),
    ])["stacks"]}
    assert differences([_result("a", CHANGES, ("create", "aws_s3_bucket.x"))], reviewed) == []
    assert differences([_result("a", NO_CHANGES)], reviewed) == []  # applied meanwhile: nothing to apply
    assert differences([_result("c", CHANGES, ("destroy", "aws_s3_bucket.y"))], reviewed) == []
    assert differences([_result("a", CHANGES, ("replace", "aws_s3_bucket.x"))], reviewed) == [
        "a: no longer creates aws_s3_bucket.x", "a: now also replaces aws_s3_bucket.x"]
    assert differences([_result("b", CHANGES, ("update", "aws_s3_bucket.z"))], reviewed) == [
        "b: now also updates aws_s3_bucket.z"]
    assert differences([_result("d", CHANGES, ("create", "aws_s3_bucket.w"))], reviewed) == [
        "d: not in the reviewed plan"]


def test_the_reviewed_report_must_be_a_plan_of_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps(report_json("prod", "plan", [])))
    with pytest.raises(PlatformError, match="not a plan of dev"):
        load_expected(path, "dev")
    path.write_text("{")
    with pytest.raises(PlatformError, match="cannot read"):
        load_expected(path, "dev")


def test_markdown_report_names_data_loss_and_never_values() -> None:
    data = report_json("prod", "plan", [_result("prod-files-aws", CHANGES, ("replace", "aws_s3_bucket.files"),
                                                ("create", "aws_iam_role.fn"))])
    text = render_markdown(data, [{"secret": "auth.key", "generate": False, "state": "missing",
                                   "set_command": "platform secret set auth.key --env prod"}])
    assert text.startswith(MARKER)
    assert "**Summary:** 1 to create, 0 to update, 1 to replace, 0 to destroy in 1 stack(s)" in text
    assert "DATA LOSS" in text and "`aws_s3_bucket.files` in `prod-files-aws` (replace)" in text
    assert "- replace  aws_s3_bucket.files  !! DATA LOSS" in text and "+ create   aws_iam_role.fn" in text
    assert "`auth.key`: set it with `platform secret set auth.key --env prod`" in text


@pytest.mark.e2e
def test_a_value_changed_after_the_review_is_refused_though_addresses_and_actions_match(tmp_path: Path,
                                                                                         cli: Cli) -> None:
    """The review showed `create localcloud_function.api`; a later commit gives it more memory: the same address
    and action, another value. The digests the report holds (never the values) tell them apart: refused, nothing
    applied; the reviewed values apply."""
    project = make_project(tmp_path / "estate", services=["web"])
    report = tmp_path / "plan-local.json"
    assert cli(project, "plan", "--env", "local", "--report", str(report)).exit_code == 0
    reviewed = {s["name"]: s for s in json.loads(report.read_text())["stacks"]}["local-web-gcp"]
    assert "localcloud_function.api" in reviewed["digests"], reviewed
    assert all(len(digest) == 64 for digest in reviewed["digests"].values())

    service = project / "services" / "web.py"
    original = service.read_text()
    service.write_text(original.replace('source="functions/web",', 'source="functions/web", memory=1024,'))
    stale = cli(project, "apply", "--env", "local", "--auto-approve", "--expect", str(report))
    assert stale.exit_code == 1, stale.stdout + stale.stderr
    said = " ".join(stale.stderr.split())
    assert "now plans other values for localcloud_function.api than the reviewed plan" in said, said
    assert not any(state_resources(project).values())

    service.write_text(original)
    applied = cli(project, "apply", "--env", "local", "--auto-approve", "--expect", str(report))
    assert applied.exit_code == 0, applied.stderr


def test_change_digests_leave_sensitive_values_out_and_follow_what_is_set() -> None:
    from platform_sdk.terraform.report import change_digest

    create = {"after": {"name": "api", "memory": 256, "token": "s3cret", "arn": None},
              "after_sensitive": {"token": True}, "after_unknown": {"arn": True}}
    assert change_digest(create, "create") == change_digest({**create, "after": {**create["after"], "token": "other"}},
                                                            "create"), "a sensitive value is never in the digest"
    assert change_digest(create, "create") != change_digest({**create, "after": {**create["after"], "memory": 512}},
                                                            "create")
    update = {"before": {"name": "api", "memory": 256, "modified": "t1"},
              "after": {"name": "api", "memory": 512, "modified": "t1"}}
    refreshed = {"before": {**update["before"], "modified": "t2"}, "after": {**update["after"], "modified": "t2"}}
    assert change_digest(update, "update") == change_digest(refreshed, "update"), "only what the update changes"
    assert change_digest(update, "update") != change_digest({**update, "after": {**update["after"], "memory": 1024}},
                                                            "update")
    assert change_digest(update, "destroy") == change_digest(create, "destroy")


@pytest.mark.e2e
def test_what_synthesis_announced_reaches_the_reviewed_report(tmp_path: Path, cli: Cli) -> None:
    """A handler opening a bucket its function is not granted (a name left over from a rename) was announced in
    the plan job's log only: the reviewer of the CI comment never saw it. The report and its Markdown carry it."""
    project = make_project(tmp_path / "estate", services=["web"])
    module = project / "services" / "functions" / "web" / "api.py"
    module.write_text(module.read_text().replace('bucket("site")', 'bucket("sites")'))
    report = tmp_path / "plan-local.json"
    planned = cli(project, "plan", "--env", "local", "--format", "markdown", "--report", str(report))
    assert planned.exit_code == 0, planned.stderr
    assert "> [!WARNING]" in planned.stdout and "calls bucket('sites'), which web.api is not granted" in planned.stdout
    [warning] = json.loads(report.read_text())["warnings"]
    assert warning.startswith(f"{module}:") and "raises GrantError" in warning
    module.write_text(module.read_text().replace('bucket("sites")', 'bucket("site")'))
    clean = cli(project, "plan", "--env", "local", "--format", "markdown", "--report", str(report))
    assert "[!WARNING]" not in clean.stdout and json.loads(report.read_text())["warnings"] == []
