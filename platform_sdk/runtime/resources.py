"""Resolve the resources a function was granted: `bucket(name)`, `database(name)`, `config(name)`.

The platform injects, per function: `PLATFORM_GRANTS` (comma list of `kind:name:access`), one
`PLATFORM_BUCKET_<NAME>` URL per granted bucket and one `PLATFORM_DATABASE_<NAME>` URL per granted
database. Code asks by NEUTRAL name ("thumbs"), never by a cloud's physical name, so it moves between
clouds unchanged. Access is checked here on every cloud, so a local run fails the same way the cloud's
IAM would: a read-only grant cannot put, a write-only grant cannot get.

In a rehearsal (a local environment with `rehearses = "prod"`), `PLATFORM_DENY` also lists what the rehearsed
environment's clouds would refuse this function (the conformance analysis of that environment): each such
operation raises `DeniedError` with the analysis' own message, at the call that performs it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import IO

from platform_sdk import contract
from platform_sdk.runtime.buckets import BucketClient, ObjectInfo, ObjectReader, open_bucket
from platform_sdk.runtime.database import Connection, Database

ACCESS_LEVELS = contract.ACCESS_LEVELS
READ_METHODS = ("GET", "HEAD")


class GrantError(PermissionError):
    """The function touched a resource it was not granted, or used it beyond its grant.

    The message names the function, the resource and the line to add to the service file.
    """


class DeniedError(GrantError):
    """The rehearsed environment's clouds would refuse this operation (PLATFORM_DENY): the message is the
    conformance analysis' finding, naming the function, the grant, the operation and what is missing there."""


env_var_name = contract.resource_var
neutral_name_from_env_var = contract.name_from_resource_var


def function_identity() -> str:
    """`service.function` of the running function, for messages and logs."""
    service = os.environ.get(contract.SERVICE, "")
    function = os.environ.get(contract.FUNCTION, "")
    if service and function:
        return f"{service}.{function}"
    return function or service or "this function"


def grants() -> dict[tuple[str, str], set[str]]:
    """Parse PLATFORM_GRANTS into {(kind, name): {"read", "write", ...}}; "readwrite" counts as both."""
    return contract.decode_grants(os.environ.get(contract.GRANTS, ""))


_denials: dict[str, list[contract.Denial]] = {}


def denial(operation: str, resource: str = "") -> str | None:
    """The message of a rehearsal's denial of `operation` ("bucket.put") on the granted resource `resource`
    (neutral name; "" for the function's triggers), or None. A denied federation denies everything on it."""
    value = os.environ.get(contract.DENY, "")
    if not value:
        return None
    if value not in _denials:
        _denials[value] = contract.decode_denials(value)
    for item in _denials[value]:
        if item.resource == resource and item.operation in (operation, "federation.token_exchange"):
            return item.message
    return None


def deny(operation: str, resource: str = "") -> None:
    """Raise DeniedError when a rehearsal says the rehearsed cloud would refuse `operation`."""
    message = denial(operation, resource)
    if message is not None:
        rehearsed = os.environ.get(contract.ENV, "this environment")
        raise DeniedError(f"{message} (refused here because {rehearsed} rehearses an environment whose clouds "
                          f"would refuse it; see `platform apply --env {rehearsed}`)")


def _service_hint() -> str:
    service = os.environ.get(contract.SERVICE)
    return f"the service file that declares service {service!r}" if service else "the service file"


def _why_missing(kind: str, name: str) -> str:
    var = env_var_name(kind, name)
    if not os.environ.get(var):
        return f"{var} is not set"
    return f"PLATFORM_GRANTS has no {kind}:{name} entry"


def _missing_bucket(name: str) -> GrantError:
    fn = os.environ.get(contract.FUNCTION) or "fn"
    return GrantError(
        f"function {function_identity()} has no grant on bucket {name!r} "
        f"({_why_missing('bucket', name)}). In {_service_hint()}, grant it on the Function "
        f"{fn!r}: `fn.reads(bucket)` to read/list, `fn.writes(bucket)` to write/delete, or "
        f"`fn.reads_writes(bucket)` for both (bucket = the Bucket named {name!r}); then deploy again."
    )


def _missing_database(name: str) -> GrantError:
    fn = os.environ.get(contract.FUNCTION) or "fn"
    return GrantError(
        f"function {function_identity()} has no grant on database {name!r} "
        f"({_why_missing('database', name)}). In {_service_hint()}, add `fn.uses(database)` "
        f"on the Function {fn!r} (database = the Database named {name!r}); then deploy again."
    )


class GrantedBucket(BucketClient):
    """A BucketClient that allows only what the function's grant allows, then delegates to the real client.

    `raw` is the unchecked client (the cloud's IAM still applies there; the local cloud has no IAM).
    """

    def __init__(self, neutral_name: str, inner: BucketClient, access: frozenset[str]) -> None:
        super().__init__(inner.name)
        self.neutral_name = neutral_name
        self.raw = inner
        self.access = access
        self.scheme = inner.scheme

    @property
    def url(self) -> str:
        return self.raw.url

    def __repr__(self) -> str:
        return f"GrantedBucket({self.neutral_name!r}, {self.raw!r}, access={'+'.join(sorted(self.access))})"

    def _require(self, need: str, operation: str) -> None:
        if need in self.access:
            return
        have = "+".join(sorted(self.access)) or "none"
        fix = "fn.reads_writes(bucket)"
        call = operation if "(" in operation else f"{operation}()"  # "may not exists on" read wrongly
        raise GrantError(
            f"function {function_identity()} may not call {call} on bucket {self.neutral_name!r}: its grant is "
            f"{have!r} and {call} needs {need!r}. In {_service_hint()}, change the grant to `{fix}` "
            f"(bucket = the Bucket named {self.neutral_name!r}) if this function really needs to {need}."
        )

    # -- reads ----------------------------------------------------------------------------------------------
    def _deny(self, verb: str) -> None:
        deny(f"bucket.{verb}", self.neutral_name)

    def get(self, key: str) -> bytes:
        self._require("read", "get")
        self._deny("get")
        return self.raw.get(key)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        self._require("read", "list")
        self._deny("list")
        return self.raw.list(prefix)

    def open_read(self, key: str) -> ObjectReader:
        self._require("read", "open_read")
        self._deny("get")
        return self.raw.open_read(key)

    def stat(self, key: str) -> ObjectInfo | None:
        self._require("read", "stat")
        self._deny("head")
        return self.raw.stat(key)

    def exists(self, key: str) -> bool:
        self._require("read", "exists")
        self._deny("head")
        return self.raw.exists(key)

    # -- writes ---------------------------------------------------------------------------------------------
    def _deny_write(self, key: str) -> None:
        """A put of a new key is `put`; of an existing one `overwrite` (a cloud may allow one and not the other)."""
        self._deny("put")
        if denial("bucket.overwrite", self.neutral_name) is not None and self.raw.stat(key) is not None:
            self._deny("overwrite")

    def put(self, key: str, data: bytes, content_type: str | None = None) -> ObjectInfo | None:
        self._require("write", "put")
        self._deny_write(key)
        return self.raw.put(key, data, content_type=content_type)

    def put_stream(self, key: str, stream: IO[bytes], size: int, content_type: str | None = None,
                   md5_hex: str | None = None) -> ObjectInfo | None:
        self._require("write", "put_stream")
        self._deny_write(key)
        return self.raw.put_stream(key, stream, size, content_type, md5_hex)

    def delete(self, key: str) -> None:
        self._require("write", "delete")
        self._deny("delete")
        self.raw.delete(key)

    # -- other ----------------------------------------------------------------------------------------------
    def signed_url(self, key: str, expires_seconds: int = 3600, method: str = "GET") -> str:
        """A URL anyone may use for `method` on `key` for `expires_seconds` seconds (default 3600: one hour; S3
        and GCS allow at most 7 days: docs.aws.amazon.com/AmazonS3/latest/userguide/using-presigned-url.html,
        cloud.google.com/storage/docs/access-control/signed-urls). A GET/HEAD URL needs read access, any other
        method write access (the URL carries our rights).

        Raises:
            GrantError: the grant lacks the access `method` needs.
        """
        if method.upper() in READ_METHODS:
            self._require("read", f"signed_url({method.upper()})")
            self._deny("signed_url_get")
        else:
            self._require("write", f"signed_url({method.upper()})")
            self._deny("signed_url_put")
        return self.raw.signed_url(key, expires_seconds=expires_seconds, method=method)

    def etag_part_size(self, size: int) -> int | None:
        return self.raw.etag_part_size(size)

    def create(self) -> None:
        raise GrantError(f"bucket {self.neutral_name!r} is created by the platform, not by function code")


_cache: dict[tuple[str, str, frozenset[str]], GrantedBucket] = {}
_cache_lock = threading.Lock()


def bucket(name: str) -> GrantedBucket:
    """The granted bucket `name` (neutral name) as a BucketClient limited to the grant's access.

    Clients are cached per process (warm invocations reuse connections). Keys are strings, sizes bytes.
    `get`, `list`, `open_read`, `stat`, `exists` and a GET/HEAD `signed_url` need `fn.reads(bucket)`; `put`,
    `put_stream`, `delete` and other signed URLs need `fn.writes(bucket)` (`reads_writes` grants both).

    Raises:
        GrantError: the bucket is not granted to this function (here), or a method needs access its grant lacks
            (at the call); the message names the line to change in the service file.
        DeniedError: (a GrantError) in a rehearsal, the rehearsed environment's cloud would refuse the call.
        platform_sdk.runtime.buckets.ObjectNotFoundError: `get` or `open_read` of a key that does not exist.
    """
    url = os.environ.get(env_var_name("bucket", name))
    if not url:
        raise _missing_bucket(name)
    access = frozenset(grants().get(("bucket", name), set()) & {"read", "write"})
    if not access:
        raise _missing_bucket(name)
    key = (name, url, access)
    with _cache_lock:
        client = _cache.get(key)
        if client is None:
            client = GrantedBucket(name, open_bucket(url), access)
            _cache[key] = client
    return client


def database(name: str) -> Database:
    """The granted database `name` (neutral name); `.connect()` opens a connection.

    Raises:
        GrantError: the function holds no `fn.uses(database)` grant on it (the message names the line to add).
    """
    url = os.environ.get(env_var_name("database", name))
    if not url or "connect" not in grants().get(("database", name), set()):
        raise _missing_database(name)
    if denial("database.connect", name) is not None:
        return DeniedDatabase(name, url)
    return Database(name, url)


class DeniedDatabase(Database):
    """A database the rehearsed environment's clouds would not let this function connect to (PLATFORM_DENY)."""

    def connect(self) -> Connection:
        deny("database.connect", self.name)
        return super().connect()


def config(name: str, default: str | None = None) -> str | None:
    """A plain configuration value (the Function's `environment={...}`), or `default` when unset."""
    return os.environ.get(name, default)


def bucket_urls() -> dict[str, str]:
    """{neutral bucket name: URL} for every bucket URL injected into this function."""
    prefix = env_var_name("bucket", "")
    return {neutral_name_from_env_var(k, "bucket"): v for k, v in os.environ.items() if k.startswith(prefix) and v}
