"""Calls and queue sends across clouds (issue 19), through real synthesis: placement accepts an AWS function calling a
GCP function and sending to a Pub/Sub queue, and a GCP function sending to an SQS queue; the estates pass the schema
check and the conformance analysis inside synthesis, every piece the analysis relied on for the new paths is needed
(removing it is caught), and what each cloud emits is exactly the documented trust (no keys, no wildcards).

Estate: `front` (an `api` function, a `replies` queue) and `back` (an IAM-protected `work` function, a `jobs` queue, a
`notify` function). `api` invokes `work` and sends to `jobs`; `notify` sends to `replies`. `aws-gcp` puts front on
AWS and back on GCP, `gcp-aws` the mirror image, so every direction of every kind is synthesized.
"""

from __future__ import annotations

import functools
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest

from platform_sdk.conformance import MISSING
from platform_sdk.envs import load_environment
from platform_sdk.errors import PlacementError, PlatformError
from platform_sdk.loader import load_services
from platform_sdk.profile import Profile
from platform_sdk.providers.aws.federation import foreign_grants
from platform_sdk.synth.placement import resolve_placements
from platform_sdk.synth.schema_check import check_outdir, format_errors
from tests.conformance_estates import CLOUDS, KEYS, Synthesized, synth, write_project
from tests.test_conformance_mutations import analyse, mutations, without

ACCOUNT = "333333333333"
PROJECT = "acme-conf-123"
ESTATE = '''
from platform_sdk import Function, Queue, Service, http

front = Service("front", owner="team")
back = Service("back", owner="team")
work = back.add(Function("work", handler="handler.handle", source="code", triggers=[http(auth="iam")]))
jobs = back.add(Queue("jobs"))
notify = back.add(Function("notify", handler="handler.handle", source="code"))
replies = front.add(Queue("replies"))
api = front.add(Function("api", handler="handler.handle", source="code"))
api.invokes(work).sends(jobs)
notify.sends(replies)
'''
ENVS = {
    "aws-gcp": 'name_prefix = "acme"\ndefault_cloud = "aws"\n[placement]\n"back" = "gcp"\n' + CLOUDS,
    "gcp-aws": 'name_prefix = "acme"\ndefault_cloud = "gcp"\n[placement]\n"back" = "aws"\n' + CLOUDS,
}
# The new paths' operations: every one must be examined and clean.
NEW_NEEDS = {
    "aws-gcp": {"front.api: invokes(back.work) -> federation.token_exchange", "front.api: invokes(back.work) -> "
                "function.invoke", "front.api: invokes(back.work) -> function.send",
                "front.api: sends(back.jobs) -> federation.token_exchange", "front.api: sends(back.jobs) -> queue.send",
                "back.notify: sends(front.replies) -> federation.token_exchange",
                "back.notify: sends(front.replies) -> queue.send"},
    "gcp-aws": {"front.api: sends(back.jobs) -> federation.token_exchange", "front.api: sends(back.jobs) -> queue.send",
                "back.notify: sends(front.replies) -> federation.token_exchange",
                "back.notify: sends(front.replies) -> queue.send"},
}
NAMED_VPC = ('\n[clouds.aws.network]\nvpc_id = "vpc-0a1b2c3d4e5f67890"\n'
             'subnet_ids = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"]\n')
WITH_DATABASE = ESTATE.replace("import Function,", "import Database, Function,") + '''
users = front.add(Database("users", deletion_protection=False))
api.uses(users)
'''


@functools.cache
def estate(env: str, kms: bool = False, services: str = ESTATE, network: str = "") -> Synthesized:
    """Synthesized with the conformance analysis inside synthesis: it fails if any operation would."""
    root = Path(tempfile.mkdtemp(prefix="xcloud-"))
    project = write_project(root / "estate", {"x.py": services}, {env: ENVS[env] + network})
    return synth(project, env, Profile(kms_keys=KEYS) if kms else None, conformance=True)


def resources(synthesized: Synthesized, stack: str, tf_type: str) -> dict[str, dict[str, Any]]:
    return synthesized.documents()[stack].get("resource", {}).get(tf_type, {})


def statements(document: str) -> list[dict[str, Any]]:
    return json.loads(document)["Statement"]


# -- placement ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("env", list(ENVS))
def test_placement_accepts_calls_and_sends_across_clouds(tmp_path: Path, env: str) -> None:
    project = write_project(tmp_path / "estate", {"x.py": ESTATE}, {env: ENVS[env]})
    environment = load_environment(project.envs_dir / f"{env}.toml")
    services = load_services(project.services_dir)
    from platform_sdk import providers

    compilers = {name: providers.plugin(name).compiler(environment) for name in ("aws", "gcp")}
    placements = resolve_placements(environment, services, compilers)
    clouds = {resource.address: placement.cloud for resource, placement in placements.items()}
    assert clouds["front.api"] != clouds["back.work"] and clouds["front.api"] != clouds["back.jobs"]
    assert clouds["back.notify"] != clouds["front.replies"]


def test_a_stand_in_is_held_to_the_real_clouds_rule(tmp_path: Path) -> None:
    """Placed on stand-ins, both sides compile to the local cloud (which reaches anything): the rule of the clouds
    they stand in for still applies, so a rehearsal refuses what production would (here: nimbus serves its buckets to
    no other cloud)."""
    from platform_sdk import providers
    from tests.fourthcloud.plugin import PLUGIN

    services = '''
from platform_sdk import Bucket, Function, Service

store = Service("store", owner="team")
files = store.add(Bucket("files"))
app = Service("app", owner="team")
app.add(Function("api", handler="handler.handle", source="code")).reads(files)
'''
    env = ('name_prefix = "acme"\ndefault_cloud = "aws"\n[placement]\n"store" = "nimbus"\n'
           '[clouds.aws]\nstand_in = "local"\n[clouds.nimbus]\nstand_in = "local"\n')
    project = write_project(tmp_path / "estate", {"x.py": services}, {"rehearsal": env})
    providers.register(PLUGIN)
    try:
        environment = load_environment(project.envs_dir / "rehearsal.toml")
        compilers = {"local": providers.plugin("local").compiler(environment)}
        with pytest.raises(PlacementError, match="cross-cloud bucket access from aws to nimbus is not supported") \
                as caught:
            resolve_placements(environment, load_services(project.services_dir), compilers)
        assert "rehearsal.toml" in str(caught.value)
    finally:
        providers.unregister(PLUGIN.name)


# -- synthesis: schema and conformance ------------------------------------------------------------------------------
@pytest.mark.parametrize("env", list(ENVS))
def test_the_estates_pass_the_schema_check_and_the_analysis(env: str) -> None:
    synthesized = estate(env)  # conformance=True: synthesis itself refuses a finding
    errors = check_outdir(synthesized.outdir)
    assert errors == [], format_errors(errors)
    analysis = analyse(synthesized, synthesized.documents())
    assert [f for f in analysis.findings if f.kind == MISSING] == []
    examined = {evidence.need for evidence in analysis.evidence}
    assert NEW_NEEDS[env] <= examined, NEW_NEEDS[env] - examined


def test_an_aws_caller_impersonates_its_own_invoker_account_on_gcp() -> None:
    synthesized = estate("aws-gcp")
    gcp = "aws-gcp-back-gcp"
    (account_id, account), = [(k, v) for k, v in resources(synthesized, gcp, "google_service_account").items()
                              if k.startswith("aws_")]
    assert account_id == "aws_front_api_invoker"
    # 6-30 characters; a hash of the caller and the callee's service: never a function's own account id
    assert re.fullmatch(r"acme-aws-gcp-front-ap-[0-9a-f]{8}", account["account_id"])
    principal = ("principalSet://iam.googleapis.com/projects/${data.google_project.platform_project.number}/locations/"
                 "global/workloadIdentityPools/acme-aws-gcp-back-aws/attribute.aws_role/acme-aws-gcp-front-api")
    users = resources(synthesized, gcp, "google_service_account_iam_member")
    assert users["aws_front_api_invoker_user"]["role"] == "roles/iam.workloadIdentityUser"
    assert users["aws_front_api_invoker_user"]["member"] == principal
    assert users["aws_front_api_invoker_user"]["service_account_id"] == \
        "${google_service_account.aws_front_api_invoker.name}"
    invokers = {k: v for k, v in resources(synthesized, gcp, "google_cloud_run_service_iam_member").items()
                if k.startswith("aws_")}
    assert invokers == {"aws_front_api_back_work_invoker": {
        **invokers["aws_front_api_back_work_invoker"], "role": "roles/run.invoker",
        "member": "${google_service_account.aws_front_api_invoker.member}",
        "service": "${google_cloudfunctions2_function.work.service_config.0.service}"}}
    topics = {k: (v["role"], v["member"], v["topic"])
              for k, v in resources(synthesized, gcp, "google_pubsub_topic_iam_member").items() if k.startswith("aws_")}
    assert topics == {
        "aws_front_api_back_jobs_publisher": ("roles/pubsub.publisher", principal,
                                              "${google_pubsub_topic.jobs_topic.id}"),
        "aws_front_api_back_work_calls_publisher": ("roles/pubsub.publisher", principal,
                                                    "${google_pubsub_topic.work_calls.id}"),
    }
    base = {api["service"] for api in resources(synthesized, "aws-gcp-base-gcp", "google_project_service").values()}
    assert {"iamcredentials.googleapis.com", "sts.googleapis.com", "iam.googleapis.com"} <= base
    assert not any("iamcredentials" in json.dumps(v) for v in resources(synthesized, gcp, "google_project_service")
                   .values())  # project-wide prerequisites live in the base stack only
    # the callee admits calls over the internet (IAM decides who)
    work = resources(synthesized, gcp, "google_cloudfunctions2_function")["work"]
    assert work["service_config"]["ingress_settings"] == "ALLOW_ALL"


def test_an_aws_caller_gets_the_callee_url_with_how_to_federate() -> None:
    synthesized = estate("aws-gcp")
    variables = resources(synthesized, "aws-gcp-front-aws", "aws_lambda_function")["api_function"]["environment"][
        "variables"]
    remote = r"\$\{data\.terraform_remote_state\.[^}]+\}"
    assert re.fullmatch(rf"gcf://acme-aws-gcp-back-work\?url={remote}&calls={PROJECT}/acme-aws-gcp-back-work-calls"
                        rf"&wif_audience=//iam\.googleapis\.com/{remote}&web_identity=aws&service_account={remote}",
                        variables["PLATFORM_FUNCTION_WORK"]), variables["PLATFORM_FUNCTION_WORK"]
    assert re.fullmatch(rf"pubsub://{PROJECT}/acme-aws-gcp-back-jobs\?wif_audience=//iam\.googleapis\.com/{remote}"
                        "&web_identity=aws", variables["PLATFORM_QUEUE_JOBS"]), variables["PLATFORM_QUEUE_JOBS"]
    assert variables["PLATFORM_GRANTS"] == "function:work:invoke,queue:jobs:send"
    # the Lambda's own policy names nothing on GCP: federation is the only way in
    own = resources(synthesized, "aws-gcp-front-aws", "aws_iam_role_policy")["api_policy"]["policy"]
    assert "jobs" not in own and "work" not in own


def test_a_gcp_sender_assumes_a_role_that_may_only_send_to_the_queue() -> None:
    synthesized = estate("aws-gcp")
    aws = "aws-gcp-front-aws"
    roles = {k: v for k, v in resources(synthesized, aws, "aws_iam_role").items() if k.endswith("_federated_role")}
    assert list(roles) == ["back__notify__front__replies_federated_role"]
    role = roles["back__notify__front__replies_federated_role"]
    name = "acme-aws-gcp-back-notify.front.replies"
    assert role["name"] == name
    (trust,) = statements(role["assume_role_policy"])
    assert trust["Principal"] == {"Federated": "accounts.google.com"}
    assert trust["Condition"]["StringEquals"]["accounts.google.com:oaud"] == f"arn:aws:iam::{ACCOUNT}:role/{name}"
    policy = resources(synthesized, aws, "aws_iam_role_policy")["back__notify__front__replies_federated_policy"]
    assert statements(policy["policy"]) == [{"Sid": "QueueFrontRepliesQueue", "Effect": "Allow",
                                             "Action": ["sqs:SendMessage"],
                                             "Resource": "${aws_sqs_queue.replies_queue.arn}"}]
    variables = resources(synthesized, "aws-gcp-back-gcp", "google_cloudfunctions2_function")["notify"][
        "service_config"]["environment_variables"]
    assert variables["PLATFORM_QUEUE_REPLIES"] == (
        f"sqs://{ACCOUNT}/acme-aws-gcp-front-replies?region=eu-west-1&role_arn=arn:aws:iam::{ACCOUNT}:role/{name}"
        "&web_identity=gcp")


def test_the_profile_key_reaches_the_federated_sender() -> None:
    synthesized = estate("aws-gcp", kms=True)
    policy = resources(synthesized, "aws-gcp-front-aws", "aws_iam_role_policy")[
        "back__notify__front__replies_federated_policy"]
    (kms,) = [s for s in statements(policy["policy"]) if s["Sid"] == "ProfileKmsKey"]
    assert kms["Resource"] == KEYS["aws"] and kms["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert kms["Condition"] == {"StringEquals": {"kms:ViaService": ["sqs.eu-west-1.amazonaws.com"]}}


# -- every piece of the new paths is needed ---------------------------------------------------------------------------
CASES = [("aws-gcp", False, ESTATE, ""), ("gcp-aws", False, ESTATE, ""), ("aws-gcp", True, ESTATE, ""),
         ("aws-gcp", False, WITH_DATABASE,
          NAMED_VPC + 'nat = "create"\nnat_subnet_id = "subnet-0ccccccccccccccc3"\n')]


@pytest.mark.parametrize(("env", "kms", "services", "network"), CASES, ids=["aws-gcp", "gcp-aws", "kms", "vpc-nat"])
def test_removing_any_piece_of_the_new_paths_is_caught(env: str, kms: bool, services: str, network: str) -> None:
    synthesized = estate(env, kms, services, network)
    documents = synthesized.documents()
    baseline = analyse(synthesized, documents)
    before = {str(f) for f in baseline.findings}
    generated = {locations: needs for locations, needs in mutations(baseline).items() if needs & NEW_NEEDS[env]}
    assert len(generated) >= 10, len(generated)
    missed = []
    for locations, needs in generated.items():
        after = analyse(synthesized, without(documents, locations))
        caught = [f for f in after.findings if str(f) not in before
                  and f"{f.function}: {f.cause} -> {f.operation}" in needs]
        if not caught:
            missed.append(f"{', '.join(map(str, locations))} (relied on by {sorted(needs)[0]})")
    assert not missed, f"{len(missed)} of {len(generated)} removals went unnoticed:\n" + "\n".join(missed)
    relied = " ".join(ev.what for ev in baseline.evidence if ev.need in NEW_NEEDS[env])
    if env == "aws-gcp":
        for what in ("iam.serviceAccounts.getOpenIdToken on service account",
                     "(impersonated by AWS role acme-aws-gcp-front-api (workload identity federation)) may invoke "
                     "back.work",
                     "iamcredentials.googleapis.com is enabled", "pubsub.topics.publish on topic",
                     "sqs:SendMessage on queue"):
            assert what in relied, what
    if kms:
        assert "kms:GenerateDataKey on key" in relied and "(via SQS)" in relied
    if network:
        assert "a NAT gateway route from the function's subnets to 0.0.0.0/0" in relied


# -- a function in the VPC needs the NAT ------------------------------------------------------------------------------
def test_a_vpc_function_without_a_nat_is_refused_naming_only_its_grants_on_another_cloud(tmp_path: Path) -> None:
    services = WITH_DATABASE + '''
notes = front.add(Queue("notes"))
api.sends(notes)
'''
    project = write_project(tmp_path / "estate", {"x.py": services}, {"aws-gcp": ENVS["aws-gcp"] + NAMED_VPC})
    with pytest.raises(PlatformError) as caught:
        synth(project, "aws-gcp")
    message = str(caught.value)
    assert "front.api" in message and "no route to the internet" in message
    assert "clouds.aws.network.nat" in message and "aws-gcp.toml" in message
    hint = caught.value.hint or ""
    line = services.splitlines().index("api.invokes(work).sends(jobs)") + 1
    assert f"(grant: front.api -> back.work, back.jobs; made at {project.services_dir / 'x.py'}:{line})" in hint, \
        hint  # not front.notes, not front.users
    assert not project.env_outdir("aws-gcp").exists()


def test_foreign_grants_are_the_targets_on_another_cloud(tmp_path: Path) -> None:
    project = write_project(tmp_path / "estate", {"x.py": WITH_DATABASE}, ENVS)
    for env_name, expected in (("aws-gcp", ["back.work", "back.jobs"]), ("gcp-aws", ["back.work", "back.jobs"])):
        environment = load_environment(project.envs_dir / f"{env_name}.toml")
        (api,) = [r for s in load_services(project.services_dir) for r in s if r.address == "front.api"]
        assert [t.address for t in foreign_grants(environment, api)] == expected
    environment = load_environment(project.envs_dir / "aws-gcp.toml").model_copy(update={"placement": {}})
    (api,) = [r for s in load_services(project.services_dir) for r in s if r.address == "front.api"]
    assert foreign_grants(environment, api) == []


def test_a_vpc_function_reaches_the_other_cloud_through_the_nat_the_environment_has() -> None:
    """`nat = "existing"` is trusted as described: every call and send to GCP goes through it (the synthesis, with its
    analysis, passes; before, only AWS APIs counted as reachable through a trusted NAT)."""
    from platform_sdk import providers
    from platform_sdk.conformance import examine
    from platform_sdk.tfjson import Estate

    synthesized = estate("aws-gcp", False, WITH_DATABASE, NAMED_VPC + 'nat = "existing"\n')
    environment = load_environment(synthesized.outdir.parents[1] / "envs" / "aws-gcp.toml")
    trusted = providers.plugin("aws").trusted_network(environment)
    assert trusted is not None
    analysis = examine(Estate(synthesized.documents(), synthesized.stacks), synthesized.placements,
                       trusted={"aws": trusted})
    assert [f for f in analysis.findings if f.kind == MISSING] == []
    relied = {ev.what for ev in analysis.evidence if ev.need.startswith("front.api: invokes(back.work)")}
    for service in ("gcp:sts", "gcp:iamcredentials.googleapis.com", "gcp:run"):
        assert f"{service} port 443 is reachable as {trusted.source} describes" in relied, relied
