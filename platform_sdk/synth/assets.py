"""Deterministic function packages: the same sources give the same zip bytes, whatever the mtimes or paths.

A package holds the user's code, the portable runtime (`platform_sdk.runtime` and `platform_sdk.contract`) with the
runtime subpackage of its target's plug-in (`platform_sdk.providers.<target>.runtime`, plus those of the clouds
owning resources it is granted), and a per-cloud entry module that adapts the cloud's event shape to the neutral
handler signature; the entry module and symbol names, and whether the runtime is shipped at all, come from the
cloud plug-in's `packaging`. The user's files are those `platform_sdk.synth.sources` lets ship: never dotenv files,
private keys, VCS folders, virtualenvs or caches, nor what the folder's `.platformignore` lists; a symlink leaving
the source folder is refused.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from platform_sdk import providers
from platform_sdk.model import Function, HttpTrigger, ObjectCreatedTrigger, QueueMessageTrigger, ScheduleTrigger
from platform_sdk.providers.base import FunctionPackage
from platform_sdk.synth.sources import Listing, function_files

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o644
EXECUTABLE_MODE = 0o755  # Lambda and the local cloud run a file with the permission bits its zip entry carries
SKIP_NAMES = {"__pycache__", ".DS_Store", ".git", ".venv", "node_modules", ".pytest_cache"}

ENTRY_TEMPLATE = '''"""Generated entry point: adapts {target} events to the neutral handler {handler!r}."""
from platform_sdk.runtime.entry import make_entry

{symbol} = make_entry({target!r}, {handler!r})
'''


def _files_under(root: Path) -> list[tuple[str, Path]]:
    """(relative posix name, path) of every file under `root`, sorted by name, skipping caches and VCS folders: the
    SDK's own runtime files (a user's source folder goes through `function_files`)."""
    files = []
    for directory, subdirs, names in os.walk(root, followlinks=True):
        subdirs[:] = [d for d in subdirs if d not in SKIP_NAMES and not d.endswith(".pyc")]
        rel_dir = os.path.relpath(directory, root)
        for name in names:
            if name in SKIP_NAMES or name.endswith(".pyc"):
                continue
            path = Path(directory, name)
            if path.is_file():
                files.append((name if rel_dir == "." else f"{rel_dir}/{name}".replace(os.sep, "/"), path))
    return sorted(files)


_READ_CACHE: dict[Path, tuple[tuple[int, int], bytes]] = {}


def _read(path: Path) -> bytes:
    """A file's bytes, reused while its modification time and size are unchanged (every function of an estate
    ships the same runtime files, and functions often share a source folder)."""
    stat = path.stat()
    key = (stat.st_mtime_ns, stat.st_size)
    cached = _READ_CACHE.get(path)
    if cached is not None and cached[0] == key:
        return cached[1]
    data = path.read_bytes()
    _READ_CACHE[path] = (key, data)
    return data


STUB_INIT = b'"""Runtime-only copy of platform_sdk shipped inside a function."""\n'


def executables(fn: Function, listing: Listing | None = None) -> frozenset[str]:
    """Names (as in the package) of the function's own files that are executable on disk (any `x` bit): a
    `bin/convert` the handler runs must stay executable in the zip, or Lambda refuses to run it. `listing`: the
    function's files if already listed (`function_files`)."""
    files = (listing if listing is not None else function_files(fn)).files
    return frozenset(name for name, path in files if path.stat().st_mode & 0o111)


_RUNTIME_CACHE: dict[tuple[str, ...], dict[str, bytes]] = {}


def runtime_entries(plugins: Iterable[str]) -> dict[str, bytes]:
    """The shipped runtime, name -> bytes: `platform_sdk.runtime`, `platform_sdk.contract`, each named plug-in's
    runtime subpackage, and a stub `__init__.py` for every package above them (nothing else of the SDK).

    Read once per process for each set of plug-ins: it is the installed SDK, the same for every function.
    """
    key = tuple(sorted(set(plugins)))
    if key not in _RUNTIME_CACHE:
        _RUNTIME_CACHE[key] = _runtime_entries(key)
    return dict(_RUNTIME_CACHE[key])


def _runtime_package(plugin: str) -> str:
    """The dotted name of a plug-in's runtime package, as `platform_sdk.runtime.plugins.module_name` gives it, without
    importing `platform_sdk.runtime` (its `__init__` imports the whole runtime API: ~0.013 s a synthesis need not pay).
    A runtime package outside the convention is registered through that module, so the module is loaded when one is.
    """
    loaded = sys.modules.get("platform_sdk.runtime.plugins")
    if loaded is not None:
        return str(loaded.module_name(plugin))
    return f"platform_sdk.providers.{plugin}.runtime"


def _runtime_entries(plugins: Iterable[str]) -> dict[str, bytes]:
    entries: dict[str, bytes] = {}
    for dotted in ["platform_sdk.runtime", *(_runtime_package(name) for name in sorted(set(plugins)))]:
        spec = importlib.util.find_spec(dotted)
        if spec is None or spec.origin is None:
            raise ValueError(f"no runtime package {dotted} to ship")
        prefix = dotted.replace(".", "/")
        for name, path in _files_under(Path(spec.origin).parent):
            if name.endswith(".py"):
                entries[f"{prefix}/{name}"] = _read(path)
        parts = dotted.split(".")
        for depth in range(1, len(parts)):
            entries.setdefault("/".join(parts[:depth]) + "/__init__.py", STUB_INIT)
    contract_spec = importlib.util.find_spec("platform_sdk.contract")
    assert contract_spec is not None and contract_spec.origin is not None
    entries["platform_sdk/contract.py"] = _read(Path(contract_spec.origin))
    return entries


def trigger_summary(fn: Function) -> list[dict[str, Any]]:
    """Triggers in neutral form, shipped with the package so the entry adapter knows what to expect (a JWT trigger's
    issuer, audience and keys URL: the adapter verifies tokens with them)."""
    summary: list[dict[str, Any]] = []
    for trigger in fn.triggers:
        if isinstance(trigger, HttpTrigger):
            entry: dict[str, Any] = {"type": "http", "public": str(trigger.public).lower()}
            if trigger.jwt is not None:
                entry["auth"] = trigger.jwt.to_json()
            elif trigger.iam:
                entry["auth"] = "iam"
            summary.append(entry)
        elif isinstance(trigger, QueueMessageTrigger):
            summary.append({"type": "queue", "queue": trigger.queue.name, "batch_size": trigger.batch_size})
        elif isinstance(trigger, ScheduleTrigger):
            summary.append({"type": "schedule", "cron": trigger.cron})
        elif isinstance(trigger, ObjectCreatedTrigger):
            summary.append({"type": "object_created", "bucket": trigger.bucket.name, "prefix": trigger.prefix,
                            "suffix": trigger.suffix})
    return summary


def package_entries(fn: Function, target: str, extra: dict[str, bytes] | None = None,
                    runtimes: Iterable[str] = (), listing: Listing | None = None) -> dict[str, bytes]:
    """Every file of the package, name -> bytes: user code (`function_files`, or `listing` if already listed),
    runtime, entry module, metadata.

    When the target's plug-in ships the runtime, the package carries the plug-in runtimes of `target` and of
    `runtimes` (the clouds of resources granted to the function on other clouds).
    """
    entries: dict[str, bytes] = {}
    for name, path in (listing if listing is not None else function_files(fn, announce=True)).files:
        entries[name] = _read(path)
    packaging = providers.plugin(target).packaging
    if packaging.ships_runtime:
        entries.update(runtime_entries([target, *runtimes]))
    entry_module, symbol = packaging.entry_module, packaging.entry_symbol
    if f"{entry_module}.py" in entries:
        raise fn.error(f"{entry_module}.py is reserved for the generated {target} entry point; rename your module",
                       "source", str(fn.source_dir / f"{entry_module}.py"))
    entries[f"{entry_module}.py"] = ENTRY_TEMPLATE.format(
        target=target, handler=fn.handler, symbol=symbol
    ).encode()
    meta = {"function": fn.name, "service": fn.service.name if fn.service else None, "handler": fn.handler,
            "runtime": fn.runtime, "triggers": trigger_summary(fn)}
    entries["_platform_function.json"] = (json.dumps(meta, sort_keys=True, indent=1) + "\n").encode()
    entries.update(extra or {})
    return entries


def write_zip(entries: dict[str, bytes], path: Path, executable: Iterable[str] = ()) -> str:
    """Write entries in sorted order with fixed timestamps and modes; return the sha256 of the zip.

    Modes: 0755 for the names in `executable`, 0644 for every other entry (Unix permission bits in the upper
    16 bits of `external_attr`, the way Info-ZIP records them). The same entries and names give the same bytes.
    """
    run = frozenset(executable)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = (EXECUTABLE_MODE if name in run else FILE_MODE) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            archive.writestr(info, entries[name])
    tmp.replace(path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


@functools.lru_cache(maxsize=512)
def _entry_sha256(data: bytes) -> bytes:
    """The sha256 of one entry, remembered by content: every package of an estate ships the same runtime files
    (`runtime_entries`), ~0.2 MB hashed once instead of once per function (~0.01 s for 70 functions). Looking an entry
    up hashes it with Python's cheaper hash, once per bytes object (the runtime's are the same objects every time).
    Bounded (512 entries), so a large vendored dependency is not kept alive for long."""
    return hashlib.sha256(data).digest()


def _inputs_digest(entries: dict[str, bytes], executable: frozenset[str] = frozenset()) -> str:
    digest = hashlib.sha256()
    for name in sorted(entries):
        digest.update(name.encode() + b"\0" + _entry_sha256(entries[name]))
        if name in executable:
            digest.update(b"\0x")
    return digest.hexdigest()


def write_zip_cached(entries: dict[str, bytes], path: Path, executable: Iterable[str] = ()) -> str:
    """Reuse an identical earlier zip: compressing vendored dependencies is the slow part of synthesis."""
    run = frozenset(executable)
    stamp = path.with_suffix(".inputs")
    inputs = _inputs_digest(entries, run)
    if path.exists() and stamp.exists():
        recorded_inputs, _, recorded_zip = stamp.read_text().partition(" ")
        if recorded_inputs == inputs:
            actual = hashlib.sha256(path.read_bytes()).hexdigest()
            if actual == recorded_zip.strip():
                return actual
    stamp.unlink(missing_ok=True)
    digest = write_zip(entries, path, run)
    stamp.write_text(f"{inputs} {digest}\n")
    return digest


def build_package(fn: Function, target: str, build_dir: Path, extra: dict[str, bytes] | None = None,
                  runtimes: Iterable[str] = ()) -> FunctionPackage:
    """Build the function's zip for one target cloud into `build_dir` (`runtimes`: see package_entries)."""
    listing = function_files(fn, announce=True)  # listed once for both
    entries = package_entries(fn, target, extra, runtimes, listing)
    service = fn.service.name if fn.service else "service"
    path = build_dir / f"{service}-{fn.name}-{target}.zip"
    digest = write_zip_cached(entries, path, executables(fn, listing) & entries.keys())
    sizes = sorted(((name, len(data)) for name, data in entries.items()), key=lambda item: (-item[1], item[0]))
    packaging = providers.plugin(target).packaging
    entry_module, symbol = packaging.entry_module, packaging.entry_symbol
    return FunctionPackage(
        function=fn, target=target, path=path, sha256=digest, zipped_bytes=path.stat().st_size,
        unzipped_bytes=sum(size for _, size in sizes), entry_point=f"{entry_module}.{symbol}", largest=sizes[:5],
    )
