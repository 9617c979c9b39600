"""Portable bucket clients: one small interface over S3, GCS and a local directory.

This module is imported inside deployed functions, so it only imports the standard library at
module level; boto3 / google-cloud-storage are imported lazily by the class that needs them.

Checksums are the point of this module as much as I/O: an object store's ETag is not always an
MD5 (S3 multipart and SSE-KMS objects), so every `ObjectInfo` says where its `md5` came from
(`md5_source`): "server" (computed by the store over the bytes it holds), "computed" (we hashed
the bytes) or "metadata" (the MD5 we wrote into object metadata at upload time: a claim, not a
proof). Copy and verify code relies on that distinction.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import hashlib
import io
import mimetypes
import os
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, urlparse
from urllib.request import url2pathname

MD5_METADATA_KEY = "md5"
"""Custom metadata key holding the hex MD5 of the content (x-amz-meta-md5 / GCS metadata md5)."""

CHUNK = 1024 * 1024
"""Read size used when streaming or hashing (bounded memory per stream)."""

EMPTY_MD5 = hashlib.md5(b"").hexdigest()


class ObjectNotFoundError(FileNotFoundError):
    """Raised by get/open_read/delete-style calls when the key does not exist."""


class InvalidKeyError(ValueError):
    """The key cannot be stored in this bucket (e.g. `..` or `a//b` in a directory-backed bucket)."""


@dataclass(frozen=True)
class ObjectInfo:
    """What a store tells about one object.

    md5 and crc32c are lowercase hex (GCS's base64 values are converted). etag is an opaque
    fingerprint of the stored version (S3 ETag, GCS generation, local mtime/inode): used to notice
    that an object changed when no trustworthy MD5 is available.
    """

    key: str
    size: int
    md5: str | None = None
    crc32c: str | None = None
    etag: str | None = None
    content_type: str | None = None
    md5_source: str | None = None  # "server" | "computed" | "metadata" | None

    @property
    def md5_trusted(self) -> bool:
        """True when md5 was derived from the stored bytes rather than from a claim in metadata."""
        return self.md5 is not None and self.md5_source in ("server", "computed")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ObjectReader(io.RawIOBase):
    """A chunked streaming reader that also carries the object's `ObjectInfo`.

    Wraps whatever the SDK hands back (botocore StreamingBody, GCS BlobReader, a local file) so
    callers get one shape, and learn the content type/advertised MD5 from the same request.
    """

    def __init__(self, raw: Any, info: ObjectInfo, *, local_file: bool = False) -> None:
        super().__init__()
        self._raw = raw
        self.info = info
        # True when re-reading costs no transfer (a local file): callers may read twice instead of
        # spooling. A GCS BlobReader is seekable too, but every seek is another download.
        self.local_file = local_file

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        seekable = getattr(self._raw, "seekable", None)
        return bool(seekable and seekable())

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if not self.seekable():
            raise io.UnsupportedOperation("seek")
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        return self._raw.read(size) or b""

    def readall(self) -> bytes:
        parts = []
        while True:
            chunk = self._raw.read(CHUNK)
            if not chunk:
                return b"".join(parts)
            parts.append(chunk)

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        return n

    def close(self) -> None:
        if not self.closed:
            try:
                self._raw.close()
            finally:
                super().close()


class FullReader(io.RawIOBase):
    """Makes read(n) return n bytes unless at EOF, like a file does.

    Sockets, pipes and raw streams may return short reads; the SDKs take a short read for the end of
    the data (s3transfer then slurps the rest into memory, GCS multipart upload raises). Seeking is
    passed through so a seekable stream stays seekable.
    """

    def __init__(self, raw: Any) -> None:
        super().__init__()
        self._raw = raw
        self._seekable = bool(getattr(raw, "seekable", None) and raw.seekable())
        self._pos = 0  # bytes read, for tell() on streams that cannot tell (GCS checks tell() == 0)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._seekable

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if not self._seekable:
            raise io.UnsupportedOperation("seek")
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell() if self._seekable else self._pos

    def read(self, size: int = -1) -> bytes:
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
        parts = []
        while chunk := self.read(CHUNK):
            parts.append(chunk)
        return b"".join(parts)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def hex_from_b64(value: str | None) -> str | None:
    """GCS reports md5Hash/crc32c as base64 of the raw digest; normalise to hex."""
    if not value:
        return None
    try:
        return base64.b64decode(value).hex()
    except (binascii.Error, ValueError):
        return None


def b64_from_hex(value: str) -> str:
    return base64.b64encode(bytes.fromhex(value)).decode("ascii")


def crc32c_hasher() -> Any | None:
    """A google_crc32c.Checksum if the C extension is importable (it ships with google-cloud-storage)."""
    try:
        import google_crc32c
    except ImportError:
        return None
    return google_crc32c.Checksum()


def md5_of_stream(stream: IO[bytes] | ObjectReader) -> tuple[str, int]:
    """Hash a stream in chunks; returns (md5 hex, bytes read)."""
    h = hashlib.md5()
    n = 0
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            return h.hexdigest(), n
        h.update(chunk)
        n += len(chunk)


class BucketClient(ABC):
    """The portable bucket interface used by runtime code and by the data mover."""

    scheme: str = ""

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def url(self) -> str:
        """Stable identity of this bucket (journal key), e.g. s3://name, gs://name, file:///path."""
        return f"{self.scheme}://{self.name}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    @abstractmethod
    def get(self, key: str) -> bytes:
        """Whole object into memory: only for small objects; use open_read for large ones."""

    @abstractmethod
    def put(self, key: str, data: bytes, content_type: str | None = None) -> ObjectInfo | None:
        """Write a small object in one request (the store checks our MD5 where it can)."""

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with prefix, in key order where the store guarantees it."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove an object; deleting a missing key is not an error (stores are idempotent here)."""

    @abstractmethod
    def signed_url(self, key: str, expires_seconds: int = 3600, method: str = "GET") -> str:
        """A URL that lets a client without credentials GET (or PUT) one object."""

    @abstractmethod
    def open_read(self, key: str) -> ObjectReader:
        """A streaming reader that fetches the object in chunks, never the whole object at once."""

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
        return self.stat(key) is not None

    def create(self) -> None:
        """Create the bucket if missing (tests and local development; infrastructure does it in prod)."""
        raise NotImplementedError

    def etag_part_size(self, size: int) -> int | None:
        """Part size whose per-part MD5s determine this store's ETag for an upload of `size` bytes.

        None when the ETag of our uploads is not a multipart ETag. The copier uses it to predict
        S3's multipart ETag and so verify multipart uploads against a server-computed value.
        """
        return None


# --------------------------------------------------------------------------------------------- S3

_S3_PRESIGN_OPS = {"GET": "get_object", "PUT": "put_object", "HEAD": "head_object", "DELETE": "delete_object"}


class S3Bucket(BucketClient):
    """An S3 bucket through boto3 (path-style addressing when an endpoint such as moto is given)."""

    scheme = "s3"

    def __init__(
        self,
        name: str,
        endpoint_url: str | None = None,
        region: str | None = None,
        *,
        multipart_threshold: int = 8 * 1024 * 1024,
        multipart_chunksize: int = 8 * 1024 * 1024,
        max_concurrency: int = 4,
        client: Any = None,
        session: Any = None,
    ) -> None:
        """`session`: a boto3 Session to build the client from (federated credentials, see federation.py)."""
        super().__init__(name)
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        self.endpoint_url = endpoint_url
        env_region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        self.region = region or env_region or "us-east-1"
        config = Config(
            s3={"addressing_style": "path"} if endpoint_url else {},
            max_pool_connections=64,
            retries={"max_attempts": 5, "mode": "standard"},
        )
        self.client = client or (session or boto3.session.Session()).client(
            "s3", endpoint_url=endpoint_url, region_name=self.region, config=config
        )
        self.multipart_threshold = multipart_threshold
        self.multipart_chunksize = multipart_chunksize
        self.transfer_config = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=multipart_chunksize,
            max_concurrency=max_concurrency,
        )
        # s3transfer buffers up to this many parts per upload: bounds memory per transfer.
        self.transfer_config.max_in_memory_upload_chunks = max_concurrency
        self._etag_is_md5: bool | None = None
        self._lock = threading.Lock()

    def _is_missing(self, exc: Exception) -> bool:
        response = getattr(exc, "response", None) or {}
        code = str(response.get("Error", {}).get("Code", ""))
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return code in ("404", "NoSuchKey", "NotFound") or status == 404

    def etag_is_md5(self) -> bool:
        """Whether single-part ETags in this bucket are MD5s: false under SSE-KMS default encryption.

        Asked once per client. Without permission to read the encryption config we assume not.
        """
        if self._etag_is_md5 is None:
            with self._lock:
                if self._etag_is_md5 is None:
                    self._etag_is_md5 = self._probe_etag_is_md5()
        return self._etag_is_md5

    def _probe_etag_is_md5(self) -> bool:
        from botocore.exceptions import ClientError

        try:
            conf = self.client.get_bucket_encryption(Bucket=self.name)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            return code == "ServerSideEncryptionConfigurationNotFoundError"
        for rule in conf.get("ServerSideEncryptionConfiguration", {}).get("Rules", []):
            algo = rule.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm", "")
            if algo.startswith("aws:kms"):
                return False
        return True

    @staticmethod
    def _etag(value: str | None) -> str | None:
        return value.strip('"') if value else None

    def _md5_from(
        self, etag: str | None, metadata: dict[str, str] | None, sse: str | None
    ) -> tuple[str | None, str | None]:
        """Best MD5 from a HEAD/GET: a single-part non-KMS ETag is server truth, metadata is a claim."""
        single_part = bool(etag) and "-" not in etag and len(etag) == 32
        kms = (sse or "").startswith("aws:kms")
        # A HEAD that names a non-KMS algorithm settles it; otherwise ask the bucket's default.
        if etag and single_part and not kms and (sse is not None or self.etag_is_md5()):
            return etag.lower(), "server"
        meta = (metadata or {}).get(MD5_METADATA_KEY)
        if meta:
            return meta.lower(), "metadata"
        return None, None

    def _info(self, key: str, head: dict[str, Any]) -> ObjectInfo:
        etag = self._etag(head.get("ETag"))
        md5, source = self._md5_from(etag, head.get("Metadata"), head.get("ServerSideEncryption"))
        return ObjectInfo(
            key=key,
            size=int(head.get("ContentLength", 0)),
            md5=md5,
            etag=etag,
            content_type=head.get("ContentType"),
            md5_source=source,
        )

    def create(self) -> None:
        from botocore.exceptions import ClientError

        kwargs: dict[str, Any] = {"Bucket": self.name}
        if self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            self.client.create_bucket(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise

    def get(self, key: str) -> bytes:
        with self.open_read(key) as reader:
            return reader.read()

    def put(self, key: str, data: bytes, content_type: str | None = None) -> ObjectInfo | None:
        return self.put_stream(key, io.BytesIO(data), len(data), content_type, hashlib.md5(data).hexdigest())

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        trust = self.etag_is_md5()
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.name, Prefix=prefix):
            for item in page.get("Contents", []):
                etag = self._etag(item.get("ETag"))
                single = bool(etag) and "-" not in etag and len(etag) == 32
                yield ObjectInfo(
                    key=item["Key"],
                    size=int(item["Size"]),
                    md5=etag.lower() if (trust and single and etag) else None,
                    etag=etag,
                    md5_source="server" if (trust and single) else None,
                )

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.name, Key=key)

    def signed_url(self, key: str, expires_seconds: int = 3600, method: str = "GET") -> str:
        operation = _S3_PRESIGN_OPS[method.upper()]
        return self.client.generate_presigned_url(
            operation, Params={"Bucket": self.name, "Key": key}, ExpiresIn=expires_seconds
        )

    def open_read(self, key: str) -> ObjectReader:
        from botocore.exceptions import ClientError

        try:
            resp = self.client.get_object(Bucket=self.name, Key=key)
        except ClientError as exc:
            if self._is_missing(exc):
                raise ObjectNotFoundError(f"{self.url}/{key}") from exc
            raise
        return ObjectReader(resp["Body"], self._info(key, resp))

    def put_stream(
        self,
        key: str,
        stream: IO[bytes],
        size: int,
        content_type: str | None = None,
        md5_hex: str | None = None,
    ) -> ObjectInfo | None:
        stream = FullReader(stream)
        ctype = content_type or "application/octet-stream"
        extra: dict[str, Any] = {"ContentType": ctype}
        if md5_hex:
            extra["Metadata"] = {MD5_METADATA_KEY: md5_hex}
        if size < self.multipart_threshold:
            # One request: S3 checks Content-MD5 itself, and the ETag is the MD5.
            body = stream.read(size) if size else b""
            if len(body) != size:
                raise OSError(errno.EIO, f"short read for {key}: {len(body)} of {size} bytes")
            if md5_hex:
                extra["ContentMD5"] = b64_from_hex(md5_hex)
            resp = self.client.put_object(Bucket=self.name, Key=key, Body=body, **extra)
            # The PUT response's ETag is the server's MD5 of what it stored: no HEAD needed to verify.
            return self._info(key, {**resp, "ContentLength": size, "ContentType": ctype, **extra})
        self.client.upload_fileobj(stream, self.name, key, ExtraArgs=extra, Config=self.transfer_config)
        return None  # s3transfer does not surface the completion response

    def etag_part_size(self, size: int) -> int | None:
        if size < self.multipart_threshold:
            return None
        from s3transfer.utils import ChunksizeAdjuster

        return ChunksizeAdjuster().adjust_chunksize(self.multipart_chunksize, size)

    def stat(self, key: str) -> ObjectInfo | None:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.name, Key=key)
        except ClientError as exc:
            if self._is_missing(exc):
                return None
            raise
        return self._info(key, head)


# -------------------------------------------------------------------------------------------- GCS


class GcsBucket(BucketClient):
    """A GCS bucket through google-cloud-storage; honours STORAGE_EMULATOR_HOST (with http://)."""

    scheme = "gs"

    def __init__(
        self,
        name: str,
        project: str | None = None,
        *,
        emulator_host: str | None = None,
        chunk_size: int = 8 * 1024 * 1024,
        credentials: Any = None,
    ) -> None:
        """`credentials`: google-auth credentials to use instead of the defaults (federated, see federation.py)."""
        super().__init__(name)
        self.project = project
        self.credentials = credentials
        host = emulator_host or os.environ.get("STORAGE_EMULATOR_HOST") or ""
        self.emulator_host = host.rstrip("/") or None
        if self.emulator_host and "://" not in self.emulator_host:
            raise ValueError("STORAGE_EMULATOR_HOST must include the scheme, e.g. http://127.0.0.1:9023")
        # Resumable upload / ranged download unit: a multiple of 256 KiB, and the memory bound per stream.
        self.chunk_size = chunk_size
        self._local = threading.local()

    @property
    def client(self) -> Any:
        """One client per thread: google-cloud-storage does not promise thread safety of its session."""
        client = getattr(self._local, "client", None)
        if client is None:
            from google.cloud import storage

            if self.emulator_host:
                from google.auth.credentials import AnonymousCredentials

                client = storage.Client(
                    project=self.project or "platform-local",
                    credentials=self.credentials or AnonymousCredentials(),
                    client_options={"api_endpoint": self.emulator_host},
                )
            elif self.credentials is not None:
                client = storage.Client(project=self.project, credentials=self.credentials)
            else:
                client = storage.Client(project=self.project)
            self._local.client = client
        return client

    @property
    def bucket(self) -> Any:
        return self.client.bucket(self.name)

    @staticmethod
    def _info(blob: Any) -> ObjectInfo:
        md5 = hex_from_b64(blob.md5_hash)
        source = "server" if md5 else None
        if md5 is None and (blob.metadata or {}).get(MD5_METADATA_KEY):
            md5, source = blob.metadata[MD5_METADATA_KEY].lower(), "metadata"
        return ObjectInfo(
            key=blob.name,
            size=int(blob.size or 0),
            md5=md5,
            crc32c=hex_from_b64(blob.crc32c),
            etag=str(blob.generation) if blob.generation is not None else blob.etag,
            content_type=blob.content_type,
            md5_source=source,
        )

    def create(self) -> None:
        from google.api_core.exceptions import Conflict

        with contextlib.suppress(Conflict):
            self.client.create_bucket(self.name)

    def get(self, key: str) -> bytes:
        from google.api_core.exceptions import NotFound

        try:
            return self.bucket.blob(key).download_as_bytes()
        except NotFound as exc:
            raise ObjectNotFoundError(f"{self.url}/{key}") from exc

    def put(self, key: str, data: bytes, content_type: str | None = None) -> ObjectInfo | None:
        return self.put_stream(key, io.BytesIO(data), len(data), content_type, hashlib.md5(data).hexdigest())

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        for blob in self.client.list_blobs(self.name, prefix=prefix or None):
            yield self._info(blob)

    def delete(self, key: str) -> None:
        from google.api_core.exceptions import NotFound

        with contextlib.suppress(NotFound):
            self.bucket.blob(key).delete()

    def signed_url(self, key: str, expires_seconds: int = 3600, method: str = "GET") -> str:
        if self.emulator_host:
            # The emulator serves GET/PUT on /<bucket>/<object> without auth (what a signed URL does).
            return f"{self.emulator_host}/{self.name}/{quote(key, safe='/')}"
        import datetime

        blob = self.bucket.blob(key)
        kwargs: dict[str, Any] = {
            "version": "v4",
            "expiration": datetime.timedelta(seconds=expires_seconds),
            "method": method.upper(),
        }
        try:
            return blob.generate_signed_url(**kwargs)
        except AttributeError:
            # Token-only credentials (Cloud Run / Functions): sign through IAM signBlob instead.
            from google.auth.transport.requests import Request

            creds = self.client._credentials
            creds.refresh(Request())
            return blob.generate_signed_url(
                service_account_email=creds.service_account_email, access_token=creds.token, **kwargs
            )

    def open_read(self, key: str) -> ObjectReader:
        blob = self.bucket.get_blob(key)
        if blob is None:
            raise ObjectNotFoundError(f"{self.url}/{key}")
        info = self._info(blob)
        # A loaded blob downloads through its mediaLink, which names the generation we described:
        # a concurrent overwrite cannot splice two versions into one read.
        reader = blob.open("rb", chunk_size=self.chunk_size) if info.size else io.BytesIO(b"")
        return ObjectReader(reader, info)

    def put_stream(
        self,
        key: str,
        stream: IO[bytes],
        size: int,
        content_type: str | None = None,
        md5_hex: str | None = None,
    ) -> ObjectInfo | None:
        stream = FullReader(stream)
        blob = self.bucket.blob(key, chunk_size=self.chunk_size)
        if md5_hex:
            blob.metadata = {MD5_METADATA_KEY: md5_hex}
            blob.md5_hash = b64_from_hex(md5_hex)  # GCS rejects the upload if the bytes differ
        blob.upload_from_file(
            stream,
            size=size,
            content_type=content_type or "application/octet-stream",
            rewind=False,
            checksum=None if md5_hex else "auto",
        )
        # The upload response is the object resource: md5Hash/crc32c as computed by GCS.
        return self._info(blob) if blob.size is not None else None

    def stat(self, key: str) -> ObjectInfo | None:
        blob = self.bucket.get_blob(key)
        return None if blob is None else self._info(blob)


# ------------------------------------------------------------------------------------------ local

_TMP_DIR = ".platform-tmp"
_XATTR_MD5 = "user.platform.md5"
_XATTR_TYPE = "user.platform.content_type"


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
    place, so readers never see half an object. The MD5 is computed on demand and cached in an xattr
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
        gateway = os.environ.get("PLATFORM_LOCAL_GATEWAY")
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
        tmp = tmp_dir / f"{uuid.uuid4().hex}.part"
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

    def stat(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not path.is_file():
            return None
        return self._info(key, path, st, self._md5(path, st))


# ---------------------------------------------------------------------------------------- factory


def open_bucket(
    url: str,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    project: str | None = None,
) -> BucketClient:
    """Open s3://name, gs://name or file:///path.

    The S3 endpoint comes from the keyword, else PLATFORM_S3_ENDPOINT, AWS_ENDPOINT_URL_S3 or
    AWS_ENDPOINT_URL (moto in tests); GCS honours STORAGE_EMULATOR_HOST.

    A URL with `web_identity=...` (a bucket on another cloud) gets keyless federated credentials:
    `s3://name?role_arn=...&web_identity=gcp&region=...` or `gs://name?wif_audience=...&web_identity=aws`
    (platform_sdk.runtime.federation).
    """
    from platform_sdk.runtime import federation

    parsed = urlparse(url)
    federated = federation.is_federated(url)
    if parsed.scheme == "s3":
        endpoint = (
            endpoint_url
            or os.environ.get("PLATFORM_S3_ENDPOINT")
            or os.environ.get("AWS_ENDPOINT_URL_S3")
            or os.environ.get("AWS_ENDPOINT_URL")
        )
        if federated:
            session, url_region = federation.s3_session_for(url)
            return S3Bucket(
                parsed.netloc, endpoint_url=endpoint, region=region or url_region, session=session
            )
        return S3Bucket(parsed.netloc, endpoint_url=endpoint, region=region)
    if parsed.scheme in ("gs", "gcs"):
        credentials = federation.gcs_credentials_for(url) if federated else None
        return GcsBucket(parsed.netloc, project=project, emulator_host=endpoint_url, credentials=credentials)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise ValueError(f"file URL must be local: {url}")
        return LocalBucket(url2pathname(parsed.path))
    raise ValueError(f"unsupported bucket URL {url!r}: use s3://, gs:// or file:///")
