"""Guardrails: standard rules on the model and the synthesized Terraform, waivers that expire, nothing written on a
violation, and least-privilege IAM for every grant kind on both clouds."""

from __future__ import annotations

import filecmp
import json
import re
import shutil
import tempfile
import textwrap
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from platform_sdk.cli import app
from platform_sdk.envs import Environment, Waiver, find_environment, load_environment
from platform_sdk.errors import PlatformError
from platform_sdk.guardrails import (
    FunctionLimits,
    GuardrailError,
    RequiredTags,
    Rule,
    Violation,
    apply_waivers,
    check_model,
    check_stacks,
    enforce,
    neutral_address,
    rules_for,
    run_guardrails_model,
    run_guardrails_synth,
    standard_rules,
    unused_waivers,
)
from platform_sdk.loader import load_services
from platform_sdk.model import Bucket, Cdn, Database, Service
from platform_sdk.profile import Profile
from platform_sdk.project import Project
from platform_sdk.providers import compilers_for
from platform_sdk.providers.aws.guardrails import AwsIamLeastPrivilege, statement_problems
from platform_sdk.providers.gcp.guardrails import GcpScopedRoles
from platform_sdk.synth.app import SynthResult, synthesize
from platform_sdk.synth.placement import resolve_placements

runner = CliRunner()
FAR = date(2099, 12, 31)

def assert_no_violations(found: list[Violation]) -> None:
    """The compilers' own output must pass every standard rule."""
    assert found == [], "\n".join(map(str, found))


def placements_of(env: Environment, services: list[Service]) -> Any:
    return resolve_placements(env, services, compilers_for(env))


def env_of(tmp_path: Path, text: str, name: str = "prod") -> Environment:
    path = tmp_path / f"{name}.toml"
    path.write_text(textwrap.dedent(text))
    return load_environment(path)


def rule_ids(violations: list[Violation]) -> list[str]:
    return sorted(v.rule for v in violations)


def synth(root: Path, env_name: str, profile: Profile | None = None, outdir: Path | None = None) -> SynthResult:
    project = Project(root)
    env = find_environment(project.envs_dir, env_name)
    return synthesize(project, env, load_services(project.services_dir), profile=profile, outdir=outdir)


# -- the example estate -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("env_name", ["local", "dev", "staging", "prod"])
def test_example_estate_passes_every_standard_rule(estate: Path, tmp_path: Path, env_name: str) -> None:
    result = synth(estate, env_name, outdir=tmp_path / "out")
    services = load_services(estate / "services")
    found = check_model(result.env, services, placements_of(result.env, services))
    found += check_stacks(result.env, result.outdir, list(result.stacks))
    assert_no_violations(found)


# -- model rules ---------------------------------------------------------------------------------------------------

PROD = """\
    protected = true
    name_prefix = "acme"
    default_cloud = "aws"
    [clouds.aws]
    account = "333333333333"
    region = "eu-west-1"
"""


def test_public_bucket_only_as_cdn_origin(tmp_path: Path) -> None:
    env = env_of(tmp_path, PROD)
    service = Service("files")
    service.add(Bucket("leaky", public_read=True))
    site = service.add(Bucket("site", public_read=True))
    service.add(Cdn("cdn", origin=site))
    (violation,) = check_model(env, [service], placements_of(env, [service]))
    assert violation.rule == "bucket.no-public-unless-cdn-origin" and violation.resource == "files.leaky"
    assert "Cdn(origin=bucket)" in violation.fix and "test_guardrails.py" in violation.message


def test_production_databases_need_backups_high_availability_and_deletion_protection(tmp_path: Path) -> None:
    service = Service("billing")
    service.add(Database("ledger", backups=False, deletion_protection=False))
    env = env_of(tmp_path, PROD)
    found = check_model(env, [service], placements_of(env, [service]))
    assert rule_ids(found) == ["database.production-backups", "database.production-deletion-protection",
                               "database.production-high-availability"]
    assert all(v.resource == "billing.ledger" for v in found)
    ha = next(v for v in found if v.rule.endswith("high-availability"))
    assert "high_availability = true" in ha.fix and "protected environment 'prod'" in ha.message
    assert '[overrides."billing.ledger"]' in ha.fix and "<" not in ha.fix  # the database it names, no placeholder
    # the environment's overrides count: high availability switched on for prod only
    env = env_of(tmp_path, PROD + '[overrides."billing.ledger"]\nhigh_availability = true\nbackups = true\n')
    assert rule_ids(check_model(env, [service], placements_of(env, [service]))) == [
        "database.production-deletion-protection"]
    dev = env_of(tmp_path, PROD.replace("protected = true", "protected = false"), name="dev")
    assert check_model(dev, [service], placements_of(dev, [service])) == []


def test_only_allowed_regions(estate: Path) -> None:
    services = load_services(estate / "services")
    prod = find_environment(estate / "envs", "prod")
    profile = Profile(allowed_regions={"aws": ["eu-central-1", "eu-north-1"], "gcp": ["europe-west1"]})
    (violation,) = check_model(prod, services, placements_of(prod, services), profile)
    assert violation.rule == "region.allowed" and violation.resource == "clouds.aws"
    assert "'eu-west-1'" in violation.message and "eu-central-1" in violation.fix
    local = find_environment(estate / "envs", "local")  # stand-ins run on the laptop: no region to check
    assert check_model(local, services, placements_of(local, services), profile) == []


def test_function_limits_come_from_the_profile(estate: Path) -> None:
    services = load_services(estate / "services")
    prod = find_environment(estate / "envs", "prod")
    profile = Profile(guardrails=standard_rules(FunctionLimits(max_memory_mb=512, max_timeout_s=45)))
    found = check_model(prod, services, placements_of(prod, services), profile)
    assert sorted((v.resource, v.message.split(" ")[0]) for v in found) == [
        ("thumbnails.on-demand", "memory"), ("thumbnails.resize", "memory"), ("thumbnails.resize", "timeout")]
    assert all(v.rule == "function.limits" for v in found)
    overridden = prod.model_copy(update={"overrides": {**prod.overrides, "auth.api": {"memory": 2048}}})
    found = check_model(overridden, services, placements_of(overridden, services), profile)
    assert "auth.api" in {v.resource for v in found}


# -- waivers -------------------------------------------------------------------------------------------------------

def test_waiver_suppresses_until_it_expires_then_the_violation_comes_back(tmp_path: Path) -> None:
    env = env_of(tmp_path, PROD + textwrap.dedent("""\
        [[waivers]]
        rule = "database.production-high-availability"
        resource = "billing.ledger"
        reason = "single-zone until the migration to Aurora in Q1"
        expires = 2027-01-31
    """))
    service = Service("billing")
    service.add(Database("ledger"))
    placements = placements_of(env, [service])
    (waived,) = check_model(env, [service], placements, today=date(2027, 1, 31))
    assert waived.waived and waived.waived_until == date(2027, 1, 31) and "Aurora" in (waived.waiver_reason or "")
    enforce([waived])  # a waived violation does not fail
    run_guardrails_model(env, [service], placements, today=date(2027, 1, 31))
    (back,) = check_model(env, [service], placements, today=date(2027, 2, 1))
    assert not back.waived and back.waiver_expired_on == date(2027, 1, 31)
    with pytest.raises(GuardrailError) as err:
        run_guardrails_model(env, [service], placements, today=date(2027, 2, 1))
    assert isinstance(err.value, PlatformError)
    assert "the waiver expired on 2027-01-31" in str(err.value)
    assert "billing.ledger" in str(err.value) and "fix:" in str(err.value)


def test_waivers_match_globs_and_neutral_aliases_and_report_unused_ones() -> None:
    env = Environment(name="prod", name_prefix="acme", waivers=[
        Waiver(rule="tags.*", resource="web.*", reason="labels arrive with the next provider release", expires=FAR),
        Waiver(rule="iam.no-wildcards", resource="nope.nothing", reason="left over from an old incident",
               expires=FAR),
    ])
    found = [Violation("tags.required", "prod-web-gcp/google_storage_bucket.site", "missing labels: owner", "x",
                       aliases=("web.site",)),
             Violation("tags.required", "prod-auth-aws/aws_s3_bucket.x", "missing tags: owner", "x")]
    marked = apply_waivers(env, found, today=date(2030, 1, 1))
    assert [v.waived for v in marked] == [True, False]
    assert [w.resource for w in unused_waivers(env, marked)] == ["nope.nothing"]
    with pytest.raises(GuardrailError) as err:
        enforce(marked)
    assert err.value.violations == [marked[1]] and "1 guardrail violation:" in str(err.value)


# -- synthesized Terraform rules ----------------------------------------------------------------------------------

def write_stack(outdir: Path, name: str, doc: dict[str, Any]) -> None:
    path = outdir / "stacks" / name / "cdk.tf.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(doc))


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_iam_rule_flags_wildcards_where_an_arn_is_known(tmp_path: Path) -> None:
    arn = "${aws_s3_bucket.data_bucket.arn}"
    write_stack(tmp_path, "prod-x-aws", {"provider": {"aws": [{"region": "eu-west-1"}]}, "resource": {
        "aws_iam_role_policy": {
            "fine": {"role": "r", "policy": policy(
                {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": f"{arn}/*"},
                {"Effect": "Allow", "Action": ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces"],
                 "Resource": "*"},
                {"Effect": "Deny", "Action": "*", "Resource": "*"})},
            "star_action": {"role": "r", "policy": policy({"Effect": "Allow", "Action": "s3:*", "Resource": arn})},
            "star_resource": {"role": "r", "policy": policy({"Effect": "Allow", "Action": "s3:GetObject",
                                                             "Resource": "*"})},
            "not_action": {"role": "r", "policy": policy({"Effect": "Allow", "NotAction": "iam:*",
                                                          "Resource": arn})},
            "opaque": {"role": "r", "policy": "${data.aws_iam_policy_document.x.json}"},
        },
        "aws_iam_role_policy_attachment": {
            "admin": {"role": "r", "policy_arn": "arn:aws:iam::aws:policy/AdministratorAccess"},
            "basic": {"role": "r", "policy_arn": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"},
        },
    }})
    found = AwsIamLeastPrivilege().check_stacks(Environment(name_prefix="acme"), tmp_path, ["prod-x-aws"], Profile())
    flagged = sorted(v.resource.rsplit(".", 1)[1] for v in found)
    assert flagged == ["admin", "basic", "not_action", "opaque", "star_action", "star_resource"]
    basic = next(v for v in found if v.resource.endswith("basic"))
    assert "AWSLambdaBasicExecutionRole" in basic.message and "logs:PutLogEvents" in basic.message
    star = next(v for v in found if v.resource.endswith("star_resource"))
    assert "resource * for s3:GetObject (name the ARN)" in star.message
    assert statement_problems({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::*"})


def test_gcp_rule_flags_project_wide_storage_roles_and_basic_roles(tmp_path: Path) -> None:
    write_stack(tmp_path, "prod-x-gcp", {"resource": {
        "google_project_iam_member": {
            "api_storage": {"project": "p", "role": "roles/storage.objectViewer", "member": "serviceAccount:a"},
            "api_sql": {"project": "p", "role": "roles/cloudsql.client", "member": "serviceAccount:a"},
            "api_editor": {"project": "p", "role": "roles/editor", "member": "serviceAccount:a"},
        },
        "google_storage_bucket_iam_member": {
            "api_bucket": {"bucket": "b", "role": "roles/storage.objectViewer", "member": "serviceAccount:a"},
        },
    }})
    found = GcpScopedRoles().check_stacks(Environment(name_prefix="acme"), tmp_path, ["prod-x-gcp"], Profile())
    assert sorted(v.resource for v in found) == ["prod-x-gcp/google_project_iam_member.api_editor",
                                                 "prod-x-gcp/google_project_iam_member.api_storage"]


def test_required_tags_from_a_custom_profile_reach_aws_tags_and_gcp_labels(estate: Path, tmp_path: Path) -> None:
    profile = Profile(required_tags={"cost-center": "cc-42", "Data Classification": "internal"})
    result = synth(estate, "prod", profile=profile, outdir=tmp_path / "out")
    aws = json.loads((result.outdir / "stacks" / "prod-auth-aws" / "cdk.tf.json").read_text())
    default_tags = aws["provider"]["aws"][0]["default_tags"][0]["tags"]
    assert default_tags["cost-center"] == "cc-42" and default_tags["Data Classification"] == "internal"
    gcp = json.loads((result.outdir / "stacks" / "prod-web-gcp" / "cdk.tf.json").read_text())
    labels = gcp["provider"]["google"][0]["default_labels"]
    assert labels["cost-center"] == "cc-42" and labels["data-classification"] == "internal"
    assert RequiredTags().check_stacks(result.env, result.outdir, list(result.stacks), profile) == []
    # A compiler that forgot them is caught: drop the default tags and the resources' own tags lack them too.
    aws["provider"]["aws"][0]["default_tags"][0]["tags"].pop("cost-center")
    (result.outdir / "stacks" / "prod-auth-aws" / "cdk.tf.json").write_text(json.dumps(aws))
    found = RequiredTags().check_stacks(result.env, result.outdir, ["prod-auth-aws"], profile)
    assert found and all("missing tags: cost-center" in v.message for v in found)
    assert "auth.users" in {a for v in found for a in v.aliases}, "violations are waivable by neutral address"


def test_gcp_database_labels_are_checked_in_user_labels(tmp_path: Path) -> None:
    root = tmp_path / "estate"
    (root / "services").mkdir(parents=True)
    (root / "envs").mkdir()
    (root / "services" / "data.py").write_text(
        'from platform_sdk import Database, Service\nservice = Service("data", owner="data-team")\n'
        'service.add(Database("warehouse"))\n')
    (root / "envs" / "gcp.toml").write_text('name_prefix = "acme"\ndefault_cloud = "gcp"\n[clouds.gcp]\n'
                                                'project = "acme-data-123"\nregion = "us-central1"\n')
    profile = Profile(required_tags={"cost-center": "cc-42"})
    result = synth(root, "gcp", profile=profile, outdir=tmp_path / "out")
    assert RequiredTags().check_stacks(result.env, result.outdir, list(result.stacks), profile) == []
    path = result.outdir / "stacks" / "gcp-data-gcp" / "cdk.tf.json"
    doc = json.loads(path.read_text())
    (instance,) = doc["resource"]["google_sql_database_instance"].values()
    instance["settings"]["user_labels"].pop("cost-center")
    path.write_text(json.dumps(doc))
    (violation,) = RequiredTags().check_stacks(result.env, result.outdir, list(result.stacks), profile)
    assert "missing settings.user_labels: cost-center" in violation.message


# -- rule sets -----------------------------------------------------------------------------------------------------

class NoDatabases(Rule):
    id = "acme.no-databases"
    description = "This organisation keeps data in the warehouse."
    fix = "use the warehouse"

    def check_model(self, env, services, placements, profile):  # type: ignore[no-untyped-def]
        return [self.violation(db.address, "databases are not allowed") for s in services for db in s.databases]


def test_profile_replaces_or_extends_the_rule_set(estate: Path) -> None:
    services = load_services(estate / "services")
    prod = find_environment(estate / "envs", "prod")
    placements = placements_of(prod, services)
    extended = Profile(guardrails=standard_rules(NoDatabases()))
    assert [v.resource for v in check_model(prod, services, placements, extended)] == ["auth.users"]
    assert [r.id for r in rules_for(Profile())] == [r.id for r in standard_rules()]
    trimmed = standard_rules(exclude={"tags.required", "iam.no-wildcards"})
    assert {"tags.required", "iam.no-wildcards"}.isdisjoint(r.id for r in trimmed)
    assert check_model(prod, services, placements, Profile(guardrails=[])) == []
    with pytest.raises(PlatformError, match="Rule objects"):
        rules_for(Profile(guardrails=["tags.required"]))


# -- a violation writes nothing ---------------------------------------------------------------------------------

def guarded(profile: Profile, monkeypatch: pytest.MonkeyPatch, today: date | None = None) -> Profile:
    """The profile with guardrails run at the synth call sites, through its hooks: the model before building,
    the synthesized stacks in synth's temporary folder before it replaces the output."""
    folders: list[Path] = []
    real = tempfile.mkdtemp

    def spy(*args: Any, **kwargs: Any) -> str:
        path = real(*args, **kwargs)
        folders.append(Path(path))
        return path

    monkeypatch.setattr(tempfile, "mkdtemp", spy)

    def before(env: Environment, services: list[Service]) -> None:
        run_guardrails_model(env, services, placements_of(env, services), profile, today)

    def after(result: SynthResult) -> None:
        run_guardrails_synth(result.env, folders[-1], list(result.stacks), profile, today)

    profile.before_synth.append(before)
    profile.after_synth.append(after)
    return profile


class TagEverythingTwice(Rule):
    """A stack rule that always fails: stands for any Terraform-level violation."""

    id = "test.always"
    description = "fails on every stack"
    fix = "none"

    def check_stacks(self, env, outdir, stack_names, profile):  # type: ignore[no-untyped-def]
        assert all((outdir / "stacks" / name / "cdk.tf.json").is_file() for name in stack_names)
        return [self.violation(name, "synthesized") for name in stack_names]


@pytest.mark.parametrize("kind", ["model", "synth"])
def test_a_violation_leaves_the_previous_output_untouched(estate: Path, tmp_path: Path, kind: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    first = synth(estate, "prod")
    before = tmp_path / "before"
    shutil.copytree(first.outdir, before)
    source = estate / "services" / "thumbnails.py"
    text = source.read_text().replace("widths=[128, 512])", "widths=[128, 512], memory=2048)")
    assert "memory=2048" in text, "the example's ImagePipeline declaration changed: update this edit"
    source.write_text(text)
    rules = [FunctionLimits(max_memory_mb=1024)] if kind == "model" else [TagEverythingTwice()]
    with pytest.raises(GuardrailError) as err:
        synth(estate, "prod", profile=guarded(Profile(guardrails=rules), monkeypatch))
    assert ("thumbnails.resize" if kind == "model" else "prod-web-gcp") in str(err.value)
    comparison = filecmp.dircmp(before, first.outdir)
    assert not (comparison.left_only or comparison.right_only or comparison.diff_files)
    assert (first.outdir / "stacks" / "prod-thumbnails-aws" / "cdk.tf.json").read_bytes() == (
        before / "stacks" / "prod-thumbnails-aws" / "cdk.tf.json").read_bytes()


def test_cli_synth_refuses_with_exit_2_and_lists_every_violation(estate: Path) -> None:
    (estate / "platform").mkdir()
    (estate / "platform" / "profile.py").write_text(textwrap.dedent("""\
        from platform_sdk.guardrails import run_guardrails_model
        from platform_sdk.synth.placement import resolve_placements
        from platform_sdk.profile import Profile
        from platform_sdk.providers import compilers_for


        def guard(env, services):
            run_guardrails_model(env, services, resolve_placements(env, services, compilers_for(env)), PROFILE)


        PROFILE = Profile(allowed_regions={"aws": ["eu-central-1"], "gcp": ["us-central1"]}, before_synth=[guard])
    """))
    env_file = estate / "envs" / "prod.toml"
    env_file.write_text('profile = "platform/profile.py:PROFILE"\n' + env_file.read_text())
    result = runner.invoke(app, ["synth", "--env", "prod", "--project", str(estate)])
    output = re.sub(r"\s+", " ", result.output)
    assert result.exit_code == 2, result.output
    assert "guardrail violations" in output and "clouds.aws" in output and "clouds.gcp" in output
    assert "region.allowed" in output and "fix:" in output and "prod.toml" in output
    assert not (estate / "cdktf.out").exists()


# -- least privilege for every grant kind, on both clouds -------------------------------------------------------

GRANTS = '''\
from platform_sdk import Bucket, Database, Function, Service, http

service = Service("iam", owner="platform-team")
data = service.add(Bucket("data"))
db = service.add(Database("db"))
for name, grant in [("reader", "reads"), ("writer", "writes"), ("both", "reads_writes"), ("conn", "uses")]:
    fn = service.add(Function(name, handler="app.handle", source="fn", triggers=[http()]))
    getattr(fn, grant)(db if grant == "uses" else data)
'''


@pytest.fixture(scope="module")
def grants_estate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("grants")
    (root / "services" / "fn").mkdir(parents=True)
    (root / "services" / "fn" / "app.py").write_text("def handle(request):\n    return None\n")
    (root / "services" / "iam.py").write_text(GRANTS)
    (root / "envs").mkdir()
    (root / "envs" / "aws.toml").write_text(
        'name_prefix = "acme"\ndefault_cloud = "aws"\n[clouds.aws]\naccount = "123456789012"\nregion = "eu-west-1"\n')
    (root / "envs" / "gcp.toml").write_text(
        'name_prefix = "acme"\ndefault_cloud = "gcp"\n[clouds.gcp]\nproject = "acme-iam-123"\n'
        'region = "europe-west1"\n')
    return root


def _token_id(value: str, rtype: str) -> str:
    match = re.fullmatch(r"\$\{" + rtype + r"\.([\w-]+)\.[\w\[\]\.]+\}", value)
    assert match, f"{value!r} is no reference to a {rtype}"
    return match.group(1)


def test_aws_iam_is_least_privilege_for_every_grant_kind(grants_estate: Path, tmp_path: Path) -> None:
    result = synth(grants_estate, "aws", outdir=tmp_path / "out")
    doc = json.loads((result.outdir / "stacks" / "aws-iam-aws" / "cdk.tf.json").read_text())
    res = doc["resource"]
    (bucket_id,) = res["aws_s3_bucket"]
    (db_id,) = res["aws_db_instance"]
    bucket_arn = f"${{aws_s3_bucket.{bucket_id}.arn}}"
    secret_arn = f"${{aws_db_instance.{db_id}.master_user_secret[0].secret_arn}}"
    dbuser_arn = (f"arn:aws:rds-db:eu-west-1:123456789012:dbuser:${{aws_db_instance.{db_id}.resource_id}}"
                  "/acme_aws_iam_conn")
    expected = {
        "reader": {("s3:ListBucket",): bucket_arn, ("s3:GetObject",): f"{bucket_arn}/*"},
        "writer": {("s3:DeleteObject", "s3:PutObject"): f"{bucket_arn}/*"},
        "both": {("s3:ListBucket",): bucket_arn,
                 ("s3:DeleteObject", "s3:GetObject", "s3:PutObject"): f"{bucket_arn}/*"},
        "conn": {("rds-db:connect",): dbuser_arn},  # its own database user; never the master secret
        # the platform's database setup of conn (the only holder of the master secret)
        "conn-dbsetup": {("secretsmanager:GetSecretValue",): [secret_arn]},
    }
    # A function that reaches a database runs in the VPC: it may create its network interfaces (no ARN exists).
    eni = {"ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
           "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"}
    role_of = {fn["environment"]["variables"].get("PLATFORM_FUNCTION", "conn-dbsetup"):
               _token_id(fn["role"], "aws_iam_role") for fn in res["aws_lambda_function"].values()}
    assert sorted(role_of) == sorted(expected)
    policies: dict[str, list[dict[str, Any]]] = {}
    for attrs in res["aws_iam_role_policy"].values():
        policies.setdefault(_token_id(attrs["role"], "aws_iam_role"), []).extend(
            json.loads(attrs["policy"])["Statement"])
    for function, role in role_of.items():
        grants = {}
        for statement in policies[role]:
            assert statement["Effect"] == "Allow"
            actions = tuple(sorted([statement["Action"]] if isinstance(statement["Action"], str)
                                   else statement["Action"]))
            if actions == ("logs:CreateLogStream", "logs:PutLogEvents"):  # its own log group, nothing else
                assert re.fullmatch(r"\$\{aws_cloudwatch_log_group\.[\w-]+\.arn\}:\*", statement["Resource"])
                continue
            if function.startswith("conn") and set(actions) <= eni and statement["Resource"] == "*":
                continue
            grants[actions] = statement["Resource"]
        assert grants == expected[function], function
    assert "aws_iam_policy" not in res
    assert_no_violations(AwsIamLeastPrivilege().check_stacks(result.env, result.outdir, list(result.stacks), Profile()))
    assert "aws_iam_role_policy_attachment" not in res, "no managed policies"


def test_gcp_iam_is_bucket_scoped_with_the_expected_roles(grants_estate: Path, tmp_path: Path) -> None:
    result = synth(grants_estate, "gcp", outdir=tmp_path / "out")
    doc = json.loads((result.outdir / "stacks" / "gcp-iam-gcp" / "cdk.tf.json").read_text())
    res = doc["resource"]
    sa_of = {name: _token_id(fn["service_config"]["service_account_email"], "google_service_account")
             for name, fn in res["google_cloudfunctions2_function"].items()}
    function_of = {sa: fn for fn, sa in sa_of.items()}
    data_bucket = next(k for k, v in res["google_storage_bucket"].items() if v["name"].endswith("-iam-data"))
    (instance_id,) = res["google_sql_database_instance"]
    bindings: dict[str, set[tuple[str, str, str]]] = {fn: set() for fn in sa_of}
    for rtype, by_id in res.items():
        if not rtype.endswith("_iam_member"):
            continue
        for attrs in by_id.values():
            if attrs["member"] in ("allUsers",):  # the public invoker of an http(public=True) function
                assert attrs["role"] in ("roles/run.invoker", "roles/cloudfunctions.invoker")
                continue
            function = function_of[_token_id(attrs["member"], "google_service_account")]
            scope = attrs.get("bucket") or attrs.get("secret_id") or attrs.get("project") or \
                attrs.get("service_account_id")
            bindings[function].add((rtype, attrs["role"], scope))
            if rtype == "google_project_iam_member":
                assert f"${{google_sql_database_instance.{instance_id}.name}}" in attrs["condition"]["expression"]
    bucket = f"${{google_storage_bucket.{data_bucket}.name}}"
    def signs(fn: str) -> tuple[str, str, str]:  # signed_url(): its own account may sign as itself, nothing more
        return ("google_service_account_iam_member", "roles/iam.serviceAccountTokenCreator",
                f"${{google_service_account.{sa_of[fn]}.name}}")
    writer = "projects/acme-iam-123/roles/acme_gcp_base_object_writer"  # create + delete, from the base stack
    assert bindings["reader"] == {("google_storage_bucket_iam_member", "roles/storage.objectViewer", bucket),
                                  signs("reader")}
    assert bindings["writer"] == {("google_storage_bucket_iam_member", writer, bucket), signs("writer")}
    assert bindings["both"] == {("google_storage_bucket_iam_member", "roles/storage.objectUser", bucket),
                                signs("both")}
    assert bindings["conn"] == {  # its own IAM database user: no password secret
        ("google_project_iam_member", "roles/cloudsql.client", "acme-iam-123"),
        ("google_project_iam_member", "roles/cloudsql.instanceUser", "acme-iam-123"),
    }
    assert GcpScopedRoles().check_stacks(result.env, result.outdir, list(result.stacks), Profile()) == []


def test_terraform_addresses_map_back_to_neutral_resources(grants_estate: Path, tmp_path: Path) -> None:
    result = synth(grants_estate, "aws", outdir=tmp_path / "out")
    doc = json.loads((result.outdir / "stacks" / "aws-iam-aws" / "cdk.tf.json").read_text())
    (bucket_id,) = doc["resource"]["aws_s3_bucket"]
    assert neutral_address(result.outdir, "aws-iam-aws", f"aws_s3_bucket.{bucket_id}") == "iam.data"
    policy_id = next(iter(doc["resource"]["aws_iam_role_policy"]))
    assert neutral_address(result.outdir, "aws-iam-aws", f"aws_iam_role_policy.{policy_id}") in {
        f"iam.{n}" for n in ("reader", "writer", "both", "conn")}



# -- issue 14.7: a function whose own writes trigger it again ----------------------------------------------------

LOOP = '''\
from platform_sdk import Bucket, Function, Service, object_created

service = Service("mail", owner="mail-team")
inbox = service.add(Bucket("inbox"))
sorter = service.add(Function("sorter", handler="sort.handle", source="sort",
                              triggers=[object_created(inbox{filter})]))
sorter.{grant}(inbox)
'''


def _loop_estate(estate: Path, grant: str = "reads_writes", filter: str = "") -> Path:
    (estate / "services" / "sort").mkdir()
    (estate / "services" / "sort" / "sort.py").write_text("def handle(event):\n    return None\n")
    (estate / "services" / "mail.py").write_text(LOOP.format(grant=grant, filter=filter))
    return estate / "services" / "mail.py"


@pytest.mark.parametrize("grant", ["reads_writes", "writes"])
def test_a_trigger_on_a_bucket_the_function_writes_needs_a_prefix_or_suffix(estate: Path, grant: str) -> None:
    source = _loop_estate(estate, grant)
    result = runner.invoke(app, ["synth", "--env", "dev", "--project", str(estate)])
    output = re.sub(r"\s+", " ", result.output)
    assert result.exit_code == 2, result.output
    assert "function.self-triggering-writes: mail.sorter: object_created(inbox) has no prefix or suffix and " \
           f"{grant}(inbox) at {source}:7 writes the same bucket" in output
    assert f"(declared at {source}:5)" in output
    assert 'object_created(inbox, prefix="incoming/")' in output and "waive" in output
    assert not (estate / "cdktf.out").exists()


@pytest.mark.parametrize("filter", [', prefix="incoming/"', ', suffix=".eml"'])
def test_a_filtered_trigger_or_a_reading_function_is_no_loop(estate: Path, filter: str, tmp_path: Path) -> None:
    _loop_estate(estate, filter=filter)
    synth(estate, "dev", outdir=tmp_path / "filtered")
    (estate / "services" / "mail.py").write_text(LOOP.format(grant="reads", filter=""))
    synth(estate, "dev", outdir=tmp_path / "reads")


def test_a_self_triggering_function_can_be_waived(estate: Path, tmp_path: Path) -> None:
    _loop_estate(estate)
    env_file = estate / "envs" / "dev.toml"
    env_file.write_text(env_file.read_text() + textwrap.dedent("""\
        [[waivers]]
        rule = "function.self-triggering-writes"
        resource = "mail.sorter"
        reason = "the handler skips keys under sorted/ itself"
        expires = 2099-12-31
    """))
    result = synth(estate, "dev", outdir=tmp_path / "out")
    assert "dev-mail-aws" in result.stacks
