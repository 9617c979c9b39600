"""Third-party dependencies of a function as package entries, the way its cloud plug-in asks for them.

Two sources: the function's own `requirements.txt`, and what the platform runtime itself imports lazily
for the resources the function was granted (each plug-in's `runtime_requirements`, and for a resource on
another cloud that cloud's `client_requirements`). A requirement the user's file already names is not added
again: the user's pin wins.

Strategies (`Packaging.vendoring` of the function's plug-in):
- "wheels": the cloud installs nothing, so binary wheels are downloaded for the platform tags the plug-in
  names (`CloudPlugin.wheel_platforms`: Linux, CPython of the function's runtime version, its glibc
  ceiling) and unpacked into the package root.
- "requirements": the cloud installs requirements.txt itself; the only entry returned is a
  `requirements.txt` with the runtime's requirements appended (it replaces the user's copy in the package).
- "none": nothing (functions that run in the project's own Python environment: the local cloud). The cloud
  installs nothing either, so a requirement whose project that environment does not have is announced at its line
  of requirements.txt (a PlatformWarning: importing it fails there). Versions are not resolved: the function runs
  with the versions installed, and a requirements.txt no index can resolve is found by a cloud stage's synthesis,
  or by a local environment that rehearses that stage (synth/rehearsal.py).

Wheel downloads are cached under `cache_dir/<key>/` where key hashes requirements.txt plus the added
runtime requirements, the Python version, the platform tags and the format version, so synthesis after
the first run is fast, works offline and gives byte-identical packages. Only requirements.txt itself is
hashed: files it includes with `-r`/`-c` are not part of the key (pin versions in requirements.txt).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from platform_sdk import providers
from platform_sdk.errors import PlatformError, warn

if TYPE_CHECKING:
    from platform_sdk.model import Function

FORMAT_VERSION = "1"
ENTRIES_FILE = "entries.zip"
META_FILE = "vendor.json"
SKIPPED_DATA_DIRS = ("scripts", "headers", "data")


class VendoringError(PlatformError):
    """Dependencies of a function could not be downloaded or unpacked."""


def python_version(python: str) -> str:
    """"python3.11" / "3.11" / "py3.11" -> "3.11"."""
    match = re.fullmatch(r"(?:python|py)?(3\.\d+)", python.strip())
    if not match:
        raise VendoringError("runtime must look like python3.11", key="runtime", value=python)
    return match.group(1)


def cache_key(requirements: bytes, version: str, platforms: list[str]) -> str:
    payload = json.dumps({"format": FORMAT_VERSION, "python": version, "platforms": platforms,
                          "requirements": hashlib.sha256(requirements).hexdigest()}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def _pip_download(request: Path, version: str, platforms: list[str], dest: Path, arch: str, shown: Path,
                  added: list[str], where: str = "the target runtime") -> None:
    command = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-input",
               "--quiet", "--only-binary=:all:", "--implementation", "cp", "--python-version", version,
               "-r", str(request), "-d", str(dest)]
    for tag in platforms:
        command += ["--platform", tag]
    env = dict(os.environ, PIP_NO_INPUT="1")
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=shown.parent if shown.parent.is_dir()
                            else request.parent)
    if result.returncode != 0:
        lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("ERROR")]  # warnings about indexes are noise here
        tail = "\n    ".join((errors or lines)[-12:])
        extra = f" plus the platform runtime's {', '.join(added)}" if added else ""
        failing = _failing_line(shown, "\n".join(lines))
        raise VendoringError(
            f"could not download the dependencies{extra} for {where} python{version} "
            f"({arch} Linux binary wheels, glibc <= 2.{platforms[0].split('_')[2] if platforms else '?'}): "
            f"pip said:\n    {tail}",
            file=shown, line=failing,
            hint=f"every requirement needs a Linux binary wheel for CPython {version} (sdists are not built): check "
            "the name and version, pin a version that publishes such a wheel, or use a pure-Python alternative",
        )


def _failing_line(requirements: Path, output: str) -> int | None:
    """The line of `requirements` naming the project pip could not resolve (its "No matching distribution found
    for X" / "satisfies the requirement X"), or None (a requirement the platform added, an included file)."""
    match = re.search(r"(?:No matching distribution found for|satisfies the requirement) (\S+)", output)
    if match is None or not requirements.is_file():
        return None
    project = _project(match.group(1))
    for number, text in enumerate(requirements.read_text().splitlines(), 1):
        if not text.lstrip().startswith(("#", "-")) and _project(text) == project:
            return number
    return None


def _wheel_entries(wheel: Path) -> dict[str, bytes]:
    """A wheel's installed files, name -> bytes: `.data/purelib|platlib` flattened, scripts/headers dropped."""
    entries: dict[str, bytes] = {}
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            name = info.filename
            top, _, rest = name.partition("/")
            if top.endswith(".data"):
                kind, _, inner = rest.partition("/")
                if kind in SKIPPED_DATA_DIRS or not inner:
                    continue
                name = inner  # purelib / platlib install into site-packages, i.e. the package root
            if "__pycache__" in name.split("/") or name.endswith(".pyc"):
                continue
            entries[name] = archive.read(info)
    return entries


def _unpack(wheels_dir: Path, requirements: Path) -> dict[str, bytes]:
    entries: dict[str, bytes] = {}
    owner: dict[str, str] = {}
    for wheel in sorted(wheels_dir.glob("*.whl")):
        for name, data in _wheel_entries(wheel).items():
            if name in entries and entries[name] != data:
                raise VendoringError(f"wheels {owner[name]} and {wheel.name} both install {name} with different "
                                     "contents", file=requirements)
            entries[name] = data
            owner[name] = wheel.name
    return entries


def _read_cached(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write_cached(entries: dict[str, bytes], path: Path) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(entries):
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), entries[name])


def _check_collisions(entries: dict[str, bytes], source_dir: Path, requirements: Path) -> None:
    """Dependencies must not shadow the user's code or the shipped runtime (`extra` entries win in a package)."""
    for name in entries:
        if name.startswith("platform_sdk/"):
            raise VendoringError(f"a dependency installs {name}, which would replace the platform runtime",
                                 file=requirements)
        if (source_dir / name).is_file():
            raise VendoringError(f"a dependency installs {name}, which is also a file of the function's code",
                                 file=requirements, hint="rename the module in your function's directory")


def missing_requirements(requirements: Path) -> list[tuple[int, str]]:
    """(line, requirement) for each requirement of `requirements` whose project this Python's environment does not
    have installed at all. Options (`-r`, `--index-url`), comments, lines that are not requirements (pip's own
    error at a cloud stage's synthesis) and requirements whose environment marker is false here are skipped; so is
    an installed project of another version (an exact pin for a cloud's runtime, e.g. a wheel for Lambda's glibc,
    need not be the version installed locally)."""
    from packaging.requirements import InvalidRequirement, Requirement  # ~20 ms to import: only when there is a file

    missing: list[tuple[int, str]] = []
    for number, text in enumerate(requirements.read_text().splitlines(), 1):
        line = text.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        try:
            importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            missing.append((number, line))
    return missing


def runtime_requirements(target: str, kinds: set[str] | frozenset[str]) -> list[str]:
    """Requirements the platform runtime needs on `target` for a function granted these resource kinds.

    A kind `bucket@<cloud>` is a resource on another cloud: that cloud's `client_requirements` apply. A kind
    `database:<engine>` is what a database of that engine needs besides `database` (its driver).
    """
    own = providers.plugin(target).runtime_requirements
    needed: list[str] = []
    for kind in ("function", *sorted(kinds)):
        base, _, owner = kind.partition("@")
        found = providers.plugin(owner).client_requirements.get(base, ()) if owner else own.get(kind, ())
        for requirement in found:
            if requirement not in needed:
                needed.append(requirement)
    return needed


def _project(requirement: str) -> str | None:
    """The normalised project name a requirement line installs (PEP 503), None for options and comments."""
    match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else None


def _added(user_text: str, runtime: list[str]) -> list[str]:
    """Runtime requirements the user does not already name (the user's pins win)."""
    named = {_project(line) for line in user_text.splitlines() if not line.lstrip().startswith(("#", "-"))}
    return [r for r in runtime if _project(r) not in named]


def vendor_function(fn: Function, target: str, cache_dir: Path, arch: str = "x86_64",
                    foreign: dict[str, str] | None = None) -> dict[str, bytes]:
    """vendor_requirements for a model Function: its source, runtime, and the runtime deps its grants need.

    `foreign` maps the address of a granted resource on another cloud to that cloud (`bucket@aws`).
    """
    foreign = foreign or {}
    kinds: set[str] = set()
    for grant in fn.grants:
        granted = grant.target
        if granted.address in foreign:
            kinds.add(f"{granted.kind}@{foreign[granted.address]}")
            continue
        kinds.add(granted.kind)
        engine = getattr(granted, "engine", None)
        if engine:  # a database's driver depends on its engine: `database:postgres`, `database:mysql`
            kinds.add(f"{granted.kind}:{engine}")
    return vendor_requirements(fn.source_dir, target, fn.runtime, cache_dir, arch=arch,
                               runtime=runtime_requirements(target, kinds))


def vendor_requirements(source_dir: Path, target: str, python: str, cache_dir: Path, arch: str = "x86_64",
                        runtime: list[str] | tuple[str, ...] = ()) -> dict[str, bytes]:
    """Package entries (name -> bytes) for the function's requirements.txt plus `runtime` requirements.

    By the target plug-in's strategy: "wheels": the unpacked binary wheels; "requirements": a
    `requirements.txt` that appends the runtime requirements the user's file does not name (it replaces the
    user's copy in the package), {} when nothing is added; "none": {}.
    """
    found = providers.plugin(target)
    packaging = found.packaging
    source_dir = Path(source_dir).resolve()
    requirements = source_dir / "requirements.txt"
    user_text = requirements.read_text() if requirements.is_file() else ""
    added = _added(user_text, list(runtime))
    if packaging.vendoring == "requirements":
        if not added:
            return {}
        merged = user_text.rstrip("\n") + ("\n" if user_text.strip() else "")
        merged += f"# added by the platform: what its runtime needs on {packaging.runtime_name}\n"
        merged += "\n".join(added) + "\n"
        return {"requirements.txt": merged.encode()}
    if packaging.vendoring == "none" and user_text.strip():
        for line, requirement in missing_requirements(requirements):
            warn(f"{requirement} is not installed in the Python environment {found.name} functions run in "
                 f"({sys.prefix}), and the {found.name} cloud installs nothing, so importing it fails there: install "
                 f"it (pip install -r {requirements}). A cloud stage's synthesis resolves requirements.txt for that "
                 "cloud's runtime", requirements, line)
    if packaging.vendoring != "wheels" or (not user_text.strip() and not added):
        return {}
    version = python_version(python)
    platforms = found.wheel_platforms(version, arch)
    combined = f"{user_text}\n#runtime\n" + "\n".join(added)
    key = cache_key(combined.encode(), version, platforms)
    cache_dir = Path(cache_dir).resolve()  # pip runs in the function's directory: paths must be absolute
    slot = cache_dir / key
    cached = slot / ENTRIES_FILE
    if cached.is_file():
        entries = _read_cached(cached)
    else:
        cache_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=cache_dir))
        try:
            wheels = work / "wheels"
            wheels.mkdir()
            request = work / "requirements.txt"  # the user's file by reference, so its -r/-c stay relative to it
            lines = ([f"-r {requirements}"] if user_text.strip() else []) + added
            request.write_text("\n".join(lines) + "\n")
            _pip_download(request, version, platforms, wheels, arch, shown=requirements, added=added,
                          where=f"the {packaging.runtime_name} runtime")
            entries = _unpack(wheels, requirements)
            _write_cached(entries, work / ENTRIES_FILE)
            meta = {"python": version, "platforms": platforms, "wheels": sorted(p.name for p in wheels.glob("*.whl")),
                    "requirements": user_text, "runtime": added}
            (work / META_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
            shutil.rmtree(wheels)
            request.unlink()
            try:
                work.rename(slot)  # atomic publish; a concurrent synth may have won the race, which is fine
            except OSError:
                if not cached.is_file():
                    raise
        finally:
            if work.exists():
                shutil.rmtree(work, ignore_errors=True)
    _check_collisions(entries, source_dir, requirements)
    return entries


def cached_wheels(source_dir: Path, target: str, python: str, cache_dir: Path, arch: str = "x86_64",
                  runtime: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Wheel file names behind a cached "wheels" vendoring result (for reports); [] when not cached yet."""
    requirements = Path(source_dir).resolve() / "requirements.txt"
    user_text = requirements.read_text() if requirements.is_file() else ""
    combined = f"{user_text}\n#runtime\n" + "\n".join(_added(user_text, list(runtime)))
    version = python_version(python)
    key = cache_key(combined.encode(), version, providers.plugin(target).wheel_platforms(version, arch))
    meta = Path(cache_dir).resolve() / key / META_FILE
    return json.loads(meta.read_text())["wheels"] if meta.is_file() else []


__all__ = ["VendoringError", "cached_wheels", "python_version", "runtime_requirements", "vendor_function",
           "vendor_requirements"]
