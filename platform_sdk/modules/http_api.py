"""HttpApi: an HTTP API declared as routes -> handlers in one source directory; one function per route.

Why one function per route (and not one function with a router): the neutral model has no API gateway, so a
router would have to ship inside every package; separate functions instead give each route its own grants
(least privilege: the read-only routes cannot write), its own memory and timeout, and a smaller blast radius.
The price: each route has its own URL (`api.route("GET /orders")` -> the Function, whose URL is published
as a stack output). Put routes that must share one URL behind one handler and route inside it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from platform_sdk.model import Bucket, Database, Function, FunctionSpec, http
from platform_sdk.model.function import HANDLER_PATTERN
from platform_sdk.modules.base import Module

ROUTE = re.compile(r"^(?:(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS|ANY) )?(/[A-Za-z0-9._~{}/-]*)$")


@dataclass(eq=False)
class Route:
    """One route's handler plus optional per-route settings that replace the API's.

    Attributes:
        handler: Required. `module.function` in the API's `source`. Raises `ModelError` (key
            `routes['<route>']`) unless it looks like that.
        memory: Memory in MB for this route's function. Default `None`: the API's `memory`. Validated like
            `FunctionSpec.memory`.
        timeout: Longest run in seconds for this route's function. Default `None`: the API's `timeout`.
            Validated like `FunctionSpec.timeout`.
        environment: Variables added to (and overriding) the API's `environment` for this route. Default `{}`.
            Validated like `FunctionSpec.environment`.
    """

    handler: str
    memory: int | None = None
    timeout: int | None = None
    environment: dict[str, str] = field(default_factory=dict)


def route_slug(route: str) -> str:
    """`GET /orders/{id}` -> `get-orders-id`: the default function name suffix of a route."""
    match = ROUTE.match(route)
    method = (match.group(1) if match else None) or "any"
    path = match.group(2) if match else route
    words = re.findall(r"[a-z0-9]+", path.lower())
    return "-".join([method.lower(), *words]) if words else f"{method.lower()}-root"


@dataclass(eq=False, kw_only=True)
class HttpApi(Module, FunctionSpec):
    """Routes (`"GET /orders"`, `"POST /orders"`, `"/health"` = any method) mapped to handlers in `source`.

    Each route becomes a Function named `<prefix><method>-<path words>` (override with `names={route: name}`)
    with a public (or, `public=False`, authenticated) HTTP trigger. The function receives every request sent
    to its URL; `HTTP_ROUTE` in its environment names the route it serves, so a handler may refuse other
    methods. Grant per route (`api.route("GET /orders").reads(bucket)`) or to all routes (`api.reads(bucket)`).

    Attributes:
        source: Required. The code's directory, relative to the file declaring the module.
        routes: Required. Route -> handler (`"orders.list_orders"`) or `Route(...)`; at least one. Raises
            `ModelError` (key `routes`) for a route that is not an optional method and a path.
        public: Anyone may call the routes' URLs. Default `True`. Raises `ModelError` (key `http.public`)
            unless a bool.
        runtime, memory, timeout, environment: every route's function settings, see `FunctionSpec` (units,
            defaults and errors); a `Route` may replace memory and timeout and add environment variables.
        functions: Route -> its `Function` part (not a constructor argument).
    """

    source: str | Path
    routes: Mapping[str, str | Route]
    public: bool = True
    functions: dict[str, Function] = field(init=False, repr=False, default_factory=dict)

    def templates(self) -> dict[str, str]:
        routes = self.routes if isinstance(self.routes, Mapping) else {}
        return {route: "{prefix}" + route_slug(route) for route in routes}

    def build(self) -> None:
        if not isinstance(self.routes, Mapping) or not self.routes:
            raise self.error("routes must map at least one route like 'GET /orders' to a handler", "routes",
                             self.routes)
        source = self.resolve(self.source)
        for route, target in self.routes.items():
            if not isinstance(route, str) or not ROUTE.match(route):
                raise self.error("a route is an optional method and a path, like 'GET /orders/{id}' or '/health'",
                                 "routes", route)
            spec = target if isinstance(target, Route) else Route(handler=target)
            if not isinstance(spec.handler, str) or not HANDLER_PATTERN.match(spec.handler):
                raise self.error("a route's handler looks like 'module.function'", f"routes[{route!r}]",
                                 spec.handler)
            settings = FunctionSpec.of(self)
            settings.update(memory=spec.memory or self.memory, timeout=spec.timeout or self.timeout,
                            environment={**self.environment, **spec.environment, "HTTP_ROUTE": route})
            fn = Function(self.part_name(route), handler=spec.handler, source=source,
                          triggers=[http(public=self.public)], **settings)
            self.functions[route] = self.add_part(route, fn)

    def route(self, route: str) -> Function:
        """The function serving one route."""
        if route not in self.functions:
            raise KeyError(f"{self.name}: no route {route!r} (routes: {', '.join(self.functions)})")
        return self.functions[route]

    def reads(self, bucket: Bucket) -> Self:
        """Every route may read `bucket` (see `Function.reads`)."""
        for fn in self.functions.values():
            fn.reads(bucket)
        return self

    def writes(self, bucket: Bucket) -> Self:
        """Every route may write `bucket` (see `Function.writes`)."""
        for fn in self.functions.values():
            fn.writes(bucket)
        return self

    def reads_writes(self, bucket: Bucket) -> Self:
        """Every route may read and write `bucket` (see `Function.reads_writes`)."""
        for fn in self.functions.values():
            fn.reads_writes(bucket)
        return self

    def uses(self, database: Database) -> Self:
        """Every route may connect to `database` (see `Function.uses`)."""
        for fn in self.functions.values():
            fn.uses(database)
        return self
