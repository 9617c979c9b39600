"""The profile's customer-managed key on GCP (`profile.kms_keys["gcp"]`, a Cloud KMS key id
`projects/<p>/locations/<region>/keyRings/<ring>/cryptoKeys/<key>`).

What uses it when set: every bucket of ours (`encryption.default_kms_key_name`), Cloud SQL instances
(`encryption_key_name`) and the database password secrets (user-managed replication in the stack's region with
customer-managed encryption). Each of those services encrypts as its project service agent, which needs
`roles/cloudkms.cryptoKeyEncrypterDecrypter` on the key; the resource waits for that binding.

Constraints the platform team owns: the key must be in the stack's region (GCS, Cloud SQL and a regional secret
replica all require a key in their own location), and the Cloud SQL and Secret Manager service agents must exist
(`gcloud beta services identity create --service=sqladmin.googleapis.com`, likewise secretmanager), which
Terraform's GA provider cannot do. The bindings are per key and agent, shared by every stack of the project, so
the environment's GCP base stack owns them (providers/gcp/base.py): the service stacks only say which agents
need the key (`ctx.needs`, kind "kms") and depend on the base stack.
"""

from __future__ import annotations

from typing import Any

from platform_sdk.providers.base import StackContext
from platform_sdk.providers.gcp import provider

TARGET = "gcp"
ENCRYPTER_DECRYPTER = "roles/cloudkms.cryptoKeyEncrypterDecrypter"


def kms_key(ctx: StackContext) -> str | None:
    """The organisation's key for GCP, None = Google-managed encryption."""
    return ctx.profile.kms_keys.get(TARGET) or None


# Service agents that encrypt with the profile's key, by the name the base stack's needs use ("kms" kind).
STORAGE_AGENT, SQL_AGENT, SECRETS_AGENT = "storage", "sql", "secretmanager"


def _key_member(ctx: StackContext, id: str, key: str, member: str) -> Any:
    return ctx.resource("google_kms_crypto_key_iam_member", id,
                        {"crypto_key_id": key, "role": ENCRYPTER_DECRYPTER, "member": member})


def _need_key(ctx: StackContext, agent: str) -> list[Any]:
    """The agent's use of the key, built by the base stack (which the stack depends on): nothing to wait for."""
    if kms_key(ctx):
        ctx.needs.add("kms", agent)
    return []


def storage_key_ready(ctx: StackContext) -> list[Any]:
    """The GCS service agent's use of the key (base stack): buckets encrypted with it need it."""
    return _need_key(ctx, STORAGE_AGENT)


def bucket_encryption(ctx: StackContext) -> dict[str, Any]:
    """Bucket attributes for the profile key (empty without one)."""
    key = kms_key(ctx)
    return {"encryption": {"default_kms_key_name": key}} if key else {}


def _agent(ctx: StackContext, service: str) -> str:
    return f"serviceAccount:service-{provider.project_number(ctx)}@gcp-sa-{service}.iam.gserviceaccount.com"


def sql_key_ready(ctx: StackContext) -> list[Any]:
    """The Cloud SQL service agent's use of the key (base stack)."""
    return _need_key(ctx, SQL_AGENT)


def secrets_key_ready(ctx: StackContext) -> list[Any]:
    """The Secret Manager service agent's use of the key (base stack)."""
    return _need_key(ctx, SECRETS_AGENT)


def key_members(ctx: StackContext, agents: list[str]) -> None:
    """In the base stack: the named agents may use the profile's key (nothing without a key)."""
    key = kms_key(ctx)
    if not key:
        return
    members = {STORAGE_AGENT: ("platform_kms_gcs_agent", lambda: provider.gcs_agent(ctx).ref("member")),
               SQL_AGENT: ("platform_kms_sql_agent", lambda: _agent(ctx, "cloud-sql")),
               SECRETS_AGENT: ("platform_kms_secrets_agent", lambda: _agent(ctx, "secretmanager"))}
    for agent in agents:
        if agent in members:
            id, member = members[agent]
            _key_member(ctx, id, key, member())


def secret_replication(ctx: StackContext) -> dict[str, Any]:
    """Automatic replication without a key; with one, a single replica in the stack's region encrypted with it
    (automatic replication would need a global key, while the profile's key is regional like our buckets)."""
    key = kms_key(ctx)
    if not key:
        return {"auto": {}}
    return {"user_managed": {"replicas": [{"location": provider.region(ctx),
                                           "customer_managed_encryption": {"kms_key_name": key}}]}}
