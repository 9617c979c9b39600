"""DNS for AWS CDNs on a domain: the environment's Route 53 hosted zone (`[clouds.aws] dns_zone`), owned by or
referenced from the AWS base stack, the certificate's validation record and the alias records in it; or, for a zone
elsewhere (`dns_zone = "external"`), a two-phase first apply and the records to create.

The zone belongs to the environment's base stack (`<env>-base-aws`), never to a service stack a move may destroy:
a referenced zone (`dns_zone = "Z..."` or `{ id = "Z...", name = "example.com" }`) is read there as data, a zone
`{ create = "dev.example.com" }` is created there; either way the base stack outputs its name servers
(`dns_zone_name_servers`, printed after apply for delegation). Service stacks write records into it: a referenced
zone's id is known before apply (a literal, no cross-stack output); a created zone's id is Route 53's own, so
service stacks read it by name (`aws_route53_zone`, applied after the base stack they depend on).
When the zone's DNS name is known, a CDN domain outside it is refused at synthesis (`domain_problem`).

With a hosted zone the first apply completes on its own: the validation CNAME is created from the certificate's
`domain_validation_options` (one domain per certificate, so exactly one record), `aws_acm_certificate_validation`
waits for it by its FQDN, and `A`/`AAAA` alias records point the domain at the distribution.
https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/acm_certificate_validation
https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/route53_record#alias
https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/routing-to-cloudfront-distribution.html

With `dns_zone = "external"` nothing is created in DNS, and the first apply is two-phase (`domain_ready`): until
`platform apply` has seen the records resolve, the stack requests the certificate and builds the distribution on its
own CloudFront name (no alias, no certificate validation to wait for); the records to create are the stack output
`cdn_<name>_dns_records` and `cdn_<name>_dns_phase` says "certificate". Once they resolve, the next apply validates
the certificate and puts the domain on the distribution (`cdn_<name>_dns_phase` = "complete").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from platform_sdk.cdk.engine import Fn
from platform_sdk.model import Cdn
from platform_sdk.providers.aws.common import rid
from platform_sdk.providers.aws.config import AwsDnsZone, aws_config
from platform_sdk.providers.base import BaseNeeds, StackContext
from platform_sdk.providers.domains import EXTERNAL, check_in_zone, publish_phase, publish_zone

VALIDATION_TTL = 60
ALIAS_TYPES = ("A", "AAAA")  # the distribution has IPv6 on (is_ipv6_enabled)
NEED = "dns"  # the base-stack need: the environment's zone


@dataclass(frozen=True)
class Zone:
    """The environment's hosted zone: an existing one (`id`) or one the base stack creates (`create`); `name` is its
    DNS name when known."""

    id: str | None = None
    name: str | None = None
    create: bool = False


def zone_of(ctx: StackContext) -> str | None:
    """The environment's `[clouds.aws] dns_zone` as written when a string (a hosted zone id or "external"); "zone"
    for the table form; None when not named."""
    config = aws_config(ctx.env)
    value = config.dns_zone if config is not None else None
    return "zone" if isinstance(value, AwsDnsZone) else value


def zone(env: Any) -> Zone | None:
    """The hosted zone the platform writes records to; None without one (not named, or external)."""
    config = aws_config(env)
    value = config.dns_zone if config is not None else None
    if isinstance(value, AwsDnsZone):
        return Zone(id=value.id, name=value.create or value.name, create=value.create is not None)
    if value is None or value == EXTERNAL:
        return None
    return Zone(id=value)


def check_shared_zones(env: Any, others: list[Any]) -> None:
    """Refuse `env` when another environment of the project creates the same public hosted zone in the same AWS
    account (`dns_zone = { create = "dev.example.com" }` in both): Route 53 accepts the second zone, and then every
    lookup of the zone by name (`data.aws_route53_zone`, which each stack's records use) matches two zones and
    fails. Environments whose account is unknown (no `clouds.aws.account`), or whose AWS is a stand-in, are not
    compared.

    Raises:
        EnvironmentError_: (key `clouds.aws.dns_zone`) naming both files and the zone.
    """
    from platform_sdk.errors import EnvironmentError_

    def created(environment: Any) -> tuple[str, str] | None:
        config = aws_config(environment)
        found = zone(environment)
        if config is None or config.account is None or found is None or not found.create or found.name is None \
                or environment.target_of("aws") != "aws":
            return None
        return config.account, found.name.rstrip(".").lower()

    mine = created(env)
    if mine is None:
        return
    for other in others:
        if created(other) == mine:
            raise EnvironmentError_(
                f"environment {env.name} creates the public hosted zone {mine[1]} in account {mine[0]}, and so does "
                f"environment {other.name} ({other.file}): with two zones of that name, the lookup of the zone by "
                "name each stack's DNS records use fails",
                file=env.file, key="clouds.aws.dns_zone", value=mine[1],
                hint="let one environment create it and the other name it by id: dns_zone = { id = \"Z...\", "
                     f"name = \"{mine[1]}\" }} (or give each environment its own zone, e.g. {env.name}.{mine[1]})")


# -- the base stack ------------------------------------------------------------------------------------------------
def record_needs(ctx: StackContext) -> None:
    """Ask the base stack for the environment's zone (every AWS stack: the zone is there before any CDN needs it)."""
    if zone(ctx.env) is not None:
        ctx.needs.add(NEED, "zone")


def compile_base(ctx: StackContext, needs: BaseNeeds) -> None:
    """In the base stack: the zone (read as data, or created) and its name servers and DNS name as outputs."""
    found = zone(ctx.env)
    if found is None or not needs.of(NEED):
        return
    block: Any
    if found.create:
        block = ctx.resource("aws_route53_zone", "platform_dns_zone", {
            "name": found.name, "comment": f"{ctx.env.name_prefix}-{ctx.env.name}: created by the platform's base "
                                          "stack; delegate it from the parent zone to its name servers"})
    else:
        block = ctx.data("aws_route53_zone", "platform_dns_zone", {"zone_id": found.id})
    publish_zone(ctx, block, "zone_id", "name", "Route 53 hosted zone", "hosted zone")


# -- service stacks ------------------------------------------------------------------------------------------------
def hosted_zone(ctx: StackContext) -> str | None:
    """The id of the hosted zone the platform writes records to, as this stack knows it; None without one."""
    found = zone(ctx.env)
    if found is None:
        return None
    if not found.create:
        return found.id
    data = ctx.once("aws:dns_zone", lambda: ctx.data("aws_route53_zone", "dns_zone",
                                                     {"name": found.name, "private_zone": False}))
    return data.ref("zone_id")  # type: ignore[no-any-return]


def check_domain(ctx: StackContext, cdn: Cdn) -> None:
    """Refuse a domain outside the zone's known DNS name (providers/domains.py `check_in_zone`).

    Raises:
        EnvironmentError_: `cdn.domain` is not in the zone.
    """
    check_in_zone(ctx, cdn, "AWS")


def domain_ready(ctx: StackContext, cdn: Cdn) -> bool:
    """Whether `cdn.domain` is served with its certificate in this synthesis: always with a hosted zone or none
    named; with `dns_zone = "external"` once `platform apply` has seen its records resolve (or applied it before)."""
    return zone_of(ctx) != EXTERNAL or not cdn.domain or ctx.env.domain_ready(cdn.domain, ctx.cloud)


def _validation_option(cert: Any, key: str) -> str:
    """One field of the certificate's only validation option (a one-domain certificate has exactly one)."""
    return Fn.lookup(Fn.one(cert.interpolation_for_attribute("domain_validation_options")), key, "")  # type: ignore[no-any-return]


def validation_record_fqdns(ctx: StackContext, cdn: Cdn, cert: Any) -> list[str] | None:
    """With a hosted zone: the validation CNAME of `cert`, and its FQDN for `aws_acm_certificate_validation`;
    else None (the record is created outside, see `cdn_records`)."""
    zone_id = hosted_zone(ctx)
    if zone_id is None:
        return None
    record = ctx.resource("aws_route53_record", rid(ctx, cdn, "certificate_record"), {
        "zone_id": zone_id,
        "name": _validation_option(cert, "resource_record_name"),
        "type": _validation_option(cert, "resource_record_type"),
        "records": [_validation_option(cert, "resource_record_value")],
        "ttl": VALIDATION_TTL,
        "allow_overwrite": True,  # ACM reuses one validation name per domain: a re-created certificate finds it
    })
    return [record.ref("fqdn")]


def cdn_records(ctx: StackContext, cdn: Cdn, distribution: Any, cert: Any | None) -> None:
    """The records pointing `cdn.domain` at `distribution`: alias A/AAAA records in the hosted zone, or (external
    zone) the outputs `cdn_<name>_dns_records`, every record to create, the certificate's validation CNAME first,
    and `cdn_<name>_dns_phase`."""
    if not cdn.domain:
        return
    zone_id = hosted_zone(ctx)
    if zone_id is not None:
        for record_type in ALIAS_TYPES:
            ctx.resource("aws_route53_record", rid(ctx, cdn, f"alias_{record_type.lower()}"), {
                "zone_id": zone_id,
                "name": cdn.domain,
                "type": record_type,
                "alias": {"name": distribution.ref("domain_name"), "zone_id": distribution.ref("hosted_zone_id"),
                          "evaluate_target_health": False},
            })
        return
    if zone_of(ctx) != EXTERNAL:
        return  # no zone named: the validation records stay the output cdn_<name>_dns_validation, as before
    records = [{"name": cdn.domain, "type": "CNAME", "value": distribution.ref("domain_name")}]
    if cert is not None:
        records.insert(0, {"name": _validation_option(cert, "resource_record_name"),
                           "type": _validation_option(cert, "resource_record_type"),
                           "value": _validation_option(cert, "resource_record_value")})
    publish_phase(ctx, cdn, records, outside="AWS", serves="the distribution",
                  first_phase="requests the certificate and builds the distribution on its CloudFront name")
