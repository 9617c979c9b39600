"""The GCP base stack (`<env>-base-gcp`): every project-wide prerequisite of one environment, with one owner.

Service stacks say what they need while they compile (`ctx.needs`, platform_sdk.providers.base.BaseNeeds) and
depend on this stack, so it is applied before them and destroyed after them; a move never moves it. Kinds:

- "api": one google_project_service per Google API a compiler uses, `disable_on_destroy = false` (APIs are
  shared with every person and tool in the project: destroying the platform's stacks never switches one off).
- "agent": "gcs-publisher": the project's Cloud Storage service agent as roles/pubsub.publisher on the project
  (object-created triggers: Cloud Storage publishes to the Pub/Sub topics Eventarc reads).
  https://cloud.google.com/eventarc/docs/run/create-trigger-storage-gcloud#before-you-begin
- "kms": "storage" | "sql" | "secretmanager": that service agent may use the profile's customer-managed key.
- "dns": "zone": the environment's Cloud DNS managed zone, read as data or created (dns.py).
- "role": custom roles by name (iam.CUSTOM_ROLES). A deleted custom role's id stays reserved for weeks
  (https://cloud.google.com/iam/docs/creating-custom-roles#deleting-custom-role), so a custom role must never
  belong to a stack a move may destroy.
"""

from __future__ import annotations

from platform_sdk.providers.base import BaseNeeds, StackContext
from platform_sdk.providers.gcp import dns, iam, kms, provider
from platform_sdk.providers.gcp.function import GCS_PUBLISHER


def compile_base(ctx: StackContext, needs: BaseNeeds) -> None:
    """Build every need of the environment's GCP service stacks into the base stack `ctx`."""
    project = provider.project_id(ctx)
    for service in needs.of("api"):
        short = service.split(".", 1)[0]
        ctx.resource("google_project_service", f"platform_api_{short}", {
            "project": project, "service": service, "disable_on_destroy": False, "disable_dependent_services": False,
        })
    if GCS_PUBLISHER in needs.of("agent"):
        agent = provider.gcs_agent(ctx)
        iam.project_member(ctx, "platform_gcs_agent_publisher", iam.GCS_AGENT_PUBLISHER, agent.ref("member"))
    kms.key_members(ctx, needs.of("kms"))
    iam.custom_roles(ctx, needs.of("role"))
    dns.compile_base(ctx, needs)
