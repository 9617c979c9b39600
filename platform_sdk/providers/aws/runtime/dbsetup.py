"""The platform's database setup on AWS: a Lambda function in the VPC, invoked by Terraform
(`aws_lambda_invocation`, lifecycle_scope CRUD), that creates, corrects or drops one function's database user.

It is the only code that holds the master credentials: it reads RDS's managed master secret (`admin_url`'s
`?secret=`), connects as the master user over TLS and runs `platform_sdk.runtime.dbroles` for the role in the input.
The application functions never get the master secret: they connect as the user made here, with IAM tokens.

Input (JSON, written by the compiler; see providers/aws/dbsetup.py):
    {"admin_url": "postgres://platform_admin@<host>:<port>/<db>?secret=<master secret ARN>&cloud=aws",
     "engine": "postgres" | "mysql", "role": "<user>", "database": "<db>", "owner": true | false,
     "tf": {"action": "create" | "update" | "delete", "prev_input": {...}}}
Terraform adds `tf` (its `terraform_key`): `delete` drops the user when the function or its grant goes (its tables
stay: dbroles.drop); `update` with another role name drops the previous one first.
https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/lambda_invocation
Returns {"role": ..., "action": ...}; any error fails the invocation, and with it `terraform apply`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from platform_sdk.runtime import dbroles
from platform_sdk.runtime.database import Database

TERRAFORM_KEY = "tf"


def _role(spec: Mapping[str, Any]) -> dbroles.Role:
    return dbroles.Role(str(spec["role"]), str(spec["database"]), owner=bool(spec.get("owner")), auth="rds_iam")


def _admin(spec: Mapping[str, Any]) -> Any:
    """The master user's DB-API connection (the runtime's connection wrapper reads the secret and opens TLS)."""
    return Database("admin", str(spec["admin_url"])).connect().raw


def handler(event: Mapping[str, Any], context: Any = None) -> dict[str, str]:
    """Apply one role change (see the module docstring)."""
    terraform = event.get(TERRAFORM_KEY) or {}
    action = str(terraform.get("action") or "create")
    previous = terraform.get("prev_input") or {}
    spec = previous if action == "delete" and previous else event
    engine = str(spec["engine"])
    conn = _admin(spec)
    try:
        if action == "delete":
            dbroles.change(conn, engine, drop_roles=[_role(spec)])
        else:
            renamed = action == "update" and previous and previous.get("role") != spec["role"]
            dbroles.change(conn, engine, ensure_roles=[_role(spec)], drop_roles=[_role(previous)] if renamed else [])
    finally:
        conn.close()
    return {"role": str(spec["role"]), "action": action}
