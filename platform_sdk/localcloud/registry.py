"""Read what the local cloud provider wrote on disk: functions, CDN routes and buckets of one or more roots.

The gateway and `platform status` read the registry; only the provider writes it. Entries are re-read
whenever their file changes (stat fingerprint), so a re-apply is picked up on the very next lookup without
waiting for a file watcher.
"""

from __future__ import annotations

import json
import mimetypes
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REGISTRY_FILE = "function.json"
CONTENT_TYPE_XATTR = "user.platform.content_type"  # written by platform_sdk.providers.local.runtime.buckets.LocalBucket
TEMP_DIR_NAMES = (".platform-tmp",)
TEMP_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", "~", ".swp")

Fingerprint = tuple[int, int, int]


@dataclass(frozen=True)
class CloudRoot:
    """One local cloud root: the directory the provider of one cloud label (aws, gcp, local) writes into."""

    label: str
    path: Path


@dataclass(frozen=True)
class ObjectTrigger:
    bucket: str
    prefix: str = ""
    suffix: str = ""

    def matches(self, bucket: str, key: str) -> bool:
        return bucket == self.bucket and key.startswith(self.prefix) and key.endswith(self.suffix)


@dataclass(frozen=True)
class QueueTrigger:
    """A `queue_message` trigger: the queue's physical name, its store's URL, most messages per call."""

    queue: str
    url: str
    batch_size: int = 1


@dataclass(frozen=True)
class FunctionEntry:
    """A deployed function as the provider recorded it in `<root>/functions/<name>/function.json`."""

    name: str
    cloud: str
    root: Path
    handler: str
    runtime: str
    code_dir: Path
    code_hash: str
    package_hash: str
    environment: dict[str, str]
    http: dict[str, Any] | None
    schedules: tuple[str, ...]
    object_created: tuple[ObjectTrigger, ...]
    timeout: float
    memory: int
    updated_at: str
    url: str
    fingerprint: Fingerprint
    raw: dict[str, Any] = field(compare=False, repr=False)
    queues: tuple[QueueTrigger, ...] = ()
    invokers: tuple[str, ...] = ()
    """Physical names of the functions granted `invokes` on this one (the gateway admits their calls)."""

    @property
    def iam_http(self) -> bool:
        """Its HTTP trigger admits only granted functions (`http(auth="iam")`)."""
        return bool(self.http) and (self.http or {}).get("auth") == "iam"

    @property
    def generation(self) -> tuple[str, str, Fingerprint]:
        """Changes whenever the provider rewrote the entry: a worker of an older generation must not run."""
        return (self.code_hash, self.updated_at, self.fingerprint)

    def triggered_by(self, bucket: str, key: str) -> bool:
        return any(t.matches(bucket, key) for t in self.object_created)


@dataclass(frozen=True)
class CdnRoute:
    """`<root>/cdn/<name>.json`: a route to exactly one origin, a bucket or a function (physical names)."""

    name: str
    cloud: str
    origin_kind: str
    origin_name: str
    domain: str | None
    url: str
    paths: tuple[tuple[str, str, str], ...] = ()
    """(prefix like "/api/", origin kind, origin name) of the routes other than the default, longest prefix first."""

    def origin_for(self, path: str) -> tuple[str, str]:
        """(kind, name) of the origin serving `path` (like "/api/items"): the longest matching prefix, else the
        default origin."""
        for prefix, kind, name in self.paths:
            if path.startswith(prefix):
                return kind, name
        return self.origin_kind, self.origin_name


@dataclass(frozen=True)
class BucketEntry:
    """`<root>/buckets/<name>/` with its settings in `<root>/buckets/.meta/<name>.json` (may be missing)."""

    name: str
    cloud: str
    path: Path
    public_read: bool = False
    cors_origins: tuple[str, ...] = ()


def _fingerprint(st: os.stat_result) -> Fingerprint:
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return None  # gone, or caught mid-write by a non-atomic writer: treat as absent this time


def parse_function(data: dict[str, Any], root: CloudRoot, fingerprint: Fingerprint) -> FunctionEntry:
    """Turn a registry entry into a FunctionEntry; the `triggers` attribute is JSON text."""
    triggers = data.get("triggers") or "{}"
    if isinstance(triggers, str):
        try:
            triggers = json.loads(triggers)
        except ValueError:
            triggers = {}
    events = tuple(
        ObjectTrigger(str(t.get("bucket") or ""), str(t.get("prefix") or ""), str(t.get("suffix") or ""))
        for t in triggers.get("object_created") or []
    )
    name = str(data["name"])
    fn_dir = root.path / "functions" / name
    return FunctionEntry(
        name=name,
        cloud=root.label,
        root=root.path,
        handler=str(data.get("handler") or "_platform_entry.handler"),
        runtime=str(data.get("runtime") or ""),
        code_dir=Path(data.get("code_dir") or fn_dir / "code"),
        code_hash=str(data.get("code_hash") or ""),
        package_hash=str(data.get("package_hash") or ""),
        environment={str(k): str(v) for k, v in (data.get("environment") or {}).items()},
        http=triggers.get("http") if isinstance(triggers.get("http"), dict) else None,
        schedules=tuple(str(c) for c in triggers.get("schedules") or []),
        object_created=events,
        timeout=float(data.get("timeout") or 30),
        memory=int(data.get("memory") or 128),
        updated_at=str(data.get("updated_at") or ""),
        url=str(data.get("url") or ""),
        fingerprint=fingerprint,
        raw=data,
        queues=tuple(QueueTrigger(str(q.get("queue") or ""), str(q.get("url") or ""), int(q.get("batch_size") or 1))
                     for q in triggers.get("queues") or [] if isinstance(q, dict)),
        invokers=tuple(str(i) for i in triggers.get("invokers") or []),
    )


def content_type(path: Path) -> str:
    """The content type the writer recorded (xattr), else a guess from the extension."""
    try:
        return os.getxattr(path, CONTENT_TYPE_XATTR).decode("utf-8")
    except (OSError, AttributeError, UnicodeDecodeError):
        return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def is_temp_key(key: str) -> bool:
    """Keys that are a writer's scratch files, never objects: dot-names anywhere, partial-download suffixes."""
    parts = key.split("/")
    return any(p.startswith(".") for p in parts) or parts[-1].endswith(TEMP_SUFFIXES) or parts[0] in TEMP_DIR_NAMES


def safe_object_path(bucket_dir: Path, key: str) -> Path | None:
    """The file of `key` inside the bucket, or None if the key is not a plain object key (traversal, temp)."""
    parts = key.split("/")
    if not key or any(p in ("", ".", "..") or "\x00" in p or "\\" in p for p in parts) or is_temp_key(key):
        return None
    path = bucket_dir.joinpath(*parts)
    try:
        path.resolve().relative_to(bucket_dir.resolve())
    except ValueError:
        return None  # a symlink pointing out of the bucket
    return path


class Registry:
    """Functions, routes and buckets of a set of roots, re-read when their files change. Thread-safe."""

    def __init__(self, roots: Iterable[CloudRoot]) -> None:
        self.roots = list(roots)
        self._lock = threading.Lock()
        self._functions: dict[Path, FunctionEntry] = {}

    # -- functions ------------------------------------------------------------------------------------------
    def _load_function(self, root: CloudRoot, path: Path) -> FunctionEntry | None:
        try:
            fingerprint = _fingerprint(path.stat())
        except (FileNotFoundError, NotADirectoryError):
            with self._lock:
                self._functions.pop(path, None)
            return None
        with self._lock:
            cached = self._functions.get(path)
        if cached is not None and cached.fingerprint == fingerprint:
            return cached
        data = _read_json(path)
        if not isinstance(data, dict) or not data.get("name"):
            return None
        entry = parse_function(data, root, fingerprint)
        with self._lock:
            self._functions[path] = entry
        return entry

    def function(self, name: str) -> FunctionEntry | None:
        """The current entry of one function (first root that has it); re-read if the file changed."""
        if not name or "/" in name or name.startswith("."):
            return None
        for root in self.roots:
            entry = self._load_function(root, root.path / "functions" / name / REGISTRY_FILE)
            if entry is not None:
                return entry
        return None

    def functions(self) -> list[FunctionEntry]:
        """Every function of every root, freshly scanned (names are unique per environment)."""
        found: dict[str, FunctionEntry] = {}
        for root in self.roots:
            fn_root = root.path / "functions"
            try:
                names = sorted(d.name for d in os.scandir(fn_root) if d.is_dir() and not d.name.startswith("."))
            except (FileNotFoundError, NotADirectoryError):
                continue
            for name in names:
                entry = self._load_function(root, fn_root / name / REGISTRY_FILE)
                if entry is not None and entry.name not in found:
                    found[entry.name] = entry
        return sorted(found.values(), key=lambda e: e.name)

    # -- CDN routes -----------------------------------------------------------------------------------------
    def _parse_route(self, root: CloudRoot, data: Any) -> CdnRoute | None:
        if not isinstance(data, dict) or not data.get("name"):
            return None
        origin = data.get("origin") or {}
        kind = origin.get("kind") or ("bucket" if data.get("origin_bucket") else "function")
        target = origin.get("name") or data.get("origin_bucket") or data.get("origin_function")
        if not target:
            return None
        paths = [(str(p["pattern"])[:-1], str(p["kind"]), str(p["name"])) for p in data.get("paths") or ()
                 if isinstance(p, dict) and str(p.get("pattern", "")).endswith("/*") and p.get("name")]
        paths.sort(key=lambda p: -len(p[0]))
        return CdnRoute(str(data["name"]), root.label, str(kind), str(target), data.get("domain"),
                        str(data.get("url") or ""), tuple(paths))

    def route(self, name: str) -> CdnRoute | None:
        if not name or "/" in name or name.startswith("."):
            return None
        for root in self.roots:
            route = self._parse_route(root, _read_json(root.path / "cdn" / f"{name}.json"))
            if route is not None:
                return route
        return None

    def routes(self) -> list[CdnRoute]:
        found: dict[str, CdnRoute] = {}
        for root in self.roots:
            for path in sorted((root.path / "cdn").glob("*.json")):
                route = self._parse_route(root, _read_json(path))
                if route is not None and not path.name.startswith(".") and route.name not in found:
                    found[route.name] = route
        return sorted(found.values(), key=lambda r: r.name)

    # -- buckets --------------------------------------------------------------------------------------------
    def _bucket_at(self, root: CloudRoot, path: Path) -> BucketEntry:
        meta = _read_json(path.parent / ".meta" / f"{path.name}.json")
        meta = meta if isinstance(meta, dict) else {}
        return BucketEntry(path.name, root.label, path, bool(meta.get("public_read")),
                           tuple(meta.get("cors_origins") or ()))

    def bucket(self, name: str, prefer: str | None = None) -> BucketEntry | None:
        """A bucket by physical name; `prefer` names the cloud label to look in first (a route's own root)."""
        if not name or "/" in name or name.startswith("."):
            return None
        roots = sorted(self.roots, key=lambda r: r.label != prefer)
        for root in roots:
            path = root.path / "buckets" / name
            if path.is_dir():
                return self._bucket_at(root, path)
        return None

    def buckets(self) -> list[BucketEntry]:
        found: dict[str, BucketEntry] = {}
        for root in self.roots:
            try:
                entries = os.scandir(root.path / "buckets")
                dirs = sorted((d for d in entries if d.is_dir() and not d.name.startswith(".")), key=lambda d: d.name)
            except (FileNotFoundError, NotADirectoryError):
                continue
            for d in dirs:
                found.setdefault(d.name, self._bucket_at(root, Path(d.path)))
        return sorted(found.values(), key=lambda b: b.name)

    def locate(self, path: Path) -> tuple[CloudRoot, str, list[str]] | None:
        """Which root a path is in, the area (buckets/functions/cdn/...) and the parts below the area."""
        for root in self.roots:
            try:
                rel = path.relative_to(root.path)
            except ValueError:
                continue
            if len(rel.parts) >= 2:
                return root, rel.parts[0], list(rel.parts[1:])
        return None


def as_roots(roots: Mapping[str, Path | str] | Iterable[CloudRoot | Path | str]) -> list[CloudRoot]:
    """Accept {label: path}, CloudRoots, or bare paths (label = the directory name, e.g. `.../local/aws`)."""
    if isinstance(roots, Mapping):
        return [CloudRoot(str(label), Path(path).resolve()) for label, path in roots.items()]
    out = []
    for item in roots:
        if isinstance(item, CloudRoot):
            out.append(CloudRoot(item.label, Path(item.path).resolve()))
        else:
            path = Path(item).resolve()
            out.append(CloudRoot(path.name, path))
    return out
