"""ImagePipeline: originals land in a bucket, a function writes thumbnails to another, a CDN serves them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from platform_sdk.model import Bucket, Cdn, Function, FunctionSpec, http, object_created
from platform_sdk.modules.base import Module


@dataclass(eq=False, kw_only=True)
class ImagePipeline(Module, FunctionSpec):
    """Thumbnails made on upload (and, optionally, on demand over HTTP), served from a CDN.

    Parts (default names with `prefix` = `<name>-`): `originals` bucket (versioned), `thumbs` bucket
    (thumbnails expire after `thumbnail_expire_days`), `resize` function (runs on every upload whose key ends
    with one of `suffixes`), `on_demand` function (HTTP, only with `on_demand=True`), `cdn` in front of `thumbs`.

    The code in `source` provides `upload_handler(event)` and `request_handler(request)`; the widths to make
    are in `THUMBNAIL_WIDTHS` (comma-separated) and the buckets are reached by their neutral names
    (`bucket(pipeline.originals.name)`). Grants: resize reads originals and writes thumbs; on_demand reads
    originals and reads/writes thumbs (it fills gaps).

    Attributes:
        source: Required. The code's directory, relative to the file declaring the module.
        upload_handler: `module.function` called for every upload. Default `"resize.on_upload"`. Raises
            `ModelError` (key `handler`) unless it looks like that.
        request_handler: `module.function` serving on-demand HTTP requests. Default `"resize.on_request"`.
            Raises `ModelError` (key `handler`) unless it looks like that.
        widths: Thumbnail widths in pixels, 16 to 4096 each, at least one. Default `(128, 512)`. Raises
            `ModelError` (key `widths`) otherwise.
        suffixes: Key endings that trigger resizing, like `".jpg"`, at least one. Default `(".jpg", ".png")`.
            Raises `ModelError` (key `suffixes`) otherwise.
        key_prefix: Only uploads whose key starts with this are resized. Default `""`: every key.
        memory: Memory in MB of both functions, a positive whole number. Default 1024 (not a Function's 256:
            images are decoded in memory). Raises `ModelError` (key `memory`) otherwise.
        timeout: Longest run of `resize` in seconds, a positive whole number. Default 60. Raises `ModelError`
            (key `timeout`) otherwise.
        request_timeout: Longest run of `on_demand` in seconds, a positive whole number. Default 30. Raises
            `ModelError` (key `timeout`) otherwise.
        on_demand: Also make the `on_demand` HTTP function. Default `True`.
        domain: The CDN's DNS name, see `Cdn.domain`. Default `None`.
        keep_versions: Version the originals bucket (see `Bucket.versioning`). Default `True`.
        thumbnail_expire_days: Days after which thumbnails expire (see `Bucket.expire_days`). Default 365;
            `None` keeps them.
        runtime, environment: both functions' settings, see `FunctionSpec`; `THUMBNAIL_WIDTHS` is added to
            `environment`.
        originals, thumbs, resize, on_demand_function, cdn: the parts (not constructor arguments);
            `on_demand_function` is `None` without `on_demand`.
    """

    parts: ClassVar[dict[str, str]] = {
        "originals": "{prefix}originals", "thumbs": "{prefix}thumbs", "resize": "{prefix}resize",
        "on_demand": "{prefix}on-demand", "cdn": "{prefix}cdn",
    }
    source: str | Path
    upload_handler: str = "resize.on_upload"
    request_handler: str = "resize.on_request"
    widths: Sequence[int] = (128, 512)
    suffixes: Sequence[str] = (".jpg", ".png")
    key_prefix: str = ""
    memory: int = 1024
    timeout: int = 60
    request_timeout: int = 30
    on_demand: bool = True
    domain: str | None = Cdn.domain
    keep_versions: bool = True
    thumbnail_expire_days: int | None = 365
    originals: Bucket = field(init=False, repr=False)
    thumbs: Bucket = field(init=False, repr=False)
    resize: Function = field(init=False, repr=False)
    on_demand_function: Function | None = field(init=False, repr=False, default=None)
    cdn: Cdn = field(init=False, repr=False)

    def build(self) -> None:
        widths = list(self.widths) if isinstance(self.widths, (list, tuple)) else []
        if not widths or not all(isinstance(w, int) and not isinstance(w, bool) and 16 <= w <= 4096 for w in widths):
            raise self.error("widths must be a non-empty list of pixel widths from 16 to 4096", "widths", self.widths)
        suffixes = list(self.suffixes) if isinstance(self.suffixes, (list, tuple)) else []
        if not suffixes or not all(isinstance(s, str) and s.startswith(".") for s in suffixes):
            raise self.error("suffixes must be a non-empty list of file endings like '.jpg'", "suffixes",
                             self.suffixes)
        source = self.resolve(self.source)
        environment = {"THUMBNAIL_WIDTHS": ",".join(str(w) for w in widths), **self.environment}
        self.originals = self.add_part("originals", Bucket(self.part_name("originals"), versioning=self.keep_versions))
        self.thumbs = self.add_part("thumbs", Bucket(self.part_name("thumbs"), expire_days=self.thumbnail_expire_days))
        self.resize = self.add_part("resize", Function(
            self.part_name("resize"), handler=self.upload_handler, source=source,
            triggers=[object_created(self.originals, prefix=self.key_prefix, suffix=s) for s in suffixes],
            **{**FunctionSpec.of(self), "environment": dict(environment)},
        ))
        self.resize.reads(self.originals).writes(self.thumbs)
        if self.on_demand:
            fn = self.add_part("on_demand", Function(
                self.part_name("on_demand"), handler=self.request_handler, source=source, triggers=[http()],
                **{**FunctionSpec.of(self), "environment": dict(environment), "timeout": self.request_timeout},
            ))
            fn.reads(self.originals).reads_writes(self.thumbs)
            self.on_demand_function = fn
        self.cdn = self.add_part("cdn", Cdn(self.part_name("cdn"), origin=self.thumbs, domain=self.domain))
