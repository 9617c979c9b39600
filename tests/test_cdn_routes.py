"""Issue 18.2, the model and the local cloud: `Cdn(routes={...})` validation, its route order, StaticSite's routes,
and `localcloud_cdn_route` serving each route (the end-to-end run through the gateway is in test_dev_gateway.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from platform_sdk.errors import ModelError
from platform_sdk.localcloud.registry import CloudRoot, Registry
from platform_sdk.model import Bucket, Cdn, Function, http, schedule
from platform_sdk.modules import StaticSite

HERE = Path(__file__).resolve()


def lineno(marker: str) -> int:
    """The line of this file holding `marker` (errors must point at the user's line)."""
    for number, line in enumerate(HERE.read_text().splitlines(), start=1):
        if marker in line and "lineno(" not in line:
            return number
    raise AssertionError(marker)


def api() -> Function:
    return Function("api", handler="api.handle", triggers=[http()])


def test_routes_give_every_origin_and_order_the_patterns_most_specific_first() -> None:
    site, fn, assets = Bucket("site"), api(), Bucket("assets")
    cdn = Cdn("web", routes={"/*": site, "/api/*": fn, "/api/v2/*": fn, "/assets/*": assets})
    assert list(cdn.route_origins) == ["/api/v2/*", "/assets/*", "/api/*", "/*"]
    assert cdn.default_origin is site and cdn.origin is None
    assert cdn.origins == (fn, assets, site)
    assert cdn.routes_to(fn) == ["/api/v2/*", "/api/*"]
    one = Cdn("one", origin=site)  # the shorthand is the default route alone
    assert one.route_origins == {"/*": site} and one.origins == (site,) and one.routes is None


@pytest.mark.parametrize(("routes", "key", "value", "message"), [
    ({"/api/*": api()}, "routes", ["/api/*"], "default route '/*'"),
    ({"/*": Bucket("b"), "/api": "API"}, "routes", "/api", "path prefix ending in '/*'"),
    ({"/*": Bucket("b"), "api/*": "API"}, "routes", "api/*", "path prefix ending in '/*'"),
    ({"/*": Bucket("b"), "/a*/*": "API"}, "routes", "/a*/*", "path prefix ending in '/*'"),
    ({"/*": Bucket("b"), "/a b/*": "API"}, "routes", "/a b/*", "path prefix ending in '/*'"),
    ({"/*": Bucket("b"), "/api/*": "API"}, "routes['/api/*']", "API", "a Bucket or a Function"),
    ({"/*": Bucket("b"), "/jobs/*": Function("job", handler="j.run", triggers=[schedule("0 1 * * *")])},
     "routes['/jobs/*']", "job", "needs an http() trigger"),
    ({}, "routes", {}, "map path patterns to origins"),
    (["/*"], "routes", ["/*"], "map path patterns to origins"),
])
def test_bad_routes_name_the_line_the_key_and_the_value(routes: object, key: str, value: object,
                                                        message: str) -> None:
    with pytest.raises(ModelError) as err:
        Cdn("web", routes=routes)  # type: ignore[arg-type]  # marker: bad-routes
    assert (err.value.file, err.value.line) == (str(HERE), lineno("marker: bad-routes"))
    assert (err.value.key, err.value.value) == (key, value)
    assert message in str(err.value)


def test_origin_and_routes_together_are_refused() -> None:
    site = Bucket("site")
    with pytest.raises(ModelError) as err:
        Cdn("web", origin=site, routes={"/*": site})
    assert err.value.key == "routes" and "not both" in str(err.value)
    with pytest.raises(ModelError) as err:
        Cdn("web")
    assert err.value.key == "origin"


def test_static_site_routes_put_the_bucket_on_the_default_route() -> None:
    fn = api()
    site = StaticSite("site", prefix="", routes={"/api/*": fn}, domain="shop.example.com")
    assert site.cdn.route_origins == {"/api/*": fn, "/*": site.bucket}
    assert site.cdn.domain == "shop.example.com" and site.cdn.default_root_object == "index.html"
    with pytest.raises(ModelError) as err:
        StaticSite("other", routes={"/*": fn})
    assert err.value.key == "routes"
    plain = StaticSite("plain")
    assert plain.cdn.origin is plain.bucket and plain.cdn.routes is None


def test_the_registry_picks_the_longest_matching_prefix(tmp_path: Path) -> None:
    """The route file `localcloud_cdn_route` writes, read by the gateway's registry."""
    root = tmp_path / "aws"
    (root / "cdn").mkdir(parents=True)
    (root / "cdn" / "web.json").write_text(json.dumps({
        "name": "web", "origin": {"kind": "bucket", "name": "site"}, "url": "http://127.0.0.1:1/cdn/web/",
        "paths": [{"pattern": "/api/*", "kind": "function", "name": "api"},
                  {"pattern": "/api/static/*", "kind": "bucket", "name": "assets"}]}))
    route = Registry([CloudRoot("aws", root)]).route("web")
    assert route is not None
    assert route.origin_for("/") == ("bucket", "site")
    assert route.origin_for("/index.html") == ("bucket", "site")
    assert route.origin_for("/api") == ("bucket", "site")  # like CloudFront and GCP: /api/* needs the slash
    assert route.origin_for("/api/feedback") == ("function", "api")
    assert route.origin_for("/api/static/logo.png") == ("bucket", "assets")


def test_records_to_create_in_an_external_zone_are_listed_where_things_live() -> None:
    """Issue 18.1: with dns_zone = "external", apply and `platform outputs` (text and --json "where") list the
    records to create from the stack output cdn_<name>_dns_records."""
    from platform_sdk.terraform.report import StackResult
    from platform_sdk.terraform.runner import where_things_live

    result = StackResult("prod-web-gcp", "web", "gcp", "gcp", outputs={
        "cdn_cdn_url": "https://shop.example.com/",
        "cdn_cdn_dns_records": [{"name": "shop.example.com", "type": "A", "value": "203.0.113.7"}]})
    rows = where_things_live([result], {"stacks": {"prod-web-gcp": {"resources": ["web.cdn", "web.site"]}}})
    assert sorted((r["kind"], r["name"], r["url"]) for r in rows) == [
        ("cdn", "cdn", "https://shop.example.com/"),
        ("dns", "cdn", "shop.example.com A 203.0.113.7  (create it in the zone)")]
    assert [r["record"] for r in rows if r["kind"] == "dns"] == ["shop.example.com A 203.0.113.7"]
