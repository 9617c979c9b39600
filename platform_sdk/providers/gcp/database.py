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
database, so "every table" is the database's); creating tables (owner functions: the functions of the service that
declares the database) and MySQL's row rights come from the GRANT step of platform_sdk.runtime.dbroles, run as the
administrator after every `platform apply` (`grant_roles`, the post-apply step of the GCP plug-in).

The GRANT step: the database's stack publishes `dbadmin_<database>` (its administrator URL, engine and database
name) and each function's stack `dbrole_<function>_<service>_<database>` (its IAM user's database login, and
whether it owns the database). After an apply, for every database whose stack is applied, the step reads the
built-in user's password from the Secret Manager secret the stack made, connects through the Cloud SQL Python
Connector (the instance has no authorized networks and requires connectors: the deployer needs
roles/cloudsql.client and secretmanager.secretAccessor, and `cloud-sql-python-connector` where `platform apply`
runs), and runs `dbroles.change` as AWS's setup function does: every function's IAM user gets exactly its rights
(auth "external": Cloud SQL manages the login), and the users that hold the database's rights but belong to no
function any more (`dbroles.holders`) lose them. Known gaps: the step runs after Terraform, so between a new
function's deployment and the step its first requests lack the step's rights (on PostgreSQL, CONNECT once the
step has revoked it from PUBLIC; an owner's CREATE TABLE; on MySQL, every row right), and a failed step leaves
them so until the next apply (`platform apply` reports it and exits 1). Not measured on Cloud SQL itself (no GCP
here): the statements are tested on PostgreSQL 15 with a non-superuser administrator and on MariaDB; on
PostgreSQL 16 external roles are never made members of the administrator (see dbroles).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlparse

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
ADMIN_OUTPUT = "dbadmin_"
"""Output of a database's stack: {"admin_url", "engine", "database", "name"} (what the GRANT step connects to)."""
ROLE_OUTPUT = "dbrole_"
"""Output of a function's stack per database it uses: {"admin_url", "engine", "database", "user", "owner"}."""


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
    ctx.output(_output_id(ADMIN_OUTPUT, database.name), {
        "admin_url": url, "engine": database.engine, "database": database.database_name, "name": database.address},
        description=f"Where the GRANT step of {database.address} connects (no password: the secret's id)")
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
    # the login the database sees: PostgreSQL the user's name, MySQL the part of the email before `@`
    login = name if postgres else (account_id if project else Fn.element(Fn.split("@", email), 0))
    service = database.service.name if database.service else ""
    ctx.output(_output_id(ROLE_OUTPUT, fn_name, service, database.name), {
        "admin_url": handle["url"], "engine": database.engine, "database": database.database_name,
        "user": login, "owner": database.service is ctx.service,
    }, description=f"The database rights the GRANT step gives {fn_name} on {database.address}")
    return f"{scheme}://{user}@/{handle['database']}?instance={handle['endpoint']}&auth=iam&cloud=gcp", resource


def _output_id(prefix: str, *parts: str) -> str:
    return prefix + "_".join(parts).replace("-", "_")


# -- the GRANT step, after `platform apply` ----------------------------------------------------------------------
@dataclass
class GrantResult:
    """What the GRANT step did on one database: the users given their rights, those stripped of them, or why not."""

    database: str
    granted: list[str] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)
    error: str | None = None

    def line(self) -> str:
        if self.error:
            return f"{self.database}: database rights not granted: {self.error}"
        text = f"{self.database}: database rights of {len(self.granted)} function user(s) granted"
        return text + (f", revoked from {', '.join(self.revoked)}" if self.revoked else "")


CONNECTOR_MISSING = ("the Cloud SQL Python Connector is not installed where `platform apply` runs (the instance "
                     "admits connectors only): pip install cloud-sql-python-connector")


def _connector_installed() -> bool:
    try:
        from google.cloud.sql.connector import Connector  # noqa: F401
    except ImportError:
        return False
    return True


def grant_roles(outputs: Mapping[str, Mapping[str, Any]]) -> list[GrantResult]:
    """Run the GRANT step (see the module docstring) for every database among `outputs` (applied stack -> its
    output values): each function's IAM user gets exactly its rights, the rest of the database's holders lose
    them. One result per database, in a stable order; a database that fails does not stop the others."""
    from platform_sdk.runtime import dbroles
    from platform_sdk.runtime.database import Database as Connection

    admins: dict[str, Mapping[str, Any]] = {}
    wanted: dict[str, list[dbroles.Role]] = {}
    for stack in sorted(outputs):
        for key, value in sorted(outputs[stack].items()):
            if not isinstance(value, Mapping) or not isinstance(value.get("admin_url"), str):
                continue
            if key.startswith(ADMIN_OUTPUT):
                admins[value["admin_url"]] = value
            elif key.startswith(ROLE_OUTPUT):
                wanted.setdefault(value["admin_url"], []).append(dbroles.Role(
                    str(value["user"]), str(value["database"]), owner=bool(value.get("owner")), auth="external"))
    results = []
    installed = _connector_installed() if admins else True
    for url, admin in admins.items():
        result = GrantResult(str(admin.get("name") or admin["database"]))
        results.append(result)
        if not installed:
            result.error = CONNECTOR_MISSING
            continue
        engine, database = str(admin["engine"]), str(admin["database"])
        roles = sorted(wanted.get(url, []), key=lambda role: role.name)
        try:
            conn = Connection("admin", url).connect().raw
            try:
                names = {role.name for role in roles} | {unquote(urlparse(url).username or "")}
                gone = [dbroles.Role(name, database, auth="external")
                        for name in dbroles.holders(conn, engine, database) if name not in names]
                dbroles.change(conn, engine, ensure_roles=roles, drop_roles=gone)
            finally:
                conn.close()
        except Exception as err:  # reported per database; the runtime never puts a password in a message
            result.error = f"{type(err).__name__}: {err}"
            continue
        result.granted, result.revoked = [role.name for role in roles], [role.name for role in gone]
    return results
