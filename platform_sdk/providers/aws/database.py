"""Database -> RDS: encrypted, private to the default VPC, master password managed by Secrets Manager.

The password never appears in configuration, state or plan (`manage_master_user_password`): functions get the
secret's ARN and read it at run time with their `connect` grant.
"""

from __future__ import annotations

from typing import Any

from platform_sdk.model import Database
from platform_sdk.providers.aws.common import make_handle, resource_tags, rid
from platform_sdk.providers.base import Handle, StackContext

ENGINES: dict[str, dict[str, Any]] = {
    "postgres": {"engine": "postgres", "version": "16", "port": 5432, "scheme": "postgres"},
    "mysql": {"engine": "mysql", "version": "8.0", "port": 3306, "scheme": "mysql"},
}
INSTANCE_CLASSES = {"small": "db.t4g.micro", "medium": "db.t4g.medium", "large": "db.r6g.large"}
MASTER_USERNAME = "platform_admin"
BACKUP_RETENTION_DAYS = 7


def _default_vpc(ctx: StackContext) -> tuple[Any, Any]:
    """The default VPC and its subnets, looked up once per stack (the platform creates no network of its own)."""
    def lookup() -> tuple[Any, Any]:
        vpc = ctx.data("aws_vpc", "default_vpc", {"default": True})
        subnets = ctx.data("aws_subnets", "default_vpc_subnets",
                           {"filter": [{"name": "vpc-id", "values": [vpc.ref("id")]}]})
        return vpc, subnets
    return ctx.once("aws:default_vpc", lookup)


def compile_database(ctx: StackContext, database: Database) -> Handle:
    """Subnet group, security group (engine port from inside the VPC only) and the instance."""
    spec = ENGINES[database.engine]
    name = ctx.physical_name(database)
    tags = resource_tags(ctx, database)
    vpc, subnets = _default_vpc(ctx)
    subnet_group = ctx.resource("aws_db_subnet_group", rid(ctx, database, "subnets"), {
        "name": name,
        "description": f"Subnets of {database.address}",
        "subnet_ids": subnets.get_list_attribute("ids"),
        "tags": tags,
    })
    security_group = ctx.resource("aws_security_group", rid(ctx, database, "sg"), {
        "name": f"{name}-db",
        "description": f"{database.engine} port of {database.address}, from inside the VPC only",
        "vpc_id": vpc.ref("id"),
        # Every field spelled out: Terraform JSON treats these nested objects as attributes, not blocks.
        "ingress": [{
            "description": f"{database.engine} from the VPC",
            "from_port": spec["port"],
            "to_port": spec["port"],
            "protocol": "tcp",
            "cidr_blocks": [vpc.ref("cidr_block")],
            "ipv6_cidr_blocks": [],
            "prefix_list_ids": [],
            "security_groups": [],
            "self": False,
        }],
        "tags": tags,
    })
    instance = ctx.resource("aws_db_instance", rid(ctx, database, "instance"), {
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
        "final_snapshot_identifier": f"{name}-final",
        "auto_minor_version_upgrade": True,
        "tags": tags,
    })
    address = instance.ref("address")
    port = str(spec["port"])
    secret_arn = instance.ref("master_user_secret[0].secret_arn")
    url = (f"{spec['scheme']}://{MASTER_USERNAME}@{address}:{port}/{database.database_name}"
           f"?secret={secret_arn}&cloud=aws")
    return make_handle(ctx, database, {"instance": instance, "security_group": security_group},
                       endpoint=address, port=port, secret_arn=secret_arn, url=url, name=instance.ref("identifier"))
