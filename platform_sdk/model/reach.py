"""How each function is reached: at its own URL, through a CDN route, or by its other triggers and callers.

A function answers at its own URL only with an `http()` trigger and no CDN in front: a CDN's origin admits only its
CDN (CloudFront origin access control, GCP load-balancer ingress, the local gateway's 403), and a function without
an HTTP trigger has no URL that serves it (the local gateway answers 404, AWS creates no function URL, a GCP
function's URL admits no caller). "Where things live" and `platform status` say so instead of printing a URL
that does not serve the function.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from platform_sdk.model.cdn import Cdn
from platform_sdk.model.function import Function
from platform_sdk.model.service import Service
from platform_sdk.model.triggers import HttpTrigger, ObjectCreatedTrigger, QueueMessageTrigger, ScheduleTrigger


@dataclass(frozen=True)
class Reach:
    """How one function is reached.

    Attributes:
        url: True when its own URL serves it (an `http()` trigger and no CDN in front).
        iam: True when that URL admits only callers granted `invokes` (`http(auth="iam")`).
        cdn_routes: (CDN address, path pattern) of each CDN route to it, like `("web.cdn", "/api/*")`.
        others: Its other triggers and callers, like `"queue svc.outbox"`, `"cron */5 * * * *"`,
            `"object created in svc.uploads"`, `"called by svc.api"`, in declaration order.
    """

    url: bool
    iam: bool
    cdn_routes: tuple[tuple[str, str], ...]
    others: tuple[str, ...]

    def describe(self, cdn_url: Callable[[str], str | None] = lambda address: None) -> str:
        """What to print in place of a URL when `url` is False: `via CDN <cdn url><pattern>` per CDN route
        (`cdn_url(address)` gives the CDN's URL; None: `via CDN <address> <pattern>`), then the other triggers,
        joined by ", "; `"no trigger"` when it has none (nothing calls it)."""
        parts = []
        for address, pattern in self.cdn_routes:
            base = cdn_url(address)
            parts.append(f"via CDN {base.rstrip('/')}{pattern}" if base else f"via CDN {address} {pattern}")
        parts += self.others
        return ", ".join(parts) or "no trigger"


def _trigger_text(trigger: object) -> str | None:
    if isinstance(trigger, ScheduleTrigger):
        return f"cron {trigger.cron}"
    if isinstance(trigger, QueueMessageTrigger):
        return f"queue {trigger.queue.address}"
    if isinstance(trigger, ObjectCreatedTrigger):
        keys = f"{trigger.prefix}*{trigger.suffix}" if trigger.prefix or trigger.suffix else ""
        return f"object created in {trigger.bucket.address}" + (f" ({keys})" if keys else "")
    return None


def reaches(services: Iterable[Service]) -> dict[str, Reach]:
    """Function address (`service.function`) -> how it is reached, for every function of `services`."""
    services = list(services)
    functions = [r for service in services for r in service if isinstance(r, Function)]
    cdns = [r for service in services for r in service if isinstance(r, Cdn)]
    callers: dict[int, list[str]] = {}
    for fn in functions:
        for target in dict.fromkeys(id(g.target) for g in fn.grants if g.access == "invoke"):
            callers.setdefault(target, []).append(fn.address)
    found = {}
    for fn in functions:
        routes = tuple((cdn.address, pattern) for cdn in cdns for pattern in cdn.routes_to(fn))
        http = fn.trigger_of(HttpTrigger)
        others = [text for text in map(_trigger_text, fn.triggers) if text]
        if callers.get(id(fn)):
            others.append(f"called by {', '.join(callers[id(fn)])}")
        found[fn.address] = Reach(url=bool(http) and not routes, iam=bool(http) and http[0].iam,
                                  cdn_routes=routes, others=tuple(others))
    return found
