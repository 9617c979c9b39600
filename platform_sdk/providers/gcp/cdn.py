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
With a domain: a Google-managed certificate, HTTPS on 443 and a redirect from HTTP on the same address (for a
domain in a zone outside Google Cloud, a Certificate Manager certificate authorized through DNS, in two phases:
dns.py).
Without one there is no certificate: plain HTTP on port 80, announced at synthesis and refused in protected
environments. https://cloud.google.com/load-balancing/docs/ssl-certificates/google-managed-certs
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from platform_sdk.errors import warn
from platform_sdk.model import Bucket, Cdn, Function, Resource
from platform_sdk.model.cdn import DEFAULT_ROUTE
from platform_sdk.providers.base import Handle, StackContext
from platform_sdk.providers.gcp import dns, iam, naming, provider

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


def _suffix(cdn: Cdn, origin: Resource) -> str:
    """"" for the default route's origin (its resources keep their plain names), "-<origin name>" for the others."""
    return "" if origin is cdn.default_origin else f"-{origin.name}"


def _bucket_backend(ctx: StackContext, cdn: Cdn, bucket: Bucket, origin: Handle, base: str, compute: list[Any]) -> Any:
    suffix = _suffix(cdn, bucket)
    if not bucket.public_read:
        fill = f"serviceAccount:service-{provider.project_number(ctx)}@cloud-cdn-fill.iam.gserviceaccount.com"
        iam.bucket_member(ctx, f"{cdn.name}{suffix.replace('-', '_')}_cdn_fill", origin["name"], iam.OBJECT_VIEWER,
                          fill)
    return ctx.resource("google_compute_backend_bucket", f"{cdn.name}{suffix.replace('-', '_')}_backend", {
        "name": naming.rfc1035(f"{base}{suffix}-backend"),
        "bucket_name": origin["name"],
        "enable_cdn": True,
        "cdn_policy": {"cache_mode": "CACHE_ALL_STATIC"},
    }).after(*compute)


def _function_backend(ctx: StackContext, cdn: Cdn, fn: Function, origin: Handle, base: str,
                      compute: list[Any]) -> Any:
    suffix = _suffix(cdn, fn)
    neg = ctx.resource("google_compute_region_network_endpoint_group", f"{cdn.name}{suffix.replace('-', '_')}_neg", {
        "name": naming.rfc1035(f"{base}{suffix}-neg"),
        "region": provider.region(ctx),
        "network_endpoint_type": "SERVERLESS",
        "cloud_function": {"function": origin["name"]},
    }).after(*compute)
    return ctx.resource("google_compute_backend_service", f"{cdn.name}{suffix.replace('-', '_')}_backend", {
        "name": naming.rfc1035(f"{base}{suffix}-backend"),
        "protocol": "HTTPS",
        "load_balancing_scheme": SCHEME,
        "enable_cdn": True,
        # dynamic origin: cache only what the function marks cacheable
        "cdn_policy": {"cache_mode": "USE_ORIGIN_HEADERS"},
        "backend": [{"group": neg.ref("id")}],
    })


def _url_map(ctx: StackContext, cdn: Cdn, backends: dict[int, Any], name: str) -> Any:
    """The URL map: the default route's backend serves what no other route matches; every other route is a route
    rule of the path matcher, most specific first (rules are tried in priority order, the first match serves).
    A path matcher takes route rules or path rules, not both, and `/` needs a route rule (the default root object's
    rewrite), so routes are route rules with a `prefix_match` (`/api/*` -> `/api/`, which, like CloudFront's
    `/api/*`, does not match `/api` itself).
    https://registry.terraform.io/providers/hashicorp/google/latest/docs/resources/compute_url_map#path_matcher
    https://cloud.google.com/load-balancing/docs/url-map-concepts#path-matchers
    """
    default = backends[id(cdn.default_origin)]
    attrs: dict[str, Any] = {"name": name, "default_service": default.ref("id")}
    rules: list[dict[str, Any]] = []
    if isinstance(cdn.default_origin, Bucket) and cdn.default_root_object:
        # "/" serves the default root object (a rewrite: the browser keeps its URL)
        rules.append({
            "priority": 1,
            "match_rules": [{"full_path_match": "/"}],
            "service": default.ref("id"),
            "route_action": {"url_rewrite": {"path_prefix_rewrite": f"/{cdn.default_root_object}"}},
        })
    for pattern, origin in cdn.route_origins.items():
        if pattern != DEFAULT_ROUTE:
            rules.append({"priority": len(rules) + 1, "match_rules": [{"prefix_match": pattern[:-1]}],
                          "service": backends[id(origin)].ref("id")})
    if rules:
        attrs["host_rule"] = [{"hosts": ["*"], "path_matcher": "site"}]
        attrs["path_matcher"] = [{"name": "site", "default_service": default.ref("id"), "route_rules": rules}]
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


def _https_frontend(ctx: StackContext, cdn: Cdn, name: Any, address: Any, url_map: Any,
                    certificates: dict[str, Any]) -> Any:
    """HTTPS on 443 with `certificates` (`ssl_certificates` or a `certificate_map`), and HTTP on 80 of the same
    address redirecting to it; returns the HTTPS forwarding rule."""
    https = ctx.resource("google_compute_target_https_proxy", f"{cdn.name}_https_proxy", {
        "name": name("https-proxy"), "url_map": url_map.ref("id"), **certificates,
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
    return rule


def compile_cdn(ctx: StackContext, cdn: Cdn, origins: Mapping[Resource, Handle]) -> tuple[Any, dict[str, str]]:
    """The load balancer in front of every origin of `cdn.route_origins` (a backend per origin, routed by the URL
    map), its address, certificate and forwarding rules, and the domain's DNS record (dns.py)."""
    base = ctx.physical_name(cdn)
    compute = provider.apis(ctx, "compute.googleapis.com")

    def name(suffix: str) -> str:
        return naming.rfc1035(f"{base}-{suffix}")

    backends: dict[int, Any] = {}
    for origin in cdn.origins:
        if isinstance(origin, Bucket):
            backends[id(origin)] = _bucket_backend(ctx, cdn, origin, origins[origin], base, compute)
        else:
            backends[id(origin)] = _function_backend(ctx, cdn, origin, origins[origin], base, compute)
    url_map = _url_map(ctx, cdn, backends, name("urls"))
    address = ctx.resource("google_compute_global_address", f"{cdn.name}_ip", {
        "name": name("ip"), "labels": ctx.labels(cdn),
    }).after(*compute)
    dns.check_domain(ctx, cdn)
    authorization = None
    if cdn.domain and dns.external(ctx):
        # a zone outside Google Cloud: a certificate authorized through DNS, in two phases (dns.py)
        authorization, manager_cert = dns.dns_authorized_certificate(ctx, cdn, base)
        certificates: dict[str, Any] = {"certificate_map": dns.certificate_map(ctx, cdn, base, manager_cert)} \
            if dns.domain_ready(ctx, cdn) else {}
    elif cdn.domain:
        cert = ctx.resource("google_compute_managed_ssl_certificate", f"{cdn.name}_cert", {
            "name": name("cert"), "managed": {"domains": [cdn.domain]},
        })
        certificates = {"ssl_certificates": [cert.ref("id")]}
    if cdn.domain:
        url = f"https://{cdn.domain}/"
        rule = None
        if certificates:
            rule = _https_frontend(ctx, cdn, name, address, url_map, certificates)
    else:
        warn(f"CDN {cdn.address} on GCP has no domain, so no certificate: it serves plain HTTP on port 80 of its "
             f"address (refused in protected environments; give it a domain for HTTPS with a Google-managed "
             "certificate)", cdn.declared_in, cdn.declared_line)
        http = ctx.resource("google_compute_target_http_proxy", f"{cdn.name}_http_proxy", {
            "name": name("http-proxy"), "url_map": url_map.ref("id"),
        })
        rule = _forwarding_rule(ctx, f"{cdn.name}_http_rule", name("http"), address, http, 80)
        url = f"http://{address.ref('address')}/"
    dns.cdn_records(ctx, cdn, address, authorization)
    return rule if rule is not None else url_map, {"url": url, "domain": cdn.domain or "", "ip": address.ref("address")}
