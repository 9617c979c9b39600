"""Portable bucket clients against the real emulators: moto (S3), gcp-storage-emulator (GCS), a directory."""

from __future__ import annotations

import hashlib
import io
import os
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from platform_sdk.providers.aws.runtime.buckets import S3Bucket
from platform_sdk.providers.gcp.runtime.buckets import GcsBucket
from platform_sdk.providers.local.runtime.buckets import LocalBucket
from platform_sdk.runtime.buckets import BucketClient, ObjectNotFoundError, open_bucket
from tests.markers import backends

try:
    from tests.emulators import gcs_emulator, moto_server  # noqa: F401 - fixtures
except ModuleNotFoundError:  # tests/ is not a package: pytest put tests/ itself on sys.path
    from emulators import gcs_emulator, moto_server  # type: ignore[no-redef]  # noqa: F401

BACKENDS = ["s3", "gcs", "local"]


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=backends(*BACKENDS))
def bucket(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BucketClient]:
    """A fresh, empty bucket on each backend."""
    client: BucketClient
    if request.param == "s3":
        client = S3Bucket(_name("s3"), endpoint_url=request.getfixturevalue("moto_server"))
    elif request.param == "gcs":
        request.getfixturevalue("gcs_emulator")
        client = GcsBucket(_name("gcs"))
    else:
        client = LocalBucket(tmp_path / "bucket")
    client.create()
    yield client


class OneWayStream(io.RawIOBase):
    """A non-seekable stream that yields data in uneven chunks (like a socket or a pipe)."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._data = memoryview(data)
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), 300_001, len(self._data) - self._pos)
        buffer[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n


def _blob(size: int, seed: int = 7) -> bytes:
    import random

    return random.Random(seed).randbytes(size)


def test_put_get_stat_roundtrip(bucket: BucketClient) -> None:
    written = bucket.put("dir/hello.txt", b"hello world", content_type="text/plain")
    assert bucket.get("dir/hello.txt") == b"hello world"
    info = bucket.stat("dir/hello.txt")
    assert info is not None
    # What the upload response said is what a stat says (the copier relies on it to skip a HEAD).
    assert written is not None
    assert (written.size, written.md5, written.md5_source, written.etag, written.content_type) == (
        info.size,
        info.md5,
        info.md5_source,
        info.etag,
        info.content_type,
    )
    assert info.key == "dir/hello.txt"
    assert info.size == 11
    assert info.md5 == hashlib.md5(b"hello world").hexdigest()
    assert info.md5_trusted  # single-part S3 ETag / GCS md5Hash / computed locally
    assert info.content_type == "text/plain"
    assert bucket.exists("dir/hello.txt")


def test_missing_objects(bucket: BucketClient) -> None:
    assert bucket.stat("nope/none.bin") is None
    assert not bucket.exists("nope/none.bin")
    with pytest.raises(ObjectNotFoundError):
        bucket.get("nope/none.bin")
    with pytest.raises(ObjectNotFoundError):
        bucket.open_read("nope/none.bin")
    bucket.delete("nope/none.bin")  # idempotent


def test_zero_byte_object(bucket: BucketClient) -> None:
    bucket.put("empty", b"")
    assert bucket.get("empty") == b""
    info = bucket.stat("empty")
    assert info is not None and info.size == 0
    assert info.md5 == hashlib.md5(b"").hexdigest()
    with bucket.open_read("empty") as reader:
        assert reader.read() == b""
    bucket.put_stream("empty2", io.BytesIO(b""), 0, "text/plain", hashlib.md5(b"").hexdigest())
    assert bucket.get("empty2") == b""


def test_list_prefix_order_and_delete(bucket: BucketClient) -> None:
    keys = ["a/b/c.jpg", "a/b-c.txt", "a/z.txt", "b/one.bin", "top.json", "names with spaces/ü.txt"]
    for i, key in enumerate(keys):
        bucket.put(key, bytes([i]) * (i + 1))
    listed = list(bucket.list())
    assert [o.key for o in listed] == sorted(keys, key=lambda k: k.encode())
    assert {o.key: o.size for o in listed} == {k: i + 1 for i, k in enumerate(keys)}
    assert sorted(o.key for o in bucket.list("a/")) == ["a/b-c.txt", "a/b/c.jpg", "a/z.txt"]
    assert [o.key for o in bucket.list("a/b/")] == ["a/b/c.jpg"]
    assert list(bucket.list("nothing/")) == []
    bucket.delete("a/b/c.jpg")
    assert not bucket.exists("a/b/c.jpg")
    assert [o.key for o in bucket.list("a/")] == ["a/b-c.txt", "a/z.txt"]


def test_streaming_large_object(bucket: BucketClient) -> None:
    """12 MiB through a non-seekable stream: S3 multipart (2 parts), GCS resumable, local temp+rename."""
    data = _blob(12 * 1024 * 1024 + 123)
    md5 = hashlib.md5(data).hexdigest()
    bucket.put_stream("big/blob.bin", OneWayStream(data), len(data), "application/x-test", md5)

    info = bucket.stat("big/blob.bin")
    assert info is not None
    assert info.size == len(data)
    assert info.md5 == md5
    assert info.content_type == "application/x-test"
    if isinstance(bucket, S3Bucket):
        assert info.etag and info.etag.endswith("-2"), "multipart upload expected"
        assert info.md5_source == "metadata"  # multipart ETag is not an MD5: we fall back to our metadata
        part = bucket.etag_part_size(len(data))
        assert part is not None
        parts = [hashlib.md5(data[i : i + part]).digest() for i in range(0, len(data), part)]
        assert info.etag == f"{hashlib.md5(b''.join(parts)).hexdigest()}-{len(parts)}"
    else:
        assert info.md5_trusted

    h = hashlib.md5()
    reads = 0
    with bucket.open_read("big/blob.bin") as reader:
        assert reader.info.size == len(data)
        while chunk := reader.read(1024 * 1024):
            assert len(chunk) <= 1024 * 1024
            h.update(chunk)
            reads += 1
    assert h.hexdigest() == md5
    assert reads >= 12


def test_signed_url_get(bucket: BucketClient) -> None:
    bucket.put("signed/file.txt", b"signed content", "text/plain")
    url = bucket.signed_url("signed/file.txt", expires_seconds=300)
    with urllib.request.urlopen(url) as resp:
        assert resp.read() == b"signed content"


@pytest.mark.parametrize("backend", backends("s3", "gcs"))
def test_signed_url_put(backend: str, request: pytest.FixtureRequest) -> None:
    if backend == "s3":
        client: BucketClient = S3Bucket(_name("s3"), endpoint_url=request.getfixturevalue("moto_server"))
    else:
        request.getfixturevalue("gcs_emulator")
        client = GcsBucket(_name("gcs"))
    client.create()
    url = client.signed_url("up/load.bin", method="PUT")
    # urllib would default to a form content type, which moto (werkzeug) parses away as a form body.
    req = urllib.request.Request(
        url, data=b"uploaded by url", method="PUT", headers={"Content-Type": "application/octet-stream"}
    )
    with urllib.request.urlopen(req) as resp:
        assert resp.status in (200, 201)
    assert client.get("up/load.bin") == b"uploaded by url"


def test_s3_presigned_url_is_signed(moto_server: str) -> None:
    client = S3Bucket(_name("s3"), endpoint_url=moto_server)
    url = client.signed_url("k.txt", expires_seconds=120)
    assert url.startswith(f"{moto_server}/{client.name}/k.txt?")  # path-style with an endpoint
    assert "Signature" in url or "X-Amz-Signature" in url


def test_gcs_metadata_md5_and_crc32c(gcs_emulator: str) -> None:
    """What the GCS emulator reports natively, and that it rejects a wrong MD5 on upload."""
    client = GcsBucket(_name("gcs"))
    client.create()
    client.put("x.bin", b"abc")
    info = client.stat("x.bin")
    assert info is not None
    assert info.md5 == hashlib.md5(b"abc").hexdigest() and info.md5_source == "server"
    assert info.crc32c == "364b3fb7"  # CRC32C("abc"), converted from base64
    assert info.etag  # generation
    with pytest.raises(Exception, match="MD5"):
        client.put_stream("bad.bin", io.BytesIO(b"abc"), 3, None, hashlib.md5(b"abd").hexdigest())
    assert not client.exists("bad.bin")


def test_gcs_requires_scheme_in_emulator_host() -> None:
    with pytest.raises(ValueError, match="scheme"):
        GcsBucket("x", emulator_host="127.0.0.1:9023")


def test_s3_metadata_md5_written(moto_server: str) -> None:
    client = S3Bucket(_name("s3"), endpoint_url=moto_server)
    client.create()
    client.put("m.txt", b"meta")
    head = client.client.head_object(Bucket=client.name, Key="m.txt")
    assert head["Metadata"]["md5"] == hashlib.md5(b"meta").hexdigest()


# ----------------------------------------------------------------------------------------- local


def test_local_refuses_escaping_keys(tmp_path: Path) -> None:
    client = LocalBucket(tmp_path / "b")
    client.create()
    for key in ["../escape", "a/../../b", "/abs", "a//b", "./x", "", ".platform-tmp/x", "a\\b"]:
        with pytest.raises(ValueError):
            client.put(key, b"x")
    assert not (tmp_path / "escape").exists()


def test_local_atomic_write_leaves_no_temp_files(tmp_path: Path) -> None:
    client = LocalBucket(tmp_path / "b")
    client.create()
    client.put("x/y.txt", b"1")

    class Boom(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            raise OSError("source died")

    with pytest.raises(OSError, match="source died"):
        client.put_stream("x/y.txt", Boom(), 10)
    assert client.get("x/y.txt") == b"1"  # old content intact
    assert list((tmp_path / "b" / ".platform-tmp").iterdir()) == []
    assert [o.key for o in client.list()] == ["x/y.txt"]


def test_local_md5_cache_invalidated_by_external_write(tmp_path: Path) -> None:
    client = LocalBucket(tmp_path / "b")
    client.create()
    client.put("f.bin", b"aaaa")
    assert client.stat("f.bin").md5 == hashlib.md5(b"aaaa").hexdigest()  # type: ignore[union-attr]
    (tmp_path / "b" / "f.bin").write_bytes(b"bbbb")  # same size, written behind our back
    assert client.stat("f.bin").md5 == hashlib.md5(b"bbbb").hexdigest()  # type: ignore[union-attr]


def test_local_delete_prunes_empty_dirs(tmp_path: Path) -> None:
    client = LocalBucket(tmp_path / "b")
    client.create()
    client.put("a/b/c/d.txt", b"x")
    client.delete("a/b/c/d.txt")
    assert not (tmp_path / "b" / "a").exists()
    assert (tmp_path / "b").exists()


def test_local_signed_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client = LocalBucket(tmp_path / "assets")
    client.create()
    client.put("img/a b.jpg", b"x")
    monkeypatch.delenv("PLATFORM_LOCAL_GATEWAY", raising=False)
    assert client.signed_url("img/a b.jpg").startswith("file://")
    monkeypatch.setenv("PLATFORM_LOCAL_GATEWAY", "http://127.0.0.1:8787/")
    assert client.signed_url("img/a b.jpg") == "http://127.0.0.1:8787/bucket/assets/img/a%20b.jpg"


def test_open_bucket(
    tmp_path: Path, moto_server: str, gcs_emulator: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3 = open_bucket("s3://my-bucket", endpoint_url=moto_server)
    assert isinstance(s3, S3Bucket) and s3.name == "my-bucket" and s3.url == "s3://my-bucket"
    monkeypatch.setenv("PLATFORM_S3_ENDPOINT", moto_server)
    assert open_bucket("s3://other").endpoint_url == moto_server  # type: ignore[attr-defined]
    gcs = open_bucket("gs://g-bucket")
    assert isinstance(gcs, GcsBucket) and gcs.emulator_host == gcs_emulator
    local = open_bucket((tmp_path / "dir").as_uri())
    assert isinstance(local, LocalBucket) and local.root == (tmp_path / "dir").resolve()
    assert local.url == (tmp_path / "dir").resolve().as_uri()
    with pytest.raises(ValueError):
        open_bucket("ftp://x")


def test_runtime_module_imports_no_cloud_sdk() -> None:
    """Deployed functions import this module: it must not pull boto3 or google-cloud-storage eagerly."""
    import subprocess
    import sys

    code = (
        "import sys, platform_sdk.runtime.buckets\n"
        "bad = [m for m in ('boto3', 'botocore', 'google.cloud.storage') if m in sys.modules]\n"
        "sys.exit(1 if bad else 0)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0
