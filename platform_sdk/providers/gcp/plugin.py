"""The GCP plug-in: Cloud Storage, Cloud Functions (2nd gen), Cloud CDN, Cloud SQL and Secret Manager via
`hashicorp/google` 6.x, state in GCS.

Cheap to import (pydantic and the contract only): the compiler, the Google client libraries (bootstrap, status)
and the CDK engine are imported when first used. Install them with `pip install platform-sdk[gcp]`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

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
from platform_sdk.providers.gcp.config import INVOKERS, MAX_INSTANCES, TIER, GcpConfig, GcsState, gcp_config
from platform_sdk.providers.gcp.limits import GCP_FUNCTION_LIMITS

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from platform_sdk.envs import Environment
    from platform_sdk.model import Service
    from platform_sdk.providers.base import Compiler, StageNote
    from platform_sdk.rules import Rule

PUBLIC_FUNCTION = ("public-function", "is declared public: http(public=True)")


class GcpPlugin(CloudPlugin):
    """Google Cloud."""

    name = "gcp"
    extra = "gcp"  # the google-cloud-* clients and functions-framework
    config = GcpConfig
    kinds = frozenset({"bucket", "function", "cdn", "database", "secret", "queue"})
    function_limits = GCP_FUNCTION_LIMITS
    resource_settings: ClassVar[Mapping[str, tuple[Setting, ...]]] = {"function": (MAX_INSTANCES, INVOKERS)}
    size_settings: ClassVar[Mapping[str, tuple[Setting, ...]]] = {"database": (TIER,)}
    # A secret's container holds its value (set outside Terraform): destroying it loses the value.
    # A queue's messages live in its subscriptions (and a topic's destroy cuts them off).
    stateful_types = frozenset({"google_storage_bucket", "google_sql_database_instance", "google_sql_database",
                                "google_secret_manager_secret", "google_pubsub_topic", "google_pubsub_subscription",
                                "google_dns_managed_zone"})
    primary_types: ClassVar[Mapping[str, str]] = {
        "bucket": "google_storage_bucket", "function": "google_cloudfunctions2_function",
        "cdn": "google_compute_global_forwarding_rule", "database": "google_sql_database_instance",
        "secret": "google_secret_manager_secret", "queue": "google_pubsub_topic"}
    # One object per name in a project (Cloud Storage: in all of Google Cloud; Cloud Functions, Cloud Scheduler and
    # network endpoint groups: in the project's region): cloud.google.com/storage/docs/buckets#naming,
    # cloud.google.com/compute/docs/naming-resources, and each type's Terraform page.
    unique_names: ClassVar[Mapping[str, str]] = {
        "google_storage_bucket": "name", "google_cloudfunctions2_function": "name",
        "google_service_account": "account_id", "google_pubsub_topic": "name", "google_pubsub_subscription": "name",
        "google_secret_manager_secret": "secret_id", "google_sql_database_instance": "name",
        "google_cloud_scheduler_job": "name", "google_compute_backend_bucket": "name",
        "google_compute_backend_service": "name", "google_compute_global_address": "name",
        "google_compute_global_forwarding_rule": "name", "google_compute_managed_ssl_certificate": "name",
        "google_compute_region_network_endpoint_group": "name", "google_compute_target_http_proxy": "name",
        "google_compute_target_https_proxy": "name", "google_compute_url_map": "name",
        "google_certificate_manager_certificate": "name", "google_certificate_manager_certificate_map": "name",
        "google_certificate_manager_dns_authorization": "name", "google_project_iam_custom_role": "role_id",
        "google_iam_workload_identity_pool": "workload_identity_pool_id", "google_logging_metric": "name",
        "google_dns_managed_zone": "name"}
    state_backends: ClassVar[Mapping[str, type[StateBackend]]] = {"gcs": GcsState}
    backend_missing = ("storage: bucket doesn't exist",)
    bucket_access_from = frozenset({"aws"})  # AWS functions exchange their role credentials through WIF
    secret_access_from = frozenset({"aws"})  # likewise
    queue_access_from = frozenset({"aws"})  # likewise: the principal set publishes to the topic (federation.py)
    # AWS functions impersonate a per-caller service account for a Google-signed ID token (federation.py)
    function_access_from = frozenset({"aws"})
    # Cloud Functions' Python runtime loads `main.py`. Deployed from Cloud Storage: at most 100 MB zipped source,
    # 500 MB unzipped (cloud.google.com/functions/quotas, "Resource limits": max deployment size).
    packaging = Packaging(entry_module="main", limits=(100 * 2**20, 500 * 2**20), vendoring="requirements",
                          runtime_name="Cloud Functions")
    # Cloud Functions installs only what requirements.txt names.
    runtime_requirements: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "function": ("functions-framework>=3.5,<4",),
        "bucket": ("google-cloud-storage>=2.16,<4",),
        "database": ("cloud-sql-python-connector>=1.10,<2",),  # IAM database users: no password to fetch
        "database:postgres": ("pg8000>=1.31,<2",),
        "database:mysql": ("pymysql>=1.1,<2",),
        "secret": ("google-cloud-secret-manager>=2.20,<3",),
        "queue": ("google-auth[requests]>=2.20,<3",),
    }
    client_requirements: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "bucket": ("google-cloud-storage>=2.16,<4",),
        "secret": ("google-cloud-secret-manager>=2.20,<3",),
        "queue": ("google-auth[requests]>=2.20,<3",),  # federated credentials; Pub/Sub's REST API
        "function": ("google-auth[requests]>=2.20,<3",),  # federated credentials; generateIdToken; HTTPS calls
    }
    function_type = ("google_cloudfunctions2_function", "name")
    credential_files = (".config/gcloud/",)
    """The gcloud CLI's configuration folder, application default credentials included: https://cloud.google.com/docs/authentication/application-default-credentials"""
    database_system_roles = ("cloudsql%",)
    """Cloud SQL's own roles (cloudsqladmin, cloudsqlsuperuser, ...):
    https://cloud.google.com/sql/docs/postgres/users"""
    checkov = True
    checkov_accepted: ClassVar[Mapping[str, tuple[str, str]]] = {
        "CKV_GCP_102": PUBLIC_FUNCTION,  # Cloud Run service invokable by allUsers
        "CKV_GCP_107": PUBLIC_FUNCTION,  # Cloud Function invokable by allUsers
        "CKV_GCP_124": PUBLIC_FUNCTION,  # ingress ALLOW_ALL
        "CKV_GCP_78": ("unversioned", "is declared without versioning: Bucket(versioning=True) turns it on"),
        "CKV_GCP_83": ("no-kms-key", "cloud-managed encryption: the profile sets no KMS key for this cloud "
                                     "(Profile.kms_keys)"),  # Pub/Sub topics of queues
    }
    checkov_skips: ClassVar[Mapping[str, str]] = {
        "CKV_GCP_62": "GCS access logs need an organisation log bucket the platform team runs outside the estate",
        "CKV_GCP_125": "the check reads every workload identity pool provider as GitHub Actions' and wants a "
                       "repository condition; the platform's providers federate one AWS account's roles, held to "
                       "them by attribute_condition on assertion.arn (federation.py)",
    }
    schema_files = ("schemas/google.json", "schemas/random.json")

    def compiler(self, env: Environment) -> Compiler:
        from platform_sdk.providers.gcp.compiler import GcpCompiler

        return GcpCompiler(env)

    def stage_state(self, stem: str, section: CloudConfig | None,
                    current: StateBackend | None) -> StateBackend | None:
        if isinstance(current, GcsState):
            return current.model_copy(update={"bucket": f"{stem}-tfstate"})
        return GcsState(backend="gcs", bucket=f"{stem}-tfstate") if section is not None else None

    def backend(self, stack: Any, state: StateBackend, env: Environment, stack_name: str) -> None:
        from platform_sdk.providers.gcp import state as gcs

        gcs.backend(stack, state, env.name, stack_name)  # type: ignore[arg-type]

    def bootstrap(self, env: Environment, state: StateBackend) -> list[Step]:
        from platform_sdk.providers.gcp import state as gcs

        return [gcs.bootstrap(state, gcp_config(env))]  # type: ignore[arg-type]

    def state_document(self, env: Environment, state: StateBackend, name: str) -> Any:
        from platform_sdk.providers.gcp import state as gcs

        return gcs.GcsDocument(state, env.name, name, gcp_config(env))  # type: ignore[arg-type]

    def stage_settings(self, name: str, data: dict[str, Any], source: Environment,
                       services: list[Service]) -> list[StageNote]:
        """What a new stage references of its source's GCP instead of creating it again, and leaves out
        (gcp/stage.py)."""
        from platform_sdk.providers.gcp import stage

        return stage.stage_settings(name, data, source, services)

    def secret_url(self, project_root: Path, env: Environment, cloud: str, physical_name: str) -> str:
        from platform_sdk.providers.gcp.secret import secret_url

        return secret_url(env, physical_name)

    def state_records(self, env: Environment, state: StateBackend) -> Any:
        from platform_sdk.providers.gcp import state as gcs

        return gcs.GcsRecords(state, env.name, gcp_config(env))  # type: ignore[arg-type]

    def import_id(self, kind: str, body: Mapping[str, Any], env: Environment) -> str | None:
        """The bucket name, or the instance's and function's full resource names (gcp/adopt.py, with the pages)."""
        from platform_sdk.providers.gcp import adopt

        return adopt.import_id(kind, body, getattr(self.settings(env), "project", None))

    def live_differences(self, kind: str, blocks: Mapping[str, Mapping[str, Any]], import_id: str,
                         env: Environment, client: Any = None) -> list[str]:
        """A bucket's location, versioning, public access prevention, default key and uniform access, read through
        google-cloud-storage (gcp/adopt.py); databases and functions are compared by the plan after import."""
        if kind != "bucket":
            return []
        from platform_sdk.providers.gcp import adopt

        if client is None:
            from google.cloud import storage

            client = storage.Client(project=getattr(self.settings(env), "project", None))
        return adopt.bucket_differences(client, import_id, blocks)

    def function_location(self, doc: Mapping[str, Any], body: Mapping[str, Any]) -> tuple[str | None, str | None]:
        blocks = (doc.get("provider") or {}).get("google") or [{}]
        block = blocks[0] if isinstance(blocks, list) else blocks
        return body.get("location") or block.get("region"), body.get("project") or block.get("project")

    def status_checks(self, project_root: Path, env: Environment, refs: list[FunctionRef],
                      client: Any = None) -> list[Callable[[], FunctionStatus]]:
        from platform_sdk.providers.gcp import status

        return status.checks(env, refs, client=client)

    def fetch_logs(self, project_root: Path, env: Environment, refs: list[FunctionRef], since: datetime,
                   client: Any = None) -> list[LogEntry]:
        """Cloud Logging entries.list per function's Cloud Run service (logs.py)."""
        from platform_sdk.providers.gcp.logs import fetch

        return fetch(env, refs, since, client)

    def invalidate_cdn(self, env: Environment, cdn_url: str, paths: list[str], client: Any = None) -> str | None:
        """Compute Engine urlMaps.invalidateCache on the URL map serving `cdn_url`, one call per path
        (invalidation.py)."""
        from platform_sdk.providers.gcp.invalidation import compute_api, invalidate

        return invalidate(client or compute_api(env), cdn_url, paths)

    def after_apply(self, env: Environment, outputs: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, bool]]:
        """The GRANT step of every Cloud SQL database among the settled stacks: each function's IAM user gets
        exactly its grant's rights, through the Cloud SQL connector as the built-in user (database.py)."""
        from platform_sdk.providers.gcp.database import grant_roles

        return [(result.line(), result.error is not None) for result in grant_roles(outputs)]

    def stack_rules(self) -> list[Rule]:
        from platform_sdk.providers.gcp.guardrails import GcpProductionAlarms, GcpScopedRoles

        return [GcpScopedRoles(), GcpProductionAlarms()]

    def untagged(self, doc: Mapping[str, Any], required: list[str]) -> list[tuple[str, str, str]]:
        from platform_sdk.providers.gcp.guardrails import unlabelled

        return unlabelled(doc, required)


PLUGIN = GcpPlugin()
