"""Secret -> aws_secretsmanager_secret: the container only. Its value never passes through Terraform.

No `aws_secretsmanager_secret_version` is emitted: the value is written with PutSecretValue by the CLI
(`platform secret set`, or generated after apply) and read with GetSecretValue by the function (IAM: exactly
that secret's ARN, see iam.py), so it is in no configuration, state or plan.

Encryption: the profile's KMS key when it sets one (`kms_key_id`), else the AWS managed key `aws/secretsmanager`.
Deletion: AWS keeps a destroyed secret recoverable for 30 days (the default recovery window) and refuses to create
another one with the same name meanwhile; restore it (`aws secretsmanager restore-secret`) before applying again.
https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DeleteSecret.html

The URL functions and the CLI use: `secretsmanager://<name>?region=<region>[&endpoint=<url>]` (the endpoint only
when the environment file points AWS at one, e.g. an emulator).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from platform_sdk.model import Secret
from platform_sdk.providers.aws.common import kms_key, make_handle, resource_tags, rid
from platform_sdk.providers.aws.config import aws_config
from platform_sdk.providers.base import Handle, StackContext

if TYPE_CHECKING:
    from platform_sdk.envs import Environment

SCHEME = "secretsmanager"
# Secrets Manager allows 1-512 of letters, digits and /_+=.@- (CreateSecret, `Name`); '/' and '@' are left out
# here so the name is a plain URL host. https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html
_NAME = re.compile(r"^[A-Za-z0-9_+=.-]{1,512}$")


def name_problems(name: str) -> list[str]:
    """Why `name` cannot name a Secrets Manager secret here (empty when it can)."""
    if _NAME.match(name):
        return []
    return [f"a valid Secrets Manager secret name ({name!r}: 1-512 letters, digits and _+=.-)"]


def secret_url(env: Environment, name: str) -> str:
    """`secretsmanager://<name>?region=<region>[&endpoint=<endpoint>]`: all known before anything is applied."""
    aws = aws_config(env)
    params = {"region": aws.region if aws is not None else "us-east-1"}
    if aws is not None and aws.endpoint:
        params["endpoint"] = aws.endpoint
    return f"{SCHEME}://{quote(name, safe='')}?{urlencode(params)}"


def compile_secret(ctx: StackContext, secret: Secret) -> Handle:
    """The container; the handle's `arn` scopes IAM, its `url` is what functions and the CLI open."""
    name = ctx.physical_name(secret)
    attrs = {"name": name, "description": f"{secret.address} ({ctx.env.name}); value set outside Terraform",
             "tags": resource_tags(ctx, secret)}
    key = kms_key(ctx)
    if key:
        attrs["kms_key_id"] = key
    container = ctx.resource("aws_secretsmanager_secret", rid(ctx, secret, "secret"), attrs)
    arn = container.ref("arn")
    return make_handle(ctx, secret, {"secret": container}, name=name, arn=arn, secret_arn=arn,
                       url=secret_url(ctx.env, name))
