"""Keyless access across clouds, AWS side.

GCP function -> S3 bucket, Secrets Manager secret, SQS queue or Lambda function (web identity federation, no OIDC
provider resource needed: `accounts.google.com` is built into STS). The target's stack gets one IAM role per
(foreign function, target):

- trust: `Federated: accounts.google.com`, `sts:AssumeRoleWithWebIdentity`, and `StringEquals` on
  `accounts.google.com:aud` and `accounts.google.com:sub` = the function's service account unique id (a token
  from the GCP stack, so this stack depends on the function's stack), plus `accounts.google.com:oaud` = the
  role ARN.
  Why these keys: a Google ID token minted for a service account carries `azp` = `sub` = the account's unique
  id and `aud` = the audience the caller asked for. When `azp` is present AWS maps `accounts.google.com:aud`
  to `azp` and exposes the token's own `aud` as `accounts.google.com:oaud`. The runtime asks the metadata
  server for a token whose audience is the role ARN, so a token minted for this role is worth nothing for
  any other relying party, and a token minted for anything else cannot assume this role.
- inline policy: exactly the grant's actions (the `iam.GRANT_ACTIONS` table: S3 actions on the bucket's ARNs,
  GetSecretValue on the secret's ARN, SendMessage on the queue's ARN, InvokeFunction on the function's ARN), plus the
  profile KMS key through S3, Secrets Manager or SQS when the data is encrypted with it.

The function's stack only gets a literal URL (`foreign_url`): bucket or secret name, role ARN and region are all
known from naming before anything is applied, so the GCP stack never references this one (no dependency cycle).

AWS function -> GCS bucket, secret, Pub/Sub queue or Cloud Functions function: AWS only contributes the function's
identity (`identity_literal`): the Lambda role ARN, deterministic from naming. The GCP compiler trusts it through
workload identity federation.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from platform_sdk.errors import PlatformError
from platform_sdk.model import Bucket, Database, Function, Grant, Queue, Resource, Secret
from platform_sdk.providers.aws.common import TARGET, kms_key, policy_json, resource_tags
from platform_sdk.providers.aws.config import aws_config, network_of
from platform_sdk.providers.aws.iam import grant_statements, kms_statement
from platform_sdk.providers.aws.names import LAMBDA_NAME_MAX
from platform_sdk.providers.aws.provider import region_of
from platform_sdk.providers.aws.queue import SCHEME as SQS_SCHEME
from platform_sdk.providers.aws.secret import secret_url
from platform_sdk.providers.base import Handle, StackContext

if TYPE_CHECKING:
    from platform_sdk.envs import Environment
    from platform_sdk.profile import Profile

GOOGLE_ISSUER = "accounts.google.com"
WEB_IDENTITY_GCP = "gcp"  # the URL's `web_identity` value: the runtime fetches a Google ID token
ROLE_NAME_MAX = LAMBDA_NAME_MAX  # IAM role names: 64 characters


FOREIGN_KINDS = (Bucket, Secret, Queue, Function)
"""What a function on another cloud may be granted here (a Function: `invokes`, through the Lambda Invoke API with
the federated role's credentials; a Queue: `sends`, SendMessage with them; names and ARNs are literals, so the caller's
stack never references this one)."""


def _service(resource: Resource) -> str:
    return resource.service.name if resource.service else ""


def account_of(env: Environment, why: str) -> str:
    """The AWS account id from the environment file; federation needs it literally (ARNs known before apply)."""
    aws = aws_config(env)
    if aws is None or not aws.account:
        raise PlatformError(
            f"the AWS account id is needed to {why}, and the environment file does not set it",
            file=env.file, key="clouds.aws.account",
            hint='add `account = "123456789012"` under [clouds.aws] (the 12-digit id of the AWS account)',
        )
    return aws.account


def function_role_name(env: Environment, profile: Profile, fn: Function) -> str:
    """The Lambda execution role's name: the function's physical name (compile_function uses the same rule)."""
    return profile.physical_name(env, _service(fn), fn.physical_key)


def federated_role_name(env: Environment, profile: Profile, fn: Function, target: Resource) -> str:
    """The role a foreign function assumes for one bucket or secret: `<function physical name>.<its service>.<its
    name>`, shortened with a hash of the full name when longer than IAM allows (deterministic and still unique).

    The dots keep it apart from Lambda execution roles, which are named like their function (no dots).
    """
    full = f"{profile.physical_name(env, _service(fn), fn.physical_key)}.{_service(target)}.{target.name}"
    full = re.sub(r"[^\w+=,.@-]", "-", full)  # what IAM accepts in role names
    if len(full) <= ROLE_NAME_MAX:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:8]
    return f"{full[:ROLE_NAME_MAX - 9].rstrip('-_.')}-{digest}"


def role_arn(account: str, name: str) -> str:
    return f"arn:aws:iam::{account}:role/{name}"


def foreign_grants(env: Environment, fn: Function) -> list[Resource]:
    """The targets of `fn`'s grants that live on another cloud than `fn` (by the environment's placement), once
    each, in declaration order."""
    service = _service(fn)
    home = env.target_of(env.cloud_of(service, fn.name))
    found: dict[str, Resource] = {}
    for grant in fn.grants:
        target = grant.target
        if env.target_of(env.cloud_of(_service(target), target.name)) != home:
            found.setdefault(target.address, target)
    return list(found.values())


def identity_literal(env: Environment, profile: Profile, fn: Function) -> dict[str, str]:
    """The Lambda's identity as literals: role name, role ARN and account (what GCP's federation trusts).

    Fails before synthesis when it cannot work: without the account id the ARN is unknown, and a function that
    joins the VPC for its database reaches Google only through a NAT gateway (`[clouds.aws.network] nat`).
    """
    account = account_of(env, f"let function {fn.address} reach a resource on another cloud (its role ARN)")
    databases = [g.target for g in fn.grants if isinstance(g.target, Database)]
    if databases and not network_of(env).internet:
        foreign = foreign_grants(env, fn)
        lines = dict.fromkeys(f"{file}:{line}" for grant in fn.grants if grant.target in foreign
                              for file, line in [grant.location] if file)  # the grants' own lines, maybe another file
        grants = ", ".join(t.address for t in foreign) + (f"; made at {', '.join(lines)}" if lines else "")
        raise PlatformError(
            f"function {fn.address} connects to database {databases[0].address}, so it runs in the VPC, which has "
            f"no route to the internet (no NAT gateway); it cannot reach a bucket, secret or queue on another cloud",
            file=getattr(env, "file", None), key="clouds.aws.network.nat", value="none",
            hint=f"set clouds.aws.network.nat = \"existing\" or \"create\" (grant: {fn.address} -> {grants}), or "
                 "split the function: one that uses the database, one that reaches the other cloud's resource",
        )
    name = function_role_name(env, profile, fn)
    # Lambda assumes the execution role with the function's name as session name (= the role name here).
    return {"cloud": TARGET, "account": account, "role_name": name, "role_arn": role_arn(account, name),
            "session_name": name}


def foreign_url(env: Environment, profile: Profile, grant: Grant, handle: Handle, function_target: str) -> str:
    """`s3://<bucket>?role_arn=<federated role ARN>&web_identity=gcp&region=<region>`; for a secret
    `secretsmanager://<name>?region=<region>&role_arn=...&web_identity=gcp`; for a queue
    `sqs://<account>/<name>?region=<region>&role_arn=...&web_identity=gcp`; for a function
    `lambda://<name>?region=<region>&role_arn=...&web_identity=gcp`: all literals."""
    target = grant.target
    if function_target != "gcp" or not isinstance(target, FOREIGN_KINDS):
        raise grant.error(f"a {function_target} function cannot reach {target.kind} {target.address} on AWS "
                          "(only GCP functions federate into AWS)", key=grant.function.address, value=target.address)
    account = account_of(env, f"let {grant.function.address} on GCP reach {target.kind} {target.address} on AWS "
                              "(the federated role's ARN goes into the function's environment)")
    name = profile.physical_name(env, _service(target), target.physical_key)
    arn = quote(role_arn(account, federated_role_name(env, profile, grant.function, target)), safe=":/")
    if isinstance(target, Secret):
        return f"{secret_url(env, name)}&role_arn={arn}&web_identity={WEB_IDENTITY_GCP}"
    aws = aws_config(env)
    region = aws.region if aws is not None else "us-east-1"
    if isinstance(target, Function):
        return f"lambda://{name}?region={region}&role_arn={arn}&web_identity={WEB_IDENTITY_GCP}"
    if isinstance(target, Queue):
        endpoint = f"&endpoint={quote(aws.endpoint, safe=':/')}" if aws is not None and aws.endpoint else ""
        return (f"{SQS_SCHEME}://{account}/{name}?region={region}{endpoint}&role_arn={arn}"
                f"&web_identity={WEB_IDENTITY_GCP}")
    return f"s3://{name}?role_arn={arn}&web_identity={WEB_IDENTITY_GCP}&region={region}"


def bucket_arn(env: Environment, profile: Profile, bucket: Bucket, handle: Handle) -> str:
    """The bucket's ARN: the handle's (a reference inside this stack), else built from the physical name."""
    arn = handle.attrs.get("arn")
    return arn or f"arn:aws:s3:::{profile.physical_name(env, _service(bucket), bucket.physical_key)}"


class FederatedRole:
    """One role a foreign function assumes for one bucket or secret; several grants on it merge into the role."""

    def __init__(self, ctx: StackContext, fn: Function, bucket: Resource, fn_handle: Handle,
                 identity: dict[str, str]) -> None:
        self.ctx = ctx
        self.grants: list[tuple[Grant, Handle]] = []
        account = account_of(ctx.env, f"trust GCP function {fn.address} on {bucket.kind} {bucket.address}")
        self.name = federated_role_name(ctx.env, ctx.profile, fn, bucket)
        self.arn = role_arn(account, self.name)
        unique_id = fn_handle["identity_id"]  # the service account's numeric id: a token from the GCP stack
        trust = {
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "GcpFunction",
                "Effect": "Allow",
                "Principal": {"Federated": GOOGLE_ISSUER},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {
                    f"{GOOGLE_ISSUER}:aud": unique_id,  # = the token's azp
                    f"{GOOGLE_ISSUER}:sub": unique_id,
                    f"{GOOGLE_ISSUER}:oaud": self.arn,  # = the token's aud: the runtime asks for this role's ARN
                }},
            }],
        }
        who = identity.get("service_account") or f"{_service(fn)}.{fn.name}"
        key = f"{_service(fn)}__{fn.name}__{_service(bucket)}__{bucket.name}"
        self.role = ctx.resource("aws_iam_role", f"{key}_federated_role", {
            "name": self.name,
            "description": f"GCP function {fn.address} ({who}) -> {bucket.address}: web identity, no keys"[:1000],
            "assume_role_policy": json.dumps(trust, sort_keys=True, separators=(",", ":")),
            "max_session_duration": 3600,
            "tags": {**resource_tags(ctx, bucket), "federated-from": "gcp"},
        })
        self.policy = ctx.resource("aws_iam_role_policy", f"{key}_federated_policy", {
            "name": "federated-least-privilege",
            "role": self.role.ref("id"),
            "policy": "",
        })

    def add(self, grant: Grant, handle: Handle) -> None:
        self.grants.append((grant, handle))
        statements: list[dict[str, Any]] = grant_statements(self.grants)
        kms = kms_statement(self.grants, kms_key(self.ctx), region_of(self.ctx))
        if kms is not None:
            statements.append(kms)
        self.policy.attributes["policy"] = policy_json(statements)


def federate(ctx: StackContext, grant: Grant, handle: Handle, fn_handle: Handle, identity: dict[str, str]) -> None:
    """In the bucket's (or secret's) stack: the role a GCP function assumes with its Google ID token, for exactly
    this grant."""
    fn, bucket = grant.function, grant.target
    if fn_handle.target != "gcp" or not isinstance(bucket, FOREIGN_KINDS):
        raise grant.error(f"{fn_handle.target} function {fn.address} cannot federate into AWS for "
                          f"{bucket.address} (supported: GCP functions on S3 buckets, secrets, SQS queues and Lambda "
                          "functions)", key=fn.address)
    if "identity_id" not in fn_handle.attrs:
        raise PlatformError(f"function {fn.address} exposes no service account unique id to trust (is it built by "
                            "a profile module without an `identity_id` output?)", key=fn.address)
    role: FederatedRole = ctx.once(f"aws:federated:{fn.address}:{bucket.address}",
                                   lambda: FederatedRole(ctx, fn, bucket, fn_handle, identity))
    if isinstance(bucket, (Secret, Queue, Function)):
        role.add(grant, handle)  # the secret's (queue's, function's) own ARN, a reference inside this stack
        return
    scoped = Handle(handle.resource, handle.cloud, handle.target, handle.stack_name,
                    {**handle.attrs, "arn": bucket_arn(ctx.env, ctx.profile, bucket, handle)}, handle.constructs)
    role.add(grant, scoped)
