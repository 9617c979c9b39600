"""The Bucket kind: object storage, its settings, and what each grant on it allows at runtime."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from platform_sdk.model.base import Resource, is_whole

CORS_METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE")
"""HTTP methods a CORS rule may allow (the ones every cloud's bucket CORS supports)."""

_READ = ("get", "head", "list", "signed_url")
_WRITE = ("put", "overwrite", "delete", "signed_url")

OPERATIONS: Mapping[str, tuple[str, ...]] = {
    "read": _READ,
    "write": _WRITE,
    "readwrite": tuple(dict.fromkeys(_READ + _WRITE)),
}
"""Grant access level -> the runtime operations it allows on a bucket's objects.

`fn.reads(bucket)` grants "read", `fn.writes(bucket)` "write", `fn.reads_writes(bucket)` "readwrite". Each
cloud plug-in maps every operation to the permissions it needs there; a grant must allow all of its
operations on every cloud (a "write" grant that cannot overwrite on one cloud is a bug of that plug-in).
"""

OPERATION_DESCRIPTIONS: Mapping[str, str] = {
    "get": "read an object's bytes (runtime: get, open_read)",
    "head": "read an object's metadata without its bytes (runtime: stat, exists)",
    "list": "list the keys and metadata under a prefix (runtime: list)",
    "put": "create an object under a new key (runtime: put, put_stream)",
    "overwrite": "replace the object under an existing key (runtime: put, put_stream on a key that exists)",
    "delete": "delete an object (runtime: delete)",
    "signed_url": "sign a URL with the function's own identity; the URL carries the grant's rights "
                  "(runtime: signed_url; GET/HEAD need read, other methods write)",
}
"""What each operation in `OPERATIONS` does, and the runtime client methods that perform it."""


@dataclass(eq=False)
class Cors:
    """Cross-origin rules for a bucket that browsers call directly.

    Attributes:
        origins: Required. Origins allowed to call the bucket, like `"https://shop.example.com"` (a list of
            strings). A bucket raises `ModelError` (key `cors.origins`) for anything else.
        methods: HTTP methods allowed, from `CORS_METHODS`. Default `["GET", "HEAD"]`. A bucket raises
            `ModelError` (key `cors.methods`) for any other method.
        max_age_seconds: How long (seconds) browsers may cache the pre-flight answer, a whole number >= 0.
            Default 3600. A bucket raises `ModelError` (key `cors.max_age_seconds`) otherwise.
    """

    origins: list[str]
    methods: list[str] = field(default_factory=lambda: ["GET", "HEAD"])
    max_age_seconds: int = 3600


@dataclass(eq=False)
class Bucket(Resource):
    """Object storage. Private and encrypted on every cloud unless `public_read=True` is asked for explicitly.

    Functions are granted access with `fn.reads(bucket)`, `fn.writes(bucket)` or `fn.reads_writes(bucket)`;
    `OPERATIONS` says what each allows at runtime.

    Attributes:
        name: Required. The neutral name, see `Resource`.
        versioning: Keep every version of every object (overwritten and deleted ones included). Default
            `False`. Raises `ModelError` (key `versioning`) unless a bool.
        expire_days: Delete objects this many days (a whole number >= 1) after they were written. Default
            `None`: never. Raises `ModelError` (key `expire_days`) otherwise.
        cors: Cross-origin rules for browsers (`Cors`). Default `None`: no cross-origin access. Raises
            `ModelError` (key `cors`, `cors.origins`, `cors.methods` or `cors.max_age_seconds`) when invalid.
        public_read: Anyone on the internet may read every object. Default `False`; guardrails may refuse
            `True`. Raises `ModelError` (key `public_read`) unless a bool.
        force_destroy: Let Terraform delete the bucket while it still holds objects. Default `False`.
            Raises `ModelError` (key `force_destroy`) unless a bool.
        content: A directory whose files `platform apply` uploads into the bucket (a website's pages, assets),
            relative to the file that declares the bucket (a string or a Path); resolved to an absolute path.
            Default `None` (the platform never writes the bucket's objects). Each apply makes the bucket match
            the directory (new and changed files uploaded with their content type, unchanged ones skipped by
            MD5, files removed from the directory deleted if an earlier apply uploaded them; see
            `platform_sdk.content`). Raises `ModelError` (key `content`) unless an existing directory.

    Raises:
        ModelError: on any invalid setting, naming the file and line of the declaration, the key and the value.
    """

    kind: ClassVar[str] = "bucket"
    operations: ClassVar[Mapping[str, tuple[str, ...]]] = OPERATIONS
    overridable: ClassVar[tuple[str, ...]] = ("versioning", "expire_days", "cors", "public_read", "force_destroy")
    versioning: bool = False
    expire_days: int | None = None
    cors: Cors | None = None
    public_read: bool = False
    force_destroy: bool = False
    content: str | Path | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        for key in ("versioning", "public_read", "force_destroy"):
            if not isinstance(getattr(self, key), bool):
                raise self.error(f"{key} must be True or False", key, getattr(self, key))
        if self.content is not None:
            self.content = self._content_dir(self.content)
        if self.expire_days is not None and (not is_whole(self.expire_days) or self.expire_days < 1):
            raise self.error("expire_days must be a positive whole number of days", "expire_days", self.expire_days)
        if self.cors is not None:
            self._check_cors(self.cors)

    @property
    def content_dir(self) -> Path | None:
        """Absolute directory whose files `platform apply` uploads into the bucket; None when there is none."""
        return Path(self.content) if self.content is not None else None

    def _content_dir(self, content: object) -> Path:
        if not isinstance(content, (str, Path)) or not str(content):
            raise self.error("content must be a directory path like 'site/'", "content", content)
        base = Path(self.declared_in).parent if self.declared_in else Path.cwd()
        directory = (base / content).resolve()
        if not directory.is_dir():
            what = "is a file, not a directory" if directory.exists() else "does not exist"
            raise self.error(f"content directory {directory} {what} (a path relative to {base})", "content",
                             str(content))
        return directory

    def _check_cors(self, cors: object) -> None:
        if not isinstance(cors, Cors):
            raise self.error("cors must be a Cors(origins=[...])", "cors", cors)
        if not isinstance(cors.origins, list) or not all(isinstance(o, str) and o for o in cors.origins):
            raise self.error("CORS origins must be a list of origins like 'https://shop.example.com'",
                             "cors.origins", cors.origins)
        if not isinstance(cors.methods, list):
            raise self.error("CORS methods must be a list like ['GET', 'HEAD']", "cors.methods", cors.methods)
        bad = [m for m in cors.methods if m not in CORS_METHODS]
        if bad:
            raise self.error(f"unsupported CORS method (use {', '.join(CORS_METHODS)})", "cors.methods", bad[0])
        if not is_whole(cors.max_age_seconds) or cors.max_age_seconds < 0:
            raise self.error("CORS max_age_seconds must be a whole number of seconds >= 0", "cors.max_age_seconds",
                             cors.max_age_seconds)
