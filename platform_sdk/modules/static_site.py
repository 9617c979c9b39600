"""StaticSite: a website's files in a private bucket, served by a CDN, optionally on the team's own domain."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from platform_sdk.model import Bucket, Cdn, Cors, Function
from platform_sdk.model.cdn import DEFAULT_ROUTE
from platform_sdk.modules.base import Module


def _cdn_supports(option: str) -> bool:
    return option in {f.name for f in dataclasses.fields(Cdn)}


@dataclass(eq=False, kw_only=True)
class StaticSite(Module):
    """Static files (HTML, JS, images) in a bucket behind a CDN.

    Parts: `bucket` (named `{name}`) and `cdn` (named `{prefix}cdn`, i.e. `<name>-cdn`).

    Name the site's directory with `content="site/"` and every `platform apply` uploads it (new and changed files
    with their content types, removed ones deleted, the CDN's cache invalidated for what changed where the cloud
    caches; `platform plan` says how many files each apply will upload and delete). Without `content`, upload the
    files with any bucket client. The CDN URL is the bucket's public face, the bucket itself stays private.

    Attributes:
        content: The directory holding the site's files, relative to the file that declares the site, see
            `Bucket.content`. Default `None`: nothing is uploaded. Raises `ModelError` (key `content`) unless an
            existing directory.
        domain: Serve the site on this DNS name (the cloud issues the certificate), see `Cdn.domain`; browsers
            calling back into the bucket from that origin are allowed by CORS unless `cors_origins` says
            otherwise. Default `None`. Raises `ModelError` (key `domain`) unless a lowercase DNS name.
        spa: Single-page app: paths that match no file serve `index_document`, so client-side routes work.
            Default `False`. Raises `ModelError` (key `spa`) while the model's Cdn has no fallback object.
        index_document: The object key served for `/` (see `Cdn.default_root_object`). Default
            `"index.html"`. Raises `ModelError` (key `index_document`) unless a key not starting with '/'.
        cors_origins: Origins allowed to call the bucket from browsers, like `["https://shop.example.com"]`.
            Default `None`: `https://<domain>` when there is a domain, else none. Raises `ModelError` (key
            `cors_origins`) unless a list of http(s) origins.
        versioning: Keep old versions of every file (roll back a bad deploy by restoring them), see
            `Bucket.versioning`. Default `False`.
        routes: Other routes of the site's CDN, like `{"/api/*": api}`: the site's own API on the same host (no
            CORS, one certificate); the bucket serves everything else (`"/*"`). See `Cdn.routes`. Default `None`:
            the bucket alone. Raises `ModelError` (key `routes`) for a dict naming `"/*"` or anything but a dict,
            and like `Cdn.routes` for a bad pattern or origin.
        bucket, cdn: the parts (not constructor arguments).
    """

    parts: ClassVar[dict[str, str]] = {"bucket": "{name}", "cdn": "{prefix}cdn"}
    domain: str | None = Cdn.domain
    spa: bool = False
    index_document: str = Cdn.default_root_object
    cors_origins: list[str] | None = None
    versioning: bool = Bucket.versioning
    content: str | Path | None = Bucket.content
    routes: dict[str, Function | Bucket] | None = None
    bucket: Bucket = field(init=False, repr=False)
    cdn: Cdn = field(init=False, repr=False)

    def build(self) -> None:
        if not isinstance(self.index_document, str) or not self.index_document or self.index_document.startswith("/"):
            raise self.error("index_document must be an object key like 'index.html'", "index_document",
                             self.index_document)
        origins = self.cors_origins
        if origins is None and self.domain:
            origins = [f"https://{self.domain}"]
        if origins is not None and (not isinstance(origins, list) or
                                    not all(isinstance(o, str) and o.startswith(("https://", "http://"))
                                            for o in origins)):
            raise self.error("cors_origins must be a list of origins like 'https://shop.example.com'",
                             "cors_origins", origins)
        self.bucket = self.add_part("bucket", Bucket(
            self.part_name("bucket"), versioning=self.versioning, cors=Cors(origins=origins) if origins else None,
            content=self.content,
        ))
        options: dict[str, Any] = {}
        if self.spa:
            if not _cdn_supports("fallback_object"):
                raise self.error("spa=True needs a platform-sdk whose Cdn has fallback_object", "spa", self.spa,
                                 hint="upgrade platform-sdk, or serve a copy of index.html at each client route")
            options["fallback_object"] = self.index_document
        if self.routes is not None:
            if not isinstance(self.routes, dict) or DEFAULT_ROUTE in self.routes:
                raise self.error(f"routes names the site's other routes, like {{'/api/*': api}} (the bucket serves "
                                 f"{DEFAULT_ROUTE!r})", "routes", self.routes)
            options["routes"] = {**self.routes, DEFAULT_ROUTE: self.bucket}
        else:
            options["origin"] = self.bucket
        self.cdn = self.add_part("cdn", Cdn(
            self.part_name("cdn"), domain=self.domain, default_root_object=self.index_document, **options,
        ))
