"""IAM for GCP, kept as data: which predefined roles each neutral grant becomes, and where they are bound.

Principles: storage roles are always bound on the one bucket (google_storage_bucket_iam_member), never on the
project; invoker roles are bound on the one function's Cloud Run service; only a few roles have no narrower
scope than the project (Cloud SQL connect, Eventarc event receiving, the GCS agent publishing to Pub/Sub)
and those are called out below.
"""

from __future__ import annotations

from typing import Any

from platform_sdk.model import Grant
from platform_sdk.providers.base import Handle, StackContext
from platform_sdk.providers.gcp import provider

# Bucket grants -> predefined roles bound on that bucket.
#   read      objectViewer: objects.get + objects.list.
#   write     objectCreator: objects.create only. It cannot delete, and so cannot overwrite an existing key
#             (an overwrite needs objects.delete). The neutral model promises "write and delete"; the exact
#             set needs a custom role (google_project_iam_custom_role with storage.objects.create/.delete),
#             which the platform team should create once per project. Until then: objectCreator (no overwrite).
#   readwrite objectUser: get, list, create, delete, update objects (no bucket or IAM administration).
BUCKET_ROLES: dict[str, tuple[str, ...]] = {
    "read": ("roles/storage.objectViewer",),
    "write": ("roles/storage.objectCreator",),
    "readwrite": ("roles/storage.objectUser",),
}

# Database grants. Cloud SQL has no instance-level IAM policy, so `cloudsql.client` (instances.connect +
# instances.get, what the Cloud SQL connectors need) and `cloudsql.instanceUser` (instances.login: signing in as
# the function's IAM database user, https://cloud.google.com/sql/docs/postgres/iam-roles) can only be bound on the
# project; an IAM condition narrows them to the one instance. No password, no secret: the function is an IAM user.
DATABASE_PROJECT_ROLES: dict[str, tuple[str, ...]] = {"connect": ("roles/cloudsql.client",
                                                                  "roles/cloudsql.instanceUser")}

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
PUBLIC = "allUsers"


def bucket_member(ctx: StackContext, id: str, bucket: str, role: str, member: str) -> Any:
    return ctx.resource("google_storage_bucket_iam_member", id, {"bucket": bucket, "role": role, "member": member})


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
            short = role.rsplit(".", 1)[-1].lower()
            bindings.append(bucket_member(ctx, f"{key}_{short}", target["name"], role, member))
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
    return bindings
