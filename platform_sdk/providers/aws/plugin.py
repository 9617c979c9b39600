"""The AWS plug-in: S3, Lambda, CloudFront, RDS, Secrets Manager and SQS through `hashicorp/aws` 6.x, state in S3 +
DynamoDB.

Cheap to import (pydantic and the contract only): the compiler, boto3 (bootstrap, status) and the CDK engine
are imported when first used. Install the cloud SDK with `pip install platform-sdk[aws]`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from platform_sdk.providers.aws.config import INSTANCE_CLASS, INVOKERS, LOG_RETENTION, AwsConfig, S3State
from platform_sdk.providers.aws.limits import LAMBDA_LIMITS
from platform_sdk.providers.base import (
    CloudConfig,
    CloudPlugin,
    FunctionRef,
    FunctionStatus,
    LogEntry,
    Packaging,
    Setting,
    StateBackend,
    Step,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from platform_sdk.conformance import TrustedNetwork
    from platform_sdk.envs import Environment
    from platform_sdk.model import Service
    from platform_sdk.providers.base import Compiler, StageNote
    from platform_sdk.rules import Rule

PUBLIC_FUNCTION = ("public-function", "is declared public: http(public=True)")
NO_KMS_KEY = ("no-kms-key", "cloud-managed encryption: the profile sets no KMS key for this cloud (Profile.kms_keys)")


class AwsPlugin(CloudPlugin):
    """Amazon Web Services."""

    name = "aws"
    config = AwsConfig
    default = True
    extra = "aws"  # boto3
    kinds = frozenset({"bucket", "function", "cdn", "database", "secret", "queue"})
    function_limits = LAMBDA_LIMITS
    resource_settings: ClassVar[Mapping[str, tuple[Setting, ...]]] = {
        "function": (LOG_RETENTION, INVOKERS), "database": (LOG_RETENTION,)}
    size_settings: ClassVar[Mapping[str, tuple[Setting, ...]]] = {"database": (INSTANCE_CLASS,)}
    # What the compiler emits, and what a platform team's module backing (Profile.modules) may create.
    # A secret's container holds its value (set outside Terraform): destroying it loses the value.
    # A queue holds its messages (and its dead-letter queue the failed ones).
    stateful_types = frozenset({"aws_s3_bucket", "aws_db_instance", "aws_rds_cluster", "aws_dynamodb_table",
                                "aws_secretsmanager_secret", "aws_sqs_queue", "aws_route53_zone"})
    primary_types: ClassVar[Mapping[str, str]] = {
        "bucket": "aws_s3_bucket", "function": "aws_lambda_function", "cdn": "aws_cloudfront_distribution",
        "database": "aws_db_instance", "secret": "aws_secretsmanager_secret", "queue": "aws_sqs_queue"}
    # One object per name in an account's Region (S3: in all of AWS; IAM roles, CloudFront and Budgets: in the
    # account, `GLOBAL_NAMES`; security groups: in the VPC): docs.aws.amazon.com/AmazonS3/latest/userguide/
    # bucketnamingrules.html, IAM/latest/UserGuide/reference_iam-quotas.html#reference_iam-quotas-names, and each
    # type's Terraform page.
    unique_names: ClassVar[Mapping[str, str]] = {
        "aws_s3_bucket": "bucket", "aws_lambda_function": "function_name", "aws_iam_role": "name",
        "aws_cloudwatch_log_group": "name", "aws_cloudwatch_metric_alarm": "alarm_name",
        "aws_cloudwatch_dashboard": "dashboard_name", "aws_cloudwatch_event_rule": "name", "aws_sqs_queue": "name",
        "aws_secretsmanager_secret": "name", "aws_db_instance": "identifier", "aws_db_subnet_group": "name",
        "aws_security_group": "name", "aws_cloudfront_origin_access_control": "name", "aws_sns_topic": "name",
        "aws_budgets_budget": "name"}
    GLOBAL_NAMES: ClassVar[frozenset[str]] = frozenset({"aws_s3_bucket", "aws_iam_role",
                                                        "aws_cloudfront_origin_access_control", "aws_budgets_budget"})
    state_backends: ClassVar[Mapping[str, type[StateBackend]]] = {"s3": S3State}
    backend_missing = ("NoSuchBucket", "S3 bucket does not exist", "ResourceNotFoundException")
    bucket_access_from = frozenset({"gcp"})  # GCP functions assume a role with their Google identity token
    secret_access_from = frozenset({"gcp"})  # likewise
    queue_access_from = frozenset({"gcp"})  # GCP functions send to SQS with a federated role (federation.py)
    function_access_from = frozenset({"gcp"})  # GCP functions invoke Lambda functions with a federated role
    # Lambda direct upload: 50 MB zipped, 250 MB unzipped (docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits)
    packaging = Packaging(limits=(50 * 2**20, 250 * 2**20), vendoring="wheels", runtime_name="AWS Lambda")
    # The Lambda Python runtimes include boto3; the runtime's database client needs its engine's driver.
    runtime_requirements: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "database:postgres": ("pg8000>=1.31,<2",), "database:mysql": ("pymysql>=1.1,<2",)}
    client_requirements: ClassVar[Mapping[str, tuple[str, ...]]] = {"bucket": ("boto3>=1.34,<2",),
                                                                    "secret": ("boto3>=1.34,<2",),
                                                                    "queue": ("boto3>=1.34,<2",),
                                                                    "function": ("boto3>=1.34,<2",)}
    function_type = ("aws_lambda_function", "function_name")

    def physical_names(self, env: Environment, terraform_type: str,
                       body: Mapping[str, Any]) -> list[tuple[str, str]]:
        """A regional type's namespace is its Region: the block's `region` argument, us-east-1 under the stack's
        CloudFront provider (provider.py), else the environment's Region."""
        from platform_sdk.providers.aws.provider import CLOUDFRONT_REGION, US_EAST_1_ALIAS

        found = super().physical_names(env, terraform_type, body)
        if terraform_type in self.GLOBAL_NAMES:
            return found
        region = body.get("region") or (CLOUDFRONT_REGION if body.get("provider") == f"aws.{US_EAST_1_ALIAS}"
                                        else getattr(self.settings(env), "region", None))
        return [(f"{namespace} in {region}", name) for namespace, name in found]

    def helper_function(self, body: Mapping[str, Any]) -> bool:
        """The database setup functions and a CDN's payload-hash function at the edge (helpers.py)."""
        from platform_sdk.providers.aws.helpers import helper_function

        return helper_function(body)
    credential_files = (".aws/",)
    """The AWS CLI and SDKs' credentials and config folder: https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-files.html"""
    database_system_roles = ("rds%",)
    """RDS's own roles (rdsadmin, rds_superuser, rdstopmgr, ...):
    https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Appendix.PostgreSQL.CommonDBATasks.Roles.html"""
    checkov = True
    checkov_accepted: ClassVar[Mapping[str, tuple[str, str]]] = {
        "CKV_AWS_258": PUBLIC_FUNCTION,  # Lambda function URL AuthType NONE
        "CKV_AWS_301": PUBLIC_FUNCTION,  # Lambda invokable by everyone
        "CKV_AWS_117": ("no-database", "uses no database, so it runs outside the VPC and reaches only AWS APIs (a "
                                       "CDN's Lambda@Edge function cannot run in a VPC at all: https://docs.aws."
                                       "amazon.com/AmazonCloudFront/latest/DeveloperGuide/edge-functions-"
                                       "restrictions.html)"),
        "CKV2_AWS_42": ("no-domain", "is declared without a domain: served on the CDN's own name and certificate"),
        "CKV_AWS_174": ("no-domain", "is declared without a domain: the default CloudFront certificate fixes the "
                                     "TLS policy"),
        "CKV_AWS_21": ("unversioned", "is declared without versioning: Bucket(versioning=True) turns it on"),
        "CKV_AWS_145": NO_KMS_KEY,  # S3 default encryption with KMS
        "CKV_AWS_158": NO_KMS_KEY,  # CloudWatch log group KMS
        "CKV_AWS_173": NO_KMS_KEY,  # Lambda environment KMS
        "CKV_AWS_354": NO_KMS_KEY,  # RDS Performance Insights KMS
        "CKV_AWS_149": NO_KMS_KEY,  # Secrets Manager secret encrypted with a customer managed key
        "CKV_AWS_157": ("single-zone", "is declared without high availability (production rules require it in "
                                       "protected environments)"),
        "CKV_AWS_338": ("short-retention", "keeps logs for the profile's retention (Profile.log_retention_days "
                                           "< 365)"),
    }
    checkov_skips: ClassVar[Mapping[str, str]] = {
        "CKV2_AWS_38": "DNSSEC signing of a hosted zone the base stack creates needs a KMS key in us-east-1 and a DS "
                       "record in the parent zone, which the parent's owner adds: not part of the neutral model",
        "CKV2_AWS_39": "query logging of a hosted zone needs a us-east-1 log group with a Route 53 resource policy: an "
                       "organisation-level logging choice, like access logs",
        "CKV_AWS_18": "S3 access logs need an organisation log bucket the platform team runs outside the estate",
        "CKV_AWS_86": "CloudFront access logs need an organisation log bucket the platform team runs outside the "
                      "estate",
        "CKV_AWS_144": "cross-region replication doubles storage cost; the neutral Bucket has no replication setting",
        "CKV2_AWS_62": "bucket notifications exist only where a function is triggered by the bucket",
        "CKV_AWS_115": "reserved concurrency carves the account's shared pool per function; the model has no such "
                       "setting",
        "CKV_AWS_116": "async invocations are retried by Lambda and logged; a DLQ needs a queue kind the model lacks",
        "CKV_AWS_272": "packages are built deterministically by the SDK and pinned by sha256 (source_code_hash)",
        "CKV_AWS_50": "tracing is not part of the neutral model; Lambda stays PassThrough",
        "CKV_AWS_68": "WAF web ACLs are an account-level service of the platform team, not part of the neutral Cdn",
        "CKV2_AWS_47": "WAF web ACLs are an account-level service of the platform team, not part of the neutral Cdn",
        "CKV_AWS_310": "a neutral Cdn has exactly one origin: there is nothing to fail over to",
        "CKV_AWS_374": "serving every country is the neutral Cdn's declared behaviour; geo restriction is a business "
                       "decision the model does not make",
        "CKV_AWS_118": "Enhanced Monitoring needs a monitoring role and costs per instance; CloudWatch metrics cover "
                       "it",
        "CKV2_AWS_57": "secret values never pass through Terraform: generated ones are rotated by `platform secret "
                       "rotate`, others by whoever sets them, not by a Secrets Manager rotation Lambda",
        "CKV_AWS_26": "the alert channel's SNS topics carry only alarm and budget notifications, and CloudWatch alarms "
                      "and AWS Budgets cannot publish to a topic encrypted with the AWS-managed SNS key",
    }
    schema_files = ("schemas/aws.json",)

    def compiler(self, env: Environment) -> Compiler:
        from platform_sdk.providers.aws.compiler import AwsCompiler

        return AwsCompiler(env)

    def backend(self, stack: Any, state: StateBackend, env: Environment, stack_name: str) -> None:
        from platform_sdk.providers.aws import state as s3

        s3.backend(stack, state, env.name, stack_name)  # type: ignore[arg-type]

    def bootstrap(self, env: Environment, state: StateBackend) -> list[Step]:
        from platform_sdk.providers.aws import state as s3

        return s3.bootstrap(state)  # type: ignore[arg-type]

    def state_document(self, env: Environment, state: StateBackend, name: str) -> Any:
        from platform_sdk.providers.aws import state as s3

        return s3.S3Document(state, env.name, name)  # type: ignore[arg-type]

    def stage_state(self, stem: str, section: CloudConfig | None,
                    current: StateBackend | None) -> StateBackend | None:
        names = {"bucket": f"{stem}-tfstate", "lock_table": f"{stem}-tf-locks"}
        if isinstance(current, S3State):
            return current.model_copy(update=names)
        region = getattr(section, "region", None)
        return S3State(backend="s3", region=region, **names) if region else None

    def stage_settings(self, name: str, data: dict[str, Any], source: Environment,
                       services: list[Service]) -> list[StageNote]:
        """What a new stage references of its source's AWS instead of creating it again, and leaves out
        (aws/stage.py)."""
        from platform_sdk.providers.aws import stage

        return stage.stage_settings(name, data, source, services)

    def secret_url(self, project_root: Path, env: Environment, cloud: str, physical_name: str) -> str:
        from platform_sdk.providers.aws.secret import secret_url

        return secret_url(env, physical_name)

    def state_records(self, env: Environment, state: StateBackend) -> Any:
        from platform_sdk.providers.aws import state as s3

        return s3.S3Records(state, env.name)  # type: ignore[arg-type]

    def wheel_platforms(self, python_version: str, arch: str = "x86_64") -> list[str]:
        from platform_sdk.providers.aws.packaging import lambda_platforms

        return lambda_platforms(python_version, arch)

    def import_id(self, kind: str, body: Mapping[str, Any], env: Environment) -> str | None:
        """The bucket name, DB instance identifier or function name (aws/adopt.py, with the documentation pages)."""
        from platform_sdk.providers.aws import adopt

        return adopt.import_id(kind, body)

    def live_differences(self, kind: str, blocks: Mapping[str, Mapping[str, Any]], import_id: str,
                         env: Environment, client: Any = None) -> list[str]:
        """A bucket's versioning, default encryption and public access block, read through boto3 (aws/adopt.py);
        databases and functions are compared by the plan after import."""
        if kind != "bucket":
            return []
        from platform_sdk.providers.aws import adopt

        if client is None:
            import boto3

            settings = self.settings(env)
            client = boto3.client("s3", region_name=getattr(settings, "region", None),
                                  endpoint_url=getattr(settings, "endpoint", None))
        return adopt.bucket_differences(client, import_id, blocks)

    def function_location(self, doc: Mapping[str, Any], body: Mapping[str, Any]) -> tuple[str | None, str | None]:
        blocks = (doc.get("provider") or {}).get("aws") or [{}]
        block = blocks[0] if isinstance(blocks, list) else blocks
        return block.get("region"), None

    def status_checks(self, project_root: Path, env: Environment, refs: list[FunctionRef],
                      client: Any = None) -> list[Callable[[], FunctionStatus]]:
        from platform_sdk.providers.aws import status

        return status.checks(env, refs, client=client)

    def check_environments(self, env: Environment, services: list[Service], others: list[Environment]) -> None:
        """Two environments in one VPC must not both build its S3 gateway endpoint or a NAT gateway for the same
        subnets (network.check_shared_vpc): the second apply would fail; nor two in one account the same public
        hosted zone (dns.check_shared_zones): every lookup of it by name would fail."""
        from platform_sdk.providers.aws.dns import check_shared_zones
        from platform_sdk.providers.aws.network import check_shared_vpc

        check_shared_vpc(env, services, others)
        check_shared_zones(env, others)

    def trusted_network(self, env: Environment) -> TrustedNetwork | None:
        """What `[clouds.aws.network]` says the VPC already offers, for the conformance analysis to trust as
        described: its `endpoints` (`aws:<service>`), and with a NAT gateway the internet and every AWS API.
        None when the section says nothing exists (the analysis then checks what the compilers emitted)."""
        from platform_sdk.conformance import TrustedNetwork
        from platform_sdk.providers.aws.config import ENDPOINT_SERVICES, network_of

        network = network_of(env)
        reaches = {f"aws:{service}" for service in network.endpoints}
        if network.nat == "existing":
            reaches |= {"internet", *(f"aws:{service}" for service in ENDPOINT_SERVICES)}
        if not reaches:
            return None
        where = f"{env.file}: clouds.aws.network" if getattr(env, "file", None) else "clouds.aws.network"
        return TrustedNetwork(frozenset(reaches), where)

    def fetch_logs(self, project_root: Path, env: Environment, refs: list[FunctionRef], since: datetime,
                   client: Any = None) -> list[LogEntry]:
        """CloudWatch Logs FilterLogEvents on each function's log group (logs.py)."""
        from platform_sdk.providers.aws.logs import fetch

        return fetch(env, refs, since, client)

    def invalidate_cdn(self, env: Environment, cdn_url: str, paths: list[str], client: Any = None) -> str | None:
        """CloudFront CreateInvalidation on the distribution serving `cdn_url` (invalidation.py)."""
        from platform_sdk.providers.aws.invalidation import cloudfront_client, invalidate

        return invalidate(client or cloudfront_client(env), cdn_url, paths)

    def stack_rules(self) -> list[Rule]:
        from platform_sdk.providers.aws.guardrails import AwsIamLeastPrivilege, AwsProductionAlarms

        return [AwsIamLeastPrivilege(), AwsProductionAlarms()]

    def untagged(self, doc: Mapping[str, Any], required: list[str]) -> list[tuple[str, str, str]]:
        from platform_sdk.providers.aws.guardrails import untagged

        return untagged(doc, required)


PLUGIN = AwsPlugin()
