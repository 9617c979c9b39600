"""`BucketClient`: the one bucket interface function code and the copy engine use, whatever the store.

Each cloud plug-in implements it in its runtime package (`platform_sdk.providers.<cloud>.runtime.buckets`);
`platform_sdk.runtime.buckets.open_bucket(url)` picks the implementation by URL scheme.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import IO

from platform_sdk.runtime.buckets.objects import ObjectInfo, ObjectReader


class BucketClient(ABC):
    """The portable bucket interface. Keys are `/`-separated strings; sizes are in bytes."""

    scheme: str = ""
    """The URL scheme of this client's buckets (`<scheme>://<name>`)."""

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def url(self) -> str:
        """Stable identity of this bucket (the copy journal's key): `<scheme>://<name>` unless overridden."""
        return f"{self.scheme}://{self.name}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The whole object in memory: only for small objects; use open_read for large ones.

        Raises:
            ObjectNotFoundError: no such key.
        """

    @abstractmethod
    def put(self, key: str, data: bytes, content_type: str | None = None) -> ObjectInfo | None:
        """Write a small object in one request (the store checks our MD5 where it can).

        Returns what the store reported about the written object when its response says it, else None.
        """

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with prefix, in key order (UTF-8 byte order) where the store guarantees it."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove an object; deleting a missing key is not an error (stores are idempotent here)."""

    @abstractmethod
    def signed_url(self, key: str, expires_seconds: int = 3600, method: str = "GET") -> str:
        """A URL that lets a client without credentials use `method` (GET, PUT, ...) on one object for a while."""

    @abstractmethod
    def open_read(self, key: str) -> ObjectReader:
        """A streaming reader that fetches the object in chunks, never the whole object at once.

        Raises:
            ObjectNotFoundError: no such key.
        """

    @abstractmethod
    def put_stream(
        self,
        key: str,
        stream: IO[bytes],
        size: int,
        content_type: str | None = None,
        md5_hex: str | None = None,
    ) -> ObjectInfo | None:
        """Upload `size` bytes from stream without holding them all in memory.

        md5_hex, when known, is stored in metadata and handed to the store for verification.
        Returns what the store reported about the written object when its response says it
        (size, checksums, version), else None: the copier then stats instead of paying a request.
        """

    @abstractmethod
    def stat(self, key: str) -> ObjectInfo | None:
        """Metadata for one object (with the best MD5 available), or None if it does not exist."""

    def exists(self, key: str) -> bool:
        """Whether `key` exists (one `stat`)."""
        return self.stat(key) is not None

    def clean_partial(self, prefix: str = "") -> int:
        """Remove what killed uploads left behind under `prefix`; returns how many were removed.

        The default does nothing: stores whose partial uploads are never visible and expire by themselves.
        """
        return 0

    def create(self) -> None:
        """Create the bucket if missing (tests and local development; infrastructure does it in production)."""
        raise NotImplementedError

    def etag_part_size(self, size: int) -> int | None:
        """Part size whose per-part MD5s determine this store's ETag for an upload of `size` bytes.

        None when the ETag of our uploads is not a multipart ETag. The copier uses it to predict the
        multipart ETag (`checksums.multipart_etag`) and so verify multipart uploads against a server value.
        """
        return None
