"""Bucket -> google_storage_bucket: private by default (uniform access, public access prevention enforced)."""

from __future__ import annotations

from typing import Any

from platform_sdk.model import Bucket
from platform_sdk.providers.base import StackContext
from platform_sdk.providers.gcp import iam, kms, provider

STORAGE_API = "storage.googleapis.com"


def bucket_attributes(ctx: StackContext, name: str, labels: dict[str, str], *, public: bool = False,
                      force_destroy: bool = False) -> dict[str, Any]:
    """Settings every bucket of ours shares: regional, uniform IAM-only access, no public access unless asked."""
    return {
        "name": name,
        "location": provider.region(ctx).upper(),
        "uniform_bucket_level_access": True,
        "public_access_prevention": "inherited" if public else "enforced",
        "force_destroy": force_destroy,
        "labels": labels,
        **kms.bucket_encryption(ctx),  # the profile's key, when it sets one (the GCS agent decrypts for readers)
    }


def compile_bucket(ctx: StackContext, bucket: Bucket) -> tuple[Any, dict[str, str]]:
    """The bucket and its handle attributes (soft delete stays at the provider default: 7 days)."""
    attrs = bucket_attributes(ctx, ctx.physical_name(bucket), ctx.labels(bucket), public=bucket.public_read,
                              force_destroy=bucket.force_destroy)
    attrs["versioning"] = {"enabled": bucket.versioning}
    if bucket.expire_days:
        attrs["lifecycle_rule"] = [{"action": {"type": "Delete"}, "condition": {"age": bucket.expire_days}}]
    if bucket.cors:
        attrs["cors"] = [{"origin": list(bucket.cors.origins), "method": list(bucket.cors.methods),
                          "response_header": ["Content-Type"], "max_age_seconds": bucket.cors.max_age_seconds}]
    res = ctx.resource("google_storage_bucket", bucket.name, attrs).after(*provider.apis(ctx, STORAGE_API),
                                                                         *kms.storage_key_ready(ctx))
    if bucket.public_read:  # explicit opt-in only: anyone on the internet may read objects
        iam.bucket_member(ctx, f"{bucket.name}_public_read", res.ref("name"), iam.OBJECT_VIEWER, iam.PUBLIC)
    name = res.ref("name")
    return res, {"name": name, "url": f"gs://{name}", "self_link": res.ref("self_link"), "id": res.ref("id")}
