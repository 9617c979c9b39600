"""Keyless access across clouds, GCP side.

AWS function -> GCS bucket or Secret Manager secret (workload identity federation). The bucket's (or secret's)
stack gets, once per stack and AWS account, a workload identity pool and an AWS provider trusting only that
account's assumed roles, then one `google_storage_bucket_iam_member` (`google_secret_manager_secret_iam_member`)
per granted role for the principal set of the function's Lambda role:

    principalSet://iam.googleapis.com/projects/<number>/locations/global/workloadIdentityPools/<pool>/
        attribute.aws_role/<role name>

Why the role and not the session: Lambda assumes its execution role with the function name as session name;
`attribute.aws_role` (extracted from the caller's `assumed-role/<role>/<session>` ARN) names the role, and the
provider's condition only accepts assumed roles of the environment's account. No service account is
impersonated: the federated token is used on the bucket (secret) directly (its IAM names the principal set).

The role ARN comes from the AWS compiler's `identity_literal` (deterministic from naming), so this stack never
references the function's stack. The function's stack does reference this one: its URL carries the provider's
audience, `//iam.googleapis.com/` + the provider's `name` (it holds the project NUMBER, which only the applied
project knows). The AWS stack therefore depends on the GCP stack; never the reverse.

Caveats: pool and provider ids are soft-deleted for 30 days after a destroy and cannot be re-created under the
same id meanwhile (undelete them instead). `google.subject` is the caller's ARN (Google's documented mapping);
it must fit in 127 bytes, which is checked before synthesis.

AWS function -> Pub/Sub topic (`fn.sends(queue)`): like a bucket, `roles/pubsub.publisher` on the one topic for the
principal set (https://cloud.google.com/pubsub/docs/access-control); the runtime publishes with the federated
token. URL: `pubsub://<project>/<topic>?wif_audience=...&web_identity=aws`.

AWS function -> Cloud Functions function (`caller.invokes(callee)`): Cloud Run's invoker check only accepts a
Google-signed OpenID Connect ID token whose audience is the service's URL
(https://cloud.google.com/run/docs/authenticating/service-to-service), and a federated token is an access token, not
one. So the callee's stack gets, per calling AWS function, a service account that the Lambda role's principal set may
impersonate (`roles/iam.workloadIdentityUser` on that account:
https://cloud.google.com/iam/docs/using-workload-identity-federation, "Granting external identities permission to
impersonate a service account"), holding `roles/run.invoker` on the callee's Cloud Run service. The runtime exchanges
the Lambda's credentials for a federated token (as for buckets) and calls the IAM Service Account Credentials API's
`generateIdToken` for that account with the callee's URL as audience
(https://cloud.google.com/iam/docs/reference/credentials/rest/v1/projects.serviceAccounts/generateIdToken; that API,
iamcredentials.googleapis.com, is enabled by the base stack). `.send` mirrors GCP -> AWS, where the same federated
identity hands Lambda an asynchronous call: here it publishes to the callee's calls topic (the queue the GCP
compiler creates for `.send`, pushed to the callee), so the principal set gets `roles/pubsub.publisher` on that
topic. URL: the callee's `gcf://<name>?url=...&calls=...` plus `&wif_audience=...&web_identity=aws&service_account=
<email>`.

GCP function -> S3 bucket, secret, SQS queue or Lambda function: GCP only contributes the function's identity
(`identity_literal`, the service account email); the AWS compiler trusts its unique id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from platform_sdk.errors import PlatformError
from platform_sdk.model import Bucket, Function, Grant, Queue, Resource, Secret
from platform_sdk.providers.base import Handle, StackContext
from platform_sdk.providers.gcp import iam, naming, provider
from platform_sdk.providers.gcp.config import gcp_config
from platform_sdk.providers.gcp.secret import secret_url

if TYPE_CHECKING:
    from platform_sdk.envs import Environment
    from platform_sdk.profile import Profile

WEB_IDENTITY_AWS = "aws"  # the URL's `web_identity` value: the runtime signs a GetCallerIdentity request
FEDERATION_APIS = ("iam.googleapis.com", "sts.googleapis.com")
IMPERSONATION_API = "iamcredentials.googleapis.com"  # generateIdToken: only calls to a function impersonate
WORKLOAD_IDENTITY_USER = "roles/iam.workloadIdentityUser"
POOL_ID_MAX = 32
SUBJECT_MAX = 127  # google.subject is limited to 127 bytes
FOREIGN_KINDS = (Bucket, Secret, Queue, Function)
"""What a function on another cloud may be granted here."""


def _service(resource: Resource) -> str:
    return resource.service.name if resource.service else ""


def service_account_email(env: Environment, profile: Profile, fn: Function) -> str:
    """The function's service account email (compile_function names the account the same way); without a
    project id in the environment file only the account id is known before apply."""
    account = naming.account_id(profile.physical_name(env, _service(fn), fn.physical_key))
    gcp = gcp_config(env)
    project = gcp.project if gcp is not None else None
    return f"{account}@{project}.iam.gserviceaccount.com" if project else account


def identity_literal(env: Environment, profile: Profile, fn: Function) -> dict[str, str]:
    """What AWS trusts of a GCP function: its service account (the unique id itself is a token, see federate)."""
    return {"cloud": "gcp", "service_account": service_account_email(env, profile, fn)}


def pool_id(ctx: StackContext) -> str:
    """`<prefix>-<env>-<service>-aws`, as a pool id: 4-32 of [a-z0-9-], a letter first, never `gcp-...`."""
    name = naming.rfc1035(ctx.profile.physical_name(ctx.env, ctx.service.name, "aws"), POOL_ID_MAX)
    if name.startswith("gcp-"):
        name = naming.rfc1035(f"x{name}", POOL_ID_MAX)
    return name if len(name) >= 4 else f"{name}-{naming.digest(name, 4)}"


def provider_id(account: str) -> str:
    return f"aws-{account}"


class AwsTrust:
    """The stack's workload identity pool and its provider for one AWS account."""

    def __init__(self, ctx: StackContext, account: str) -> None:
        apis = provider.apis(ctx, *FEDERATION_APIS)
        self.pool_id = pool_id(ctx)
        self.provider_id = provider_id(account)
        self.pool = ctx.resource("google_iam_workload_identity_pool", "platform_aws_pool", {
            "workload_identity_pool_id": self.pool_id,
            "display_name": f"AWS functions -> {ctx.service.name}"[:32],
            "description": f"AWS functions granted buckets of {ctx.service.name} ({ctx.env.name})",
        }).after(*apis)
        arn_prefix = f"arn:aws:sts::{account}:assumed-role/"
        self.provider = ctx.resource("google_iam_workload_identity_pool_provider", f"platform_aws_{account}", {
            "workload_identity_pool_id": self.pool.ref("workload_identity_pool_id"),
            "workload_identity_pool_provider_id": self.provider_id,
            "display_name": f"AWS {account}",
            "description": f"Lambda roles of AWS account {account}",
            "aws": {"account_id": account},
            "attribute_mapping": {
                "google.subject": "assertion.arn",
                "attribute.aws_account": "assertion.account",
                "attribute.aws_role": "assertion.arn.extract('assumed-role/{role}/')",
            },
            "attribute_condition": f"assertion.arn.startsWith('{arn_prefix}')",
        })

    @property
    def audience(self) -> str:
        """`//iam.googleapis.com/projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<id>`."""
        return f"//iam.googleapis.com/{self.provider.ref('name')}"

    def principal_set(self, ctx: StackContext, role_name: str) -> str:
        return (f"principalSet://iam.googleapis.com/projects/{provider.project_number(ctx)}/locations/global/"
                f"workloadIdentityPools/{self.pool_id}/attribute.aws_role/{role_name}")


def aws_trust(ctx: StackContext, account: str) -> AwsTrust:
    return ctx.once(f"gcp:aws_trust:{account}", lambda: AwsTrust(ctx, account))


def _account(identity: dict[str, str], fn: Function) -> str:
    account = identity.get("account")
    if not account or not identity.get("role_name"):
        raise PlatformError(f"function {fn.address} has no AWS role identity to trust", key=fn.address)
    return account


def foreign_url(ctx: StackContext, grant: Grant, handle: Handle, function_target: str,
                identity: dict[str, str]) -> str:
    """`gs://<bucket>`, `secretmanager://<project>/<secret id>` or `pubsub://<project>/<topic>`, plus
    `?wif_audience=<provider audience>&web_identity=aws`, for an AWS function; for a function, its call URL plus
    `&wif_audience=...&web_identity=aws&service_account=<the account it impersonates>` (see the module docstring).

    The audience is a reference into this (the target's) stack: the function's stack depends on it.
    """
    target = grant.target
    if function_target != "aws" or not isinstance(target, FOREIGN_KINDS):
        raise grant.error(f"a {function_target} function cannot reach {target.kind} {target.address} on GCP (only "
                          "AWS functions federate into GCP)", key=grant.function.address, value=target.address)
    trust = aws_trust(ctx, _account(identity, grant.function))
    federated = f"wif_audience={trust.audience}&web_identity={WEB_IDENTITY_AWS}"
    if isinstance(target, Function):
        account = invoker_account(ctx, grant.function, identity)
        return f"{handle['call_url']}&{federated}&service_account={account.ref('email')}"
    if isinstance(target, Queue):
        return f"{handle['url']}?{federated}"
    name = ctx.profile.physical_name(ctx.env, _service(target), target.physical_key)
    base = secret_url(ctx.env, name, project=provider.project_id(ctx)) if isinstance(target, Secret) \
        else f"gs://{name}"
    return f"{base}?{federated}"


def federate(ctx: StackContext, grant: Grant, handle: Handle, fn_handle: Handle, identity: dict[str, str]) -> None:
    """In the target's stack: the grant's roles (iam.BUCKET_ROLES, iam.SECRET_ROLES, iam.QUEUE_ROLES) for the Lambda
    role's principal set, on this bucket (secret, topic); for a function, the impersonated invoker
    (`_federate_call`)."""
    fn, bucket = grant.function, grant.target
    if fn_handle.target != "aws" or not isinstance(bucket, FOREIGN_KINDS):
        raise grant.error(f"{fn_handle.target} function {fn.address} cannot federate into GCP for "
                          f"{bucket.address} (supported: AWS functions on GCS buckets, secrets, Pub/Sub queues and "
                          "functions)", key=fn.address)
    account = _account(identity, fn)
    role_name = identity["role_name"]
    subject = f"arn:aws:sts::{account}:assumed-role/{role_name}/{identity.get('session_name', role_name)}"
    if len(subject.encode()) > SUBJECT_MAX:
        raise grant.error(
            f"function {fn.address} cannot reach {bucket.kind} {bucket.address}: its assumed-role ARN {subject!r} is "
            f"{len(subject)} characters and workload identity federation takes at most {SUBJECT_MAX}",
            key=fn.address, hint="shorten the function's or the service's name (or the environment's name_prefix)",
        )
    trust = aws_trust(ctx, account)
    member = trust.principal_set(ctx, role_name)
    owner = f"{_service(fn)}_{fn.name}"
    target_id = f"{_service(bucket)}_{bucket.name}"
    if isinstance(bucket, Queue):
        for role in iam.QUEUE_ROLES[grant.access]:
            ctx.once(f"gcp:federated:{fn.address}:{bucket.address}:{role}", lambda role=role: iam.topic_member(
                ctx, f"aws_{owner}_{target_id}_publisher", handle["topic"], role, member).after(trust.provider))
        return
    if isinstance(bucket, Function):
        _federate_call(ctx, grant, handle, identity, member, trust)
        return
    if isinstance(bucket, Secret):
        for role in iam.SECRET_ROLES[grant.access]:
            ctx.once(f"gcp:federated:{fn.address}:{bucket.address}:{role}", lambda role=role: iam.secret_member(
                ctx, f"aws_{owner}_{bucket.name}_accessor", handle["id"], role, member).after(trust.provider))
        return
    for role in iam.BUCKET_ROLES[grant.access]:
        short = role.rsplit(".", 1)[-1].lower().replace("-", "")
        key = f"gcp:federated:{fn.address}:{bucket.address}:{role}"
        ctx.once(key, lambda role=role, short=short: _binding(ctx, f"aws_{owner}_{bucket.name}_{short}",
                                                                 handle["name"], iam.role_name(ctx, role), member,
                                                                 trust))


def _binding(ctx: StackContext, id: str, bucket: str, role: str, member: str, trust: AwsTrust) -> Any:
    return iam.bucket_member(ctx, id, bucket, role, member).after(trust.provider)


def invoker_account(ctx: StackContext, fn: Function, identity: dict[str, str]) -> Any:
    """In the callee's stack: the service account AWS function `fn` impersonates to call this stack's functions (one
    per calling function and stack; its id carries a hash of both, so it never equals a function's own account)."""
    def build() -> Any:
        physical = identity.get("role_name") or ctx.profile.physical_name(ctx.env, _service(fn), fn.physical_key)
        return ctx.resource("google_service_account", f"aws_{_service(fn)}_{fn.name}_invoker", {
            "account_id": naming.account_id(physical, role=f"aws-caller/{ctx.service.name}"),
            "display_name": f"AWS {fn.address} calling {ctx.service.name}"[:100],
            "description": f"Impersonated by AWS function {fn.address} (workload identity federation) to call "
                           f"functions of {ctx.service.name}; holds only their run.invoker",
        })
    return ctx.once(f"gcp:aws_invoker:{fn.address}", build)


def _federate_call(ctx: StackContext, grant: Grant, handle: Handle, identity: dict[str, str], member: str,
                   trust: AwsTrust) -> None:
    """`invokes` from an AWS function: its principal set may impersonate its invoker account (generateIdToken), which
    holds run.invoker on the callee; its principal set publishes to the callee's calls topic itself (`.send`)."""
    fn, callee = grant.function, grant.target
    provider.apis(ctx, IMPERSONATION_API)
    account = invoker_account(ctx, fn, identity)
    owner = f"{_service(fn)}_{fn.name}"
    ctx.once(f"gcp:aws_invoker_user:{fn.address}", lambda: ctx.resource(
        "google_service_account_iam_member", f"aws_{owner}_invoker_user", {
            "service_account_id": account.ref("name"), "role": WORKLOAD_IDENTITY_USER, "member": member,
        }).after(trust.provider))
    target_id = f"{_service(callee)}_{callee.name}"
    for role in iam.FUNCTION_ROLES[grant.access]:
        ctx.once(f"gcp:federated:{fn.address}:{callee.address}:{role}", lambda role=role: iam.run_member(
            ctx, f"aws_{owner}_{target_id}_invoker", handle["service"], role, account.ref("member")))
    if handle.attrs.get("calls_topic"):
        ctx.once(f"gcp:federated:{fn.address}:{callee.address}:calls", lambda: iam.topic_member(
            ctx, f"aws_{owner}_{target_id}_calls_publisher", handle["calls_topic"], iam.PUBSUB_PUBLISHER,
            member).after(trust.provider))
