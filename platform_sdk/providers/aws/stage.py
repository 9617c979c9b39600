"""A new stage's `[clouds.aws]` (`platform env new qa --from dev`): what it copies from its source stage, what it
references of the source's instead of building it again, and what it leaves out.

Copied: the account, Region, endpoint, an existing hosted zone (`dns_zone = "Z..."`, `{ id, name }`,
`"external"`), the VPC and its subnets. The stage's physical names differ from the source's by the stage's name
(`<name_prefix>-<stage>-...`), so sharing an account is safe for everything the service stacks build. What exists
once per account or VPC, which the source's base stack builds (platform_sdk.providers.aws.network), is not built a
second time:
- `[clouds.aws.network] nat = "create"` becomes `nat = "existing"`: the source's NAT gateway routes the same subnets
  (a subnet is associated with one route table, https://docs.aws.amazon.com/vpc/latest/userguide/VPC_Route_Tables.html);
- the S3 gateway endpoint the source builds in the VPC (`network.builds_s3_gateway`) is declared existing,
  `endpoints = [..., "s3"]` (a route table holds one route per prefix list,
  https://docs.aws.amazon.com/vpc/latest/userguide/vpce-gateway.html);
- a hosted zone the source creates (`dns_zone = { create = "dev.example.com" }`) is left out, with a note: its id
  exists only once the source is applied, and two public zones of one name in an account make the lookup by name
  fail (https://registry.terraform.io/providers/hashicorp/aws/latest/docs/data-sources/route53_zone).
A stage in another Region than its source leaves out `[clouds.aws.network]` (a VPC belongs to one Region): it uses
that Region's default VPC until the section names one of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from platform_sdk.providers.aws.common import TARGET
from platform_sdk.providers.aws.config import aws_config
from platform_sdk.providers.aws.network import builds_s3_gateway
from platform_sdk.providers.base import StageNote

if TYPE_CHECKING:
    from platform_sdk.envs import Environment
    from platform_sdk.model import Service

NETWORK = "clouds.aws.network"


def stage_settings(name: str, data: dict[str, Any], source: Environment, services: list[Service]) -> list[StageNote]:
    """Adjust stage `name`'s `[clouds.aws]` in `data` (copied from `source`) as the module docstring says; the notes
    say what changed and why. Nothing to do when the stage or the source has no AWS of its own (a stand-in)."""
    section = (data.get("clouds") or {}).get("aws")
    built = aws_config(source)
    if not isinstance(section, dict) or "stand_in" in section or built is None or source.target_of("aws") != TARGET:
        return []
    notes: list[StageNote] = []
    zone = section.get("dns_zone")
    if isinstance(zone, dict) and "create" in zone:
        del section["dns_zone"]
        notes.append(StageNote("clouds.aws", "dns_zone", zone, (
            f"{source.name}'s base stack creates this hosted zone, and two public zones of one name in an account "
            f"make the lookup by name fail. Once {source.name} is applied, reference it with dns_zone = "
            f"{{ id = \"<the dns_zone_id output of {source.name}'s base stack>\", name = \"{zone['create']}\" }}, "
            f"or give {name} a zone of its own, e.g. {{ create = \"{name}.{zone['create']}\" }}")))
    network = section.get("network")
    if section.get("region") != built.region:
        if network is not None:
            del section["network"]
            notes.append(StageNote("clouds.aws", "network", network, (
                f"a VPC belongs to one Region, and {name} is in {section.get('region')}, not {built.region}: it uses "
                "that Region's default VPC until [clouds.aws.network] names one of its own")))
        return notes
    network = dict(network or {})
    if network.get("nat") == "create":
        network["nat"] = "existing"
        subnet = network.pop("nat_subnet_id", None)
        notes.append(StageNote(NETWORK, "nat", "create", (
            f"{source.name}'s base stack builds the NAT gateway in {subnet} for the same subnets, and a subnet takes "
            f"one route table: {name} routes through it"), now="existing"))
    endpoints = list(network.get("endpoints") or [])
    if builds_s3_gateway(source, services) and "s3" not in endpoints:
        network["endpoints"] = [*endpoints, "s3"]
        notes.append(StageNote(NETWORK, "endpoints", endpoints, (
            f"{source.name}'s base stack builds the VPC's S3 gateway endpoint, and a route table holds one route to "
            f"S3: {name} uses it"), now=network["endpoints"]))
    if network:
        section["network"] = network
    return notes
