"""Make a bucket hold exactly a directory's files: the plan (what to upload, what to delete) and its execution.

Which objects the sync manages: those listed in the bucket's manifest object (`MANIFEST_KEY`), which every sync
rewrites last with the keys it uploaded or found unchanged, their MD5 and the store's fingerprint (ETag,
generation). A file removed from the directory is deleted from the bucket only if the manifest lists it: objects
anything else wrote (a function, a person) are never deleted, and a first sync deletes nothing. The manifest is an
ordinary object, so a move carries it with the rest of the data, and the first apply after the move finds it.
It is readable wherever the bucket's objects are (through a CDN too): it holds the keys and MD5s of files that
are themselves published, nothing else.

Unchanged files are skipped by MD5: the store's own (listing, else a HEAD) compared with the file's; where the
store reports no MD5 (S3 multipart uploads, SSE-KMS), the manifest's MD5 counts while the object's fingerprint is
still the one the manifest recorded. A known content type that differs from the file's is a change too.
Which files of the directory count: those `platform_sdk.synth.sources` lets ship (never dotenv files, private
keys, VCS folders, ...; nor what the directory's `.platformignore` lists; a symlink leaving the directory is refused).
Standard library only besides that, the bucket clients (`platform_sdk.runtime.buckets`) and their checksum helpers.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from platform_sdk.runtime.buckets import BucketClient, ObjectInfo, ObjectNotFoundError, md5_of_stream
from platform_sdk.synth.sources import Listing, list_files

MANIFEST_KEY = ".platform-content.json"
"""The object listing what the last sync uploaded (JSON: `{"version": 1, "files": {key: {"md5", "etag"}}}`)."""

MANIFEST_VERSION = 1
DEFAULT_TYPE = "application/octet-stream"


def content_type(key: str) -> str:
    """The content type of a file by its name (`mimetypes`), `application/octet-stream` when unknown."""
    return mimetypes.guess_type(key)[0] or DEFAULT_TYPE


@dataclass(frozen=True)
class SourceFile:
    """One file of the content directory: its key in the bucket, size (bytes), MD5 (hex) and content type."""

    key: str
    path: Path
    size: int
    md5: str
    content_type: str


def scan(directory: Path, listing: Listing | None = None) -> dict[str, SourceFile]:
    """Every file of `directory` that ships (`list_files`, or the `listing` already made of it), keyed by its
    `/`-separated relative path.

    Hidden files are included (a site may publish `.well-known/`) except the secrets and clutter `list_files` leaves
    out; `MANIFEST_KEY` at the top is not (it is the sync's own object).

    Raises:
        LinkOutside: a symlink under `directory` points outside it.
    """
    found: dict[str, SourceFile] = {}
    for key, path in (listing or list_files(directory)).files:
        if key == MANIFEST_KEY:
            continue
        with path.open("rb") as fh:
            md5, size = md5_of_stream(fh)
        found[key] = SourceFile(key, path, size, md5, content_type(key))
    return dict(sorted(found.items(), key=lambda item: item[0].encode("utf-8")))  # the stores' listing order


def read_manifest(bucket: BucketClient) -> dict[str, dict[str, Any]]:
    """key -> {"md5", "etag"} of what the last sync left in the bucket; {} without a (readable) manifest."""
    try:
        data = json.loads(bucket.get(MANIFEST_KEY))
    except (ObjectNotFoundError, ValueError):
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict):
        return {}
    return {k: v for k, v in files.items() if isinstance(k, str) and isinstance(v, dict)}


@dataclass
class ContentPlan:
    """What one sync will do: `upload` new and changed files, `delete` managed keys gone from the directory.

    `changed` are the uploads that replace an object (what a CDN may have cached), `unchanged` the files
    skipped. `kept` carries the manifest entries of the skipped files into the new manifest.
    """

    upload: list[SourceFile] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    unchanged: int = 0
    kept: dict[str, dict[str, Any]] = field(default_factory=dict)
    manifest: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def has_changes(self) -> bool:
        return bool(self.upload or self.delete)

    def summary(self) -> str:
        """`3 files to upload, 1 to delete` (`up to date` when nothing is to do)."""
        if not self.has_changes:
            return f"up to date ({self.unchanged} file{'s' if self.unchanged != 1 else ''})"
        n = len(self.upload)
        return f"{n} file{'s' if n != 1 else ''} to upload, {len(self.delete)} to delete"

    def to_json(self) -> dict[str, Any]:
        return {"upload": [f.key for f in self.upload], "changed": list(self.changed), "delete": list(self.delete),
                "unchanged": self.unchanged}


def _listing(bucket: BucketClient) -> Iterator[ObjectInfo]:
    for info in bucket.list():
        if info.key != MANIFEST_KEY:
            yield info


def _same(file: SourceFile, there: ObjectInfo, recorded: dict[str, Any] | None, bucket: BucketClient) -> bool:
    if there.size != file.size:
        return False
    if there.content_type and there.content_type.split(";")[0].strip() != file.content_type:
        return False
    md5 = there.md5
    if md5 is None and recorded is not None and there.etag and recorded.get("etag") == there.etag:
        md5 = recorded.get("md5")
    if md5 is None:
        stat = bucket.stat(file.key)
        md5 = stat.md5 if stat is not None else None
    return md5 == file.md5


def plan_sync(files: dict[str, SourceFile], bucket: BucketClient | None) -> ContentPlan:
    """Compare the directory's files with the bucket (None: not created yet, so everything is new)."""
    if bucket is None:
        return ContentPlan(upload=list(files.values()))
    manifest = read_manifest(bucket)
    there = {info.key: info for info in _listing(bucket)}
    plan = ContentPlan(manifest=manifest)
    for key, file in files.items():
        info = there.get(key)
        if info is not None and _same(file, info, manifest.get(key), bucket):
            plan.unchanged += 1
            plan.kept[key] = {"md5": file.md5, "etag": info.etag}
            continue
        plan.upload.append(file)
        if info is not None:
            plan.changed.append(key)
    plan.delete = sorted(key for key in manifest if key not in files and key in there)
    return plan


@dataclass
class SyncReport:
    """What a sync did: keys uploaded (`changed`: those replacing an object), deleted, skipped as unchanged."""

    uploaded: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        text = f"{len(self.uploaded)} uploaded, {len(self.deleted)} deleted, {self.unchanged} unchanged"
        return text + (f", {len(self.failed)} failed" if self.failed else "")

    def to_json(self) -> dict[str, Any]:
        return {"uploaded": self.uploaded, "changed": self.changed, "deleted": self.deleted,
                "unchanged": self.unchanged, "failed": [{"key": k, "error": e} for k, e in self.failed]}


def _upload(bucket: BucketClient, file: SourceFile) -> dict[str, Any]:
    with file.path.open("rb") as fh:
        info = bucket.put_stream(file.key, fh, file.size, content_type=file.content_type, md5_hex=file.md5)
    if info is None or not info.etag:
        info = bucket.stat(file.key)
    if info is None:
        raise OSError(f"{file.key} is missing after its upload")
    if info.md5 and info.md5_trusted and info.md5 != file.md5:
        raise OSError(f"{file.key}: the bucket holds MD5 {info.md5}, the file has {file.md5}")
    return {"md5": file.md5, "etag": info.etag}


def apply_sync(plan: ContentPlan, bucket: BucketClient, workers: int = 8,
               on_file: Callable[[str], None] | None = None) -> SyncReport:
    """Upload, then delete, then write the manifest (also after failures: it lists whatever is managed now).

    `on_file(key)` is called after each upload or delete (progress). Deletes run only when every upload
    succeeded, so a failed sync never leaves the site without a page it still links to.
    """
    report = SyncReport(unchanged=plan.unchanged)
    uploading = {file.key for file in plan.upload}
    # Still managed: what this sync will delete, what it re-uploads (the old entry stays if that fails), and the
    # files found unchanged. Entries of objects someone else deleted meanwhile are dropped.
    manifest = {k: v for k, v in plan.manifest.items() if k in uploading or k in plan.delete}
    manifest.update(plan.kept)
    changed = set(plan.changed)
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="platform-content") as pool:
        futures = {file.key: pool.submit(_upload, bucket, file) for file in plan.upload}
        for key, future in futures.items():
            try:
                manifest[key] = future.result()
            except Exception as err:  # noqa: BLE001 - every failure is reported per file
                report.failed.append((key, f"{type(err).__name__}: {err}"))
                continue
            report.uploaded.append(key)
            if key in changed:
                report.changed.append(key)
            if on_file is not None:
                on_file(key)
    if report.ok:
        for key in plan.delete:
            try:
                bucket.delete(key)
            except Exception as err:  # noqa: BLE001
                report.failed.append((key, f"{type(err).__name__}: {err}"))
                continue
            manifest.pop(key, None)
            report.deleted.append(key)
            if on_file is not None:
                on_file(key)
    document = {"version": MANIFEST_VERSION, "files": dict(sorted(manifest.items()))}
    bucket.put(MANIFEST_KEY, json.dumps(document, indent=1, sort_keys=True).encode(), content_type="application/json")
    return report
