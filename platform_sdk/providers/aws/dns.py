"""DNS for AWS CDNs on a domain: the certificate's validation record and the alias records, in the environment's
Route 53 hosted zone (`[clouds.aws] dns_zone`), or the records to create listed for a zone elsewhere.

With a hosted zone the first apply completes on its own: the validation CNAME is created from the certificate's
`domain_validation_options` (one domain per certificate, so exactly one record), `aws_acm_certificate_validation`
waits for it by its FQDN, and `A`/`AAAA` alias records point the domain at the distribution.
https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/acm_certificate_validation
https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/route53_record#alias
https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/routing-to-cloudfront-distribution.html
With `dns_zone = "external"` nothing is created in DNS: the records are the stack output `cdn_<name>_dns_records`
and the first apply waits until the validation record resolves (synthesis says so).
"""

from __future__ import annotations

from typing import Any

from platform_sdk.cdk.engine import Fn
from platform_sdk.errors import warn
from platform_sdk.model import Cdn
from platform_sdk.providers.aws.common import rid
from platform_sdk.providers.aws.config import aws_config
from platform_sdk.providers.base import StackContext

EXTERNAL = "external"
VALIDATION_TTL = 60
ALIAS_TYPES = ("A", "AAAA")  # the distribution has IPv6 on (is_ipv6_enabled)


def zone_of(ctx: StackContext) -> str | None:
    """The environment's `[clouds.aws] dns_zone`: a hosted zone id, "external", or None (not named)."""
    config = aws_config(ctx.env)
    return config.dns_zone if config is not None else None


def hosted_zone(ctx: StackContext) -> str | None:
    """The Route 53 hosted zone id the platform writes records to, read as data once per stack; None without one."""
    zone = zone_of(ctx)
    if zone is None or zone == EXTERNAL:
        return None
    data = ctx.once("aws:dns_zone", lambda: ctx.data("aws_route53_zone", "dns_zone", {"zone_id": zone}))
    return data.ref("zone_id")  # type: ignore[no-any-return]


def _validation_option(cert: Any, key: str) -> str:
    """One field of the certificate's only validation option (a one-domain certificate has exactly one)."""
    return Fn.lookup(Fn.one(cert.interpolation_for_attribute("domain_validation_options")), key, "")  # type: ignore[no-any-return]


def validation_record_fqdns(ctx: StackContext, cdn: Cdn, cert: Any) -> list[str] | None:
    """With a hosted zone: the validation CNAME of `cert`, and its FQDN for `aws_acm_certificate_validation`;
    else None (the record is created outside, see `cdn_records`)."""
    zone = hosted_zone(ctx)
    if zone is None:
        return None
    record = ctx.resource("aws_route53_record", rid(ctx, cdn, "certificate_record"), {
        "zone_id": zone,
        "name": _validation_option(cert, "resource_record_name"),
        "type": _validation_option(cert, "resource_record_type"),
        "records": [_validation_option(cert, "resource_record_value")],
        "ttl": VALIDATION_TTL,
        "allow_overwrite": True,  # ACM reuses one validation name per domain: a re-created certificate finds it
    })
    return [record.ref("fqdn")]


def cdn_records(ctx: StackContext, cdn: Cdn, distribution: Any, cert: Any | None) -> None:
    """The records pointing `cdn.domain` at `distribution`: alias A/AAAA records in the hosted zone, or (external
    zone) the output `cdn_<name>_dns_records` listing every record to create, the certificate's validation CNAME
    first."""
    if not cdn.domain:
        return
    zone = hosted_zone(ctx)
    if zone is not None:
        for record_type in ALIAS_TYPES:
            ctx.resource("aws_route53_record", rid(ctx, cdn, f"alias_{record_type.lower()}"), {
                "zone_id": zone,
                "name": cdn.domain,
                "type": record_type,
                "alias": {"name": distribution.ref("domain_name"), "zone_id": distribution.ref("hosted_zone_id"),
                          "evaluate_target_health": False},
            })
        return
    if zone_of(ctx) != EXTERNAL:
        return  # no zone named: the validation records stay the output cdn_<name>_dns_validation, as before
    output = f"cdn_{cdn.name}_dns_records".replace("-", "_")
    records = [{"name": cdn.domain, "type": "CNAME", "value": distribution.ref("domain_name")}]
    if cert is not None:
        records.insert(0, {"name": _validation_option(cert, "resource_record_name"),
                           "type": _validation_option(cert, "resource_record_type"),
                           "value": _validation_option(cert, "resource_record_value")})
    ctx.output(output, records, description=f"DNS records to create for {cdn.domain} in its zone (outside AWS)")
    warn(f"CDN {cdn.address} on AWS serves {cdn.domain} from a DNS zone outside AWS (dns_zone = \"external\"): its "
         "first apply is two-phase. It requests the certificate and waits (up to 75 minutes) until the validation "
         f"CNAME resolves: create it as soon as the ACM console shows it; the records to create are then the output "
         f"{output} of stack {ctx.name} (`platform outputs --json`); apply again if the wait ran out",
         cdn.declared_in, cdn.declared_line)
