"""The AWS plug-in's environment-file sections: `[clouds.aws]` and the S3 state backend (`[state] backend = "s3"`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from platform_sdk.providers.base import CloudConfig, StateBackend


class AwsConfig(CloudConfig):
    """Where AWS workloads go. `stand_in = "local"` compiles them to the local cloud (rehearsals)."""

    account: Annotated[str, Field(pattern=r"^\d{12}$")] | None = None
    region: str = "us-east-1"
    endpoint: str | None = None  # an AWS-compatible API endpoint (tests: moto)


class S3State(StateBackend):
    """Terraform's S3 backend with DynamoDB locking (`platform bootstrap` creates both)."""

    backend: Literal["s3"]
    bucket: str
    lock_table: str
    region: str = "us-east-1"
    key_prefix: str = "platform"
    endpoint: str | None = None  # tests: moto server


def aws_config(env: object) -> AwsConfig | None:
    """The environment's `[clouds.aws]` section, None when it has none."""
    return env.clouds.get("aws")  # type: ignore[attr-defined,no-any-return]
