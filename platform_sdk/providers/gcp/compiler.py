"""Compile the neutral model to Google Cloud (hashicorp/google 6.x): one module per resource kind.

This class only delegates; the mapping lives in bucket.py, function.py, cdn.py and database.py, the roles in
iam.py, and provider blocks in provider.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from platform_sdk.errors import PlatformError
from platform_sdk.model import Bucket, Cdn, Database, Function, Grant, Resource
from platform_sdk.providers.base import Compiler, FunctionInputs, Handle, StackContext
from platform_sdk.providers.gcp import federation, naming, provider
from platform_sdk.providers.gcp.bucket import compile_bucket
from platform_sdk.providers.gcp.cdn import cdn_problems, compile_cdn
from platform_sdk.providers.gcp.database import compile_database
from platform_sdk.providers.gcp.function import compile_function, function_problems

if TYPE_CHECKING:
    from platform_sdk.envs import Environment
    from platform_sdk.profile import Profile


# Terraform types this compiler emits whose destroy or replace loses data (the plug-in's `stateful_types`).
STATEFUL_TYPES: frozenset[str] = frozenset({"google_storage_bucket", "google_sql_database_instance",
                                            "google_sql_database"})


class GcpCompiler(Compiler):
    """Cloud Storage, Cloud Functions 2nd gen, Cloud CDN behind a global load balancer, Cloud SQL."""

    target = "gcp"

    def __init__(self, env: Environment) -> None:
        self.env = env
        # Stacks this compiler configured, by name: `foreign_url` adds the federation trust to a bucket's stack.
        self.contexts: dict[str, StackContext] = {}

    def bucket_name_problems(self, name: str) -> list[str]:
        return naming.bucket_name_problems(name)

    def problems(self, resource: Resource, env: Environment) -> list[str]:
        """Checked before synthesis, so an invalid name or an unsupported trigger fails with nothing written."""
        # Bucket names are checked by placement itself, through `bucket_name_problems` and the profile's naming.
        if isinstance(resource, Function):
            return function_problems(resource, env)
        if isinstance(resource, Cdn):
            return cdn_problems(resource, env)
        return []

    def configure(self, ctx: StackContext) -> None:
        self.contexts[ctx.name] = ctx
        provider.configure(ctx)

    def bucket(self, ctx: StackContext, bucket: Bucket) -> Handle:
        res, attrs = compile_bucket(ctx, bucket)
        return self._handle(ctx, bucket, attrs, res)

    def database(self, ctx: StackContext, database: Database) -> Handle:
        res, attrs = compile_database(ctx, database)
        return self._handle(ctx, database, attrs, res)

    def function(self, ctx: StackContext, fn: Function, inputs: FunctionInputs) -> Handle:
        res, attrs = compile_function(ctx, fn, inputs)
        return self._handle(ctx, fn, attrs, res)

    def cdn(self, ctx: StackContext, cdn: Cdn, origin: Handle) -> Handle:
        res, attrs = compile_cdn(ctx, cdn, origin)
        return self._handle(ctx, cdn, attrs, res)

    def _handle(self, ctx: StackContext, resource: Resource, attrs: dict[str, str], main: object) -> Handle:
        handle = self.handle(ctx, resource, **attrs)
        handle.constructs["main"] = main
        return handle

    # -- keyless cross-cloud access (federation.py) -------------------------------------------------------------
    def identity_literal(self, env: Environment, profile: Profile, fn: Function) -> dict[str, str]:
        """The function's service account email (AWS trusts its unique id, a token from the function's stack)."""
        return federation.identity_literal(env, profile, fn)

    def foreign_url(self, env: Environment, profile: Profile, grant: Grant, handle: Handle, function_target: str,
                    identity: dict[str, str]) -> str:
        """`gs://<bucket>?wif_audience=<provider audience>&web_identity=aws`; builds the bucket stack's trust."""
        ctx = self.contexts.get(handle.stack_name)
        if ctx is None:
            raise PlatformError(f"bucket {grant.target.address} is not in a stack this compiler built",
                                key=grant.function.address, value=handle.stack_name)
        return federation.foreign_url(ctx, grant, function_target, identity)

    def federate(self, ctx: StackContext, grant: Grant, handle: Handle, fn_handle: Handle,
                 identity: dict[str, str]) -> None:
        """The grant's bucket roles for the AWS function's role, through workload identity federation."""
        federation.federate(ctx, grant, handle, fn_handle, identity)
