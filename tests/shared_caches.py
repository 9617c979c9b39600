"""Caches that every throwaway project of a test session shares: a pure speed-up, never a different result.

A cold synthesis of an AWS environment spends most of its time downloading Lambda wheels (`pip download`) and
zipping them into function packages; every test that copies the example estate used to pay both again. Here:

- **Lambda wheels**: each project's `.platform/vendor` is a symlink to one wheel cache, `$PLATFORM_VENDOR_CACHE`
  or `<repo>/.platform/vendor` (as tools/golden.py does). Its entries are keyed by the hash of what they hold and
  published by an atomic rename (platform_sdk/synth/vendoring.py), so two xdist workers filling the same entry
  at once both succeed and neither sees a half-written one.
- **Function packages**: a store under the session's base temp dir (one per `pytest` run, shared by its xdist
  workers) keeps the first package built for each `(environment, file name)`; a new project starts with hard
  links to them in `.platform/packages/<env>/`. Synthesis reuses a package only when the digest of its inputs
  and the zip's sha256 both match its stamp (synth/assets.py, `write_zip_cached`), so a package built from other
  sources is rebuilt, never used. Synthesis replaces a package (temporary file + rename) and never writes into
  one, so a hard-linked file cannot change under another project. The store is filled after each test from the
  projects that test used (`harvest`), each entry published by an atomic rename.

`share_caches(root)` prepares one project; `tests/conftest.py` calls it for every estate copy and for every
other project a test builds in process (through `Project.cache_dir`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENDOR_CACHE = Path(os.environ.get("PLATFORM_VENDOR_CACHE", REPO / ".platform" / "vendor"))


class SharedCaches:
    """The session's package store and the projects whose packages go into it."""

    def __init__(self, store: Path, vendor: Path = VENDOR_CACHE) -> None:
        self.store = store
        self.vendor = vendor
        self.projects: set[Path] = set()

    def share(self, root: Path) -> None:
        """Link `root/.platform/vendor` to the shared wheel cache and seed `root/.platform/packages` from the store.

        Only a project outside the repository with a `services/` folder, once; a vendor cache or packages folder
        the project already has is left as it is.
        """
        root = Path(root).resolve()
        if root in self.projects or root.is_relative_to(REPO) or not (root / "services").is_dir():
            return
        self.projects.add(root)
        cache = root / ".platform"
        vendor = cache / "vendor"
        if not (vendor.exists() or vendor.is_symlink()):
            self.vendor.mkdir(parents=True, exist_ok=True)
            cache.mkdir(exist_ok=True)
            vendor.symlink_to(self.vendor, target_is_directory=True)
        if (cache / "packages").exists() or not self.store.is_dir():
            return
        for entry in self.store.glob("*/*"):  # <env>/<package file name>/{zip, stamp}
            if entry.name.startswith("."):  # another worker's `.harvest-*` work dir, about to be renamed or removed
                continue
            target = cache / "packages" / entry.parent.name
            target.mkdir(parents=True, exist_ok=True)
            for path in entry.iterdir():  # published entries are never changed or removed
                with contextlib.suppress(FileExistsError):
                    os.link(path, target / path.name)

    def harvest(self) -> None:
        """Put every consistent package of the known projects that the store lacks into the store."""
        for root in list(self.projects):
            packages = root / ".platform" / "packages"
            if not root.is_dir():
                self.projects.discard(root)
                continue
            for stamp in packages.glob("*/*.inputs"):
                zip_path = stamp.with_suffix(".zip")
                slot = self.store / stamp.parent.name / zip_path.name
                if slot.exists() or not zip_path.is_file():
                    continue
                self._publish(zip_path, stamp, slot)

    def _publish(self, zip_path: Path, stamp: Path, slot: Path) -> None:
        try:
            recorded = stamp.read_text().split()
            data = zip_path.read_bytes()
        except FileNotFoundError:  # rebuilt meanwhile
            return
        if len(recorded) != 2 or hashlib.sha256(data).hexdigest() != recorded[1]:
            return  # not a finished package: leave it out
        slot.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".harvest-", dir=slot.parent))
        try:
            (work / zip_path.name).write_bytes(data)
            (work / stamp.name).write_text(" ".join(recorded) + "\n")
            with contextlib.suppress(OSError):  # another worker published it first: theirs is as good
                work.rename(slot)
        finally:
            shutil.rmtree(work, ignore_errors=True)


ACTIVE: SharedCaches | None = None
"""The session's caches while a pytest session runs (set by tests/conftest.py), else None."""


def share_caches(root: Path) -> Path:
    """Prepare a project the test made (see SharedCaches.share); nothing outside a pytest session. Returns root."""
    if ACTIVE is not None:
        ACTIVE.share(root)
    return root
