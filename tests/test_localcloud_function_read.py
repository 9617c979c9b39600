"""The local cloud's function refresh: code edited in place is drift, found cheaply. `read` compares a signature of the
deployed files from `stat` (recorded at deploy) and hashes them only when it differs; through a real Terraform and the
real provider: an edit keeping the file's size, and one setting its time back, are still drift; an untouched
function, a touched one (same bytes) and one deployed before signatures (no signature in its registry entry) are
not."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from platform_sdk.localcloud import mirror
from platform_sdk.localcloud.function import REGISTRY_FILE, code_changed, code_signature
from tests.test_localcloud_provider import Workspace, make_package, shared_cache, terraform_bin

__all__ = ["shared_cache", "terraform_bin"]

pytestmark = pytest.mark.e2e

BODY = "def handler(event, context):\n    return {'ok': 1}\n"


def _functions(root: Path, names: list[str], package_hash: str) -> dict[str, Any]:
    return {
        "terraform": {"required_providers": {"localcloud": {"source": mirror.PROVIDER_SOURCE,
                                                            "version": mirror.PROVIDER_VERSION}}},
        "provider": {"localcloud": {"root": str(root), "gateway_port": 8799, "databases": "sqlite"}},
        "resource": {"localcloud_function": {name: {"name": name, "handler": "main.handler", "runtime": "python3.11",
                                                    "package": "fn.zip", "package_hash": package_hash}
                                             for name in names}},
    }


@pytest.fixture
def deployed(terraform_bin: Path, shared_cache: Path, tmp_path: Path) -> tuple[Workspace, Path]:
    """Two functions applied (`a`, `b`); the workspace and the local cloud's root."""
    ws = Workspace(terraform_bin, tmp_path / "stack", shared_cache)
    root = tmp_path / "cloud"
    ws.write(_functions(root, ["a", "b"], make_package(ws.dir / "fn.zip", BODY)))
    ws.init()
    ws.apply()
    assert _changed(ws) == {}
    return ws, root


def _changed(ws: Workspace) -> dict[str, list[str]]:
    return {address: actions for address, actions in ws.plan_actions().items() if actions != ["no-op"]}


def test_an_edit_keeping_the_size_is_drift_and_the_other_function_is_not(deployed: tuple[Workspace, Path]) -> None:
    ws, root = deployed
    main = root / "functions" / "a" / "code" / "main.py"
    main.write_text(BODY.replace("1", "2"))  # same size
    assert main.stat().st_size == len(BODY)
    assert _changed(ws) == {"localcloud_function.a": ["update"]}
    ws.apply()
    assert main.read_text() == BODY and _changed(ws) == {}


def test_an_edit_setting_the_time_back_is_drift(deployed: tuple[Workspace, Path]) -> None:
    """`cp -p`, `touch -r`, an editor keeping times: the modification time is the deployed one again, but the status
    change time (which no program sets back) moved."""
    ws, root = deployed
    main = root / "functions" / "b" / "code" / "main.py"
    before = main.stat()
    main.write_text(BODY.replace("1", "3"))
    os.utime(main, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert main.stat().st_mtime_ns == before.st_mtime_ns and main.stat().st_size == before.st_size
    assert _changed(ws) == {"localcloud_function.b": ["update"]}


def test_a_symbolic_link_added_to_the_code_is_drift(deployed: tuple[Workspace, Path], tmp_path: Path) -> None:
    """A package unpacks regular files only; a link added since is a new importable module (its target anywhere):
    drift, as the same file added as a regular file is. The apply deploys the package again, without it."""
    ws, root = deployed
    outside = tmp_path / "helper.py"
    outside.write_text("x = 1\n")
    link = root / "functions" / "a" / "code" / "helper.py"
    link.symlink_to(outside)
    assert _changed(ws) == {"localcloud_function.a": ["update"]}
    ws.apply()
    assert not link.exists() and not link.is_symlink() and _changed(ws) == {}
    assert outside.read_text() == "x = 1\n"  # never followed, never touched


def test_touched_or_copied_code_with_the_same_bytes_is_not_drift(deployed: tuple[Workspace, Path]) -> None:
    ws, root = deployed
    main = root / "functions" / "a" / "code" / "main.py"
    main.touch()  # the signature differs: the files are hashed, and they are the package's
    extra = root / "functions" / "b" / "code" / "__pycache__"
    extra.mkdir()
    (extra / "main.cpython-311.pyc").write_bytes(b"\0")  # the runtime's, not an edit
    assert _changed(ws) == {}


def test_a_registry_entry_without_a_signature_plans_no_changes_and_still_finds_an_edit(
        deployed: tuple[Workspace, Path]) -> None:
    """A function deployed before signatures (its function.json has only the digest): read hashes, as before."""
    ws, root = deployed
    for name in ("a", "b"):
        path = root / "functions" / name / REGISTRY_FILE
        entry = json.loads(path.read_text())
        del entry["code_signature"]
        path.write_text(json.dumps(entry))
    assert _changed(ws) == {}
    (root / "functions" / "b" / "code" / "main.py").write_text(BODY.replace("1", "4"))
    assert _changed(ws) == {"localcloud_function.b": ["update"]}


def test_an_unchanged_signature_reads_no_file(deployed: tuple[Workspace, Path]) -> None:
    """The point of the signature: while it holds, the digest is not computed (a wrong one is not even noticed);
    once a file changes, it is."""
    _, root = deployed
    fn_dir = root / "functions" / "a"
    entry = json.loads((fn_dir / REGISTRY_FILE).read_text())
    assert entry["code_signature"] == code_signature(fn_dir / "code")
    assert not code_changed(fn_dir, {**entry, "code_digest": "0" * 64})
    assert not code_changed(fn_dir, entry)
    (fn_dir / "code" / "new.py").write_text("")  # a file added
    assert code_changed(fn_dir, entry)


def test_the_digest_is_the_one_recorded_before(tmp_path: Path) -> None:
    """Entries written before keep their `code_digest`: files in the order paths compare (`pkg/` before `pkg-x/`,
    though '-' sorts before '/'), `__pycache__` left out, the execute bit in. (A deployed tree holds no symbolic
    link, a package unpacks none: one added later changes the digest.)"""
    import hashlib

    from platform_sdk.localcloud.function import code_digest

    files = {"pkg/__init__.py": b"", "pkg-x/c.py": b"c", "pkg.py": b"m", "run.sh": b"#!"}
    for name, body in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(body)
    (tmp_path / "run.sh").chmod(0o755)
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "pkg.cpython-311.pyc").write_bytes(b"\0")
    expected = hashlib.sha256()
    for name in ("pkg/__init__.py", "pkg-x/c.py", "pkg.py", "run.sh"):
        expected.update(name.encode() + b"\0" + (b"x" if name == "run.sh" else b"-") + b"\0")
        expected.update(hashlib.sha256(files[name]).digest())
    assert code_digest(tmp_path) == expected.hexdigest()
    (tmp_path / "link.py").symlink_to(tmp_path / "pkg.py")
    assert code_digest(tmp_path) != expected.hexdigest()
