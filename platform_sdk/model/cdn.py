"""The Cdn kind: a content delivery network in front of a bucket or a function's HTTP trigger."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

from platform_sdk.model.alarms import Alarms
from platform_sdk.model.base import Resource
from platform_sdk.model.bucket import Bucket
from platform_sdk.model.function import Function
from platform_sdk.model.triggers import HttpTrigger

DOMAIN_PATTERN = re.compile(r"^(?=.{4,253}$)([a-z0-9-]{1,63}\.)+[a-z]{2,63}$")


@dataclass(eq=False)
class Cdn(Resource):
    """A content delivery network in front of a bucket (static files) or a function's HTTP trigger.

    Nothing can be granted on a CDN: it is the public face of its origin.

    Attributes:
        name: Required. The neutral name, see `Resource`.
        origin: Required. The `Bucket` whose objects it serves (the bucket stays private), or a `Function`
            with an `http()` trigger, which the CDN then is the only way into (its own URL admits nothing else,
            `http()` or `http(public=False)` alike; GET and POST pass). Raises `ModelError` (key `origin`) for
            anything else or a function without an HTTP trigger.
        domain: Serve on this DNS name, lowercase like `"img.example.com"` (the cloud issues the certificate).
            Default `None`: the cloud's own host name. Raises `ModelError` (key `domain`) otherwise.
        default_root_object: The object key served for `/`. Default `"index.html"`. Raises `ModelError` (key
            `default_root_object`) unless a non-empty key not starting with '/'.
        alarms: Thresholds of the CDN's alarm (`error_rate_5xx`: the share of 5xx responses), see `Alarms`. Default
            `Alarms()`: on, thresholds from the profile or the built-in defaults. Raises `ModelError` (key
            `alarms` or `alarms.<setting>`) unless an `Alarms` with valid CDN settings.

    Raises:
        ModelError: on any invalid setting, naming the file and line of the declaration, the key and the value.
    """

    kind: ClassVar[str] = "cdn"
    overridable: ClassVar[tuple[str, ...]] = ("domain", "default_root_object", "alarms")
    origin: Bucket | Function | None = None
    domain: str | None = None
    default_root_object: str = "index.html"
    alarms: Alarms = field(default_factory=Alarms)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.origin, (Bucket, Function)):
            raise self.error("origin must be a Bucket or a Function with an HTTP trigger", "origin", self.origin)
        if isinstance(self.origin, Function) and not self.origin.trigger_of(HttpTrigger):
            raise self.error("a function used as CDN origin needs an http() trigger", "origin", self.origin.name)
        if self.domain is not None and (not isinstance(self.domain, str) or not DOMAIN_PATTERN.match(self.domain)):
            raise self.error("domain must be a lowercase DNS name like 'img.example.com'", "domain", self.domain)
        root = self.default_root_object
        if not isinstance(root, str) or not root or root.startswith("/"):
            raise self.error("default_root_object must be an object key like 'index.html'", "default_root_object",
                             root)
        if not isinstance(self.alarms, Alarms):
            raise self.error("alarms must be Alarms(...), like alarms=Alarms(error_rate_5xx=2)", "alarms", self.alarms)
        self.alarms.check(self.kind, self.error)
