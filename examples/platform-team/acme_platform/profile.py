"""Acme's profile: organisation standards applied to every stack. Environments point at it with
`profile = "acme_platform.profile:PROFILE"` (an installed package) or `profile = "platform/profile.py:PROFILE"`
(a file in the project)."""

from __future__ import annotations

from typing import Any

from acme_platform.guardrails import ServiceOwnerRequired
from platform_sdk.envs import Environment
from platform_sdk.errors import PlatformError
from platform_sdk.guardrails import FunctionLimits, standard_rules
from platform_sdk.model import Service
from platform_sdk.profile import ModuleBacking, Profile


def acme_name(env: Environment, service: str, resource: str) -> str:
    """`acme-prod-shop-images`: the convention billing and the on-call tools parse."""
    return f"acme-{env.name}-{service}-{resource}"


def disposable_dev_buckets(env: Environment, services: list[Service]) -> None:
    """Before synth, hooks see (and may adjust or refuse) the model: outside protected environments buckets may
    be destroyed with their objects, so tearing down a dev environment never gets stuck on a full bucket."""
    if env.protected:
        return
    for service in services:
        for bucket in service.buckets:
            bucket.force_destroy = True


MAX_RESOURCES_PER_STACK = 200


def stack_budget(result: Any) -> None:
    """After synth (before anything is written), hooks see the stacks: a huge stack plans slowly and fails as a
    whole, so refuse it; raising here writes nothing."""
    for info in result.stacks.values():
        if len(info.resources) > MAX_RESOURCES_PER_STACK:
            raise PlatformError(f"stack {info.name} has {len(info.resources)} resources "
                                f"(limit {MAX_RESOURCES_PER_STACK}): split the service")


def rds_inputs(database: Any, ctx: Any) -> dict[str, Any]:
    """Inputs of Acme's RDS module for one neutral Database (ctx: the stack being built)."""
    return {"engine": database.engine, "instance_class": ctx.size("database", database.size, "aws_instance_class",
                                                                   "db.t4g.small"),
            "multi_az": ctx.override(database, "high_availability", database.high_availability)}


PROFILE = Profile(
    name="acme",
    naming=acme_name,
    # Required tags land in AWS provider default_tags and, as labels, in GCP default_labels (and Cloud SQL's
    # user_labels); guardrail `tags.required` checks every taggable resource carries them.
    required_tags={"cost-center": "cc-4711", "data-classification": "internal"},
    tag_from_service={"owner": "owner"},
    log_retention_days=90,
    kms_keys={"aws": "arn:aws:kms:eu-west-1:333333333333:key/1b2c3d4e-0000-4000-8000-000000000001"},
    allowed_regions={"aws": ["eu-west-1", "eu-central-1"], "gcp": ["europe-west1", "europe-west4"]},
    sizes={"database": {"small": {"aws_instance_class": "db.t4g.small", "gcp_tier": "db-custom-1-3840"},
                        "medium": {"aws_instance_class": "db.m7g.large", "gcp_tier": "db-custom-2-7680"}}},
    # Back a kind with Acme's own Terraform module instead of the built-in compiler (here: RDS on AWS).
    modules={("aws", "database"): ModuleBacking(source="app.terraform.io/acme/rds/aws", version="~> 4.2",
                                                inputs=rds_inputs,
                                                outputs=("name", "url", "endpoint", "port", "resource_id",
                                                         "secret_arn"))},
    before_synth=[disposable_dev_buckets],
    after_synth=[stack_budget],
    # The standard rules with Acme's limits, plus Acme's own rule.
    guardrails=standard_rules(FunctionLimits(max_memory_mb=2048, max_timeout_s=300), ServiceOwnerRequired()),
)
