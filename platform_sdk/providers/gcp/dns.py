"""DNS for GCP CDNs on a domain: the A record to the load balancer's address in the environment's Cloud DNS managed
zone (`[clouds.gcp] dns_zone`), or the record to create listed for a zone elsewhere.

A Google-managed certificate needs no validation record: Google provisions it once the domain's A record resolves
to the load balancer that serves it (load balancer authorization), so with a managed zone the first apply leaves
nothing to do by hand; with `dns_zone = "external"` the record is the stack output `cdn_<name>_dns_records` and the
certificate stays PROVISIONING until it resolves.
https://registry.terraform.io/providers/hashicorp/google/latest/docs/resources/dns_record_set
https://cloud.google.com/load-balancing/docs/ssl-certificates/google-managed-certs#update-dns
"""

from __future__ import annotations

from typing import Any

from platform_sdk.errors import warn
from platform_sdk.model import Cdn
from platform_sdk.providers.base import StackContext
from platform_sdk.providers.gcp import provider
from platform_sdk.providers.gcp.config import gcp_config

EXTERNAL = "external"
TTL = 300


def zone_of(ctx: StackContext) -> str | None:
    """The environment's `[clouds.gcp] dns_zone`: a managed zone name, "external", or None (not named)."""
    config = gcp_config(ctx.env)
    return config.dns_zone if config is not None else None


def cdn_records(ctx: StackContext, cdn: Cdn, address: Any) -> None:
    """`cdn.domain` -> the load balancer's address: a record set in the managed zone, or (external zone) the output
    `cdn_<name>_dns_records`."""
    zone = zone_of(ctx)
    if not cdn.domain or zone is None:
        return
    if zone != EXTERNAL:
        provider.apis(ctx, "dns.googleapis.com")
        ctx.resource("google_dns_record_set", f"{cdn.name}_dns_a", {
            "managed_zone": zone,
            "name": f"{cdn.domain}.",  # Cloud DNS names are fully qualified, with the trailing dot
            "type": "A",
            "ttl": TTL,
            "rrdatas": [address.ref("address")],
        })
        return
    output = f"cdn_{cdn.name}_dns_records".replace("-", "_")
    ctx.output(output, [{"name": cdn.domain, "type": "A", "value": address.ref("address")}],
               description=f"DNS records to create for {cdn.domain} in its zone (outside Google Cloud)")
    warn(f"CDN {cdn.address} on GCP serves {cdn.domain} from a DNS zone outside Google Cloud (dns_zone = "
         "\"external\"): its first apply is two-phase. It creates the load balancer and requests the certificate; "
         f"create the A record listed in the output {output} of stack {ctx.name} (`platform outputs --json`): "
         "Google provisions the certificate once it resolves (HTTPS answers from then on)",
         cdn.declared_in, cdn.declared_line)
