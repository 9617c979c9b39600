"""A bucket's data through a move: mirrored before cut-over, synced after it without touching the target's writes.

Before cut-over the target twin is unwired (only the move writes to it), so it is made an exact mirror of the
source: changed and new objects copied, objects the source no longer holds deleted, then verified in both
directions (every source object in the target with the same bytes, and nothing else in the target). The source
may be in use meanwhile: what it writes or deletes after the pass listed it (an object new since that listing,
one whose version changed since, one deleted since) is not a failure of this pass but counted as
`written_during_copy` and carried by the next pass (the final sync after cut-over, which is strict). Everything
the pass listed must have arrived with the same bytes.

After cut-over the target is live: functions write to it, and it owns every object written since. The final
sync copies only what the source changed before cut-over (objects new in the source, or changed while the
target still holds exactly the version the move put there) and deletes from the target only what the move put
there and the source has since deleted. Anything the target wrote itself is left alone. Verification again goes
both ways, and explains every difference: a target object that is neither the source's nor written by the
target since cut-over fails it.

What the move put there comes from the copy journal (`move/journal.py`) of this machine; a resume on another
machine compares contents instead (an identical object needs no copy) and treats the target's other versions as
its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from platform_sdk.errors import PlatformError
from platform_sdk.move.copy import (
    CopyEvent,
    CopyReport,
    copy_bucket,
    mirror_deletes,
    unchanged_since,
    verify_bucket,
)
from platform_sdk.move.journal import Journal, JournalEntry
from platform_sdk.runtime.buckets import BucketClient, ObjectInfo, open_bucket


def live_target_decide(info: ObjectInfo, existing: ObjectInfo | None, entry: JournalEntry | None) -> bool:
    """After cut-over, may the sync write this source object into the target?

    Yes when the target does not hold it and never did as far as the journal knows (new in the source), or when
    it holds exactly the version the move put there (the source changed it before cut-over). No when the target
    deleted or rewrote it since: the target owns it now.
    """
    if existing is None:
        return entry is None
    return entry is not None and unchanged_since(entry, existing, "dst")


@dataclass
class TwoWayCheck:
    """Verification in both directions. Before cut-over every difference is an error; after it, differences the
    target made itself (new, rewritten or deleted objects) are counted, and only unexplained ones are errors."""

    cutover: bool
    source_objects: int = 0
    target_objects: int = 0
    matched: int = 0
    bytes: int = 0
    missing: list[str] = field(default_factory=list)  # in the source, not in the target
    different: list[str] = field(default_factory=list)  # in both, other bytes
    extra: list[str] = field(default_factory=list)  # in the target, not in the source
    new_on_target: list[str] = field(default_factory=list)
    rewritten_on_target: list[str] = field(default_factory=list)
    deleted_on_target: list[str] = field(default_factory=list)
    written_during_copy: list[str] = field(default_factory=list)  # before cut-over: the source's writes since listed

    @property
    def ok(self) -> bool:
        return not (self.missing or self.different or self.extra)

    def problem(self) -> str:
        parts = [f"{len(self.missing)} missing in the target" if self.missing else "",
                 f"{len(self.different)} with other bytes" if self.different else "",
                 f"{len(self.extra)} in the target but not in the source" if self.extra else ""]
        sample = (self.missing + self.different + self.extra)[:3]
        return "; ".join(p for p in parts if p) + (f" (e.g. {', '.join(sample)})" if sample else "")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


def _same_version(a: ObjectInfo, b: ObjectInfo) -> bool:
    """Whether two listings of one key show the same version (size, then MD5, else ETag)."""
    if a.size != b.size:
        return False
    if a.md5 and b.md5:
        return a.md5 == b.md5
    return a.etag is not None and a.etag == b.etag


def verify_two_way(src: BucketClient, dst: BucketClient, entries: dict[str, JournalEntry], cutover: bool,
                   workers: int = 8, listed: dict[str, ObjectInfo] | None = None) -> TwoWayCheck:
    """Compare both listings (and contents) and explain each difference (see `TwoWayCheck`).

    `listed` (before cut-over): the source as the pass's copy listed it, key -> object. A difference the source
    made since (a key new since, changed since, or deleted since) goes to `written_during_copy`, not an error."""
    report = verify_bucket(src, dst, workers=workers)
    src_index = {info.key: info for info in src.list()}  # listed again: verify_bucket keeps its listings to itself
    dst_index = {info.key: info for info in dst.list()}
    check = TwoWayCheck(cutover, len(src_index), len(dst_index), report.matched, report.bytes)

    def since_listed(key: str) -> bool:
        if cutover or listed is None:
            return False
        before, now = listed.get(key), src_index.get(key)
        return before is None or now is None or not _same_version(before, now)

    for key in report.missing:
        entry = entries.get(key)
        if cutover and entry is not None:  # the target held the move's copy and deleted it since cut-over
            check.deleted_on_target.append(key)
        elif since_listed(key):
            check.written_during_copy.append(key)
        else:
            check.missing.append(key)
    for failure in report.mismatched:
        entry, there = entries.get(failure.key), dst_index.get(failure.key)
        if cutover and there is not None and (entry is None or not unchanged_since(entry, there, "dst")):
            check.rewritten_on_target.append(failure.key)
        elif since_listed(failure.key):
            check.written_during_copy.append(failure.key)
        else:
            check.different.append(failure.key)
    for key in report.extra:
        entry = entries.get(key)
        if cutover and (entry is None or not unchanged_since(entry, dst_index[key], "dst")):
            check.new_on_target.append(key)
        elif since_listed(key):  # deleted from the source after the copy listed it
            check.written_during_copy.append(key)
        else:
            check.extra.append(key)
    return check


@dataclass
class BucketSync:
    """One pass over one bucket: the copy, the deletes carried over, the two-way verification."""

    resource: str
    phase: str
    copy: CopyReport
    deleted: list[str]
    verify: TwoWayCheck

    def to_json(self) -> dict[str, Any]:
        return {"resource": self.resource, "phase": self.phase, "kind": "bucket", "copy": self.copy.to_dict(),
                "deleted": self.deleted, "verify": self.verify.to_json()}


def sync_bucket(address: str, phase: str, source_url: str, target_url: str, journal_file: Path, *, cutover: bool,
                workers: int = 8, progress: Callable[[int], Callable[[CopyEvent], None] | None] | None = None,
                ) -> BucketSync:
    """Mirror (before cut-over) or sync (after it) one bucket, then verify both ways.

    `progress(total)` makes the per-object callback for a copy of `total` source objects.

    Raises:
        PlatformError: objects failed to copy, or verification found differences (the source is untouched).
    """
    src, dst = open_bucket(source_url), open_bucket(target_url)
    with Journal(journal_file, src.url, dst.url) as journal:
        listed = {info.key: info for info in src.list()}  # what this pass must carry; later writes: the next pass
        total = len(listed)
        copied = copy_bucket(src, dst, journal, workers=workers, progress=progress(total) if progress else None,
                             decide=live_target_decide if cutover else None)
        if not cutover:  # deleted from the source after this pass listed it: the next pass carries the delete
            copied.failed = [f for f in copied.failed
                             if not (f.reason == "source object disappeared during copy" and src.stat(f.key) is None)]
        if not copied.ok:
            sample = "; ".join(f"{f.key}: {f.reason}" for f in copied.failed[:3])
            raise PlatformError(f"copy of {address} incomplete: {len(copied.failed)} object(s) failed ({sample}); "
                                "the source is untouched: re-run the move to resume", value=address)
        deleted = mirror_deletes(src, dst, journal, only_copied=cutover)
        check = verify_two_way(src, dst, journal.entries(), cutover, workers=workers, listed=listed)
    if not check.ok:
        raise PlatformError(f"verification of {address} failed: {check.problem()}; the source is untouched: re-run "
                            "the move", value=address)
    return BucketSync(address, phase, copied, deleted, check)
