"""Bucket -> S3: a private, encrypted, owner-enforced bucket; public reads only when asked for explicitly."""

from __future__ import annotations

from typing import Any

from platform_sdk.cdk.raw import RawResource
from platform_sdk.model import Bucket
from platform_sdk.providers.aws.common import kms_key, make_handle, policy_json, resource_tags, rid
from platform_sdk.providers.aws.provider import region_of
from platform_sdk.providers.base import Handle, StackContext

ABORT_INCOMPLETE_UPLOADS_DAYS = 7


class BucketPolicy:
    """The single aws_s3_bucket_policy of a bucket.

    Why one object: S3 keeps one policy per bucket, so two policy resources would overwrite each other on every
    apply. Everyone needing a statement (public read, a CDN in front) adds it here; the JSON is re-rendered on
    each addition and read by CDKTF at synth time.
    """

    def __init__(self, ctx: StackContext, bucket: Bucket, bucket_id: str, arn: str, after: list[RawResource]) -> None:
        self.stack_name = ctx.name
        self.bucket = bucket
        self.arn = arn
        self.statements: list[dict[str, Any]] = [{
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn, f"{arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }]
        self.resource = ctx.resource("aws_s3_bucket_policy", rid(ctx, bucket, "policy"),
                                     {"bucket": bucket_id, "policy": policy_json(self.statements)})
        # A relaxed public access block must exist before a public statement is accepted.
        self.resource.after(*after)

    def add(self, statement: dict[str, Any]) -> None:
        self.statements.append(statement)
        self.resource.attributes["policy"] = policy_json(self.statements)


def lifecycle_rule(bucket: Bucket) -> dict[str, Any]:
    """The one lifecycle rule of every bucket: abort incomplete multipart uploads, plus the expiry when asked for.

    Why every bucket: the parts of an upload that never completes are invisible to listings and billed until
    deleted. One rule (not one per concern) so adding `expire_days` later only changes that rule; the expiry
    rule keeps its historical id `expire`.
    """
    rule: dict[str, Any] = {
        "id": "expire" if bucket.expire_days else "abort-incomplete-uploads",
        "status": "Enabled",
        "filter": [{}],  # 6.x: a rule for the whole bucket still needs an (empty) filter
        "abort_incomplete_multipart_upload": [{"days_after_initiation": ABORT_INCOMPLETE_UPLOADS_DAYS}],
    }
    if bucket.expire_days:
        rule["expiration"] = [{"days": bucket.expire_days}]
        if bucket.versioning:
            rule["noncurrent_version_expiration"] = [{"noncurrent_days": bucket.expire_days}]
    return rule


def encryption_rule(kms_key_arn: str | None = None) -> dict[str, Any]:
    """SSE-S3 by default; SSE-KMS (with bucket keys, to keep KMS costs down) when a key is given."""
    if kms_key_arn:
        return {"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms",
                                                            "kms_master_key_id": kms_key_arn},
                "bucket_key_enabled": True}
    return {"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}


def bucket_kms_key(ctx: StackContext, bucket: Bucket) -> str | None:
    """The key a bucket's objects are encrypted with: the profile's key, except for public buckets.

    Why not public buckets: anonymous requests cannot use KMS, so public reads of SSE-KMS objects are denied.
    A CDN in front of an SSE-KMS bucket needs the key policy to let cloudfront.amazonaws.com decrypt (the
    platform team's key policy, not something this compiler can grant).
    """
    return None if bucket.public_read else kms_key(ctx)


def compile_bucket(ctx: StackContext, bucket: Bucket) -> Handle:
    """Emit the bucket and its companion resources; the handle carries the policy for CDNs to extend."""
    s3 = ctx.resource("aws_s3_bucket", rid(ctx, bucket, "bucket"), {
        "bucket": ctx.physical_name(bucket),
        "force_destroy": bucket.force_destroy,
        "tags": resource_tags(ctx, bucket),
    })
    bucket_id = s3.ref("id")
    pab = ctx.resource("aws_s3_bucket_public_access_block", rid(ctx, bucket, "pab"), {
        "bucket": bucket_id,
        "block_public_acls": True,
        "ignore_public_acls": True,
        "block_public_policy": not bucket.public_read,
        "restrict_public_buckets": not bucket.public_read,
    })
    ctx.resource("aws_s3_bucket_server_side_encryption_configuration", rid(ctx, bucket, "sse"), {
        "bucket": bucket_id,
        "rule": [encryption_rule(bucket_kms_key(ctx, bucket))],
    })
    ctx.resource("aws_s3_bucket_ownership_controls", rid(ctx, bucket, "ownership"), {
        "bucket": bucket_id,
        "rule": {"object_ownership": "BucketOwnerEnforced"},
    })
    after: list[RawResource] = []
    if bucket.versioning:
        # Only emitted when on: "Disabled" is valid only at creation, and deleting this resource suspends versioning.
        after.append(ctx.resource("aws_s3_bucket_versioning", rid(ctx, bucket, "versioning"), {
            "bucket": bucket_id,
            "versioning_configuration": {"status": "Enabled"},
        }))
    lifecycle = ctx.resource("aws_s3_bucket_lifecycle_configuration", rid(ctx, bucket, "lifecycle"),
                             {"bucket": bucket_id, "rule": [lifecycle_rule(bucket)]})
    if after:
        lifecycle.after(*after)
    if bucket.cors:
        cors_rule: dict[str, Any] = {
            "allowed_origins": list(bucket.cors.origins),
            "allowed_methods": list(bucket.cors.methods),
            "max_age_seconds": bucket.cors.max_age_seconds,
            "expose_headers": ["ETag"],
        }
        if set(bucket.cors.methods) - {"GET", "HEAD"}:
            cors_rule["allowed_headers"] = ["*"]  # uploads send Content-Type and checksum headers
        ctx.resource("aws_s3_bucket_cors_configuration", rid(ctx, bucket, "cors"),
                     {"bucket": bucket_id, "cors_rule": [cors_rule]})
    arn = s3.ref("arn")
    policy = BucketPolicy(ctx, bucket, bucket_id, arn, [pab])
    if bucket.public_read:
        policy.add({"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                    "Resource": f"{arn}/*"})
    name = s3.ref("bucket")
    return make_handle(
        ctx, bucket, {"bucket": s3, "policy": policy, "public_access_block": pab},
        name=name, url=f"s3://{name}", arn=arn, domain=s3.ref("bucket_regional_domain_name"),
    )


def partition(region: str) -> str:
    """The ARN partition of a region. https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html"""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def known_bucket(ctx: StackContext, bucket: Bucket) -> Handle:
    """What `compile_bucket`'s handle tells consumers, as values known before apply (`Compiler.known_handle`)."""
    name = ctx.physical_name(bucket)
    arn = f"arn:{partition(region_of(ctx))}:s3:::{name}"
    return make_handle(ctx, bucket, name=name, url=f"s3://{name}", arn=arn)
