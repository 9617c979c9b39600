"""`localcloud_function`: a function as extracted code plus a registry entry the local runtime reads.

Layout: `<root>/functions/<name>/code/` (the unpacked package, replaced wholesale on every deploy)
and `<root>/functions/<name>/function.json` (every attribute, `code_hash`, `updated_at`, and the deployed tree's
`code_digest` and `code_signature`, which `read` compares to report code edited in place as drift).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from tf.types import Unknown
from tf.utils import Diagnostics

from platform_sdk.localcloud.base import (
    NUMBER,
    STRING,
    STRING_MAP,
    LocalResource,
    State,
    as_int,
    check_positive,
    computed,
    optional,
    read_json,
    required,
    write_json,
)

HANDLER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
RUNTIME_RE = re.compile(r"^python3\.\d+$")
SHA256_RE = re.compile(r"^[0-9a-fA-F]{64}$")
REGISTRY_FILE = "function.json"
MODIFIED = "0" * 64
"""`package_hash` (and `code_hash`) as `read` reports a function whose deployed code was edited in place: no
package's hash, so the plan updates it with the package of the configuration (and `platform drift` names it)."""
CODE_DIR = "code"

# Arguments mirrored in function.json and read back on refresh (hand edits show up as drift).
ARGUMENTS = ("handler", "runtime", "package", "package_hash", "memory", "timeout", "environment", "triggers")


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, streamed (packages can be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _safe_extract(package: Path, dest: Path) -> None:
    """Extract a zip, refusing entries that would land outside `dest` (zip-slip).

    Entries whose Unix mode has an execute bit stay executable, as on Lambda (`zipfile` drops modes), and every file
    gets its entry's modification time, as `unzip` gives it (`zipfile` leaves the time of extraction): a time in the
    past, so any later write to the file moves it (`code_signature`)."""
    with zipfile.ZipFile(package) as zf:
        for info in zf.infolist():
            name = PurePosixPath(info.filename.replace("\\", "/"))
            if name.is_absolute() or ".." in name.parts or (name.parts and ":" in name.parts[0]):
                raise ValueError(f"package entry {info.filename!r} would land outside the code directory")
        zf.extractall(dest)
        for info in zf.infolist():
            if info.is_dir():
                continue
            target = dest / info.filename
            if (info.external_attr >> 16) & 0o111:
                target.chmod(target.stat().st_mode | 0o111)
            with contextlib.suppress(OverflowError, ValueError):  # a time the platform cannot represent: left
                written = time.mktime((*info.date_time, 0, 0, -1))
                os.utime(target, (written, written))


def _code_files(code: Path) -> list[tuple[str, os.DirEntry[str]]]:
    """The deployed code's regular files and symbolic links (relative POSIX path, directory entry), sorted as paths;
    `__pycache__` (written by the runtime as it imports the code) left out. A package unpacks regular files only, so
    a link is something added since (an importable module: code changed); it is listed, never followed. `os.scandir`:
    the file types come with the listing, no call per file (`Path.rglob` with `is_file` made three)."""
    found: list[tuple[str, os.DirEntry[str]]] = []
    folders = [("", str(code))]
    while folders:
        prefix, folder = folders.pop()
        with os.scandir(folder) as listing:
            for entry in listing:
                if entry.name == "__pycache__":
                    continue
                if entry.is_dir(follow_symlinks=False):
                    folders.append((f"{prefix}{entry.name}/", entry.path))
                elif entry.is_file(follow_symlinks=False) or entry.is_symlink():
                    found.append((prefix + entry.name, entry))
    return sorted(found, key=lambda item: item[0].split("/"))  # by path components, as paths compare


def code_digest(code: Path) -> str:
    """sha256 over the deployed code tree: each file's path (relative, sorted), Unix execute bit and content. What
    `read` compares with the digest recorded at deploy, as a cloud's refresh compares the deployed code's hash
    (Lambda's `source_code_hash`): code edited in place on the local cloud is drift, and the next apply deploys the
    package again."""
    digest = hashlib.sha256()
    for relative, entry in _code_files(code):
        if entry.is_symlink():  # its target, not what it points at (which may be anywhere)
            digest.update(relative.encode() + b"\0l\0" + os.fsencode(os.readlink(entry.path)) + b"\0")
            continue
        digest.update(relative.encode() + b"\0" + (b"x" if os.access(entry.path, os.X_OK) else b"-") + b"\0")
        digest.update(hashlib.sha256(Path(entry.path).read_bytes()).digest())
    return digest.hexdigest()


def code_signature(code: Path) -> str:
    """sha256 over what `stat` says of each file of the deployed code tree (`_code_files`): its path, size, mode,
    modification and status-change times (ns), no file read. Recorded at deploy next to `code_digest`: while it is
    the same, no file was written, replaced, added, removed or chmod-ed since (a write moves the modification time
    off the package entry's, in the past, and the status-change time, which no program sets back), so `read` need
    not hash the files; when it differs (an edit, or only a copy of the tree or a `touch`), the digest decides."""
    digest = hashlib.sha256()
    for relative, entry in _code_files(code):
        st = entry.stat(follow_symlinks=False)
        digest.update(f"{relative}\0{st.st_size}\0{st.st_mode:o}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\n".encode())
    return digest.hexdigest()


def code_changed(fn_dir: Path, entry: dict[str, object]) -> bool:
    """Whether the code deployed at `fn_dir` (`<root>/functions/<name>`) is no longer the tree its registry entry
    `entry` (function.json) recorded at deploy: the cheap `code_signature` first, the files' `code_digest` only
    when it differs or was not recorded (an entry written before signatures). An entry with no digest (written
    before digests) cannot tell: False."""
    recorded = entry.get("code_digest")
    if not isinstance(recorded, str):
        return False
    code = fn_dir / CODE_DIR
    signature = entry.get("code_signature")
    if isinstance(signature, str) and code_signature(code) == signature:
        return False
    return code_digest(code) != recorded


def _replace_code(fn_dir: Path, package: Path) -> Path:
    """Unpack into a staging dir, then swap it in, so the runtime never sees a half-extracted tree."""
    fn_dir.mkdir(parents=True, exist_ok=True)
    code = fn_dir / CODE_DIR
    staging = Path(tempfile.mkdtemp(prefix=".code-new-", dir=fn_dir))
    try:
        _safe_extract(package, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    old = None
    if code.exists():
        old = Path(tempfile.mkdtemp(prefix=".code-old-", dir=fn_dir))
        code.rename(old / CODE_DIR)
    staging.rename(code)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return code


class Function(LocalResource):
    """A Python function deployed by unpacking its zip; package_hash changes update it in place."""

    type_suffix = "function"
    attributes = [
        computed("id", STRING, "Same as name."),
        required("name", STRING, "Function name.", replace=True),
        required("handler", STRING, 'Entry point, "module.func".'),
        required("runtime", STRING, 'Python runtime, e.g. "python3.11".'),
        required("package", STRING, "Path to the zip package (relative to Terraform's working dir)."),
        required("package_hash", STRING, "sha256 hex of the package; a change redeploys the code."),
        optional("memory", NUMBER, "Memory in MB.", default=128),
        optional("timeout", NUMBER, "Timeout in seconds.", default=30),
        optional("environment", STRING_MAP, "Environment variables."),
        optional("triggers", STRING, "JSON text describing triggers; stored as-is for the runtime."),
        computed("code_hash", STRING, "sha256 of the deployed package (checked against package_hash)."),
        computed("path", STRING, "Absolute directory of the function.", replace=True),
        computed("url", STRING, "Invoke URL through the local gateway."),
    ]

    def validate(self, diags: Diagnostics, config: State) -> None:
        super().validate(diags, config)
        handler = config.get("handler")
        if isinstance(handler, str) and not HANDLER_RE.match(handler):
            diags.add_error(f'handler must look like "module.func", got {handler!r}', path=["handler"])
        runtime = config.get("runtime")
        if isinstance(runtime, str) and not RUNTIME_RE.match(runtime):
            diags.add_error(
                f"The local cloud runs Python functions only; runtime {runtime!r} is not python3.N",
                path=["runtime"],
            )
        package_hash = config.get("package_hash")
        if isinstance(package_hash, str) and not SHA256_RE.match(package_hash):
            diags.add_error("package_hash must be 64 hex characters (sha256)", path=["package_hash"])
        triggers = config.get("triggers")
        if isinstance(triggers, str):
            try:
                json.loads(triggers)
            except ValueError as exc:
                diags.add_error(f"triggers must be JSON text: {exc}", path=["triggers"])
        check_positive(diags, config, "memory")
        check_positive(diags, config, "timeout", integer=False)

    def computed_values(self, state: State) -> State:
        name, root = state.get("name"), self.provider.root_or_unknown()
        package_hash = state.get("package_hash")
        values: State = {
            "id": name,
            "code_hash": package_hash.lower() if isinstance(package_hash, str) else Unknown,
            "path": Unknown,
            "url": Unknown if name is Unknown else self.provider.gateway_url(f"/fn/{name}"),
        }
        if name is not Unknown and root is not Unknown:
            values["path"] = str(root / "functions" / name)
        return values

    def _deploy(self, diags: Diagnostics, planned: State) -> State | None:
        state = self.finish(planned)
        package = Path(os.path.abspath(state["package"]))
        if not package.is_file():
            diags.add_error(f"Function package not found: {package}", path=["package"])
            return None
        actual = sha256_file(package)
        if actual != state["package_hash"].lower():
            diags.add_error(
                f"Function {state['name']}: package hash mismatch",
                f"{package} has sha256 {actual}, but package_hash is {state['package_hash']}. "
                "The package changed after synthesis; synthesize again.",
                path=["package_hash"],
            )
            return None
        fn_dir = Path(state["path"])
        code = _replace_code(fn_dir, package)
        state["code_hash"] = actual
        entry = {key: state.get(key) for key in ARGUMENTS}
        entry.update(
            name=state["name"],
            memory=as_int(state.get("memory")),
            timeout=as_int(state.get("timeout")),
            package_path=str(package),
            code_dir=str(code),
            code_hash=actual,
            code_digest=code_digest(code),
            code_signature=code_signature(code),
            url=state["url"],
            updated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        write_json(fn_dir / REGISTRY_FILE, entry)
        return state

    def create(self, diags: Diagnostics, planned: State) -> State | None:
        try:
            return self._deploy(diags, planned)
        finally:
            if diags.has_errors() or sys.exc_info()[0] is not None:
                self._remove_if_empty(planned)

    def _remove_if_empty(self, planned: State) -> None:
        """A failed first deploy must not leave an empty function directory behind."""
        path = planned.get("path")
        if isinstance(path, str):
            with contextlib.suppress(OSError):
                Path(path).rmdir()

    def update(self, diags: Diagnostics, prior: State, planned: State) -> State | None:
        return self._deploy(diags, planned)

    def read(self, diags: Diagnostics, current: State) -> State | None:
        fn_dir = Path(current.get("path") or self.computed_values(current)["path"])
        entry = read_json(fn_dir / REGISTRY_FILE)
        if not isinstance(entry, dict) or not (fn_dir / CODE_DIR).is_dir():
            return None  # gone (or half gone): Terraform plans to deploy it again
        state = dict(current)
        for key in (*ARGUMENTS, "code_hash"):
            if key in entry:
                state[key] = entry[key]
        if code_changed(fn_dir, entry):
            # edited in place since it was deployed: not the package any more (the plan deploys it again)
            state["package_hash"] = state["code_hash"] = MODIFIED
        return state

    def delete(self, diags: Diagnostics, prior: State) -> None:
        fn_dir = Path(prior["path"])
        if fn_dir.exists():
            shutil.rmtree(fn_dir)
