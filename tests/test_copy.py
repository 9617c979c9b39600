"""Cross-cloud bucket copy against the real emulators: every direction, kill and resume, corruption."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest

from platform_sdk.move import CopyEvent, Journal, copy_bucket, verify_bucket
from platform_sdk.move.copy import check_destination
from platform_sdk.move.journal import count_verified
from platform_sdk.providers.aws.runtime.buckets import S3Bucket
from platform_sdk.providers.gcp.runtime.buckets import GcsBucket
from platform_sdk.providers.local.runtime.buckets import LocalBucket
from platform_sdk.runtime.buckets import BucketClient, ObjectInfo, StreamHasher
from tests.markers import backends, starts_server

try:
    from tests.emulators import (  # noqa: F401 - fixtures
        ObjectSpec,
        gcs_emulator,
        make_object_set,
        moto_server,
        seed_bucket,
        start_gcs,
        start_moto,
    )
except ModuleNotFoundError:  # tests/ is not a package: pytest put tests/ itself on sys.path
    from emulators import (  # type: ignore[no-redef]  # noqa: F401
        ObjectSpec,
        gcs_emulator,
        make_object_set,
        moto_server,
        seed_bucket,
        start_gcs,
        start_moto,
    )

MiB = 1024 * 1024
# Small S3 multipart threshold so the 2..5 MiB objects go multipart and their ETags are not MD5s.
S3_OPTS = {"multipart_threshold": 2 * MiB, "multipart_chunksize": 5 * MiB}


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def objects() -> list[ObjectSpec]:
    specs = make_object_set(200)
    assert len(specs) >= 200 and any(s.size == 0 for s in specs) and max(s.size for s in specs) == 5 * MiB
    return specs


@pytest.fixture(scope="session")
def specs_by_key(objects: list[ObjectSpec]) -> dict[str, ObjectSpec]:
    return {s.key: s for s in objects}


@pytest.fixture(scope="session")
def s3_source(moto_server: str, objects: list[ObjectSpec]) -> S3Bucket:
    bucket = S3Bucket(_name("src"), endpoint_url=moto_server, **S3_OPTS)
    bucket.create()
    seed_bucket(bucket, objects)
    return bucket


@pytest.fixture(scope="session")
def gcs_source(gcs_emulator: str, objects: list[ObjectSpec]) -> GcsBucket:
    bucket = GcsBucket(_name("src"))
    bucket.create()
    seed_bucket(bucket, objects)
    return bucket


@pytest.fixture(scope="session")
def local_source(tmp_path_factory: pytest.TempPathFactory, objects: list[ObjectSpec]) -> LocalBucket:
    bucket = LocalBucket(tmp_path_factory.mktemp("local-src") / "src")
    bucket.create()
    seed_bucket(bucket, objects)
    return bucket


@pytest.fixture
def new_bucket(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], BucketClient]]:
    """Factory for fresh empty destination buckets of a kind; S3 ones are emptied after the test.

    moto runs inside the test process, so its objects are this process's memory. GCS buckets are
    left alone: the emulator soft-deletes (keeps a copy) and rewrites its whole metadata index on
    every write or delete, so emptying a bucket costs more than it saves.
    """
    made: list[BucketClient] = []

    def make(kind: str) -> BucketClient:
        bucket: BucketClient
        if kind == "s3":
            bucket = S3Bucket(_name("dst"), endpoint_url=request.getfixturevalue("moto_server"), **S3_OPTS)
        elif kind == "gcs":
            request.getfixturevalue("gcs_emulator")
            bucket = GcsBucket(_name("dst"))
        else:
            bucket = LocalBucket(tmp_path / _name("dst"))
        bucket.create()
        made.append(bucket)
        return bucket

    yield make
    for bucket in made:
        if isinstance(bucket, S3Bucket):
            for info in list(bucket.list()):
                bucket.delete(info.key)


def _source(kind: str, request: pytest.FixtureRequest) -> BucketClient:
    return request.getfixturevalue({"s3": "s3_source", "gcs": "gcs_source", "local": "local_source"}[kind])


def _count_uploads(bucket: BucketClient) -> list[str]:
    """Record every key uploaded through this client instance."""
    uploaded: list[str] = []
    original = bucket.put_stream

    def counting(key: str, stream: IO[bytes], size: int, content_type: str | None = None,
                 md5_hex: str | None = None) -> ObjectInfo | None:  # fmt: skip
        uploaded.append(key)
        return original(key, stream, size, content_type, md5_hex)

    bucket.put_stream = counting  # type: ignore[method-assign]
    return uploaded


@pytest.mark.parametrize(
    ("src_kind", "dst_kind"),
    backends(("s3", "gcs"), ("gcs", "s3"), ("local", "s3"), ("local", "gcs"), ("s3", "local"), ("gcs", "local")),
)
def test_copy_between_clouds(
    src_kind: str,
    dst_kind: str,
    request: pytest.FixtureRequest,
    new_bucket: Callable[[str], BucketClient],
    objects: list[ObjectSpec],
    specs_by_key: dict[str, ObjectSpec],
    tmp_path: Path,
) -> None:
    src = _source(src_kind, request)
    dst = new_bucket(dst_kind)
    total_bytes = sum(s.size for s in objects)
    with Journal(tmp_path / "journal.sqlite", src.url, dst.url) as journal:
        report = copy_bucket(src, dst, journal, workers=8)
        assert report.ok, report.to_json()
        assert (report.listed, report.copied, report.skipped_already_verified) == (
            len(objects),
            len(objects),
            0,
        )
        assert report.bytes_copied == total_bytes
        assert journal.count() == len(objects)
        if dst_kind == "s3":  # multipart objects proven by the predicted multipart ETag
            assert report.verified_by.get("etag", 0) > 0
        assert "metadata-md5" not in report.verified_by  # every object verified by a server-side checksum

        verify = verify_bucket(src, dst)
        assert verify.ok, verify.to_json()
        assert verify.matched == len(objects) and verify.extra == []

        # Bytes, nested keys, empty objects and content types all survived.
        dst_infos = {info.key: info for info in dst.list()}
        assert set(dst_infos) == set(specs_by_key)
        for spec in objects:
            assert dst_infos[spec.key].size == spec.size
        for spec in objects[:40]:
            info = dst.stat(spec.key)
            assert info is not None and info.content_type == spec.content_type, spec.key
        empty = next(s for s in objects if s.size == 0)
        assert dst.get(empty.key) == b""
        largest = max(objects, key=lambda s: s.size)
        with dst.open_read(largest.key) as reader:
            assert hashlib.md5(reader.read()).hexdigest() == largest.md5

        # Running again copies nothing: everything is journaled and unchanged.
        uploads = _count_uploads(dst)
        again = copy_bucket(src, dst, journal, workers=8)
        assert again.ok and again.copied == 0 and again.skipped_already_verified == len(objects)
        assert uploads == []


def test_kill_9_midway_then_resume(
    s3_source: S3Bucket,
    new_bucket: Callable[[str], BucketClient],
    moto_server: str,
    objects: list[ObjectSpec],
    tmp_path: Path,
) -> None:
    """A real SIGKILL of a copy process: nothing verified is lost or copied twice on the re-run."""
    dst = new_bucket("gcs")
    journal_path = tmp_path / "journal.sqlite"
    env = dict(os.environ, PLATFORM_S3_ENDPOINT=moto_server)
    # The child opens s3://name with default multipart settings; the journal keys on the url only.
    cmd = [sys.executable, "-m", "platform_sdk.move.copy", s3_source.url, dst.url,
           "--journal", str(journal_path), "--workers", "4", "--no-verify"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    kill_after = 40
    try:
        while proc.poll() is None and count_verified(journal_path, s3_source.url, dst.url) < kill_after:
            time.sleep(0.005)
        assert proc.poll() is None, "copy finished before it could be killed: " + proc.stderr.read().decode()  # type: ignore[union-attr]
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stderr.close()  # type: ignore[union-attr]
    assert proc.returncode == -signal.SIGKILL

    with Journal(journal_path, s3_source.url, dst.url) as journal:
        verified_before = set(journal.entries())
        assert kill_after <= len(verified_before) < len(objects)
        assert not verify_bucket(s3_source, dst).ok  # really incomplete

        uploads = _count_uploads(dst)
        report = copy_bucket(s3_source, dst, journal, workers=8)
    assert report.ok, report.to_json()
    assert report.skipped_already_verified == len(verified_before)
    # An object the killed child had uploaded but not yet journaled (at most one per worker, 4) is found identical
    # in the destination and journaled without a copy; every other unverified object is copied once.
    assert report.already_identical <= 4, report.to_json()
    assert report.copied + report.already_identical == len(objects) - len(verified_before)
    assert set(uploads).isdisjoint(verified_before), "a verified object was uploaded again"
    assert len(uploads) == report.copied, "an object the destination already held identically was uploaded again"
    verify = verify_bucket(s3_source, dst)
    assert verify.ok and verify.matched == len(objects), verify.to_json()


def test_interrupt_from_progress_then_resume(
    gcs_source: GcsBucket,
    new_bucket: Callable[[str], BucketClient],
    objects: list[ObjectSpec],
    tmp_path: Path,
) -> None:
    dst = new_bucket("local")
    stop_after = 50

    class Stop(Exception):
        pass

    def progress(event: CopyEvent) -> None:
        if event.done >= stop_after:
            raise Stop

    with Journal(tmp_path / "j.sqlite", gcs_source.url, dst.url) as journal:
        with pytest.raises(Stop):
            copy_bucket(gcs_source, dst, journal, workers=4, progress=progress)
        verified_before = set(journal.entries())
        # Objects in flight when the run stopped still finished and were journaled.
        assert stop_after <= len(verified_before) < len(objects)

        uploads = _count_uploads(dst)
        events: list[CopyEvent] = []
        report = copy_bucket(gcs_source, dst, journal, workers=4, progress=events.append)
    assert report.ok, report.to_json()
    assert report.skipped_already_verified == len(verified_before)
    assert report.copied == len(objects) - len(verified_before)
    assert set(uploads).isdisjoint(verified_before)
    assert len(events) == len(objects) and events[-1].done == len(objects)
    assert verify_bucket(gcs_source, dst).ok


def _corrupt(bucket: BucketClient, key: str, size: int) -> None:
    """Overwrite an object behind the SDK's back with different bytes of the same size."""
    bad = bytes(b ^ 0xFF for b in bucket.get(key)) if size else b""
    if isinstance(bucket, S3Bucket):
        bucket.client.put_object(Bucket=bucket.name, Key=key, Body=bad)
    elif isinstance(bucket, GcsBucket):
        bucket.bucket.blob(key).upload_from_string(bad)
    else:
        assert isinstance(bucket, LocalBucket)
        (bucket.root / key).write_bytes(bad)


@pytest.mark.parametrize("dst_kind", backends("s3", "gcs", "local"))
def test_verify_detects_corruption_and_copy_repairs(
    dst_kind: str,
    local_source: LocalBucket,
    new_bucket: Callable[[str], BucketClient],
    objects: list[ObjectSpec],
    tmp_path: Path,
) -> None:
    """Damage behind the copier's back (different bytes, same size; a deletion) is caught, then repaired.

    Works on the photos/ prefix (~40 objects, including a 5 MiB one) to keep the emulators quick.
    """
    prefix = "photos/"
    subset = [s for s in objects if s.key.startswith(prefix)]
    dst = new_bucket(dst_kind)
    with Journal(tmp_path / "j.sqlite", local_source.url, dst.url) as journal:
        first = copy_bucket(local_source, dst, journal, prefix=prefix)
        assert first.ok and first.copied == len(subset) >= 30
        assert sorted(info.key for info in dst.list()) == sorted(s.key for s in subset)
        small = next(s for s in subset if 0 < s.size < MiB)
        large = next(s for s in subset if 2 * MiB < s.size)  # multipart on S3
        gone = next(s for s in subset if s.key not in (small.key, large.key) and s.size)
        _corrupt(dst, small.key, small.size)
        _corrupt(dst, large.key, large.size)
        dst.delete(gone.key)

        report = verify_bucket(local_source, dst, prefix=prefix)
        assert not report.ok
        assert report.missing == [gone.key]
        assert sorted(f.key for f in report.mismatched) == sorted([small.key, large.key])
        assert all("md5" in f.reason for f in report.mismatched)
        assert report.checked == len(subset)

        # The journal notices the destination changed: exactly the three damaged objects are redone.
        uploads = _count_uploads(dst)
        repair = copy_bucket(local_source, dst, journal, prefix=prefix)
        assert repair.ok and repair.copied == 3, repair.to_json()
        assert sorted(uploads) == sorted([small.key, large.key, gone.key])
        assert verify_bucket(local_source, dst, prefix=prefix).ok


@pytest.mark.servers
def test_deep_verify_catches_a_lying_metadata_md5(
    local_source: LocalBucket,
    new_bucket: Callable[[str], BucketClient],
    objects: list[ObjectSpec],
    tmp_path: Path,
) -> None:
    """S3 multipart object whose x-amz-meta-md5 claims the right MD5 over wrong bytes.

    The shallow verify has only the claim to go on (no server MD5 exists for multipart objects);
    deep=True re-hashes such objects and catches it.
    """
    dst = new_bucket("s3")
    assert isinstance(dst, S3Bucket)
    prefix = "photos/"
    with Journal(tmp_path / "j.sqlite", local_source.url, dst.url) as journal:
        assert copy_bucket(local_source, dst, journal, prefix=prefix).ok
    spec = next(s for s in objects if s.size > 2 * MiB and s.key.startswith(prefix))
    bad = bytes(b ^ 0x01 for b in spec.data())
    c = dst.client
    mpu = c.create_multipart_upload(Bucket=dst.name, Key=spec.key, Metadata={"md5": spec.md5})
    part = c.upload_part(Bucket=dst.name, Key=spec.key, UploadId=mpu["UploadId"], PartNumber=1, Body=bad)
    c.complete_multipart_upload(
        Bucket=dst.name,
        Key=spec.key,
        UploadId=mpu["UploadId"],
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )
    assert verify_bucket(local_source, dst, prefix=prefix).ok  # the claim is all a shallow verify can see
    deep = verify_bucket(local_source, dst, prefix=prefix, deep=True)
    assert [f.key for f in deep.mismatched] == [spec.key]


@pytest.mark.servers
def test_source_change_is_recopied(
    new_bucket: Callable[[str], BucketClient], objects: list[ObjectSpec], tmp_path: Path
) -> None:
    src = new_bucket("local")
    seed_bucket(src, objects[:30])
    dst = new_bucket("gcs")
    with Journal(tmp_path / "j.sqlite", src.url, dst.url) as journal:
        assert copy_bucket(src, dst, journal).copied == 30
        key = objects[5].key
        src.put(key, b"new content", objects[5].content_type)
        uploads = _count_uploads(dst)
        report = copy_bucket(src, dst, journal)
    assert (report.copied, report.skipped_already_verified) == (1, 29)
    assert uploads == [key]
    assert dst.get(key) == b"new content"


def test_unrepresentable_key_fails_alone(
    moto_server: str, new_bucket: Callable[[str], BucketClient], tmp_path: Path
) -> None:
    src = S3Bucket(_name("odd"), endpoint_url=moto_server)
    src.create()
    src.put("ok/a.txt", b"a")
    src.put("dir//double-slash", b"b")  # legal in S3, not a path
    src.put("folder/", b"")  # S3 console "folder" marker
    dst = new_bucket("local")
    with Journal(tmp_path / "j.sqlite", src.url, dst.url) as journal:
        report = copy_bucket(src, dst, journal)
    assert report.copied == 1 and not report.ok
    assert sorted(f.key for f in report.failed) == ["dir//double-slash", "folder/"]
    assert all("not representable" in f.reason for f in report.failed)
    assert '"failed"' in report.to_json()


def test_journal_refuses_other_pair(local_source: LocalBucket, tmp_path: Path) -> None:
    dst = LocalBucket(tmp_path / "d")
    dst.create()
    with Journal(tmp_path / "j.sqlite", "s3://elsewhere", dst.url) as journal, pytest.raises(ValueError):
        copy_bucket(local_source, dst, journal)


def test_hasher_predicts_s3_multipart_etag() -> None:
    data = os.urandom(11 * MiB + 17)
    h = StreamHasher(part_size=5 * MiB)
    for i in range(0, len(data), 777_777):  # chunk boundaries unrelated to part boundaries
        h.update(data[i : i + 777_777])
    digest = h.finish()
    parts = [hashlib.md5(data[i : i + 5 * MiB]).digest() for i in range(0, len(data), 5 * MiB)]
    assert digest.multipart_etag == f"{hashlib.md5(b''.join(parts)).hexdigest()}-3"
    assert digest.md5 == hashlib.md5(data).hexdigest() and digest.size == len(data)
    # A multipart ETag that does not match fails; an unverifiable destination fails too.
    bad = ObjectInfo(key="k", size=len(data), etag="0" * 32 + "-3")
    assert check_destination(bad, digest)[0] is not None
    assert check_destination(ObjectInfo(key="k", size=len(data)), digest)[0] is not None


@pytest.fixture
@starts_server
def subprocess_emulators() -> Iterator[tuple[str, str]]:
    """Emulators in their own processes, so tracemalloc sees only the copier's allocations."""
    with start_moto(subprocess_mode=True) as s3_url, start_gcs(subprocess_mode=True) as gcs_url:
        yield s3_url, gcs_url


@pytest.mark.parametrize("src_kind", backends("s3", "gcs"))
def test_copy_memory_is_bounded(src_kind: str, subprocess_emulators: tuple[str, str], tmp_path: Path) -> None:
    """Copying a 40 MiB object allocates a few MiB at most: it streams through a spooled file."""
    s3_url, gcs_url = subprocess_emulators
    size = 40 * MiB
    src: BucketClient
    if src_kind == "s3":
        src = S3Bucket(_name("mem"), endpoint_url=s3_url)
    else:
        src = GcsBucket(_name("mem"), emulator_host=gcs_url, chunk_size=MiB)
    src.create()
    spec = ObjectSpec(key="big/one.bin", size=size, seed=99, content_type="application/octet-stream")
    seed_bucket(src, [spec])
    dst = LocalBucket(tmp_path / "dst")
    dst.create()
    with Journal(tmp_path / "j.sqlite", src.url, dst.url) as journal:
        tracemalloc.start()
        try:
            report = copy_bucket(src, dst, journal, workers=1, spool_memory=MiB)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert report.ok, report.to_json()
    assert peak < 8 * MiB, f"peak {peak / MiB:.1f} MiB while copying {size / MiB:.0f} MiB"
    assert dst.stat(spec.key).md5 == spec.md5  # type: ignore[union-attr]
