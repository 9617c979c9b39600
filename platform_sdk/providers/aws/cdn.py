"""Cdn -> CloudFront: a distribution in front of a private bucket or a private function URL, both through origin
access control.

The bucket stays private: its policy gains one statement letting CloudFront read objects, and only for requests
signed on behalf of this distribution (`AWS:SourceArn`). A function URL behind a CDN is private (AWS_IAM) whether
its trigger says `http()` or `http(public=False)`: the CDN is its public face, and the function's resource policy
admits CloudFront for this distribution only; an edge function lets bodies through the signing (edge.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from platform_sdk.cdk.engine import Fn, TerraformResourceLifecycle, Token
from platform_sdk.errors import PlatformError, warn
from platform_sdk.model import Bucket, Cdn, Function, Resource
from platform_sdk.model.cdn import DEFAULT_ROUTE
from platform_sdk.providers.aws import dns
from platform_sdk.providers.aws.common import make_handle, resource_tags, rid
from platform_sdk.providers.aws.config import aws_config
from platform_sdk.providers.aws.edge import payload_hash_association
from platform_sdk.providers.aws.provider import us_east_1
from platform_sdk.providers.base import Handle, StackContext

# AWS managed policies (fixed ids, identical in every account).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"  # a function URL must see its own Host
# Managed-SecurityHeadersPolicy: HSTS (max-age one year), X-Content-Type-Options nosniff, X-Frame-Options SAMEORIGIN,
# Referrer-Policy strict-origin-when-cross-origin, X-XSS-Protection. Only nosniff overrides what the origin sends,
# so a function or an object that sets its own header keeps it.
SECURITY_HEADERS = "67f7725c-6f97-4210-82d7-5512b31e9d03"
READ_METHODS = ["GET", "HEAD"]
ALL_METHODS = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]
ORIGIN_ID = "origin"


def _origin_access_control(ctx: StackContext, cdn: Cdn, origin_type: str) -> Any:
    """One origin access control per origin type a distribution uses ("s3", "lambda"), shared by its origins of
    that type. The default route's type keeps the plain name and id; the other type's gets its type appended."""
    default_type = "s3" if isinstance(cdn.default_origin, Bucket) else "lambda"
    suffix = "" if origin_type == default_type else f"_{origin_type}"

    def build() -> Any:
        name = ctx.physical_name(cdn) + suffix.replace("_", "-")
        return ctx.resource("aws_cloudfront_origin_access_control", rid(ctx, cdn, f"oac{suffix}"), {
            "name": name,
            "description": f"CloudFront access for {cdn.address}",
            "origin_access_control_origin_type": origin_type,
            "signing_behavior": "always",
            "signing_protocol": "sigv4",
        })
    return ctx.once(f"aws:oac:{cdn.address}:{origin_type}", build)


def origin_id(cdn: Cdn, origin: Bucket | Function) -> str:
    """The distribution's id for one origin: `origin` for the default route's, `origin-<service>-<name>` else."""
    return ORIGIN_ID if origin is cdn.default_origin else f"{ORIGIN_ID}-{origin.address.replace('.', '-')}"


def _bucket_origin(ctx: StackContext, cdn: Cdn, bucket: Bucket, origin: Handle) -> tuple[dict[str, Any],
                                                                                         dict[str, Any]]:
    oac = _origin_access_control(ctx, cdn, "s3")
    block = {"origin_id": origin_id(cdn, bucket), "domain_name": origin["domain"],
             "origin_access_control_id": oac.ref("id")}
    behavior = {"allowed_methods": READ_METHODS, "cached_methods": READ_METHODS, "cache_policy_id": CACHING_OPTIMIZED}
    return block, behavior


def _function_origin(ctx: StackContext, cdn: Cdn, fn: Function, origin: Handle) -> tuple[dict[str, Any],
                                                                                         dict[str, Any]]:
    """The function URL as a custom origin, reached only through this distribution.

    The URL is private (AWS_IAM, function.py), CloudFront signs for it with origin access control, and the
    function's resource policy admits CloudFront for this distribution only (`AWS:SourceArn`), so nothing reaches
    the function around the CDN and no shared value is needed. Requests with a body pass because an origin-request
    Lambda@Edge function sets their SHA-256 before CloudFront signs (edge.py; one per distribution, associated with
    every function route).
    https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-lambda.html
    """
    # https://<id>.lambda-url.<region>.on.aws/ -> <id>.lambda-url.<region>.on.aws
    domain = Token.as_string(Fn.element(Fn.split("/", origin["url"]), 2))
    block: dict[str, Any] = {
        "origin_id": origin_id(cdn, fn),
        "domain_name": domain,
        "custom_origin_config": {"http_port": 80, "https_port": 443, "origin_protocol_policy": "https-only",
                                 "origin_ssl_protocols": ["TLSv1.2"]},
        "origin_access_control_id": _origin_access_control(ctx, cdn, "lambda").ref("id"),
    }
    # An API behind a CDN takes every method; nothing is cached and the viewer's request (headers, query string,
    # cookies) reaches the function.
    association = ctx.once(f"aws:payload_hash:{cdn.address}", lambda: payload_hash_association(ctx, cdn))
    behavior = {"allowed_methods": ALL_METHODS, "cached_methods": READ_METHODS, "cache_policy_id": CACHING_DISABLED,
                "origin_request_policy_id": ALL_VIEWER_EXCEPT_HOST_HEADER,
                "lambda_function_association": [association]}
    return block, behavior


def security_headers_policy(ctx: StackContext) -> str:
    """The managed SecurityHeadersPolicy, read once per stack by its fixed id.

    Why a data source and not the literal id: the plan fails early if the policy were ever unavailable, and
    scanners (checkov CKV2_AWS_32) see the distribution connected to a response headers policy. Why the managed
    policy and not one of ours: custom policies are account-wide named objects under a per-account quota, and
    every CDN would need its own. Against an emulator endpoint (`clouds.aws.endpoint`) the literal id is used:
    moto stores the id a distribution names but has no managed policies to read.
    """
    aws = aws_config(ctx.env)
    if aws is not None and aws.endpoint:
        return SECURITY_HEADERS
    policy = ctx.once("aws:security_headers_policy", lambda: ctx.data(
        "aws_cloudfront_response_headers_policy", "security_headers", {"id": SECURITY_HEADERS}))
    return policy.ref("id")


def _viewer_certificate(ctx: StackContext, cdn: Cdn) -> tuple[dict[str, Any], Any | None]:
    """The distribution's certificate (CloudFront's own, or an ACM certificate for `cdn.domain`) and the ACM
    certificate resource, if any.

    CloudFront accepts only an issued certificate, and a DNS-validated one is issued once its validation records
    exist in the domain's zone; so the distribution takes the ARN from an `aws_acm_certificate_validation`, which
    waits (75 minutes by default) until ACM reports the certificate issued. With the environment's Route 53 zone
    (`[clouds.aws] dns_zone`) the platform creates that record (dns.py) and the first apply completes; with
    `dns_zone = "external"` the first apply only requests the certificate (the distribution keeps CloudFront's own
    until the records resolve: dns.py, two phases); with no zone named the zone's owner creates it (names and
    values: the stack output `cdn_<name>_dns_validation`), and synthesis says the first apply waits for it.
    https://docs.aws.amazon.com/acm/latest/userguide/dns-validation.html
    https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/acm_certificate_validation
    https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cnames-and-https-requirements.html
    """
    if not cdn.domain:
        return {"cloudfront_default_certificate": True}, None
    cert = ctx.resource("aws_acm_certificate", rid(ctx, cdn, "certificate"), {
        "domain_name": cdn.domain,
        "validation_method": "DNS",
        "tags": resource_tags(ctx, cdn),
    })
    cert.provider = us_east_1(ctx)  # CloudFront reads certificates from us-east-1 only
    cert.lifecycle = TerraformResourceLifecycle(create_before_destroy=True)
    if not dns.domain_ready(ctx, cdn):
        # first phase of an external zone: the certificate is requested, its records printed; nothing waits
        return {"cloudfront_default_certificate": True}, cert
    validation_attrs: dict[str, Any] = {"certificate_arn": cert.ref("arn")}
    fqdns = dns.validation_record_fqdns(ctx, cdn, cert)
    if fqdns is not None:
        validation_attrs["validation_record_fqdns"] = fqdns
    validation = ctx.resource("aws_acm_certificate_validation", rid(ctx, cdn, "certificate_validation"),
                              validation_attrs)
    validation.provider = us_east_1(ctx)
    output = f"cdn_{cdn.name}_dns_validation".replace("-", "_")
    # The DNS records proving domain ownership: whoever owns the zone creates them.
    ctx.output(output, cert.interpolation_for_attribute("domain_validation_options"),
               description=f"DNS records validating the certificate of {cdn.domain}: create them in its zone; "
                           "the apply waits until ACM has issued the certificate")
    if fqdns is None and dns.zone_of(ctx) is None:
        warn(f"CDN {cdn.address} on AWS serves {cdn.domain} with an ACM certificate validated through DNS: its first "
             f"apply waits (up to 75 minutes) until the validation CNAME records exist in the zone of {cdn.domain} "
             "(while it waits: the ACM console or `aws acm describe-certificate --region us-east-1` shows them; "
             f"afterwards the output {output} of stack {ctx.name}; name the zone with [clouds.aws] dns_zone to have "
             "them created)", cdn.declared_in, cdn.declared_line)
    return {"acm_certificate_arn": validation.ref("certificate_arn"), "ssl_support_method": "sni-only",
            "minimum_protocol_version": "TLSv1.2_2021"}, cert


def compile_cdn(ctx: StackContext, cdn: Cdn, origins: Mapping[Resource, Handle]) -> Handle:
    """The distribution, one origin per distinct origin of `cdn.route_origins`, then the origin-side permissions
    that name it.

    Routes become cache behaviours: the default route `/*` is the default cache behaviour, every other pattern an
    ordered cache behaviour (most specific first; CloudFront takes the first whose `path_pattern` matches, the
    default last). A function route is never cached, allows every method and forwards all viewer headers but Host,
    the query string and cookies; a bucket route is read-only and cached (CachingOptimized).
    https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/distribution-web-values-specify.html#DownloadDistValuesCacheBehavior
    https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/cloudfront_distribution#ordered_cache_behavior
    """
    dns.check_domain(ctx, cdn)
    blocks: list[dict[str, Any]] = []
    behaviors: dict[int, dict[str, Any]] = {}
    for origin in cdn.origins:
        handle = origins[origin]
        if isinstance(origin, Bucket):
            if handle.stack_name != ctx.name:
                raise PlatformError(f"CDN {cdn.address} and its bucket {origin.address} must be in one stack (the "
                                    "bucket policy names the distribution)", key=cdn.address, value=handle.stack_name)
            block, behavior = _bucket_origin(ctx, cdn, origin, handle)
        else:
            block, behavior = _function_origin(ctx, cdn, origin, handle)
        blocks.append(block)
        behaviors[id(origin)] = {"target_origin_id": block["origin_id"], "viewer_protocol_policy": "redirect-to-https",
                                 "compress": True, **behavior,
                                 "response_headers_policy_id": security_headers_policy(ctx)}
    default = cdn.default_origin
    certificate, cert = _viewer_certificate(ctx, cdn)
    attrs: dict[str, Any] = {
        "enabled": True,
        "comment": ctx.physical_name(cdn),
        "is_ipv6_enabled": True,
        "http_version": "http2and3",
        "origin": sorted(blocks, key=lambda b: b["origin_id"] != ORIGIN_ID),  # the default route's origin first
        "default_cache_behavior": behaviors[id(default)],
        "restrictions": {"geo_restriction": {"restriction_type": "none", "locations": []}},
        "viewer_certificate": certificate,
        "tags": resource_tags(ctx, cdn),
    }
    ordered = [{"path_pattern": pattern, **behaviors[id(origin)]}
               for pattern, origin in cdn.route_origins.items() if pattern != DEFAULT_ROUTE]
    if ordered:
        attrs["ordered_cache_behavior"] = ordered
    if isinstance(default, Bucket):
        attrs["default_root_object"] = cdn.default_root_object
    if cdn.domain and dns.domain_ready(ctx, cdn):
        attrs["aliases"] = [cdn.domain]
    dist = ctx.resource("aws_cloudfront_distribution", rid(ctx, cdn, "distribution"), attrs)
    arn = dist.ref("arn")

    for origin in cdn.origins:
        handle = origins[origin]
        if isinstance(origin, Bucket):
            handle.constructs["policy"].add({
                "Sid": f"CloudFrontRead{''.join(p.capitalize() for p in cdn.name.split('-'))}",
                "Effect": "Allow",
                "Principal": {"Service": "cloudfront.amazonaws.com"},
                "Action": "s3:GetObject",
                "Resource": f"{handle['arn']}/*",
                "Condition": {"StringEquals": {"AWS:SourceArn": arn}},
            })
            continue
        suffix = "" if origin is default else f"_{origin.name.replace('-', '_')}"
        for action in ("lambda:InvokeFunctionUrl", "lambda:InvokeFunction"):
            ctx.resource("aws_lambda_permission", rid(ctx, cdn, action.split(":")[1].lower() + suffix), {
                "statement_id": f"AllowCloudFront-{cdn.name}-{action.split(':')[1]}",
                "action": action,
                "function_name": handle["name"],
                "principal": "cloudfront.amazonaws.com",
                "source_arn": arn,
            })

    dns.cdn_records(ctx, cdn, dist, cert)
    domain_name = dist.ref("domain_name")
    served = cdn.domain if cdn.domain and dns.domain_ready(ctx, cdn) else ""
    return make_handle(ctx, cdn, {"distribution": dist}, url=f"https://{domain_name}", domain=served or domain_name)
