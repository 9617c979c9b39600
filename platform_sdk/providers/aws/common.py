"""Small helpers shared by the AWS resource modules: construct ids, handles, tags and JSON policies."""

from __future__ import annotations

import json
from typing import Any

from platform_sdk.errors import PlatformError
from platform_sdk.model import Resource
from platform_sdk.providers.aws.config import LOG_RETENTION, LOG_RETENTION_DAYS
from platform_sdk.providers.base import Handle, StackContext

TARGET = "aws"


def rid(ctx: StackContext, resource: Resource, suffix: str) -> str:
    """A construct id unique per stack: the neutral name (unique within a service) plus a per-kind suffix.

    Resources of another service (a trigger bucket of a neighbour) get their service name in front, so two
    services' `originals` buckets never collide in one stack.
    """
    service = resource.service
    prefix = resource.name if service is None or service is ctx.service else f"{service.name}__{resource.name}"
    return f"{prefix}_{suffix}"


def make_handle(ctx: StackContext, resource: Resource, constructs: dict[str, Any] | None = None,
                **attrs: str) -> Handle:
    """A Handle for the orchestrator; `constructs` carries accumulators later resources add to."""
    return Handle(resource, ctx.cloud, TARGET, ctx.name, dict(attrs), dict(constructs or {}))


def resource_tags(ctx: StackContext, resource: Resource) -> dict[str, str]:
    """Only the tags the provider's default_tags do not already carry (identical duplicates cause churn)."""
    common = ctx.tags()
    return {k: v for k, v in ctx.tags(resource).items() if common.get(k) != v}


def kms_key(ctx: StackContext) -> str | None:
    """The organisation's customer managed key for AWS (profile `kms_keys["aws"]`); None = AWS-owned keys.

    Why the key policy matters: services that use it on our behalf (CloudWatch Logs, CloudFront reading an
    SSE-KMS bucket) need the platform team's key policy to allow them; IAM on our side cannot grant that.
    """
    return ctx.profile.kms_keys.get(TARGET) or None


def policy_json(statements: list[dict[str, Any]]) -> str:
    """An IAM policy document as a stable JSON string (tokens inside are resolved by CDKTF at synth)."""
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True, separators=(",", ":"))


def log_retention(ctx: StackContext, resource: Resource) -> int:
    """Days the log groups of `resource` keep events: the environment's `log_retention_days` for it (checked when
    the environment's values were applied), else the profile's standard. CloudWatch takes fixed values only, so a
    profile value outside them fails here with the file and key to fix."""
    days = ctx.setting(resource, LOG_RETENTION.key, None)
    if days is not None:
        return int(days)
    days = ctx.profile.log_retention_days
    if days not in LOG_RETENTION_DAYS:
        allowed = ", ".join(map(str, LOG_RETENTION_DAYS))
        raise PlatformError(f"the profile's log_retention_days must be one of {allowed}",
                            file=ctx.profile.source, key="log_retention_days", value=days)
    return int(days)
