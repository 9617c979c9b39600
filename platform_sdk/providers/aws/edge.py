"""The Lambda@Edge function that lets POST and PUT through origin access control to a function URL.

Why: CloudFront signs requests to a private (AWS_IAM) function URL with origin access control, and Lambda then
wants the body's SHA-256 in `x-amz-content-sha256`, which browsers never send; `payload_hash.py` sets it on
the origin request before CloudFront signs. Alternatives weighed: a CloudFront Function cannot read the body;
a public function URL checking a secret header from CloudFront needs a long-lived shared value (in Terraform
state), which origin access control does not; so an origin-request Lambda@Edge function with "include body".
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-lambda.html
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-include-body-access.html

What Lambda@Edge requires (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/
lambda-at-edge-function-restrictions.html): the function in us-east-1, a numbered version (`publish`, the
association names `qualified_arn`), a role that `edgelambda.amazonaws.com` may assume too, x86_64, no environment
variables, layers or VPC; origin-request functions time out after at most 30 s. It logs in the region serving
the request, to `/aws/lambda/us-east-1.<name>` (https://docs.aws.amazon.com/AmazonCloudFront/latest/
DeveloperGuide/edge-functions-logs.html), which its role may write and nothing else.

Deleting it waits until CloudFront has removed its replicas, which can take hours after the distribution is gone
(https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-edge-delete-replicas.html): the
provider retries the delete up to the function's delete timeout (`DELETE_TIMEOUT`).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

from platform_sdk.model import Cdn
from platform_sdk.providers.aws import payload_hash
from platform_sdk.providers.aws.bucket import partition
from platform_sdk.providers.aws.common import policy_json, resource_tags, rid
from platform_sdk.providers.aws.function import ARCHITECTURE, source_code_hash
from platform_sdk.providers.aws.provider import CLOUDFRONT_REGION, account_id, region_of, us_east_1
from platform_sdk.providers.base import StackContext

RUNTIME = "python3.12"
TIMEOUT_S = 5
MEMORY_MB = 128
DELETE_TIMEOUT = "3h"
NAME_SUFFIX = "payload-hash"
EVENT_TYPE = "origin-request"
EDGE_ASSUME_ROLE: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                   "Principal": {"Service": ["edgelambda.amazonaws.com", "lambda.amazonaws.com"]}}],
}
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def package(build_dir: Path) -> tuple[Path, str]:
    """The function's zip (payload_hash.py, stored uncompressed with fixed metadata: identical bytes on every
    machine) and its hex sha256."""
    source = Path(payload_hash.__file__).read_bytes()
    digest = hashlib.sha256(source).hexdigest()[:16]
    path = build_dir / f"edge-payload-hash-{digest}.zip"
    if not path.is_file():
        build_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
            info = zipfile.ZipInfo("payload_hash.py", date_time=FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.create_system = 3
            archive.writestr(info, source)
        tmp.replace(path)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def function_name(ctx: StackContext, cdn: Cdn) -> str:
    return ctx.physical_name(cdn, NAME_SUFFIX)


def payload_hash_association(ctx: StackContext, cdn: Cdn) -> dict[str, Any]:
    """The edge function of `cdn` (role, function in us-east-1) and the cache behavior's association with it."""
    name = function_name(ctx, cdn)
    tags = resource_tags(ctx, cdn)
    role = ctx.resource("aws_iam_role", rid(ctx, cdn, "edge_role"), {
        "name": name,
        "description": f"Runs the payload hash function of {cdn.address} at CloudFront's edge",
        "assume_role_policy": json.dumps(EDGE_ASSUME_ROLE, sort_keys=True, separators=(",", ":")),
        "tags": tags,
    })
    arn = f"arn:{partition(region_of(ctx))}:logs:*:{account_id(ctx)}"  # any region: logs land where CloudFront serves
    log_groups = f"{arn}:log-group:/aws/lambda/{CLOUDFRONT_REGION}.{name}"
    policy = ctx.resource("aws_iam_role_policy", rid(ctx, cdn, "edge_policy"), {
        "name": "edge-logs",
        "role": role.ref("id"),
        "policy": policy_json([{"Sid": "OwnEdgeLogGroups", "Effect": "Allow",
                                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                                "Resource": [log_groups, f"{log_groups}:*"]}]),
    })
    path, sha256 = package(ctx.build_dir)
    function = ctx.resource("aws_lambda_function", rid(ctx, cdn, "payload_hash"), {
        "function_name": name,
        "description": f"Sets x-amz-content-sha256 on requests {cdn.address} signs for its function URL origin",
        "role": role.ref("arn"),
        "handler": payload_hash.ENTRY,
        "runtime": RUNTIME,
        "filename": ctx.file_asset(f"{cdn.name}-payload-hash-package", path, sha256),
        "source_code_hash": source_code_hash(sha256),
        "memory_size": MEMORY_MB,
        "timeout": TIMEOUT_S,
        "architectures": [ARCHITECTURE],
        "publish": True,
        "timeouts": {"delete": DELETE_TIMEOUT},
        "tags": tags,
    }).after(policy)
    function.provider = us_east_1(ctx)  # IAM is global; the function itself must be in us-east-1
    return {"event_type": EVENT_TYPE, "include_body": True, "lambda_arn": function.ref("qualified_arn")}
