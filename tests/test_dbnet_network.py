"""Shared network pieces belong to the environment's AWS base stack (issue 13, what was left of 13.1/13.2).

Before: each service stack with a VPC function built its own S3 gateway endpoint and interface endpoints, so a
second service with a database in the same VPC declared a second gateway on the same route tables and a second
endpoint per service: both fail on the real cloud (one route per prefix list in a route table; one private DNS name
per service per VPC). Now the base stack builds each once per VPC, the service stacks reference it through its
outputs, a move keeps it, and the conformance analysis proves every grant's path through it (and fails when the
endpoint or a rule is taken away). Through the real synthesis, schema check and conformance analysis.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from platform_sdk.conformance import examine
from platform_sdk.project import Project
from platform_sdk.tfjson import Estate
from tests.conformance_estates import CLOUDS, Synthesized, synth, write_project
from tests.test_base_stack import shared_declarations

TWO_SERVICES = '''
from platform_sdk import Bucket, Database, Function, Secret, Service

grades = Service("grades", owner="exam-team")
grades_db = grades.add(Database("db", deletion_protection=False))
sheets = grades.add(Bucket("sheets"))
key = grades.add(Secret("key"))
grades.add(Function("api", handler="handler.handle", source="code")).uses(grades_db).reads_writes(sheets).reads(key)

rooms = Service("rooms", owner="facilities-team")
rooms_db = rooms.add(Database("db", deletion_protection=False))
plans = rooms.add(Bucket("plans"))
rooms.add(Function("api", handler="handler.handle", source="code")).uses(rooms_db).reads(plans)
'''
ENV = 'name_prefix = "acme"\ndefault_cloud = "aws"\n' + CLOUDS
BASE = "aws-base-aws"


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return write_project(tmp_path / "estate", {"two.py": TWO_SERVICES}, {"aws": ENV})


def endpoints(synthesized: Synthesized) -> dict[str, list[str]]:
    """`service_name (type)` -> the stacks declaring such an endpoint."""
    found: dict[str, list[str]] = {}
    for stack, document in synthesized.documents().items():
        for body in (document.get("resource") or {}).get("aws_vpc_endpoint", {}).values():
            found.setdefault(f"{body['service_name']} ({body['vpc_endpoint_type']})", []).append(stack)
    return found


def test_two_services_in_one_vpc_share_one_endpoint_of_each_kind(project: Project) -> None:
    synthesized = synth(project, "aws", conformance=True)  # the analysis inside proves every grant's path
    assert endpoints(synthesized) == {
        "com.amazonaws.eu-west-1.s3 (Gateway)": [BASE],
        "com.amazonaws.eu-west-1.secretsmanager (Interface)": [BASE],  # grades' secret, both setups' master secrets
    }
    assert shared_declarations(synthesized) == {}
    documents = synthesized.documents()
    prefix_list = ("${data.terraform_remote_state.cross-stack-reference-input-aws-base-aws.outputs."
                   "cross-stack-output-aws_vpc_endpoints3_gatewayprefix_list_id}")
    for service in ("grades", "rooms"):
        stack = documents[f"aws-{service}-aws"]
        assert "aws_vpc_endpoint" not in stack["resource"] and "aws_nat_gateway" not in stack["resource"]
        egress = stack["resource"]["aws_vpc_security_group_egress_rule"]["api_egress_s3"]
        assert egress["prefix_list_id"] == prefix_list
        assert BASE in synthesized.stacks[f"aws-{service}-aws"].dependencies
    assert synthesized.stacks[BASE].shared["vpc-endpoint"] == ["s3", "secretsmanager"]


def _analysis(synthesized: Synthesized, edit: Callable[[dict[str, Any]], None]) -> set[tuple[str, str]]:
    documents = synthesized.documents()
    edit(documents)
    analysis = examine(Estate(documents, synthesized.stacks), synthesized.placements)
    return {(f.function, f.operation) for f in analysis.findings}


def _drop(stack: str, tf_type: str, name: str) -> Callable[[dict[str, Any]], None]:
    def edit(documents: dict[str, Any]) -> None:
        del documents[stack]["resource"][tf_type][name]
    return edit


def test_the_analysis_fails_when_a_shared_endpoint_or_a_rule_to_it_is_removed(project: Project) -> None:
    synthesized = synth(project, "aws")
    assert _analysis(synthesized, lambda documents: None) == set()
    gateway = _analysis(synthesized, _drop(BASE, "aws_vpc_endpoint", "s3_gateway"))
    assert {fn for fn, op in gateway if op.startswith("bucket.")} == {"grades.api", "rooms.api"}
    secrets = _analysis(synthesized, _drop(BASE, "aws_vpc_endpoint", "secretsmanager_endpoint"))
    assert ("grades.api", "secret.read") in secrets and not any(fn == "rooms.api" for fn, _ in secrets)
    # the endpoint's group admits each function through a rule in the function's own stack
    ingress = _analysis(synthesized, _drop("aws-grades-aws", "aws_vpc_security_group_ingress_rule",
                                           "api_to_secretsmanager"))
    assert ("grades.api", "secret.read") in ingress
    egress = _analysis(synthesized, _drop("aws-grades-aws", "aws_vpc_security_group_egress_rule",
                                          "api_egress_secretsmanager"))
    assert ("grades.api", "secret.read") in egress
    rooms_s3 = _analysis(synthesized, _drop("aws-rooms-aws", "aws_vpc_security_group_egress_rule", "api_egress_s3"))
    assert {fn for fn, _ in rooms_s3} == {"rooms.api"}


def test_a_move_keeps_the_endpoints_another_service_uses(project: Project) -> None:
    """grades moves to GCP: the S3 gateway endpoint rooms still uses stays where it was, unchanged, and so does
    the Secrets Manager endpoint only grades asked for (a deployed base keeps what it built)."""
    before = synth(project, "aws", conformance=True)
    metadata = json.loads((before.outdir / "platform.json").read_text())
    project.record_deployed("aws", metadata["stacks"])  # as `platform apply` records it
    base_before = before.documents()[BASE]["resource"]["aws_vpc_endpoint"]

    env = project.envs_dir / "aws.toml"
    env.write_text(env.read_text().replace('default_cloud = "aws"\n', 'default_cloud = "aws"\n[placement]\n'
                                                                       '"grades" = "gcp"\n'))
    after = synth(project, "aws", conformance=True)
    documents = after.documents()
    assert documents[BASE]["resource"]["aws_vpc_endpoint"] == base_before  # nothing to destroy or replace
    assert endpoints(after) == {"com.amazonaws.eu-west-1.s3 (Gateway)": [BASE],
                                "com.amazonaws.eu-west-1.secretsmanager (Interface)": [BASE]}
    assert after.stacks["aws-grades-aws"].tombstone  # grades' AWS stack goes; it never held an endpoint
    rooms = documents["aws-rooms-aws"]["resource"]["aws_vpc_security_group_egress_rule"]["api_egress_s3"]
    assert "cross-stack-output-aws_vpc_endpoints3_gatewayprefix_list_id" in rooms["prefix_list_id"]


def test_a_nat_the_environment_opts_in_to_is_built_once_in_the_base_stack(tmp_path: Path) -> None:
    network = ('\n[clouds.aws.network]\nvpc_id = "vpc-0a1b2c3d4e5f67890"\n'
               'subnet_ids = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"]\n'
               'nat = "create"\nnat_subnet_id = "subnet-0ccccccccccccccc3"\n')
    project = write_project(tmp_path / "estate", {"two.py": TWO_SERVICES}, {"aws": ENV + network})
    synthesized = synth(project, "aws", conformance=True)
    documents = synthesized.documents()
    owners = {stack for stack, document in documents.items()
              for tf_type in ("aws_nat_gateway", "aws_route", "aws_route_table", "aws_vpc_endpoint")
              if tf_type in (document.get("resource") or {})}
    assert owners == {BASE}
    base = documents[BASE]["resource"]
    assert len(base["aws_nat_gateway"]) == 1
    # with a NAT the AWS APIs are reached through it: no interface endpoint, the S3 gateway on the NAT's table
    assert list(base["aws_vpc_endpoint"]) == ["s3_gateway"]
    assert base["aws_vpc_endpoint"]["s3_gateway"]["route_table_ids"] == ["${aws_route_table.nat_routes.id}"]
