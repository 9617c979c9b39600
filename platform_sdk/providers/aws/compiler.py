"""AwsCompiler: the neutral model on AWS. One module per resource kind; this class only routes and checks.

`problems` runs before synthesis (placement), so everything AWS cannot take fails with the workload's address
and the cloud instead of surfacing at `terraform apply`. Runtime, memory and timeout ranges are the plug-in's
`function_limits`, checked by placement on the effective values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from platform_sdk.errors import PlacementError
from platform_sdk.model import (
    AlarmThreshold,
    Bucket,
    Cdn,
    Database,
    Function,
    Grant,
    Metric,
    Queue,
    Resource,
    ScheduleTrigger,
    Secret,
)
from platform_sdk.naming import default_name
from platform_sdk.profile import Profile
from platform_sdk.providers.aws import dbsetup, dns, edge, federation, names, network, observability
from platform_sdk.providers.aws.bucket import compile_bucket, known_bucket
from platform_sdk.providers.aws.cdn import compile_cdn
from platform_sdk.providers.aws.config import network_of
from platform_sdk.providers.aws.cron import CronError, to_eventbridge
from platform_sdk.providers.aws.database import ENGINES, compile_database
from platform_sdk.providers.aws.function import compile_function, schedule_rule_suffix
from platform_sdk.providers.aws.network import internet_refusal, no_vpc_problem
from platform_sdk.providers.aws.provider import CLOUDFRONT_REGION, configure
from platform_sdk.providers.aws.queue import compile_queue
from platform_sdk.providers.aws.queue import name_problems as queue_name_problems
from platform_sdk.providers.aws.secret import compile_secret, name_problems
from platform_sdk.providers.base import BaseNeeds, Compiler, FunctionInputs, Handle, StackContext

if TYPE_CHECKING:
    from platform_sdk.envs import Environment

# Environment variables Lambda sets itself and refuses in a function's configuration.
LAMBDA_RESERVED_ENV = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})


# Terraform types this compiler emits whose destroy or replace loses data (the plug-in's `stateful_types` adds
# more a platform team's own module may create).
STATEFUL_TYPES: frozenset[str] = frozenset({"aws_s3_bucket", "aws_db_instance", "aws_secretsmanager_secret",
                                            "aws_sqs_queue", "aws_route53_zone"})
# (a zone the base stack creates: destroying it loses its records and the delegation made to its name servers)


class AwsCompiler(Compiler):
    """S3, Lambda, CloudFront, RDS, Secrets Manager and SQS through `hashicorp/aws` 6.x; CloudWatch alarms and
    dashboards, the SNS alert channel and AWS Budgets (observability.py)."""

    target = "aws"
    known_kinds = frozenset({"bucket"})

    def __init__(self, env: Environment) -> None:
        self.env = env

    def known_handle(self, ctx: StackContext, resource: Resource) -> Handle:
        """A bucket's name (naming convention), `s3://` URL and ARN, which carries no account or region.
        https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-arn-format.html"""
        assert isinstance(resource, Bucket)
        return known_bucket(ctx, resource)

    # -- capability checks ------------------------------------------------------------------------------------
    def bucket_name_problems(self, name: str) -> list[str]:
        return names.bucket_name_problems(name)

    def problems(self, resource: Resource, env: Environment) -> list[str]:
        """'missing X' phrases for what AWS cannot do with this resource (empty = placeable)."""
        service = resource.service.name if resource.service else ""
        physical = default_name(env, service, resource.name)
        if isinstance(resource, Bucket):
            found = self.bucket_name_problems(physical)
            return [f"a valid S3 bucket name ({physical!r}: {'; '.join(found)})"] if found else []
        if isinstance(resource, Function):
            refusal = internet_refusal(env, resource)  # the environment file's fault (no NAT): name its key
            if refusal is not None:
                raise refusal
            return self._function_problems(resource, physical)
        if isinstance(resource, Secret):
            return name_problems(physical)
        if isinstance(resource, Queue):
            return queue_name_problems(physical)
        if isinstance(resource, Database):
            found = []
            if not network_of(env).usable:  # the environment file's fault, not the resource's: name its key
                raise PlacementError(f"database {resource.address} cannot be placed on aws: missing {no_vpc_problem()}",
                                     file=env.file, key="clouds.aws.network.default_vpc", value=False,
                                     hint="name the VPC: clouds.aws.network.vpc_id and subnet_ids")
            if resource.engine not in ENGINES:
                found.append(f"engine {resource.engine!r} on RDS (supported: {', '.join(ENGINES)})")
            found += [f"a valid RDS identifier: {p}" for p in names.rds_identifier_problems(physical)]
            return found
        if isinstance(resource, Cdn):
            found = []
            if len(physical) > names.OAC_NAME_MAX:
                found.append(f"a valid CloudFront origin access control name ({physical!r} is {len(physical)} "
                             f"characters, CloudFront allows {names.OAC_NAME_MAX})")
            for origin in resource.origins:
                if isinstance(origin, Bucket) and origin.service is not resource.service:
                    found.append(f"a CloudFront origin in another service ({origin.address}): the bucket policy "
                                 "naming the distribution lives with the bucket")
            if len({type(o) for o in resource.origins}) > 1 and len(physical) + len("-lambda") > names.OAC_NAME_MAX:
                found.append(f"a valid CloudFront origin access control name ({physical!r} plus '-lambda' is longer "
                             f"than the {names.OAC_NAME_MAX} characters CloudFront allows)")
            if any(isinstance(o, Function) for o in resource.origins):  # its Lambda@Edge function (edge.py)
                found += [f"a valid Lambda@Edge function name: {p}"
                          for p in names.lambda_name_problems(f"{physical}-{edge.NAME_SUFFIX}")]
            return found
        return []

    def internet_refusal(self, env: Environment, fn: Function) -> str | None:
        """A function in the VPC (it uses an RDS database) without a NAT gateway (network.internet_refusal)."""
        refusal = internet_refusal(env, fn)
        if refusal is None:
            return None
        return f"{refusal.message} ({refusal.file}: {refusal.key} is {refusal.value!r})"

    def _function_problems(self, fn: Function, physical: str) -> list[str]:
        found: list[str] = []
        schedules = fn.trigger_of(ScheduleTrigger)
        suffix = schedule_rule_suffix(len(schedules) - 1) if schedules else ""
        if any(isinstance(grant.target, Database) for grant in fn.grants):
            suffix = max(suffix, dbsetup.SUFFIX, key=len)  # its database setup function: `<name>-dbsetup`
        found += [f"a valid Lambda function name: {p}" for p in names.lambda_name_problems(physical, suffix)]
        found += [f"environment variable {key} (reserved by Lambda)"
                  for key in sorted(fn.environment) if key in LAMBDA_RESERVED_ENV]
        for trigger in schedules:
            try:
                to_eventbridge(trigger.cron)
            except CronError as err:
                found.append(f"an EventBridge schedule for {trigger.cron!r}: {err}")
        return found

    # -- compilation ------------------------------------------------------------------------------------------
    def configure(self, ctx: StackContext) -> None:
        configure(ctx)
        observability.record_needs(ctx)  # the environment's alert channel and budget live in the base stack
        dns.record_needs(ctx)  # so does its DNS zone

    def bucket(self, ctx: StackContext, bucket: Bucket) -> Handle:
        return compile_bucket(ctx, bucket)

    def database(self, ctx: StackContext, database: Database) -> Handle:
        return compile_database(ctx, database)

    def secret(self, ctx: StackContext, secret: Secret) -> Handle:
        return compile_secret(ctx, secret)

    def queue(self, ctx: StackContext, queue: Queue) -> Handle:
        return compile_queue(ctx, queue)

    def function(self, ctx: StackContext, fn: Function, inputs: FunctionInputs) -> Handle:
        return compile_function(ctx, fn, inputs)

    def cdn(self, ctx: StackContext, cdn: Cdn, origins: Mapping[Resource, Handle]) -> Handle:
        observability.record_needs(ctx, CLOUDFRONT_REGION)  # CloudFront alarms notify a topic in us-east-1
        return compile_cdn(ctx, cdn, origins)

    # -- shared prerequisites and observability (observability.py) ----------------------------------------------
    def base(self, ctx: StackContext, needs: BaseNeeds) -> None:
        """The alert channel's SNS topics and the budget of the account, and the VPC endpoints and NAT gateway the
        environment's VPC functions need (network.py), once per environment."""
        observability.compile_base(ctx, needs)
        dns.compile_base(ctx, needs)
        network.compile_base(ctx, needs)

    def alarms(self, ctx: StackContext, handle: Handle, thresholds: list[AlarmThreshold]) -> None:
        observability.compile_alarms(ctx, handle, thresholds)

    def dashboard(self, ctx: StackContext, handles: list[Handle], metrics: list[Metric]) -> None:
        observability.compile_dashboard(ctx, handles, metrics)

    # -- keyless cross-cloud access (federation.py) -------------------------------------------------------------
    def identity_literal(self, env: Environment, profile: Profile, fn: Function) -> dict[str, str]:
        """The Lambda role (name, ARN, account) that GCP workload identity federation trusts."""
        return federation.identity_literal(env, profile, fn)

    def foreign_url(self, env: Environment, profile: Profile, grant: Grant, handle: Handle, function_target: str,
                    identity: dict[str, str]) -> str:
        """`s3://<bucket>?role_arn=...` or `secretsmanager://<name>?role_arn=...` (`&web_identity=gcp&region=...`)
        for a GCP function (all literals)."""
        return federation.foreign_url(env, profile, grant, handle, function_target)

    def federate(self, ctx: StackContext, grant: Grant, handle: Handle, fn_handle: Handle,
                 identity: dict[str, str]) -> None:
        """The IAM role the GCP function assumes with its Google ID token, scoped to exactly this grant (a bucket's
        or a secret's)."""
        federation.federate(ctx, grant, handle, fn_handle, identity)
