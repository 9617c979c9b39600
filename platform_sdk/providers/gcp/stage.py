"""A new stage's `[clouds.gcp]` (`platform env new qa --from dev`): what it copies from its source stage and what
it leaves out.

Copied: the project, region, billing account and an existing managed zone (`dns_zone = "acme-dev"`, `{ id, name }`,
`"external"`). The stage's physical names, custom roles included (`iam.custom_role_id`), differ from the source's by
the stage's name, and API enablement is shared (`disable_on_destroy = false`, base.py), so sharing a project is safe.
Left out, with a note:
- a managed zone the source's base stack creates (`dns_zone = { create = "dev.example.com" }`): one zone of a DNS
  name is the one its parent delegates to, and the stage references it once the source is applied;
- `[budget]` when the stage runs on GCP without `billing_account` (a stage moved onto GCP from the local cloud): a
  GCP budget is created in the Cloud Billing account that pays for the project
  (https://cloud.google.com/billing/docs/how-to/budgets), which only the user can name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from platform_sdk.providers.base import StageNote
from platform_sdk.providers.gcp.config import gcp_config
from platform_sdk.providers.gcp.conformance import TARGET

if TYPE_CHECKING:
    from platform_sdk.envs import Environment
    from platform_sdk.model import Service


def stage_settings(name: str, data: dict[str, Any], source: Environment, services: list[Service]) -> list[StageNote]:
    """Adjust stage `name`'s `[clouds.gcp]` and `[budget]` in `data` (copied from `source`) as the module docstring
    says; the notes say what was left out and why. Nothing to do when the stage's GCP is a stand-in."""
    section = (data.get("clouds") or {}).get("gcp")
    if not isinstance(section, dict) or "stand_in" in section:
        return []
    notes: list[StageNote] = []
    zone = section.get("dns_zone")
    if isinstance(zone, dict) and "create" in zone and gcp_config(source) is not None \
            and source.target_of("gcp") == TARGET:
        del section["dns_zone"]
        notes.append(StageNote("clouds.gcp", "dns_zone", zone, (
            f"{source.name}'s base stack creates this managed zone, the one its parent zone delegates to. Once "
            f"{source.name} is applied, reference it with dns_zone = {{ id = \"<the dns_zone_id output of "
            f"{source.name}'s base stack>\", name = \"{zone['create']}\" }}, or give {name} a zone of its own, e.g. "
            f"{{ create = \"{name}.{zone['create']}\" }}")))
    on_gcp = data.get("default_cloud") == TARGET or TARGET in (data.get("placement") or {}).values()
    if on_gcp and "budget" in data and "billing_account" not in section:
        notes.append(StageNote("", "budget", data.pop("budget"), (
            "on GCP a budget is created in the Cloud Billing account that pays for the project: add "
            "billing_account = \"XXXXXX-XXXXXX-XXXXXX\" under [clouds.gcp], then this table")))
    return notes
