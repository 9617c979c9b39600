"""The conformance analysis on today's output: it catches the known faults of issues 13 and 14 on estates shaped
like the issues describe them and on the example estate, accepts the configurations the fixes will emit, and
reports each finding with the function, the grant or trigger, the operation and what is missing.

Faults not fixed yet (later issues) have their findings expected and asserted here, so a fix changes these tests
on purpose; a fixed fault (14.1: a function behind a CDN) is asserted clean on today's output and still caught
on the output before the fix, recreated by editing the JSON.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from platform_sdk.conformance import (
    EXPOSURE,
    MISSING,
    Analysis,
    ConformanceError,
    Finding,
    TrustedNetwork,
    analyze,
    examine,
    require_conformance,
)
from platform_sdk.errors import PlatformError
from platform_sdk.tfjson import Estate, Location, expressions, remove, stacks_from_metadata
from tests.conformance_estates import CLOUDS, KEYS, Synthesized, encrypted, example, synth, write_project

# One service per fault, written as the issues describe them.
FAULTS = '''
from platform_sdk import Bucket, Cdn, Database, Function, Service, http

exam = Service("exam")                                    # issue 13, fault 1
db = exam.add(Database("db", deletion_protection=False))
files = exam.add(Bucket("files"))
api = exam.add(Function("api", handler="handler.handle", source="code", triggers=[http(public=False)]))
api.uses(db).reads_writes(files)

outbox = Service("outbox")                                # issue 14, faults 3 and 4
mail = outbox.add(Bucket("mail"))
sender = outbox.add(Function("sender", handler="handler.handle", source="code", triggers=[http(public=False)]))
sender.writes(mail)
links = outbox.add(Function("links", handler="handler.handle", source="code", triggers=[http(public=False)]))
links.reads(mail)

login = Service("login")                                  # issue 14, faults 1 and 5
page = login.add(Function("page", handler="handler.handle", source="code", triggers=[http()]))
login.add(Cdn("web", origin=page))
public = login.add(Function("public", handler="handler.handle", source="code", triggers=[http()]))
'''
PRIVATE_ORIGIN = '''
from platform_sdk import Cdn, Function, Service, http

login = Service("login")                                  # issue 14, fault 1: the private variant on AWS
page = login.add(Function("page", handler="handler.handle", source="code", triggers=[http(public=False)]))
login.add(Cdn("web", origin=page))
'''


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synthesized]:
    root = tmp_path_factory.mktemp("conformance") / "faults"
    project = write_project(root, {"faults.py": FAULTS},
                            {"aws": 'name_prefix = "acme"\ndefault_cloud = "aws"\n' + CLOUDS,
                             "gcp": 'name_prefix = "acme"\ndefault_cloud = "gcp"\n' + CLOUDS})
    return {env: synth(project, env) for env in ("aws", "gcp")}


@pytest.fixture(scope="module")
def private_origin(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    root = tmp_path_factory.mktemp("conformance") / "private"
    project = write_project(root, {"login.py": PRIVATE_ORIGIN},
                            {"aws": 'name_prefix = "acme"\ndefault_cloud = "aws"\n' + CLOUDS})
    return synth(project, "aws")


def run(synthesized: Synthesized, edit: Callable[[dict[str, Any]], None] | None = None,
        trusted: dict[str, TrustedNetwork] | None = None) -> Analysis:
    """The analysis of the synthesized JSON, after `edit` changed a copy of the stack documents."""
    documents = synthesized.documents()
    if edit is not None:
        edit(documents)
    return examine(Estate(documents, synthesized.stacks), synthesized.placements, trusted=trusted)


def edited_copy(synthesized: Synthesized, into: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of the synthesized output directory at `into` whose stack documents `edit` changed on disk."""
    shutil.copytree(synthesized.outdir, into)
    documents = synthesized.documents()
    edit(documents)
    for name, document in documents.items():
        (into / "stacks" / name / "cdk.tf.json").write_text(json.dumps(document))
    return into


def of(analysis: Analysis, function: str, operation: str | None = None) -> list[Finding]:
    return [f for f in analysis.findings if f.function == function and operation in (None, f.operation)]


# -- issue 13, fault 1 ------------------------------------------------------------------------------------------
UNFIXED_13_1 = (
    "a network path to the AWS s3 API: function acme-aws-exam-api runs in a VPC (security group "
    "aws_security_group.api_sg) with no s3 gateway endpoint whose route tables cover its subnets and whose "
    "prefix list its egress allows on 443, no s3 interface endpoint admitting 443 from its security group "
    "whose DNS the runtime uses and no NAT gateway route with egress to 0.0.0.0/0:443")


def _as_before_13_1(documents: dict[str, Any]) -> None:
    """The output before the fix: no S3 gateway endpoint, no egress to the S3 prefix list."""
    del documents["aws-base-aws"]["resource"]["aws_vpc_endpoint"]["s3_gateway"]
    del documents["aws-exam-aws"]["resource"]["aws_vpc_security_group_egress_rule"]["api_egress_s3"]


def test_a_vpc_function_reaches_its_bucket_through_the_s3_gateway_endpoint(faults: dict[str, Synthesized]) -> None:
    """Issue 13.1 fixed: a function in the VPC for its database reaches S3 through the VPC's gateway endpoint (its
    route tables cover the function's subnets, its egress allows the S3 prefix list); nothing else is open."""
    analysis = run(faults["aws"])
    assert not of(analysis, "exam.api"), of(analysis, "exam.api")
    relied = {ev.what for ev in analysis.evidence if ev.need == "exam.api: reads_writes(files) -> bucket.get"}
    assert "s3 gateway endpoint aws_vpc_endpoint.s3_gateway in the function's VPC" in relied
    assert "the function may send 443 to the s3 prefix list" in relied
    stack = faults["aws"].documents()["aws-exam-aws"]
    egress = stack["resource"]["aws_vpc_security_group_egress_rule"]
    # the prefix list of the base stack's gateway endpoint (one per VPC), read through its outputs
    assert egress["api_egress_s3"]["prefix_list_id"] == (
        "${data.terraform_remote_state.cross-stack-reference-input-aws-base-aws.outputs."
        "cross-stack-output-aws_vpc_endpoints3_gatewayprefix_list_id}")
    assert not [rule for rule in egress.values() if rule.get("cidr_ipv4") == "0.0.0.0/0"]  # no internet
    base = faults["aws"].documents()["aws-base-aws"]
    assert base["resource"]["aws_vpc_endpoint"]["s3_gateway"]["route_table_ids"] == \
        "${data.aws_route_tables.vpc_route_tables.ids}"


def test_the_unfixed_output_of_13_1_is_caught(faults: dict[str, Synthesized]) -> None:
    found = of(run(faults["aws"], _as_before_13_1), "exam.api")
    assert {f.operation for f in found} == {"bucket.get", "bucket.head", "bucket.list", "bucket.put",
                                           "bucket.overwrite", "bucket.delete"}
    for finding in found:
        assert finding.cause == "reads_writes(files)" and finding.kind == MISSING
        assert finding.missing == UNFIXED_13_1
    text = str(found[0])
    assert text.startswith("exam.api: reads_writes(files) -> bucket.get: missing a network path to the AWS s3 API")


def _add_s3_gateway(documents: dict[str, Any], egress_to: str = "prefix_list") -> None:
    """Another shape of the fix: a gateway endpoint on the VPC's main route table, egress to its prefix list."""
    _as_before_13_1(documents)
    stack = documents["aws-exam-aws"]["resource"]
    stack.setdefault("aws_vpc_endpoint", {})["s3"] = {
        "vpc_id": "${data.aws_vpc.default_vpc.id}", "service_name": "com.amazonaws.eu-west-1.s3",
        "vpc_endpoint_type": "Gateway", "route_table_ids": ["${data.aws_vpc.default_vpc.main_route_table_id}"]}
    rule: dict[str, Any] = {"security_group_id": "${aws_security_group.api_sg.id}", "ip_protocol": "tcp",
                            "from_port": 443, "to_port": 443}
    if egress_to == "prefix_list":
        rule["prefix_list_id"] = "${aws_vpc_endpoint.s3.prefix_list_id}"
    stack["aws_vpc_security_group_egress_rule"]["api_egress_s3"] = rule


def test_an_s3_gateway_endpoint_with_egress_to_its_prefix_list_is_a_path(faults: dict[str, Synthesized]) -> None:
    analysis = run(faults["aws"], _add_s3_gateway)
    assert not of(analysis, "exam.api", "bucket.get")
    relied = {ev.what for ev in analysis.evidence if ev.need == "exam.api: reads_writes(files) -> bucket.get"}
    assert "s3 gateway endpoint aws_vpc_endpoint.s3 in the function's VPC" in relied
    assert "the function may send 443 to the s3 prefix list" in relied


def test_a_gateway_endpoint_without_egress_is_no_path(faults: dict[str, Synthesized]) -> None:
    analysis = run(faults["aws"], lambda docs: _add_s3_gateway(docs, egress_to="nothing"))
    assert {f.operation for f in of(analysis, "exam.api")} >= {"bucket.get", "bucket.put"}


def test_a_nat_route_with_open_egress_is_a_path(faults: dict[str, Synthesized]) -> None:
    def nat(documents: dict[str, Any]) -> None:
        _as_before_13_1(documents)
        stack = documents["aws-exam-aws"]["resource"]
        stack["aws_nat_gateway"] = {"nat": {"subnet_id": "subnet-public", "allocation_id": "eipalloc-1"}}
        stack["aws_route"] = {"to_nat": {"route_table_id": "${data.aws_vpc.default_vpc.main_route_table_id}",
                                         "destination_cidr_block": "0.0.0.0/0",
                                         "nat_gateway_id": "${aws_nat_gateway.nat.id}"}}
        stack["aws_vpc_security_group_egress_rule"]["api_egress_any"] = {
            "security_group_id": "${aws_security_group.api_sg.id}", "ip_protocol": "tcp", "from_port": 443,
            "to_port": 443, "cidr_ipv4": "0.0.0.0/0"}
    assert not of(run(faults["aws"], nat), "exam.api")


def test_a_network_the_environment_describes_is_trusted(faults: dict[str, Synthesized]) -> None:
    trusted = {"aws": TrustedNetwork(frozenset({"aws:s3"}), "envs/aws.toml: clouds.aws.network")}
    analysis = run(faults["aws"], _as_before_13_1, trusted=trusted)
    assert not of(analysis, "exam.api")
    assert any(ev.what == "aws:s3 port 443 is reachable as envs/aws.toml: clouds.aws.network describes"
               for ev in analysis.evidence)


# -- issue 14, faults 3 and 4 -----------------------------------------------------------------------------------
def test_what_the_environment_file_says_exists_is_what_the_analysis_trusts(faults: dict[str, Synthesized],
                                                                          tmp_path: Path) -> None:
    """Issue 13.2: `[clouds.aws.network]` endpoints (and an existing NAT) are trusted as described, named by file."""
    from platform_sdk.envs import load_environment
    from platform_sdk.providers.aws.plugin import AwsPlugin

    path = tmp_path / "aws.toml"
    path.write_text('name_prefix = "acme"\ndefault_cloud = "aws"\n[clouds.aws]\nregion = "eu-west-1"\n'
                    '[clouds.aws.network]\nendpoints = ["s3"]\n')
    trusted = AwsPlugin().trusted_network(load_environment(path))
    assert trusted == TrustedNetwork(frozenset({"aws:s3"}), f"{path}: clouds.aws.network")
    assert not of(run(faults["aws"], _as_before_13_1, trusted={"aws": trusted}), "exam.api")
    path.write_text(path.read_text().replace('endpoints = ["s3"]', 'nat = "existing"'))
    nat = AwsPlugin().trusted_network(load_environment(path))
    assert nat is not None and {"internet", "aws:s3", "aws:secretsmanager"} <= nat.reaches
    path.write_text(path.read_text().replace('nat = "existing"', ""))
    assert AwsPlugin().trusted_network(load_environment(path)) is None  # nothing said: check what was emitted


# -- issue 13, fault 4 ------------------------------------------------------------------------------------------
def _master_url_on_aws(documents: dict[str, Any]) -> None:
    """The output before 13.4: the function connects as the master user with RDS's managed master secret."""
    stack = documents["aws-exam-aws"]["resource"]
    secret = "${aws_db_instance.db_instance.master_user_secret[0].secret_arn}"
    env = stack["aws_lambda_function"]["api_function"]["environment"]["variables"]
    env["PLATFORM_DATABASE_DB"] = (f"postgres://platform_admin@${{aws_db_instance.db_instance.address}}:5432/db"
                                   f"?secret={secret}&cloud=aws")
    policy = json.loads(stack["aws_iam_role_policy"]["api_policy"]["policy"])
    policy["Statement"].append({"Sid": "Master", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
                                "Resource": secret})
    stack["aws_iam_role_policy"]["api_policy"]["policy"] = json.dumps(policy)


def test_a_function_connects_as_its_own_iam_database_user_on_aws(faults: dict[str, Synthesized]) -> None:
    """Issue 13.4 fixed on AWS: IAM authentication on the instance, rds-db:connect on exactly the function's user,
    and the platform's setup creating that user."""
    analysis = run(faults["aws"])
    assert not of(analysis, "exam.api", "database.connect")
    relied = {ev.what for ev in analysis.evidence if ev.need == "exam.api: uses(db) -> database.connect"}
    assert "aws_db_instance.db_instance accepts IAM database authentication" in relied, relied
    assert "the platform's database setup creates user acme_aws_exam_api on aws_db_instance.db_instance" in relied


def test_the_master_credentials_in_a_function_are_caught_on_aws(faults: dict[str, Synthesized]) -> None:
    (finding,) = of(run(faults["aws"], _master_url_on_aws), "exam.api", "database.connect")
    assert finding.kind == MISSING and finding.cause == "uses(db)"
    assert finding.missing.startswith("its own database user: function acme-aws-exam-api connects with the master "
                                      "user's secret of aws_db_instance.db_instance"), finding.missing


def test_an_iam_database_user_nothing_creates_is_caught_on_aws(faults: dict[str, Synthesized]) -> None:
    def no_setup(documents: dict[str, Any]) -> None:
        del documents["aws-exam-aws"]["resource"]["aws_lambda_invocation"]

    (finding,) = of(run(faults["aws"], no_setup), "exam.api", "database.connect")
    assert "the database user acme_aws_exam_api on aws_db_instance.db_instance: nothing creates it" in \
        finding.missing, finding.missing


def test_a_function_connects_as_its_own_iam_database_user_on_gcp(faults: dict[str, Synthesized]) -> None:
    analysis = run(faults["gcp"])
    assert not of(analysis, "exam.api", "database.connect")
    relied = {ev.what for ev in analysis.evidence if ev.need == "exam.api: uses(db) -> database.connect"}
    assert "cloudsql.instances.login on instance acme-gcp-exam-db for service account acme-gcp-exam-api" in relied
    assert "the IAM database user acme-gcp-exam-api@acme-conf-123.iam exists on instance acme-gcp-exam-db" in relied


def test_the_built_in_user_in_a_function_is_caught_on_gcp(faults: dict[str, Synthesized]) -> None:
    """The output before 13.4 on GCP: the built-in user (a cloudsqlsuperuser) with its password secret."""
    def built_in(documents: dict[str, Any]) -> None:
        stack = documents["gcp-exam-gcp"]["resource"]
        env = stack["google_cloudfunctions2_function"]["api"]["service_config"]["environment_variables"]
        env["PLATFORM_DATABASE_DB"] = ("postgres://app@/${google_sql_database.db_db.name}?instance="
                                       "${google_sql_database_instance.db.connection_name}"
                                       "&secret=${google_secret_manager_secret.db_secret.id}&cloud=gcp")

    (finding,) = of(run(faults["gcp"], built_in), "exam.api", "database.connect")
    assert finding.missing.startswith("its own database user: function acme-gcp-exam-api connects as the built-in "
                                      "user app of instance acme-gcp-exam-db"), finding.missing


IAM_USERS = '''
from platform_sdk import Database, Function, Service, http

iam = Service("iam")
db = iam.add(Database("db", engine="{engine}", deletion_protection=False))
for name in ("one", "two"):
    iam.add(Function(name, handler="handler.handle", source="code", triggers=[http(public=False)])).uses(db)
'''


@pytest.mark.parametrize("engine", ["postgres", "mysql"])
def test_iam_database_users_named_only_at_apply_are_matched_on_gcp(tmp_path: Path, engine: str) -> None:
    """Without a project in the environment file the user's name and the URL's user are Terraform expressions of
    the service account's email (`urlencode(...)` in the URL): each function still needs a user of its own."""
    project = write_project(tmp_path / "estate", {"iam.py": IAM_USERS.format(engine=engine)},
                            {"gcp": 'name_prefix = "acme"\ndefault_cloud = "gcp"\n[clouds.gcp]\nregion = "us-east1"\n'})
    synthesized = synth(project, "gcp")
    analysis = run(synthesized)
    for fn in ("one", "two"):
        assert not of(analysis, f"iam.{fn}", "database.connect"), analysis.findings
        relied = {ev.what for ev in analysis.evidence if ev.need == f"iam.{fn}: uses(db) -> database.connect"}
        assert any(what.startswith("the IAM database user ") and f"{fn}_sa.email" in what for what in relied), relied

    def another_account(documents: dict[str, Any]) -> None:
        user = documents["gcp-iam-gcp"]["resource"]["google_sql_user"]["one_db_iam_user"]
        assert "google_service_account.one_sa.email" in user["name"]
        user["name"] = user["name"].replace("one_sa", "two_sa")

    (finding,) = of(run(synthesized, another_account), "iam.one", "database.connect")
    assert finding.missing.startswith("a google_sql_user of type CLOUD_IAM_SERVICE_ACCOUNT named for the function's "
                                      "service account"), finding.missing
    assert not of(run(synthesized, another_account), "iam.two", "database.connect")


# -- issue 14, faults 3, 4 and 5: fixed; the analysis still catches the unfixed output ---------------------------
def _object_creator(documents: dict[str, Any]) -> None:
    """The unfixed 14.3: `writes(mail)` bound to the predefined objectCreator (no storage.objects.delete)."""
    binding = documents["gcp-outbox-gcp"]["resource"]["google_storage_bucket_iam_member"]
    binding["sender_bucket_mail_objectwriter"]["role"] = "roles/storage.objectCreator"


def test_gcp_writes_can_overwrite_and_delete(faults: dict[str, Synthesized]) -> None:
    """14.3: the write grant binds the base stack's object-writer role (create + delete), so the second put of a key
    (an overwrite) and delete are allowed; nothing else (no get, no list)."""
    analysis = run(faults["gcp"])
    assert not of(analysis, "outbox.sender")
    relied = {ev.what for ev in analysis.evidence if ev.need == "outbox.sender: writes(mail) -> bucket.overwrite"}
    assert "the custom role of the binding lists storage.objects.delete" in relied
    (role,) = faults["gcp"].documents()["gcp-base-gcp"]["resource"]["google_project_iam_custom_role"].values()
    assert role["permissions"] == ["storage.objects.create", "storage.objects.delete"]
    assert role["role_id"] == "acme_gcp_base_object_writer"
    binding = faults["gcp"].documents()["gcp-outbox-gcp"]["resource"]["google_storage_bucket_iam_member"][
        "sender_bucket_mail_objectwriter"]
    assert binding["role"] == "projects/acme-conf-123/roles/acme_gcp_base_object_writer"


def test_the_unfixed_writer_role_is_still_caught(faults: dict[str, Synthesized]) -> None:
    analysis = run(faults["gcp"], _object_creator)
    delete = [f for f in of(analysis, "outbox.sender") if "storage.objects.delete" in f.missing]
    assert {f.operation for f in delete} == {"bucket.overwrite", "bucket.delete", "bucket.signed_url_put"}
    assert str(delete[0]) == ("outbox.sender: writes(mail) -> bucket.overwrite: missing storage.objects.delete on "
                              "bucket acme-gcp-outbox-mail for service account acme-gcp-outbox-sender: no binding "
                              "grants it")
    assert not of(analysis, "outbox.sender", "bucket.put")  # objectCreator can create


def _no_signing(documents: dict[str, Any]) -> None:
    """The unfixed 14.4: no signBlob on the function's own account, the IAM Credentials API not enabled."""
    del documents["gcp-outbox-gcp"]["resource"]["google_service_account_iam_member"]
    del documents["gcp-base-gcp"]["resource"]["google_project_service"]["platform_api_iamcredentials"]


def test_gcp_signed_urls_are_signed_by_the_functions_own_account(faults: dict[str, Synthesized]) -> None:
    """14.4: serviceAccountTokenCreator on its own account (not the project) and iamcredentials enabled by the base."""
    analysis = run(faults["gcp"])
    assert not of(analysis, "outbox.links")
    relied = {ev.what for ev in analysis.evidence if ev.need == "outbox.links: reads(mail) -> bucket.signed_url_get"}
    assert "iam.serviceAccounts.signBlob on its own service account" in relied
    assert "iamcredentials.googleapis.com is enabled in acme-conf-123" in relied
    binding = faults["gcp"].documents()["gcp-outbox-gcp"]["resource"]["google_service_account_iam_member"][
        "links_signs_urls"]
    assert binding == {**binding, "service_account_id": "${google_service_account.links_sa.name}",
                       "role": "roles/iam.serviceAccountTokenCreator",
                       "member": "${google_service_account.links_sa.member}"}


def test_unsigned_urls_are_still_caught(faults: dict[str, Synthesized]) -> None:
    analysis = run(faults["gcp"], _no_signing)
    found = of(analysis, "outbox.links", "bucket.signed_url_get")
    assert sorted(f.missing for f in found) == [
        "a google_project_service enabling iamcredentials.googleapis.com in project acme-conf-123 (signBlob is "
        "served by the IAM Credentials API)",
        "iam.serviceAccounts.signBlob on service account acme-gcp-outbox-links@acme-conf-123.iam.gserviceaccount.com "
        "for service account acme-gcp-outbox-links (a google_service_account_iam_member with "
        "roles/iam.serviceAccountTokenCreator on the function's own account)",
    ]
    assert not of(analysis, "outbox.links", "bucket.get")


def test_public_function_urls_are_invoked_only_through_the_url(faults: dict[str, Synthesized]) -> None:
    """14.5: lambda:InvokeFunction for "*" carries invoked_via_function_url (the function-URL-only condition)."""
    assert not of(run(faults["aws"]), "login.public")
    permission = faults["aws"].documents()["aws-login-aws"]["resource"]["aws_lambda_permission"]["public_public_invoke"]
    assert permission["invoked_via_function_url"] is True and permission["principal"] == "*"


def test_any_principal_invoking_a_public_function_is_still_caught(faults: dict[str, Synthesized]) -> None:
    def unconditional(documents: dict[str, Any]) -> None:
        permissions = documents["aws-login-aws"]["resource"]["aws_lambda_permission"]
        del permissions["public_public_invoke"]["invoked_via_function_url"]
    analysis = run(faults["aws"], unconditional)
    (finding,) = [f for f in of(analysis, "login.public") if f.kind == EXPOSURE]
    assert finding.cause == "http()" and finding.operation == "http.invoke"
    assert "lambda:InvokeFunction for every principal ('*') without invoked_via_function_url = true " \
           "(aws_lambda_permission.public_public_invoke)" in finding.missing


def test_the_function_url_only_condition_closes_the_exposure(faults: dict[str, Synthesized]) -> None:
    def condition(documents: dict[str, Any]) -> None:
        permissions = documents["aws-login-aws"]["resource"]["aws_lambda_permission"]
        permissions["public_public_invoke"]["invoked_via_function_url"] = True
    analysis = run(faults["aws"], condition)
    assert not of(analysis, "login.public")


def test_a_function_behind_a_cdn_is_reached_only_through_it_on_aws(faults: dict[str, Synthesized]) -> None:
    """Issue 14.1, fixed: the function URL behind the CDN is private (AWS_IAM) and admits CloudFront for this
    distribution only; GET and POST pass (POST through the payload hash edge function)."""
    analysis = run(faults["aws"])
    assert of(analysis, "login.page") == []
    relied = {ev.what for ev in analysis.evidence if ev.need == "login.page: cdn(web) -> cdn.fetch_post"}
    assert "aws_lambda_function.web_payload_hash (payload_hash.handler) sets x-amz-content-sha256 on POST requests " \
           "before aws_cloudfront_distribution.web_distribution signs them" in relied

    def public_url(documents: dict[str, Any]) -> None:  # what the compiler emitted before the fix
        url = documents["aws-login-aws"]["resource"]["aws_lambda_function_url"]["page_url"]
        url["authorization_type"] = "NONE"
    around = [f for f in of(run(faults["aws"], public_url), "login.page") if "reached around" in f.missing]
    assert [str(f) for f in around] == [
        "login.page: http() -> http.invoke: exposed a public function URL (aws_lambda_function_url.page_url "
        "authorization_type NONE): it can be reached around login.web"]


def test_a_function_behind_a_cdn_is_reached_only_through_it_on_gcp(faults: dict[str, Synthesized]) -> None:
    analysis = run(faults["gcp"])
    assert of(analysis, "login.page") == []
    relied = {ev.what for ev in analysis.evidence if ev.need == "login.page: cdn(web) -> cdn.fetch_get"}
    assert "ingress ALLOW_INTERNAL_AND_GCLB admits the load balancer" in relied

    def open_ingress(documents: dict[str, Any]) -> None:  # what the compiler emitted before the fix
        function = documents["gcp-login-gcp"]["resource"]["google_cloudfunctions2_function"]["page"]
        function["service_config"]["ingress_settings"] = "ALLOW_ALL"
    assert [f.missing for f in of(run(faults["gcp"], open_ingress), "login.page")] == [
        "a public URL (google_cloudfunctions2_function.page ingress ALLOW_ALL with allUsers as invoker): it can be "
        "reached around login.web"]


def test_post_through_origin_access_control_needs_the_payload_hash(private_origin: Synthesized) -> None:
    analysis = run(private_origin)
    assert analysis.findings == []
    relied = {ev.what for ev in analysis.evidence if ev.need == "login.page: cdn(web) -> cdn.fetch_get"}
    assert "lambda:InvokeFunctionUrl for cloudfront.amazonaws.com from aws_cloudfront_distribution.web_distribution" \
           ".arn on acme-aws-login-page (CloudFront calls the private function URL)" in relied

    def without_the_edge_function(documents: dict[str, Any]) -> None:  # what the compiler emitted before the fix
        distribution = documents["aws-login-aws"]["resource"]["aws_cloudfront_distribution"]["web_distribution"]
        del distribution["default_cache_behavior"]["lambda_function_association"]

    def without_the_body(documents: dict[str, Any]) -> None:  # the function cannot hash what it does not see
        distribution = documents["aws-login-aws"]["resource"]["aws_cloudfront_distribution"]["web_distribution"]
        distribution["default_cache_behavior"]["lambda_function_association"][0]["include_body"] = False

    expected = [
        "login.page: cdn(web) -> cdn.fetch_post: missing a way for POST to pass origin access control: CloudFront "
        "signs it for aws_lambda_function_url.page_url and Lambda then requires the viewer to send the body's "
        "SHA-256 in x-amz-content-sha256, which browsers do not (no origin-request Lambda@Edge function with "
        "include_body running payload_hash.handler on aws_cloudfront_distribution.web_distribution)"]
    assert [str(f) for f in run(private_origin, without_the_edge_function).findings] == expected
    assert [str(f) for f in run(private_origin, without_the_body).findings] == expected


# -- customer managed keys ---------------------------------------------------------------------------------------
def test_customer_managed_keys_are_usable_by_whoever_must_use_them() -> None:
    aws = run(encrypted("aws"))
    assert not [f for f in aws.findings if "kms:" in f.missing], aws.findings
    relied = {ev.what for ev in aws.evidence}
    assert f"kms:Decrypt on key {KEYS['aws']} (via S3) for role acme-aws-vault-archive" in relied
    assert f"kms:GenerateDataKey on key {KEYS['aws']} (via S3) for role acme-aws-vault-archive" in relied
    # The database function signs IAM tokens: it never reads the (encrypted) master secret, so it needs no key.
    assert not [what for what in relied if what.startswith("kms:") and "vault-report" in what]
    assert any(what.startswith("rds-db:connect on arn:aws:rds-db:eu-west-1:333333333333:dbuser:") and
               what.endswith("/acme_aws_vault_report for role acme-aws-vault-report") for what in relied), relied
    gcp = run(encrypted("gcp"))
    assert not [f for f in gcp.findings if "cloudkms" in f.missing], gcp.findings
    assert any(ev.what.startswith("cloudkms.cryptoKeyVersions.useToDecrypt on key projects/acme-kms/") and
               ev.locations for ev in gcp.evidence)


def test_a_key_the_role_may_not_use_through_s3_is_caught() -> None:
    def other_service(documents: dict[str, Any]) -> None:
        policy = documents["aws-vault-aws"]["resource"]["aws_iam_role_policy"]["archive_policy"]
        policy["policy"] = policy["policy"].replace("s3.eu-west-1.amazonaws.com", "sqs.eu-west-1.amazonaws.com")
    found = of(run(encrypted("aws"), other_service), "vault.archive", "bucket.get")
    assert [f.missing for f in found] == [f"kms:Decrypt on key {KEYS['aws']} (via S3) for role "
                                         "acme-aws-vault-archive (no statement of its policies allows it)"]


# -- the example estate ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("env_name", ["local", "dev", "staging", "prod"])
def test_the_example_estate_works_on_its_clouds(env_name: str) -> None:
    """Every example environment is clean (before issue 14's fixes: every public function URL on AWS was exposed,
    and web.api on GCP could not sign URLs); on the clouds with rules, the analysis examined every function."""
    synthesized = example(env_name)
    analysis = examine(synthesized.outdir, synthesized.placements, synthesized.stacks)
    assert [str(f) for f in analysis.findings] == []
    examined = {ev.need.split(":")[0] for ev in analysis.evidence}
    expected = {"dev": {"auth.api", "auth.cleanup", "thumbnails.resize", "thumbnails.on-demand", "web.api"},
                "local": set()}.get(env_name, {"auth.api", "auth.cleanup", "thumbnails.resize", "thumbnails.on-demand",
                                               "web.api"})
    assert examined >= expected, expected - examined


@pytest.mark.parametrize("env_name", ["dev", "staging", "prod"])
def test_the_example_web_api_serves_get_and_post_only_through_its_cdn(env_name: str) -> None:
    """Issue 14.1 on the example estate: web.api (AWS in dev, GCP in staging and prod) is reached through
    web.cdn's /api/* route (issue 18.2) for GET and POST, every requirement proven, and nothing reaches it around
    the CDN."""
    analysis = run(example(env_name))
    assert [str(f) for f in of(analysis, "web.api") if f.operation.startswith(("cdn.", "http."))] == []
    proven = {ev.need for ev in analysis.evidence}
    assert {"web.api: cdn(cdn /api/*) -> cdn.fetch_get", "web.api: cdn(cdn /api/*) -> cdn.fetch_post"} <= proven


def _drop_api_route(documents: dict[str, Any]) -> None:
    """The AWS output before routes: the distribution has the API's origin but no cache behaviour for /api/*."""
    (web,) = [d for name, d in documents.items() if name.endswith("-web-aws")]
    web["resource"]["aws_cloudfront_distribution"]["cdn_distribution"].pop("ordered_cache_behavior")


def _misroute_api(documents: dict[str, Any]) -> None:
    """The GCP URL map sending /api/ to the bucket instead of the function's backend service."""
    (web,) = [d for name, d in documents.items() if name.endswith("-web-gcp")]
    urls = web["resource"]["google_compute_url_map"]["cdn_urls"]
    for rule in urls["path_matcher"][0]["route_rules"]:
        rule["service"] = urls["default_service"]


@pytest.mark.parametrize(("env_name", "edit", "missing"), [
    ("dev", _drop_api_route, "an ordered_cache_behavior with path_pattern '/api/*'"),
    ("prod", _misroute_api, "a url map of web.cdn sending /api/* -> backend service -> serverless NEG"),
])
def test_a_cdn_route_that_does_not_reach_the_function_is_a_finding(env_name: str, edit: Callable[..., None],
                                                                   missing: str) -> None:
    """Issue 18.2: conformance covers each route: the /api/* route removed (AWS) or pointed elsewhere (GCP) is
    reported for GET and POST, naming the route."""
    analysis = run(example(env_name), edit)
    found = [f for f in of(analysis, "web.api") if f.operation.startswith("cdn.")]
    assert {(f.cause, f.operation) for f in found} == {("cdn(cdn /api/*)", "cdn.fetch_get"),
                                                       ("cdn(cdn /api/*)", "cdn.fetch_post")}
    assert all(f.missing.startswith(missing) for f in found), [f.missing for f in found]


def test_require_conformance_raises_a_platform_error_naming_every_finding(faults: dict[str, Synthesized],
                                                                          tmp_path: Path) -> None:
    synthesized = faults["aws"]

    def as_before_13_1_and_14_1(documents: dict[str, Any]) -> None:
        """exam.api without its S3 path (13.1: missing) and login.page's function URL public (14.1: an exposure)."""
        _as_before_13_1(documents)
        documents["aws-login-aws"]["resource"]["aws_lambda_function_url"]["page_url"]["authorization_type"] = "NONE"

    outdir = edited_copy(synthesized, tmp_path / "aws", as_before_13_1_and_14_1)
    with pytest.raises(ConformanceError) as caught:
        require_conformance(outdir, synthesized.stacks, synthesized.placements, env="aws")
    error = caught.value
    assert isinstance(error, PlatformError)
    text = str(error)
    missing = [f for f in error.findings if f.kind == MISSING]
    exposed = [f for f in error.findings if f.kind == EXPOSURE]
    assert missing and exposed
    assert text.startswith(f"{len(missing)} operation(s) would fail on the cloud in environment aws:\n")
    assert "  - exam.api: reads_writes(files) -> bucket.get: missing a network path to the AWS s3 API" in text
    assert f"\n{len(exposed)} way(s) in the model never declared in environment aws:\n  - login.page: http() -> " \
           "http.invoke: exposed a public function URL" in text
    assert "hint: each line names the function" in text and 'rule = "conformance.exposure"' in text
    example_local = example("local")
    require_conformance(example_local.outdir, example_local.stacks, example_local.placements)  # nothing to say


# -- the index ------------------------------------------------------------------------------------------------------
def test_expressions_keep_quoted_braces_inside() -> None:
    text = 'a ${element(split("/", x.y.z), 2)} b ${jsonencode({"k" = "}"})} c'
    assert [inner for _, _, inner in expressions(text)] == ['element(split("/", x.y.z), 2)',
                                                           'jsonencode({"k" = "}"})']


def test_cross_stack_outputs_resolve_to_the_producing_block() -> None:
    documents = {
        "producer": {"resource": {"aws_s3_bucket": {"b": {"bucket": "acme-b"}}},
                     "output": {"cross-stack-output-aws_s3_bucketbarn": {"value": "${aws_s3_bucket.b.arn}"}}},
        "consumer": {"data": {"terraform_remote_state": {"cross-stack-reference-input-producer": {}}},
                     "resource": {"aws_iam_role_policy": {"p": {"policy": "x"}}}},
    }
    estate = Estate(documents)
    value = "${data.terraform_remote_state.cross-stack-reference-input-producer.outputs." \
            "cross-stack-output-aws_s3_bucketbarn}/*"
    assert estate.canonical("consumer", value) == "${producer:aws_s3_bucket.b.arn}/*"
    producer = estate.block("producer", "aws_s3_bucket.b")
    assert producer is not None
    assert estate.refs("consumer", {"Resource": [value]})[0].block == producer
    estate.derive = lambda block, attribute, _: f"arn:aws:s3:::{block.body['bucket']}" if attribute == "arn" else None
    assert estate.canonical("consumer", value) == "arn:aws:s3:::acme-b/*"


def test_remove_takes_out_a_node_inside_a_policy_document() -> None:
    policy = json.dumps({"Statement": [{"Action": ["s3:GetObject", "s3:PutObject"], "Resource": "*"}]})
    documents = {"s": {"resource": {"aws_iam_role_policy": {"p": {"policy": policy}}}}}
    location = Location("s", ("resource", "aws_iam_role_policy", "p", "policy"), ("Statement", 0, "Action", 0))
    changed = remove(documents, location)
    assert json.loads(changed["s"]["resource"]["aws_iam_role_policy"]["p"]["policy"])["Statement"][0]["Action"] == [
        "s3:PutObject"]
    assert json.loads(policy)["Statement"][0]["Action"][0] == "s3:GetObject"  # the input is untouched
    assert str(location) == "s:resource.aws_iam_role_policy.p.policy#Statement[0].Action[0]"
    assert remove(copy.deepcopy(documents), Location("s", ("resource", "aws_iam_role_policy", "p"))) == {
        "s": {"resource": {"aws_iam_role_policy": {}}}}


def test_findings_read_as_one_line() -> None:
    finding = Finding("svc.fn", "reads(files)", "bucket.get", "s3:GetObject on arn:aws:s3:::b/* for role r")
    assert str(finding) == "svc.fn: reads(files) -> bucket.get: missing s3:GetObject on arn:aws:s3:::b/* for role r"
    assert str(Finding("svc.fn", "http()", "http.invoke", "a public URL", EXPOSURE)).startswith(
        "svc.fn: http() -> http.invoke: exposed a public URL")


def test_an_existing_output_directory_is_analysed_from_its_metadata(faults: dict[str, Synthesized],
                                                                    tmp_path: Path) -> None:
    """What `platform check` has: the output directory (platform.json records the owners) and the model; here one
    with fault 13.1 put back, so the owners recorded in the metadata must lead to the same findings."""
    synthesized = faults["aws"]
    outdir = edited_copy(synthesized, tmp_path / "aws", _as_before_13_1)
    stacks = stacks_from_metadata(outdir)
    assert set(stacks) == set(synthesized.stacks)
    assert stacks["aws-exam-aws"].owners == synthesized.stacks["aws-exam-aws"].owners
    again = analyze(outdir, stacks, synthesized.placements)
    assert again == analyze(outdir, synthesized.stacks, synthesized.placements) != []
    assert {f.function for f in again} == {"exam.api"}


def test_outdir_needs_its_stacks(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="stacks are needed"):
        examine(tmp_path, {})
