"""Compile the neutral model to the local cloud provider (directories, a function registry, database servers).

The local environment can hold stand-ins for `aws` and `gcp` placements: each cloud label gets its own root,
so a cross-cloud move can be rehearsed end to end on a laptop.

Databases run the engine they declare (`[clouds.local] databases`, default "engine"), and every function granted
one connects as its own least-privilege role (`localcloud_database_role`, in the function's stack): its URL, not
the database's administrator URL, is what the function receives.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from platform_sdk import contract
from platform_sdk.localcloud.roots import local_root
from platform_sdk.model import (
    Bucket,
    Cdn,
    Database,
    Function,
    HttpTrigger,
    ObjectCreatedTrigger,
    Queue,
    QueueMessageTrigger,
    Resource,
    ScheduleTrigger,
    Secret,
)
from platform_sdk.model.cdn import DEFAULT_ROUTE
from platform_sdk.providers.base import Compiler, FunctionInputs, Handle, StackContext
from platform_sdk.providers.local.config import local_config
from platform_sdk.providers.local.domains import route_domain
from platform_sdk.runtime.dbroles import role_name

if TYPE_CHECKING:
    from platform_sdk.envs import Environment


class LocalCompiler(Compiler):
    """One localcloud resource per neutral resource; grants are enforced by the runtime from PLATFORM_GRANTS."""

    target = "local"
    known_kinds = frozenset({"bucket", "secret", "queue", "function"})
    AREAS: ClassVar[dict[str, str]] = {"bucket": "buckets", "secret": "secrets", "queue": "queues"}
    """Kind -> the directory `<root>/<area>/<name>` the local cloud keeps a resource of that kind in
    (platform_sdk.localcloud's `directory_values`)."""

    def __init__(self, env: Environment) -> None:
        self.env = env

    def known_handle(self, ctx: StackContext, resource: Resource) -> Handle:
        """What the compiled handle tells consumers, as the local cloud computes it from the name: a bucket's,
        secret's or queue's directory and `file://` URL; a function's gateway URL and call URL. A cycle between
        two stacks (two services granted each other's resources, e.g. across the clouds a rehearsal stands in
        for, where production federates) is wired with these values. What the rehearsed clouds could not wire so
        is reported by the rehearsal, which synthesizes with their compilers."""
        name = ctx.physical_name(resource)
        if isinstance(resource, Function):
            url = f"http://127.0.0.1:{local_config(self.env).gateway_port}/fn/{name}"
            return self.handle(ctx, resource, name=name, url=url, call_url=f"localfn://{name}")
        path = local_root(ctx.project_dir, ctx.env, ctx.cloud) / self.AREAS[resource.kind] / name
        extra = {"path": str(path)} if isinstance(resource, Bucket) else {}
        return self.handle(ctx, resource, name=name, url=path.as_uri(), **extra)

    def configure(self, ctx: StackContext) -> None:
        from platform_sdk.cdk.raw import RawProvider
        from platform_sdk.localcloud.mirror import PROVIDER_SOURCE, PROVIDER_VERSION

        root = os.path.relpath(local_root(ctx.project_dir, ctx.env, ctx.cloud), ctx.stack_dir)
        config = local_config(self.env)
        RawProvider(ctx.stack, "localcloud", "localcloud", PROVIDER_SOURCE, f"~> {PROVIDER_VERSION}",
                    {"root": root, "gateway_port": config.gateway_port, "databases": config.databases})

    def bucket(self, ctx: StackContext, bucket: Bucket) -> Handle:
        name = ctx.physical_name(bucket)
        attrs: dict[str, object] = {"name": name, "versioning": bucket.versioning,
                                    "public_read": bucket.public_read, "force_destroy": bucket.force_destroy}
        if bucket.expire_days:
            attrs["expire_days"] = bucket.expire_days
        if bucket.cors:
            attrs["cors_origins"] = list(bucket.cors.origins)
        res = ctx.resource("localcloud_bucket", bucket.name, attrs)
        return self.handle(ctx, bucket, name=res.ref("name"), url=res.ref("url"), path=res.ref("path"))

    def database(self, ctx: StackContext, database: Database) -> Handle:
        res = ctx.resource("localcloud_database", database.name, {
            "name": ctx.physical_name(database), "engine": database.engine,
            "deletion_protection": database.deletion_protection,
        })
        return self.handle(ctx, database, name=res.ref("name"), url=res.ref("url"), endpoint=res.ref("path"))

    def secret(self, ctx: StackContext, secret: Secret) -> Handle:
        res = ctx.resource("localcloud_secret", secret.name, {"name": ctx.physical_name(secret)})
        return self.handle(ctx, secret, name=res.ref("name"), url=res.ref("url"))

    def queue(self, ctx: StackContext, queue: Queue) -> Handle:
        res = ctx.resource("localcloud_queue", queue.name, {
            "name": ctx.physical_name(queue), "max_attempts": queue.max_attempts,
            "retention_days": queue.retention_days,
        })
        return self.handle(ctx, queue, name=res.ref("name"), url=res.ref("url"))

    def function(self, ctx: StackContext, fn: Function, inputs: FunctionInputs) -> Handle:
        """The registry entry `platform dev` serves: triggers as JSON (an `auth="iam"` HTTP trigger lists the functions
        the gateway admits, by physical name; queue triggers name the queue's URL)."""
        triggers: dict[str, object] = {}
        http = fn.trigger_of(HttpTrigger)
        if http:
            triggers["http"] = {"public": http[0].public}
            if http[0].iam:
                triggers["http"] = {"public": False, "auth": "iam"}
            if inputs.cdns:  # like the clouds: the gateway refuses its own URL, only the CDN route reaches it
                triggers["http"]["via_cdn"] = True
        if inputs.invokers:
            triggers["invokers"] = sorted(self._physical(ctx, caller) for caller, _ in inputs.invokers)
        queues = [{"queue": inputs.trigger_queues[t.queue.name]["name"],
                   "url": inputs.trigger_queues[t.queue.name]["url"], "batch_size": t.batch_size}
                  for t in fn.trigger_of(QueueMessageTrigger)]
        if queues:
            triggers["queues"] = queues
        if fn.trigger_of(ScheduleTrigger):
            triggers["schedules"] = [t.cron for t in fn.trigger_of(ScheduleTrigger)]
        events = [
            {"bucket": inputs.trigger_buckets[t.bucket.name]["name"], "prefix": t.prefix, "suffix": t.suffix}
            for t in fn.trigger_of(ObjectCreatedTrigger)
        ]
        if events:
            triggers["object_created"] = events
        environment = dict(inputs.environment)
        for grant, handle in inputs.grants:
            if isinstance(grant.target, Database):
                environment[contract.resource_var("database", grant.target.name)] = self._role(ctx, fn, grant.target,
                                                                                            handle)
        res = ctx.resource("localcloud_function", fn.name, {
            "name": ctx.physical_name(fn),
            "handler": inputs.package.entry_point,
            "runtime": fn.runtime,
            "package": ctx.asset(inputs.package),
            "package_hash": inputs.package.sha256,
            "memory": fn.memory,
            "timeout": fn.timeout,
            "environment": environment,
            "triggers": json.dumps(triggers, sort_keys=True),
        })
        return self.handle(ctx, fn, name=res.ref("name"), url=res.ref("url"),
                           call_url=f"localfn://{ctx.physical_name(fn)}")

    @staticmethod
    def _physical(ctx: StackContext, fn: Function) -> str:
        return ctx.profile.physical_name(ctx.env, fn.service.name if fn.service else "", fn.physical_key)

    def _role(self, ctx: StackContext, fn: Function, database: Database, handle: Handle) -> str:
        """The function's own role on the database (several databases share a local server: the role is named
        after both); its URL. Functions of the service declaring the database own its schema."""
        owner = database.service is fn.service
        service = database.service.name if database.service else ctx.service.name
        db_name = ctx.profile.physical_name(ctx.env, service, database.name)
        role = ctx.resource("localcloud_database_role", f"{fn.name}_{database.name}_role".replace("-", "_"), {
            "name": role_name(ctx.physical_name(fn), db_name, engine=database.engine),
            "database": handle["name"],
            "owner": owner,
        })
        return str(role.ref("url"))

    def cdn(self, ctx: StackContext, cdn: Cdn, origins: Mapping[Resource, Handle]) -> Handle:
        attrs: dict[str, object] = {"name": ctx.physical_name(cdn)}
        default = cdn.default_origin
        attrs["origin_bucket" if isinstance(default, Bucket) else "origin_function"] = origins[default]["name"]
        for pattern, origin in cdn.route_origins.items():
            if pattern != DEFAULT_ROUTE:
                paths = attrs.setdefault("path_buckets" if isinstance(origin, Bucket) else "path_functions", {})
                paths[pattern] = origins[origin]["name"]  # type: ignore[index]
        domain = route_domain(ctx, cdn)  # an external zone's first phase records none (domains.py)
        if domain:
            attrs["domain"] = domain
        res = ctx.resource("localcloud_cdn_route", cdn.name, attrs)
        return self.handle(ctx, cdn, url=res.ref("url"), domain=domain or "")
