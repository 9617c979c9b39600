"""Watches the local cloud's roots (watchfiles): a re-apply reloads the registry, a new object fires object-created.

Which files matter: bucket objects (not the buckets' hidden temp directories), each function's `function.json`,
and CDN route files. With a `RootFinder` the watch is on the environment's directory (the parent of its roots),
so a root created later is watched too: a change in a root not served yet, of a root itself (created, removed),
or of the environment file the finder follows (a cloud given or denied a local stand-in), makes the gateway look
for its roots again before the batch is handled. One batch of changes is
handled in order: registry updates first, then one `on_object(entry, event, detail)` call per (object, function
whose trigger matches it). A write reported twice (added, then modified, with the same mtime, size and inode)
fires once.

Exactly once across a move: a trigger belongs to the bucket on its own cloud, as on a real cloud, so an object
landing in the same-named twin on another cloud (a move's target before cut-over) fires nothing there. And an
object is processed by the side that owned it when it arrived: one that lands holding the same bytes as the
same key in the same-named bucket on another cloud was carried over by a copy (a move's final sync, a move
back onto a kept copy), not written, and fires nothing. That is decided by content, so it holds for any copier
(ours, rclone, a cloud's transfer service); the price is that re-uploading identical bytes under the same key
does not fire again while another cloud still holds a copy.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from platform_sdk.localcloud.dev.roots import RootFinder
from platform_sdk.localcloud.registry import BucketEntry, CloudRoot, FunctionEntry, Registry, content_type, is_temp_key

log = logging.getLogger("platform.dev")

ObjectEventSink = Callable[[FunctionEntry, dict[str, Any], str], None]
"""Receives (function to run, its local object_created event, a log detail)."""


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Watcher:
    """Turns file changes under `roots` into registry reloads (`on_registry_change`) and object events (`on_object`)."""

    def __init__(self, registry: Registry, roots: Iterable[CloudRoot], on_registry_change: Callable[[], object],
                 on_object: ObjectEventSink, *, finder: RootFinder | None = None,
                 on_roots_change: Callable[[], bool] | None = None) -> None:
        """`roots` are watched, or with `finder` its parent directory; `on_roots_change()` looks for the roots
        again (True if they changed) and is called when a change lies outside the roots served."""
        self.registry = registry
        self.roots = list(roots)
        self.finder = finder
        self.on_registry_change = on_registry_change
        self.on_roots_change = on_roots_change
        self.on_object = on_object
        self._seen_objects: dict[Path, tuple[int, int, int]] = {}
        self.ready = threading.Event()
        """Set once the file watches are in place: an object written after that fires its triggers."""

    def accepts(self, change: Any, path: str) -> bool:
        """watchfiles filter: only paths the registry knows, and only the files that matter there."""
        self.ready.set()  # a change reached the filter: the watches are in place
        located = self.registry.locate(Path(path))
        if located is None:  # outside the roots served: a root created or removed, a change in a new one, or
            # the environment file, which says which clouds have roots
            return self.finder is not None and (self.finder.owns(Path(path)) or Path(path) == self.finder.source)
        _, area, parts = located
        if area == "buckets":
            return not parts[0].startswith(".")
        if area == "functions":
            return len(parts) == 2 and parts[1] == "function.json"
        return area == "cdn"

    def run(self, stop: threading.Event) -> None:
        """Watch until `stop` is set (debounced batches of 1.6 s); a watcher crash is logged, never raised."""
        import watchfiles

        paths = [str(root.path) for root in self.roots]
        if self.finder is not None:
            paths = [str(self.finder.parent)] + ([str(self.finder.source.parent)] if self.finder.source else [])
        try:
            for changes in watchfiles.watch(*paths, watch_filter=self.accepts, stop_event=stop,
                                            debounce=1600, step=50, rust_timeout=500, yield_on_timeout=True,
                                            raise_interrupt=False):
                self.ready.set()  # a batch or a quiet timeout: the watches are in place
                if changes:
                    self.handle_changes(changes)
        except Exception:  # noqa: BLE001 - a watcher crash must be loud but not kill the gateway
            log.exception("file watcher stopped; object-created events and reload logs are off")

    def handle_changes(self, changes: Iterable[tuple[Any, str]]) -> None:
        """One batch of file changes: registry updates first, then object-created events."""
        import watchfiles

        changes = list(changes)
        registry_changed = False
        if self.on_roots_change is not None and any(self.registry.locate(Path(raw)) is None for _, raw in changes):
            self.on_roots_change()  # a root came or went: served (or not) before this batch is handled
        candidates: dict[Path, tuple[BucketEntry, str]] = {}
        for change, raw in changes:
            path = Path(raw)
            located = self.registry.locate(path)
            if located is None:
                continue
            root, area, parts = located
            if area != "buckets":
                registry_changed = True
                continue
            bucket = self.registry.bucket(parts[0], prefer=root.label)
            if bucket is None or len(parts) < 2:
                continue
            if change == watchfiles.Change.deleted:
                self._seen_objects.pop(path, None)
                continue
            if path.is_dir():
                # files created in a brand-new directory before the watch on it was set up: scan for them
                for file in sorted(p for p in path.rglob("*") if p.is_file()):
                    candidates[file] = (bucket, file.relative_to(bucket.path).as_posix())
            else:
                candidates[path] = (bucket, "/".join(parts[1:]))
        if registry_changed:
            self.on_registry_change()
        for path, (bucket, key) in sorted(candidates.items()):
            self._object_landed(bucket, key, path)

    def _twin_with_same_bytes(self, bucket: BucketEntry, key: str, path: Path, size: int) -> str | None:
        """The cloud whose same-named bucket holds `key` with the same bytes, or None."""
        digest: str | None = None
        for root in self.registry.roots:
            if root.label == bucket.cloud:
                continue
            other = root.path / "buckets" / bucket.name / key
            try:
                if not other.is_file() or other.stat().st_size != size:
                    continue
                digest = digest or _md5(path)
                if _md5(other) == digest:
                    return root.label
            except OSError:
                continue
        return None

    def _object_landed(self, bucket: BucketEntry, key: str, path: Path) -> None:
        if is_temp_key(key):
            return
        try:
            st = path.stat()
        except OSError:
            return  # gone again (a temp file renamed away)
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if not path.is_file() or self._seen_objects.get(path) == stamp:
            return  # the same write reported twice (added + modified)
        self._seen_objects[path] = stamp
        functions = [entry for entry in self.registry.functions()
                     if entry.cloud == bucket.cloud and entry.triggered_by(bucket.name, key)]
        if not functions:
            return
        twin = self._twin_with_same_bytes(bucket, key, path, st.st_size)
        if twin is not None:
            log.info("not fired: bucket=%s key=%r on %s holds the same bytes as its copy on %s (carried by a copy, "
                     "processed where it arrived)", bucket.name, key, bucket.cloud, twin)
            return
        for entry in functions:
            event = {"type": "object_created", "bucket": bucket.name, "key": key, "size": st.st_size,
                     "content_type": content_type(path)}
            self.on_object(entry, event, f"bucket={bucket.name} key={key!r} cloud={bucket.cloud}")
