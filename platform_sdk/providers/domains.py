"""What every cloud's CDN domains share: the `dns_zone` value of a zone outside the clouds, the two phases of such a
domain's apply, and the stack outputs that tell `platform apply` where it stands (docs/domains.md).

Each plug-in builds its own records and certificates; `publish_phase` gives every one of them the same two outputs,
`cdn_<name>_dns_records` (the records to create in the zone) and `cdn_<name>_dns_phase`, which
`platform_sdk.commands.dns_phase` and the "Where things live" listing read.
"""

from __future__ import annotations

from typing import Any

from platform_sdk.model import Cdn
from platform_sdk.providers.base import StackContext

EXTERNAL = "external"
"""`[clouds.<cloud>] dns_zone = "external"`: the zone is outside the cloud; the platform cannot create records."""
PHASE_CERTIFICATE = "certificate"
"""The first phase: the certificate is requested, its records are to be created, the domain is not served yet."""
PHASE_COMPLETE = "complete"
"""The domain is served with its certificate."""


def output_name(cdn: Cdn, what: str) -> str:
    """The stack output `cdn_<name>_<what>` of a CDN (`-` becomes `_`: Terraform output names)."""
    return f"cdn_{cdn.name}_{what}".replace("-", "_")


def publish_zone(ctx: StackContext, block: Any, id_attribute: str, name_attribute: str, kind: str, short: str) -> None:
    """The base stack's outputs of the environment's zone `block` (read or created): `dns_zone_id`, `dns_zone_name`
    and `dns_zone_name_servers` (printed after apply for delegation); `kind` names it ("Route 53 hosted zone"),
    `short` too ("hosted zone")."""
    ctx.output("dns_zone_id", block.ref(id_attribute), description=f"The environment's {kind}")
    ctx.output("dns_zone_name", block.ref(name_attribute), description=f"The DNS name of the environment's {short}")
    ctx.output("dns_zone_name_servers", block.ref("name_servers"),
               description=f"Name servers of the environment's {short}: delegate to them (NS records in the parent "
                           "zone)")


def publish_phase(ctx: StackContext, cdn: Cdn, records: list[dict[str, Any]], outside: str, serves: str,
                  first_phase: str | None = None) -> bool:
    """Output the records to create for `cdn.domain` in its zone (outside `outside`) and the phase its apply is in;
    whether the domain is served in this synthesis (`Environment.domain_ready`: its records resolved, or a
    synthesis alone). While it is not, and `first_phase` says what this apply builds of it, a warning at the CDN's
    line says so (a cloud's plug-in; the local stand-in has no certificate to request)."""
    from platform_sdk.errors import warn

    ready = ctx.env.domain_ready(cdn.domain or "", ctx.cloud)
    ctx.output(output_name(cdn, "dns_records"), records,
               description=f"DNS records to create for {cdn.domain} in its zone (outside {outside})")
    ctx.output(output_name(cdn, "dns_phase"), PHASE_COMPLETE if ready else PHASE_CERTIFICATE,
               description=f"{PHASE_CERTIFICATE!r}: the certificate of {cdn.domain} is requested, its records are "
                           f"to be created; {PHASE_COMPLETE!r}: {serves} serves it")
    if not ready and first_phase:
        warn(f"CDN {cdn.address} serves {cdn.domain} from a DNS zone outside {outside} (dns_zone = \"external\"): "
             f"its first apply is two-phase. This apply {first_phase} and prints the records to create (also the "
             f"output {output_name(cdn, 'dns_records')} of stack {ctx.name}, `platform outputs --json`); the rest of "
             f"the environment applies as usual. The next apply checks they resolve and {serves} then serves "
             f"{cdn.domain}", cdn.declared_in, cdn.declared_line)
    return ready


def _name(domain: str) -> str:
    return domain.lower().rstrip(".")


def refuse_shared_domains(env: Any, services: list[Any]) -> None:
    """Refuse two CDNs serving the same domain (after the environment's overrides), whatever their clouds: each
    would get its certificate, alias and records, and the cloud refuses the second at apply (CloudFront: a CNAME
    already associated with another distribution).
    https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/CNAMEs.html#alternate-domain-names-restrictions

    Raises:
        EnvironmentError_: (the environment file, key `overrides."<cdn>".domain`) when an override makes the domain
            shared; PlatformError (the service file and line of the second CDN) when the code itself declares it twice.
    """
    from platform_sdk.errors import EnvironmentError_, PlatformError

    claimed: dict[str, Cdn] = {}
    for service in services:
        for cdn in service.of(Cdn):
            if not cdn.domain:
                continue
            first = claimed.setdefault(_name(cdn.domain), cdn)
            if first is cdn:
                continue
            message = (f"CDN {first.address} and CDN {cdn.address} both serve {cdn.domain}: a domain is served by one "
                       "CDN (its certificate, alias and records are that CDN's; the cloud refuses the second at "
                       "apply). Give one of them another domain")
            overridden = [c for c in (cdn, first) if "domain" in env.overrides.get(c.address, {})]
            if overridden:
                raise EnvironmentError_(message, file=env.file, key=f'overrides."{overridden[0].address}".domain',
                                        value=cdn.domain)
            raise PlatformError(message, file=cdn.declared_in, line=cdn.declared_line, key="domain", value=cdn.domain)


def in_zone(domain: str, zone_name: str) -> bool:
    """Whether `domain` is `zone_name` or a name under it (case-insensitive, trailing dots ignored)."""
    return _name(domain) == _name(zone_name) or _name(domain).endswith("." + _name(zone_name))


def zone_name(section: Any) -> str | None:
    """The DNS name of a cloud section's `dns_zone` when the environment says it (the table forms `{ id, name }` and
    `{ create }`, on every cloud); None otherwise (a zone id alone, "external", none)."""
    value = getattr(section, "dns_zone", None)
    return getattr(value, "create", None) or getattr(value, "name", None)


def check_in_zone(ctx: StackContext, cdn: Cdn, where: str) -> None:
    """Refuse `cdn.domain` outside the DNS name of the zone its cloud section names (`where`: how the message names
    the cloud, e.g. "AWS (stand-in: local)"), so that a stand-in refuses what its cloud refuses.

    Raises:
        EnvironmentError_: naming the environment file and key `overrides."<cdn>".domain` when the environment sets
            the domain, else the line of the service file that declares the CDN; and the domain.
    """
    from platform_sdk.errors import EnvironmentError_

    name = zone_name(ctx.env.clouds.get(ctx.cloud))
    if not cdn.domain or name is None or in_zone(cdn.domain, name):
        return
    message = (f"CDN {cdn.address} on {where}: domain {cdn.domain} is not in zone {name} ([clouds.{ctx.cloud}] "
               f"dns_zone of {ctx.env.file}): records for it cannot be created there")
    if "domain" in ctx.env.overrides.get(cdn.address, {}):
        raise EnvironmentError_(message, file=ctx.env.file, key=f'overrides."{cdn.address}".domain',
                                value=cdn.domain)
    raise EnvironmentError_(message, file=cdn.declared_in, line=cdn.declared_line, key="domain", value=cdn.domain)
