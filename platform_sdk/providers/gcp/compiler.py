"""Compile the neutral model to Google Cloud (hashicorp/google 6.x): one module per resource kind.

This class only delegates; the mapping lives in bucket.py, function.py, cdn.py, database.py and secret.py, the roles in
iam.py, and provider blocks in provider.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from platform_sdk.model import AlarmThreshold, Bucket, Cdn, Database, Function, Grant, Metric, Queue, Resource, Secret
from platform_sdk.naming import default_name
from platform_sdk.providers.base import BaseNeeds, Compiler, FunctionInputs, Handle, StackContext
from platform_sdk.providers.gcp import dns, federation, naming, observability, provider
from platform_sdk.providers.gcp.base import compile_base
from platform_sdk.providers.gcp.bucket import compile_bucket
from platform_sdk.providers.gcp.cdn import cdn_problems, compile_cdn
from platform_sdk.providers.gcp.database import compile_database
from platform_sdk.providers.gcp.function import compile_function, function_problems
from platform_sdk.providers.gcp.queue import compile_queue, queue_problems
from platform_sdk.providers.gcp.secret import compile_secret, secret_problems

if TYPE_CHECKING:
    from platform_sdk.envs import Environment
    from platform_sdk.profile import Profile


# Terraform types this compiler emits whose destroy or replace loses data (the plug-in's `stateful_types`).
STATEFUL_TYPES: frozenset[str] = frozenset({"google_storage_bucket", "google_sql_database_instance",
                                            "google_sql_database", "google_secret_manager_secret",
                                            "google_pubsub_topic", "google_pubsub_subscription",
                                            "google_dns_managed_zone"})
# (a zone the base stack creates: destroying it loses its records and the delegation made to its name servers)


class GcpCompiler(Compiler):
    """Cloud Storage, Cloud Functions 2nd gen, Cloud CDN behind a global load balancer, Cloud SQL, Secret
    Manager; Cloud Monitoring alert policies and dashboards, log-based metrics, the notification channels and the
    billing budget (observability.py)."""

    target = "gcp"

    def __init__(self, env: Environment) -> None:
        self.env = env
        # Stacks this compiler configured, by name: `foreign_url` adds the federation trust to a bucket's stack.
        self.contexts: dict[str, StackContext] = {}
        # Notification channels built in each cloud label's base stack: every alert policy of that label lists them.
        self.channels: dict[str, list[object]] = {}

    def bucket_name_problems(self, name: str) -> list[str]:
        return naming.bucket_name_problems(name)

    def problems(self, resource: Resource, env: Environment) -> list[str]:
        """Checked before synthesis, so an invalid name or an unsupported trigger fails with nothing written."""
        # Bucket names are checked by placement itself, through `bucket_name_problems` and the profile's naming.
        if isinstance(resource, Function):
            return function_problems(resource, env)
        if isinstance(resource, Cdn):
            return cdn_problems(resource, env)
        if isinstance(resource, Queue):
            return queue_problems(resource)
        if isinstance(resource, Secret) and resource.service is not None:
            service = resource.service
            databases = {db.address: default_name(env, service.name, db.name) for db in service.databases}
            return secret_problems(default_name(env, service.name, resource.name), databases)
        return []

    def configure(self, ctx: StackContext) -> None:
        self.contexts[ctx.name] = ctx
        provider.configure(ctx)
        observability.record_needs(ctx)
        dns.record_needs(ctx)  # the environment's DNS zone lives in the base stack

    def bucket(self, ctx: StackContext, bucket: Bucket) -> Handle:
        res, attrs = compile_bucket(ctx, bucket)
        return self._handle(ctx, bucket, attrs, res)

    def database(self, ctx: StackContext, database: Database) -> Handle:
        res, attrs = compile_database(ctx, database)
        return self._handle(ctx, database, attrs, res)

    def secret(self, ctx: StackContext, secret: Secret) -> Handle:
        res, attrs = compile_secret(ctx, secret)
        return self._handle(ctx, secret, attrs, res)

    def queue(self, ctx: StackContext, queue: Queue) -> Handle:
        res, attrs = compile_queue(ctx, queue)
        return self._handle(ctx, queue, attrs, res)

    def function(self, ctx: StackContext, fn: Function, inputs: FunctionInputs) -> Handle:
        res, attrs = compile_function(ctx, fn, inputs)
        return self._handle(ctx, fn, attrs, res)

    def cdn(self, ctx: StackContext, cdn: Cdn, origins: Mapping[Resource, Handle]) -> Handle:
        res, attrs = compile_cdn(ctx, cdn, origins)
        return self._handle(ctx, cdn, attrs, res)

    def base(self, ctx: StackContext, needs: BaseNeeds) -> None:
        """APIs, service-agent bindings and custom roles of the project, the alert channel and the budget, once per
        environment (base.py, observability.py)."""
        compile_base(ctx, needs)
        self.channels[ctx.cloud] = observability.compile_base(ctx, needs)

    def alarms(self, ctx: StackContext, handle: Handle, thresholds: list[AlarmThreshold]) -> None:
        observability.compile_alarms(ctx, handle, thresholds, self.channels.get(ctx.cloud, []))

    def dashboard(self, ctx: StackContext, handles: list[Handle], metrics: list[Metric]) -> None:
        observability.compile_dashboard(ctx, handles, metrics)

    def _handle(self, ctx: StackContext, resource: Resource, attrs: dict[str, str], main: object) -> Handle:
        handle = self.handle(ctx, resource, **attrs)
        handle.constructs["main"] = main
        return handle

    # -- keyless cross-cloud access (federation.py) -------------------------------------------------------------
    def internet_refusal(self, env: Environment, fn: Function) -> str | None:
        """Never: a Cloud Functions (2nd gen) function without a VPC connector reaches the internet directly, and
        this plug-in attaches none (Cloud SQL is reached through its connectors over Google's APIs)
        (https://cloud.google.com/functions/docs/networking/network-settings). The conformance analysis still
        reports a function whose connector, added by other means, takes all its traffic."""
        return None

    def identity_literal(self, env: Environment, profile: Profile, fn: Function) -> dict[str, str]:
        """The function's service account email (AWS trusts its unique id, a token from the function's stack)."""
        return federation.identity_literal(env, profile, fn)

    def foreign_url(self, env: Environment, profile: Profile, grant: Grant, handle: Handle, function_target: str,
                    identity: dict[str, str]) -> str:
        """`gs://<bucket>`, `secretmanager://<project>/<id>` or `pubsub://<project>/<topic>`, plus `?wif_audience=
        <provider audience>&web_identity=aws`, or a function's call URL with them and the service account it
        impersonates; builds the trust in the target's stack (federation.py)."""
        ctx = self.contexts.get(handle.stack_name)
        if ctx is None:
            raise grant.error(f"{grant.target.kind} {grant.target.address} is not in a stack this compiler built",
                              key=grant.function.address, value=handle.stack_name)
        return federation.foreign_url(ctx, grant, handle, function_target, identity)

    def federate(self, ctx: StackContext, grant: Grant, handle: Handle, fn_handle: Handle,
                 identity: dict[str, str]) -> None:
        """The grant's roles for the AWS function's role, through workload identity federation (federation.py)."""
        federation.federate(ctx, grant, handle, fn_handle, identity)
