"""IAM for AWS functions, as data: which actions each neutral grant means and on which ARN they apply.

Why a table: reviewers read least privilege here at a glance, and adding an access level is one line.
Scopes name the ARN an action applies to, so no statement ever needs `*` for an action or a resource:
  bucket  -> the bucket ARN (listing)
  objects -> `<bucket ARN>/*` (object reads and writes)
  dbuser  -> `arn:aws:rds-db:<region>:<account>:dbuser:<DbiResourceId>/<the function's database user>` (IAM
             database authentication as that user only; the master secret is never granted to a function)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from platform_sdk.model import Bucket, Grant
from platform_sdk.providers.base import Handle

# access -> ((action, scope), ...). Scopes are resolved against the target Handle's attributes below.
GRANT_ACTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "read": (("s3:ListBucket", "bucket"), ("s3:GetObject", "objects")),
    "write": (("s3:PutObject", "objects"), ("s3:DeleteObject", "objects")),
    "readwrite": (("s3:ListBucket", "bucket"), ("s3:GetObject", "objects"), ("s3:PutObject", "objects"),
                  ("s3:DeleteObject", "objects")),
    "connect": (("rds-db:connect", "dbuser"),),
}

# With the profile's KMS key, each bucket access also needs the key, used only through S3: S3 decrypts on reads and
# generates data keys on writes (multipart uploads decrypt them too). A database connection needs no key: the
# function signs an IAM token instead of reading the (encrypted) master secret.
KMS_ACTIONS: dict[str, tuple[str, ...]] = {
    "read": ("kms:Decrypt",),
    "write": ("kms:Decrypt", "kms:GenerateDataKey"),
    "readwrite": ("kms:Decrypt", "kms:GenerateDataKey"),
}
KMS_VIA_SERVICE = {"read": "s3", "write": "s3", "readwrite": "s3"}

# Logging needs only these two on the function's own log group (the group itself is created by Terraform).
LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")

LAMBDA_ASSUME_ROLE: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                   "Principal": {"Service": "lambda.amazonaws.com"}}],
}


DbuserArn = Callable[[Grant, Handle], str]
"""(grant, database handle) -> the dbuser ARN of the granted function's own database user."""


def scope_arn(scope: str, grant: Grant, handle: Handle, dbuser_arn: DbuserArn | None = None) -> str:
    """The ARN one scope means for a target handle."""
    if scope == "bucket":
        return handle["arn"]
    if scope == "objects":
        return f"{handle['arn']}/*"
    if scope == "dbuser" and dbuser_arn is not None:
        return dbuser_arn(grant, handle)
    raise ValueError(f"unknown IAM scope {scope!r}")


def _sid(text: str) -> str:
    """Statement ids are alphanumeric: `thumbs` + `objects` -> `ThumbsObjects`."""
    return "".join(part.capitalize() for part in text.replace("_", "-").split("-") if part)


def grant_statements(grants: list[tuple[Grant, Handle]], dbuser_arn: DbuserArn | None = None) -> list[dict[str, Any]]:
    """Least-privilege statements for a function's grants: one per (target, scope), actions merged and sorted.

    Only grants whose target lives on AWS are turned into IAM here; a target on another cloud is reached
    through that cloud's federation, which its own compiler wires from this function's `identity`.
    """
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for grant, handle in grants:
        if handle.target != "aws":
            continue
        target = grant.target
        for action, scope in GRANT_ACTIONS[grant.access]:
            owner = target.service.name if target.service else ""
            key = (f"{target.kind}-{owner}-{target.name}", scope)
            entry = merged.setdefault(key, {
                "Sid": _sid(f"{target.kind}-{owner}-{target.name}-{scope}"),
                "Effect": "Allow",
                "Action": [],
                "Resource": scope_arn(scope, grant, handle, dbuser_arn),
            })
            if action not in entry["Action"]:
                entry["Action"].append(action)
    statements = list(merged.values())
    for statement in statements:
        statement["Action"] = sorted(statement["Action"])
    return statements


def log_statement(log_group_arn: str) -> dict[str, Any]:
    """Write access to the function's own log group and its streams, nothing else."""
    return {"Sid": "OwnLogGroup", "Effect": "Allow", "Action": list(LOG_ACTIONS), "Resource": f"{log_group_arn}:*"}


def _encrypted_with_profile_key(grant: Grant) -> bool:
    """Grants whose data the function reads through a service using the profile key: private buckets."""
    target = grant.target
    return isinstance(target, Bucket) and not target.public_read


def kms_statement(grants: list[tuple[Grant, Handle]], key_arn: str | None, region: str) -> dict[str, Any] | None:
    """Use of the profile's KMS key for the function's grants: exactly that key, and only through the services
    holding the data (`kms:ViaService`), so the role cannot decrypt anything with it directly. None = not needed."""
    if not key_arn:
        return None
    actions: set[str] = set()
    services: set[str] = set()
    for grant, handle in grants:
        if handle.target != "aws" or not _encrypted_with_profile_key(grant):
            continue
        actions.update(KMS_ACTIONS[grant.access])
        services.add(f"{KMS_VIA_SERVICE[grant.access]}.{region}.amazonaws.com")
    if not actions:
        return None
    return {"Sid": "ProfileKmsKey", "Effect": "Allow", "Action": sorted(actions), "Resource": key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": sorted(services)}}}
