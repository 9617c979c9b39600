"""Database -> Cloud SQL instance + database + user; the generated password lives in Secret Manager.

Network choice: without a VPC in the model, the instance gets a public IP with *no* authorized networks, so no
address can connect directly; every connection must come through the Cloud SQL connectors (Auth Proxy or a
language connector), which authenticate with IAM (`cloudsql.client`) and encrypt with mTLS.
`connector_enforcement = REQUIRED` makes that explicit and `ssl_mode = ENCRYPTED_ONLY` refuses plaintext.
(`ipv4_enabled = false` would need private services access on a VPC: a platform-level network this model
does not have yet.)

Secrets: the built-in user's password is a `random_password` referenced by the user and the secret version; the
synthesized JSON holds only references, outputs never include it. It is in Terraform state (Terraform 1.0.3 has no
write-only arguments), so state must stay in the access-controlled backend. That user is the administrator (every
built-in user is a member of cloudsqlsuperuser): it is for the platform (`platform move`, the handle's `url`), never
for a function. Functions sign in as their own IAM database users (`iam_user`, made in the function's stack).

IAM database users (https://cloud.google.com/sql/docs/postgres/add-manage-iam-users): `google_sql_user` of type
CLOUD_IAM_SERVICE_ACCOUNT named after the function's service account (PostgreSQL: its email without
`.gserviceaccount.com`; MySQL: the email, the database user being the part before `@`), with
`cloudsql.iam_authentication` on and the connector's `enable_iam_auth`. On PostgreSQL the user gets the rows of every
table through the predefined roles pg_read_all_data and pg_write_all_data (`database_roles`: one instance holds one
database, so "every table" is the database's); creating tables (owner functions) and MySQL's row rights need the
GRANT step of platform_sdk.runtime.dbroles run as the administrator, which is not automated on GCP yet
(docs/databases.md).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from platform_sdk.cdk.engine import Fn
from platform_sdk.model import Database
from platform_sdk.providers.base import StackContext
from platform_sdk.providers.gcp import kms, naming, provider
from platform_sdk.providers.gcp.config import TIER, TIERS

VERSIONS = {"postgres": "POSTGRES_16", "mysql": "MYSQL_8_0"}
DB_USER = "app"
"""The built-in user: the administrator (a member of cloudsqlsuperuser), never a function's."""
IAM_FLAG = "cloudsql.iam_authentication"
IAM_USER = "CLOUD_IAM_SERVICE_ACCOUNT"
DATA_ROLES = {"postgres": ["pg_read_all_data", "pg_write_all_data"], "mysql": []}
"""What an IAM user of a function gets through `database_roles`: the rows of every table (PostgreSQL 14+)."""
SA_DOMAIN = ".gserviceaccount.com"


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
            # IAM database users: functions sign in with their service account, no password
            "database_flags": [{"name": IAM_FLAG, "value": "on"}],
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
                      "secret": secret.ref("id"), "user": DB_USER, "database": db.ref("name"), "url": url,
                      "engine": database.engine}


def iam_user(ctx: StackContext, fn_name: str, database: Database, handle: dict[str, str], account_id: str,
             email: str) -> tuple[str, Any]:
    """The function's IAM database user on the instance (in the function's stack); returns the function's URL and
    the user (the function is created after it).

    `account_id` and `email` are the function's service account's; the names are literal when the environment
    names the project (`<account_id>@<project>.iam` on PostgreSQL), else Terraform expressions of the email."""
    project = provider.cloud(ctx).project
    postgres = database.engine == "postgres"
    if project:
        full = f"{account_id}@{project}.iam{SA_DOMAIN}"
        name = full.removesuffix(SA_DOMAIN) if postgres else full
        user = quote(name if postgres else account_id, safe="")
    else:
        name = Fn.trimsuffix(email, SA_DOMAIN) if postgres else email
        user = Fn.urlencode(name if postgres else Fn.element(Fn.split("@", email), 0))
    resource = ctx.resource("google_sql_user", f"{fn_name}_{database.name}_iam_user".replace("-", "_"), {
        "name": name,
        "instance": handle["instance"],
        "type": IAM_USER,
        **({"database_roles": DATA_ROLES[database.engine]} if DATA_ROLES[database.engine] else {}),
        # PostgreSQL refuses to drop a role that owns objects: the tables it created stay (and so would the role)
        **({"deletion_policy": "ABANDON"} if postgres else {}),
    })
    scheme = "postgres" if postgres else "mysql"
    return f"{scheme}://{user}@/{handle['database']}?instance={handle['endpoint']}&auth=iam&cloud=gcp", resource
