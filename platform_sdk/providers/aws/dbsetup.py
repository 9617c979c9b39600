"""Least privilege in RDS: each function connects as its own database user, authenticated by IAM, created with
exactly its grant's rights by the platform's database setup; never with the master credentials.

For a function granted RDS databases, its stack gets:
- its database user per database: `role_name(<function physical name>)` (platform_sdk.runtime.dbroles: rows of the
  database's tables; owners, the functions of the service declaring the database, also create tables);
- `rds-db:connect` on exactly `arn:aws:rds-db:<region>:<account>:dbuser:<DbiResourceId>/<user>` in the function's
  policy (iam.py), and the URL `postgres://<user>@<host>:<port>/<db>?auth=iam&region=<region>&cloud=aws`: its runtime
  signs a 15-minute IAM token as the password (runtime/database.py);
  https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.IAMPolicy.html
- the setup: a Lambda function `<function>-dbsetup` in the VPC running the same package with the platform's handler
  (`platform_sdk.providers.aws.runtime.dbsetup.handler`), the only holder of the master secret, and one
  `aws_lambda_invocation` per database (lifecycle_scope CRUD) that Terraform runs when the grant is created or
  changed and, with "delete", when it goes: the user is made before the function is, and dropped (keeping its
  tables) after it. No resource policy: only principals of the account allowed lambda:InvokeFunction (the
  deployer) can invoke it.

Why a function of its own in the VPC, and not `platform apply` connecting from where it runs: RDS instances are
private (`publicly_accessible = false`), so only something inside the VPC reaches them; Terraform invokes it in the
same apply, so a deployment is still one command and every step is in the plan.
"""

from __future__ import annotations

import json
from typing import Any

from platform_sdk.cdk.raw import RawResource
from platform_sdk.errors import PlatformError
from platform_sdk.model import Database, Function, Grant
from platform_sdk.providers.aws.common import kms_key, log_retention, policy_json, rid
from platform_sdk.providers.aws.engines import ENGINES
from platform_sdk.providers.aws.iam import LAMBDA_ASSUME_ROLE, log_statement
from platform_sdk.providers.aws.network import (
    database_grants,
    eni_policy,
    open_database,
    reach_secrets_manager,
    vpc,
)
from platform_sdk.providers.aws.provider import account_id, region_of
from platform_sdk.providers.base import Handle, StackContext

SUFFIX = "-dbsetup"
HANDLER = "platform_sdk.providers.aws.runtime.dbsetup.handler"
TIMEOUT_S = 60
MEMORY_MB = 256
SECRET_ACTIONS = ("secretsmanager:GetSecretValue",)


def database_user(ctx: StackContext, fn: Function, database: Database) -> str:
    """The function's user on one database (each RDS instance holds one database: named after the function)."""
    from platform_sdk.runtime.dbroles import role_name  # here: importing the runtime package costs ~0.013 s

    return role_name(ctx.physical_name(fn), engine=database.engine)


NEEDED = ("endpoint", "port", "resource_id", "secret_arn")
"""What a database handle must give for IAM database authentication (a profile module's outputs included)."""


def _needed(handle: Handle, key: str) -> str:
    if key not in handle.attrs:
        missing = [k for k in NEEDED if k not in handle.attrs]
        raise PlatformError(
            f"database {handle.resource.address} gives no {', '.join(missing)}: functions connect with IAM database "
            f"authentication as their own user, which needs the instance's {', '.join(NEEDED)}",
            key=handle.resource.address, value=sorted(handle.attrs),
            hint="a profile module backing the database must list them in ModuleBacking.outputs")
    return str(handle[key])


def function_url(ctx: StackContext, database: Database, handle: Handle, user: str) -> str:
    """What the function connects with: its own user, an IAM token as the password (no secret)."""
    scheme = ENGINES[database.engine]["scheme"]
    return (f"{scheme}://{user}@{_needed(handle, 'endpoint')}:{_needed(handle, 'port')}/{database.database_name}"
            f"?auth=iam&region={region_of(ctx)}&cloud=aws")


def dbuser_arn(ctx: StackContext, handle: Handle, user: str) -> str:
    """`arn:aws:rds-db:<region>:<account>:dbuser:<DbiResourceId>/<user>`: what rds-db:connect is granted on."""
    return f"arn:aws:rds-db:{region_of(ctx)}:{account_id(ctx)}:dbuser:{_needed(handle, 'resource_id')}/{user}"


def owner(fn: Function, database: Database) -> bool:
    """Functions of the service that declares the database carry its schema: they may create tables."""
    return database.service is fn.service


def build(ctx: StackContext, fn: Function, grants: list[tuple[Grant, Handle]], package_path: str,
          package_hash: str, tags: dict[str, str]) -> list[RawResource]:
    """The setup function of `fn` and one invocation per RDS database it is granted; returns the invocations
    (the application function is created after them: its user exists before it can connect)."""
    databases = database_grants(grants)
    if not databases:
        return []
    name = ctx.physical_name(fn) + SUFFIX
    key = kms_key(ctx)
    role = ctx.resource("aws_iam_role", rid(ctx, fn, "dbsetup_role"), {
        "name": name,
        "description": f"Creates the database users of {fn.address} (the platform's database setup)",
        "assume_role_policy": json.dumps(LAMBDA_ASSUME_ROLE, sort_keys=True, separators=(",", ":")),
        "tags": tags,
    })
    log_attrs: dict[str, Any] = {"name": f"/aws/lambda/{name}", "retention_in_days": log_retention(ctx, fn),
                                 "tags": tags}
    if key:
        log_attrs["kms_key_id"] = key
    log_group = ctx.resource("aws_cloudwatch_log_group", rid(ctx, fn, "dbsetup_logs"), log_attrs)
    statements: list[dict[str, Any]] = [log_statement(log_group.ref("arn"))]
    statements.append({"Sid": "MasterSecrets", "Effect": "Allow", "Action": list(SECRET_ACTIONS),
                       "Resource": sorted({handle["secret_arn"] for _, handle in databases})})
    if key:  # the managed master secret is encrypted with the profile key (database.py)
        statements.append({"Sid": "ProfileKmsKey", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": key,
                           "Condition": {"StringEquals": {
                               "kms:ViaService": [f"secretsmanager.{region_of(ctx)}.amazonaws.com"]}}})
    policy = ctx.resource("aws_iam_role_policy", rid(ctx, fn, "dbsetup_policy"), {
        "name": "master-secrets", "role": role.ref("id"), "policy": policy_json(statements)})
    sg = ctx.resource("aws_security_group", rid(ctx, fn, "dbsetup_sg"), {
        "name": f"{name}-fn",
        "description": f"Database setup of {fn.address}: no ingress; egress to its databases and Secrets Manager",
        "vpc_id": vpc(ctx).ref("id"),
        "tags": tags,
    })
    rules: list[RawResource] = []
    for database, handle in databases:
        rules += open_database(ctx, fn, sg, database, handle, tags, suffix="dbsetup_")
    environment, secrets_rules = reach_secrets_manager(ctx, sg, fn, tags, suffix="dbsetup_")
    rules += secrets_rules
    eni = eni_policy(ctx, role, rid(ctx, fn, "dbsetup_vpc_access"))
    setup_attrs: dict[str, Any] = {
        "function_name": name,
        "description": f"The platform's database setup for {fn.address}: creates its database users",
        "role": role.ref("arn"),
        "handler": HANDLER,
        "runtime": fn.runtime,
        "filename": package_path,  # the function's own package: it ships the runtime and its database driver
        "source_code_hash": package_hash,
        "memory_size": MEMORY_MB,
        "timeout": TIMEOUT_S,
        "architectures": ["x86_64"],
        "vpc_config": {"subnet_ids": vpc(ctx).subnets, "security_group_ids": [sg.ref("id")]},
        "logging_config": {"log_format": "Text", "log_group": log_group.ref("name")},
        "tags": tags,
    }
    if environment:
        setup_attrs["environment"] = {"variables": environment}
    if key:
        setup_attrs["kms_key_arn"] = key
    # Everything the setup needs to reach its databases exists before it runs and until its last (delete) run.
    setup = ctx.resource("aws_lambda_function", rid(ctx, fn, "dbsetup"), setup_attrs).after(
        log_group, policy, eni, *dict.fromkeys(rules))
    invocations = []
    for database, handle in databases:
        user = database_user(ctx, fn, database)
        spec = {"admin_url": handle["url"], "engine": database.engine, "role": user,
                "database": database.database_name, "owner": owner(fn, database)}
        invocations.append(ctx.resource("aws_lambda_invocation", rid(ctx, fn, f"dbuser_{rid(ctx, database, 'db')}"), {
            "function_name": setup.ref("function_name"),
            "input": json.dumps(spec, sort_keys=True),
            "lifecycle_scope": "CRUD",
        }))
    return invocations
