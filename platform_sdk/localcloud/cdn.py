"""`localcloud_cdn_route`: a CDN route as a JSON file the local gateway serves under /cdn/<name>/."""

from __future__ import annotations

from pathlib import Path

from tf.types import Unknown
from tf.utils import Diagnostics

from platform_sdk.localcloud.base import (
    STRING,
    STRING_MAP,
    LocalResource,
    State,
    check_name,
    computed,
    optional,
    read_json,
    required,
    write_json,
)

ORIGINS = ("origin_bucket", "origin_function")
PATH_ROUTES = {"path_buckets": "bucket", "path_functions": "function"}
SETTINGS = (*ORIGINS, "domain", *PATH_ROUTES)


class CdnRoute(LocalResource):
    """A route from /cdn/<name>/ on the gateway to a default origin (a bucket or a function) and, optionally, other
    origins by path prefix (`path_buckets` / `path_functions`: pattern like "/api/*" -> name; the longest matching
    prefix wins, the default origin serves the rest)."""

    type_suffix = "cdn_route"
    attributes = [
        computed("id", STRING, "Same as name."),
        required("name", STRING, "Route name (first path segment under /cdn/).", replace=True),
        optional("origin_bucket", STRING, "Name of the bucket to serve (set exactly one origin)."),
        optional("origin_function", STRING, "Name of the function to serve (set exactly one origin)."),
        optional("path_buckets", STRING_MAP, "Path pattern ('/assets/*') -> bucket served for it."),
        optional("path_functions", STRING_MAP, "Path pattern ('/api/*') -> function called for it."),
        optional("domain", STRING, "Custom domain (recorded; the gateway serves on 127.0.0.1)."),
        computed("path", STRING, "Absolute path of the route file.", replace=True),
        computed("url", STRING, "URL of the route on the local gateway."),
    ]

    def validate(self, diags: Diagnostics, config: State) -> None:
        super().validate(diags, config)
        for attr in ORIGINS:
            check_name(diags, config.get(attr), attr)
        for attr in PATH_ROUTES:
            paths = config.get(attr)
            if isinstance(paths, dict):
                for pattern, target in paths.items():
                    check_name(diags, target, f"{attr}[{pattern!r}]")
                    if not (pattern.startswith("/") and pattern.endswith("/*")):
                        diags.add_error(f"Invalid {attr} pattern {pattern!r}",
                                        "A path pattern is a prefix ending in '/*', like '/api/*'.")
        values = [config.get(attr) for attr in ORIGINS]
        if any(v is Unknown for v in values):
            return  # decided at apply time; both may not be known during validation
        set_count = sum(v is not None for v in values)
        if set_count != 1:
            diags.add_error(
                "Exactly one of origin_bucket and origin_function must be set",
                f"Got {set_count}: a CDN route serves either a bucket or a function.",
            )

    def computed_values(self, state: State) -> State:
        name, root = state.get("name"), self.provider.root_or_unknown()
        values: State = {
            "id": name,
            "path": Unknown,
            "url": Unknown if name is Unknown else self.provider.gateway_url(f"/cdn/{name}/"),
        }
        if name is not Unknown and root is not Unknown:
            values["path"] = str(root / "cdn" / f"{name}.json")
        return values

    def _write(self, diags: Diagnostics, planned: State) -> State | None:
        state = self.finish(planned)
        if sum(state.get(attr) is not None for attr in ORIGINS) != 1:
            diags.add_error("Exactly one of origin_bucket and origin_function must be set")
            return None
        route = {key: state.get(key) for key in SETTINGS}
        if state.get("origin_bucket") is not None:
            route["origin"] = {"kind": "bucket", "name": state["origin_bucket"]}
        else:
            route["origin"] = {"kind": "function", "name": state["origin_function"]}
        route["paths"] = [{"pattern": pattern, "kind": kind, "name": name}
                          for attr, kind in PATH_ROUTES.items() for pattern, name in (state.get(attr) or {}).items()]
        route.update(name=state["name"], url=state["url"])
        write_json(Path(state["path"]), route)
        return state

    def create(self, diags: Diagnostics, planned: State) -> State | None:
        return self._write(diags, planned)

    def update(self, diags: Diagnostics, prior: State, planned: State) -> State | None:
        return self._write(diags, planned)

    def read(self, diags: Diagnostics, current: State) -> State | None:
        route = read_json(Path(current.get("path") or self.computed_values(current)["path"]))
        if not isinstance(route, dict):
            return None
        state = dict(current)
        for key in SETTINGS:
            if key in route:
                state[key] = route[key]
        return state

    def delete(self, diags: Diagnostics, prior: State) -> None:
        Path(prior["path"]).unlink(missing_ok=True)
