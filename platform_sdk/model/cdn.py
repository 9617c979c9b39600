"""The Cdn kind: a content delivery network in front of buckets and functions' HTTP triggers, routed by path."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

from platform_sdk.model.alarms import Alarms
from platform_sdk.model.base import Resource
from platform_sdk.model.bucket import Bucket
from platform_sdk.model.function import Function
from platform_sdk.model.triggers import HttpTrigger

DOMAIN_PATTERN = re.compile(r"^(?=.{4,253}$)([a-z0-9-]{1,63}\.)+[a-z]{2,63}$")
DEFAULT_ROUTE = "/*"
# "/*" or "/segment/.../*": a path prefix every cloud matches alike (CloudFront path patterns, GCP path matcher
# paths, where '*' may only end the path after a '/'); letters, digits and - . _ ~ in segments.
ROUTE_PATTERN = re.compile(r"^/(?:[A-Za-z0-9._~-]+/)*\*$")


@dataclass(eq=False)
class Cdn(Resource):
    """A content delivery network in front of buckets (static files) and functions' HTTP triggers, on one host.

    Nothing can be granted on a CDN: it is the public face of its origins.

    Attributes:
        name: Required. The neutral name, see `Resource`.
        origin: The one origin of a single-route CDN (shorthand for `routes={"/*": origin}`): the `Bucket` whose
            objects it serves (the bucket stays private), or a `Function` with an `http()` trigger, which the CDN
            then is the only way into (its own URL admits nothing else, `http()` or `http(public=False)` alike;
            GET and POST pass). Raises `ModelError` (key `origin`) for anything else or a function without an HTTP
            trigger. Default `None`: give `origin` or `routes` (one of them is required, not both).
        routes: Path pattern -> origin, like `{"/api/*": api, "/*": site}`: one host serving a site and its API.
            A pattern is `"/*"` or a path prefix ending in `/*` (`"/api/*"` matches `/api/x`, not `/api`);
            the longest matching prefix wins and `"/*"`, the default route, is required. A function route is
            never cached and takes every method (the whole request reaches the function, path included); a bucket
            route is cached and read-only. Default `None` (then `origin` is the only route). Raises `ModelError`
            (key `routes`, value the pattern) for a bad pattern or no default route, and (key
            `routes['<pattern>']`) for an origin that is not a `Bucket` or a `Function` with an `http()` trigger.
        domain: Serve on this DNS name, lowercase like `"img.example.com"` (the cloud issues the certificate).
            Default `None`: the cloud's own host name. Raises `ModelError` (key `domain`) otherwise.
        default_root_object: The object key served for `/`. Default `"index.html"`. Raises `ModelError` (key
            `default_root_object`) unless a non-empty key not starting with '/'.
        alarms: Thresholds of the CDN's alarm (`error_rate_5xx`: the share of 5xx responses), see `Alarms`. Default
            `Alarms()`: on, thresholds from the profile or the built-in defaults. Raises `ModelError` (key
            `alarms` or `alarms.<setting>`) unless an `Alarms` with valid CDN settings.

    Raises:
        ModelError: on any invalid setting, naming the file and line of the declaration, the key and the value.
    """

    kind: ClassVar[str] = "cdn"
    overridable: ClassVar[tuple[str, ...]] = ("domain", "default_root_object", "alarms")
    origin: Bucket | Function | None = None
    routes: dict[str, Bucket | Function] | None = None
    domain: str | None = None
    default_root_object: str = "index.html"
    alarms: Alarms = field(default_factory=Alarms)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.routes is None:
            self._check_origin(self.origin, "origin")
        else:
            self._check_routes()
        if self.domain is not None and (not isinstance(self.domain, str) or not DOMAIN_PATTERN.match(self.domain)):
            raise self.error("domain must be a lowercase DNS name like 'img.example.com'", "domain", self.domain)
        root = self.default_root_object
        if not isinstance(root, str) or not root or root.startswith("/"):
            raise self.error("default_root_object must be an object key like 'index.html'", "default_root_object",
                             root)
        if not isinstance(self.alarms, Alarms):
            raise self.error("alarms must be Alarms(...), like alarms=Alarms(error_rate_5xx=2)", "alarms", self.alarms)
        self.alarms.check(self.kind, self.error)

    def _check_origin(self, origin: object, key: str) -> None:
        if not isinstance(origin, (Bucket, Function)):
            raise self.error("a CDN origin must be a Bucket or a Function with an HTTP trigger", key,
                             getattr(origin, "address", origin))
        if isinstance(origin, Function) and not origin.trigger_of(HttpTrigger):
            raise self.error("a function used as CDN origin needs an http() trigger", key, origin.name)

    def _check_routes(self) -> None:
        if self.origin is not None:
            raise self.error("give origin (one route) or routes, not both", "routes", self.origin.name,
                             hint='put the origin under routes as "/*": ...')
        if not isinstance(self.routes, dict) or not self.routes:
            raise self.error('routes must map path patterns to origins, like {"/api/*": api, "/*": site}', "routes",
                             self.routes)
        for pattern, origin in self.routes.items():
            if not isinstance(pattern, str) or not ROUTE_PATTERN.match(pattern):
                raise self.error("a route pattern is '/*' or a path prefix ending in '/*', like '/api/*' (letters, "
                                 "digits, - . _ ~ between the slashes)", "routes", pattern)
            self._check_origin(origin, f"routes[{pattern!r}]")
        if DEFAULT_ROUTE not in self.routes:
            raise self.error("routes need the default route '/*' (where every path no other route matches goes)",
                             "routes", sorted(self.routes))

    @property
    def route_origins(self) -> dict[str, Bucket | Function]:
        """Path pattern -> origin, most specific first (longest prefix), the default route `"/*"` last; `origin`
        alone is `{"/*": origin}`."""
        routes = self.routes if self.routes is not None else {DEFAULT_ROUTE: self.origin}
        ordered = sorted(routes, key=lambda p: (p == DEFAULT_ROUTE, -len(p), p))
        return {p: routes[p] for p in ordered if routes[p] is not None}  # type: ignore[misc]

    @property
    def default_origin(self) -> Bucket | Function:
        """The origin of `"/*"`: what serves `/` (with `default_root_object` when it is a bucket)."""
        return self.route_origins[DEFAULT_ROUTE]

    @property
    def origins(self) -> tuple[Bucket | Function, ...]:
        """Every distinct origin, in route order (specific routes first, the default route's origin last)."""
        found: list[Bucket | Function] = []
        for origin in self.route_origins.values():
            if not any(origin is seen for seen in found):
                found.append(origin)
        return tuple(found)

    def routes_to(self, origin: Resource) -> list[str]:
        """The patterns whose origin is `origin`, most specific first."""
        return [p for p, o in self.route_origins.items() if o is origin]
