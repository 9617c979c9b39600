"""IAM for GCP, kept as data: which predefined roles each neutral grant becomes, and where they are bound.

Principles: storage roles are always bound on the one bucket (google_storage_bucket_iam_member), secret roles
on the one secret (google_secret_manager_secret_iam_member), never on the project; invoker roles are bound on
the one function's Cloud Run service; only a few roles have no narrower scope than the project (Cloud SQL
connect, Eventarc event receiving, the GCS agent publishing to Pub/Sub) and those are called out below. Custom
roles are project-wide objects whose id stays reserved for weeks after a delete, so they belong to the
environment's GCP base stack (providers/gcp/base.py), never to a service stack that a move may destroy: service
stacks name them by id and ask the base for them (`ctx.needs`, kind "role").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from platform_sdk.model import Grant
from platform_sdk.providers.base import Handle, StackContext
from platform_sdk.providers.gcp import naming, provider


@dataclass(frozen=True)
class CustomRole:
    """A custom role the base stack defines once per environment (google_project_iam_custom_role)."""

    title: str
    description: str
    permissions: tuple[str, ...]


OBJECT_WRITER = "object-writer"
# What `fn.writes(bucket)` allows (platform_sdk.model.bucket.OPERATIONS["write"]: put, overwrite, delete and
# signed URLs for them) needs exactly storage.objects.create (a new key) and storage.objects.delete (delete; an
# overwrite is a create that replaces: it needs both). No predefined role has exactly these: objectCreator lacks
# delete (a second put of a key is denied), objectUser adds get, list and update.
# https://cloud.google.com/storage/docs/access-control/iam-permissions#object_permissions
CUSTOM_ROLES: dict[str, CustomRole] = {
    OBJECT_WRITER: CustomRole("Platform object writer",
                              "Create, overwrite and delete objects (fn.writes(bucket)); no reading or listing",
                              ("storage.objects.create", "storage.objects.delete")),
}

# Bucket grants -> roles bound on that bucket (a `CUSTOM_ROLES` key names a custom role of the base stack).
#   read      objectViewer: objects.get + objects.list.
#   write     object-writer: objects.create + objects.delete (put, overwrite, delete).
#   readwrite objectUser: get, list, create, delete, update objects (no bucket or IAM administration).
BUCKET_ROLES: dict[str, tuple[str, ...]] = {
    "read": ("roles/storage.objectViewer",),
    "write": (OBJECT_WRITER,),
    "readwrite": ("roles/storage.objectUser",),
}
# Signed URLs: the runtime signs through IAM signBlob as the function's own service account, which needs
# iam.serviceAccounts.signBlob on itself (serviceAccountTokenCreator bound on the account, not the project) and the
# IAM Service Account Credentials API. Every bucket grant allows signed_url (model.bucket.OPERATIONS).
# https://cloud.google.com/storage/docs/access-control/signed-urls#signing-iam
TOKEN_CREATOR = "roles/iam.serviceAccountTokenCreator"
SIGNING_API = "iamcredentials.googleapis.com"

# Database grants. Cloud SQL has no instance-level IAM policy, so `cloudsql.client` (instances.connect +
# instances.get, what the Cloud SQL connectors need) and `cloudsql.instanceUser` (instances.login: signing in as
# the function's IAM database user, https://cloud.google.com/sql/docs/postgres/iam-roles) can only be bound on the
# project; an IAM condition narrows them to the one instance. No password, no secret: the function is an IAM user.
DATABASE_PROJECT_ROLES: dict[str, tuple[str, ...]] = {"connect": ("roles/cloudsql.client",
                                                                  "roles/cloudsql.instanceUser")}

# Secret grants -> predefined roles bound on that one secret: secretAccessor is versions.access only (it cannot
# list, add versions or read other secrets). https://cloud.google.com/secret-manager/docs/access-control
SECRET_ROLES: dict[str, tuple[str, ...]] = {"read": ("roles/secretmanager.secretAccessor",)}

# Invoking a function (gen2 = a Cloud Run service): run.invoker on that service is what is enforced;
# cloudfunctions.invoker on the function keeps the Cloud Functions view consistent.
RUN_INVOKER = "roles/run.invoker"
FUNCTIONS_INVOKER = "roles/cloudfunctions.invoker"
# Eventarc delivers storage events with the trigger's service account: it must be allowed to receive events
# (project-level role: Eventarc has no narrower resource to bind it on) and to invoke the service.
EVENT_RECEIVER = "roles/eventarc.eventReceiver"
# GCS publishes object notifications to Pub/Sub (which Eventarc reads) as the project's GCS service agent.
GCS_AGENT_PUBLISHER = "roles/pubsub.publisher"
OBJECT_VIEWER = "roles/storage.objectViewer"
# Queue grants -> predefined roles bound on that one topic: publisher is topics.publish only (it cannot read,
# subscribe or administer). https://cloud.google.com/pubsub/docs/access-control
QUEUE_ROLES: dict[str, tuple[str, ...]] = {"send": ("roles/pubsub.publisher",)}
PUBSUB_PUBLISHER = "roles/pubsub.publisher"
PUBSUB_SUBSCRIBER = "roles/pubsub.subscriber"
# Function grants: `invokes` -> run.invoker on the callee's Cloud Run service (invoke, request), and publisher on its
# calls topic (send).
FUNCTION_ROLES: dict[str, tuple[str, ...]] = {"invoke": (RUN_INVOKER,)}
PUBLIC = "allUsers"


def custom_role_id(ctx: StackContext, name: str) -> str:
    """A custom role's id in this environment (`acme_prod_base_object_writer`): 3-64 of [a-zA-Z0-9_.], from the
    organisation's naming convention, so environments sharing a project never share a custom role."""
    return naming.shorten(re.sub(r"[^a-zA-Z0-9_.]", "_", ctx.profile.physical_name(ctx.env, "base", name)),
                          64).replace("-", "_")


def role_name(ctx: StackContext, role: str) -> str:
    """A predefined role as is; a custom role as `projects/<project>/roles/<id>`, asking the base stack for it."""
    if role not in CUSTOM_ROLES:
        return role
    ctx.needs.add("role", role)
    return f"projects/{provider.project_id(ctx)}/roles/{custom_role_id(ctx, role)}"


def custom_roles(ctx: StackContext, names: list[str]) -> None:
    """In the base stack: the custom roles the service stacks asked for."""
    for name in names:
        role = CUSTOM_ROLES.get(name)
        if role is None:
            continue  # recorded by an older version, no longer defined: nothing binds it any more
        ctx.resource("google_project_iam_custom_role", f"platform_role_{name.replace('-', '_')}", {
            "project": provider.project_id(ctx),
            "role_id": custom_role_id(ctx, name),
            "title": role.title,
            "description": role.description,
            "permissions": list(role.permissions),
        })


def bucket_member(ctx: StackContext, id: str, bucket: str, role: str, member: str) -> Any:
    return ctx.resource("google_storage_bucket_iam_member", id, {"bucket": bucket, "role": role, "member": member})


def secret_member(ctx: StackContext, id: str, secret: str, role: str, member: str) -> Any:
    """`role` for `member` on one secret (`secret` = its id, `projects/<p>/secrets/<s>`)."""
    return ctx.resource("google_secret_manager_secret_iam_member", id,
                        {"secret_id": secret, "role": role, "member": member})


def project_member(ctx: StackContext, id: str, role: str, member: str,
                   condition: dict[str, str] | None = None) -> Any:
    attrs: dict[str, Any] = {"project": provider.project_id(ctx), "role": role, "member": member}
    if condition:
        attrs["condition"] = condition
    return ctx.resource("google_project_iam_member", id, attrs)


def run_invoker(ctx: StackContext, id: str, service: str, member: str) -> Any:
    """run.invoker on one function's Cloud Run service (`service` = the function's service_config.service)."""
    return ctx.resource("google_cloud_run_service_iam_member", id, {
        "location": provider.region(ctx), "service": service, "role": RUN_INVOKER, "member": member,
    })


def bind_grant(ctx: StackContext, fn_name: str, member: str, grant: Grant, target: Handle) -> list[Any]:
    """The IAM bindings for one grant of a function whose identity is `member`."""
    owner = grant.target.service.name if grant.target.service else ""
    # ids: neutral names have no '_', so `<owner>_<name>` (a target in another service) never clashes
    target_id = grant.target.name if owner == ctx.service.name else f"{owner}_{grant.target.name}"
    key = f"{fn_name}_{grant.target.kind}_{target_id}"
    bindings: list[Any] = []
    if grant.target.kind == "bucket":
        for role in BUCKET_ROLES[grant.access]:
            short = role.rsplit(".", 1)[-1].lower().replace("-", "")
            bindings.append(bucket_member(ctx, f"{key}_{short}", target["name"], role_name(ctx, role), member))
    elif grant.target.kind == "database":
        instance = f"projects/{provider.project_id(ctx)}/instances/{target['instance']}"
        for role in DATABASE_PROJECT_ROLES[grant.access]:
            condition = {
                "title": f"only {grant.target.name}"[:100],
                "description": "Cloud SQL has no instance-level IAM: the project binding is limited to one instance",
                "expression": f'resource.name == "{instance}" && resource.service == "sqladmin.googleapis.com"',
            }
            suffix = "client" if role.endswith(".client") else "login"
            bindings.append(project_member(ctx, f"{key}_{suffix}", role, member, condition))
    elif grant.target.kind == "secret":
        for role in SECRET_ROLES[grant.access]:
            bindings.append(secret_member(ctx, f"{key}_accessor", target["id"], role, member))
    elif grant.target.kind == "queue":
        for role in QUEUE_ROLES[grant.access]:
            bindings.append(topic_member(ctx, f"{key}_publisher", target["topic"], role, member))
    elif grant.target.kind == "function":
        for role in FUNCTION_ROLES[grant.access]:
            bindings.append(run_member(ctx, f"{key}_invoker", target["service"], role, member))
        if target.attrs.get("calls_topic"):
            bindings.append(topic_member(ctx, f"{key}_calls_publisher", target["calls_topic"], PUBSUB_PUBLISHER,
                                         member))
    return bindings


def topic_member(ctx: StackContext, id: str, topic: str, role: str, member: str) -> Any:
    """`role` for `member` on one Pub/Sub topic (`topic` = its id, `projects/<p>/topics/<t>`)."""
    return ctx.resource("google_pubsub_topic_iam_member", id, {"topic": topic, "role": role, "member": member})


def run_member(ctx: StackContext, id: str, service: str, role: str, member: str) -> Any:
    """`role` on one function's Cloud Run service."""
    return ctx.resource("google_cloud_run_service_iam_member", id, {
        "location": provider.region(ctx), "service": service, "role": role, "member": member})
