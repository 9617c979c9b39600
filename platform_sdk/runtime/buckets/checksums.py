"""Checksums of object content: the one place bucket clients and the copy engine (`platform_sdk.move`) hash bytes.

Values are lowercase hex everywhere. Stores that report base64 digests (Cloud Storage's `md5Hash`/`crc32c`)
are converted with `hex_from_b64`; `b64_from_hex` goes the other way for upload headers (`Content-MD5`).
The multipart ETag is the MD5 of the concatenated binary MD5s of the upload's parts, followed by `-<parts>`
(Amazon S3 User Guide, "Checking object integrity": https://docs.aws.amazon.com/AmazonS3/latest/userguide/
checking-object-integrity.html): predicting it lets a copy verify a multipart upload against a value the store
computed. CRC32C uses the `google_crc32c` C extension when importable (it ships with the Cloud Storage client
library), else it is skipped (None). Standard library only otherwise.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Any, Protocol

from platform_sdk.runtime.buckets.objects import CHUNK

MD5_METADATA_KEY = "md5"
"""Custom metadata key holding the hex MD5 of the content, written at upload (a claim, checked by the store)."""

EMPTY_MD5 = hashlib.md5(b"").hexdigest()


class Readable(Protocol):
    """Anything with `read(n) -> bytes` (b"" at the end)."""

    def read(self, size: int = -1, /) -> bytes: ...


def hex_from_b64(value: str | None) -> str | None:
    """Base64 of a raw digest -> lowercase hex; None for a missing or malformed value."""
    if not value:
        return None
    try:
        return base64.b64decode(value).hex()
    except (binascii.Error, ValueError):
        return None


def b64_from_hex(value: str) -> str:
    """Hex digest -> base64 of the raw digest (what `Content-MD5` and similar headers carry)."""
    return base64.b64encode(bytes.fromhex(value)).decode("ascii")


def crc32c_hasher() -> Any | None:
    """A fresh `google_crc32c.Checksum` (`update(bytes)`, `digest() -> bytes`), or None if the library is absent."""
    try:
        import google_crc32c
    except ImportError:
        return None
    return google_crc32c.Checksum()


def md5_of_stream(stream: Readable) -> tuple[str, int]:
    """Hash a stream in CHUNK-sized reads: (md5 hex, bytes read)."""
    h = hashlib.md5()
    n = 0
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            return h.hexdigest(), n
        h.update(chunk)
        n += len(chunk)


def multipart_etag(part_md5s: list[bytes]) -> str:
    """The ETag of a multipart upload whose parts have these binary MD5s: `<md5 of their concatenation>-<n>`."""
    return f"{hashlib.md5(b''.join(part_md5s)).hexdigest()}-{len(part_md5s)}"


@dataclass(frozen=True)
class Checksums:
    """What was computed over a stream of bytes: size (bytes), md5 and crc32c (hex, crc32c None if unavailable),
    and the multipart ETag those bytes get when uploaded in parts of the hasher's part size (None without one)."""

    size: int
    md5: str
    crc32c: str | None = None
    multipart_etag: str | None = None


class StreamHasher:
    """MD5 + CRC32C of a stream fed chunk by chunk, plus per-part MD5s when `part_size` (bytes) is given.

    Chunk boundaries need not match part boundaries. Call `finish()` once, at the end.
    """

    def __init__(self, part_size: int | None = None) -> None:
        self._md5 = hashlib.md5()
        self._crc = crc32c_hasher()
        self._part_size = part_size
        self._part = hashlib.md5()
        self._part_fill = 0
        self._parts: list[bytes] = []
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self._md5.update(chunk)
        if self._crc is not None:
            self._crc.update(chunk)
        self.size += len(chunk)
        if self._part_size:
            view = memoryview(chunk)
            while view:
                take = min(len(view), self._part_size - self._part_fill)
                self._part.update(view[:take])
                self._part_fill += take
                view = view[take:]
                if self._part_fill == self._part_size:
                    self._parts.append(self._part.digest())
                    self._part, self._part_fill = hashlib.md5(), 0

    def finish(self) -> Checksums:
        etag = None
        if self._part_size:
            etag = multipart_etag(self._parts + ([self._part.digest()] if self._part_fill else []))
        return Checksums(
            size=self.size,
            md5=self._md5.hexdigest(),
            crc32c=bytes(self._crc.digest()).hex() if self._crc is not None else None,
            multipart_etag=etag,
        )
