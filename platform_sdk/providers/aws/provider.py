"""The `hashicorp/aws` provider blocks of an AWS stack: the main one, and a us-east-1 alias when CloudFront needs it.

Why pinned `>= 6.62, < 7`: the resource arguments emitted here are checked against the vendored 6.62.0 schema
(tools/extract_schemas.py), so 6.62 is the oldest version known to have every one of them; a 7.x provider could
rename them under us.
"""

from __future__ import annotations

from typing import Any

from platform_sdk.cdk.raw import RawProvider
from platform_sdk.providers.aws.config import aws_config
from platform_sdk.providers.base import StackContext

SOURCE = "hashicorp/aws"
VERSION = ">= 6.62, < 7"
CLOUDFRONT_REGION = "us-east-1"  # ACM certificates used by CloudFront must live here
US_EAST_1_ALIAS = "us_east_1"

# Services the compiler talks to, pointed at `clouds.aws.endpoint` when set (tests against moto).
ENDPOINT_SERVICES = ("acm", "cloudfront", "ec2", "events", "iam", "lambda", "logs", "rds", "s3", "secretsmanager",
                     "sts")


class AliasedProvider(RawProvider):
    """A provider with an alias: CDKTF reads the alias through the (jsii) `alias` property, not the attributes."""

    def __init__(self, *args: Any, alias: str, **kwargs: Any) -> None:
        self._alias_name = alias
        super().__init__(*args, **kwargs)

    @property
    def alias(self) -> str | None:  # type: ignore[override]
        return self._alias_name

    @alias.setter
    def alias(self, value: str | None) -> None:  # the alias is fixed at construction
        pass


def provider_attributes(ctx: StackContext, region: str) -> dict[str, Any]:
    """Region, account guard, default tags, and the emulator settings when an endpoint is configured."""
    aws = aws_config(ctx.env)
    attrs: dict[str, Any] = {"region": region, "default_tags": [{"tags": ctx.tags()}]}
    if aws is not None and aws.account:
        attrs["allowed_account_ids"] = [aws.account]
    if aws is not None and aws.endpoint:
        attrs["endpoints"] = [{service: aws.endpoint for service in ENDPOINT_SERVICES}]
        attrs.update(s3_use_path_style=True, skip_credentials_validation=True, skip_metadata_api_check="true",
                     skip_region_validation=True, skip_requesting_account_id=True)
    return attrs


def region_of(ctx: StackContext) -> str:
    aws = aws_config(ctx.env)
    return aws.region if aws is not None else "us-east-1"


def configure(ctx: StackContext) -> RawProvider:
    """The stack's default AWS provider."""
    return ctx.once("aws:provider", lambda: RawProvider(
        ctx.stack, "aws", "aws", SOURCE, VERSION, provider_attributes(ctx, region_of(ctx))))


def us_east_1(ctx: StackContext) -> RawProvider:
    """An `aws.us_east_1` provider for CloudFront certificates, built once per stack."""
    return ctx.once("aws:provider:us_east_1", lambda: AliasedProvider(
        ctx.stack, "aws_us_east_1", "aws", SOURCE, VERSION, provider_attributes(ctx, CLOUDFRONT_REGION),
        alias=US_EAST_1_ALIAS))


def account_id(ctx: StackContext) -> str:
    """The account id: literal from the environment file when known, else looked up once per stack."""
    aws = aws_config(ctx.env)
    if aws is not None and aws.account:
        return aws.account
    return ctx.once("aws:caller_identity", lambda: ctx.data("aws_caller_identity", "current", {})).ref("account_id")
