"""Database -> RDS: encrypted, private to the environment's VPC (network.py), master password managed by Secrets
Manager, IAM database authentication on.

The master password never appears in configuration, state or plan (`manage_master_user_password`), and never
reaches a function: each function connects as its own database user, with an IAM authentication token its runtime
signs (`rds-db:connect` on exactly that user), created with exactly its grant's rights by the platform's database
setup (dbsetup.py), which alone reads the master secret. The handle's `url` is the administrator's (what `platform
move` copies with); functions get their own. The security group admits nobody by itself: each connecting
function's stack adds an ingress rule from that function's security group (see network.py).

Observability: a parameter group of ours logs slow statements (and DDL on Postgres), the engine's logs are exported
to CloudWatch log groups we create (so they follow the profile's retention and key instead of never expiring), and
Performance Insights is on where the engine and class support it.
An instance that existed before its parameter group was attached uses the group after its next reboot (RDS
applies a changed group association only then; Terraform does not reboot).
"""

from __future__ import annotations

from typing import Any

from platform_sdk.cdk.engine import Fn, TerraformResourceLifecycle
from platform_sdk.cdk.raw import RawResource
from platform_sdk.model import Database
from platform_sdk.providers.aws.common import kms_key, log_retention, make_handle, resource_tags, rid
from platform_sdk.providers.aws.config import INSTANCE_CLASS, INSTANCE_CLASSES
from platform_sdk.providers.aws.engines import ENGINES
from platform_sdk.providers.aws.network import vpc
from platform_sdk.providers.base import Handle, StackContext

# Performance Insights (now CloudWatch Database Insights) is not offered for MySQL and MariaDB on the smallest
# burstable classes; every class of RDS for PostgreSQL has it. Enabling it there fails the apply, so it stays off.
NO_PERFORMANCE_INSIGHTS: dict[str, frozenset[str]] = {
    "mysql": frozenset({"db.t2.micro", "db.t2.small", "db.t3.micro", "db.t3.small", "db.t4g.micro", "db.t4g.small"}),
}
# Parameters RDS may only apply at a reboot on some engine versions; the others are dynamic and apply at once.
# (A new instance starts with every parameter of its group, whatever the method.)
PENDING_REBOOT = frozenset({"rds.force_ssl", "require_secure_transport"})
PERFORMANCE_INSIGHTS_RETENTION_DAYS = 7  # the free retention of Database Insights' standard mode
MASTER_USERNAME = "platform_admin"
BACKUP_RETENTION_DAYS = 7
SNAPSHOT_TIME_FORMAT = "YYYYMMDDhhmmss"


def final_snapshot_identifier(name: str) -> str:
    """`<identifier>-final-<UTC creation time>`: unique per instance lifetime, fixed in the synthesized JSON.

    Why a creation time and not a fixed name or a hash of the inputs: a destroyed instance keeps its final
    snapshot, so destroying a re-created instance with the same name (or the same inputs) would fail with
    DBSnapshotAlreadyExists and leave the instance running. Terraform evaluates `timestamp()` when the instance
    is created; `ignore_changes` keeps that value afterwards, so plans stay quiet and the name a destroy uses is
    the one chosen at creation.
    """
    return f"{name}-final-{Fn.formatdate(SNAPSHOT_TIME_FORMAT, Fn.timestamp())}"


def performance_insights_supported(engine: str, instance_class: str) -> bool:
    return instance_class not in NO_PERFORMANCE_INSIGHTS.get(engine, frozenset())


def _parameter_group(ctx: StackContext, database: Database, name: str, tags: dict[str, str]) -> RawResource:
    """The instance's own parameter group (engine defaults plus the logging and TLS parameters).

    A family or description change replaces a parameter group. `create_before_destroy` makes the new one exist
    before the instance moves to it and removes the old one afterwards; that needs a fresh name each time, so
    the group has a `name_prefix` (`<identifier>-<family>-`, Terraform adds a unique suffix).
    """
    spec = ENGINES[database.engine]
    group = ctx.resource("aws_db_parameter_group", rid(ctx, database, "parameters"), {
        "name_prefix": f"{name}-{spec['family'].replace('.', '-')}-",
        "family": spec["family"],
        "description": f"{database.engine} settings of {database.address}: slow query logging, TLS only",
        "parameter": [{"name": key, "value": value,
                       "apply_method": "pending-reboot" if key in PENDING_REBOOT else "immediate"}
                      for key, value in sorted(spec["parameters"].items())],
        "tags": tags,
    })
    group.lifecycle = TerraformResourceLifecycle(create_before_destroy=True)
    return group


def _log_groups(ctx: StackContext, database: Database, name: str, tags: dict[str, str]) -> list[RawResource]:
    """The log groups RDS exports to, created first so they carry the retention and key (RDS would otherwise
    create them itself, never expiring, and a later Terraform create would collide with them)."""
    key = kms_key(ctx)
    groups = []
    for export in ENGINES[database.engine]["log_exports"]:
        attrs: dict[str, Any] = {
            "name": f"/aws/rds/instance/{name}/{export}",
            "retention_in_days": log_retention(ctx, database),
            "tags": tags,
        }
        if key:
            attrs["kms_key_id"] = key  # the key policy must let logs.<region>.amazonaws.com use it
        groups.append(ctx.resource("aws_cloudwatch_log_group", rid(ctx, database, f"logs_{export}"), attrs))
    return groups


def compile_database(ctx: StackContext, database: Database) -> Handle:
    """Subnet group, security group (no rules of its own: connecting functions add theirs) and the instance."""
    spec = ENGINES[database.engine]
    name = ctx.physical_name(database)
    tags = resource_tags(ctx, database)
    net = vpc(ctx)
    subnet_group = ctx.resource("aws_db_subnet_group", rid(ctx, database, "subnets"), {
        "name": name,
        "description": f"Subnets of {database.address}",
        "subnet_ids": net.subnets,
        "tags": tags,
    })
    security_group = ctx.resource("aws_security_group", rid(ctx, database, "sg"), {
        "name": f"{name}-db",
        "description": f"{database.engine} port of {database.address}, from the functions that connect to it",
        "vpc_id": net.ref("id"),
        # No inline ingress/egress: they would delete the standalone rules connecting functions add.
        "tags": tags,
    })
    parameters = _parameter_group(ctx, database, name, tags)
    log_groups = _log_groups(ctx, database, name, tags)
    instance_class = ctx.size("database", database.size, INSTANCE_CLASS.key, INSTANCE_CLASSES[database.size])
    attrs: dict[str, Any] = {
        "identifier": name,
        "engine": spec["engine"],
        "engine_version": spec["version"],
        "instance_class": instance_class,
        "allocated_storage": database.storage_gb,
        "storage_type": "gp3",
        "storage_encrypted": True,
        "db_name": database.database_name,
        "username": MASTER_USERNAME,
        "manage_master_user_password": True,
        "port": spec["port"],
        "db_subnet_group_name": subnet_group.ref("name"),
        "parameter_group_name": parameters.ref("name"),
        "vpc_security_group_ids": [security_group.ref("id")],
        "publicly_accessible": False,
        "multi_az": database.high_availability,
        "backup_retention_period": BACKUP_RETENTION_DAYS if database.backups else 0,
        "copy_tags_to_snapshot": True,
        "deletion_protection": database.deletion_protection,
        "skip_final_snapshot": False,
        "final_snapshot_identifier": final_snapshot_identifier(name),
        "auto_minor_version_upgrade": True,
        "iam_database_authentication_enabled": True,
        "enabled_cloudwatch_logs_exports": list(ENGINES[database.engine]["log_exports"]),
        "tags": tags,
    }
    key = kms_key(ctx)
    if key:
        # Changing the storage key of an existing instance replaces it: the plan report flags that as data loss.
        attrs.update(kms_key_id=key, master_user_secret_kms_key_id=key)
    if performance_insights_supported(spec["engine"], instance_class):
        attrs.update(performance_insights_enabled=True, database_insights_mode="standard",
                     performance_insights_retention_period=PERFORMANCE_INSIGHTS_RETENTION_DAYS)
        if key:
            attrs["performance_insights_kms_key_id"] = key  # fixed once set: RDS cannot change it later
    instance = ctx.resource("aws_db_instance", rid(ctx, database, "instance"), attrs).after(*log_groups)
    instance.lifecycle = TerraformResourceLifecycle(ignore_changes=["final_snapshot_identifier"])
    address = instance.ref("address")
    port = str(spec["port"])
    secret_arn = instance.ref("master_user_secret[0].secret_arn")
    url = (f"{spec['scheme']}://{MASTER_USERNAME}@{address}:{port}/{database.database_name}"
           f"?secret={secret_arn}&cloud=aws")
    constructs: dict[str, Any] = {"instance": instance, "security_group": security_group}
    return make_handle(ctx, database, constructs, endpoint=address, port=port, secret_arn=secret_arn, url=url,
                       name=instance.ref("identifier"), security_group_id=security_group.ref("id"),
                       resource_id=instance.ref("resource_id"), master_user=MASTER_USERNAME)
