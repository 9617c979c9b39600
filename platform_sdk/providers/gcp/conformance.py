"""Conformance rules for Google Cloud: what each neutral operation needs from IAM, API enablement and the network,
kept as data with the documentation page each fact came from, and how to read it from the emitted JSON.

Permissions: a member holds a permission on a resource when a binding on that resource, or on its project,
names the member with a role containing the permission. Roles: the predefined ones in PREDEFINED_ROLES (the
permissions relevant here), custom roles from google_project_iam_custom_role. Bindings read:
google_storage_bucket_iam_member/_binding, google_project_iam_member/_binding (a condition must name the
resource, see `_condition_names`), google_cloud_run_service_iam_member, google_cloud_run_v2_service_iam_member,
google_secret_manager_secret_iam_member, google_service_account_iam_member. Not visible here: organisation
policies, deny policies, bindings made outside Terraform.
https://cloud.google.com/iam/docs/overview

Network: a Cloud Functions (2nd gen) function without a VPC connector reaches Google APIs and the internet; with
a connector routing ALL_TRAFFIC it needs what the network provides (a bring-your-own network is trusted as the
environment file describes it). https://cloud.google.com/functions/docs/networking/network-settings
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
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
    ObjectCreatedTrigger,
    Queue,
    QueueMessageTrigger,
    ScheduleTrigger,
    Secret,
)
from platform_sdk.model.cdn import DEFAULT_ROUTE
from platform_sdk.tfjson import Block, Estate, Location, expressions

TARGET = "gcp"
CREDENTIALS_PROJECT = "(the project of Terraform's credentials)"  # no project in the environment file

# -- predefined roles -> the permissions relevant here -----------------------------------------------------------
# Cloud Storage: https://cloud.google.com/storage/docs/access-control/iam-roles
# IAM: https://cloud.google.com/iam/docs/understanding-roles (and the roles reference,
#      https://cloud.google.com/iam/docs/roles-permissions)
PREDEFINED_ROLES: dict[str, frozenset[str]] = {
    "roles/storage.objectViewer": frozenset({"storage.objects.get", "storage.objects.list",
                                             "storage.managedFolders.get", "storage.managedFolders.list"}),
    "roles/storage.objectCreator": frozenset({"storage.objects.create", "storage.managedFolders.create",
                                              "storage.multipartUploads.create", "storage.multipartUploads.abort",
                                              "storage.multipartUploads.listParts"}),
    "roles/storage.objectUser": frozenset({"storage.objects.create", "storage.objects.delete", "storage.objects.get",
                                           "storage.objects.list", "storage.objects.restore",
                                           "storage.objects.update", "storage.multipartUploads.create",
                                           "storage.multipartUploads.abort", "storage.multipartUploads.list",
                                           "storage.multipartUploads.listParts", "storage.managedFolders.create",
                                           "storage.managedFolders.delete", "storage.managedFolders.get",
                                           "storage.managedFolders.list"}),
    "roles/storage.objectAdmin": frozenset({"storage.objects.create", "storage.objects.delete", "storage.objects.get",
                                            "storage.objects.list", "storage.objects.update",
                                            "storage.objects.getIamPolicy", "storage.objects.setIamPolicy"}),
    "roles/storage.admin": frozenset({"storage.objects.create", "storage.objects.delete", "storage.objects.get",
                                      "storage.objects.list", "storage.objects.update", "storage.buckets.get"}),
    "roles/iam.serviceAccountTokenCreator": frozenset({"iam.serviceAccounts.signBlob", "iam.serviceAccounts.signJwt",
                                                       "iam.serviceAccounts.getAccessToken",
                                                       "iam.serviceAccounts.getOpenIdToken",
                                                       "iam.serviceAccounts.implicitDelegation"}),
    "roles/iam.serviceAccountOpenIdTokenCreator": frozenset({"iam.serviceAccounts.getOpenIdToken"}),
    # What a federated principal set needs on a service account it impersonates
    # (https://cloud.google.com/iam/docs/using-workload-identity-federation#impersonation, roles in
    # https://cloud.google.com/iam/docs/roles-permissions/iam)
    "roles/iam.workloadIdentityUser": frozenset({"iam.serviceAccounts.getAccessToken",
                                                 "iam.serviceAccounts.getOpenIdToken"}),
    # https://cloud.google.com/sql/docs/postgres/iam-roles
    "roles/cloudsql.client": frozenset({"cloudsql.instances.connect", "cloudsql.instances.get"}),
    "roles/cloudsql.instanceUser": frozenset({"cloudsql.instances.login", "cloudsql.instances.get"}),
    # https://cloud.google.com/secret-manager/docs/access-control
    "roles/secretmanager.secretAccessor": frozenset({"secretmanager.versions.access"}),
    # https://cloud.google.com/run/docs/reference/iam/roles
    "roles/run.invoker": frozenset({"run.routes.invoke"}),
    # https://cloud.google.com/functions/docs/reference/iam/roles
    "roles/cloudfunctions.invoker": frozenset({"cloudfunctions.functions.invoke"}),
    # https://cloud.google.com/eventarc/docs/access-control
    "roles/eventarc.eventReceiver": frozenset({"eventarc.events.receiveEvent",
                                               "eventarc.events.receiveAuditLogWritten"}),
    # https://cloud.google.com/pubsub/docs/access-control
    "roles/pubsub.publisher": frozenset({"pubsub.topics.publish"}),
    "roles/pubsub.subscriber": frozenset({"pubsub.subscriptions.consume", "pubsub.topics.attachSubscription"}),
    # https://cloud.google.com/kms/docs/reference/permissions-and-roles
    "roles/cloudkms.cryptoKeyEncrypterDecrypter": frozenset({"cloudkms.cryptoKeyVersions.useToEncrypt",
                                                             "cloudkms.cryptoKeyVersions.useToDecrypt"}),
}

# -- neutral bucket operation -> Cloud Storage permissions on the bucket --------------------------------------
# https://cloud.google.com/storage/docs/access-control/iam-permissions: overwriting an existing object also needs
# storage.objects.delete. A signed URL carries the signer's rights (the signer needs the permission itself), and
# the runtime signs through IAM signBlob with the function's own service account: that needs
# iam.serviceAccounts.signBlob on that account and the IAM Service Account Credentials API enabled.
# https://cloud.google.com/iam/docs/reference/credentials/rest/v1/projects.serviceAccounts/signBlob
# https://cloud.google.com/storage/docs/access-control/signed-urls#signing-iam
GCS_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "get": ("storage.objects.get",),
    "head": ("storage.objects.get",),
    "list": ("storage.objects.list",),
    "put": ("storage.objects.create",),
    "overwrite": ("storage.objects.create", "storage.objects.delete"),
    "delete": ("storage.objects.delete",),
    "signed_url_get": ("storage.objects.get",),
    "signed_url_put": ("storage.objects.create", "storage.objects.delete"),
}
# A bucket encrypted with a customer-managed key: Cloud Storage encrypts and decrypts as the project's service
# agent, which needs the key (readers and writers themselves need nothing on it).
# https://cloud.google.com/storage/docs/encryption/customer-managed-keys#service-agent-access
GCS_KMS_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "get": ("cloudkms.cryptoKeyVersions.useToDecrypt",),
    "signed_url_get": ("cloudkms.cryptoKeyVersions.useToDecrypt",),
    "put": ("cloudkms.cryptoKeyVersions.useToEncrypt",),
    "overwrite": ("cloudkms.cryptoKeyVersions.useToEncrypt",),
    "signed_url_put": ("cloudkms.cryptoKeyVersions.useToEncrypt",),
}
SIGN_BLOB = "iam.serviceAccounts.signBlob"
SIGNING_API = "iamcredentials.googleapis.com"
# Cloud SQL through the connectors: connect + get on the instance (the SQL Admin API), the password from Secret
# Manager. https://cloud.google.com/sql/docs/postgres/connect-connectors#required_roles
SQL_PERMISSIONS = ("cloudsql.instances.connect", "cloudsql.instances.get")
# Signing in as an IAM database user: https://cloud.google.com/sql/docs/postgres/iam-roles
SQL_LOGIN_PERMISSION = "cloudsql.instances.login"
IAM_USER_TYPE = "CLOUD_IAM_SERVICE_ACCOUNT"
SQL_API = "sqladmin.googleapis.com"
SECRET_PERMISSION = "secretmanager.versions.access"
SECRET_API = "secretmanager.googleapis.com"
# Eventarc delivers Cloud Storage events with the trigger's service account (receiveEvent on the project,
# run.routes.invoke on the function's service); Cloud Storage publishes them to Pub/Sub as the project's service
# agent, which needs pubsub.topics.publish before the trigger is created.
# https://cloud.google.com/eventarc/docs/run/create-trigger-storage-gcloud#before-you-begin
OBJECT_FINALIZED = "google.cloud.storage.object.v1.finalized"
EVENT_PERMISSIONS = ("eventarc.events.receiveEvent",)
INVOKE = "run.routes.invoke"  # Cloud Functions 2nd gen are Cloud Run services: run.invoker is what is enforced
PUBLISH = "pubsub.topics.publish"
EVENT_APIS = ("eventarc.googleapis.com", "pubsub.googleapis.com")
TRIGGER_FILTERS_ENV = "PLATFORM_TRIGGER_FILTERS"  # the runtime drops events no (bucket, prefix, suffix) matches
# Cloud Scheduler calls the function's URI with an OIDC token of its service account.
# https://cloud.google.com/scheduler/docs/http-target-auth
SCHEDULER_API = "cloudscheduler.googleapis.com"
# Public invocation: allUsers with run.invoker on the service, and ingress that admits the caller. Behind a load
# balancer (Cloud CDN) the request carries no credentials; `ALLOW_INTERNAL_AND_GCLB` keeps direct calls out.
# https://cloud.google.com/functions/docs/networking/network-settings#ingress_settings
PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")
DIRECT_INGRESS = ("ALLOW_ALL",)
DEFAULT_INGRESS = "ALLOW_ALL"  # google_cloudfunctions2_function service_config.ingress_settings
LB_INGRESS = ("ALLOW_ALL", "ALLOW_INTERNAL_AND_GCLB")
# Workload identity federation for AWS roles, and its APIs in the bucket's project.
# https://cloud.google.com/iam/docs/workload-identity-federation-with-other-clouds
FEDERATION_APIS = ("sts.googleapis.com", "iam.googleapis.com")
FEDERATED_KINDS = {"bucket": "google_storage_bucket", "secret": "google_secret_manager_secret",
                   "queue": "google_pubsub_topic", "function": "google_cloudfunctions2_function"}
# An AWS function calling a Cloud Functions function needs a Google-signed ID token (Cloud Run accepts nothing else:
# https://cloud.google.com/run/docs/authenticating/service-to-service): its principal set asks generateIdToken for
# the service account its URL names, which needs getOpenIdToken on that account and the IAM Service Account
# Credentials API (https://cloud.google.com/iam/docs/reference/credentials/rest/v1/projects.serviceAccounts/
# generateIdToken); that account then needs run.routes.invoke on the callee.
OPEN_ID_TOKEN = "iam.serviceAccounts.getOpenIdToken"
IMPERSONATION_API = "iamcredentials.googleapis.com"
STORAGE_API = "storage.googleapis.com"

_BINDINGS = {  # binding type -> (scope kind, attribute naming the resource, member attribute, role attribute)
    "google_storage_bucket_iam_member": ("bucket", "bucket", "member"),
    "google_storage_bucket_iam_binding": ("bucket", "bucket", "members"),
    "google_project_iam_member": ("project", "project", "member"),
    "google_project_iam_binding": ("project", "project", "members"),
    "google_cloud_run_service_iam_member": ("run", "service", "member"),
    "google_cloud_run_v2_service_iam_member": ("run", "name", "member"),
    "google_secret_manager_secret_iam_member": ("secret", "secret_id", "member"),
    "google_service_account_iam_member": ("service_account", "service_account_id", "member"),
    "google_cloudfunctions2_function_iam_member": ("function", "cloud_function", "member"),
    "google_pubsub_topic_iam_member": ("topic", "topic", "member"),
}
PUBSUB_API = "pubsub.googleapis.com"
# A dead-letter policy works only when the project's Pub/Sub service agent may publish to the dead-letter topic and
# acknowledge on the subscription. https://cloud.google.com/pubsub/docs/handling-failures#grant_forwarding_permissions
PUBSUB_AGENT = "@gcp-sa-pubsub.iam.gserviceaccount.com"


def _one(value: Any) -> Mapping[str, Any]:
    if isinstance(value, list):
        return value[0] if value and isinstance(value[0], Mapping) else {}
    return value if isinstance(value, Mapping) else {}


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def _literal(value: Any) -> str | None:
    return value if isinstance(value, str) and "${" not in value else None


class GcpRules:
    """The GCP plug-in's conformance rules (see the module docstring)."""

    target = TARGET

    # -- derived attributes --------------------------------------------------------------------------------------
    def project(self, estate: Estate, block: Block) -> str:
        """The project a block lives in: its own `project`, else its stack's provider project."""
        own = block.body.get("project")
        if own:
            return estate.canonical(block.stack, own)
        return _literal(estate.provider(block.stack, "google").get("project")) or CREDENTIALS_PROJECT

    def derive(self, block: Block, attribute: str, estate: Estate) -> str | None:
        """Ids and emails that follow from a block's arguments (documented formats)."""
        body = block.body
        if block.mode == "data" and block.type == "google_client_config" and attribute == "project":
            return self.project(estate, block)
        if block.mode == "data" and block.type == "google_storage_project_service_account":
            # service-<project number>@gs-project-accounts...: the number is known only after apply, but every
            # stack's lookup in one project names the same agent
            agent = f"(the Cloud Storage service agent of {self.project(estate, block)})"
            return {"member": f"serviceAccount:{agent}", "email_address": agent}.get(attribute)
        if block.mode != "resource":
            return None
        project = self.project(estate, block)
        if block.type == "google_storage_bucket" and _literal(body.get("name")):
            return {"name": body["name"], "id": body["name"], "url": f"gs://{body['name']}"}.get(attribute)
        if block.type == "google_service_account" and _literal(body.get("account_id")):
            # https://cloud.google.com/iam/docs/service-accounts#user-managed
            email = f"{body['account_id']}@{project}.iam.gserviceaccount.com"
            return {"email": email, "member": f"serviceAccount:{email}", "account_id": body["account_id"],
                    "name": f"projects/{project}/serviceAccounts/{email}",
                    "id": f"projects/{project}/serviceAccounts/{email}"}.get(attribute)
        if block.type == "google_project_iam_custom_role" and _literal(body.get("role_id")):
            role = f"projects/{project}/roles/{body['role_id']}"
            return {"id": role, "name": role}.get(attribute)
        if block.type == "google_secret_manager_secret" and _literal(body.get("secret_id")):
            secret = f"projects/{project}/secrets/{body['secret_id']}"
            return {"id": secret, "name": secret, "secret_id": body["secret_id"]}.get(attribute)
        if block.type == "google_sql_database_instance" and _literal(body.get("name")):
            region = body.get("region") or estate.provider(block.stack, "google").get("region")
            values = {"name": body["name"]}
            if _literal(region):
                values["connection_name"] = f"{project}:{region}:{body['name']}"
            return values.get(attribute)
        if block.type == "google_cloudfunctions2_function" and _literal(body.get("name")) and attribute == "name":
            return body["name"]
        return None

    # -- the function ----------------------------------------------------------------------------------------------
    def caller(self, fn: Function, placement: PlacementLike, ctx: Context) -> Caller | None:
        function = ctx.block_of(fn, "google_cloudfunctions2_function")
        if function is None:
            return None
        config = _one(function.body.get("service_config"))
        account = ctx.estate.ref(function.stack, config.get("service_account_email"))
        path: tuple[str | int, ...] = ("service_config", "environment_variables")
        if isinstance(function.body.get("service_config"), list):
            path = ("service_config", 0, "environment_variables")
        environment = config.get("environment_variables") or {}
        return Caller(fn, placement, function, account.block if account else None,
                      {k: str(v) for k, v in environment.items()}, path)

    def member(self, caller: Caller, need: Need, ctx: Context, proof: Proof) -> str | None:
        """The caller's IAM member on Google Cloud: its service account, or the principal set of its AWS role."""
        estate = ctx.estate
        if caller.placement.target == TARGET:
            if caller.identity is None:
                proof.lack(f"a service account for {caller.block.address}")
                return None
            return estate.token(caller.identity, "member")
        role = caller.identity
        name = _literal(role.body.get("name")) if role is not None else None
        if name is None:
            proof.lack(f"the AWS role name of {caller.function.address} (workload identity trusts it by name)")
            return None
        return f"/attribute.aws_role/{name}"  # matched as the end of a principalSet:// member

    # -- IAM -----------------------------------------------------------------------------------------------------
    def role_permissions(self, estate: Estate, stack: str, role: Any) -> dict[str, Location | None]:
        """Permission -> where it is listed (a custom role's `permissions` entry; None for a predefined role)."""
        if isinstance(role, str) and role in PREDEFINED_ROLES:
            return dict.fromkeys(PREDEFINED_ROLES[role])
        def build() -> dict[str, Block]:  # a custom role's id and name -> the first custom role with it
            table: dict[str, Block] = {}
            for custom in estate.blocks("google_project_iam_custom_role"):
                for token in (estate.token(custom, "id"), estate.token(custom, "name")):
                    table.setdefault(token, custom)
            return table
        custom = estate.lookup((TARGET, "custom_roles"), build).get(estate.canonical(stack, role))
        if custom is None:
            return {}
        return {str(p): custom.at("permissions", i) for i, p in enumerate(_items(custom.body.get("permissions")))}

    @staticmethod
    def _bindings(estate: Estate, tf_type: str, on: str, member: str) -> list[Block]:
        """The bindings of `tf_type` on the resource `on` (canonical) naming `member` (canonical; a member
        starting with `/` is the end of a `principalSet://` member), in `estate.blocks` order, from a table built
        once per estate and type."""
        _, attribute, member_key = _BINDINGS[tf_type]

        def build() -> dict[str, tuple[dict[str, list[tuple[int, Block]]], list[tuple[int, Block, list[str]]]]]:
            table: dict[str, tuple[dict[str, list[tuple[int, Block]]], list[tuple[int, Block, list[str]]]]] = {}
            for position, binding in enumerate(estate.blocks(tf_type)):
                exact, principal_sets = table.setdefault(
                    estate.canonical(binding.stack, binding.body.get(attribute, "")), ({}, []))
                members = [estate.canonical(binding.stack, m) for m in _items(binding.body.get(member_key))]
                for m in dict.fromkeys(members):
                    exact.setdefault(m, []).append((position, binding))
                if any(m.startswith("principalSet://") for m in members):
                    principal_sets.append((position, binding, members))
            return table
        exact, principal_sets = estate.lookup((TARGET, "bindings", tf_type), build).get(on, ({}, []))
        found = dict(exact.get(member, []))
        if member.startswith("/"):
            found.update((position, binding) for position, binding, members in principal_sets
                         if any(m.startswith("principalSet://") and m.endswith(member) for m in members))
        return [found[position] for position in sorted(found)]

    def holders(self, estate: Estate, permission: str, scope: str, resource: str, project: str, member: str,
                condition_target: str | None = None) -> tuple[list[tuple[Location, Location | None]], list[str]]:
        """Bindings granting `permission` to `member` on a resource (`scope`, canonical `resource`) or its project:
        (binding location, custom role entry or None) each, and notes about bindings a condition rules out."""
        found: list[tuple[Location, Location | None]] = []
        notes: list[str] = []
        for tf_type, (kind, _, _) in _BINDINGS.items():
            if kind not in (scope, "project"):
                continue
            for binding in self._bindings(estate, tf_type, project if kind == "project" else resource, member):
                body = binding.body
                permissions = self.role_permissions(estate, binding.stack, body.get("role"))
                if permission not in permissions:
                    continue
                condition = _one(body.get("condition"))
                if condition and not self._condition_names(estate, binding.stack, condition, condition_target):
                    notes.append(f"{binding.address} grants it only under the condition "
                                 f"{condition.get('expression')!r}")
                    continue
                found.append((binding.at(), permissions[permission]))
        return found, notes

    @staticmethod
    def _condition_names(estate: Estate, stack: str, condition: Mapping[str, Any], target: str | None) -> bool:
        """A condition restricting a project binding holds for `target` when its expression names it
        (`resource.name == "<target>"`); anything else is not evaluated, so it is not relied on."""
        if target is None:
            return False
        expression = estate.canonical(stack, condition.get("expression", ""))
        return f'resource.name == "{target}"' in expression

    def _require(self, proof: Proof, estate: Estate, permission: str, scope: str, resource: str, shown: str,
                 project: str, member: str, who: str, condition_target: str | None = None) -> bool:
        found, notes = self.holders(estate, permission, scope, resource, project, member, condition_target)
        why = f" ({'; '.join(notes)})" if notes else ""
        ok = proof.require(bool(found), f"{permission} on {shown} for {who}",
                           f"{permission} on {shown} for {who}: no binding grants it{why}", *[b for b, _ in found])
        if len(found) == 1 and found[0][1] is not None:
            proof.rely(f"the custom role of the binding lists {permission}", found[0][1])
        return ok

    def api(self, proof: Proof, estate: Estate, project: str, service: str, why: str,
            before: Block | None = None) -> bool:
        """An API enabled in the project by some stack (google_project_service); with `before`, one that block's
        creation needs: enabled in its stack or in a stack applied before it."""
        def build() -> dict[tuple[str | None, str], list[Block]]:  # (service, project) -> its enablements
            table: dict[tuple[str | None, str], list[Block]] = {}
            for block in estate.blocks("google_project_service"):
                table.setdefault((_literal(block.body.get("service")), self.project(estate, block)), []).append(block)
            return table
        blocks = list(estate.lookup((TARGET, "project_services"), build).get((service, project), ()))
        ok = proof.require(bool(blocks), f"{service} is enabled in {project}",
                           f"a google_project_service enabling {service} in project {project} ({why})",
                           *[b.at() for b in blocks])
        if ok and before is not None:
            self.ordered(proof, estate, before, blocks, f"{service} must be enabled before {before.address} is "
                                                        "created")
        return ok

    @staticmethod
    def ordered(proof: Proof, estate: Estate, dependent: Block, prerequisites: list[Block], why: str) -> None:
        """A prerequisite another stack owns (the base stack's API enablement and service-agent bindings) exists
        before `dependent` is created only when `dependent`'s stack depends on that stack."""
        stacks = sorted({b.stack for b in prerequisites})
        if not stacks or dependent.stack in stacks:
            return
        proof.require(any(estate.depends_on(dependent.stack, stack) for stack in stacks),
                      f"stack {dependent.stack} is applied after {' or '.join(stacks)}",
                      f"a dependency of stack {dependent.stack} on {' or '.join(stacks)} ({why})")

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
            proof.lack(f"a rule for {need.operation} on GCP (the analysis does not know this operation)")

    def _who(self, caller: Caller) -> str:
        if caller.placement.target == TARGET and caller.identity is not None:
            return f"service account {caller.identity.body.get('account_id') or caller.identity.address}"
        name = caller.identity.body.get("name") if caller.identity is not None else None
        return f"AWS role {name or '?'} (workload identity federation)"

    def _bucket(self, need: Need, caller: Caller, ctx: Context, proof: Proof) -> None:
        bucket = need.target
        assert isinstance(bucket, Bucket)
        estate = ctx.estate
        gcs = ctx.block_of(bucket, "google_storage_bucket")
        if gcs is None:
            proof.lack(f"a google_storage_bucket for {bucket.address}")
            return
        member = self.member(caller, need, ctx, proof)
        if member is None:
            return
        name = estate.token(gcs, "name")
        project = self.project(estate, gcs)
        who = self._who(caller)
        if not need.verb.startswith("signed_url"):
            proof.reach(Endpoint("gcp:storage"))
        for permission in GCS_PERMISSIONS[need.verb]:
            self._require(proof, estate, permission, "bucket", name, f"bucket {name}", project, member, who)
        if need.verb.startswith("signed_url"):
            self._signing(need, caller, ctx, proof, member, who)
        key = _one(gcs.body.get("encryption")).get("default_kms_key_name")
        if key:
            self._agent_key(proof, estate, gcs, estate.canonical(gcs.stack, key),
                            GCS_KMS_PERMISSIONS.get(need.verb, ()))

    def _agent_key(self, proof: Proof, estate: Estate, gcs: Block, key: str, permissions: tuple[str, ...]) -> None:
        """The Cloud Storage service agent of the bucket's project may use the bucket's key."""
        project = self.project(estate, gcs)
        agent = f"serviceAccount:(the Cloud Storage service agent of {project})"
        for permission in permissions:
            found = [b.at() for b in estate.where("google_kms_crypto_key_iam_member", "crypto_key_id", key, default="")
                     if estate.canonical(b.stack, b.body.get("member", "")) == agent
                     and permission in self.role_permissions(estate, b.stack, b.body.get("role"))]
            proof.require(bool(found), f"{permission} on key {key} for the Cloud Storage service agent",
                          f"{permission} on key {key} for the Cloud Storage service agent of {project} (it "
                          "encrypts and decrypts the bucket's objects)", *found)

    def _signing(self, need: Need, caller: Caller, ctx: Context, proof: Proof, member: str, who: str) -> None:
        """The runtime signs URLs through IAM signBlob as the function's own service account."""
        estate = ctx.estate
        account = caller.identity
        if caller.placement.target != TARGET or account is None:
            proof.lack(f"a way to sign URLs for {who}: only a GCP function's own service account signs them")
            return
        proof.reach(Endpoint(f"gcp:{SIGNING_API}"))
        account_project = self.project(estate, account)
        email = estate.token(account, "email")
        accepted = {estate.token(account, "name"), estate.token(account, "id"), email,
                    f"projects/{account_project}/serviceAccounts/{email}"}
        found: list[Location] = []
        for binding in estate.where("google_service_account_iam_member", "service_account_id", *accepted, default=""):
            if estate.canonical(binding.stack, binding.body.get("member")) != member:
                continue
            if SIGN_BLOB in self.role_permissions(estate, binding.stack, binding.body.get("role")):
                found.append(binding.at())
        project_found, _ = self.holders(estate, SIGN_BLOB, "project", account_project, account_project, member)
        found += [b for b, _ in project_found]
        proof.require(bool(found), f"{SIGN_BLOB} on its own service account",
                      f"{SIGN_BLOB} on service account {email} for {who} (a google_service_account_iam_member with "
                      "roles/iam.serviceAccountTokenCreator on the function's own account)", *found)
        self.api(proof, estate, account_project, SIGNING_API, "signBlob is served by the IAM Credentials API")

    def _database(self, need: Need, caller: Caller, ctx: Context, proof: Proof) -> None:
        """Connect through the connector as the function's own IAM database user (`?auth=iam`): connect, get and
        login on the instance, the user of type CLOUD_IAM_SERVICE_ACCOUNT on it. A built-in user's password in a
        function is the administrator's credentials (every built-in user is a member of cloudsqlsuperuser)."""
        database = need.target
        assert isinstance(database, Database)
        estate = ctx.estate
        instance = ctx.block_of(database, "google_sql_database_instance")
        if instance is None:
            proof.lack(f"a google_sql_database_instance for {database.address}")
            return
        member = self.member(caller, need, ctx, proof)
        if member is None:
            return
        who = self._who(caller)
        project = self.project(estate, instance)
        name = estate.token(instance, "name")
        target = f"projects/{project}/instances/{name}"
        proof.reach(Endpoint("gcp:sqladmin"))
        var = contract.resource_var("database", database.name)
        url = caller.environment.get(var, "")
        parsed = urlparse(url)
        params = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        user = unquote(parsed.username or "")
        iam = params.get("auth") == "iam"
        permissions = SQL_PERMISSIONS + ((SQL_LOGIN_PERMISSION,) if iam else ())
        for permission in permissions:
            self._require(proof, estate, permission, "sql", target, f"instance {name}", project, member, who,
                          condition_target=target)
        self.api(proof, estate, project, SQL_API, "the Cloud SQL connectors call the SQL Admin API")
        users = estate.referencing("google_sql_user", "instance", instance)
        if iam:
            wanted = estate.canonical(caller.block.stack, user)
            own = [u for u in users if u.body.get("type") == IAM_USER_TYPE and self._user_matches(
                estate, u, wanted, database.engine)]
            proof.require(bool(own), f"the IAM database user {estate.display(wanted)} exists on instance {name}",
                          f"a google_sql_user of type {IAM_USER_TYPE} named for the function's service account on "
                          f"instance {name} (the user {estate.display(wanted)} it signs in as)",
                          *[u.at("name") for u in own])
            return
        built_in = [u for u in users if u.body.get("type") in (None, "BUILT_IN")
                    and estate.canonical(u.stack, u.body.get("name", "")) == estate.canonical(caller.block.stack,
                                                                                           user)]
        if built_in:
            proof.lack(f"its own database user: function {caller.block.body.get('name') or caller.block.address} "
                       f"connects as the built-in user {user} of instance {name} with its password (every built-in "
                       "user is a member of cloudsqlsuperuser: the administrator's credentials in a function); "
                       "connect as its own IAM database user")
            return
        secret_expr = params.get("secret", "")
        if not secret_expr:
            proof.lack(f"credentials in {var}: an IAM database user (?auth=iam) or the password's secret (?secret=)")
            return
        secret = estate.canonical(caller.block.stack, secret_expr)
        proof.reach(Endpoint("gcp:secretmanager"))
        self._require(proof, estate, SECRET_PERMISSION, "secret", secret, f"secret {estate.display(secret)}", project,
                      member, who)
        self.api(proof, estate, project, SECRET_API, "the password is read from Secret Manager")

    def _secret(self, need: Need, caller: Caller, ctx: Context, proof: Proof) -> None:
        """`secret(name)`: versions.access on that secret (a binding on it, or on its project), the Secret Manager
        API, and a URL naming that secret."""
        secret = need.target
        assert isinstance(secret, Secret)
        estate = ctx.estate
        block = ctx.block_of(secret, "google_secret_manager_secret")
        if block is None:
            proof.lack(f"a google_secret_manager_secret for {secret.address}")
            return
        var = contract.resource_var("secret", secret.name)
        named = urlparse(caller.environment.get(var, "")).path.strip("/")
        proof.require(bool(named) and named == block.body.get("secret_id"), f"{var} names secret {named}",
                      f"{var} naming secret {block.body.get('secret_id')} (the runtime reads the value by that id)",
                      caller.env_location(var))
        member = self.member(caller, need, ctx, proof)
        if member is None:
            return
        project = self.project(estate, block)
        secret_id = estate.token(block, "id")
        proof.reach(Endpoint("gcp:secretmanager"))
        self._require(proof, estate, SECRET_PERMISSION, "secret", secret_id, f"secret {estate.display(secret_id)}",
                      project, member, self._who(caller))
        self.api(proof, estate, project, SECRET_API, "the value is read from Secret Manager")

    @staticmethod
    def _user_matches(estate: Estate, user: Block, wanted: str, engine: str) -> bool:
        """The URL's user (`wanted`, canonical) is the IAM user's name (PostgreSQL), or that email's part before `@`
        (MySQL). A name known only at apply (no project in the environment file: a Terraform expression `${X}`) is
        in the URL as `${urlencode(X)}` (PostgreSQL) or `${urlencode(element(split("@", X), 0))}` (MySQL)."""
        raw = user.body.get("name", "")
        if not isinstance(raw, str):
            return False
        name = estate.canonical(user.stack, raw)
        if wanted == name or (not name.startswith("${") and name.partition("@")[0] == wanted
                              and raw.endswith(".gserviceaccount.com")):
            return True
        spans = list(expressions(raw))
        if len(spans) != 1 or spans[0][:2] != (0, len(raw)):
            return False
        inner = spans[0][2].strip()
        encoded = f"${{urlencode({inner})}}" if engine == "postgres" else \
            f'${{urlencode(element(split("@", {inner}), 0))}}'
        return estate.canonical(user.stack, encoded) == wanted

    def _federation(self, need: Need, caller: Caller, ctx: Context, proof: Proof) -> None:
        """An AWS function exchanges its signed GetCallerIdentity for a Google token (workload identity)."""
        bucket = need.target
        assert bucket is not None and bucket.kind in FEDERATED_KINDS
        estate = ctx.estate
        kind = FEDERATED_KINDS[bucket.kind]
        gcs = ctx.block_of(bucket, kind)
        role = caller.identity
        proof.reach(Endpoint("gcp:sts"))
        if gcs is None or role is None:
            proof.lack(f"a {kind} for {bucket.address} and an AWS role for the function")
            return
        var = contract.resource_var(bucket.kind, bucket.name)
        audience = (parse_qs(urlparse(caller.environment.get(var, "")).query).get("wif_audience") or [""])[0]
        providers = estate.referenced_by(caller.block.stack, audience, "google_iam_workload_identity_pool_provider")
        if not proof.require(bool(providers), f"{var} names the workload identity provider",
                             f"a workload identity provider named by wif_audience in {var}",
                             caller.env_location(var)):
            return
        provider = providers[0]
        account = str(_one(provider.body.get("aws")).get("account_id", ""))
        aws = estate.provider(caller.block.stack, "aws").get("allowed_account_ids") or []
        role_name = _literal(role.body.get("name")) or "?"
        proof.require(bool(account) and account in [str(a) for a in aws],
                      f"{provider.address} trusts AWS account {account}",
                      f"an AWS block in {provider.address} naming the function's account ({', '.join(aws) or '?'})",
                      provider.at("aws"))
        mapping = provider.body.get("attribute_mapping") or {}
        proof.require("attribute.aws_role" in mapping, f"{provider.address} maps the role name",
                      f"attribute.aws_role in the attribute_mapping of {provider.address}",
                      provider.at("attribute_mapping", "attribute.aws_role"))
        condition = provider.body.get("attribute_condition")
        if condition:
            prefix = re.fullmatch(r"\s*assertion\.arn\.startsWith\('([^']*)'\)\s*", str(condition))
            arn = f"arn:aws:sts::{account}:assumed-role/{role_name}/{role_name}"
            if prefix is None or not arn.startswith(prefix.group(1)):
                proof.lack(f"an attribute_condition of {provider.address} accepting {arn} "
                           f"(it is {condition!r})")
        project = self.project(estate, gcs)
        for api in FEDERATION_APIS:
            self.api(proof, estate, project, api, "the token exchange runs through Security Token Service")

    # -- queues and calls ------------------------------------------------------------------------------------------
    def _publish(self, proof: Proof, estate: Estate, caller: Caller, need: Need, ctx: Context, topic: Block) -> None:
        member = self.member(caller, need, ctx, proof)
        if member is None:
            return
        project = self.project(estate, topic)
        topic_id = estate.token(topic, "id")
        proof.reach(Endpoint("gcp:pubsub"))
        self._require(proof, estate, PUBLISH, "topic", topic_id, f"topic {topic.body.get('name')}", project, member,
                      self._who(caller))
        self.api(proof, estate, project, PUBSUB_API, "messages are published to Pub/Sub")

    def _queue_send(self, need: Need, caller: Caller, ctx: Context, proof: Proof) -> None:
        """`queue(name).send(...)`: topics.publish on that topic, the Pub/Sub API, and a URL naming the topic."""
        queue = need.target
        assert isinstance(queue, Queue)
        estate = ctx.estate
        topic = next((t for t in ctx.blocks_of(queue, "google_pubsub_topic")
                      if not str(t.body.get("name", "")).endswith("-dlq")), None)
        if topic is None:
            proof.lack(f"a google_pubsub_topic for {queue.address}")
            return
        var = contract.resource_var("queue", queue.name)
        named = urlparse(caller.environment.get(var, "")).path.strip("/")
        proof.require(bool(named) and named == topic.body.get("name"), f"{var} names topic {named}",
                      f"{var} naming topic {topic.body.get('name')} (the runtime publishes to the topic it names)",
                      caller.env_location(var))
        self._publish(proof, estate, caller, need, ctx, topic)

    def _pushes(self, proof: Proof, estate: Estate, caller: Caller, subscription: Block, attempts: int,
                what: str) -> None:
        """The subscription pushes to the function's URL with the OIDC token of an identity that may invoke it, and
        dead-letters after `attempts` onto a topic the Pub/Sub service agent may publish to."""
        push = _one(subscription.body.get("push_config"))
        uri = estate.token(caller.block, "service_config.0.uri")
        pushed = estate.canonical(subscription.stack, push.get("push_endpoint", "")) == uri
        if not proof.require(pushed, f"{subscription.address} pushes {what} to {caller.block.address}",
                             f"a push_config on {subscription.address} whose push_endpoint is the URL of "
                             f"{caller.block.address}", subscription.at("push_config")):
            return
        email = estate.canonical(subscription.stack, _one(push.get("oidc_token")).get("service_account_email", ""))
        member = f"serviceAccount:{email}" if email else ""
        found = self._invokers(estate, caller, member) if member else []
        proof.require(bool(found), f"the push identity {email} may invoke {caller.block.address}",
                      f"an oidc_token on {subscription.address} whose service account holds {INVOKE} on the service "
                      f"of {caller.block.address} (Cloud Run refuses unauthenticated pushes)", *found)
        policy = _one(subscription.body.get("dead_letter_policy"))
        dead = estate.ref(subscription.stack, policy.get("dead_letter_topic", ""))
        ok = dead is not None and dead.block.type == "google_pubsub_topic" and \
            int(policy.get("max_delivery_attempts") or 0) == attempts
        if not proof.require(ok, f"{subscription.address} dead-letters after {attempts} attempts",
                             f"a dead_letter_policy on {subscription.address} naming a topic, max_delivery_attempts "
                             f"{attempts}", subscription.at("dead_letter_policy")):
            return
        assert dead is not None
        agents = [b.at() for b in estate.referencing("google_pubsub_topic_iam_member", "topic", dead.block)
                  if PUBLISH in self.role_permissions(estate, b.stack, b.body.get("role"))
                  and PUBSUB_AGENT in str(b.body.get("member", ""))]
        proof.require(bool(agents), f"the Pub/Sub service agent may publish to {dead.block.address}",
                      f"{PUBLISH} on {dead.block.address} for the project's Pub/Sub service agent (it forwards "
                      "dead-lettered messages)", *agents)
        keepers = [b.at() for b in estate.referencing("google_pubsub_subscription", "topic", dead.block)]
        proof.require(bool(keepers), f"a subscription keeps the messages of {dead.block.address}",
                      f"a google_pubsub_subscription on {dead.block.address} (a topic without one drops the "
                      "dead-lettered messages)", *keepers)

    def _queue_deliver(self, need: Need, caller: Caller, ctx: Context, proof: Proof) -> None:
        trigger = need.trigger
        assert isinstance(trigger, QueueMessageTrigger)
        estate = ctx.estate
        topic = next((t for t in ctx.blocks_of(trigger.queue, "google_pubsub_topic")
                      if not str(t.body.get("name", "")).endswith("-dlq")), None)
        subscriptions = [b for b in ctx.blocks_of(trigger.queue, "google_pubsub_subscription")
                         if topic is not None and estate.references_block(b.stack, b.body.get("topic"), topic)]
        if not proof.require(bool(subscriptions), f"a subscription of {trigger.queue.address} holds its messages",
                             f"a google_pubsub_subscription on the topic of {trigger.queue.address}",
                             *[b.at() for b in subscriptions]):
            return
        self._pushes(proof, estate, caller, subscriptions[0], trigger.queue.max_attempts,
                     f"the messages of {trigger.queue.address}")

    def _function_call(self, need: Need, caller: Caller, ctx: Context, proof: Proof) -> None:
        """`function(name).invoke` (and `.request`): run.invoker on the callee's service and an ingress that admits
        the caller; `.send`: publish on the callee's calls topic, which pushes to it."""
        callee = need.target
        assert isinstance(callee, Function)
        estate = ctx.estate
        target = ctx.callers.get(callee)
        if target is None:
            proof.lack(f"a google_cloudfunctions2_function for {callee.address}")
            return
        var = contract.resource_var("function", callee.name)
        url = caller.environment.get(var, "")
        proof.require(urlparse(url).netloc == target.block.body.get("name"), f"{var} names {callee.address}",
                      f"{var} naming function {target.block.body.get('name')}", caller.env_location(var))
        member = self.member(caller, need, ctx, proof)
        if member is None:
            return
        if need.operation == "function.invoke":
            who = self._who(caller)
            if caller.placement.target != TARGET:
                proof.reach(Endpoint(f"gcp:{IMPERSONATION_API}"))
                proof.reach(Endpoint("gcp:run"))
                account = self._impersonated(proof, estate, caller, var, member, who)
                if account is None:
                    return
                member = estate.token(account, "member")
                who = f"service account {account.body.get('account_id') or account.address} (impersonated by {who})"
            found = self._invokers(estate, target, member)
            proof.require(bool(found), f"{who} may invoke {callee.address}",
                          f"{INVOKE} on the service of {target.block.address} for {who}", *found)
            ingress = self._ingress(target)
            proof.require(ingress in DIRECT_INGRESS, f"ingress {ingress} of {callee.address} admits functions",
                          f"ingress_settings ALLOW_ALL on {target.block.address} (it is {ingress}: another function "
                          "calls it over the internet)", *self._ingress_locations(target, DIRECT_INGRESS))
            return
        calls = (parse_qs(urlparse(url).query).get("calls") or [""])[0].partition("/")[2]
        topics = [t for t in estate.blocks("google_pubsub_topic") if t.body.get("name") == calls and calls]
        if not proof.require(bool(topics), f"{callee.address} has a calls topic {calls}",
                             f"the calls topic of {callee.address} named in {var}", caller.env_location(var)):
            return
        self._publish(proof, estate, caller, need, ctx, topics[0])
        pushing = estate.referencing("google_pubsub_subscription", "topic", topics[0])
        if proof.require(bool(pushing), f"a subscription delivers {calls}",
                         f"a google_pubsub_subscription on {topics[0].address}", *[b.at() for b in pushing]):
            self._pushes(proof, estate, target, pushing[0], 5, "sent calls")

    def _impersonated(self, proof: Proof, estate: Estate, caller: Caller, var: str, member: str,
                      who: str) -> Block | None:
        """The service account a caller on another cloud impersonates for its ID token (the URL's
        `service_account`): getOpenIdToken on it for the caller's principal set, and the IAM Credentials API."""
        named = (parse_qs(urlparse(caller.environment.get(var, "")).query).get("service_account") or [""])[0]
        accounts = estate.referenced_by(caller.block.stack, named, "google_service_account") if named else []
        if not proof.require(bool(accounts), f"{var} names the service account it impersonates",
                             f"service_account=<the invoker service account> in {var} (Cloud Run admits only a "
                             "Google-signed ID token, which a federated identity gets by impersonation)",
                             caller.env_location(var)):
            return None
        account = accounts[0]
        project = self.project(estate, account)
        email = estate.token(account, "email")
        self._require(proof, estate, OPEN_ID_TOKEN, "service_account", estate.token(account, "name"),
                      f"service account {estate.display(email)}", project, member, who)
        self.api(proof, estate, project, IMPERSONATION_API, "generateIdToken is served by the IAM Service Account "
                                                             "Credentials API")
        return account

    # -- invocations -----------------------------------------------------------------------------------------------
    def _service(self, estate: Estate, caller: Caller) -> str:
        return estate.token(caller.block, "service_config.0.service")

    def _invokers(self, estate: Estate, caller: Caller, member: str | None) -> list[Location]:
        """Bindings giving run.routes.invoke on the function's service to `member` (None = to allUsers)."""
        service = self._service(estate, caller)
        project = self.project(estate, caller.block)
        if member is not None:
            found, _ = self.holders(estate, INVOKE, "run", service, project, member)
            return [b for b, _ in found]
        found = []
        for tf_type in ("google_cloud_run_service_iam_member", "google_cloud_run_v2_service_iam_member"):
            attribute = _BINDINGS[tf_type][1]
            for binding in estate.where(tf_type, attribute, service, default=""):
                permissions = self.role_permissions(estate, binding.stack, binding.body.get("role"))
                if INVOKE in permissions and binding.body.get("member") in PUBLIC_MEMBERS:
                    found.append(binding.at())
        return found

    def _ingress(self, caller: Caller) -> str:
        return str(_one(caller.block.body.get("service_config")).get("ingress_settings") or DEFAULT_INGRESS)

    def _ingress_locations(self, caller: Caller, accepted: tuple[str, ...]) -> list[Location]:
        """Where the ingress setting is written; none when the provider's default would do as well."""
        if DEFAULT_INGRESS in accepted or not _one(caller.block.body.get("service_config")).get("ingress_settings"):
            return []
        path = ("service_config", 0) if isinstance(caller.block.body.get("service_config"), list) \
            else ("service_config",)
        return [caller.block.at(*path, "ingress_settings")]

    def _object_created(self, need: Need, caller: Caller, ctx: Context, proof: Proof) -> None:
        trigger = need.trigger
        assert isinstance(trigger, ObjectCreatedTrigger)
        estate = ctx.estate
        gcs = ctx.block_of(trigger.bucket, "google_storage_bucket")
        if gcs is None:
            proof.lack(f"a google_storage_bucket for {trigger.bucket.address}")
            return
        event = _one(caller.block.body.get("event_trigger"))
        bucket_name = estate.token(gcs, "name")
        filters = [i for i, f in enumerate(_items(event.get("event_filters")))
                   if f.get("attribute") == "bucket" and estate.canonical(caller.block.stack, f.get("value")) ==
                   bucket_name]
        ok = event.get("event_type") == OBJECT_FINALIZED and bool(filters)
        proof.require(ok, f"an Eventarc trigger sends {OBJECT_FINALIZED} of {bucket_name}",
                      f"an event_trigger on {caller.block.address} for {OBJECT_FINALIZED} filtered to bucket "
                      f"{bucket_name}", *[caller.block.at("event_trigger", "event_filters", i) for i in filters])
        self._filters(proof, estate, caller, trigger, bucket_name)
        account = estate.ref(caller.block.stack, event.get("service_account_email"))
        if account is None:
            proof.lack(f"a service account for the event trigger of {caller.block.address}")
            return
        member = estate.token(account.block, "member")
        project = self.project(estate, caller.block)
        who = f"trigger service account {account.block.body.get('account_id') or account.block.address}"
        for permission in EVENT_PERMISSIONS:
            self._require(proof, estate, permission, "project", project, f"project {project}", project, member, who)
        found = self._invokers(estate, caller, member)
        proof.require(bool(found), f"{INVOKE} on the function's service for {who}",
                      f"{INVOKE} on the service of {caller.block.address} for {who} (Eventarc calls it)", *found)
        agent = f"serviceAccount:(the Cloud Storage service agent of {project})"

        def build() -> dict[tuple[str, str], list[Block]]:  # (canonical project, canonical member) -> bindings
            table: dict[tuple[str, str], list[Block]] = {}
            for binding in estate.blocks("google_project_iam_member"):
                table.setdefault((estate.canonical(binding.stack, binding.body.get("project")),
                                  estate.canonical(binding.stack, binding.body.get("member"))), []).append(binding)
            return table
        members = estate.lookup((TARGET, "project_members"), build)
        publishers = [binding for binding in members.get((project, agent), ())
                      if PUBLISH in self.role_permissions(estate, binding.stack, binding.body.get("role"))]
        proof.require(bool(publishers), "the Cloud Storage service agent may publish notifications",
                      f"{PUBLISH} on project {project} for the Cloud Storage service agent (a google_project_iam_member"
                      " with roles/pubsub.publisher)", *[b.at() for b in publishers])
        if publishers and not any(b.stack != caller.block.stack for b in publishers):
            locations = [caller.block.at("depends_on", i) for i, entry in enumerate(
                caller.block.body.get("depends_on") or []) if entry in {b.address for b in publishers}]
            proof.require(bool(locations), f"{caller.block.address} is created after the agent's binding",
                          f"depends_on {publishers[0].address} in {caller.block.address} (Eventarc refuses to create"
                          " the trigger while the agent cannot publish)", *locations)
        else:
            self.ordered(proof, estate, caller.block, publishers,
                         "Eventarc refuses to create the trigger while the agent cannot publish")
        for api in EVENT_APIS:
            self.api(proof, estate, project, api, "Eventarc delivers Cloud Storage events through Pub/Sub",
                     before=caller.block)

    def _filters(self, proof: Proof, estate: Estate, caller: Caller, trigger: ObjectCreatedTrigger,
                 bucket_name: str) -> None:
        raw = caller.environment.get(TRIGGER_FILTERS_ENV, "")
        try:
            entries = json.loads(estate.canonical(caller.block.stack, raw)) if raw else []
        except json.JSONDecodeError:
            entries = []
        ok = any(e.get("bucket") == bucket_name and e.get("prefix", "") == trigger.prefix
                 and e.get("suffix", "") == trigger.suffix for e in entries if isinstance(e, Mapping))
        proof.require(ok, f"{TRIGGER_FILTERS_ENV} lets the runtime deliver the trigger's events",
                      f"an entry for bucket {bucket_name} (prefix {trigger.prefix!r}, suffix {trigger.suffix!r}) in "
                      f"{TRIGGER_FILTERS_ENV} (the runtime drops events no entry matches)",
                      caller.env_location(TRIGGER_FILTERS_ENV))

    def _schedule(self, need: Need, caller: Caller, ctx: Context, proof: Proof) -> None:
        trigger = need.trigger
        assert isinstance(trigger, ScheduleTrigger)
        estate = ctx.estate
        uri = estate.token(caller.block, "service_config.0.uri")
        def build() -> dict[tuple[str, str], list[Block]]:  # (canonical target URI, schedule) -> the jobs
            table: dict[tuple[str, str], list[Block]] = {}
            for job in estate.blocks("google_cloud_scheduler_job"):
                if isinstance(job.body.get("schedule"), str):
                    target_uri = estate.canonical(job.stack, _one(job.body.get("http_target")).get("uri", ""))
                    table.setdefault((target_uri, job.body["schedule"]), []).append(job)
            return table
        jobs = []
        for job in estate.lookup((TARGET, "scheduler_jobs"), build).get((uri, trigger.cron), ()):
            target = _one(job.body.get("http_target"))
            try:
                body = json.loads(base64.b64decode(str(target.get("body", ""))) or b"{}")
            except ValueError:
                body = {}
            if isinstance(body, Mapping) and body.get("platform_schedule") == trigger.cron \
                    and job.body.get("paused") is not True:
                jobs.append(job)
        proof.require(bool(jobs), f"a Cloud Scheduler job calls the function on {trigger.cron!r}",
                      f"a google_cloud_scheduler_job calling {caller.block.address} on {trigger.cron!r} with "
                      "platform_schedule in its body", *[j.at() for j in jobs])
        project = self.project(estate, caller.block)
        for job in jobs[:1]:
            oidc = _one(_one(job.body.get("http_target")).get("oidc_token"))
            account = estate.ref(job.stack, oidc.get("service_account_email"))
            if account is None:
                proof.lack(f"an OIDC service account on {job.address} (the function admits authenticated calls)")
                continue
            who = f"scheduler service account {account.block.body.get('account_id') or account.block.address}"
            found = self._invokers(estate, caller, estate.token(account.block, "member"))
            proof.require(bool(found), f"{INVOKE} on the function's service for {who}",
                          f"{INVOKE} on the service of {caller.block.address} for {who}", *found)
        self.api(proof, estate, project, SCHEDULER_API, "Cloud Scheduler runs the jobs",
                 before=jobs[0] if jobs else None)

    def _http(self, need: Need, caller: Caller, ctx: Context, proof: Proof) -> None:
        public = bool(need.trigger is not None and need.trigger.public)
        if not public:
            return  # authenticated callers bring their own run.invoker; the function only needs to exist
        estate = ctx.estate
        ingress = self._ingress(caller)
        proof.require(ingress in DIRECT_INGRESS, f"ingress {ingress} admits direct calls",
                      f"ingress_settings ALLOW_ALL on {caller.block.address} (it is {ingress})",
                      *self._ingress_locations(caller, DIRECT_INGRESS))
        found = self._invokers(estate, caller, None)
        proof.require(bool(found), "allUsers may invoke the function's service",
                      f"{INVOKE} on the service of {caller.block.address} for allUsers", *found)

    @staticmethod
    def _serverless_groups(estate: Estate) -> dict[str, list[Block]]:
        """Canonical function name -> the serverless network endpoint groups in front of it (`estate.blocks`
        order), built once per estate."""
        def build() -> dict[str, list[Block]]:
            table: dict[str, list[Block]] = {}
            for group in estate.blocks("google_compute_region_network_endpoint_group"):
                if group.body.get("network_endpoint_type") == "SERVERLESS":
                    function = estate.canonical(group.stack, _one(group.body.get("cloud_function")).get("function", ""))
                    table.setdefault(function, []).append(group)
            return table
        return estate.lookup((TARGET, "serverless_groups"), build)

    @staticmethod
    def _backend_services(estate: Estate, groups: list[Block]) -> list[Block]:
        """The backend services with one of `groups` as a backend: each once per group it names, ordered by
        backend service (`estate.blocks` order), then by group."""
        def build() -> dict[Block, list[tuple[int, Block]]]:
            table: dict[Block, list[tuple[int, Block]]] = {}
            for position, service in enumerate(estate.blocks("google_compute_backend_service")):
                named = dict.fromkeys(ref.block for backend in _items(service.body.get("backend"))
                                      for ref in estate.refs(service.stack, backend.get("group")))
                for group in named:
                    table.setdefault(group, []).append((position, service))
            return table
        table = estate.lookup((TARGET, "backend_services"), build)
        found = [(position, index, service) for index, group in enumerate(groups)
                 for position, service in table.get(group, ())]
        return [service for _, _, service in sorted(found, key=lambda item: item[:2])]

    def _cdn(self, need: Need, caller: Caller, ctx: Context, proof: Proof) -> None:
        cdn = need.target
        assert cdn is not None
        estate = ctx.estate
        name = estate.token(caller.block, "name")
        groups = self._serverless_groups(estate).get(name, [])
        backends = self._backend_services(estate, groups)
        route = need.route or DEFAULT_ROUTE
        maps = [m for m in ctx.blocks_of(cdn, "google_compute_url_map") for b in backends
                if any(estate.references_block(m.stack, service, b) for service in _route_services(m.body, route))]
        chain = bool(groups and backends and maps)
        proof.require(chain, f"{cdn.address} routes {route} to the function through a serverless NEG",
                      f"a url map of {cdn.address} sending {route} -> backend service -> serverless NEG for "
                      f"{caller.block.address}", *[g.at() for g in groups[:1]])
        if backends:
            proof.rely(f"{backends[0].address} serves the function", backends[0].at())
        ingress = self._ingress(caller)
        proof.require(ingress in LB_INGRESS, f"ingress {ingress} admits the load balancer",
                      f"ingress_settings ALLOW_INTERNAL_AND_GCLB on {caller.block.address} (it is {ingress})",
                      *self._ingress_locations(caller, LB_INGRESS))
        found = self._invokers(estate, caller, None)
        proof.require(bool(found), "the load balancer's unauthenticated requests may invoke the service",
                      f"{INVOKE} on the service of {caller.block.address} for allUsers (the load balancer sends no "
                      "credentials)", *found)

    # -- network ---------------------------------------------------------------------------------------------------
    def reach(self, caller: Caller, endpoint: Endpoint, ctx: Context, proof: Proof) -> None:
        trusted = ctx.trusted.get(caller.placement.cloud)
        if trusted is not None and endpoint.service in trusted.reaches:
            proof.rely(f"{endpoint} is reachable as {trusted.source} describes")
            return
        config = _one(caller.block.body.get("service_config"))
        if config.get("vpc_connector") and config.get("vpc_connector_egress_settings") == "ALL_TRAFFIC":
            proof.lack(f"a network path to {endpoint.service}: {caller.block.address} sends all traffic through "
                       f"VPC connector {config.get('vpc_connector')}, which the environment does not describe")
        # otherwise Google APIs and the internet are reachable directly

    # -- exposures -------------------------------------------------------------------------------------------------
    def exposures(self, caller: Caller, entry: EntryPoints, ctx: Context) -> list[tuple[str, str, str]]:
        estate = ctx.estate
        public = self._invokers(estate, caller, None)
        functions_public = [b for b in estate.referencing("google_cloudfunctions2_function_iam_member",
                                                          "cloud_function", caller.block)
                            if b.body.get("member") in PUBLIC_MEMBERS]
        ingress = self._ingress(caller)
        if not (public or functions_public) or ingress not in DIRECT_INGRESS or entry.public_url:
            return []
        around = (f"it can be reached around {', '.join(c.address for c in entry.cdns)}" if entry.cdns
                  else "the model declares no public http() trigger")
        cause = "http()" if entry.cdns else "declaration"
        return [(cause, "http.invoke", f"a public URL ({caller.block.address} ingress {ingress} with allUsers as "
                                       f"invoker): {around}")]


RULES = GcpRules()


def _route_services(url_map: Mapping[str, Any], route: str) -> list[Any]:
    """What serves `route` ("/*", "/api/*") in a URL map's body: the default services for the default route, else
    the services of route rules matching its prefix (`prefix_match` "/api/") or path rules listing it."""
    if route == DEFAULT_ROUTE:
        matchers = _items(url_map.get("path_matcher"))
        return [url_map.get("default_service"), *(m.get("default_service") for m in matchers)]
    found = []
    for matcher in _items(url_map.get("path_matcher")):
        for rule in _items(matcher.get("route_rules")):
            if any(m.get("prefix_match") == route[:-1] for m in _items(rule.get("match_rules"))):
                found.append(rule.get("service"))
        for rule in _items(matcher.get("path_rule")):
            if route in _items(rule.get("paths")):
                found.append(rule.get("service"))
    return found
