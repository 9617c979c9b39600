"""Database -> Cloud SQL instance + database + user; the generated password lives in Secret Manager.

Network choice: without a VPC in the model, the instance gets a public IP with *no* authorized networks, so no
address can connect directly; every connection must come through the Cloud SQL connectors (Auth Proxy or a
language connector), which authenticate with IAM (`cloudsql.client`) and encrypt with mTLS.
`connector_enforcement = REQUIRED` makes that explicit and `ssl_mode = ENCRYPTED_ONLY` refuses plaintext.
(`ipv4_enabled = false` would need private services access on a VPC: a platform-level network this model
does not have yet.)

Secrets: the password is a `random_password` referenced by the user and the secret version; the synthesized
JSON holds only references, outputs never include it. It is in Terraform state (Terraform 1.0.3 has no
write-only arguments), so state must stay in the access-controlled backend.
"""

from __future__ import annotations

from typing import Any

from platform_sdk.model import Database
from platform_sdk.providers.base import StackContext
from platform_sdk.providers.gcp import kms, naming, provider
from platform_sdk.providers.gcp.config import TIER, TIERS

VERSIONS = {"postgres": "POSTGRES_16", "mysql": "MYSQL_8_0"}
DB_USER = "app"


def compile_database(ctx: StackContext, database: Database) -> tuple[Any, dict[str, str]]:
    provider.use_random(ctx)
    name = naming.rfc1035(ctx.physical_name(database))
    protect = database.deletion_protection
    high_availability = database.high_availability
    backups = database.backups
    key = kms.kms_key(ctx)  # customer-managed encryption of the instance (kms.py: agent and region rules)
    backup: dict[str, Any] = {"enabled": backups}
    if database.engine == "postgres":
        backup["point_in_time_recovery_enabled"] = backups
    else:
        backup["binary_log_enabled"] = backups
    instance = ctx.resource("google_sql_database_instance", database.name, {
        "name": name,
        "database_version": VERSIONS[database.engine],
        "region": provider.region(ctx),
        "deletion_protection": protect,
        "settings": {
            # db-custom-* tiers are Enterprise edition tiers (PostgreSQL 16 would otherwise default to Plus).
            "edition": "ENTERPRISE",
            "tier": ctx.size("database", database.size, TIER.key, TIERS[database.size]),
            "disk_size": database.storage_gb,
            "disk_autoresize": True,
            "availability_type": "REGIONAL" if high_availability else "ZONAL",
            "deletion_protection_enabled": protect,
            "backup_configuration": backup,
            "ip_configuration": {"ipv4_enabled": True, "ssl_mode": "ENCRYPTED_ONLY"},
            "connector_enforcement": "REQUIRED",
            "user_labels": ctx.labels(database),
        },
        **({"encryption_key_name": key} if key else {}),
    }).after(*provider.apis(ctx, "sqladmin.googleapis.com"), *kms.sql_key_ready(ctx))
    db = ctx.resource("google_sql_database", f"{database.name}_db", {
        "name": database.database_name, "instance": instance.ref("name"),
    })
    password = ctx.resource("random_password", f"{database.name}_password", {"length": 32, "special": False})
    ctx.resource("google_sql_user", f"{database.name}_user", {
        "name": DB_USER, "instance": instance.ref("name"), "password": password.ref("result"),
        # PostgreSQL refuses to drop a role that owns objects; the instance's deletion removes it anyway.
        **({"deletion_policy": "ABANDON"} if database.engine == "postgres" else {}),
    })
    secret = ctx.resource("google_secret_manager_secret", f"{database.name}_secret", {
        "secret_id": naming.shorten(f"{name}-password", 255),
        "replication": kms.secret_replication(ctx),
        "labels": ctx.labels(database),
    }).after(*provider.apis(ctx, "secretmanager.googleapis.com"), *kms.secrets_key_ready(ctx))
    ctx.resource("google_secret_manager_secret_version", f"{database.name}_secret_version", {
        "secret": secret.ref("id"), "secret_data": password.ref("result"),
    })
    scheme = "postgres" if database.engine == "postgres" else "mysql"
    connection = instance.ref("connection_name")
    url = f"{scheme}://{DB_USER}@/{db.ref('name')}?instance={connection}&secret={secret.ref('id')}&cloud=gcp"
    return instance, {"name": instance.ref("name"), "instance": instance.ref("name"), "endpoint": connection,
                      "secret": secret.ref("id"), "user": DB_USER, "database": db.ref("name"), "url": url}
