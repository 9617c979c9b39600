"""One owner for shared prerequisites: one base stack per (environment, cloud), `<env>-base-<cloud>`, owns everything
project- or account-wide (on GCP: API enablement, the Cloud Storage agent's Pub/Sub publisher binding, the KMS
agents' use of the profile key, custom roles); every service stack of the cloud depends on it; a move never moves
it; a destroy removes it last.

Through real parts: the example and matrix estates synthesized by the real pipeline, and a test-only variant of the
fourth cloud whose base stack holds a real resource of its own Terraform provider, planned, applied, kept through a
placement change and destroyed by real Terraform.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from platform_sdk import providers
from platform_sdk.conformance import index
from platform_sdk.errors import ModelError
from platform_sdk.model import Bucket
from platform_sdk.providers.base import BaseNeeds, Compiler, Handle, StackContext
from platform_sdk.terraform.schedule import order
from tests.conformance_estates import ENVIRONMENTS, Synthesized, encrypted, example, matrix, synth, write_project
from tests.fourthcloud.compiler import NimbusCompiler
from tests.fourthcloud.plugin import NimbusPlugin
from tests.terraform_fixtures import Cli, Logged, tf_binary_fixture  # noqa: F401 - registers tf_binary

STATE_ONLY = ("random_",)  # hashicorp/random: values kept in state only, nothing outside Terraform to share
VOLATILE = frozenset({"//", "depends_on", "lifecycle", "provider", "labels", "tags", "description", "display_name",
                      "title"})


def shared_declarations(synthesized: Synthesized) -> dict[str, list[str]]:
    """Resources declared by more than one stack: the same type and the same identifying arguments.

    Identifying arguments: everything but metadata, ordering and free text, with every reference resolved to the
    block it names (two stacks' lookups of the same service agent compare equal; two stacks' own service accounts
    do not)."""
    estate = index(synthesized.documents(), synthesized.stacks)
    seen: dict[str, list[str]] = {}
    for stack, document in synthesized.documents().items():
        for tf_type, blocks in (document.get("resource") or {}).items():
            if tf_type.startswith(STATE_ONLY):
                continue
            for name, body in blocks.items():
                identity = {key: estate.canonical(stack, json.dumps(value, sort_keys=True))
                            for key, value in body.items() if key not in VOLATILE}
                key = f"{tf_type} {json.dumps(identity, sort_keys=True)}"
                seen.setdefault(key, []).append(f"{stack}:{tf_type}.{name}")
    return {key: where for key, where in seen.items() if len({w.split(':')[0] for w in where}) > 1}


ESTATES = [("example", env) for env in ("local", "dev", "staging", "prod")] + \
          [("matrix", env) for env in sorted(ENVIRONMENTS)] + [("encrypted", "gcp")]


def estate_of(kind: str, env: str) -> Synthesized:
    return {"example": example, "matrix": matrix, "encrypted": encrypted}[kind](env)


@pytest.mark.parametrize(("estate", "env_name"), ESTATES)
def test_no_two_stacks_declare_the_same_shared_resource(estate: str, env_name: str) -> None:
    """Before the base stacks, each GCP service stack enabled the same APIs, and each one with an object-created
    trigger bound the same Cloud Storage agent as publisher: destroying either broke the other's triggers."""
    synthesized = estate_of(estate, env_name)
    assert shared_declarations(synthesized) == {}


def test_the_matrix_on_gcp_shares_through_its_base_stack() -> None:
    synthesized = matrix("gcp")
    base = synthesized.documents()["gcp-base-gcp"]["resource"]
    assert {r["service"] for r in base["google_project_service"].values()} >= {
        "cloudfunctions.googleapis.com", "run.googleapis.com", "eventarc.googleapis.com", "pubsub.googleapis.com",
        "cloudscheduler.googleapis.com", "sqladmin.googleapis.com", "secretmanager.googleapis.com",
        "iamcredentials.googleapis.com", "compute.googleapis.com", "storage.googleapis.com"}
    assert all(r["disable_on_destroy"] is False for r in base["google_project_service"].values())
    (publisher,) = base["google_project_iam_member"].values()
    assert publisher["role"] == "roles/pubsub.publisher"
    assert publisher["member"] == "${data.google_storage_project_service_account.platform_gcs_agent.member}"
    (role,) = base["google_project_iam_custom_role"].values()
    assert role["role_id"] == "acme_gcp_base_object_writer"
    for name, info in synthesized.stacks.items():
        document = synthesized.documents()[name].get("resource", {})
        if name != "gcp-base-gcp":
            assert "gcp-base-gcp" in info.dependencies, name
            assert not {"google_project_service", "google_project_iam_custom_role"} & set(document), name
    assert synthesized.stacks["gcp-base-gcp"].dependencies == []
    assert synthesized.stacks["gcp-base-gcp"].shared["role"] == ["object-writer"]
    encrypted_base = encrypted("gcp").documents()["gcp-base-gcp"]["resource"]
    assert len(encrypted_base["google_kms_crypto_key_iam_member"]) == 3  # storage, Cloud SQL, Secret Manager agents


def test_a_destroy_removes_the_base_stack_last() -> None:
    synthesized = example("prod")
    dependencies = {name: info.dependencies for name, info in synthesized.stacks.items()}
    assert dependencies["prod-web-gcp"] == ["prod-base-gcp"]
    assert order(dependencies, destroy=True)["prod-base-gcp"] == ["prod-web-gcp"]
    assert order(dependencies, destroy=False)["prod-web-gcp"] == ["prod-base-gcp"]


def test_the_local_cloud_needs_no_base_stack_and_aws_only_for_its_channel_budget_and_vpc_endpoints() -> None:
    assert not any("-base-" in name for name in example("local").stacks)
    # no [alerts], no [budget]: the matrix's base stack holds only its VPC functions' endpoints
    assert set(matrix("aws").documents()["aws-base-aws"]["resource"]) == {"aws_vpc_endpoint", "aws_security_group"}
    base = example("dev").documents()["dev-base-aws"]["resource"]  # issue 20: the channel and the budget
    assert set(base) == {"aws_sns_topic", "aws_sns_topic_subscription", "aws_budgets_budget",
                         "aws_vpc_endpoint", "aws_security_group"}  # the VPC endpoints of auth's functions
    assert example("dev").stacks["dev-base-aws"].shared == {"budget": ["monthly"], "channel": ["eu-west-1",
                                                                                              "us-east-1"],
                                                            "dns": ["zone"],  # issue 18: its DNS zone (read)
                                                            "vpc-endpoint": ["secretsmanager", "sqs"]}


def test_a_service_named_base_is_refused(tmp_path: Path) -> None:
    project = write_project(tmp_path / "estate", {"base.py": 'from platform_sdk import Bucket, Service\n\n'
                                                              'service = Service("base")\n'
                                                              'service.add(Bucket("files"))\n'},
                            {"gcp": ENVIRONMENTS["gcp"]})
    with pytest.raises(ModelError) as caught:
        synth(project, "gcp")
    text = str(caught.value)
    assert "base.py:3" in text and "service name 'base' is reserved" in text
    assert not (project.root / "cdktf.out").exists()


# -- through real Terraform: a cloud whose base stack holds a real resource ------------------------------------------
class SharedNimbusCompiler(NimbusCompiler):
    """Nimbus with a shared prerequisite: a registry bucket every service stack with buckets needs."""

    def bucket(self, ctx: StackContext, bucket: Bucket) -> Handle:
        ctx.needs.add("registry", "buckets")
        return super().bucket(ctx, bucket)

    def base(self, ctx: StackContext, needs: BaseNeeds) -> None:
        for name in needs.of("registry"):
            ctx.resource("nimbus_bucket", f"registry_{name}", {"name": f"acme-{ctx.env.name}-registry-{name}"})


class SharedNimbusPlugin(NimbusPlugin):
    def compiler(self, env: Any) -> Compiler:
        return SharedNimbusCompiler(env)


SERVICES = {
    "files.py": 'from platform_sdk import Bucket, Service\n\nservice = Service("files")\n'
                'service.add(Bucket("docs"))\n',
    "media.py": 'from platform_sdk import Bucket, Service\n\nservice = Service("media")\n'
                'service.add(Bucket("images"))\n',
}
ENV = '''name_prefix = "acme"
default_cloud = "nimbus"

[clouds.nimbus]
root = ".platform/nimbus"

[placement]

[state]
backend = "local"
'''


def first_wave(report: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s["status"] for s in report["waves"][0]["stacks"]}


@pytest.fixture
def shared_nimbus() -> Iterator[None]:
    providers.register(SharedNimbusPlugin())
    yield
    providers.unregister("nimbus")


def test_the_base_stack_is_applied_first_and_destroyed_last(tmp_path: Path, tf_binary: Path,
                                                            shared_nimbus: None) -> None:
    root = write_project(tmp_path / "estate", SERVICES, {"mixed": ENV}, sources={}).root
    terraform = Logged(tmp_path, tf_binary)
    cli = Cli(terraform.script)
    buckets = root / ".platform" / "nimbus" / "mixed"

    code, applied = cli.json(root, "apply", "--env", "mixed", "--auto-approve")
    assert code == 0, json.dumps(applied, indent=1)[:4000]
    assert sorted(p.name for p in buckets.iterdir()) == [
        "acme-mixed-files-docs", "acme-mixed-media-images", "acme-mixed-registry-buckets"]
    assert first_wave(applied) == {"mixed-base-nimbus": "changes", "mixed-files-nimbus": "waiting",
                                   "mixed-media-nimbus": "waiting"}
    meta = json.loads((root / "cdktf.out" / "mixed" / "platform.json").read_text())
    assert meta["stacks"]["mixed-files-nimbus"]["dependencies"] == ["mixed-base-nimbus"]
    assert meta["stacks"]["mixed-base-nimbus"]["shared"] == {"registry": ["buckets"]}

    terraform.runs()
    code, destroyed = cli.json(root, "destroy", "--env", "mixed", "--auto-approve", "--allow-data-loss")
    assert code == 0, json.dumps(destroyed, indent=1)[:4000]
    # every destroy is planned (and shown) at once; the base stack is destroyed last
    assert len(destroyed["waves"]) == 1 and first_wave(destroyed) == {
        "mixed-base-nimbus": "changes", "mixed-files-nimbus": "changes", "mixed-media-nimbus": "changes"}
    applies = [stack for stack, command in terraform.runs() if command == "apply"]
    assert sorted(applies[:2]) == ["mixed-files-nimbus", "mixed-media-nimbus"] and applies[2:] == ["mixed-base-nimbus"]
    assert not any(buckets.iterdir())


def test_a_move_keeps_the_base_stack(tmp_path: Path, tf_binary: Path, shared_nimbus: None) -> None:
    """Both services leave nimbus: their stacks are destroyed; the base stack, and what it shares, stays."""
    root = write_project(tmp_path / "estate", SERVICES, {"mixed": ENV}, sources={}).root
    terraform = Logged(tmp_path, tf_binary)
    cli = Cli(terraform.script)
    buckets = root / ".platform" / "nimbus" / "mixed"
    assert cli(root, "apply", "--env", "mixed", "--auto-approve").exit_code == 0
    env = root / "envs" / "mixed.toml"
    env.write_text(env.read_text().replace("[placement]\n", '[placement]\n"files" = "local"\n"media" = "local"\n'))
    # --all: Terraform plans the base stack too (by default a stack unchanged since its last apply is not planned)
    code, planned = cli.json(root, "plan", "--env", "mixed", "--all")
    stacks = {s["name"]: s for s in planned["stacks"]}
    assert stacks["mixed-base-nimbus"]["status"] == "no-changes", stacks["mixed-base-nimbus"]
    assert stacks["mixed-files-nimbus"]["changes"]["destroy"] == ["nimbus_bucket.docs"]
    result = cli(root, "apply", "--env", "mixed", "--auto-approve", "--allow-data-loss")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert sorted(p.name for p in buckets.iterdir()) == ["acme-mixed-registry-buckets"]
    code, again = cli.json(root, "plan", "--env", "mixed", "--all")
    assert {s["name"]: s["status"] for s in again["stacks"]}["mixed-base-nimbus"] == "no-changes"
