"""What every bucket client hands back: `ObjectInfo`, the errors, and the two stream wrappers.

An object store's ETag is not always an MD5, so every `ObjectInfo` says where its `md5` came from
(`md5_source`): "server" (computed by the store over the bytes it holds), "computed" (we hashed the bytes)
or "metadata" (the MD5 we wrote into object metadata at upload time: a claim, not a proof). Copy and verify
code relies on that distinction.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

CHUNK = 1024 * 1024
"""Read size, in bytes, used when streaming or hashing (bounds the memory per stream)."""

Md5Source = Literal["server", "computed", "metadata"]


class ObjectNotFoundError(FileNotFoundError):
    """Raised by get/open_read-style calls when the key does not exist."""


class InvalidKeyError(ValueError):
    """The key cannot be stored in this bucket (e.g. `..` or `a//b` in a directory-backed bucket)."""


class RawStream(Protocol):
    """The least a wrapped stream must do: `read(n)` returning at most n bytes (b"" at the end)."""

    def read(self, size: int = -1, /) -> bytes | None: ...


@dataclass(frozen=True)
class ObjectInfo:
    """What a store tells about one object.

    `size` is in bytes. md5 and crc32c are lowercase hex (base64 values from a store are converted).
    etag is an opaque fingerprint of the stored version (an ETag, a generation, a local mtime/inode): used to
    notice that an object changed when no trustworthy MD5 is available.
    """

    key: str
    size: int
    md5: str | None = None
    crc32c: str | None = None
    etag: str | None = None
    content_type: str | None = None
    md5_source: Md5Source | None = None

    @property
    def md5_trusted(self) -> bool:
        """True when md5 was derived from the stored bytes rather than from a claim in metadata."""
        return self.md5 is not None and self.md5_source in ("server", "computed")

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict."""
        return asdict(self)


def _seekable(raw: Any) -> bool:
    seekable = getattr(raw, "seekable", None)
    return bool(seekable and seekable())


class ObjectReader(io.RawIOBase):
    """A chunked streaming reader that also carries the object's `ObjectInfo`.

    Wraps whatever the store's library hands back (a streaming HTTP body, a blob reader, a local file) so
    callers get one shape, and learn the content type and advertised MD5 from the same request.
    `local_file` is True when re-reading costs no transfer (a local file): callers may read twice instead of
    spooling. A remote reader may be seekable too, but every seek is another download.
    """

    def __init__(self, raw: Any, info: ObjectInfo, *, local_file: bool = False) -> None:
        super().__init__()
        self._raw = raw
        self.info = info
        self.local_file = local_file

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return _seekable(self._raw)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if not self.seekable():
            raise io.UnsupportedOperation("seek")
        return int(self._raw.seek(offset, whence))

    def tell(self) -> int:
        return int(self._raw.tell())

    def read(self, size: int | None = -1) -> bytes:
        """Up to `size` bytes (all the rest when `size` is None or negative); b"" at the end of the object."""
        if size is None or size < 0:
            return self.readall()
        return bytes(self._raw.read(size) or b"")

    def readall(self) -> bytes:
        parts: list[bytes] = []
        while True:
            chunk = self._raw.read(CHUNK)
            if not chunk:
                return b"".join(parts)
            parts.append(chunk)

    def readinto(self, buffer: WriteableBuffer) -> int:
        """Fill `buffer` with the next bytes; returns how many (0 at the end of the object)."""
        view = memoryview(buffer).cast("B")
        data = self._raw.read(len(view)) or b""
        n = len(data)
        view[:n] = data
        return n

    def close(self) -> None:
        if not self.closed:
            try:
                self._raw.close()
            finally:
                super().close()


class FullReader(io.RawIOBase):
    """Makes read(n) return n bytes unless at EOF, like a file does.

    Sockets, pipes and raw streams may return short reads; upload libraries take a short read for the end of
    the data (and then buffer the rest in memory, or fail). Seeking is passed through so a seekable stream
    stays seekable; tell() counts the bytes read on streams that cannot tell.
    """

    def __init__(self, raw: RawStream) -> None:
        super().__init__()
        self._raw: Any = raw
        self._seekable = _seekable(raw)
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._seekable

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if not self._seekable:
            raise io.UnsupportedOperation("seek")
        return int(self._raw.seek(offset, whence))

    def tell(self) -> int:
        return int(self._raw.tell()) if self._seekable else self._pos

    def read(self, size: int | None = -1) -> bytes:
        """Up to `size` bytes (all the rest when `size` is None or negative); b"" at the end of the object."""
        if size is None or size < 0:
            return self.readall()
        parts: list[bytes] = []
        want = size
        while want > 0:
            chunk = self._raw.read(want)
            if not chunk:
                break
            parts.append(chunk)
            want -= len(chunk)
        data = b"".join(parts)
        self._pos += len(data)
        return data

    def readall(self) -> bytes:
        parts: list[bytes] = []
        while chunk := self.read(CHUNK):
            parts.append(chunk)
        return b"".join(parts)

    def readinto(self, buffer: WriteableBuffer) -> int:
        """Fill `buffer` with the next bytes; returns how many (0 at the end of the object)."""
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)
