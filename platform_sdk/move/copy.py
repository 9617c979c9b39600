"""Cross-cloud bucket copy: streamed, concurrent, checksummed, resumable.

How one object moves: open a streaming reader on the source, hash it chunk by chunk (MD5, CRC32C,
and the per-part MD5s that predict S3's multipart ETag) while spooling it to a SpooledTemporaryFile
(in memory up to `spool_memory`, then on disk, so memory stays bounded whatever the object size),
check the hash against what the source advertises, upload from the spool with the MD5 attached,
then stat the destination and require a checksum the destination computed itself to match. Only
then is the object journaled. A re-run skips journaled objects whose source and destination still
look the same (size plus MD5, or version fingerprints when no MD5 is listed); an object the destination
already holds with the same size and MD5 is journaled without copying (a resume on another machine, or
a move back onto a kept copy, carries only what differs). Before copying, the destination's partial
uploads left by a killed copy are removed (`BucketClient.clean_partial`).

`mirror_deletes` removes from the destination what the source no longer holds; `verify_bucket` is the
gate before deleting a source: every source key present in the destination with the same size and MD5,
and (`exact=True`) nothing in the destination that the source lacks.

Run as `python -m platform_sdk.move.copy SRC_URL DST_URL --journal FILE` for a one-off copy.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from platform_sdk.move.journal import Journal, JournalEntry
from platform_sdk.runtime.buckets import (
    CHUNK,
    BucketClient,
    Checksums,
    InvalidKeyError,
    ObjectInfo,
    ObjectNotFoundError,
    StreamHasher,
    md5_of_stream,
    open_bucket,
)


class CopyError(Exception):
    """An object could not be copied and verified; the message is the reason put in the report."""


class Kept(Exception):
    """The destination holds its own version of the object, which this copy may not overwrite."""


def check_destination(info: ObjectInfo | None, digest: Checksums) -> tuple[str | None, str]:
    """Compare what the destination reports with what we read: (error or None, how it was verified).

    Preference: an MD5 the store computed, S3's multipart ETag predicted from our part MD5s, a
    CRC32C the store computed, and only then the MD5 we wrote into metadata (a claim).
    """
    if info is None:
        return "destination object missing after upload", ""
    if info.size != digest.size:
        return f"destination size {info.size} != {digest.size}", "size"
    if info.md5 and info.md5_trusted:
        if info.md5 != digest.md5:
            return f"destination md5 {info.md5} != {digest.md5}", "md5"
        return None, "md5"
    if info.etag and "-" in info.etag and digest.multipart_etag:
        if info.etag != digest.multipart_etag:
            return f"destination multipart etag {info.etag} != {digest.multipart_etag}", "etag"
        return None, "etag"
    if info.crc32c and digest.crc32c:
        if info.crc32c != digest.crc32c:
            return f"destination crc32c {info.crc32c} != {digest.crc32c}", "crc32c"
        return None, "crc32c"
    if info.md5:
        if info.md5 != digest.md5:
            return f"destination metadata md5 {info.md5} != {digest.md5}", "metadata-md5"
        return None, "metadata-md5"
    return "destination reports no checksum to verify against", ""


@dataclass
class Failure:
    key: str
    reason: str


@dataclass(frozen=True)
class CopyEvent:
    """Passed to the progress callback (on the calling thread) after each object is settled."""

    key: str
    size: int
    status: str  # "copied" | "skipped" (already verified or identical) | "kept" (decide said so) | "failed"
    done: int  # objects settled so far in this run
    reason: str | None = None


@dataclass
class CopyReport:
    """Outcome of one copy_bucket run."""

    source: str
    destination: str
    listed: int = 0
    copied: int = 0
    skipped_already_verified: int = 0
    already_identical: int = 0
    bytes_copied: int = 0
    bytes_skipped: int = 0
    kept: list[str] = field(default_factory=list)  # not copied because `decide` said so (the destination's own)
    partial_removed: int = 0  # partial uploads of an earlier, killed copy removed from the destination
    failed: list[Failure] = field(default_factory=list)
    verified_by: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return not self.failed and not self.interrupted

    @property
    def mb_per_s(self) -> float:
        return self.bytes_copied / 1e6 / self.seconds if self.seconds else 0.0

    @property
    def objects_per_s(self) -> float:
        return self.copied / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(ok=self.ok, mb_per_s=round(self.mb_per_s, 3), objects_per_s=round(self.objects_per_s, 3))
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


def _still_verified(entry: JournalEntry, src: ObjectInfo, dst: ObjectInfo | None) -> bool:
    """A journaled object needs no copy if neither side changed since it was verified."""
    if dst is None or src.size != entry.size or dst.size != entry.size:
        return False
    if src.md5 is not None:
        if src.md5 != entry.md5:
            return False
    elif src.etag is None or src.etag != entry.src_etag:
        return False
    if dst.md5 is not None:
        return dst.md5 == entry.md5
    return dst.etag is not None and dst.etag == entry.dst_etag


def _pump(reader: IO[bytes], hasher: StreamHasher, sink: IO[bytes] | None) -> None:
    while True:
        chunk = reader.read(CHUNK)
        if not chunk:
            return
        hasher.update(chunk)
        if sink is not None:
            sink.write(chunk)


class _Copier:
    """State for one copy_bucket run; worker threads call copy_object."""

    def __init__(
        self,
        src: BucketClient,
        dst: BucketClient,
        journal: Journal,
        *,
        retries: int,
        spool_memory: int,
        spool_dir: str | None,
    ) -> None:
        self.src = src
        self.dst = dst
        self.journal = journal
        self.retries = retries
        self.spool_memory = spool_memory
        self.spool_dir = spool_dir

    def copy_object(self, listed: ObjectInfo, existing: ObjectInfo | None = None,
                    overwrite: bool = True) -> JournalEntry:
        """Copy one object (or journal it when `existing`, the destination's listing, is already identical).

        Raises:
            Kept: `existing` differs and `overwrite` is False.
            CopyError: it could not be copied and verified.
        """
        if existing is not None and existing.size == listed.size:
            same = self._identical(listed, existing)
            if same is not None:
                return same
        if existing is not None and not overwrite:
            raise Kept(listed.key)
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            try:
                return self._copy_once(listed)
            except ObjectNotFoundError as exc:
                raise CopyError("source object disappeared during copy") from exc
            except InvalidKeyError as exc:  # the destination cannot represent this key: retrying won't help
                raise CopyError(str(exc)) from exc
            except Exception as exc:  # noqa: BLE001 - any transport/verify error gets a retry
                last = exc
                time.sleep(min(0.2 * 2**attempt, 2.0))
        assert last is not None
        if isinstance(last, CopyError):
            raise last
        raise CopyError(f"{type(last).__name__}: {last}") from last

    def _copy_once(self, listed: ObjectInfo) -> JournalEntry:
        key = listed.key
        with self.src.open_read(key) as reader:
            sinfo = reader.info
            hasher = StreamHasher(self.dst.etag_part_size(sinfo.size))
            if reader.local_file and reader.seekable():
                # A local file: hash in one pass, upload in a second; no spool copy needed.
                _pump(reader, hasher, None)
                reader.seek(0)
                digest = self._checked_digest(listed, sinfo, hasher)
                dinfo = self._upload(key, reader, sinfo, listed, digest)
            else:
                with tempfile.SpooledTemporaryFile(max_size=self.spool_memory, dir=self.spool_dir) as spool:
                    _pump(reader, hasher, spool)
                    spool.seek(0)
                    digest = self._checked_digest(listed, sinfo, hasher)
                    dinfo = self._upload(key, spool, sinfo, listed, digest)
        if dinfo is None:  # the upload response did not describe the object: ask the store
            dinfo = self.dst.stat(key)
        error, how = check_destination(dinfo, digest)
        if error:
            raise CopyError(error)
        assert dinfo is not None
        entry = JournalEntry(
            key=key,
            size=digest.size,
            md5=digest.md5,
            src_etag=sinfo.etag,
            dst_etag=dinfo.etag,
            verified_by=how,
            verified_at=time.time(),
        )
        self.journal.record(entry)
        return entry

    def _identical(self, listed: ObjectInfo, existing: ObjectInfo) -> JournalEntry | None:
        """A journal entry when both sides hold the same bytes (MD5s computed from the stored bytes), else None."""
        try:
            src_md5 = _md5_for(self.src, listed, deep=True)
            dst_md5 = _md5_for(self.dst, existing, deep=True)
        except ObjectNotFoundError:
            return None
        if src_md5 is None or src_md5 != dst_md5:
            return None
        entry = JournalEntry(key=listed.key, size=listed.size, md5=src_md5, src_etag=listed.etag,
                             dst_etag=existing.etag, verified_by="identical", verified_at=time.time())
        self.journal.record(entry)
        return entry

    def _checked_digest(self, listed: ObjectInfo, sinfo: ObjectInfo, hasher: StreamHasher) -> Checksums:
        digest = hasher.finish()
        if digest.size != sinfo.size:
            raise CopyError(f"read {digest.size} bytes, source says {sinfo.size}")
        advertised = sinfo.md5
        if advertised is None and listed.md5 and listed.etag == sinfo.etag and listed.size == sinfo.size:
            advertised = listed.md5
        if advertised and advertised != digest.md5:
            raise CopyError(f"source md5 mismatch: advertised {advertised}, read {digest.md5}")
        if sinfo.crc32c and digest.crc32c and sinfo.crc32c != digest.crc32c:
            raise CopyError(f"source crc32c mismatch: advertised {sinfo.crc32c}, read {digest.crc32c}")
        return digest

    def _upload(
        self, key: str, body: IO[bytes], sinfo: ObjectInfo, listed: ObjectInfo, digest: Checksums
    ) -> ObjectInfo | None:
        return self.dst.put_stream(
            key,
            body,
            digest.size,
            content_type=sinfo.content_type or listed.content_type,
            md5_hex=digest.md5,
        )


Decide = Callable[[ObjectInfo, "ObjectInfo | None", "JournalEntry | None"], bool]
"""(source object, destination object or None, journal entry or None) -> may the copy write it? A declined
object the destination holds with other bytes, or does not hold, is reported as `kept` (left as it is)."""


def copy_bucket(
    src: BucketClient,
    dst: BucketClient,
    journal: Journal,
    *,
    workers: int = 8,
    progress: Callable[[CopyEvent], None] | None = None,
    prefix: str = "",
    retries: int = 2,
    spool_memory: int = 8 * 1024 * 1024,
    spool_dir: str | None = None,
    decide: Decide | None = None,
) -> CopyReport:
    """Copy every object under prefix from src to dst, verifying each, journaling each verified one.

    Objects the journal already holds are skipped if both sides still match it; objects the destination already
    holds with the same bytes are journaled without a copy. `decide`, when given, is asked about every other
    object (a move after cut-over leaves the target's own newer versions alone). Failures are collected in the
    report (not raised). An exception from `progress` (or Ctrl-C) stops the run after the objects in flight
    settle; those still get journaled, so a re-run resumes from there. Memory: about workers x (spool_memory +
    the SDK's upload buffers), whatever the object sizes.
    """
    if (journal.src_url, journal.dst_url) != (src.url, dst.url):
        raise ValueError(f"journal is for {journal.src_url} -> {journal.dst_url}, not {src.url} -> {dst.url}")
    started = time.monotonic()
    report = CopyReport(source=src.url, destination=dst.url)
    report.partial_removed = dst.clean_partial(prefix)
    copier = _Copier(src, dst, journal, retries=retries, spool_memory=spool_memory, spool_dir=spool_dir)
    entries = journal.entries()
    dst_index = {info.key: info for info in dst.list(prefix)}
    lock = threading.Lock()
    done = 0

    def settle(info: ObjectInfo, status: str, reason: str | None, how: str | None) -> None:
        nonlocal done
        with lock:
            done += 1
            if status == "copied" and how == "identical":
                report.already_identical += 1
                report.bytes_skipped += info.size
                status = "skipped"
            elif status == "copied":
                report.copied += 1
                report.bytes_copied += info.size
                if how:
                    report.verified_by[how] = report.verified_by.get(how, 0) + 1
            elif status == "skipped":
                report.skipped_already_verified += 1
                report.bytes_skipped += info.size
            elif status == "kept":
                report.kept.append(info.key)
            else:
                report.failed.append(Failure(info.key, reason or "unknown error"))
            event = CopyEvent(key=info.key, size=info.size, status=status, done=done, reason=reason)
        if progress is not None:
            progress(event)

    def collect(fut: Future[JournalEntry], info: ObjectInfo) -> None:
        try:
            entry = fut.result()
        except Kept:
            settle(info, "kept", None, None)
        except CopyError as exc:
            settle(info, "failed", str(exc), None)
        except Exception as exc:  # noqa: BLE001 - report, do not abort the whole copy
            settle(info, "failed", f"{type(exc).__name__}: {exc}", None)
        else:
            settle(info, "copied", None, entry.verified_by)

    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="copy")
    inflight: dict[Future[JournalEntry], ObjectInfo] = {}
    try:
        for info in src.list(prefix):
            report.listed += 1
            entry = entries.get(info.key)
            existing = dst_index.get(info.key)
            if entry is not None and _still_verified(entry, info, existing):
                settle(info, "skipped", None, None)
                continue
            allowed = decide is None or decide(info, existing, entry)
            if not allowed and existing is None:
                settle(info, "kept", None, None)
                continue
            while len(inflight) >= 2 * max(1, workers):
                finished, _ = wait(inflight, return_when=FIRST_COMPLETED)
                for fut in finished:
                    collect(fut, inflight.pop(fut))
            inflight[pool.submit(copier.copy_object, info, existing, allowed)] = info
        while inflight:
            finished, _ = wait(inflight, return_when=FIRST_COMPLETED)
            for fut in finished:
                collect(fut, inflight.pop(fut))
    except BaseException:
        report.interrupted = True
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        report.seconds = time.monotonic() - started
    return report


def unchanged_since(entry: JournalEntry, info: ObjectInfo, side: str) -> bool:
    """Whether one side's object (`side`: "src" or "dst") is still the version the journal verified."""
    if info.size != entry.size:
        return False
    if info.md5 is not None:
        return info.md5 == entry.md5
    etag = entry.src_etag if side == "src" else entry.dst_etag
    return info.etag is not None and info.etag == etag


def mirror_deletes(src: BucketClient, dst: BucketClient, journal: Journal, *, prefix: str = "",
                   only_copied: bool = False) -> list[str]:
    """Delete from dst every object src no longer holds; returns the deleted keys (sorted).

    `only_copied=True` (the destination is live, e.g. a move after cut-over): only objects this copy put there
    (journaled) and that are still the version it put there; anything else in the destination is its own.
    """
    src_keys = {info.key for info in src.list(prefix)}
    entries = journal.entries()
    deleted = []
    for info in dst.list(prefix):
        if info.key in src_keys:
            continue
        entry = entries.get(info.key)
        if only_copied and (entry is None or not unchanged_since(entry, info, "dst")):
            continue
        dst.delete(info.key)
        journal.forget(info.key)
        deleted.append(info.key)
    return sorted(deleted)


# ------------------------------------------------------------------------------------------ verify


@dataclass
class VerifyReport:
    """Outcome of verify_bucket: ok means every source object is in the destination, same bytes."""

    source: str
    destination: str
    checked: int = 0
    matched: int = 0
    missing: list[str] = field(default_factory=list)
    mismatched: list[Failure] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)  # only in the destination: an error when `exact`
    bytes: int = 0
    seconds: float = 0.0
    exact: bool = False

    @property
    def ok(self) -> bool:
        return not self.missing and not self.mismatched and not (self.exact and self.extra)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


def _md5_for(bucket: BucketClient, info: ObjectInfo, deep: bool) -> str | None:
    """Best MD5 of one object: listing, then stat, then hashing the content.

    deep=True accepts only MD5s computed from the stored bytes (by the store or by us), so an MD5
    claimed in metadata is re-checked by reading the object.
    """
    if info.md5 and (info.md5_trusted or not deep):
        return info.md5
    st = bucket.stat(info.key)
    if st is None:
        return None
    if st.md5 and (st.md5_trusted or not deep):
        return st.md5
    with bucket.open_read(info.key) as reader:
        md5, _ = md5_of_stream(reader)
    return md5


def verify_bucket(
    src: BucketClient,
    dst: BucketClient,
    *,
    prefix: str = "",
    deep: bool = False,
    workers: int = 8,
    exact: bool = False,
) -> VerifyReport:
    """Compare full listings: every source key present in dst with the same size and MD5; with `exact`, also
    every destination key present in src (both directions: the destination is a mirror)."""
    started = time.monotonic()
    report = VerifyReport(source=src.url, destination=dst.url, exact=exact)
    src_index = {info.key: info for info in src.list(prefix)}
    dst_index = {info.key: info for info in dst.list(prefix)}
    report.extra = sorted(set(dst_index) - set(src_index))

    def compare(s: ObjectInfo) -> tuple[str, str | None]:
        d = dst_index.get(s.key)
        if d is None:
            return "missing", None
        if d.size != s.size:
            return "mismatch", f"size {s.size} != {d.size}"
        try:
            s_md5 = _md5_for(src, s, deep)
            d_md5 = _md5_for(dst, d, deep)
        except ObjectNotFoundError:
            return "missing", None
        if s_md5 is None:
            return "mismatch", "source object disappeared"
        if d_md5 is None:
            return "missing", None
        if s_md5 != d_md5:
            return "mismatch", f"md5 {s_md5} != {d_md5}"
        return "ok", None

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="verify") as pool:
        keys = sorted(src_index)
        for key, (status, reason) in zip(keys, pool.map(lambda k: compare(src_index[k]), keys), strict=True):
            report.checked += 1
            report.bytes += src_index[key].size
            if status == "ok":
                report.matched += 1
            elif status == "missing":
                report.missing.append(key)
            else:
                report.mismatched.append(Failure(key, reason or "mismatch"))
    report.seconds = time.monotonic() - started
    return report


# --------------------------------------------------------------------------------------------- CLI


def _json_progress(stream: IO[str]) -> Callable[[CopyEvent], None]:
    def emit(event: CopyEvent) -> None:
        stream.write(json.dumps(asdict(event)) + "\n")
        stream.flush()

    return emit


def main(argv: list[str] | None = None) -> int:
    """`python -m platform_sdk.move.copy SRC DST --journal FILE`: copy then verify, JSON out."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src")
    parser.add_argument("dst")
    parser.add_argument("--journal", required=True, type=Path)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--prefix", default="")
    parser.add_argument("--no-verify", action="store_true")
    parser.add_argument("--progress", action="store_true", help="one JSON line per object on stderr")
    args = parser.parse_args(argv)
    src, dst = open_bucket(args.src), open_bucket(args.dst)
    with Journal(args.journal, src.url, dst.url) as journal:
        report = copy_bucket(
            src,
            dst,
            journal,
            workers=args.workers,
            prefix=args.prefix,
            progress=_json_progress(sys.stderr) if args.progress else None,
        )
    out: dict[str, Any] = {"copy": report.to_dict()}
    ok = report.ok
    if not args.no_verify:
        verify = verify_bucket(src, dst, prefix=args.prefix, workers=args.workers)
        out["verify"] = verify.to_dict()
        ok = ok and verify.ok
    print(json.dumps(out, indent=2, sort_keys=True))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
