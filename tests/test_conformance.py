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


def of(analysis: Analysis, function: str, operation: str | None = None) -> list[Finding]:
    return [f for f in analysis.findings if f.function == function and operation in (None, f.operation)]


# -- issue 13, fault 1 ------------------------------------------------------------------------------------------
def test_a_vpc_function_without_a_path_to_s3_is_caught(faults: dict[str, Synthesized]) -> None:
    analysis = run(faults["aws"])
    found = of(analysis, "exam.api")
    assert {f.operation for f in found} == {"bucket.get", "bucket.head", "bucket.list", "bucket.put",
                                           "bucket.overwrite", "bucket.delete"}
    for finding in found:
        assert finding.cause == "reads_writes(files)" and finding.kind == MISSING
        assert finding.missing == (
            "a network path to the AWS s3 API: function acme-aws-exam-api runs in a VPC (security group "
            "aws_security_group.api_sg) with no s3 gateway endpoint whose route tables cover its subnets and whose "
            "prefix list its egress allows on 443, no s3 interface endpoint admitting 443 from its security group "
            "whose DNS the runtime uses and no NAT gateway route with egress to 0.0.0.0/0:443")
    # the database and its secret are reachable: the only fault is the bucket
    assert not of(analysis, "exam.api", "database.connect")
    text = str(found[0])
    assert text.startswith("exam.api: reads_writes(files) -> bucket.get: missing a network path to the AWS s3 API")


def _add_s3_gateway(documents: dict[str, Any], egress_to: str = "prefix_list") -> None:
    """What the fix for 13.1 emits: an S3 gateway endpoint on the VPC's main route table, and egress to it."""
    stack = documents["aws-exam-aws"]["resource"]
    stack["aws_vpc_endpoint"]["s3"] = {
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
    analysis = run(faults["aws"], trusted=trusted)
    assert not of(analysis, "exam.api")
    assert any(ev.what == "aws:s3 port 443 is reachable as envs/aws.toml: clouds.aws.network describes"
               for ev in analysis.evidence)


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
    assert f"kms:Decrypt on key {KEYS['aws']} (via Secrets Manager) for role acme-aws-vault-report" in relied
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
    web.api-cdn for GET and POST, every requirement proven, and nothing reaches it around the CDN."""
    analysis = run(example(env_name))
    assert [str(f) for f in of(analysis, "web.api") if f.operation.startswith(("cdn.", "http."))] == []
    proven = {ev.need for ev in analysis.evidence}
    assert {"web.api: cdn(api-cdn) -> cdn.fetch_get", "web.api: cdn(api-cdn) -> cdn.fetch_post"} <= proven


def test_require_conformance_raises_a_platform_error_naming_every_finding(faults: dict[str, Synthesized],
                                                                          tmp_path: Path) -> None:
    synthesized = faults["aws"]
    outdir = tmp_path / "aws"  # a copy with login.page's function URL public, as before the fix of 14.1: an exposure
    shutil.copytree(synthesized.outdir, outdir)
    stack = outdir / "stacks" / "aws-login-aws" / "cdk.tf.json"
    document = json.loads(stack.read_text())
    document["resource"]["aws_lambda_function_url"]["page_url"]["authorization_type"] = "NONE"
    stack.write_text(json.dumps(document))
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


def test_an_existing_output_directory_is_analysed_from_its_metadata(faults: dict[str, Synthesized]) -> None:
    """What `platform check` has: the output directory (platform.json records the owners) and the model."""
    synthesized = faults["aws"]
    stacks = stacks_from_metadata(synthesized.outdir)
    assert set(stacks) == set(synthesized.stacks)
    assert stacks["aws-exam-aws"].owners == synthesized.stacks["aws-exam-aws"].owners
    again = analyze(synthesized.outdir, stacks, synthesized.placements)
    assert again == analyze(synthesized.outdir, synthesized.stacks, synthesized.placements) != []


def test_outdir_needs_its_stacks(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="stacks are needed"):
        examine(tmp_path, {})
