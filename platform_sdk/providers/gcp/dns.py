"""DNS for GCP CDNs on a domain: the environment's Cloud DNS managed zone (`[clouds.gcp] dns_zone`), owned by or
referenced from the GCP base stack, and the A record to the load balancer's address in it; or, for a zone elsewhere
(`dns_zone = "external"`), a certificate authorized through DNS, a two-phase first apply and the records to create.

The zone belongs to the environment's base stack (`<env>-base-gcp`), never to a service stack a move may destroy:
a referenced zone (`dns_zone = "acme-dev"` or `{ id = "acme-dev", name = "dev.example.com" }`) is read there as
data, a zone `{ create = "dev.example.com" }` is created there (named `<prefix>-<env>-base-dns`); either way the base
stack outputs its name servers (`dns_zone_name_servers`, printed after apply for delegation). Service stacks name
the zone by its managed-zone name, known before apply (a literal, no cross-stack output). When the zone's DNS name
is known, a CDN domain outside it is refused at synthesis (`check_domain`).

In a managed zone a Google-managed certificate needs no validation record: Google provisions it once the domain's A
record resolves to the load balancer that serves it (load balancer authorization), so the first apply leaves
nothing to do by hand.
https://registry.terraform.io/providers/hashicorp/google/latest/docs/resources/dns_record_set
https://cloud.google.com/load-balancing/docs/ssl-certificates/google-managed-certs#update-dns

With `dns_zone = "external"` the certificate is a Certificate Manager certificate with a DNS authorization
(`google_certificate_manager_dns_authorization`: a CNAME `_acme-challenge.<domain>` to create), so it provisions
before any traffic reaches the load balancer, and the first apply is two-phase (`domain_ready`): until `platform
apply` has seen the records resolve, the stack builds the backends, the URL map, the address, the authorization and
the certificate, and no frontend (`cdn_<name>_dns_phase` = "certificate"); once they resolve, the next apply adds the
certificate map and the HTTPS (and redirecting HTTP) frontend (`cdn_<name>_dns_phase` = "complete"). The records to
create, the authorization's CNAME and the A record, are the stack output `cdn_<name>_dns_records`.
https://cloud.google.com/certificate-manager/docs/deploy-google-managed-dns-auth
https://registry.terraform.io/providers/hashicorp/google/latest/docs/resources/certificate_manager_dns_authorization
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from platform_sdk.cdk.engine import Fn
from platform_sdk.model import Cdn
from platform_sdk.providers.base import BaseNeeds, StackContext
from platform_sdk.providers.domains import EXTERNAL, check_in_zone, publish_phase, publish_zone
from platform_sdk.providers.gcp import naming, provider
from platform_sdk.providers.gcp.config import GcpDnsZone, gcp_config

TTL = 300
NEED = "dns"  # the base-stack need: the environment's zone
API = "dns.googleapis.com"
CERTIFICATE_MANAGER_API = "certificatemanager.googleapis.com"


@dataclass(frozen=True)
class Zone:
    """The environment's managed zone: its managed-zone name (`id`), its DNS name when known, whether the base stack
    creates it."""

    id: str
    name: str | None = None
    create: bool = False


def zone_of(ctx: StackContext) -> str | None:
    """The environment's `[clouds.gcp] dns_zone` as written when a string (a managed zone name or "external");
    "zone" for the table form; None when not named."""
    config = gcp_config(ctx.env)
    value = config.dns_zone if config is not None else None
    return "zone" if isinstance(value, GcpDnsZone) else value


def zone(ctx: StackContext) -> Zone | None:
    """The managed zone the platform writes records to; None without one (not named, or external)."""
    config = gcp_config(ctx.env)
    value = config.dns_zone if config is not None else None
    if isinstance(value, GcpDnsZone):
        if value.create is not None:
            created = naming.rfc1035(ctx.profile.physical_name(ctx.env, "base", "dns"))
            return Zone(id=created, name=value.create, create=True)
        assert value.id is not None
        return Zone(id=value.id, name=value.name)
    if value is None or value == EXTERNAL:
        return None
    return Zone(id=value)


# -- the base stack ------------------------------------------------------------------------------------------------
def record_needs(ctx: StackContext) -> None:
    """Ask the base stack for the environment's zone (every GCP stack: the zone is there before any CDN needs it)."""
    if zone(ctx) is not None:
        ctx.needs.add(NEED, "zone")
        provider.apis(ctx, API)


def compile_base(ctx: StackContext, needs: BaseNeeds) -> None:
    """In the base stack: the zone (read as data, or created) and its name servers and DNS name as outputs."""
    found = zone(ctx)
    if found is None or not needs.of(NEED):
        return
    block: Any
    if found.create:
        api = [b for b in ctx.document.blocks if b.construct_id == f"platform_api_{API.split('.', 1)[0]}"]
        block = ctx.resource("google_dns_managed_zone", "platform_dns_zone", {
            "name": found.id, "dns_name": f"{found.name}.", "visibility": "public", "labels": ctx.labels(),
            # signed from the start; resolvers validate once the parent zone holds its DS record
            "dnssec_config": {"state": "on"},
            "description": f"{ctx.env.name_prefix}-{ctx.env.name}: created by the platform's base stack; delegate "
                           "it from the parent zone to its name servers",
        }).after(*api)
    else:
        block = ctx.data("google_dns_managed_zone", "platform_dns_zone", {"name": found.id})
    publish_zone(ctx, block, "name", "dns_name", "Cloud DNS managed zone", "managed zone")


# -- service stacks ------------------------------------------------------------------------------------------------
def check_domain(ctx: StackContext, cdn: Cdn) -> None:
    """Refuse a domain outside the zone's known DNS name (providers/domains.py `check_in_zone`).

    Raises:
        EnvironmentError_: `cdn.domain` is not in the zone.
    """
    check_in_zone(ctx, cdn, "GCP")


def external(ctx: StackContext) -> bool:
    """The environment's CDN domains live in a zone outside Google Cloud (`dns_zone = "external"`)."""
    return zone_of(ctx) == EXTERNAL


def domain_ready(ctx: StackContext, cdn: Cdn) -> bool:
    """Whether `cdn.domain` is served in this synthesis: always but with `dns_zone = "external"`, where once
    `platform apply` has seen its records resolve (or applied it before)."""
    return not external(ctx) or not cdn.domain or ctx.env.domain_ready(cdn.domain, ctx.cloud)


def dns_authorized_certificate(ctx: StackContext, cdn: Cdn, name: str) -> tuple[Any, Any]:
    """External zone: the DNS authorization of `cdn.domain` and the Certificate Manager certificate it authorizes
    (global, Google-managed)."""
    provider.apis(ctx, CERTIFICATE_MANAGER_API)
    authorization = ctx.resource("google_certificate_manager_dns_authorization", f"{cdn.name}_dns_authorization", {
        "name": naming.rfc1035(f"{name}-dns-auth"), "domain": cdn.domain, "labels": ctx.labels(cdn),
    })
    cert = ctx.resource("google_certificate_manager_certificate", f"{cdn.name}_cert", {
        "name": naming.rfc1035(f"{name}-cert"), "labels": ctx.labels(cdn),
        "managed": {"domains": [cdn.domain], "dns_authorizations": [authorization.ref("id")]},
    })
    return authorization, cert


def certificate_map(ctx: StackContext, cdn: Cdn, name: str, cert: Any) -> str:
    """External zone, complete phase: a certificate map with one entry (`cdn.domain` -> `cert`) for the HTTPS
    proxy (a global external Application Load Balancer takes Certificate Manager certificates through a map)."""
    cert_map = ctx.resource("google_certificate_manager_certificate_map", f"{cdn.name}_cert_map", {
        "name": naming.rfc1035(f"{name}-cert-map"), "labels": ctx.labels(cdn),
    })
    ctx.resource("google_certificate_manager_certificate_map_entry", f"{cdn.name}_cert_map_entry", {
        "name": naming.rfc1035(f"{name}-cert-entry"), "map": cert_map.ref("name"), "hostname": cdn.domain,
        "certificates": [cert.ref("id")], "labels": ctx.labels(cdn),
    })
    return f"//certificatemanager.googleapis.com/{cert_map.ref('id')}"


def _authorization_field(authorization: Any, key: str) -> str:
    return Fn.lookup(Fn.one(authorization.ref("dns_resource_record")), key, "")  # type: ignore[no-any-return]


def cdn_records(ctx: StackContext, cdn: Cdn, address: Any, authorization: Any | None = None) -> None:
    """`cdn.domain` -> the load balancer's address: a record set in the managed zone, or (external zone) the
    outputs `cdn_<name>_dns_records` (the DNS authorization's CNAME, then the A record) and `cdn_<name>_dns_phase`."""
    if not cdn.domain:
        return
    found = zone(ctx)
    if found is not None:
        provider.apis(ctx, API)
        ctx.resource("google_dns_record_set", f"{cdn.name}_dns_a", {
            "managed_zone": found.id,
            "name": f"{cdn.domain}.",  # Cloud DNS names are fully qualified, with the trailing dot
            "type": "A",
            "ttl": TTL,
            "rrdatas": [address.ref("address")],
        })
        return
    if not external(ctx):
        return
    records = [{"name": cdn.domain, "type": "A", "value": address.ref("address")}]
    if authorization is not None:
        records.insert(0, {"name": _authorization_field(authorization, "name"),
                           "type": _authorization_field(authorization, "type"),
                           "value": _authorization_field(authorization, "data")})
    publish_phase(ctx, cdn, records, outside="Google Cloud", serves="the load balancer",
                  first_phase="requests the certificate (DNS authorization) and builds the load balancer without "
                              "its frontend")
