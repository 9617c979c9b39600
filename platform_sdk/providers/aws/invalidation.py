"""CloudFront invalidations after `platform apply` replaced or deleted objects of a bucket behind a distribution.

The distribution is found by the host of the CDN's `cdn_<name>_url` output (its `*.cloudfront.net` domain name, or
an alternate domain name), so no output beyond the URL is needed. A batch holds at most `MAX_PATHS` paths; more
become one `/*` (CloudFront counts it as one path, and allows 3,000 non-wildcard paths in progress per
distribution: https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html
#limits-invalidations; CreateInvalidation: https://docs.aws.amazon.com/cloudfront/latest/APIReference/
API_CreateInvalidation.html).
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlparse

from platform_sdk.errors import PlatformError
from platform_sdk.providers.aws.config import aws_config

MAX_PATHS = 1000
"""More changed paths than this are invalidated as one `/*`."""


def cloudfront_client(env: Any) -> Any:
    """boto3's CloudFront client (a global service, signed for us-east-1); `clouds.aws.endpoint` when set."""
    import boto3

    aws = aws_config(env)
    return boto3.client("cloudfront", region_name="us-east-1", endpoint_url=aws.endpoint if aws else None)


def distribution_id(client: Any, cdn_url: str) -> str | None:
    """The id of the distribution whose domain name or alternate domain name is the host of `cdn_url`."""
    host = urlparse(cdn_url).hostname
    for page in client.get_paginator("list_distributions").paginate():
        for item in page.get("DistributionList", {}).get("Items") or []:
            if host == item.get("DomainName") or host in (item.get("Aliases", {}).get("Items") or []):
                return str(item["Id"])
    return None


def invalidate(client: Any, cdn_url: str, paths: list[str]) -> str:
    """Create one invalidation of `paths` on the distribution serving `cdn_url`; returns its id.

    Raises:
        PlatformError: no distribution of this account serves that URL.
    """
    dist = distribution_id(client, cdn_url)
    if dist is None:
        raise PlatformError(f"no CloudFront distribution of this account serves {cdn_url}", value=cdn_url)
    items = ["/*"] if len(paths) > MAX_PATHS else list(paths)
    response = client.create_invalidation(DistributionId=dist, InvalidationBatch={
        "Paths": {"Quantity": len(items), "Items": items},
        "CallerReference": f"platform-{uuid.uuid4().hex}",
    })
    return str(response["Invalidation"]["Id"])
