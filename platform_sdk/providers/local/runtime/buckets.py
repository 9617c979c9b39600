"""`LocalBucket`: a directory acting as a bucket (`file:///path`): the local cloud's storage and a test double.

Content types and cached MD5s live in user extended attributes (`user.platform.*`); a filesystem without them
just means the MD5 is recomputed and the content type guessed from the extension. Standard library only.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import mimetypes
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO
from urllib.parse import quote, urlparse
from urllib.request import url2pathname

from platform_sdk import contract
from platform_sdk.runtime.buckets import (
    CHUNK,
    BucketClient,
    InvalidKeyError,
    ObjectInfo,
    ObjectNotFoundError,
    ObjectReader,
    md5_of_stream,
)

GATEWAY_ENV = contract.LOCAL_GATEWAY
"""Base URL of `platform dev`'s gateway; when set, signed URLs point at its `/bucket/<name>/<key>` route."""

_TMP_DIR = ".platform-tmp"
_ABANDONED_SECONDS = 3600.0
_XATTR_MD5 = "user.platform.md5"
_XATTR_TYPE = "user.platform.content_type"


def _alive(pid: int) -> bool:
    """Whether a process with this pid exists here (one we may not signal exists too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _guess_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _getxattr(path: Path, name: str) -> str | None:
    try:
        return os.getxattr(path, name).decode("utf-8")
    except (OSError, AttributeError, UnicodeDecodeError):
        return None


def _setxattr(target: int | Path, name: str, value: str) -> None:
    # A filesystem without user xattrs just means: md5 gets recomputed, content type guessed.
    with contextlib.suppress(OSError, AttributeError):
        os.setxattr(target, name, value.encode("utf-8"))


class LocalBucket(BucketClient):
    """A directory acting as a bucket: the local cloud's storage and a test double.

    Keys map to relative files. Writes go to a temp file under `.platform-tmp/` and are renamed into
    place, so readers never see half an object; a temp file is named after its writer's pid
    (`<pid>.<random>.part`), so one a killed writer left is recognised and removed (`clean_partial`, which
    the copy engine runs before copying into a bucket). The MD5 is computed on demand and cached in an xattr
    stamped with (size, mtime_ns, inode), so a rewrite invalidates it. Content types are kept in an
    xattr, falling back to a guess from the extension.
    """

    scheme = "file"

    def __init__(self, path: str | os.PathLike[str], name: str | None = None, *, fsync: bool = True) -> None:
        self.root = Path(path).resolve()
        super().__init__(name or self.root.name)
        self.fsync = fsync

    @property
    def url(self) -> str:
        return self.root.as_uri()

    def create(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if (
            not key
            or key.startswith("/")
            or "\\" in key
            or "\x00" in key
            or any(p in ("", ".", "..") for p in parts)
            or parts[0] == _TMP_DIR
        ):
            raise InvalidKeyError(f"key not representable in a local bucket: {key!r}")
        return self.root.joinpath(*parts)

    @staticmethod
    def _stamp(st: os.stat_result) -> str:
        return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"

    def _cached_md5(self, path: Path, st: os.stat_result) -> str | None:
        cached = _getxattr(path, _XATTR_MD5)
        if cached:
            stamp, _, md5 = cached.rpartition(":")
            if stamp == self._stamp(st):
                return md5
        return None

    def _md5(self, path: Path, st: os.stat_result) -> str:
        md5 = self._cached_md5(path, st)
        if md5 is None:
            with open(path, "rb") as fh:
                md5, _ = md5_of_stream(fh)
            if self._stamp(os.stat(path)) == self._stamp(st):
                _setxattr(path, _XATTR_MD5, f"{self._stamp(st)}:{md5}")
        return md5

    def _content_type(self, path: Path) -> str:
        return _getxattr(path, _XATTR_TYPE) or _guess_type(path.name)

    def _info(self, key: str, path: Path, st: os.stat_result, md5: str | None) -> ObjectInfo:
        return ObjectInfo(
            key=key,
            size=st.st_size,
            md5=md5,
            etag=f"{st.st_mtime_ns:x}-{st.st_size:x}-{st.st_ino:x}",
            content_type=self._content_type(path),
            md5_source="computed" if md5 else None,
        )

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise ObjectNotFoundError(f"{self.url}/{key}") from exc

    def put(self, key: str, data: bytes, content_type: str | None = None) -> ObjectInfo | None:
        return self.put_stream(key, io.BytesIO(data), len(data), content_type)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        found: list[tuple[str, Path, os.stat_result]] = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            if Path(dirpath) == self.root and _TMP_DIR in dirnames:
                dirnames.remove(_TMP_DIR)
            rel = Path(dirpath).relative_to(self.root).as_posix()
            base = "" if rel == "." else rel + "/"
            if prefix and not (base.startswith(prefix) or prefix.startswith(base)):
                dirnames.clear()
                continue
            for fname in filenames:
                key = base + fname
                if key.startswith(prefix):
                    path = Path(dirpath, fname)
                    try:
                        found.append((key, path, path.stat()))
                    except FileNotFoundError:
                        continue  # deleted while listing
        found.sort(key=lambda item: item[0].encode("utf-8"))  # S3/GCS order: UTF-8 byte order
        for key, path, st in found:
            yield self._info(key, path, st, self._cached_md5(path, st))

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        parent = path.parent
        while parent != self.root:  # object stores have no empty "directories": prune them
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    def signed_url(self, key: str, expires_seconds: int = 3600, method: str = "GET") -> str:
        gateway = os.environ.get(GATEWAY_ENV)
        if gateway:
            return f"{gateway.rstrip('/')}/bucket/{quote(self.name)}/{quote(key, safe='/')}"
        return self._path(key).as_uri()

    def open_read(self, key: str) -> ObjectReader:
        path = self._path(key)
        try:
            fh = open(path, "rb")  # noqa: SIM115 - handed to the caller inside ObjectReader
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise ObjectNotFoundError(f"{self.url}/{key}") from exc
        st = os.fstat(fh.fileno())
        return ObjectReader(fh, self._info(key, path, st, self._cached_md5(path, st)), local_file=True)

    def put_stream(
        self,
        key: str,
        stream: IO[bytes],
        size: int,
        content_type: str | None = None,
        md5_hex: str | None = None,
    ) -> ObjectInfo | None:
        path = self._path(key)
        tmp_dir = self.root / _TMP_DIR
        tmp_dir.mkdir(parents=True, exist_ok=True)
        tmp = tmp_dir / f"{os.getpid()}.{uuid.uuid4().hex}.part"
        digest = hashlib.md5()
        written = 0
        try:
            with open(tmp, "wb") as out:
                while written < size:
                    chunk = stream.read(min(CHUNK, size - written))
                    if not chunk:
                        break
                    out.write(chunk)
                    digest.update(chunk)
                    written += len(chunk)
                if written != size:
                    raise OSError(errno.EIO, f"short read for {key}: {written} of {size} bytes")
                md5 = digest.hexdigest()
                if md5_hex and md5_hex.lower() != md5:
                    raise OSError(errno.EIO, f"md5 mismatch for {key}: expected {md5_hex}, got {md5}")
                out.flush()
                if self.fsync:
                    os.fsync(out.fileno())
                st = os.fstat(out.fileno())
                _setxattr(out.fileno(), _XATTR_MD5, f"{self._stamp(st)}:{md5}")
                _setxattr(
                    out.fileno(),
                    _XATTR_TYPE,
                    content_type or _guess_type(path.name),
                )
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return self._info(key, path, st, md5)  # rename keeps inode, size and mtime: same stamp

    def clean_partial(self, prefix: str = "") -> int:
        """Remove temp files whose writer is gone (a killed copy or function); a live writer's file stays."""
        removed = 0
        try:
            names = os.listdir(self.root / _TMP_DIR)
        except FileNotFoundError:
            return 0
        for name in names:
            path = self.root / _TMP_DIR / name
            pid_text = name.split(".", 1)[0]
            if pid_text.isdigit():
                if _alive(int(pid_text)):
                    continue
            else:  # an older writer's name carries no pid: only when it is clearly abandoned
                try:
                    if time.time() - path.stat().st_mtime < _ABANDONED_SECONDS:
                        continue
                except FileNotFoundError:
                    continue
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed += 1
        return removed

    def stat(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not path.is_file():
            return None
        return self._info(key, path, st, self._md5(path, st))


def open_bucket(url: str, *, endpoint_url: str | None = None, region: str | None = None,
                project: str | None = None) -> LocalBucket:
    """`file:///path` (or `file://localhost/path`): the directory as a bucket. The keywords are ignored.

    Raises:
        ValueError: the URL names another host.
    """
    parsed = urlparse(url)
    if parsed.netloc not in ("", "localhost"):
        raise ValueError(f"file URL must be local: {url}")
    return LocalBucket(url2pathname(parsed.path))
