"""`S3Bucket`: the bucket client for Amazon S3 (`s3://<bucket>`), through boto3, imported when a client is made.

Where an S3 ETag is an MD5: a single-part upload's ETag is the MD5 of the content unless the object is
encrypted with SSE-KMS (Amazon S3 API Reference, "Common Response Headers" / ETag:
https://docs.aws.amazon.com/AmazonS3/latest/API/RESTCommonResponseHeaders.html). A multipart ETag is
predicted from part MD5s by the copy engine (`etag_part_size`).
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import threading
from collections.abc import Iterator
from typing import IO, Any
from urllib.parse import urlparse

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
)

ENDPOINT_ENVS = ("PLATFORM_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
"""Where the S3 endpoint comes from when none is given, first set wins (moto in tests); else AWS's own."""

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
            return bool(code == "ServerSideEncryptionConfigurationNotFoundError")
        for rule in conf.get("ServerSideEncryptionConfiguration", {}).get("Rules", []):
            algo = rule.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm", "")
            if algo.startswith("aws:kms"):
                return False
        return True

    @staticmethod
    def _etag(value: str | None) -> str | None:
        return value.strip('"') if value else None

    @staticmethod
    def _single_part(etag: str | None) -> bool:
        """A single-part upload's ETag: 32 hex digits, no `-<parts>` suffix."""
        return etag is not None and "-" not in etag and len(etag) == 32

    def _md5_from(
        self, etag: str | None, metadata: dict[str, str] | None, sse: str | None
    ) -> tuple[str | None, Md5Source | None]:
        """Best MD5 from a HEAD/GET: a single-part non-KMS ETag is server truth, metadata is a claim."""
        single_part = self._single_part(etag)
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
                single = self._single_part(etag)
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
        return str(self.client.generate_presigned_url(
            operation, Params={"Bucket": self.name, "Key": key}, ExpiresIn=expires_seconds
        ))

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
        full = FullReader(stream)
        ctype = content_type or "application/octet-stream"
        extra: dict[str, Any] = {"ContentType": ctype}
        if md5_hex:
            extra["Metadata"] = {MD5_METADATA_KEY: md5_hex}
        if size < self.multipart_threshold:
            # One request: S3 checks Content-MD5 itself, and the ETag is the MD5.
            body = full.read(size) if size else b""
            if len(body) != size:
                raise OSError(errno.EIO, f"short read for {key}: {len(body)} of {size} bytes")
            if md5_hex:
                extra["ContentMD5"] = b64_from_hex(md5_hex)
            resp = self.client.put_object(Bucket=self.name, Key=key, Body=body, **extra)
            # The PUT response's ETag is the server's MD5 of what it stored: no HEAD needed to verify.
            return self._info(key, {**resp, "ContentLength": size, "ContentType": ctype, **extra})
        self.client.upload_fileobj(full, self.name, key, ExtraArgs=extra, Config=self.transfer_config)
        return None  # s3transfer does not surface the completion response

    def clean_partial(self, prefix: str = "", older_than: float = 3600.0) -> int:
        """Abort multipart uploads under `prefix` started more than `older_than` seconds ago (their parts are never
        visible as objects, but are stored and billed until aborted; a younger one may be a live writer's).
        (https://docs.aws.amazon.com/AmazonS3/latest/userguide/abort-mpu.html)"""
        import datetime

        cutoff = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=older_than)
        aborted = 0
        for page in self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.name, Prefix=prefix):
            for upload in page.get("Uploads", []):
                if upload["Initiated"] <= cutoff:
                    self.client.abort_multipart_upload(Bucket=self.name, Key=upload["Key"],
                                                       UploadId=upload["UploadId"])
                    aborted += 1
        return aborted

    def etag_part_size(self, size: int) -> int | None:
        if size < self.multipart_threshold:
            return None
        from s3transfer.utils import ChunksizeAdjuster

        return int(ChunksizeAdjuster().adjust_chunksize(self.multipart_chunksize, size))

    def stat(self, key: str) -> ObjectInfo | None:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.name, Key=key)
        except ClientError as exc:
            if self._is_missing(exc):
                return None
            raise
        return self._info(key, head)


def open_bucket(url: str, *, endpoint_url: str | None = None, region: str | None = None,
                project: str | None = None) -> S3Bucket:
    """`s3://<bucket>`, or `s3://<bucket>?role_arn=...&web_identity=<cloud>&region=...` for a bucket reached with
    keyless federated credentials (see `platform_sdk.providers.aws.runtime.federation`). `project` is ignored.

    The endpoint comes from `endpoint_url`, else the first of ENDPOINT_ENVS that is set.
    """
    parsed = urlparse(url)
    endpoint = endpoint_url or next((os.environ[name] for name in ENDPOINT_ENVS if os.environ.get(name)), None)
    if federation.is_federated(url):
        from platform_sdk.providers.aws.runtime.federation import s3_session_for

        session, url_region = s3_session_for(url)
        return S3Bucket(parsed.netloc, endpoint_url=endpoint, region=region or url_region, session=session)
    return S3Bucket(parsed.netloc, endpoint_url=endpoint, region=region)
