"""`open_bucket(url)`: the bucket client for a URL, from the cloud plug-in that serves the URL's scheme."""

from __future__ import annotations

from typing import Protocol
from urllib.parse import urlparse

from platform_sdk.runtime import plugins
from platform_sdk.runtime.buckets.client import BucketClient


class BucketOpener(Protocol):
    """What a plug-in runtime's `buckets.open_bucket` is."""

    def __call__(self, url: str, *, endpoint_url: str | None = None, region: str | None = None,
                 project: str | None = None) -> BucketClient: ...


def open_bucket(
    url: str,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    project: str | None = None,
) -> BucketClient:
    """Open the bucket at `url` (`<scheme>://<name>[?options]`, or `file:///path` for a directory).

    The plug-in whose runtime declares the scheme in `BUCKET_SCHEMES` builds the client; it reads the options
    it understands from the keywords (`endpoint_url`: an emulator's URL; `region`, `project`: where the bucket
    lives), its own environment variables and the URL's query (keyless federated credentials for a bucket on
    another cloud: see `platform_sdk.runtime.federation`).

    Raises:
        ValueError: no plug-in available here serves the URL's scheme (or the URL is malformed for it).
    """
    scheme = urlparse(url).scheme
    schemes = plugins.bucket_schemes()
    name = schemes.get(scheme)
    if name is None:
        known = ", ".join(f"{s}://" for s in sorted(schemes)) or "none"
        raise ValueError(f"unsupported bucket URL {url!r}: no plug-in here serves {scheme or '(no scheme)'}:// "
                         f"buckets (served: {known})")
    opener: BucketOpener = plugins.load(name, "buckets").open_bucket
    return opener(url, endpoint_url=endpoint_url, region=region, project=project)
