"""Cloud CDN invalidation on GCP (providers/gcp/invalidation.py): after static content changed, exactly the changed
paths are invalidated on the URL map serving the CDN, through google-auth's real `AuthorizedSession` against a small
fake of the documented Compute Engine v1 REST API on 127.0.0.1 (sslCertificates, targetHttpsProxies,
globalForwardingRules, targetHttpProxies, urlMaps.invalidateCache)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials
from google.auth.transport.requests import AuthorizedSession
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from platform_sdk.content.deploy import Placed, content_targets, deploy_content
from platform_sdk.errors import PlatformError
from platform_sdk.localcloud.dev import ServerThread, bind
from platform_sdk.model import Service
from platform_sdk.modules import StaticSite
from platform_sdk.providers.gcp import invalidation
from platform_sdk.providers.gcp.invalidation import ComputeApi
from platform_sdk.providers.gcp.plugin import PLUGIN as GCP
from platform_sdk.providers.local.runtime.buckets import LocalBucket

PROJECT = "acme-dev-1"
LINK = f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/global"


class FakeCompute:
    """Two load balancers: `acme-dev-web-cdn` on shop.dev.example.com (HTTPS) and `acme-dev-img-cdn` on 203.0.113.7
    (HTTP only), plus an unrelated certificate and proxy; records every invalidateCache call."""

    def __init__(self) -> None:
        self.invalidations: list[tuple[str, dict[str, Any]]] = []
        self.collections: dict[str, list[dict[str, Any]]] = {
            "sslCertificates": [
                {"name": "other-cert", "selfLink": f"{LINK}/sslCertificates/other-cert",
                 "managed": {"domains": ["www.example.org"]}},
                {"name": "acme-dev-web-cdn-cert", "selfLink": f"{LINK}/sslCertificates/acme-dev-web-cdn-cert",
                 "managed": {"domains": ["shop.dev.example.com"]}}],
            "targetHttpsProxies": [
                {"name": "other-proxy", "sslCertificates": [f"{LINK}/sslCertificates/other-cert"],
                 "urlMap": f"{LINK}/urlMaps/other-urls"},
                {"name": "acme-dev-web-cdn-https-proxy",
                 "sslCertificates": [f"{LINK}/sslCertificates/acme-dev-web-cdn-cert"],
                 "urlMap": f"{LINK}/urlMaps/acme-dev-web-cdn-urls"}],
            "forwardingRules": [
                {"name": "acme-dev-web-cdn-http", "IPAddress": "203.0.113.5",
                 "target": f"{LINK}/targetHttpProxies/acme-dev-web-cdn-http-proxy"},
                {"name": "acme-dev-img-cdn-http", "IPAddress": "203.0.113.7",
                 "target": f"{LINK}/targetHttpProxies/acme-dev-img-cdn-http-proxy"}],
        }
        self.http_proxies = {"acme-dev-img-cdn-http-proxy": f"{LINK}/urlMaps/acme-dev-img-cdn-urls",
                             "acme-dev-web-cdn-http-proxy": f"{LINK}/urlMaps/acme-dev-web-cdn-redirect"}

    def app(self) -> Starlette:
        prefix = "/compute/v1/projects/{project}/global"

        async def listing(request: Request) -> JSONResponse:
            items = self.collections[request.path_params["collection"]]
            token = request.query_params.get("pageToken")
            if token is None and len(items) > 1:  # two pages, as the API pages with nextPageToken
                return JSONResponse({"items": items[:1], "nextPageToken": "p2"})
            return JSONResponse({"items": items[1:] if token else items})

        async def http_proxy(request: Request) -> JSONResponse:
            url_map = self.http_proxies.get(request.path_params["name"])
            if url_map is None:
                return JSONResponse({"error": {"code": 404, "message": "not found"}}, status_code=404)
            return JSONResponse({"name": request.path_params["name"], "urlMap": url_map})

        async def invalidate(request: Request) -> JSONResponse:
            if request.path_params["project"] != PROJECT or not request.headers.get("content-type", "").startswith(
                    "application/json"):
                return JSONResponse({"error": {"code": 400}}, status_code=400)
            self.invalidations.append((request.path_params["name"], await request.json()))
            return JSONResponse({"kind": "compute#operation", "name": f"operation-{len(self.invalidations)}",
                                 "operationType": "invalidateCache", "status": "DONE"})

        return Starlette(routes=[
            Route(prefix + "/targetHttpProxies/{name}", http_proxy),
            Route(prefix + "/urlMaps/{name}/invalidateCache", invalidate, methods=["POST"]),
            Route(prefix + "/{collection}", listing),
        ])

    @contextlib.contextmanager
    def running(self) -> Iterator[str]:
        server = ServerThread(self.app(), bind("127.0.0.1", 0)).start()
        try:
            yield f"{server.url}/compute/v1"
        finally:
            server.stop()


@pytest.fixture
def compute() -> Iterator[tuple[FakeCompute, ComputeApi]]:
    fake = FakeCompute()
    with fake.running() as endpoint:
        yield fake, ComputeApi(AuthorizedSession(AnonymousCredentials()), PROJECT, endpoint)


def test_the_url_map_is_found_from_the_cdn_url_by_certificate_or_by_address(
        compute: tuple[FakeCompute, ComputeApi]) -> None:
    _, api = compute
    assert api.url_map_of("https://shop.dev.example.com/") == "acme-dev-web-cdn-urls"
    assert api.url_map_of("http://203.0.113.7/") == "acme-dev-img-cdn-urls"
    assert api.url_map_of("https://nothere.example.com/") is None
    assert api.url_map_of("http://198.51.100.1/") is None


def test_static_content_changes_invalidate_exactly_the_changed_paths_on_the_url_map(
        tmp_path: Path, compute: tuple[FakeCompute, ComputeApi]) -> None:
    fake, api = compute
    site = tmp_path / "site"
    (site / "css").mkdir(parents=True)
    (site / "index.html").write_text("<h1>shop</h1>")
    (site / "css" / "site.css").write_text("h1 { color: teal }")
    (site / "logo.txt").write_text("logo")
    service = Service("web")
    service.add(StaticSite("site", prefix="", content=str(site)))
    env = SimpleNamespace(name="dev", cloud_of=lambda service, resource: "gcp", target_of=lambda cloud: cloud)
    (target,) = content_targets(env, [service])
    bucket = LocalBucket(tmp_path / "bucket")
    bucket.create()
    outputs = {"dev-web-gcp": {"bucket_site_url": bucket.url, "cdn_cdn_url": "https://shop.dev.example.com/"}}

    def invalidate(cdn: Placed, url: str, paths: list[str]) -> str | None:
        return GCP.invalidate_cdn(env, url, paths, client=api)  # type: ignore[arg-type]

    (first,) = deploy_content([target], outputs.__getitem__, {"dev-web-gcp"}, invalidate)
    assert first.error is None and first.invalidations == [] and fake.invalidations == []  # nothing was cached yet
    (site / "index.html").write_text("<h1>shop, new</h1>")
    (site / "logo.txt").unlink()
    (site / "new.txt").write_text("new")  # added: nothing cached to drop
    (status,) = deploy_content([target], outputs.__getitem__, {"dev-web-gcp"}, invalidate)
    assert status.error is None, status.error
    assert fake.invalidations == [("acme-dev-web-cdn-urls", {"path": "/"}),
                                  ("acme-dev-web-cdn-urls", {"path": "/index.html"}),
                                  ("acme-dev-web-cdn-urls", {"path": "/logo.txt"})]
    assert status.invalidations[0]["id"] == "operation-1 operation-2 operation-3"
    assert "CDN web.cdn: invalidation operation-1 operation-2 operation-3 of 3 path(s)" in status.line()


def test_many_paths_become_one_wildcard_and_an_unknown_cdn_is_refused(
        compute: tuple[FakeCompute, ComputeApi]) -> None:
    fake, api = compute
    paths = [f"/p{i}.html" for i in range(invalidation.MAX_PATHS + 1)]
    assert invalidation.invalidate(api, "http://203.0.113.7/", paths) == "operation-1"
    assert fake.invalidations == [("acme-dev-img-cdn-urls", {"path": "/*"})]
    with pytest.raises(PlatformError, match=f"no load balancer of project {PROJECT} serves https://x.example.com/"):
        invalidation.invalidate(api, "https://x.example.com/", ["/a"])
