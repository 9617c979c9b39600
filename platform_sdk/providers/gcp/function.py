"""Function -> Cloud Functions (2nd gen): its own service account, a package object, triggers and IAM.

Triggers:
- HTTP: ingress ALLOW_ALL; `public=True` adds allUsers invoker bindings. Behind a CDN: ingress ALLOW_INTERNAL_AND_GCLB
  and allUsers invokers (the load balancer sends no credentials), so only the load balancer reaches it (cdn.py).
- schedule: a Cloud Scheduler job per cron calling the function's run.app URI with an OIDC token of a
  per-stack scheduler service account that may invoke only the scheduled functions.
- object created: one Eventarc storage trigger (gen2 allows exactly one event trigger per function). Several
  object-created triggers on the *same* bucket share it; their prefix/suffix filters travel to the runtime in
  PLATFORM_TRIGGER_FILTERS (JSON) and the adapter drops non-matching events. Different buckets cannot be
  served and are reported by `function_problems` before synthesis.

Logs: Cloud Functions write to Cloud Logging's `_Default` bucket of the project. Its retention is a project-level
setting (google_logging_project_bucket_config on `_Default`), shared by every workload in the project, so the
profile's `log_retention_days` is not applied per function here: the platform team sets it once per project.
"""

from __future__ import annotations

import base64
import itertools
import json
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from platform_sdk import contract
from platform_sdk.errors import PlacementError
from platform_sdk.model import (
    Database,
    Function,
    HttpTrigger,
    ObjectCreatedTrigger,
    QueueMessageTrigger,
    ScheduleTrigger,
)
from platform_sdk.providers.base import FunctionInputs, StackContext
from platform_sdk.providers.gcp import database, iam, kms, naming, provider
from platform_sdk.providers.gcp.bucket import STORAGE_API, bucket_attributes
from platform_sdk.providers.gcp.config import DEFAULT_MAX_INSTANCES, INVOKERS, MAX_INSTANCES
from platform_sdk.providers.gcp.limits import GCP_FUNCTION_LIMITS
from platform_sdk.providers.gcp.queue import PUBSUB_API, topic_id

if TYPE_CHECKING:
    from platform_sdk.envs import Environment

RUNTIMES = {"python3.10": "python310", "python3.11": "python311", "python3.12": "python312"}
# Environment variables Cloud Run sets itself for a function, and the prefix it refuses in a variable's name
# (https://cloud.google.com/run/docs/configuring/services/overview-environment-variables).
RESERVED_ENV = frozenset({"FUNCTION_TARGET", "FUNCTION_SIGNATURE_TYPE", "K_SERVICE", "K_REVISION", "PORT"})
RESERVED_ENV_PREFIX = "X_GOOGLE_"
# Cloud Functions gen2 limits: event-driven functions time out after at most 540 s (HTTP: 3600 s).
EVENT_TIMEOUT_LIMIT = 540
OBJECT_FINALIZED = "google.cloud.storage.object.v1.finalized"
TRIGGER_FILTERS_ENV = "PLATFORM_TRIGGER_FILTERS"
SOURCE_BUCKET_SUFFIX = "src"
PACKAGE_NONCURRENT_DAYS = 30  # how long a deleted function package stays restorable
# Cloud Functions gen2 builds with Cloud Build into Artifact Registry and runs on Cloud Run.
FUNCTION_APIS = ("iam.googleapis.com", "cloudfunctions.googleapis.com", "run.googleapis.com",
                 "cloudbuild.googleapis.com", "artifactregistry.googleapis.com", "storage.googleapis.com")
EVENT_APIS = ("eventarc.googleapis.com", "pubsub.googleapis.com")
SCHEDULE_APIS = ("cloudscheduler.googleapis.com",)


def source_bucket_name(physical: str) -> str:
    return naming.shorten(physical, 63)


def function_problems(fn: Function, env: Environment) -> list[str]:
    """What Cloud Functions gen2 cannot do for this function, as 'missing X' phrases."""
    problems: list[str] = []
    events = fn.trigger_of(ObjectCreatedTrigger)
    if len({id(t.bucket) for t in events}) > 1:
        problems.append("support for more than one event source per function "
                        "(Cloud Functions gen2 takes one event trigger; split the function per bucket)")
    if events and (fn.trigger_of(HttpTrigger) or fn.trigger_of(ScheduleTrigger)):
        problems.append("support for HTTP or schedule triggers on a function that also has an object-created "
                        "trigger (a gen2 event function only accepts CloudEvents)")
    queues = fn.trigger_of(QueueMessageTrigger)
    if queues and events:
        problems.append("support for queue_message and object-created triggers on one function (a Pub/Sub push "
                        "needs an HTTP function, an object-created trigger makes it a CloudEvent function)")
    http = fn.trigger_of(HttpTrigger)
    if queues and http and http[0].public:
        problems.append("a queue_message trigger on a function with a public http() trigger (Cloud Run would not "
                        "authenticate the pushes: anyone could post a message; use http(auth=...) or split it)")
    if events and fn.timeout > EVENT_TIMEOUT_LIMIT:
        problems.append(f"support for event-driven timeouts above {EVENT_TIMEOUT_LIMIT} seconds (got {fn.timeout})")
    problems += [f"environment variable {key} (reserved by Cloud Run functions)" for key in sorted(fn.environment)
                 if key in RESERVED_ENV or key.startswith(RESERVED_ENV_PREFIX)]
    return problems


def source_bucket(ctx: StackContext, fn: Function) -> Any:
    """One private bucket per stack holding the function packages (objects named by content hash).

    Its name follows the profile's naming convention, so it is checked here, with the real name; the error
    is raised before anything is written.
    """
    def build() -> Any:
        # `<prefix>-<env>-<service>-src`, unless a resource of the service is called "src" or keeps that physical
        # name (renamed_from="src")
        candidates = (SOURCE_BUCKET_SUFFIX + (f"-{i}" if i else "") for i in itertools.count())
        taken = {key for resource in ctx.service for key in (resource.name, resource.physical_key)}
        suffix = next(s for s in candidates if s not in taken)
        name = source_bucket_name(ctx.profile.physical_name(ctx.env, ctx.service.name, suffix))
        problems = naming.bucket_name_problems(name)
        if problems:
            raise PlacementError(
                f"function {fn.address} cannot be placed on {ctx.cloud}: missing a valid bucket name for the "
                f"function packages: {'; '.join(problems)}",
                file=ctx.env.file, key=fn.address, value=ctx.cloud,
                hint=f"place {ctx.service.name} on another cloud or rename the service",
            )
        # force_destroy: it only holds build inputs, which must not block removing the stack.
        attrs = bucket_attributes(ctx, name, ctx.labels(), force_destroy=True)
        # Versioned: a package replaced by a new build stays restorable. Objects are named by content hash, so a
        # new version only appears when a package is deleted; those noncurrent copies go after a while.
        attrs["versioning"] = {"enabled": True}
        # send_age_if_zero = false: otherwise the provider adds `age = 0` to a condition that names no age.
        attrs["lifecycle_rule"] = [{"action": {"type": "Delete"},
                                    "condition": {"with_state": "ARCHIVED", "send_age_if_zero": False,
                                                  "days_since_noncurrent_time": PACKAGE_NONCURRENT_DAYS}}]
        return ctx.resource("google_storage_bucket", "platform_function_packages", attrs).after(
            *provider.apis(ctx, STORAGE_API), *kms.storage_key_ready(ctx))
    return ctx.once("gcp:source_bucket", build)


GCS_PUBLISHER = "gcs-publisher"  # the base stack's need (kind "agent"), built by providers/gcp/base.py


def gcs_publisher(ctx: StackContext) -> None:
    """Ask the base stack to let the project's GCS service agent publish object notifications (the Eventarc
    transport). Project-level by nature (the agent publishes to topics Eventarc creates on the fly) and shared by
    every stack of the project, so it has one owner: the base stack, which this stack depends on."""
    ctx.needs.add("agent", GCS_PUBLISHER)


def scheduler_account(ctx: StackContext) -> Any:
    """One service account per stack that Cloud Scheduler jobs authenticate as (invoker of scheduled functions)."""
    def build() -> Any:
        physical = ctx.profile.physical_name(ctx.env, ctx.service.name, "scheduler")
        return ctx.resource("google_service_account", "platform_scheduler", {
            "account_id": naming.account_id(physical, role="scheduler"),
            "display_name": f"{ctx.service.name} scheduler",
            "description": "Calls the service's scheduled functions (OIDC); no other permissions",
        })
    return ctx.once("gcp:scheduler_sa", build)


def ingress_settings(fn: Function, inputs: FunctionInputs) -> str:
    """Who may reach the function's service at the network level: only load balancers (and the project's VPC) for a
    CDN's origin, so it cannot be reached around the CDN; everyone for an HTTP trigger or a function other
    functions call (over the internet; IAM admits only the granted ones); internal otherwise (Pub/Sub pushes,
    Eventarc and Scheduler of the same project count as internal).
    https://cloud.google.com/functions/docs/networking/network-settings#ingress_settings"""
    if inputs.cdns:
        return "ALLOW_INTERNAL_AND_GCLB"
    return "ALLOW_ALL" if fn.trigger_of(HttpTrigger) or inputs.invokers else "ALLOW_INTERNAL_ONLY"


def trigger_filters(events: list[ObjectCreatedTrigger], inputs: FunctionInputs) -> str:
    """JSON list of {bucket, prefix, suffix}: the runtime delivers an event if any entry matches."""
    entries = [{"bucket": inputs.trigger_buckets[t.bucket.name]["name"], "prefix": t.prefix, "suffix": t.suffix}
               for t in events]
    unique = {json.dumps(e, sort_keys=True): e for e in entries}
    return json.dumps([unique[key] for key in sorted(unique)], sort_keys=True, separators=(",", ":"))


def compile_function(ctx: StackContext, fn: Function, inputs: FunctionInputs) -> tuple[Any, dict[str, str]]:
    physical = ctx.physical_name(fn)
    name = naming.rfc1035(physical)
    region = provider.region(ctx)
    account = ctx.resource("google_service_account", f"{fn.name}_sa", {
        "account_id": naming.account_id(physical),
        "display_name": f"{fn.address} function",
        "description": "Identity of one function: only the grants declared in its service",
    }).after(*provider.apis(ctx, "iam.googleapis.com"))
    member = account.ref("member")
    package = inputs.package
    source = ctx.resource("google_storage_bucket_object", f"{fn.name}_source", {
        # the content hash in the name: a code change is a new object, so Terraform redeploys the function
        "name": f"{ctx.service.name}/{fn.name}/{package.sha256}.zip",
        "bucket": source_bucket(ctx, fn).ref("name"),
        "source": ctx.asset(package),
        "content_type": "application/zip",
    })
    module, _, symbol = package.entry_point.rpartition(".")
    build_env: dict[str, str] = {}
    if module != "main":  # the buildpack loads main.py unless told which file holds the entry point
        build_env["GOOGLE_FUNCTION_SOURCE"] = str(PurePosixPath(*module.split("."))) + ".py"

    bindings = [binding for grant, handle in inputs.grants if handle.target == "gcp"
                for binding in iam.bind_grant(ctx, fn.name, member, grant, handle)]
    if any(grant.target.kind == "bucket" and handle.target == "gcp" for grant, handle in inputs.grants):
        # signed_url(): the runtime signs through IAM signBlob as this account (iam.TOKEN_CREATOR on itself)
        bindings.append(ctx.resource("google_service_account_iam_member", f"{fn.name}_signs_urls", {
            "service_account_id": account.ref("name"), "role": iam.TOKEN_CREATOR, "member": member,
        }))
        provider.apis(ctx, iam.SIGNING_API)

    events = fn.trigger_of(ObjectCreatedTrigger)
    http = fn.trigger_of(HttpTrigger)
    if inputs.invokers and http and http[0].public:
        callers = ", ".join(caller.address for caller, _ in inputs.invokers)
        raise PlacementError(
            f"function {fn.address} cannot be placed on {ctx.cloud}: missing a way to authenticate calls from "
            f"{callers} on a function with a public http() trigger (Cloud Run would admit anyone's calls)",
            file=ctx.env.file, key=fn.address, value=ctx.cloud,
            hint='give it http(auth="iam") or http(auth=jwt(...)), or split the public endpoint from the callee')
    environment = dict(inputs.environment)
    database_users = []
    for grant, handle in inputs.grants:  # its own IAM database user, never the built-in (administrator) user
        if handle.target == "gcp" and isinstance(grant.target, Database):
            url, user = database.iam_user(ctx, fn.name, grant.target, handle.attrs, naming.account_id(physical),
                                          account.ref("email"))
            environment[contract.resource_var("database", grant.target.name)] = url
            database_users.append(user)
    if events:
        environment[TRIGGER_FILTERS_ENV] = trigger_filters(events, inputs)
    problem = GCP_FUNCTION_LIMITS.environment_problem(fn.address, environment, ctx.cloud)
    if problem:  # placement checked the service's own variables; these include the ones its grants add
        raise fn.error(f"{problem}, counting the {len(environment) - len(fn.environment)} variables the platform "
                       "sets for its grants and triggers", "environment")
    attrs: dict[str, Any] = {
        "name": name,
        "location": region,
        "description": f"{fn.address} ({fn.handler})",
        "labels": ctx.labels(fn),
        "build_config": {
            "runtime": RUNTIMES[fn.runtime],
            "entry_point": symbol,
            **({"environment_variables": build_env} if build_env else {}),
            "source": {"storage_source": {"bucket": source.ref("bucket"), "object": source.ref("name")}},
        },
        "service_config": {
            "available_memory": f"{fn.memory}Mi",
            "timeout_seconds": fn.timeout,
            "max_instance_count": ctx.setting(fn, MAX_INSTANCES.key, DEFAULT_MAX_INSTANCES),
            "service_account_email": account.ref("email"),
            "environment_variables": dict(sorted(environment.items())),
            "ingress_settings": ingress_settings(fn, inputs),
            "all_traffic_on_latest_revision": True,
        },
    }
    after: list[Any] = [*provider.apis(ctx, *FUNCTION_APIS), *bindings, *database_users]
    if events:
        after += provider.apis(ctx, *EVENT_APIS)
        bucket = inputs.trigger_buckets[events[0].bucket.name]
        attrs["event_trigger"] = {
            "event_type": OBJECT_FINALIZED,
            "trigger_region": region,  # our buckets are regional, in the stack's region
            "retry_policy": "RETRY_POLICY_RETRY",
            "service_account_email": account.ref("email"),
            "event_filters": [{"attribute": "bucket", "value": bucket["name"]}],
        }
        gcs_publisher(ctx)
        after.append(iam.project_member(ctx, f"{fn.name}_event_receiver", iam.EVENT_RECEIVER, member))
    function = ctx.resource("google_cloudfunctions2_function", fn.name, attrs)
    if after:
        function.after(*after)
    service = function.ref("service_config.0.service")
    uri = function.ref("service_config.0.uri")

    if events:  # Eventarc calls the service as the trigger's service account
        iam.run_invoker(ctx, f"{fn.name}_event_invoker", service, member)
    queues = fn.trigger_of(QueueMessageTrigger)
    pushed = bool(queues) or bool(inputs.invokers)
    if pushed:  # Pub/Sub pushes with an OIDC token of the function's own service account
        iam.run_invoker(ctx, f"{fn.name}_push_invoker", service, member)
    for trigger in queues:
        subscription = inputs.trigger_queues[trigger.queue.name].constructs["main"]
        subscription.attributes["push_config"] = {
            "push_endpoint": uri, "oidc_token": {"service_account_email": account.ref("email"), "audience": uri}}
    calls: dict[str, str] = {}
    if inputs.invokers:
        calls = calls_topic(ctx, fn, physical, uri, account.ref("email"))
    if http and http[0].iam:
        for index, principal in enumerate(str(ctx.setting(fn, INVOKERS.key, "") or "").split(), start=1):
            iam.run_invoker(ctx, f"{fn.name}_named_invoker{index}", service, principal)
    if http and (http[0].public or inputs.cdns):  # the load balancer in front of a CDN's origin sends no credentials
        ctx.resource("google_cloudfunctions2_function_iam_member", f"{fn.name}_public_invoker", {
            "location": region, "cloud_function": function.ref("name"),
            "role": iam.FUNCTIONS_INVOKER, "member": iam.PUBLIC,
        })
        iam.run_invoker(ctx, f"{fn.name}_public_run_invoker", service, iam.PUBLIC)
    schedules = fn.trigger_of(ScheduleTrigger)
    if schedules:
        scheduler = scheduler_account(ctx)
        invoker = iam.run_invoker(ctx, f"{fn.name}_scheduler_invoker", service, scheduler.ref("member"))
        for index, trigger in enumerate(schedules):
            ctx.resource("google_cloud_scheduler_job", f"{fn.name}_schedule_{index}", {
                "name": naming.rfc1035(f"{physical}-{index}", 500),
                "region": region,
                "description": f"{fn.address}: {trigger.cron} (UTC)",
                "schedule": trigger.cron,
                "time_zone": "Etc/UTC",
                "http_target": {
                    "uri": uri,
                    "http_method": "POST",
                    # tells the runtime adapter which of the function's schedules fired
                    "headers": {"Content-Type": "application/json"},
                    "body": base64.b64encode(json.dumps({"platform_schedule": trigger.cron}).encode()).decode(),
                    "oidc_token": {"service_account_email": scheduler.ref("email"), "audience": uri},
                },
            }).after(invoker, *provider.apis(ctx, *SCHEDULE_APIS))
    project = provider.project_id(ctx)
    call_url = f"gcf://{name}?url={function.ref('url')}"
    if calls:
        call_url += f"&calls={project}/{calls['calls_topic_name']}"
    return function, {
        **({"calls_topic": calls["calls_topic"]} if calls else {}),
        "call_url": call_url,
        "name": function.ref("name"),
        "url": function.ref("url"),
        "uri": uri,
        "service": service,
        "identity": account.ref("email"),
        "identity_id": account.ref("unique_id"),
        "identity_member": member,
    }


def calls_topic(ctx: StackContext, fn: Function, physical: str, uri: str, email: str) -> dict[str, str]:
    """The queue the platform creates for `function(name).send(payload)` on GCP: a topic whose push subscription
    delivers each call to the function (OIDC token of its own service account), retried with backoff and
    dead-lettered after 5 attempts onto a topic whose subscription keeps them."""
    apis = provider.apis(ctx, PUBSUB_API)
    labels = ctx.labels(fn)
    topic = ctx.resource("google_pubsub_topic", f"{fn.name}_calls", {
        "name": topic_id(physical, "-calls"), "labels": labels}).after(*apis)
    dead = ctx.resource("google_pubsub_topic", f"{fn.name}_calls_dlq", {
        "name": topic_id(physical, "-calls-dlq"), "labels": labels}).after(*apis)
    ctx.resource("google_pubsub_subscription", f"{fn.name}_calls_dlq_subscription", {
        "name": topic_id(physical, "-calls-dlq"), "topic": dead.ref("id"), "labels": labels,
        "message_retention_duration": "604800s", "expiration_policy": {"ttl": ""}})
    ctx.resource("google_pubsub_subscription", f"{fn.name}_calls_subscription", {
        "name": topic_id(physical, "-calls"), "topic": topic.ref("id"), "labels": labels,
        "ack_deadline_seconds": max(10, min(fn.timeout, 600)), "expiration_policy": {"ttl": ""},
        "retry_policy": {"minimum_backoff": "10s", "maximum_backoff": "600s"},
        "dead_letter_policy": {"dead_letter_topic": dead.ref("id"), "max_delivery_attempts": 5},
        "push_config": {"push_endpoint": uri, "oidc_token": {"service_account_email": email, "audience": uri}},
    })
    from platform_sdk.providers.gcp.queue import pubsub_agent

    ctx.resource("google_pubsub_topic_iam_member", f"{fn.name}_calls_dlq_agent_publisher", {
        "topic": dead.ref("id"), "role": iam.PUBSUB_PUBLISHER, "member": pubsub_agent(ctx)})
    return {"calls_topic": topic.ref("id"), "calls_topic_name": topic_id(physical, "-calls")}
