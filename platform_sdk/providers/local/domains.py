"""CDN domains on the local cloud: recorded on the route (the gateway serves on 127.0.0.1 whatever the domain), and,
for a stand-in of a cloud whose DNS zone is elsewhere (`[clouds.aws] stand_in = "local"` with `dns_zone =
"external"`), the same two-phase first apply that cloud has, so a rehearsal meets it before the cloud does.

The local cloud issues no certificate. What stands in for its request is a validation record the platform derives
from the environment, the stand-in's cloud and the domain (a TXT `_acme-challenge.<domain>`, as ACME's DNS challenge
names it), and the domain's own record: a CNAME to `<cloud>.localhost` (a name under `localhost.`, which resolves to
the loopback address where the gateway serves; RFC 6761 section 6.3). Each stand-in asks for records of its own, as
each cloud does (AWS: a CNAME to the distribution, GCP: an A record to the load balancer's address), so that a move
between two stand-ins needs the target's records created, and its serving record switched, as a move between the
clouds does. Until `platform apply` has seen both resolve, the route is built
without its domain (`cdn_<name>_dns_phase` = "certificate") and the apply stops, printing them (the stack output
`cdn_<name>_dns_records`); the next apply, once they resolve, records the domain (`complete`).
A stand-in whose section names a zone with its DNS name refuses a domain outside it, as its cloud does.
https://www.rfc-editor.org/rfc/rfc8555#section-8.4 (the `_acme-challenge` name),
https://www.rfc-editor.org/rfc/rfc6761#section-6.3 (`localhost.` names)
"""

from __future__ import annotations

import hashlib

from platform_sdk.model import Cdn
from platform_sdk.providers.base import StackContext
from platform_sdk.providers.domains import EXTERNAL, check_in_zone, publish_phase


def external(ctx: StackContext) -> bool:
    """This stand-in's section says its cloud's zone is elsewhere (`dns_zone = "external"`)."""
    return getattr(ctx.env.clouds.get(ctx.cloud), "dns_zone", None) == EXTERNAL


def records(ctx: StackContext, domain: str) -> list[dict[str, str]]:
    """The records the domain needs: the validation TXT record (a token derived from the environment, the cloud
    this stand-in stands in for and the domain, stable across applies), then the domain's CNAME to
    `<cloud>.localhost` (the loopback address, where the gateway serves)."""
    token = hashlib.sha256(f"{ctx.env.name_prefix}-{ctx.env.name}:{ctx.cloud}:{domain}".encode()).hexdigest()[:32]
    return [{"name": f"_acme-challenge.{domain}", "type": "TXT", "value": token},
            {"name": domain, "type": "CNAME", "value": f"{ctx.cloud}.localhost"}]


def route_domain(ctx: StackContext, cdn: Cdn) -> str | None:
    """The domain the route records in this synthesis (None: none, or the first phase of an external zone); with an
    external zone, the outputs `cdn_<name>_dns_records` and `cdn_<name>_dns_phase` as the cloud has them.

    Raises:
        EnvironmentError_: a stand-in's section names a zone (`dns_zone = { id, name }` or `{ create }`) the domain
            is not in: refused as its cloud refuses it (`check_in_zone`).
    """
    if ctx.cloud != "local":
        check_in_zone(ctx, cdn, f"{ctx.cloud.upper()} (stand-in: local)")
    if not cdn.domain or not external(ctx):
        return cdn.domain
    ready = publish_phase(ctx, cdn, records(ctx, cdn.domain), outside="the cloud", serves="the route")
    return cdn.domain if ready else None
