"""Cdn -> a global external Application Load Balancer (EXTERNAL_MANAGED) with Cloud CDN on its backend.

Bucket origin: a backend bucket. The bucket stays private: Cloud CDN fills its cache as the project's Cloud
CDN service agent (`service-<project number>@cloud-cdn-fill.iam.gserviceaccount.com`), which gets
objectViewer on that one bucket (the same binding Google documents for private buckets behind Cloud CDN).
Function origin: a serverless network endpoint group in the function's region behind a backend service. The load
balancer sends no credentials, so the function admits unauthenticated calls (allUsers invoker) and, with ingress
ALLOW_INTERNAL_AND_GCLB, only through a load balancer: it cannot be reached around the CDN, with `http()` or
`http(public=False)` alike (function.py), and nothing shared is needed.
https://cloud.google.com/run/docs/securing/ingress (Internal and Cloud Load Balancing)
https://cloud.google.com/load-balancing/docs/negs/serverless-neg-concepts
With a domain: a Google-managed certificate, HTTPS on 443 and a redirect from HTTP on the same address.
Without one there is no certificate: plain HTTP on port 80, announced at synthesis and refused in protected
environments. https://cloud.google.com/load-balancing/docs/ssl-certificates/google-managed-certs
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from platform_sdk.errors import warn
from platform_sdk.model import Bucket, Cdn
from platform_sdk.providers.base import Handle, StackContext
from platform_sdk.providers.gcp import iam, naming, provider

if TYPE_CHECKING:
    from platform_sdk.envs import Environment

SCHEME = "EXTERNAL_MANAGED"


def cdn_problems(cdn: Cdn, env: Environment) -> list[str]:
    """What GCP refuses for this CDN: plain HTTP in a protected environment (a CDN without a domain has no
    certificate, so its load balancer listens on port 80 only)."""
    found = []
    if env.protected and not cdn.domain:
        found.append(f"HTTPS in protected environment {env.name!r}: without a domain the load balancer has no "
                     f"certificate and serves plain HTTP on port 80 (set domain = \"...\" under "
                     f"[overrides.\"{cdn.address}\"] or on the Cdn; Google then issues a managed certificate)")
    return found


def _bucket_backend(ctx: StackContext, cdn: Cdn, origin: Handle, name: str, compute: list[Any]) -> Any:
    assert isinstance(cdn.origin, Bucket)
    if not cdn.origin.public_read:
        fill = f"serviceAccount:service-{provider.project_number(ctx)}@cloud-cdn-fill.iam.gserviceaccount.com"
        iam.bucket_member(ctx, f"{cdn.name}_cdn_fill", origin["name"], iam.OBJECT_VIEWER, fill)
    return ctx.resource("google_compute_backend_bucket", f"{cdn.name}_backend", {
        "name": name,
        "bucket_name": origin["name"],
        "enable_cdn": True,
        "cdn_policy": {"cache_mode": "CACHE_ALL_STATIC"},
    }).after(*compute)


def _function_backend(ctx: StackContext, cdn: Cdn, origin: Handle, base: str, compute: list[Any]) -> Any:
    neg = ctx.resource("google_compute_region_network_endpoint_group", f"{cdn.name}_neg", {
        "name": naming.rfc1035(f"{base}-neg"),
        "region": provider.region(ctx),
        "network_endpoint_type": "SERVERLESS",
        "cloud_function": {"function": origin["name"]},
    }).after(*compute)
    return ctx.resource("google_compute_backend_service", f"{cdn.name}_backend", {
        "name": naming.rfc1035(f"{base}-backend"),
        "protocol": "HTTPS",
        "load_balancing_scheme": SCHEME,
        "enable_cdn": True,
        # dynamic origin: cache only what the function marks cacheable
        "cdn_policy": {"cache_mode": "USE_ORIGIN_HEADERS"},
        "backend": [{"group": neg.ref("id")}],
    })


def _url_map(ctx: StackContext, cdn: Cdn, backend: Any, name: str) -> Any:
    attrs: dict[str, Any] = {"name": name, "default_service": backend.ref("id")}
    if isinstance(cdn.origin, Bucket) and cdn.default_root_object:
        # "/" serves the default root object (a rewrite: the browser keeps its URL)
        attrs["host_rule"] = [{"hosts": ["*"], "path_matcher": "site"}]
        attrs["path_matcher"] = [{
            "name": "site",
            "default_service": backend.ref("id"),
            "route_rules": [{
                "priority": 1,
                "match_rules": [{"full_path_match": "/"}],
                "service": backend.ref("id"),
                "route_action": {"url_rewrite": {"path_prefix_rewrite": f"/{cdn.default_root_object}"}},
            }],
        }]
    return ctx.resource("google_compute_url_map", f"{cdn.name}_urls", attrs)


def _forwarding_rule(ctx: StackContext, id: str, name: str, address: Any, proxy: Any, port: int) -> Any:
    return ctx.resource("google_compute_global_forwarding_rule", id, {
        "name": name,
        "ip_address": address.ref("address"),
        "ip_protocol": "TCP",
        "port_range": str(port),
        "load_balancing_scheme": SCHEME,
        "target": proxy.ref("id"),
        "labels": ctx.labels(),
    })


def compile_cdn(ctx: StackContext, cdn: Cdn, origin: Handle) -> tuple[Any, dict[str, str]]:
    base = ctx.physical_name(cdn)
    compute = provider.apis(ctx, "compute.googleapis.com")

    def name(suffix: str) -> str:
        return naming.rfc1035(f"{base}-{suffix}")

    if isinstance(cdn.origin, Bucket):
        backend = _bucket_backend(ctx, cdn, origin, name("backend"), compute)
    else:
        backend = _function_backend(ctx, cdn, origin, base, compute)
    url_map = _url_map(ctx, cdn, backend, name("urls"))
    address = ctx.resource("google_compute_global_address", f"{cdn.name}_ip", {
        "name": name("ip"), "labels": ctx.labels(cdn),
    }).after(*compute)
    if cdn.domain:
        cert = ctx.resource("google_compute_managed_ssl_certificate", f"{cdn.name}_cert", {
            "name": name("cert"), "managed": {"domains": [cdn.domain]},
        })
        https = ctx.resource("google_compute_target_https_proxy", f"{cdn.name}_https_proxy", {
            "name": name("https-proxy"), "url_map": url_map.ref("id"), "ssl_certificates": [cert.ref("id")],
        })
        rule = _forwarding_rule(ctx, f"{cdn.name}_https_rule", name("https"), address, https, 443)
        redirect = ctx.resource("google_compute_url_map", f"{cdn.name}_redirect", {
            "name": name("redirect"),
            "default_url_redirect": {"https_redirect": True, "strip_query": False,
                                     "redirect_response_code": "MOVED_PERMANENTLY_DEFAULT"},
        })
        http = ctx.resource("google_compute_target_http_proxy", f"{cdn.name}_http_proxy", {
            "name": name("http-proxy"), "url_map": redirect.ref("id"),
        })
        _forwarding_rule(ctx, f"{cdn.name}_http_rule", name("http"), address, http, 80)
        url = f"https://{cdn.domain}/"
    else:
        warn(f"CDN {cdn.address} on GCP has no domain, so no certificate: it serves plain HTTP on port 80 of its "
             f"address (refused in protected environments; give it a domain for HTTPS with a Google-managed "
             "certificate)", cdn.declared_in, cdn.declared_line)
        http = ctx.resource("google_compute_target_http_proxy", f"{cdn.name}_http_proxy", {
            "name": name("http-proxy"), "url_map": url_map.ref("id"),
        })
        rule = _forwarding_rule(ctx, f"{cdn.name}_http_rule", name("http"), address, http, 80)
        url = f"http://{address.ref('address')}/"
    return rule, {"url": url, "domain": cdn.domain or "", "ip": address.ref("address")}
