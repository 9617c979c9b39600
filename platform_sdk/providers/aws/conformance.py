"""Conformance rules for AWS: what each neutral operation needs from IAM and from the network, kept as data with
the documentation page each fact came from, and how to read it from the emitted Terraform JSON.

Permissions: IAM policy evaluation over what the JSON holds — the principal's inline policies
(aws_iam_role_policy, inline_policy), attached policies (aws_iam_policy, the AWS managed ones in
MANAGED_POLICIES), the bucket policy, and the function's resource policy (aws_lambda_permission). An explicit
Deny wins; conditions are evaluated against the request context of the operation (SecureTransport, ViaService,
the web identity's claims); a condition key the context lacks makes the condition false, as IAM does. Not
visible in the JSON, so not checked: SCPs, permission boundaries, KMS key policies (the platform team's key).
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html

Network: a Lambda function with `vpc_config` reaches an AWS API only through a gateway endpoint (S3, DynamoDB)
whose route tables cover its subnets and whose prefix list its security group's egress allows, an interface
endpoint whose security group admits 443 from the function and whose DNS the runtime uses (private DNS, or the
endpoint variable the runtime reads), or a NAT route with egress to 0.0.0.0/0:443, in any stack (the base stack
owns the endpoints and the NAT; two stacks' lookups of one VPC are one VPC, `vpc_identity`). Outside a VPC it has the
internet. Terraform removes the default allow-all egress of every aws_security_group it creates, so only the
emitted egress rules count.
https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc-internet.html
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from platform_sdk import contract
from platform_sdk.conformance import (
    FEDERATION,
    INTERNET,
    INTERNET_ENDPOINT,
    Caller,
    Context,
    Endpoint,
    EntryPoints,
    Need,
    PlacementLike,
    Proof,
)
from platform_sdk.model import (
    Bucket,
    Database,
    Function,
    HttpTrigger,
    ObjectCreatedTrigger,
    Queue,
    QueueMessageTrigger,
    ScheduleTrigger,
    Secret,
)
from platform_sdk.model.cdn import DEFAULT_ROUTE
from platform_sdk.providers.aws.payload_hash import ENTRY as PAYLOAD_HASH_ENTRY
from platform_sdk.tfjson import Block, Estate, Location, json_document

TARGET = "aws"
ANY_KEY = "platform-conformance-any-key"  # an object key: `<bucket ARN>/*` must cover `<bucket ARN>/<key>`

# -- S3: neutral bucket operation -> (IAM action, scope); scope "bucket" = the bucket ARN, "object" = <ARN>/<key>
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html
# head: HeadObject needs s3:GetObject, and without s3:ListBucket a missing key answers 403 instead of 404, which
#   the runtime's stat()/exists() would raise instead of returning "absent"
#   (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html, "Permissions").
# overwrite: a PutObject on an existing key needs nothing more than s3:PutObject.
# signed URLs are signed locally: the URL carries the signer's rights, so the signer needs the action itself
#   (https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-presigned-url.html).
S3_ACTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "get": (("s3:GetObject", "object"),),
    "head": (("s3:GetObject", "object"), ("s3:ListBucket", "bucket")),
    "list": (("s3:ListBucket", "bucket"),),
    "put": (("s3:PutObject", "object"),),
    "overwrite": (("s3:PutObject", "object"),),
    "delete": (("s3:DeleteObject", "object"),),
    "signed_url_get": (("s3:GetObject", "object"),),
    "signed_url_put": (("s3:PutObject", "object"),),
}
# Objects in a bucket encrypted with a customer managed key: reads decrypt, writes generate a data key, and the
# runtime's multipart uploads (large put_stream) decrypt too.
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html#mpuAndPermissions
S3_KMS_ACTIONS: dict[str, tuple[str, ...]] = {
    "get": ("kms:Decrypt",), "signed_url_get": ("kms:Decrypt",),
    "put": ("kms:GenerateDataKey", "kms:Decrypt"), "overwrite": ("kms:GenerateDataKey", "kms:Decrypt"),
    "signed_url_put": ("kms:GenerateDataKey", "kms:Decrypt"),
}
# The database's credentials, and a Secret's value: GetSecretValue on the secret the URL names; a secret encrypted
# with a customer managed key also needs kms:Decrypt through Secrets Manager.
# https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_iam-policies.html
# https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html
SECRET_ACTIONS = ("secretsmanager:GetSecretValue",)
SECRET_KMS_ACTIONS = ("kms:Decrypt",)
# SQS: sending is SendMessage on the queue; a queue encrypted with a customer managed key also needs the key through
# SQS (GenerateDataKey to encrypt, Decrypt for the data key). A Lambda event source mapping polls with the function's
# execution role. https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html
# https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html#events-sqs-permissions
SQS_SEND_ACTIONS = ("sqs:SendMessage",)
SQS_SEND_KMS_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
SQS_CONSUMER_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
PARTIAL_BATCH = "ReportBatchItemFailures"  # the adapter answers which records failed; only those are retried
# Calling a function: Invoke (RequestResponse and Event alike) is lambda:InvokeFunction on its ARN; a SigV4-signed
# request to an AWS_IAM function URL is lambda:InvokeFunctionUrl. https://docs.aws.amazon.com/lambda/latest/dg/
# lambda-api-permissions-ref.html, https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html
INVOKE_ACTIONS = ("lambda:InvokeFunction",)
URL_INVOKE_ACTIONS = ("lambda:InvokeFunctionUrl",)
# A Lambda function in a VPC: the execution role creates and deletes its network interfaces; Lambda checks it
# when the function is created, so the policy must exist first.
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html#configuration-vpc-permissions
ENI_ACTIONS = ("ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface")
# AWS managed policies a role may attach (the actions relevant here).
# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/policy-list.html
MANAGED_POLICIES: dict[str, list[dict[str, Any]]] = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole": [
        {"Effect": "Allow", "Resource": "*", "Action": [
            "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "ec2:CreateNetworkInterface",
            "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:DeleteNetworkInterface",
            "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]}],
    "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess": [
        {"Effect": "Allow", "Resource": "*", "Action": ["s3:Get*", "s3:List*", "s3:Describe*"]}],
    "arn:aws:iam::aws:policy/AmazonS3FullAccess": [{"Effect": "Allow", "Resource": "*", "Action": ["s3:*"]}],
}
# Invoking a function: which service principal each trigger uses, and the function URL rules. Since October 2025
# a public function URL needs lambda:InvokeFunctionUrl *and* lambda:InvokeFunction for "*"; the second must carry
# `lambda:InvokedViaFunctionUrl` (aws_lambda_permission.invoked_via_function_url) or any AWS principal may invoke
# the function directly. https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html
S3_PRINCIPAL = "s3.amazonaws.com"  # https://docs.aws.amazon.com/lambda/latest/dg/with-s3.html
EVENTS_PRINCIPAL = "events.amazonaws.com"  # https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html
CLOUDFRONT_PRINCIPAL = "cloudfront.amazonaws.com"
# CloudFront origin access control in front of a function URL signs every request with SigV4; for POST and PUT
# Lambda then needs the payload's SHA-256 in `x-amz-content-sha256`, which the viewer must send (browsers do not).
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-lambda.html
OAC_BODY_METHODS = ("POST", "PUT", "PATCH")
# What the compiler emits for them (providers/aws/edge.py): an origin-request Lambda@Edge function that sees the body
# sets the hash before CloudFront signs. https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/
# lambda-include-body-access.html
EDGE_EVENT = "origin-request"
OBJECT_CREATED_EVENTS = ("s3:ObjectCreated:*",)
# S3 validates a notification's destinations when the configuration is written: the invoke permission must exist
# first. https://repost.aws/knowledge-center/unable-validate-destination-s3
# API endpoints: gateway endpoints exist for these services only.
# https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html
GATEWAY_SERVICES = ("s3", "dynamodb")
# The variables the runtime reads to use an interface endpoint without private DNS (runtime/buckets.py,
# runtime/database.py, runtime/federation.py; botocore honours AWS_ENDPOINT_URL_<SERVICE> itself).
ENDPOINT_VARIABLES: dict[str, tuple[str, ...]] = {
    "s3": ("PLATFORM_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
    "secretsmanager": ("PLATFORM_SECRETSMANAGER_ENDPOINT", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL"),
    "sts": ("PLATFORM_STS_ENDPOINT", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"),
    "sqs": ("PLATFORM_SQS_ENDPOINT", "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL"),
    "lambda": ("PLATFORM_LAMBDA_ENDPOINT", "AWS_ENDPOINT_URL_LAMBDA", "AWS_ENDPOINT_URL"),
}
HTTPS = 443
ANYWHERE = "0.0.0.0/0"
# Web identity federation from Google: the claims IAM compares (the runtime asks for a token whose audience is
# the role ARN). https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif
GOOGLE_ISSUER = "accounts.google.com"


# -- reading the JSON ------------------------------------------------------------------------------------------
def _one(value: Any) -> Mapping[str, Any]:
    """A nested block given as an object or a one-element list."""
    if isinstance(value, list):
        return value[0] if value and isinstance(value[0], Mapping) else {}
    return value if isinstance(value, Mapping) else {}


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def _region(estate: Estate, stack: str) -> str:
    return str(estate.provider(stack, "aws").get("region") or "us-east-1")


def _account(estate: Estate, stack: str) -> str | None:
    accounts = estate.provider(stack, "aws").get("allowed_account_ids") or []
    return str(accounts[0]) if accounts and "${" not in str(accounts[0]) else None


def _own_lambda(fn: Function, ctx: Context) -> Block | None:
    """The Lambda function that is `fn`, not one the platform builds for it (its database setup): the one carrying
    the function's own name in the wire contract (else the first of its Lambda functions)."""
    lambdas = ctx.blocks_of(fn, "aws_lambda_function")
    own = [lam for lam in lambdas
           if _one(lam.body.get("environment")).get("variables", {}).get(contract.FUNCTION) == fn.name]
    return (own or lambdas or [None])[0]


def _literal(value: Any) -> str | None:
    return value if isinstance(value, str) and "${" not in value else None


def glob(pattern: str, text: str, ignore_case: bool = False) -> bool:
    """IAM wildcard match: `*` any run of characters, `?` one character, everything else literal."""
    if not ignore_case and "?" not in pattern:  # most resource patterns: an ARN, or an ARN prefix and `*`
        star = pattern.find("*")
        if star < 0:
            return text == pattern
        if star == len(pattern) - 1:
            return text.startswith(pattern[:-1])
    return _glob_regex(pattern, ignore_case).fullmatch(text) is not None


@functools.lru_cache(maxsize=4096)
def _glob_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """The compiled expression of an IAM wildcard pattern (pure, so cached: policies repeat a few patterns)."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


# -- IAM policy evaluation -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Statement:
    """One policy statement, its resources in canonical form, and where it and each of its actions sit."""

    effect: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_resources: tuple[str, ...]
    principal: Any
    condition: Mapping[str, Any]
    location: Location
    action_locations: tuple[Location, ...]
    source: str

    def action_location(self, action: str) -> Location:
        for pattern, location in zip(self.actions, self.action_locations, strict=True):
            if glob(pattern, action, ignore_case=True):
                return location
        return self.location


def statements(estate: Estate, block: Block, *path: str | int, document: Any = None) -> list[Statement]:
    """The statements of the policy JSON held at `block.<path>` (or given as `document`); those of a block's own
    policy are read once per estate."""
    if document is not None:
        return _statements(estate, block, path, document)
    return list(estate.lookup((TARGET, "statements", block, path), lambda: _statements(estate, block, path, None)))


def _statements(estate: Estate, block: Block, path: tuple[str | int, ...], document: Any) -> list[Statement]:
    holder = block.body
    for part in path:
        holder = holder[part] if isinstance(holder, Mapping) or isinstance(part, int) else {}
    doc = document if document is not None else json_document(holder)
    if not isinstance(doc, Mapping):
        return []
    raw = doc.get("Statement")
    listed = isinstance(raw, list)
    found = []
    for index, item in enumerate(_items(raw)):
        if not isinstance(item, Mapping):
            continue
        inner: tuple[str | int, ...] = ("Statement", index) if listed else ("Statement",)
        location = block.at(*path, inner=inner) if document is None else block.at(*path)

        def strings(key: str, canonical: bool = False, item: Mapping[str, Any] = item) -> tuple[str, ...]:
            values = _items(item.get(key))
            return tuple(estate.canonical(block.stack, v) if canonical else str(v) for v in values)
        actions = strings("Action")
        action_list = isinstance(item.get("Action"), list)
        action_locations = tuple(
            (block.at(*path, inner=(*inner, "Action", i) if action_list else (*inner, "Action"))
             if document is None else location) for i in range(len(actions)))
        sid = item.get("Sid")
        found.append(Statement(
            effect=str(item.get("Effect", "")), actions=actions, not_actions=strings("NotAction"),
            resources=strings("Resource", True), not_resources=strings("NotResource", True),
            principal=item.get("Principal"), condition=_canonical_condition(estate, block.stack, item.get("Condition")),
            location=location,
            action_locations=action_locations,
            source=f"{block.address}" + (f" statement {sid}" if sid else f" statement {index + 1}"),
        ))
    return found


def _canonical_condition(estate: Estate, stack: str, condition: Any) -> Mapping[str, Any]:
    """Condition values with their references in canonical form (they are compared with canonical context)."""
    if not isinstance(condition, Mapping):
        return {}
    return {operator: {key: [estate.canonical(stack, v) if isinstance(v, str) else v for v in _items(values)]
                       for key, values in (entries or {}).items()}
            for operator, entries in condition.items()}


def _condition_holds(condition: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    """IAM condition operators used in policies we emit or meet; an unknown operator never holds."""
    lowered = {k.lower(): v for k, v in context.items()}
    for operator, entries in condition.items():
        op = operator
        quantifier = ""
        if ":" in op:
            quantifier, op = op.split(":", 1)
        if_exists = op.endswith("IfExists")
        op = op.removesuffix("IfExists")
        for key, wanted in (entries or {}).items():
            present = key.lower() in lowered
            if op == "Null":
                if (str(_items(wanted)[0]).lower() == "true") == present:
                    return False
                continue
            if not present:
                if if_exists:
                    continue
                return False
            have = _items(lowered[key.lower()])
            wants = [str(w) for w in _items(wanted)]

            def match(value: Any, op: str = op, wants: list[str] = wants) -> bool:
                value = str(value)
                if op in ("StringEquals", "ArnEquals"):
                    return value in wants
                if op == "StringEqualsIgnoreCase":
                    return value.lower() in [w.lower() for w in wants]
                if op in ("StringLike", "ArnLike"):
                    return any(glob(w, value) for w in wants)
                if op in ("StringNotEquals", "ArnNotEquals"):
                    return value not in wants
                if op in ("StringNotLike", "ArnNotLike"):
                    return not any(glob(w, value) for w in wants)
                if op == "Bool":
                    return value.lower() in [w.lower() for w in wants]
                raise KeyError(op)
            try:
                results = [match(v) for v in have]
            except KeyError:
                return False
            ok = all(results) if quantifier == "ForAllValues" else any(results)
            if not ok:
                return False
    return True


def _applies(statement: Statement, action: str, resource: str, context: Mapping[str, Any]) -> bool:
    if statement.actions and not any(glob(a, action, ignore_case=True) for a in statement.actions):
        return False
    if statement.not_actions and any(glob(a, action, ignore_case=True) for a in statement.not_actions):
        return False
    if not statement.actions and not statement.not_actions:
        return False
    if statement.resources and not any(glob(r, resource) for r in statement.resources):
        return False
    if statement.not_resources and any(glob(r, resource) for r in statement.not_resources):
        return False
    if not statement.resources and not statement.not_resources and statement.principal is None:
        return False  # an identity statement without Resource grants nothing
    return _condition_holds(statement.condition, context)


@dataclass
class Decision:
    allowed: list[Statement] = field(default_factory=list)
    denied: list[Statement] = field(default_factory=list)


def decide(policies: list[Statement], action: str, resource: str, context: Mapping[str, Any]) -> Decision:
    decision = Decision()
    for statement in policies:
        if _applies(statement, action, resource, context):
            (decision.allowed if statement.effect == "Allow" else decision.denied).append(statement)
    return decision


# -- the rules -------------------------------------------------------------------------------------------------
@dataclass
class Network:
    """A function's VPC attachment as emitted."""

    groups: list[Block]
    subnets: list[str]  # canonical subnet id expressions
    vpc: Block | None
    vpc_token: str
    location: Location


class AwsRules:
    """The AWS plug-in's conformance rules (see the module docstring)."""

    target = TARGET

    # -- derived attributes --------------------------------------------------------------------------------------
    def derive(self, block: Block, attribute: str, estate: Estate) -> str | None:
        """ARNs and names that follow from a block's own arguments (documented ARN formats)."""
        body = block.body
        account = _account(estate, block.stack)
        region = _region(estate, block.stack)
        if block.mode != "resource":
            return None
        if block.type == "aws_s3_bucket" and _literal(body.get("bucket")):
            bucket = body["bucket"]  # https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-arn-format.html
            return {"arn": f"arn:aws:s3:::{bucket}", "bucket": bucket, "id": bucket}.get(attribute)
        if block.type == "aws_iam_role" and _literal(body.get("name")):
            name = body["name"]
            values = {"name": name, "id": name}
            if account:
                values["arn"] = f"arn:aws:iam::{account}:role/{name}"
            return values.get(attribute)
        if block.type == "aws_lambda_function" and _literal(body.get("function_name")):
            name = body["function_name"]
            values = {"function_name": name}
            if account:
                values["arn"] = f"arn:aws:lambda:{region}:{account}:function:{name}"
            return values.get(attribute)
        if block.type == "aws_sqs_queue" and _literal(body.get("name")):
            values = {"name": body["name"]}
            if account:  # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-queue-message-identifiers.html
                values["arn"] = f"arn:aws:sqs:{region}:{account}:{body['name']}"
                values["url"] = f"https://sqs.{region}.amazonaws.com/{account}/{body['name']}"
            return values.get(attribute)
        if block.type == "aws_cloudwatch_event_rule" and _literal(body.get("name")):
            values = {"name": body["name"], "id": body["name"]}
            if account:
                values["arn"] = f"arn:aws:events:{region}:{account}:rule/{body['name']}"
            return values.get(attribute)
        return None

    # -- the function ----------------------------------------------------------------------------------------------
    def caller(self, fn: Function, placement: PlacementLike, ctx: Context) -> Caller | None:
        lam = _own_lambda(fn, ctx)
        if lam is None:
            return None
        role = ctx.estate.ref(lam.stack, lam.body.get("role"))
        environment = _one(lam.body.get("environment")).get("variables") or {}
        path: tuple[str | int, ...] = ("environment", "variables")
        if isinstance(lam.body.get("environment"), list):
            path = ("environment", 0, "variables")
        return Caller(fn, placement, lam, role.block if role else None,
                      {k: str(v) for k, v in environment.items()}, path)

    # -- IAM -----------------------------------------------------------------------------------------------------
    def identity_policies(self, estate: Estate, role: Block) -> list[Statement]:
        """Inline and attached policies of a role (read once per estate and role)."""
        return list(estate.lookup((TARGET, "identity_policies", role), lambda: self._identity_policies(estate, role)))

    def _identity_policies(self, estate: Estate, role: Block) -> list[Statement]:
        found: list[Statement] = []
        for index, inline in enumerate(_items(role.body.get("inline_policy"))):
            if isinstance(inline, Mapping) and inline.get("policy"):
                found += statements(estate, role, "inline_policy", index, "policy")
        for policy in self._naming_role(estate, "aws_iam_role_policy", role):
            found += statements(estate, policy, "policy")
        for attachment in self._naming_role(estate, "aws_iam_role_policy_attachment", role):
            arn = attachment.body.get("policy_arn")
            target = estate.ref(attachment.stack, arn)
            if target is not None and target.block.type == "aws_iam_policy":
                found += statements(estate, target.block, "policy")
            elif isinstance(arn, str) and arn in MANAGED_POLICIES:
                found += statements(estate, attachment, "policy_arn",
                                    document={"Statement": MANAGED_POLICIES[arn]})
        return found

    @staticmethod
    def _naming_role(estate: Estate, tf_type: str, role: Block) -> list[Block]:
        """The blocks of `tf_type` whose `role` is the role: a reference to it, or its literal name (in
        `estate.blocks` order), from a table built once per estate."""
        def build() -> dict[Any, list[tuple[int, Block]]]:
            table: dict[Any, list[tuple[int, Block]]] = {}
            for position, block in enumerate(estate.blocks(tf_type)):
                value = block.body.get("role")
                ref = estate.ref(block.stack, value)
                if ref is not None:
                    table.setdefault(ref.block, []).append((position, block))
                elif _literal(value) is not None:
                    table.setdefault(("name", value), []).append((position, block))
            return table
        table = estate.lookup((TARGET, "naming_role", tf_type), build)
        name = role.body.get("name")
        found = table.get(role, []) + (table.get(("name", name), []) if isinstance(name, str) else [])
        return [block for _, block in sorted(found, key=lambda item: item[0])]

    def _allow(self, proof: Proof, estate: Estate, policies: list[Statement], principal: Block, action: str,
               resource: str, shown: str, context: Mapping[str, Any],
               resource_policies: list[Statement] | None = None) -> bool:
        """Require `action` on `resource` for `principal`; evidence = every allowing statement's action."""
        decision = decide(policies, action, resource, context)
        allowed = list(decision.allowed)
        denied = list(decision.denied)
        for statement in resource_policies or []:
            if not self._principal_matches(statement, principal, estate):
                continue
            if _applies(statement, action, resource, context):
                (allowed if statement.effect == "Allow" else denied).append(statement)
        who = principal.body.get("name") or principal.address
        if denied:
            proof.lack(f"{action} on {shown} for role {who}: denied by {denied[0].source}")
            return False
        return proof.require(bool(allowed), f"{action} on {shown} for role {who}",
                             f"{action} on {shown} for role {who} (no statement of its policies allows it)",
                             *[s.action_location(action) for s in allowed])

    def _principal_matches(self, statement: Statement, role: Block, estate: Estate) -> bool:
        """A resource policy statement's principal covers the role: everyone, or the role's ARN."""
        principal = statement.principal
        if principal == "*":
            return True
        aws = [estate.canonical(statement.location.stack, p) for p in _items(principal.get("AWS"))] \
            if isinstance(principal, Mapping) else []
        return "*" in aws or estate.token(role, "arn") in aws

    # -- checks --------------------------------------------------------------------------------------------------
    def check(self, need: Need, caller: Caller, ctx: Context, proof: Proof) -> None:
        if need.operation == FEDERATION:
            self._federation(need, caller, ctx, proof)
        elif need.operation.startswith("bucket."):
            self._bucket(need, caller, ctx, proof)
        elif need.operation == "database.connect":
            self._database(need, caller, ctx, proof)
        elif need.operation == "secret.read":
            self._secret(need, caller, ctx, proof)
        elif need.operation == "queue.send":
            self._queue_send(need, caller, ctx, proof)
        elif need.operation == "queue.deliver":
            self._queue_deliver(need, caller, ctx, proof)
        elif need.operation in ("function.invoke", "function.send"):
            self._function_call(need, caller, ctx, proof)
        elif need.operation == "events.deliver":
            self._object_created(need, caller, ctx, proof)
        elif need.operation == "scheduler.invoke":
            self._schedule(need, caller, ctx, proof)
        elif need.operation == "http.invoke":
            self._http(need, caller, ctx, proof)
        elif need.operation.startswith("cdn.fetch_"):
            self._cdn(need, caller, ctx, proof)
        elif need.operation == INTERNET:  # internet=True: only a network path, no permission
            proof.reach(Endpoint(INTERNET_ENDPOINT))
        else:
            proof.lack(f"a rule for {need.operation} on AWS (the analysis does not know this operation)")

    def _principal(self, need: Need, caller: Caller, ctx: Context, proof: Proof) -> Block | None:
        """The role the caller acts as on AWS: its own execution role, or the role it federates into."""
        if caller.placement.target == TARGET:
            if caller.identity is None:
                proof.lack(f"an execution role for {caller.block.address}")
            return caller.identity
        var = contract.resource_var(need.target.kind, need.target.name) if need.target else ""
        url = caller.environment.get(var, "")
        role_arn = (parse_qs(urlparse(url).query).get("role_arn") or [""])[0]
        name = role_arn.rsplit("/", 1)[-1]
        def build() -> dict[str, Block]:  # a literal role name -> the first role with it
            table: dict[str, Block] = {}
            for block in ctx.estate.blocks("aws_iam_role"):
                if isinstance(block.body.get("name"), str):
                    table.setdefault(block.body["name"], block)
            return table
        role = ctx.estate.lookup((TARGET, "roles_by_name"), build).get(name) if name else None
        if role is not None:
            proof.rely(f"{var} names the role {name} the function federates into", caller.env_location(var))
            return role
        proof.lack(f"the IAM role {role_arn or '(none named in ' + var + ')'} the function would federate into")
        return None

    def _context(self, estate: Estate, stack: str, service: str) -> dict[str, Any]:
        return {"aws:SecureTransport": "true", "kms:ViaService": f"{service}.{_region(estate, stack)}.amazonaws.com"}

    def _bucket(self, need: Need, caller: Caller, ctx: Context, proof: Proof) -> None:
        bucket = need.target
        assert isinstance(bucket, Bucket)
        estate = ctx.estate
        s3 = ctx.block_of(bucket, "aws_s3_bucket")
        if s3 is None:
            proof.lack(f"an aws_s3_bucket for {bucket.address}")
            return
        if not need.verb.startswith("signed_url"):
            proof.reach(Endpoint("aws:s3"))
        role = self._principal(need, caller, ctx, proof)
        if role is None:
            return
        arn = estate.token(s3, "arn")
        policies = self.identity_policies(estate, role)
        bucket_policy = [s for p in estate.referencing("aws_s3_bucket_policy", "bucket", s3)
                         for s in statements(estate, p, "policy")]
        context = self._context(estate, s3.stack, "s3")
        for action, scope in S3_ACTIONS[need.verb]:
            resource = arn if scope == "bucket" else f"{arn}/{ANY_KEY}"
            shown = arn if scope == "bucket" else f"{arn}/*"
            self._allow(proof, estate, policies, role, action, resource, estate.display(shown), context,
                        bucket_policy)
        key = self._bucket_key(estate, s3)
        if key is not None:
            for action in S3_KMS_ACTIONS.get(need.verb, ()):
                self._allow(proof, estate, policies, role, action, key, f"key {estate.display(key)} (via S3)",
                            context)

    def _bucket_key(self, estate: Estate, s3: Block) -> str | None:
        """The customer managed key of a bucket's default encryption (None: SSE-S3 or the AWS managed key)."""
        for config in estate.referencing("aws_s3_bucket_server_side_encryption_configuration", "bucket", s3):
            for rule in _items(config.body.get("rule")):
                default = _one(_one(rule).get("apply_server_side_encryption_by_default"))
                if str(default.get("sse_algorithm", "")).startswith("aws:kms") and default.get("kms_master_key_id"):
                    return estate.canonical(config.stack, default["kms_master_key_id"])
        return None

    def _database(self, need: Need, caller: Caller, ctx: Context, proof: Proof) -> None:
        """Connect as the function's own database user: with IAM database authentication (`?auth=iam`), the
        role's rds-db:connect on that user, and the platform's setup creating it; never the master user or its
        secret (the master credentials in a function). A URL naming another secret reads that secret."""
        database = need.target
        assert isinstance(database, Database)
        estate = ctx.estate
        instance = ctx.block_of(database, "aws_db_instance")
        if instance is None:
            proof.lack(f"an aws_db_instance for {database.address}")
            return
        var = contract.resource_var("database", database.name)
        url = caller.environment.get(var, "")
        parsed = urlparse(url)
        params = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        user = unquote(parsed.username or "")
        secret_expr = params.get("secret", "")
        role = self._principal(need, caller, ctx, proof)
        port = int(instance.body.get("port") or 5432)
        proof.reach(Endpoint("database", instance, port))
        name = caller.block.body.get("function_name") or caller.block.address
        master = instance.body.get("username")
        master_secret = estate.token(instance, "master_user_secret.0.secret_arn")
        if secret_expr and estate.canonical(caller.block.stack, secret_expr) == master_secret:
            proof.lack(f"its own database user: function {name} connects with the master user's secret of "
                       f"{instance.address} (the master credentials in a function; every right on the database, "
                       "to a function that needs its grant's): connect as its own user with IAM database "
                       "authentication")
            return
        if user and master and user == master:
            proof.lack(f"its own database user: function {name} connects as the master user {master} of "
                       f"{instance.address}")
            return
        if params.get("auth") == "iam":
            self._iam_database_user(proof, caller, estate, instance, role, user, var)
            return
        if not secret_expr:
            proof.lack(f"credentials in {var}: IAM database authentication (?auth=iam) or a secret (?secret=)")
            return
        proof.reach(Endpoint("aws:secretsmanager"))
        if role is None:
            return
        secret = estate.canonical(caller.block.stack, secret_expr)
        policies = self.identity_policies(estate, role)
        context = self._context(estate, instance.stack, "secretsmanager")
        for action in SECRET_ACTIONS:
            self._allow(proof, estate, policies, role, action, secret, f"secret {estate.display(secret)}",
                        context)

    def _iam_database_user(self, proof: Proof, caller: Caller, estate: Estate, instance: Block, role: Block | None,
                           user: str, var: str) -> None:
        """IAM authentication on the instance, rds-db:connect on exactly the user, and the setup creating it."""
        proof.require(instance.body.get("iam_database_authentication_enabled") is True,
                      f"{instance.address} accepts IAM database authentication",
                      f"iam_database_authentication_enabled = true on {instance.address} (the function signs IAM "
                      "tokens as its password)", instance.at("iam_database_authentication_enabled"))
        if not user:
            proof.lack(f"the database user in {var} (IAM authentication signs in as a named user)")
            return
        if role is not None:
            arn = (f"arn:aws:rds-db:{_region(estate, caller.block.stack)}:{self._account_token(estate, caller)}:"
                   f"dbuser:{estate.token(instance, 'resource_id')}/{user}")
            self._allow(proof, estate, self.identity_policies(estate, role), role, "rds-db:connect", arn,
                        estate.display(arn), {})
        host = estate.canonical(caller.block.stack, urlparse(caller.environment.get(var, "")).hostname or "")
        made = [invocation.at("input") for invocation in self._setups(estate).get((user, host), ())]
        proof.require(bool(made), f"the platform's database setup creates user {user} on {instance.address}",
                      f"the database user {user} on {instance.address}: nothing creates it (an aws_lambda_invocation "
                      "of the platform's database setup naming it)", *made)

    @staticmethod
    def _setups(estate: Estate) -> dict[tuple[str, str], list[Block]]:
        """(database user, canonical host of its admin URL) -> the aws_lambda_invocation blocks of the platform's
        database setup creating it, in `estate.blocks` order (each input read once per estate)."""
        def build() -> dict[tuple[str, str], list[Block]]:
            table: dict[tuple[str, str], list[Block]] = {}
            for invocation in estate.blocks("aws_lambda_invocation"):
                try:
                    spec = json.loads(str(invocation.body.get("input") or "{}"))
                except ValueError:
                    continue
                admin = urlparse(str(spec.get("admin_url", "")))
                if isinstance(spec.get("role"), str):
                    host = estate.canonical(invocation.stack, admin.hostname or "")
                    table.setdefault((spec["role"], host), []).append(invocation)
            return table
        return estate.lookup((TARGET, "database_setups"), build)

    @staticmethod
    def _account_token(estate: Estate, caller: Caller) -> str:
        """The account id as the function's stack writes it: the provider's literal, else its caller identity."""
        account = _account(estate, caller.block.stack)
        if account:
            return account
        found = estate.blocks("aws_caller_identity", caller.block.stack)
        data = [b for b in found if b.mode == "data"]
        return estate.token(data[0], "account_id") if data else "*"

    def _secret(self, need: Need, caller: Caller, ctx: Context, proof: Proof) -> None:
        """`secret(name)`: GetSecretValue on that secret's ARN (and its key through Secrets Manager), and a URL
        naming that secret."""
        secret = need.target
        assert isinstance(secret, Secret)
        block = ctx.block_of(secret, "aws_secretsmanager_secret")
        if block is None:
            proof.lack(f"an aws_secretsmanager_secret for {secret.address}")
            return
        var = contract.resource_var("secret", secret.name)
        named = unquote(urlparse(caller.environment.get(var, "")).netloc)
        proof.require(bool(named) and named == block.body.get("name"), f"{var} names secret {named}",
                      f"{var} naming secret {block.body.get('name')} (the runtime reads the value by that name)",
                      caller.env_location(var))
        proof.reach(Endpoint("aws:secretsmanager"))
        self._allowed_on(need, caller, ctx, proof, block, "secretsmanager", "secret", SECRET_ACTIONS,
                         ("kms_key_id", SECRET_KMS_ACTIONS, "Secrets Manager"))

    def _allowed_on(self, need: Need, caller: Caller, ctx: Context, proof: Proof, block: Block, service: str,
                    what: str, actions: Sequence[str], key: tuple[str, Sequence[str], str]) -> None:
        """The caller's role may perform `actions` on `block`'s ARN, and, when the block names a KMS key in the
        attribute `key[0]`, the actions `key[1]` on that key through the service (`key[2]` names it)."""
        role = self._principal(need, caller, ctx, proof)
        if role is None:
            return
        estate = ctx.estate
        arn = estate.token(block, "arn")
        policies = self.identity_policies(estate, role)
        context = self._context(estate, block.stack, service)
        for action in actions:
            self._allow(proof, estate, policies, role, action, arn, f"{what} {estate.display(arn)}", context)
        key_attribute, key_actions, via = key
        key_id = block.body.get(key_attribute)
        if key_id:
            key_id = estate.canonical(block.stack, key_id)
            for action in key_actions:
                self._allow(proof, estate, policies, role, action, key_id, f"key {estate.display(key_id)} (via {via})",
                            context)

    def _federation(self, need: Need, caller: Caller, ctx: Context, proof: Proof) -> None:
        """A function of another cloud assumes a role with its Google ID token (AssumeRoleWithWebIdentity)."""
        role = self._principal(need, caller, ctx, proof)
        proof.reach(Endpoint("aws:sts"))
        if role is None:
            return
        estate = ctx.estate
        trust = statements(estate, role, "assume_role_policy")
        identity = caller.identity
        unique_id = estate.token(identity, "unique_id") if identity is not None else "(unknown)"
        role_arn = estate.token(role, "arn")
        context = {f"{GOOGLE_ISSUER}:aud": unique_id, f"{GOOGLE_ISSUER}:sub": unique_id,
                   f"{GOOGLE_ISSUER}:oaud": role_arn}
        allowed = [s for s in trust if s.effect == "Allow" and _applies(s, "sts:AssumeRoleWithWebIdentity", "*",
                                                                         context)
                   and _one(s.principal).get("Federated") == GOOGLE_ISSUER]
        name = role.body.get("name") or role.address
        proof.require(bool(allowed), f"role {name} trusts the function's Google identity",
                      f"a trust statement in role {name} letting {GOOGLE_ISSUER} identity "
                      f"{estate.display(unique_id)} call sts:AssumeRoleWithWebIdentity", *[s.location for s in allowed])
        for statement in allowed:
            keys = {k.lower() for entries in statement.condition.values() for k in (entries or {})}
            if f"{GOOGLE_ISSUER}:sub" not in keys and f"{GOOGLE_ISSUER}:aud" not in keys:
                proof.lack(f"a condition pinning {GOOGLE_ISSUER}:sub to the function's service account in "
                           f"{statement.source} (any Google identity could assume role {name})")

    # -- queues and calls ------------------------------------------------------------------------------------------
    def queue_block(self, ctx: Context, queue: Queue) -> Block | None:
        """The queue itself among the queue's two aws_sqs_queue blocks (the other is its dead-letter queue, which the
        queue's redrive policy names)."""
        blocks = ctx.blocks_of(queue, "aws_sqs_queue")
        for block in blocks:
            if block.body.get("redrive_policy"):
                return block
        return blocks[0] if blocks else None

    def _queue_send(self, need: Need, caller: Caller, ctx: Context, proof: Proof) -> None:
        """`queue(name).send(...)`: SendMessage on that queue's ARN (and its key through SQS), and a URL naming it."""
        queue = need.target
        assert isinstance(queue, Queue)
        block = self.queue_block(ctx, queue)
        if block is None:
            proof.lack(f"an aws_sqs_queue for {queue.address}")
            return
        var = contract.resource_var("queue", queue.name)
        named = urlparse(caller.environment.get(var, "")).path.strip("/")
        proof.require(bool(named) and named == block.body.get("name"), f"{var} names queue {named}",
                      f"{var} naming queue {block.body.get('name')} (the runtime sends to the queue it names)",
                      caller.env_location(var))
        proof.reach(Endpoint("aws:sqs"))
        self._allowed_on(need, caller, ctx, proof, block, "sqs", "queue", SQS_SEND_ACTIONS,
                         ("kms_master_key_id", SQS_SEND_KMS_ACTIONS, "SQS"))

    def _queue_deliver(self, need: Need, caller: Caller, ctx: Context, proof: Proof) -> None:
        """`queue_message(queue)`: an enabled event source mapping from the queue to the function reporting partial
        batch failures, the role reading the queue (created before the mapping), and a redrive policy sending a
        message to a dead-letter queue after `max_attempts` receives."""
        trigger = need.trigger
        assert isinstance(trigger, QueueMessageTrigger)
        estate = ctx.estate
        block = self.queue_block(ctx, trigger.queue)
        if block is None:
            proof.lack(f"an aws_sqs_queue for {trigger.queue.address}")
            return
        arn = estate.token(block, "arn")
        lam = estate.token(caller.block, "arn")
        mappings = [m for m in estate.where("aws_lambda_event_source_mapping", "event_source_arn", arn, default="")
                    if estate.canonical(m.stack, m.body.get("function_name", "")) in (
                        lam, estate.token(caller.block, "function_name"))
                    and m.body.get("enabled", True) is not False]
        name = caller.block.body.get("function_name") or caller.block.address
        if not proof.require(bool(mappings), f"an event source mapping hands {block.body.get('name')} to {name}",
                             f"an enabled aws_lambda_event_source_mapping from {block.address} to function {name}",
                             *[m.at() for m in mappings]):
            return
        mapping = mappings[0]
        proof.require(PARTIAL_BATCH in _items(mapping.body.get("function_response_types")),
                      f"{mapping.address} reports partial batch failures",
                      f"function_response_types [\"{PARTIAL_BATCH}\"] on {mapping.address} (without it one failed "
                      "message fails and retries its whole batch)", mapping.at("function_response_types"))
        role = caller.identity
        if role is None:
            proof.lack(f"an execution role for {caller.block.address}")
            return
        policies = self.identity_policies(estate, role)
        context = self._context(estate, block.stack, "sqs")
        granting: list[Block] = []
        for action in SQS_CONSUMER_ACTIONS:
            allowed = self._allow(proof, estate, policies, role, action, arn, f"queue {estate.display(arn)}", context)
            if allowed:
                for statement in decide(policies, action, arn, context).allowed[:1]:
                    found = estate.block(statement.location.stack, ".".join(map(str, statement.location.path[1:3])))
                    if found is not None and found.type == "aws_iam_role_policy" and found not in granting:
                        granting.append(found)
        for policy in granting:
            self._ordered(proof, estate, mapping, policy,
                          "Lambda checks the role may read the queue when the mapping is created")
        redrive = json_document(block.body.get("redrive_policy")) or {}
        dead = estate.ref(block.stack, redrive.get("deadLetterTargetArn", "")) if isinstance(redrive, Mapping) \
            else None
        ok = dead is not None and dead.block.type == "aws_sqs_queue" and \
            int(redrive.get("maxReceiveCount", 0)) == trigger.queue.max_attempts
        proof.require(ok, f"{block.address} dead-letters after {trigger.queue.max_attempts} receives",
                      f"a redrive_policy on {block.address} naming an aws_sqs_queue as deadLetterTargetArn with "
                      f"maxReceiveCount {trigger.queue.max_attempts} (the queue's max_attempts)",
                      block.at("redrive_policy"))

    def _function_call(self, need: Need, caller: Caller, ctx: Context, proof: Proof) -> None:
        """`function(name).invoke/.send`: InvokeFunction on the callee's ARN (and InvokeFunctionUrl when it has an
        http(auth="iam") trigger, for `.request`), and a URL naming the callee."""
        callee = need.target
        assert isinstance(callee, Function)
        estate = ctx.estate
        block = _own_lambda(callee, ctx)
        if block is None:
            proof.lack(f"an aws_lambda_function for {callee.address}")
            return
        var = contract.resource_var("function", callee.name)
        named = urlparse(caller.environment.get(var, "")).netloc
        proof.require(bool(named) and named == block.body.get("function_name"), f"{var} names function {named}",
                      f"{var} naming function {block.body.get('function_name')} (the runtime invokes it by name)",
                      caller.env_location(var))
        proof.reach(Endpoint("aws:lambda"))
        role = self._principal(need, caller, ctx, proof)
        if role is None:
            return
        arn = estate.token(block, "arn")
        policies = self.identity_policies(estate, role)
        context = self._context(estate, block.stack, "lambda")
        actions = INVOKE_ACTIONS
        if need.operation == "function.invoke" and any(t.iam for t in callee.trigger_of(HttpTrigger)):
            actions = actions + URL_INVOKE_ACTIONS
        for action in actions:
            self._allow(proof, estate, policies, role, action, arn, f"function {estate.display(arn)}", context)

    # -- invocations -----------------------------------------------------------------------------------------------
    def lambda_permissions(self, estate: Estate, lam: Block) -> list[Block]:
        """The aws_lambda_permission blocks whose `function_name` is the function: a reference to it, its literal
        name or ARN (in `estate.blocks` order), from a table built once per estate."""
        def build() -> dict[Any, list[tuple[int, Block]]]:
            table: dict[Any, list[tuple[int, Block]]] = {}
            for position, permission in enumerate(estate.blocks("aws_lambda_permission")):
                value = permission.body.get("function_name")
                ref = estate.ref(permission.stack, value)
                if ref is not None:
                    table.setdefault(ref.block, []).append((position, permission))
                elif _literal(value):
                    table.setdefault(("literal", value), []).append((position, permission))
            return table
        table = estate.lookup((TARGET, "lambda_permissions"), build)
        found = dict(table.get(lam, []))
        for literal in (lam.body.get("function_name"), estate.token(lam, "arn")):
            if isinstance(literal, str):
                found.update(table.get(("literal", literal), []))
        return [found[position] for position in sorted(found)]

    def _invokes(self, estate: Estate, permission: Block, principal: str, action: str = "lambda:InvokeFunction",
                 source: str | None = None) -> bool:
        body = permission.body
        if body.get("principal") != principal or not glob(str(body.get("action", "")), action, ignore_case=True):
            return False
        if source is not None:
            return estate.canonical(permission.stack, body.get("source_arn", "")) == source
        return True

    def _permission(self, proof: Proof, caller: Caller, ctx: Context, principal: str, action: str,
                    source: str | None, why: str, **extra: Any) -> list[Block]:
        found = [p for p in self.lambda_permissions(ctx.estate, caller.block)
                 if self._invokes(ctx.estate, p, principal, action, source)
                 and all(p.body.get(k) == v for k, v in extra.items())]
        name = caller.block.body.get("function_name") or caller.block.address
        shown = f"{action} for {principal}" + (f" from {ctx.estate.display(source)}" if source else "")
        proof.require(bool(found), f"{shown} on {name} ({why})",
                      f"an aws_lambda_permission granting {shown} on function {name} ({why})",
                      *[p.at() for p in found])
        return found

    def _ordered(self, proof: Proof, estate: Estate, dependent: Block, dependency: Block, why: str) -> None:
        """The dependency must exist before the dependent is created: `depends_on` or a reference orders them
        (another stack is ordered by the stack dependencies)."""
        if dependent.stack != dependency.stack:
            return
        locations = [dependent.at("depends_on", i) for i, entry in enumerate(dependent.body.get("depends_on") or [])
                     if entry == dependency.address]
        for key, value in dependent.body.items():
            if key not in ("depends_on", "//") and estate.references_block(dependent.stack, value, dependency):
                locations.append(dependent.at(key))
        proof.require(bool(locations), f"{dependent.address} is created after {dependency.address}",
                      f"depends_on {dependency.address} in {dependent.address} ({why})", *locations)

    def _object_created(self, need: Need, caller: Caller, ctx: Context, proof: Proof) -> None:
        trigger = need.trigger
        assert isinstance(trigger, ObjectCreatedTrigger)
        estate = ctx.estate
        s3 = ctx.block_of(trigger.bucket, "aws_s3_bucket")
        if s3 is None:
            proof.lack(f"an aws_s3_bucket for {trigger.bucket.address}")
            return
        lam_arn = estate.token(caller.block, "arn")
        entries = []
        for notification in estate.referencing("aws_s3_bucket_notification", "bucket", s3):
            for index, entry in enumerate(_items(notification.body.get("lambda_function"))):
                if estate.canonical(notification.stack, entry.get("lambda_function_arn")) != lam_arn:
                    continue
                events = [str(e) for e in _items(entry.get("events"))]
                if not any(glob(e, "s3:ObjectCreated:Put") for e in events):
                    continue
                if entry.get("filter_prefix", "") == trigger.prefix and entry.get("filter_suffix", "") == \
                        trigger.suffix:
                    entries.append((notification, index))
        proof.require(bool(entries), f"S3 notifies the function of objects created in {trigger.bucket.address}",
                      f"an aws_s3_bucket_notification on {s3.body.get('bucket') or s3.address} sending "
                      f"s3:ObjectCreated:* (prefix {trigger.prefix!r}, suffix {trigger.suffix!r}) to the function",
                      *[n.at("lambda_function", i) for n, i in entries])
        permissions = self._permission(proof, caller, ctx, S3_PRINCIPAL, "lambda:InvokeFunction",
                                       estate.token(s3, "arn"), "S3 invokes the function")
        for notification, _ in entries[:1]:
            for permission in permissions[:1]:
                self._ordered(proof, estate, notification, permission,
                              "S3 checks it may invoke the function when the notification is written")

    def _schedule(self, need: Need, caller: Caller, ctx: Context, proof: Proof) -> None:
        trigger = need.trigger
        assert isinstance(trigger, ScheduleTrigger)
        estate = ctx.estate
        lam_arn = estate.token(caller.block, "arn")
        marker = json.dumps(trigger.cron)
        targets = []
        for target in estate.where("aws_cloudwatch_event_target", "arn", lam_arn):
            template = str(_one(target.body.get("input_transformer")).get("input_template", ""))
            if marker not in template and marker not in str(target.body.get("input", "")):
                continue  # the runtime learns which schedule fired from `platform_schedule`
            rule = estate.ref(target.stack, target.body.get("rule"))
            if rule is not None and rule.block.body.get("state", "ENABLED") == "ENABLED":
                targets.append((target, rule.block))
        name = caller.block.body.get("function_name") or caller.block.address
        proof.require(bool(targets), f"an enabled EventBridge rule targets {name} for {trigger.cron!r}",
                      f"an enabled aws_cloudwatch_event_rule with an aws_cloudwatch_event_target on function "
                      f"{name} passing platform_schedule {trigger.cron!r}",
                      *[t.at() for t, _ in targets])
        for _, rule in targets[:1]:
            proof.rely(f"rule {rule.address} runs on a schedule", rule.at())
            self._permission(proof, caller, ctx, EVENTS_PRINCIPAL, "lambda:InvokeFunction",
                             estate.token(rule, "arn"), "EventBridge invokes the function")

    def function_url(self, estate: Estate, lam: Block) -> Block | None:
        urls = estate.referencing("aws_lambda_function_url", "function_name", lam)
        return urls[0] if urls else None

    def _http(self, need: Need, caller: Caller, ctx: Context, proof: Proof) -> None:
        estate = ctx.estate
        url = self.function_url(estate, caller.block)
        public = bool(need.trigger is not None and need.trigger.public)
        name = caller.block.body.get("function_name") or caller.block.address
        if not proof.require(url is not None, f"function {name} has a function URL",
                             f"an aws_lambda_function_url for function {name}", *([url.at()] if url else [])):
            return
        assert url is not None
        wanted = "NONE" if public else "AWS_IAM"
        proof.require(url.body.get("authorization_type") == wanted, f"its URL's authorization_type is {wanted}",
                      f"authorization_type {wanted} on {url.address} (it is {url.body.get('authorization_type')!r})",
                      url.at("authorization_type"))
        if public:
            self._permission(proof, caller, ctx, "*", "lambda:InvokeFunctionUrl", None,
                             "anyone may call the public URL", function_url_auth_type="NONE")
            self._permission(proof, caller, ctx, "*", "lambda:InvokeFunction", None,
                             "public function URLs also need lambda:InvokeFunction since October 2025")

    def _cdn(self, need: Need, caller: Caller, ctx: Context, proof: Proof) -> None:
        estate = ctx.estate
        cdn = need.target
        assert cdn is not None
        distribution = ctx.block_of(cdn, "aws_cloudfront_distribution")
        url = self.function_url(estate, caller.block)
        if distribution is None or url is None:
            proof.lack(f"an aws_cloudfront_distribution for {cdn.address} in front of a function URL")
            return
        origins = [(i, o) for i, o in enumerate(_items(distribution.body.get("origin")))
                   if any(ref.block == url and ref.attribute == "function_url"
                          for ref in estate.refs(distribution.stack, o.get("domain_name", "")))]
        if not proof.require(bool(origins), f"{cdn.address} forwards to the function URL",
                             f"an origin of {distribution.address} whose domain is the function URL's",
                             *[distribution.at("origin", i) for i, _ in origins]):
            return
        route = need.route or DEFAULT_ROUTE
        if route == DEFAULT_ROUTE:
            where: tuple[Any, ...] = ("default_cache_behavior",)
            behavior = _one(distribution.body.get("default_cache_behavior"))
        else:
            ordered = [(i, b) for i, b in enumerate(_items(distribution.body.get("ordered_cache_behavior")))
                       if b.get("path_pattern") == route]
            if not proof.require(bool(ordered), f"{distribution.address} has a cache behaviour for {route}",
                                 f"an ordered_cache_behavior with path_pattern {route!r} on {distribution.address}",
                                 distribution.at("ordered_cache_behavior")):
                return
            where = ("ordered_cache_behavior", ordered[0][0])
            behavior = ordered[0][1]
        targets = [(i, o) for i, o in origins if o.get("origin_id") == behavior.get("target_origin_id")]
        if not proof.require(bool(targets), f"{route} on {distribution.address} goes to the function's origin",
                             f"target_origin_id of the {route} cache behaviour naming the function URL's origin "
                             f"(it is {behavior.get('target_origin_id')!r})",
                             distribution.at(*where, "target_origin_id")):
            return
        index, origin = targets[0]
        method = "GET" if need.operation == "cdn.fetch_get" else "POST"
        proof.require(method in _items(behavior.get("allowed_methods")),
                      f"{distribution.address} allows {method} on {route}",
                      f"{method} in allowed_methods of {distribution.address} for {route}",
                      distribution.at(*where, "allowed_methods"))
        auth = url.body.get("authorization_type")
        oac = estate.ref(distribution.stack, origin.get("origin_access_control_id"))
        if oac is not None:
            proof.rely(f"{cdn.address} signs its requests to the function (origin access control)",
                       distribution.at("origin", index, "origin_access_control_id"))
            if auth == "AWS_IAM":
                source = estate.token(distribution, "arn")
                for action in ("lambda:InvokeFunctionUrl", "lambda:InvokeFunction"):
                    self._permission(proof, caller, ctx, CLOUDFRONT_PRINCIPAL, action, source,
                                     "CloudFront calls the private function URL")
            if method in OAC_BODY_METHODS:
                self._payload_hash(distribution, behavior, where, method, url, ctx, proof)
        elif proof.require(auth == "NONE", f"{url.address} accepts CloudFront's unsigned requests",
                           f"authorization_type NONE on {url.address} or an origin access control on "
                           f"{distribution.address} (CloudFront sends unsigned requests to an AWS_IAM URL)",
                           url.at("authorization_type")):
            self._permission(proof, caller, ctx, "*", "lambda:InvokeFunctionUrl", None,
                             "CloudFront calls the public URL", function_url_auth_type="NONE")
            self._permission(proof, caller, ctx, "*", "lambda:InvokeFunction", None,
                             "public function URLs also need lambda:InvokeFunction since October 2025")

    def _payload_hash(self, distribution: Block, behavior: Mapping[str, Any], behavior_at: tuple[Any, ...],
                      method: str, url: Block, ctx: Context, proof: Proof) -> None:
        """A body passes origin access control when an origin-request Lambda@Edge function that sees the body
        (include_body) and is the platform's payload hash function (PAYLOAD_HASH_ENTRY) sets x-amz-content-sha256
        before CloudFront signs."""
        estate = ctx.estate
        for index, association in enumerate(_items(behavior.get("lambda_function_association"))):
            ref = estate.ref(distribution.stack, association.get("lambda_arn"))
            if association.get("event_type") != EDGE_EVENT or association.get("include_body") is not True or \
                    ref is None or ref.block.type != "aws_lambda_function" or ref.attribute != "qualified_arn" or \
                    ref.block.body.get("handler") != PAYLOAD_HASH_ENTRY or ref.block.body.get("publish") is not True:
                continue
            where = (*behavior_at, "lambda_function_association", index)
            proof.rely(f"{ref.block.address} ({PAYLOAD_HASH_ENTRY}) sets x-amz-content-sha256 on {method} requests "
                       f"before {distribution.address} signs them",
                       distribution.at(*where, "event_type"), distribution.at(*where, "include_body"),
                       distribution.at(*where, "lambda_arn"), ref.block.at("handler"), ref.block.at("publish"))
            return
        proof.lack(f"a way for {method} to pass origin access control: CloudFront signs it for {url.address} and "
                   "Lambda then requires the viewer to send the body's SHA-256 in x-amz-content-sha256, which "
                   f"browsers do not (no {EDGE_EVENT} Lambda@Edge function with include_body running "
                   f"{PAYLOAD_HASH_ENTRY} on {distribution.address})")

    # -- network ---------------------------------------------------------------------------------------------------
    def network(self, caller: Caller, estate: Estate) -> Network | None:
        config = _one(caller.block.body.get("vpc_config"))
        subnets = config.get("subnet_ids")
        if not config or not subnets:
            return None
        groups = [ref.block for ref in (estate.ref(caller.block.stack, g)
                                        for g in _items(config.get("security_group_ids"))) if ref is not None]
        vpc_ref = estate.ref(groups[0].stack, groups[0].body.get("vpc_id")) if groups else None
        vpc_token = self.vpc_identity(estate, groups[0].stack, groups[0].body.get("vpc_id", "")) if groups else ""
        subnet_list = [estate.canonical(caller.block.stack, s) for s in _items(subnets)]
        path = ("vpc_config", 0) if isinstance(caller.block.body.get("vpc_config"), list) else ("vpc_config",)
        return Network(groups, subnet_list, vpc_ref.block if vpc_ref else None, vpc_token, caller.block.at(*path))

    def reach(self, caller: Caller, endpoint: Endpoint, ctx: Context, proof: Proof) -> None:
        estate = ctx.estate
        network = self.network(caller, estate)
        if network is not None:
            self._eni(proof, caller, estate, network)
        trusted = ctx.trusted.get(caller.placement.cloud)
        # Through a NAT the internet is reachable: every public AWS API and another cloud's APIs (`gcp:sts`, ...)
        through_nat = endpoint.service != "database" and "internet" in (trusted.reaches if trusted else ())
        if trusted is not None and (endpoint.service in trusted.reaches or through_nat):
            proof.rely(f"{endpoint} is reachable as {trusted.source} describes")
            return
        name = caller.block.body.get("function_name") or caller.block.address
        if network is None:
            if endpoint.service == "database" and endpoint.target is not None:
                self._database_outside(proof, endpoint, name)
            return  # outside a VPC a Lambda function has the internet and every public AWS endpoint
        if endpoint.service == "database":
            self._database_path(proof, estate, network, endpoint, name)
            return
        service = endpoint.service.split(":", 1)[1] if endpoint.service.startswith("aws:") else None
        if service is not None and self._gateway(proof, estate, network, service, name):
            return
        if service is not None and self._interface(proof, caller, estate, network, service, name):
            return
        if self._nat(proof, estate, network, name):
            return
        what = f"the AWS {service} API" if service else "the internet"
        options = []
        if service in GATEWAY_SERVICES:
            options.append(f"no {service} gateway endpoint whose route tables cover its subnets and whose prefix "
                           "list its egress allows on 443")
        if service:
            options.append(f"no {service} interface endpoint admitting 443 from its security group whose DNS the "
                           "runtime uses")
        options.append("no NAT gateway route with egress to 0.0.0.0/0:443")
        groups = ", ".join(g.address for g in network.groups) or "none"
        proof.lack(f"a network path to {what}: function {name} runs in a VPC (security group {groups}) with "
                   + ", ".join(options[:-1]) + (" and " if len(options) > 1 else "") + options[-1])

    def _eni(self, proof: Proof, caller: Caller, estate: Estate, network: Network) -> None:
        role = caller.identity
        if role is None:
            return
        policies = self.identity_policies(estate, role)
        granting: list[Block] = []
        for action in ENI_ACTIONS:
            found = decide(policies, action, "*", {}).allowed
            proof.require(bool(found), f"{action} for the VPC function's role",
                          f"{action} on * for role {role.body.get('name') or role.address} (Lambda manages the "
                          "function's network interfaces with it)", *[s.action_location(action) for s in found])
            for statement in found[:1]:
                block = estate.block(statement.location.stack, ".".join(map(str, statement.location.path[1:3])))
                if block is not None and block.type == "aws_iam_role_policy" and block not in granting:
                    granting.append(block)
        for block in granting:
            self._ordered(proof, estate, caller.block, block,
                          "Lambda checks the role may create network interfaces when the function is created")

    def rules_of(self, estate: Estate, group: Block, direction: str) -> Iterator[tuple[Location, str, int, int,
                                                                                    list[tuple[str, str]]]]:
        """(location, protocol, from port, to port, [(kind, canonical destination)]) of a security group's rules.

        Kinds: `cidr`, `prefix_list`, `group`. Standalone rules (aws_vpc_security_group_*_rule,
        aws_security_group_rule) and inline blocks both count.
        """
        standalone = f"aws_vpc_security_group_{direction}_rule"
        for rule in estate.referencing(standalone, "security_group_id", group):
            body = rule.body
            destinations = [(kind, estate.canonical(rule.stack, body[key]))
                            for key, kind in (("cidr_ipv4", "cidr"), ("prefix_list_id", "prefix_list"),
                                              ("referenced_security_group_id", "group")) if body.get(key)]
            yield (rule.at(), str(body.get("ip_protocol", "")), int(body.get("from_port") or 0),
                   int(body.get("to_port") or 0), destinations)
        for rule in estate.referencing("aws_security_group_rule", "security_group_id", group):
            if rule.body.get("type") != direction:
                continue
            yield (rule.at(), str(rule.body.get("protocol", "")), int(rule.body.get("from_port") or 0),
                   int(rule.body.get("to_port") or 0), self._inline_destinations(estate, rule.stack, rule.body))
        for index, inline in enumerate(_items(group.body.get(direction))):
            yield (group.at(direction, index), str(inline.get("protocol", "")), int(inline.get("from_port") or 0),
                   int(inline.get("to_port") or 0), self._inline_destinations(estate, group.stack, inline))

    @staticmethod
    def _inline_destinations(estate: Estate, stack: str, body: Mapping[str, Any]) -> list[tuple[str, str]]:
        found = [("cidr", estate.canonical(stack, c)) for c in _items(body.get("cidr_blocks"))]
        found += [("prefix_list", estate.canonical(stack, p)) for p in _items(body.get("prefix_list_ids"))]
        found += [("group", estate.canonical(stack, g)) for g in _items(body.get("security_groups"))]
        if body.get("source_security_group_id"):
            found.append(("group", estate.canonical(stack, body["source_security_group_id"])))
        return found

    def _opens(self, estate: Estate, groups: list[Block], direction: str, port: int,
               accepted: list[tuple[str, str]]) -> list[Location]:
        """Rules of `groups` that let TCP `port` through to/from one of the accepted destinations."""
        found = []
        for group in groups:
            for location, protocol, low, high, destinations in self.rules_of(estate, group, direction):
                if protocol not in ("-1", "all") and not (protocol in ("tcp", "6") and low <= port <= high):
                    continue
                if any(d in accepted for d in destinations):
                    found.append(location)
        return found

    def _vpc_cidr(self, estate: Estate, network: Network) -> list[tuple[str, str]]:
        accepted = [("cidr", ANYWHERE)]
        if network.vpc is not None:
            accepted.append(("cidr", estate.token(network.vpc, "cidr_block")))
        return accepted

    @staticmethod
    def vpc_identity(estate: Estate, stack: str, value: Any) -> str:
        """The VPC a `vpc_id` value names. Each stack looks its VPC up itself (the base stack's endpoints, a service
        stack's function), so two `data.aws_vpc` lookups of the same VPC are one: the same literal `id`, or the
        default VPC of the same account and Region. Anything else: its canonical text."""
        ref = estate.ref(stack, value)
        if ref is not None and ref.block.type == "aws_vpc" and ref.block.mode == "data" and ref.attribute == "id":
            body = ref.block.body
            if _literal(body.get("id")):
                return str(body["id"])
            if body.get("default") is True and not body.get("id"):
                return f"default VPC of {_account(estate, ref.block.stack)} in {_region(estate, ref.block.stack)}"
        return estate.canonical(stack, value)

    def _endpoints(self, estate: Estate, network: Network, service: str, kind: str) -> list[Block]:
        found = []
        for endpoint in estate.blocks("aws_vpc_endpoint"):
            name = estate.canonical(endpoint.stack, endpoint.body.get("service_name", ""))
            if not name.endswith(f".{service}"):
                continue
            if str(endpoint.body.get("vpc_endpoint_type") or "Gateway") != kind:
                continue
            if self.vpc_identity(estate, endpoint.stack, endpoint.body.get("vpc_id", "")) != network.vpc_token:
                continue
            found.append(endpoint)
        return found

    def _covers(self, estate: Estate, network: Network, stack: str, route_table: Any) -> bool:
        """A route table expression covering the function's subnets: the VPC's main route table (subnets without
        an explicit association use it), every route table of the VPC, or a route table explicitly associated with
        every one of the function's subnets."""
        if network.vpc is None:
            return False
        canonical = estate.canonical(stack, route_table)
        if canonical == estate.token(network.vpc, "main_route_table_id"):
            return True
        associated = {estate.canonical(a.stack, a.body.get("subnet_id")) for a in
                      estate.blocks("aws_route_table_association")
                      if estate.canonical(a.stack, a.body.get("route_table_id")) == canonical}
        if network.subnets and set(network.subnets) <= associated:
            return True
        ref = estate.ref(stack, route_table)
        if ref is not None and ref.block.type == "aws_route_tables" and ref.block.mode == "data":
            filters = _items(ref.block.body.get("filter"))
            vpc_id = ref.block.body.get("vpc_id")
            ids = [self.vpc_identity(estate, ref.block.stack, v) for f in filters if f.get("name") == "vpc-id"
                   for v in _items(f.get("values"))]
            if vpc_id:
                ids.append(self.vpc_identity(estate, ref.block.stack, vpc_id))
            return network.vpc_token in ids
        return False

    def _gateway(self, proof: Proof, estate: Estate, network: Network, service: str, name: str) -> bool:
        if service not in GATEWAY_SERVICES:
            return False
        for endpoint in self._endpoints(estate, network, service, "Gateway"):
            tables = [endpoint.at("route_table_ids", i) for i, t in enumerate(_items(endpoint.body.get(
                "route_table_ids"))) if self._covers(estate, network, endpoint.stack, t)]
            if isinstance(endpoint.body.get("route_table_ids"), str) and self._covers(
                    estate, network, endpoint.stack, endpoint.body["route_table_ids"]):
                tables = [endpoint.at("route_table_ids")]
            for association in estate.blocks("aws_vpc_endpoint_route_table_association"):
                if estate.references_block(association.stack, association.body.get("vpc_endpoint_id"), endpoint) \
                        and self._covers(estate, network, association.stack, association.body.get("route_table_id")):
                    tables.append(association.at())
            egress = self._opens(estate, network.groups, "egress", HTTPS,
                                 [("prefix_list", estate.token(endpoint, "prefix_list_id")), ("cidr", ANYWHERE),
                                  *self._prefix_lists(estate, endpoint, service)])
            if tables and egress:
                proof.rely(f"{service} gateway endpoint {endpoint.address} in the function's VPC", endpoint.at())
                proof.rely(f"{endpoint.address} is routed from the function's subnets", *tables)
                proof.rely(f"the function may send 443 to the {service} prefix list", *egress)
                return True
        return False

    @staticmethod
    def _prefix_lists(estate: Estate, endpoint: Block, service: str) -> list[tuple[str, str]]:
        """The service's AWS-managed prefix list looked up by name (`data.aws_ec2_managed_prefix_list`,
        `com.amazonaws.<region>.<service>`): the same list a gateway endpoint's `prefix_list_id` names."""
        wanted = f"com.amazonaws.{_region(estate, endpoint.stack)}.{service}"
        return [("prefix_list", estate.token(block, "id")) for block in estate.blocks("aws_ec2_managed_prefix_list")
                if block.mode == "data" and estate.canonical(block.stack, block.body.get("name", "")) == wanted]

    def _interface(self, proof: Proof, caller: Caller, estate: Estate, network: Network, service: str,
                   name: str) -> bool:
        for endpoint in self._endpoints(estate, network, service, "Interface"):
            groups = [ref.block for ref in (estate.ref(endpoint.stack, g) for g in
                                            _items(endpoint.body.get("security_group_ids"))) if ref is not None]
            sources = [("group", estate.token(g, "id")) for g in network.groups] + self._vpc_cidr(estate, network)
            ingress = self._opens(estate, groups, "ingress", HTTPS, sources)
            targets = [("group", estate.token(g, "id")) for g in groups] + self._vpc_cidr(estate, network)
            egress = self._opens(estate, network.groups, "egress", HTTPS, targets)
            dns: list[Location] = []
            if endpoint.body.get("private_dns_enabled") is True:
                dns.append(endpoint.at("private_dns_enabled"))
            for var in ENDPOINT_VARIABLES.get(service, ()):
                if estate.references_block(caller.block.stack, caller.environment.get(var, ""), endpoint):
                    dns.append(caller.env_location(var))
            if ingress and egress and dns:
                proof.rely(f"{service} interface endpoint {endpoint.address} in the function's VPC", endpoint.at())
                proof.rely(f"{endpoint.address} admits 443 from the function", *ingress)
                proof.rely(f"the function may send 443 to {endpoint.address}", *egress)
                proof.rely(f"the runtime resolves {service} to {endpoint.address}", *dns)
                return True
        return False

    def _nat(self, proof: Proof, estate: Estate, network: Network, name: str) -> bool:
        routes = []
        for route in estate.blocks("aws_route"):
            body = route.body
            if body.get("destination_cidr_block") != ANYWHERE or not body.get("nat_gateway_id"):
                continue
            table = body.get("route_table_id")
            associated = [a.at() for a in estate.blocks("aws_route_table_association")
                          if estate.canonical(a.stack, a.body.get("route_table_id")) == estate.canonical(
                              route.stack, table) and estate.canonical(a.stack, a.body.get("subnet_id")) in
                          network.subnets]
            if self._covers(estate, network, route.stack, table) or associated:
                routes.append(route.at())
        egress = self._opens(estate, network.groups, "egress", HTTPS, [("cidr", ANYWHERE)])
        if routes and egress:
            proof.rely("a NAT gateway route from the function's subnets to 0.0.0.0/0", *routes)
            proof.rely("the function may send 443 to 0.0.0.0/0", *egress)
            return True
        return False

    def _database_path(self, proof: Proof, estate: Estate, network: Network, endpoint: Endpoint, name: str) -> None:
        instance = endpoint.target
        assert instance is not None
        groups = [ref.block for ref in (estate.ref(instance.stack, g)
                                        for g in _items(instance.body.get("vpc_security_group_ids")))
                  if ref is not None]
        sources = [("group", estate.token(g, "id")) for g in network.groups] + self._vpc_cidr(estate, network)
        ingress = self._opens(estate, groups, "ingress", endpoint.port, sources)
        proof.require(bool(ingress), f"{instance.address} admits port {endpoint.port} from the function",
                      f"an ingress rule on {', '.join(g.address for g in groups) or instance.address} admitting "
                      f"port {endpoint.port} from function {name}", *ingress)
        targets = [("group", estate.token(g, "id")) for g in groups] + self._vpc_cidr(estate, network)
        egress = self._opens(estate, network.groups, "egress", endpoint.port, targets)
        proof.require(bool(egress), f"the function may send port {endpoint.port} to {instance.address}",
                      f"an egress rule on {', '.join(g.address for g in network.groups)} to port {endpoint.port} "
                      f"of {instance.address}", *egress)

    @staticmethod
    def _database_outside(proof: Proof, endpoint: Endpoint, name: str) -> None:
        instance = endpoint.target
        assert instance is not None
        if instance.body.get("publicly_accessible") is not True:
            proof.lack(f"a network path to {instance.address}: function {name} runs outside the VPC and the "
                       "database is not publicly accessible")

    # -- exposures -------------------------------------------------------------------------------------------------
    def exposures(self, caller: Caller, entry: EntryPoints, ctx: Context) -> list[tuple[str, str, str]]:
        estate = ctx.estate
        found: list[tuple[str, str, str]] = []
        name = caller.block.body.get("function_name") or caller.block.address
        cause = "http()" if entry.public_url or entry.cdns else "declaration"
        url = self.function_url(estate, caller.block)
        if url is not None and url.body.get("authorization_type") == "NONE" and not entry.public_url:
            around = (f"it can be reached around {', '.join(c.address for c in entry.cdns)}" if entry.cdns
                      else "the model declares no public http() trigger")
            found.append((cause, "http.invoke", f"a public function URL ({url.address} authorization_type NONE): "
                                                f"{around}"))
        for permission in self.lambda_permissions(estate, caller.block):
            body = permission.body
            principal = str(body.get("principal", ""))
            action = str(body.get("action", ""))
            if principal == "*" and glob(action, "lambda:InvokeFunction", ignore_case=True) and \
                    body.get("invoked_via_function_url") is not True:
                found.append((cause, "http.invoke",
                              f"lambda:InvokeFunction for every principal ('*') without invoked_via_function_url "
                              f"= true ({permission.address}): any AWS principal can invoke {name} directly, "
                              "around its function URL"))
            elif principal.endswith(".amazonaws.com") and not body.get("source_arn"):
                found.append((cause, "http.invoke", f"{action} for {principal} with no source_arn "
                                                   f"({permission.address}): any {principal} resource of any "
                                                   "account can invoke the function"))
        return found


RULES = AwsRules()
