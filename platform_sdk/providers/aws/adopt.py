"""Adopting existing AWS resources: the ids `terraform import` takes, and a bucket's live settings compared with
its declaration (read through boto3 before anything is imported).

Import ids, from the AWS provider's documentation ("Import" section of each resource page):
- aws_s3_bucket: the bucket name (registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/s3_bucket#import)
- aws_db_instance: the DB instance identifier
  (registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/db_instance#import)
- aws_lambda_function: the function name
  (registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/lambda_function#import)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

IMPORT_ATTRIBUTE = {"bucket": "bucket", "database": "identifier", "function": "function_name"}
"""Kind -> the attribute of its primary block (`AwsPlugin.primary_types`) that is its import id."""


PUBLIC_ACCESS = {"block_public_acls": "BlockPublicAcls", "ignore_public_acls": "IgnorePublicAcls",
                 "block_public_policy": "BlockPublicPolicy", "restrict_public_buckets": "RestrictPublicBuckets"}
"""aws_s3_bucket_public_access_block argument -> the S3 API's PublicAccessBlockConfiguration field."""


def import_id(kind: str, body: Mapping[str, Any]) -> str | None:
    """The import id of the primary block `body` of a resource of `kind`; None for kinds not adopted."""
    attribute = IMPORT_ATTRIBUTE.get(kind)
    value = body.get(attribute) if attribute else None
    return value if isinstance(value, str) else None


def _of_type(blocks: Mapping[str, Mapping[str, Any]], terraform_type: str) -> Mapping[str, Any] | None:
    return next((body for address, body in blocks.items() if address.split(".", 1)[0] == terraform_type), None)


def declared_bucket(blocks: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """What the compiler declared for a bucket (aws/bucket.py): versioning, encryption algorithm, public access."""
    versioning = _of_type(blocks, "aws_s3_bucket_versioning")
    sse = _of_type(blocks, "aws_s3_bucket_server_side_encryption_configuration") or {}
    rules = sse.get("rule") or [{}]
    default = (rules[0] if isinstance(rules, list) else rules).get("apply_server_side_encryption_by_default") or {}
    pab = _of_type(blocks, "aws_s3_bucket_public_access_block") or {}
    return {
        "versioning": bool(versioning and versioning.get("versioning_configuration", {}).get("status") == "Enabled"),
        "encryption": default.get("sse_algorithm", "none"),
        **{f"public_access.{key}": bool(pab.get(key, False))
           for key in PUBLIC_ACCESS},
    }


def live_bucket(client: Any, name: str) -> dict[str, Any] | None:
    """The same settings read from S3 (`client`: a boto3 S3 client); None when there is no such bucket.

    GetBucketVersioning, GetBucketEncryption, GetPublicAccessBlock (docs.aws.amazon.com/AmazonS3/latest/API/).
    """
    from botocore.exceptions import ClientError

    def code(err: ClientError) -> str:
        return str(err.response.get("Error", {}).get("Code", ""))

    try:
        client.head_bucket(Bucket=name)
    except ClientError as err:
        if code(err) in ("404", "NoSuchBucket", "NotFound"):
            return None
        raise
    live: dict[str, Any] = {"versioning": client.get_bucket_versioning(Bucket=name).get("Status") == "Enabled"}
    try:
        rules = client.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
        live["encryption"] = rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] if rules else "none"
    except ClientError as err:
        if code(err) != "ServerSideEncryptionConfigurationNotFoundError":
            raise
        live["encryption"] = "none"
    try:
        pab = client.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
    except ClientError as err:
        if code(err) != "NoSuchPublicAccessBlockConfiguration":
            raise
        pab = {}
    for key, api in PUBLIC_ACCESS.items():
        live[f"public_access.{key}"] = bool(pab.get(api, False))
    return live


def bucket_differences(client: Any, name: str, blocks: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """"<setting>: live <value>, declared <value>" for each setting of bucket `name` that differs."""
    live = live_bucket(client, name)
    if live is None:
        return [f"bucket: no bucket named {name!r} exists"]
    declared = declared_bucket(blocks)
    return [f"{key}: live {live[key]!r}, declared {declared[key]!r}" for key in declared if live[key] != declared[key]]
