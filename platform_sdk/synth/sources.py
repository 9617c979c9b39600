"""Which files of a user's folder leave the machine: a function's source folder (zipped into its package) and a
bucket's `content` folder (uploaded by `platform apply`).

Never shipped, whatever the folder holds (`default_excludes()`, gitignore syntax):
- secrets (`sensitive()`): dotenv files (`.env`, `.env.*`), private keys and certificates' keys (`*.pem`, `*.key`,
  `*.p12`, `*.pfx`, `id_rsa*`, `id_dsa*`, `id_ecdsa*`, `id_ed25519*`), credential files (`.netrc`, `.pypirc`,
  `.npmrc`) and folders (`.ssh/`, `.gnupg/`, and each cloud plug-in's `credential_files`, e.g. `.aws/`). Leaving
  one out is announced (the caller warns, naming them);
- version control (`.git/`, `.hg/`, `.svn/`), virtualenvs (`.venv/`, `venv/`), `node_modules/`, caches
  (`__pycache__/`, `*.pyc`, `.pytest_cache/`, `.mypy_cache/`, `.ruff_cache/`), editor and OS files (`.idea/`,
  `.vscode/`, `*.swp`, `*~`, `.DS_Store`, `Thumbs.db`) and the ignore file itself: left out silently.
The list follows common practice: the `.gcloudignore` gcloud generates (`.git`, `.gitignore`, gitignore syntax,
https://cloud.google.com/sdk/gcloud/reference/topic/gcloudignore) and Vercel's default exclusions (`.git`, `.hg`,
`.svn`, `.env.local`, `.venv`, `venv`, `__pycache__`, `node_modules`, `.DS_Store`, `*.swp`;
https://vercel.com/docs/deployments/vercel-ignore), widened to every dotenv file and private key.

Users add their own patterns in `IGNORE_FILE` (`.platformignore`) at the top of the folder, in gitignore syntax
(parsed by `pathspec`); a pattern there is read after the defaults, so `!.env.example` ships that one file.

Symlinks are followed only while they stay inside the folder: a link whose target is outside it (`/etc/hostname`,
`../secrets`) raises `LinkOutside`, naming the link and its target, before anything is written or uploaded.
A dangling link is skipped, as before, and so is a link to a folder it is itself in (no endless walk).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pathspec

from platform_sdk.errors import ModelError, warn
from platform_sdk.model import Bucket, Function, Service

IGNORE_FILE = ".platformignore"
"""The user's own exclusions, in gitignore syntax, at the top of a function's source or content folder."""

SECRET_FILES: tuple[str, ...] = (
    ".env", ".env.*", "*.pem", "*.key", "*.p12", "*.pfx", "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*",
    ".netrc", ".pypirc", ".npmrc", ".ssh/", ".gnupg/",
)
"""Patterns of files that hold secrets on any machine (with the plug-ins' `credential_files`: `sensitive`)."""

CLUTTER: tuple[str, ...] = (
    ".git/", ".hg/", ".svn/", ".venv/", "venv/", "node_modules/", "__pycache__/", "*.pyc", ".pytest_cache/",
    ".mypy_cache/", ".ruff_cache/", ".idea/", ".vscode/", "*.swp", "*~", ".DS_Store", "Thumbs.db", IGNORE_FILE,
)
"""Left out silently (gitignore syntax; a pattern without `/` matches at any depth)."""


@functools.cache
def sensitive() -> tuple[str, ...]:
    """Patterns of files that hold secrets: never shipped, and said so when one is left out (`SECRET_FILES` and
    each cloud plug-in's `credential_files`, such as a cloud CLI's credentials folder)."""
    from platform_sdk import providers

    return (*SECRET_FILES, *sorted({p for plugin in providers.plugins().values() for p in plugin.credential_files}))


def default_excludes() -> tuple[str, ...]:
    """Every pattern left out by default: `sensitive()` and `CLUTTER`."""
    return (*sensitive(), *CLUTTER)


@functools.cache
def _sensitive_spec() -> pathspec.GitIgnoreSpec:
    return pathspec.GitIgnoreSpec.from_lines(sensitive())


class LinkOutside(ValueError):
    """A symlink under the folder points outside it (`link`: its path, `target`: where it resolves)."""

    def __init__(self, root: Path, link: Path, target: Path) -> None:
        self.root, self.link, self.target = root, link, target
        super().__init__(f"symlink {link} points outside {root} (to {target}); nothing outside the folder is "
                         "shipped: copy the file into the folder, or remove the link")


@dataclass(frozen=True)
class Listing:
    """The files of a folder that ship, and the secret-looking ones left out.

    `files`: (`/`-separated name relative to the folder, path on disk) sorted by name; `left_out`: names of the
    files (and folders, with a trailing `/`) left out because they match `sensitive()`, sorted.
    """

    files: tuple[tuple[str, Path], ...]
    left_out: tuple[str, ...]


def ignore_spec(root: Path) -> pathspec.GitIgnoreSpec:
    """The defaults followed by the lines of `root/.platformignore` (if any): what `list_files` leaves out."""
    ignore = root / IGNORE_FILE
    return _compiled(tuple(ignore.read_text(encoding="utf-8").splitlines()) if ignore.is_file() else ())


@functools.lru_cache(maxsize=64)
def _compiled(user_lines: tuple[str, ...]) -> pathspec.GitIgnoreSpec:
    """Compiled once per distinct `.platformignore` (compiling the defaults costs ~2 ms; synthesis lists every
    function's folder three times)."""
    return pathspec.GitIgnoreSpec.from_lines([*default_excludes(), *user_lines])


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def list_files(root: Path) -> Listing:
    """Every file of `root` that ships (see the module's docstring), symlinks inside the folder followed.

    Raises:
        LinkOutside: a symlink resolves outside `root` (the first one found, in name order).
    """
    top = Path(root).resolve()
    spec = ignore_spec(top)
    files: list[tuple[str, Path]] = []
    left_out: list[str] = []

    def visit(directory: str, prefix: str, above: frozenset[tuple[int, int]]) -> None:
        with os.scandir(directory) as found:
            entries = sorted(found, key=lambda e: e.name)
        for entry in entries:
            name = f"{prefix}{entry.name}"
            is_dir = entry.is_dir()  # follows a link
            shown = f"{name}/" if is_dir else name
            if spec.match_file(shown):  # left out: a `.venv/bin/python` link to the system's python is fine
                if _sensitive_spec().match_file(shown):
                    left_out.append(shown)
                continue
            if entry.is_symlink():
                target = Path(entry.path).resolve()
                if not _inside(target, top):
                    raise LinkOutside(Path(root), Path(entry.path), target)
            if is_dir:
                stat = entry.stat()  # a link to a folder it is in: walked once, not forever
                if (stat.st_dev, stat.st_ino) not in above:
                    visit(entry.path, shown, above | {(stat.st_dev, stat.st_ino)})
            elif entry.is_file():  # a dangling link is neither
                files.append((name, Path(entry.path)))

    stat = os.stat(root)
    visit(str(root), "", frozenset({(stat.st_dev, stat.st_ino)}))
    return Listing(tuple(sorted(files)), tuple(sorted(left_out)))


def left_out_message(what: str, listing: Listing) -> str:
    """`left out of <what>: .env, keys/id_rsa (secrets are never shipped; see .platformignore to add more)`."""
    names = ", ".join(listing.left_out[:10]) + (f" and {len(listing.left_out) - 10} more"
                                                 if len(listing.left_out) > 10 else "")
    return (f"left out of {what}: {names} (files that hold secrets are never shipped; "
            f"list other exclusions in {IGNORE_FILE})")


def function_files(fn: Function, announce: bool = False) -> Listing:
    """The function's own files that ship (`list_files` of its source folder); `announce`: warn, naming them, when
    secrets were left out (once per declaration and command, `platform_sdk.errors.warn`).

    Raises:
        ModelError: a symlink in the source folder points outside it (naming the link and its target).
    """
    return _listed(fn, fn.source_dir, "source", f"the package of {fn.address}", announce)


def content_files(bucket: Bucket, announce: bool = False) -> Listing:
    """The files of the bucket's `content` folder that are uploaded (`list_files`); `announce`: as for
    `function_files`.

    Raises:
        ModelError: the bucket has no content folder, or a symlink in it points outside it.
    """
    if bucket.content_dir is None:
        raise bucket.error("the bucket has no content directory", "content")
    return _listed(bucket, bucket.content_dir, "content", f"the upload to {bucket.address}", announce)


def _listed(resource: Function | Bucket, folder: Path, key: str, what: str, announce: bool) -> Listing:
    """`list_files(folder)` for a resource's folder (its declaration's `key`): a link leaving it refused, naming the
    declaration; `announce`: the secrets it leaves out, as a warning at the declaration."""
    try:
        listing = list_files(folder)
    except LinkOutside as err:
        raise _refused(resource.error(str(err), key)) from None
    if announce and listing.left_out:
        warn(left_out_message(what, listing), resource.declared_in, resource.declared_line)
    return listing


def check_folders(services: Iterable[Service]) -> None:
    """Refuse, before synthesis writes anything, a symlink leaving a function's source folder or a bucket's content
    folder; announce the secrets each leaves out.

    Raises:
        ModelError: the first such link (the resource's declaration, the link and its target).
    """
    for service in services:
        for fn in service.of(Function):
            function_files(fn, announce=True)
        for bucket in service.of(Bucket):
            if bucket.content_dir is not None:
                content_files(bucket, announce=True)


def _refused(err: ModelError) -> ModelError:
    err.hint = err.hint or "nothing was written or uploaded"
    return err
