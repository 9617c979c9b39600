"""`GcsBucket`: the bucket client for Cloud Storage (`gs://<bucket>`), through google-cloud-storage.

The library is imported when a client is first used. Cloud Storage reports `md5Hash` and `crc32c` as base64
(JSON API, Objects resource: https://cloud.google.com/storage/docs/json_api/v1/objects); composite objects have no
md5Hash, only crc32c. Honours `STORAGE_EMULATOR_HOST` (with `http://`) for the emulator.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import threading
from collections.abc import Iterator
from typing import IO, Any
from urllib.parse import quote, urlparse

from platform_sdk.runtime import federation
from platform_sdk.runtime.buckets import (
    MD5_METADATA_KEY,
    BucketClient,
    FullReader,
    Md5Source,
    ObjectInfo,
    ObjectNotFoundError,
    ObjectReader,
    b64_from_hex,
    hex_from_b64,
)


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
            import google.cloud.storage as storage

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
        source: Md5Source | None = "server" if md5 else None
        if md5 is None and (blob.metadata or {}).get(MD5_METADATA_KEY):
            md5, source = str(blob.metadata[MD5_METADATA_KEY]).lower(), "metadata"
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
            return bytes(self.bucket.blob(key).download_as_bytes())
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
            return str(blob.generate_signed_url(**kwargs))
        except AttributeError:
            # Token-only credentials (Cloud Run / Functions): sign through IAM signBlob instead.
            from google.auth.transport.requests import Request

            creds = self.client._credentials
            creds.refresh(Request())
            return str(blob.generate_signed_url(
                service_account_email=creds.service_account_email, access_token=creds.token, **kwargs
            ))

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
        full = FullReader(stream)
        blob = self.bucket.blob(key, chunk_size=self.chunk_size)
        if md5_hex:
            blob.metadata = {MD5_METADATA_KEY: md5_hex}
            blob.md5_hash = b64_from_hex(md5_hex)  # GCS rejects the upload if the bytes differ
        blob.upload_from_file(
            full,
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


def open_bucket(url: str, *, endpoint_url: str | None = None, region: str | None = None,
                project: str | None = None) -> GcsBucket:
    """`gs://<bucket>` (or `gcs://`), or `gs://<bucket>?wif_audience=...&web_identity=aws` for a bucket reached with
    keyless federated credentials (see `platform_sdk.providers.gcp.runtime.federation`).

    `endpoint_url` is an emulator's URL (else STORAGE_EMULATOR_HOST); `region` is ignored.
    """
    credentials = None
    if federation.is_federated(url):
        from platform_sdk.providers.gcp.runtime.federation import gcs_credentials_for

        credentials = gcs_credentials_for(url)
    return GcsBucket(urlparse(url).netloc, project=project, emulator_host=endpoint_url, credentials=credentials)
