"""Database -> RDS: encrypted, private to the default VPC, master password managed by Secrets Manager.

The password never appears in configuration, state or plan (`manage_master_user_password`): functions get the
secret's ARN and read it at run time with their `connect` grant. The security group admits nobody by itself:
each connecting function's stack adds an ingress rule from that function's security group (see network.py).
"""

from __future__ import annotations

from typing import Any

from platform_sdk.model import Database
from platform_sdk.providers.aws.common import kms_key, make_handle, resource_tags, rid
from platform_sdk.providers.aws.network import default_vpc
from platform_sdk.providers.base import Handle, StackContext
from platform_sdk.synth.engine import Fn, TerraformResourceLifecycle

ENGINES: dict[str, dict[str, Any]] = {
    "postgres": {"engine": "postgres", "version": "16", "port": 5432, "scheme": "postgres"},
    "mysql": {"engine": "mysql", "version": "8.0", "port": 3306, "scheme": "mysql"},
}
INSTANCE_CLASSES = {"small": "db.t4g.micro", "medium": "db.t4g.medium", "large": "db.r6g.large"}
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


def compile_database(ctx: StackContext, database: Database) -> Handle:
    """Subnet group, security group (no rules of its own: connecting functions add theirs) and the instance."""
    spec = ENGINES[database.engine]
    name = ctx.physical_name(database)
    tags = resource_tags(ctx, database)
    vpc, subnets = default_vpc(ctx)
    subnet_group = ctx.resource("aws_db_subnet_group", rid(ctx, database, "subnets"), {
        "name": name,
        "description": f"Subnets of {database.address}",
        "subnet_ids": subnets.get_list_attribute("ids"),
        "tags": tags,
    })
    security_group = ctx.resource("aws_security_group", rid(ctx, database, "sg"), {
        "name": f"{name}-db",
        "description": f"{database.engine} port of {database.address}, from the functions that connect to it",
        "vpc_id": vpc.ref("id"),
        # No inline ingress/egress: they would delete the standalone rules connecting functions add.
        "tags": tags,
    })
    attrs: dict[str, Any] = {
        "identifier": name,
        "engine": spec["engine"],
        "engine_version": spec["version"],
        "instance_class": ctx.size("database", database.size, "aws_instance_class", INSTANCE_CLASSES[database.size]),
        "allocated_storage": database.storage_gb,
        "storage_type": "gp3",
        "storage_encrypted": True,
        "db_name": database.database_name,
        "username": MASTER_USERNAME,
        "manage_master_user_password": True,
        "port": spec["port"],
        "db_subnet_group_name": subnet_group.ref("name"),
        "vpc_security_group_ids": [security_group.ref("id")],
        "publicly_accessible": False,
        "multi_az": bool(ctx.override(database, "high_availability", database.high_availability)),
        "backup_retention_period": BACKUP_RETENTION_DAYS if database.backups else 0,
        "copy_tags_to_snapshot": True,
        "deletion_protection": bool(ctx.override(database, "deletion_protection", database.deletion_protection)),
        "skip_final_snapshot": False,
        "final_snapshot_identifier": final_snapshot_identifier(name),
        "auto_minor_version_upgrade": True,
        "tags": tags,
    }
    key = kms_key(ctx)
    if key:
        # Changing the storage key of an existing instance replaces it: the plan report flags that as data loss.
        attrs.update(kms_key_id=key, master_user_secret_kms_key_id=key)
    instance = ctx.resource("aws_db_instance", rid(ctx, database, "instance"), attrs)
    instance.lifecycle = TerraformResourceLifecycle(ignore_changes=["final_snapshot_identifier"])
    address = instance.ref("address")
    port = str(spec["port"])
    secret_arn = instance.ref("master_user_secret[0].secret_arn")
    url = (f"{spec['scheme']}://{MASTER_USERNAME}@{address}:{port}/{database.database_name}"
           f"?secret={secret_arn}&cloud=aws")
    return make_handle(ctx, database, {"instance": instance, "security_group": security_group},
                       endpoint=address, port=port, secret_arn=secret_arn, url=url, name=instance.ref("identifier"),
                       security_group_id=security_group.ref("id"))
