"""IAM for AWS functions, as data: which actions each neutral grant means and on which ARN they apply.

Why a table: reviewers read least privilege here at a glance, and adding an access level is one line.
Scopes name the ARN an action applies to, so no statement ever needs `*` for an action or a resource:
  bucket  -> the bucket ARN (listing)
  objects -> `<bucket ARN>/*` (object reads and writes)
  secret  -> a Secrets Manager secret's ARN (a Secret's own container)
  queue   -> the SQS queue's ARN
  function -> the Lambda function's ARN
  dbuser  -> `arn:aws:rds-db:<region>:<account>:dbuser:<DbiResourceId>/<the function's database user>` (IAM
             database authentication as that user only; the master secret is never granted to a function)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from platform_sdk.model import Bucket, Function, Grant, HttpTrigger, Queue, QueueMessageTrigger, Secret
from platform_sdk.providers.base import Handle

# (kind, access) -> ((action, scope), ...). Scopes are resolved against the target Handle's attributes below.
# A Secret is read with GetSecretValue and nothing else (no DescribeSecret, no ListSecrets: the runtime asks for
# the value by name). https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_iam-policies.html
GRANT_ACTIONS: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("bucket", "read"): (("s3:ListBucket", "bucket"), ("s3:GetObject", "objects")),
    ("bucket", "write"): (("s3:PutObject", "objects"), ("s3:DeleteObject", "objects")),
    ("bucket", "readwrite"): (("s3:ListBucket", "bucket"), ("s3:GetObject", "objects"), ("s3:PutObject", "objects"),
                              ("s3:DeleteObject", "objects")),
    # IAM database authentication as the function's own database user; never the master secret.
    # https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.IAMPolicy.html
    ("database", "connect"): (("rds-db:connect", "dbuser"),),
    ("secret", "read"): (("secretsmanager:GetSecretValue", "secret"),),
    # SendMessage and nothing else (the runtime builds the queue URL itself, so no GetQueueUrl).
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-api-permissions-reference.html
    ("queue", "send"): (("sqs:SendMessage", "queue"),),
    # Invoke (synchronous and asynchronous alike: InvocationType is a parameter of the same action).
    # https://docs.aws.amazon.com/lambda/latest/dg/lambda-api-permissions-ref.html
    ("function", "invoke"): (("lambda:InvokeFunction", "function"),),
}
# A callee with http(auth="iam") is also called over its function URL, signed with SigV4: InvokeFunctionUrl.
# https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html
IAM_URL_ACTIONS: tuple[tuple[str, str], ...] = (("lambda:InvokeFunctionUrl", "function"),)
# What a Lambda event source mapping reads a queue with, as the function's execution role.
# https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html#events-sqs-permissions
QUEUE_CONSUMER_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")

# With the profile's KMS key, each access also needs the key, used only through the service holding the data:
# S3 decrypts on reads and generates data keys on writes (multipart uploads decrypt them too); Secrets Manager
# decrypts a Secret's value. A database connection needs no key: the function signs an IAM token instead of
# reading the (encrypted) master secret.
KMS_ACTIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("bucket", "read"): ("kms:Decrypt",),
    ("bucket", "write"): ("kms:Decrypt", "kms:GenerateDataKey"),
    ("bucket", "readwrite"): ("kms:Decrypt", "kms:GenerateDataKey"),
    ("secret", "read"): ("kms:Decrypt",),
    ("queue", "send"): ("kms:GenerateDataKey", "kms:Decrypt"),
}
KMS_VIA_SERVICE = {"bucket": "s3", "secret": "secretsmanager", "queue": "sqs"}

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
    if scope == "secret":
        return handle["secret_arn"]
    if scope in ("queue", "function"):
        return handle["arn"]
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
        actions = GRANT_ACTIONS[(target.kind, grant.access)]
        if isinstance(target, Function) and any(t.iam for t in target.trigger_of(HttpTrigger)):
            actions = actions + IAM_URL_ACTIONS
        for action, scope in actions:
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


def consumer_statements(fn: Function, queues: dict[str, Handle]) -> list[dict[str, Any]]:
    """What the function's event source mappings need on the queues its `queue_message` triggers read."""
    statements = []
    for trigger in fn.trigger_of(QueueMessageTrigger):
        queue = trigger.queue
        owner = queue.service.name if queue.service else ""
        statements.append({"Sid": _sid(f"consume-{owner}-{queue.name}"), "Effect": "Allow",
                           "Action": list(QUEUE_CONSUMER_ACTIONS), "Resource": queues[queue.name]["arn"]})
    return statements


def log_statement(log_group_arn: str) -> dict[str, Any]:
    """Write access to the function's own log group and its streams, nothing else."""
    return {"Sid": "OwnLogGroup", "Effect": "Allow", "Action": list(LOG_ACTIONS), "Resource": f"{log_group_arn}:*"}


def _encrypted_with_profile_key(grant: Grant) -> bool:
    """Targets the AWS compiler encrypts with the profile key that the function reads through their service:
    private buckets, Secrets and queues (a database is reached with an IAM token, not its encrypted secret)."""
    target = grant.target
    return (isinstance(target, Bucket) and not target.public_read) or isinstance(target, (Secret, Queue))


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
        actions.update(KMS_ACTIONS[(grant.target.kind, grant.access)])
        services.add(f"{KMS_VIA_SERVICE[grant.target.kind]}.{region}.amazonaws.com")
    if not actions:
        return None
    return {"Sid": "ProfileKmsKey", "Effect": "Allow", "Action": sorted(actions), "Resource": key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": sorted(services)}}}
