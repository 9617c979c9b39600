"""Provider blocks and project facts every GCP resource needs.

Why a module: the project id may come from the environment file or, when it is left out, from the
credentials Terraform runs with; every resource that must name the project asks here instead of guessing.
"""

from __future__ import annotations

from typing import Any

from platform_sdk.providers.base import StackContext
from platform_sdk.providers.gcp.config import GcpConfig, gcp_config

GOOGLE_SOURCE = "hashicorp/google"
GOOGLE_VERSION = ">= 8.7, < 9"  # the vendored schema is 8.7.0: the floor has every argument we emit
RANDOM_SOURCE = "hashicorp/random"
RANDOM_VERSION = "~> 3.6"


def cloud(ctx: StackContext) -> GcpConfig:
    return gcp_config(ctx.env) or GcpConfig()


def region(ctx: StackContext) -> str:
    return cloud(ctx).region


def configure(ctx: StackContext) -> None:
    """The google provider, pinned, with the standard labels on every labelled resource."""
    from platform_sdk.cdk.raw import RawProvider

    attrs: dict[str, Any] = {"region": region(ctx)}
    if cloud(ctx).project:
        attrs = {"project": cloud(ctx).project, **attrs}
    google = RawProvider(ctx.stack, "google", "google", GOOGLE_SOURCE, GOOGLE_VERSION, attrs)
    # cdktf snake-cases provider attributes recursively (label "managed-by" would become "managed_by");
    # an override is applied after that conversion and keeps the keys exactly as GCP labels need them.
    google.add_override("default_labels", ctx.labels())


def use_random(ctx: StackContext) -> None:
    """hashicorp/random, added once and only to stacks that generate a password."""
    from platform_sdk.cdk.raw import RawProvider

    ctx.once("gcp:provider:random",
             lambda: RawProvider(ctx.stack, "random", "random", RANDOM_SOURCE, RANDOM_VERSION, {}))


def project_id(ctx: StackContext) -> str:
    """The project id: literal from the environment file, else read from the provider's credentials."""
    if cloud(ctx).project:
        return cloud(ctx).project  # type: ignore[return-value]
    client = ctx.once("gcp:data:client_config", lambda: ctx.data("google_client_config", "platform_client_config", {}))
    return client.ref("project")


def project_number(ctx: StackContext) -> str:
    """The numeric project id (service agents are named after it)."""
    attrs = {"project_id": cloud(ctx).project} if cloud(ctx).project else {}
    project = ctx.once("gcp:data:project", lambda: ctx.data("google_project", "platform_project", attrs))
    return project.ref("number")


def gcs_agent(ctx: StackContext) -> Any:
    """The project's Cloud Storage service agent (data source, once per stack): it publishes notifications and
    uses the profile's KMS key on behalf of our buckets."""
    return ctx.once("gcp:data:gcs_agent",
                    lambda: ctx.data("google_storage_project_service_account", "platform_gcs_agent", {}))


def apis(ctx: StackContext, *services: str) -> list[Any]:
    """Ask the environment's GCP base stack to enable the Google APIs a resource needs, so a fresh project works
    on first apply. Returns nothing to wait for inside the stack: the base stack enables them (one
    google_project_service per API, `disable_on_destroy = false`, see providers/gcp/base.py) and every service
    stack depends on it, so it is applied first. (A list, so callers can still write `.after(*apis(...))`.)
    """
    ctx.needs.add("api", *services)
    return []
