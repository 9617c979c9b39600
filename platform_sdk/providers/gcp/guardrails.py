"""GCP guardrails on the synthesized stacks: scoped roles, and which GCP resources carry the required labels."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from platform_sdk.rules import (
    ProductionAlarmsRouted,
    Rule,
    Violation,
    aliases_of,
    first_block,
    is_token,
    providers_of,
    read_stack,
    schema_types_with,
    stack_address,
    stack_resources,
)

if TYPE_CHECKING:
    from platform_sdk.envs import Environment
    from platform_sdk.profile import Profile

SCHEMA_FILE = Path(__file__).resolve().parent / "schemas" / "google.json"


def label_key(key: str) -> str:
    """A tag key as GCP accepts it as a label key (what `StackContext.labels` does)."""
    return re.sub(r"[^a-z0-9_-]", "-", key.lower())[:63]


def unlabelled(doc: Mapping[str, Any], required: list[str]) -> list[tuple[str, str, str]]:
    """(type, id, problem) for every labelled GCP resource without a required tag as a label."""
    blocks = providers_of(doc, "google")
    if not blocks:
        return []
    keys = [label_key(k) for k in required]
    defaults = first_block(blocks).get("default_labels") or {}
    labelled = schema_types_with(SCHEMA_FILE, "labels")
    found = []
    for rtype, rid, attrs in stack_resources(doc):
        if rtype == "google_sql_database_instance":
            # default_labels do not reach Cloud SQL: its labels are settings.user_labels, set explicitly
            labels = first_block(attrs.get("settings")).get("user_labels") or {}
        elif rtype in labelled:
            labels = {**defaults, **(attrs.get("labels") or {})}
        else:
            continue
        if is_token(labels):
            continue
        missing = [k for k in keys if k not in labels]
        if missing:
            where = "settings.user_labels" if rtype == "google_sql_database_instance" else "labels"
            found.append((rtype, rid, f"missing {where}: {', '.join(missing)}"))
    return found


BASIC_ROLES = frozenset({"roles/owner", "roles/editor", "roles/viewer"})
PROJECT_IAM_TYPES = ("google_project_iam_member", "google_project_iam_binding")


class GcpScopedRoles(Rule):
    """GCP least privilege: storage access is bound on the one bucket, and basic roles are never granted."""

    id = "iam.gcp-scoped-roles"
    description = "No storage role is bound on a GCP project (bind it on the bucket); no basic role is granted."
    fix = "bind roles/storage.* with google_storage_bucket_iam_member on the bucket; use predefined roles"

    def check_stacks(self, env: Environment, outdir: Path, stack_names: Sequence[str],
                     profile: Profile) -> list[Violation]:
        found: list[Violation] = []
        for stack in stack_names:
            for rtype, rid, attrs in stack_resources(read_stack(outdir, stack)):
                if not rtype.startswith("google_") or not rtype.endswith(("_iam_member", "_iam_binding")):
                    continue
                role = attrs.get("role")
                if not isinstance(role, str):
                    continue
                address, aliases = stack_address(stack, rtype, rid), aliases_of(outdir, stack, rtype, rid)
                if rtype in PROJECT_IAM_TYPES and role.startswith("roles/storage."):
                    found.append(self.violation(address, f"{role} is bound on the whole project",
                                                aliases=aliases))
                if role in BASIC_ROLES:
                    found.append(self.violation(address, f"grants the basic role {role}",
                                                fix="grant a predefined role for the one service it needs",
                                                aliases=aliases))
        return found


class GcpProductionAlarms(ProductionAlarmsRouted):
    """A Cloud Function is routed when a google_monitoring_alert_policy of its stack names its Cloud Run service
    (`resource.labels.service_name = "<function name>"`) in a condition and lists, in `notification_channels`, a
    google_monitoring_notification_channel (resolved across stacks: the channels live in the base stack)."""

    function_type = "google_cloudfunctions2_function"

    def routed(self, outdir: Path, docs: Mapping[str, Mapping[str, Any]], stack: str, rid: str,
               attrs: Mapping[str, Any]) -> bool:
        from platform_sdk.tfjson import Estate

        estate = Estate(docs)
        needle = f'resource.labels.service_name = "{attrs.get("name")}"'
        for rtype, _, body in stack_resources(docs.get(stack, {})):
            if rtype != "google_monitoring_alert_policy" or needle not in json.dumps(body.get("conditions")).replace(
                    '\\"', '"'):
                continue
            for channel in body.get("notification_channels") or []:
                ref = estate.ref(stack, channel)
                if ref is not None and ref.block.type == "google_monitoring_notification_channel":
                    return True
        return False
