"""The synthesis benchmark's workload: one AWS estate described as plain data, buildable two ways.

Why plain data: the comparison is only honest if "ours" (raw `cdktf.TerraformResource` subclasses) and
"bindings" (the prebuilt `cdktf-cdktf-provider-aws` classes) build exactly the same resources with exactly
the same arguments.  So the estate is generated once as `(terraform type, id, attributes)` triples in
Terraform's JSON spelling, with symbolic references (`Ref`) between resources, and each variant only
translates that data into its own constructs.  References are resolved into real CDKTF tokens by each
variant, so token resolution is part of what is measured, as it would be in a real program.

This module imports nothing from cdktf, jsii or the SDK: it runs unchanged in the project venv and in the
throwaway bindings venv, and costs nothing to import.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

REGION = "eu-west-1"
ACCOUNT = "111111111111"
# The Terraform provider the prebuilt bindings 21.22.1 were generated from (see DESIGN.md).
AWS_SOURCE = "hashicorp/aws"
AWS_VERSION = "6.25.0"
DEFAULT_TAGS = {"managed-by": "platform-sdk", "environment": "bench"}


@dataclass(frozen=True)
class Ref:
    """An attribute of another resource in the same stack (`${type.id.attribute}` once synthesized)."""

    id: str
    attribute: str


@dataclass(frozen=True)
class Concat:
    """A string built from literals and references, e.g. an ARN plus `/*`."""

    parts: tuple[str | Ref, ...]


@dataclass(frozen=True)
class Json:
    """A value serialized to a JSON string after its references are resolved (IAM policy documents)."""

    value: Any


@dataclass
class ResourceSpec:
    """One Terraform resource: its type, construct id and arguments in Terraform's JSON spelling."""

    type: str
    id: str
    attributes: dict[str, Any]
    depends_on: tuple[str, ...] = ()


@dataclass
class StackSpec:
    """One Terraform stack: a provider configuration and its resources, in creation order."""

    name: str
    provider: dict[str, Any]
    resources: list[ResourceSpec] = field(default_factory=list)


def resolve(value: Any, lookup: Callable[[Ref], str]) -> Any:
    """Replace every Ref/Concat/Json in `value` with what the variant's constructs produce.

    `lookup` turns a Ref into the variant's token string; everything else is shared so both variants hand
    CDKTF byte-identical inputs.
    """
    if isinstance(value, Ref):
        return lookup(value)
    if isinstance(value, Concat):
        return "".join(lookup(p) if isinstance(p, Ref) else p for p in value.parts)
    if isinstance(value, Json):
        return json.dumps(resolve(value.value, lookup), sort_keys=True, separators=(",", ":"))
    if isinstance(value, dict):
        return {k: resolve(v, lookup) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, lookup) for v in value]
    return value


def _tags(service: str, resource: str) -> dict[str, str]:
    return {"service": service, "resource": resource, "owner": f"{service}-team"}


def _bucket(service: str, index: int) -> list[ResourceSpec]:
    """A private bucket the way the AWS compiler makes one: bucket + the four companion resources."""
    rid = f"b{index:02d}"
    name = f"acme-bench-{service}-data{index:02d}"
    bucket = Ref(f"{rid}_bucket", "id")
    return [
        ResourceSpec("aws_s3_bucket", f"{rid}_bucket", {
            "bucket": name, "force_destroy": False, "tags": _tags(service, name),
        }),
        ResourceSpec("aws_s3_bucket_public_access_block", f"{rid}_public_access", {
            "bucket": bucket, "block_public_acls": True, "block_public_policy": True,
            "ignore_public_acls": True, "restrict_public_buckets": True,
        }),
        ResourceSpec("aws_s3_bucket_server_side_encryption_configuration", f"{rid}_encryption", {
            "bucket": bucket,
            "rule": [{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"},
                      "bucket_key_enabled": True}],
        }),
        ResourceSpec("aws_s3_bucket_ownership_controls", f"{rid}_ownership", {
            "bucket": bucket, "rule": {"object_ownership": "BucketOwnerEnforced"},
        }),
        ResourceSpec("aws_s3_bucket_versioning", f"{rid}_versioning", {
            "bucket": bucket,
            "versioning_configuration": {"status": "Enabled" if index % 2 == 0 else "Suspended"},
        }),
    ]


TRUST_POLICY = Json({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
})


def _function(service: str, index: int, buckets: int) -> list[ResourceSpec]:
    """A function the way the AWS compiler makes one: role, inline policy, log group, lambda."""
    rid = f"f{index:02d}"
    name = f"acme-bench-{service}-fn{index:02d}"
    read = f"b{index % buckets:02d}_bucket"
    write = f"b{(index + 1) % buckets:02d}_bucket"
    policy = Json({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": [Concat((Ref(f"{rid}_logs", "arn"), ":*"))]},
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
             "Resource": [Ref(read, "arn"), Concat((Ref(read, "arn"), "/*"))]},
            {"Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject"],
             "Resource": [Concat((Ref(write, "arn"), "/*"))]},
        ],
    })
    package_hash = hashlib.sha256(name.encode()).hexdigest()
    return [
        ResourceSpec("aws_iam_role", f"{rid}_role", {
            "name": f"{name}-role", "assume_role_policy": TRUST_POLICY, "tags": _tags(service, name),
        }),
        ResourceSpec("aws_cloudwatch_log_group", f"{rid}_logs", {
            "name": f"/aws/lambda/{name}", "retention_in_days": 14, "tags": _tags(service, name),
        }),
        ResourceSpec("aws_iam_role_policy", f"{rid}_policy", {
            "name": f"{name}-access", "role": Ref(f"{rid}_role", "name"), "policy": policy,
        }),
        ResourceSpec("aws_lambda_function", f"{rid}_function", {
            "function_name": name,
            "role": Ref(f"{rid}_role", "arn"),
            "handler": "app.handler",
            "runtime": "python3.12",
            "filename": f"../../assets/{name}.zip",
            "source_code_hash": package_hash,
            "memory_size": 256 + 128 * (index % 4),
            "timeout": 30,
            "environment": {"variables": {
                "PLATFORM_SERVICE": service, "PLATFORM_FUNCTION": f"fn{index:02d}",
                "PLATFORM_BUCKET_READ": Ref(read, "bucket"), "PLATFORM_BUCKET_WRITE": Ref(write, "bucket"),
            }},
            "tags": _tags(service, name),
        }, depends_on=(f"{rid}_logs", f"{rid}_policy")),
    ]


def generate(stacks: int = 10, buckets: int = 8, functions: int = 15) -> list[StackSpec]:
    """`stacks` services, each `buckets` x 5 + `functions` x 4 resources (defaults: 10 x 100 = 1,000)."""
    estate: list[StackSpec] = []
    for s in range(stacks):
        service = f"svc{s:02d}"
        stack = StackSpec(f"bench-{service}-aws", {"region": REGION, "allowed_account_ids": [ACCOUNT],
                                                   "default_tags": [{"tags": DEFAULT_TAGS}]})
        for b in range(buckets):
            stack.resources.extend(_bucket(service, b))
        for f in range(functions):
            stack.resources.extend(_function(service, f, buckets))
        estate.append(stack)
    return estate


def count(estate: list[StackSpec]) -> int:
    """Total number of resources in the estate."""
    return sum(len(stack.resources) for stack in estate)
