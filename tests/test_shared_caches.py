"""The test session's package store (tests/shared_caches.py) seeds new projects only from published entries."""

from __future__ import annotations

from pathlib import Path

from tests.shared_caches import SharedCaches


def _project(root: Path) -> Path:
    (root / "services").mkdir(parents=True)
    return root


def test_a_project_is_seeded_from_published_entries_only(tmp_path: Path) -> None:
    store = tmp_path / "store"
    published = store / "prod" / "api.zip"
    published.mkdir(parents=True)
    (published / "api.zip").write_bytes(b"zip")
    (published / "api.inputs").write_text("digest sha\n")
    # Another xdist worker's work dir, renamed into place or removed at any moment: never a source.
    work = store / "prod" / ".harvest-abc123"
    work.mkdir()
    (work / "half.zip").write_bytes(b"half")
    caches = SharedCaches(store, vendor=tmp_path / "vendor")
    root = _project(tmp_path / "project")

    caches.share(root)

    packages = root / ".platform" / "packages" / "prod"
    assert sorted(p.name for p in packages.iterdir()) == ["api.inputs", "api.zip"]
    assert (packages / "api.zip").read_bytes() == b"zip"


def test_harvest_publishes_a_finished_package_and_leaves_no_work_dir(tmp_path: Path) -> None:
    import hashlib

    store = tmp_path / "store"
    store.mkdir()
    caches = SharedCaches(store, vendor=tmp_path / "vendor")
    root = _project(tmp_path / "project")
    caches.share(root)
    packages = root / ".platform" / "packages" / "prod"
    packages.mkdir(parents=True)
    (packages / "api.zip").write_bytes(b"zip")
    (packages / "api.inputs").write_text(f"digest {hashlib.sha256(b'zip').hexdigest()}\n")
    (packages / "torn.zip").write_bytes(b"torn")
    (packages / "torn.inputs").write_text("digest not-its-hash\n")

    caches.harvest()

    assert sorted(p.name for p in (store / "prod").iterdir()) == ["api.zip"]
    assert (store / "prod" / "api.zip" / "api.zip").read_bytes() == b"zip"
