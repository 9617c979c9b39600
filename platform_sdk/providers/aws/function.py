"""Function -> Lambda: a role with least-privilege inline policy, its own log group, and one resource per trigger.

Functions that connect to an RDS database join the environment's VPC (network.py), reaching exactly what their
grants need there, and connect as their own database user with IAM tokens (dbsetup.py); the others stay outside it.

Triggers: HTTP -> a function URL (public for `http()`, AWS_IAM for `http(public=False)` and whenever a CDN is in
front, which then is its only way in); schedule -> an EventBridge rule + target (no extra role needed, unlike the
Scheduler) whose input transformer names the cron that fired; object-created -> one aws_s3_bucket_notification
per bucket, shared by every trigger on it.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from platform_sdk import contract
from platform_sdk.cdk.raw import RawResource
from platform_sdk.errors import PlatformError
from platform_sdk.model import Function, HttpTrigger, ObjectCreatedTrigger, QueueMessageTrigger, ScheduleTrigger
from platform_sdk.providers.aws import dbsetup
from platform_sdk.providers.aws.common import kms_key, log_retention, make_handle, policy_json, resource_tags, rid
from platform_sdk.providers.aws.config import INVOKERS, aws_config
from platform_sdk.providers.aws.cron import to_eventbridge
from platform_sdk.providers.aws.iam import (
    LAMBDA_ASSUME_ROLE,
    consumer_statements,
    grant_statements,
    kms_statement,
    log_statement,
)
from platform_sdk.providers.aws.limits import LAMBDA_LIMITS
from platform_sdk.providers.aws.network import attach_to_vpc, database_grants
from platform_sdk.providers.aws.provider import account_id, region_of
from platform_sdk.providers.base import FunctionInputs, Handle, StackContext

ARCHITECTURE = "x86_64"  # packages carry pure-Python code and may carry x86_64 wheels; arm64 would need arm wheels
OBJECT_CREATED = "s3:ObjectCreated:*"


def schedule_rule_suffix(index: int) -> str:
    """EventBridge rules are named `<function>-cron`, `<function>-cron2`, ..."""
    return "-cron" if index == 0 else f"-cron{index + 1}"


def schedule_input(cron: str) -> dict[str, Any]:
    """What the rule sends the function: `{"platform_schedule": "<cron>", "time": "<event time>"}`.

    Why a transformer: the scheduled event itself does not say which of a function's schedules fired; the
    runtime's AWS adapter reads `platform_schedule` (the neutral cron expression) and `time` from this input.
    EventBridge quotes a string value inserted without quotes (`<time>`), so the template is valid JSON.
    """
    return {"input_paths": {"time": "$.time"},
            "input_template": f'{{"platform_schedule": {json.dumps(cron)}, "time": <time>}}'}


def source_code_hash(sha256_hex: str) -> str:
    """Lambda's code hash is base64 of the raw sha256: computed from the package, identical on every synth."""
    return base64.b64encode(bytes.fromhex(sha256_hex)).decode()


class BucketNotification:
    """The one aws_s3_bucket_notification of a bucket: S3 keeps a single notification configuration per bucket,
    so every object-created trigger on it (from any function of the stack) becomes a block of this resource."""

    def __init__(self, ctx: StackContext, handle: Handle) -> None:
        self.stack_name = ctx.name
        self.handle = handle
        self.rules: list[tuple[Function, str, str]] = []
        self.waits_for: set[str] = set()
        self.resource = ctx.resource("aws_s3_bucket_notification", rid(ctx, handle.resource, "notification"),
                                     {"bucket": handle["name"], "lambda_function": []})

    def add(self, fn: Function, trigger: ObjectCreatedTrigger, function_arn: str, permission: RawResource) -> None:
        for other, prefix, suffix in self.rules:
            prefixes_overlap = prefix.startswith(trigger.prefix) or trigger.prefix.startswith(prefix)
            suffixes_overlap = suffix.endswith(trigger.suffix) or trigger.suffix.endswith(suffix)
            if prefixes_overlap and suffixes_overlap:
                raise fn.error(
                    f"object-created trigger on bucket {self.handle.resource.address} overlaps the one of "
                    f"{other.address} (prefix {prefix!r}, suffix {suffix!r}); S3 rejects overlapping rules",
                    key=f"{fn.address}.triggers", value=f"prefix={trigger.prefix!r} suffix={trigger.suffix!r}",
                    hint="give each trigger a distinct prefix or suffix",
                )
        self.rules.append((fn, trigger.prefix, trigger.suffix))
        service = fn.service.name if fn.service else ""
        block: dict[str, Any] = {"id": f"{service}-{fn.name}-{len(self.rules)}", "events": [OBJECT_CREATED],
                                 "lambda_function_arn": function_arn}
        if trigger.prefix:
            block["filter_prefix"] = trigger.prefix
        if trigger.suffix:
            block["filter_suffix"] = trigger.suffix
        self.resource.attributes["lambda_function"].append(block)
        # S3 checks it may invoke the function when the configuration is written.
        if permission.fqn not in self.waits_for:
            self.waits_for.add(permission.fqn)
            self.resource.after(permission)


def _notification(ctx: StackContext, fn: Function, handle: Handle) -> BucketNotification:
    existing: BucketNotification | None = handle.constructs.get("notification")
    if existing is None:
        existing = handle.constructs["notification"] = BucketNotification(ctx, handle)
    elif existing.stack_name != ctx.name:
        raise PlatformError(
            f"bucket {handle.resource.address} already notifies functions of stack {existing.stack_name}; S3 keeps "
            f"one notification configuration per bucket, so its object-created triggers must come from one service",
            key=f"{fn.address}.triggers", value=handle.resource.address,
        )
    return existing


def compile_function(ctx: StackContext, fn: Function, inputs: FunctionInputs) -> Handle:
    """Role, policy, log group, the function itself, then its triggers."""
    name = ctx.physical_name(fn)
    tags = resource_tags(ctx, fn)
    key = kms_key(ctx)
    role = ctx.resource("aws_iam_role", rid(ctx, fn, "role"), {
        "name": name,
        "description": f"Runs {fn.address}",
        "assume_role_policy": json.dumps(LAMBDA_ASSUME_ROLE, sort_keys=True, separators=(",", ":")),
        "tags": tags,
    })
    log_attrs: dict[str, Any] = {
        "name": f"/aws/lambda/{name}",
        "retention_in_days": log_retention(ctx, fn),
        "tags": tags,
    }
    if key:
        log_attrs["kms_key_id"] = key  # the key policy must let logs.<region>.amazonaws.com use it
    log_group = ctx.resource("aws_cloudwatch_log_group", rid(ctx, fn, "logs"), log_attrs)
    databases = database_grants(inputs.grants)
    users = {database: dbsetup.database_user(ctx, fn, database) for database, _ in databases}
    statements = [log_statement(log_group.ref("arn")), *grant_statements(
        inputs.grants, lambda grant, handle: dbsetup.dbuser_arn(ctx, handle, users[grant.target])),
        *consumer_statements(fn, inputs.trigger_queues)]
    kms = kms_statement(inputs.grants, key, region_of(ctx))
    if kms is not None:
        statements.append(kms)
    if key and inputs.trigger_queues:  # the event source mapping reads messages encrypted with the profile key
        statements.append({"Sid": "ProfileKmsKeyQueues", "Effect": "Allow", "Action": ["kms:Decrypt"],
                           "Resource": key,
                           "Condition": {"StringEquals": {"kms:ViaService": f"sqs.{region_of(ctx)}.amazonaws.com"}}})
    policy = ctx.resource("aws_iam_role_policy", rid(ctx, fn, "policy"), {
        "name": "least-privilege",
        "role": role.ref("id"),
        "policy": policy_json(statements),
    })
    environment = dict(inputs.environment)
    lambda_attrs: dict[str, Any] = {}
    waits_for: list[RawResource] = [log_group, policy]
    package_path = ctx.asset(inputs.package)
    package_hash = source_code_hash(inputs.package.sha256)
    if databases:
        network = attach_to_vpc(ctx, fn, role, inputs.grants, tags)
        lambda_attrs["vpc_config"] = network.vpc_config
        waits_for.append(network.policy_attachment)  # Lambda checks the role may manage ENIs when it is created
        for database, handle in databases:  # its own user and an IAM token, never the master secret
            var = contract.resource_var("database", database.name)
            environment[var] = dbsetup.function_url(ctx, database, handle, users[database])
        waits_for += dbsetup.build(ctx, fn, inputs.grants, package_path, package_hash, tags)
        environment = dict(sorted({**network.environment, **environment}.items()))  # the service's own values win
    if key:
        lambda_attrs["kms_key_arn"] = key  # environment variables at rest
    problem = LAMBDA_LIMITS.environment_problem(fn.address, environment, ctx.cloud)
    if problem:  # placement checked the service's own variables; these include the ones its grants add
        raise fn.error(f"{problem}, counting the {len(environment) - len(fn.environment)} variables the platform "
                       "sets for its grants and triggers", "environment")
    lam = ctx.resource("aws_lambda_function", rid(ctx, fn, "function"), {
        "function_name": name,
        "role": role.ref("arn"),
        "handler": inputs.package.entry_point,
        "runtime": fn.runtime,
        "filename": package_path,
        "source_code_hash": package_hash,
        "memory_size": fn.memory,
        "timeout": fn.timeout,
        "architectures": [ARCHITECTURE],
        "environment": {"variables": environment},
        "logging_config": {"log_format": "Text", "log_group": log_group.ref("name")},
        **lambda_attrs,
        "tags": tags,
    }).after(*waits_for)
    function_name = lam.ref("function_name")
    constructs: dict[str, Any] = {"function": lam, "role": role}

    url = ""
    for trigger in fn.trigger_of(HttpTrigger)[:1]:
        # Behind a CDN the URL admits only the CDN (which signs with origin access control, cdn.py), nothing around it.
        public = trigger.public and not inputs.cdns
        function_url = ctx.resource("aws_lambda_function_url", rid(ctx, fn, "url"), {
            "function_name": function_name,
            "authorization_type": "NONE" if public else "AWS_IAM",
        })
        if public:
            ctx.resource("aws_lambda_permission", rid(ctx, fn, "public_url"), {
                "statement_id": "AllowPublicFunctionUrl",
                "action": "lambda:InvokeFunctionUrl",
                "function_name": function_name,
                "principal": "*",
                "function_url_auth_type": "NONE",
            })
            # Since October 2025 a public function URL also needs lambda:InvokeFunction. Only through the URL:
            # without the lambda:InvokedViaFunctionUrl condition any AWS principal could invoke the function
            # directly (Invoke API), around the URL. https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html
            ctx.resource("aws_lambda_permission", rid(ctx, fn, "public_invoke"), {
                "statement_id": "AllowPublicInvokeForFunctionUrl",
                "action": "lambda:InvokeFunction",
                "function_name": function_name,
                "principal": "*",
                "invoked_via_function_url": True,
            })
        constructs["url"] = function_url
        url = function_url.ref("function_url")
        if trigger.iam:
            _named_invokers(ctx, fn, function_name)

    for index, trigger in enumerate(fn.trigger_of(ScheduleTrigger)):
        rule = ctx.resource("aws_cloudwatch_event_rule", rid(ctx, fn, f"schedule{index + 1}"), {
            "name": name + schedule_rule_suffix(index),
            "description": f"{fn.address} on '{trigger.cron}' (UTC)",
            "schedule_expression": to_eventbridge(trigger.cron),
            "state": "ENABLED",
            "tags": tags,
        })
        ctx.resource("aws_cloudwatch_event_target", rid(ctx, fn, f"schedule{index + 1}_target"), {
            "rule": rule.ref("name"),
            "target_id": "function",
            "arn": lam.ref("arn"),
            "input_transformer": schedule_input(trigger.cron),
        })
        ctx.resource("aws_lambda_permission", rid(ctx, fn, f"schedule{index + 1}_permission"), {
            "statement_id": f"AllowSchedule{index + 1}",
            "action": "lambda:InvokeFunction",
            "function_name": function_name,
            "principal": "events.amazonaws.com",
            "source_arn": rule.ref("arn"),
        })

    permissions: dict[str, RawResource] = {}
    for trigger in fn.trigger_of(ObjectCreatedTrigger):
        handle = inputs.trigger_buckets[trigger.bucket.name]
        owner = trigger.bucket.service.name if trigger.bucket.service else ""
        key = f"{owner}-{trigger.bucket.name}"
        if key not in permissions:
            permission_id = rid(ctx, fn, f"s3_{owner}_{trigger.bucket.name}")
            permissions[key] = ctx.resource("aws_lambda_permission", permission_id, {
                "statement_id": f"AllowS3-{key}",
                "action": "lambda:InvokeFunction",
                "function_name": function_name,
                "principal": "s3.amazonaws.com",
                "source_arn": handle["arn"],
                "source_account": account_id(ctx),  # bucket ARNs carry no account: pin it (confused deputy)
            })
        _notification(ctx, fn, handle).add(fn, trigger, lam.ref("arn"), permissions[key])

    for trigger in fn.trigger_of(QueueMessageTrigger):
        queue = inputs.trigger_queues[trigger.queue.name]
        owner = trigger.queue.service.name if trigger.queue.service else ""
        ctx.resource("aws_lambda_event_source_mapping", rid(ctx, fn, f"sqs_{owner}_{trigger.queue.name}"), {
            "event_source_arn": queue["arn"],
            "function_name": lam.ref("arn"),
            "batch_size": trigger.batch_size,
            "enabled": True,
            # the adapter answers which messages failed; only those are retried (and dead-lettered)
            "function_response_types": ["ReportBatchItemFailures"],
            "tags": tags,
        }).after(policy)  # Lambda checks the role may read the queue when the mapping is created

    return make_handle(ctx, fn, constructs, name=function_name, arn=lam.ref("arn"), url=url,
                       identity=role.ref("arn"), call_url=call_url(ctx, name, url if _iam_http(fn) else ""))


def _iam_http(fn: Function) -> bool:
    return any(t.iam for t in fn.trigger_of(HttpTrigger))


def call_url(ctx: StackContext, name: str, function_url: str = "") -> str:
    """What a caller on AWS is told: `lambda://<name>?region=<region>[&endpoint=...][&url=<function URL>]` (the URL
    only for an `http(auth="iam")` callee, whose `request()` calls are signed with SigV4)."""
    aws = aws_config(ctx.env)
    url = f"lambda://{name}?region={region_of(ctx)}"
    if aws is not None and aws.endpoint:
        url += f"&endpoint={aws.endpoint}"
    return url + (f"&url={function_url}" if function_url else "")


def _named_invokers(ctx: StackContext, fn: Function, function_name: str) -> None:
    """The principals the environment file names (`[overrides."svc.fn"] invokers`) may call the IAM-protected URL."""
    principals = str(ctx.setting(fn, INVOKERS.key, "") or "").split()
    for index, principal in enumerate(principals, start=1):
        ctx.resource("aws_lambda_permission", rid(ctx, fn, f"invoker{index}_url"), {
            "statement_id": f"AllowNamedInvoker{index}Url", "action": "lambda:InvokeFunctionUrl",
            "function_name": function_name, "principal": principal, "function_url_auth_type": "AWS_IAM",
        })
        ctx.resource("aws_lambda_permission", rid(ctx, fn, f"invoker{index}"), {
            "statement_id": f"AllowNamedInvoker{index}", "action": "lambda:InvokeFunction",
            "function_name": function_name, "principal": principal,
        })
