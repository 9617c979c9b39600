"""Cloud CDN cache invalidation after `platform apply` replaced or deleted objects of a bucket behind a GCP CDN.

A GCP CDN is a global external Application Load Balancer (cdn.py); its cache is invalidated on the URL map, one
`urlMaps.invalidateCache` call per path (a `CacheInvalidationRule` holds one `path`, which may end in `*`). The URL
map is found from the CDN's `cdn_<name>_url` output, so no output beyond the URL is needed:

- `https://<domain>/`: the target HTTPS proxy whose Google-managed certificate covers the domain (sslCertificates
  .list, targetHttpsProxies.list) serves it; its `urlMap`.
- `http://<address>/` (a CDN without a domain): the global forwarding rule on that address (globalForwardingRules
  .list), its target HTTP proxy (targetHttpProxies.get); its `urlMap`.

Through the documented Compute Engine REST API (v1) and google-auth's `AuthorizedSession` (google-cloud-compute is
not a dependency: four calls do not need it).
https://cloud.google.com/compute/docs/reference/rest/v1/urlMaps/invalidateCache
https://cloud.google.com/cdn/docs/invalidating-cached-content (an invalidation per path; a path ending in `*`
invalidates a prefix; invalidations are rate-limited, so more than `MAX_PATHS` paths become one `/*`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from platform_sdk.errors import PlatformError
from platform_sdk.providers.gcp.config import gcp_config

API = "https://compute.googleapis.com/compute/v1"
SCOPE = "https://www.googleapis.com/auth/compute"
MAX_PATHS = 20
"""More changed paths than this are invalidated as one `/*` (each path is its own rate-limited invalidation)."""


def _name(link: str) -> str:
    """The resource name at the end of a self link (`.../global/urlMaps/acme-web-cdn-urls` -> its name)."""
    return link.rstrip("/").rsplit("/", 1)[-1]


class ComputeApi:
    """The few Compute Engine v1 calls invalidation needs, on one project, through an authorized `session`
    (a `google.auth.transport.requests.AuthorizedSession`, or anything with its `request(method, url, json=)`)."""

    def __init__(self, session: Any, project: str, endpoint: str = API) -> None:
        self.session = session
        self.project = project
        self.endpoint = endpoint.rstrip("/")

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        url = f"{self.endpoint}/projects/{self.project}/global/{path}"
        response = self.session.request(method, url, json=body)
        if response.status_code >= 400:
            raise PlatformError(f"Compute Engine API {method} {url}: HTTP {response.status_code}: "
                                f"{response.text[:300]}", value=url)
        return response.json()  # type: ignore[no-any-return]

    def _list(self, collection: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            page = self._call("GET", collection + (f"?pageToken={token}" if token else ""))
            items += page.get("items", [])
            token = page.get("nextPageToken", "")
            if not token:
                return items

    def url_map_of(self, cdn_url: str) -> str | None:
        """The name of the URL map serving `cdn_url`, None when no load balancer of the project serves it."""
        host = urlparse(cdn_url).hostname or ""
        if urlparse(cdn_url).scheme == "https":
            certificates = {c["selfLink"] for c in self._list("sslCertificates")
                            if host in (c.get("managed", {}).get("domains") or [])}
            for proxy in self._list("targetHttpsProxies"):
                if certificates & set(proxy.get("sslCertificates") or []):
                    return _name(proxy["urlMap"])
            return None
        for rule in self._list("forwardingRules"):
            target = rule.get("target", "")
            if rule.get("IPAddress") == host and "/targetHttpProxies/" in target:
                return _name(self._call("GET", f"targetHttpProxies/{_name(target)}")["urlMap"])
        return None

    def invalidate(self, url_map: str, path: str) -> str:
        """urlMaps.invalidateCache of one path; the name of the (global) operation."""
        return str(self._call("POST", f"urlMaps/{url_map}/invalidateCache", {"path": path})["name"])


def compute_api(env: Any) -> ComputeApi:
    """The API on the environment's project (`[clouds.gcp] project`, else the credentials' own), authorized with
    application default credentials."""
    import google.auth
    from google.auth.transport.requests import AuthorizedSession

    credentials, default_project = google.auth.default(scopes=[SCOPE])
    gcp = gcp_config(env)
    project = (gcp.project if gcp is not None else None) or default_project
    if not project:
        raise PlatformError("no Google Cloud project to invalidate the CDN in: set [clouds.gcp] project")
    return ComputeApi(AuthorizedSession(credentials), project)


def invalidate(api: ComputeApi, cdn_url: str, paths: list[str]) -> str:
    """Invalidate `paths` on the URL map serving `cdn_url`; returns the operations' names, space-separated.

    Raises:
        PlatformError: no load balancer of the project serves that URL, or an API call failed.
    """
    url_map = api.url_map_of(cdn_url)
    if url_map is None:
        raise PlatformError(f"no load balancer of project {api.project} serves {cdn_url}", value=cdn_url)
    items = ["/*"] if len(paths) > MAX_PATHS else list(paths)
    return " ".join(api.invalidate(url_map, path) for path in items)
