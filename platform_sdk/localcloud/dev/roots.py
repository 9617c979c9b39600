"""Which local cloud roots `platform dev` serves, found again on disk while it runs.

An environment's roots are the directories `<clouds.local.root>/<env>/<cloud label>` (`localcloud/roots.py`).
An apply or a `platform move` that places a workload on a cloud with no root yet creates that root while the
gateway runs (and a destroy, or `rm -rf`, removes one), so the gateway does not fix its roots at start: a
`RootFinder` lists the environment's directory again when asked (one `scandir`, tens of microseconds), which
the gateway does when a name is not found, when the routes are listed, and when its file watcher sees a change
directly under that directory or in the environment file.

Which clouds run on the local cloud is the environment file's to say, and it can change while the gateway runs
(`[clouds.aws] stand_in = "local"` added, then an apply or a move places a service there): `finder_for_env`
follows the file (`FollowedEnvironment`), reading it again whenever it changed.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platform_sdk.errors import PlatformError
from platform_sdk.localcloud.registry import CloudRoot

log = logging.getLogger("platform.dev")

Stamp = tuple[int, int, int, int]
"""What says a file changed: (mtime ns, ctime ns, size, inode)."""


@dataclass(frozen=True)
class RootFinder:
    """The roots of one environment: every directory of `parent` whose name is a cloud label `is_local` accepts
    (a cloud the environment runs on the local cloud); names starting with a dot are never roots. `source` is
    the environment file `is_local` follows, if any: the gateway's watcher watches it too."""

    parent: Path
    is_local: Callable[[str], bool]
    source: Path | None = None

    def find(self) -> list[CloudRoot]:
        """The roots on disk now, ordered by label (the registry's lookup order); [] if `parent` is missing."""
        try:
            with os.scandir(self.parent) as entries:
                names = sorted(e.name for e in entries if e.is_dir() and self.accepts(e.name))
        except (FileNotFoundError, NotADirectoryError):
            return []
        return [CloudRoot(name, self.parent / name) for name in names]

    def accepts(self, label: str) -> bool:
        return not label.startswith(".") and self.is_local(label)

    def owns(self, path: Path) -> bool:
        """`path` is a root of this finder or lies in one (whether or not that root exists yet)."""
        try:
            rel = path.relative_to(self.parent)
        except ValueError:
            return False
        return bool(rel.parts) and self.accepts(rel.parts[0])


def _stamp(path: Path) -> Stamp | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino


class FollowedEnvironment:
    """An environment as its file says now: `load(file)` again when the file changed since the last look (one
    `stat`, a few microseconds, per look; a changed file costs one parse, a few milliseconds).

    A file that does not load (an editor half-way through a save, a typo, the file removed) keeps the last version
    that did, with one warning naming the problem; the next change is read again. What a running gateway cannot
    follow is logged as needing a restart: `clouds.local.root` moved to another directory than `parent`, the one
    it watches.
    """

    def __init__(self, env: Any, load: Callable[[Path], Any], project_root: Path, parent: Path) -> None:
        """`env`: the `platform_sdk.envs.Environment` the gateway started with (its `file` is followed); `load`:
        reads a file into one (`platform_sdk.envs.load_environment`), raising PlatformError or OSError."""
        self.path = Path(env.file).resolve()
        self.load = load
        self.project_root = project_root
        self.parent = parent
        self._env = env
        self._stamp: Stamp | None = None
        self._looked = False  # read again at the first look: the file may have changed since `env` was read
        self._lock = threading.Lock()

    def current(self) -> Any:
        """The environment as its file says now, or as it last said when it does not load now."""
        stamp = _stamp(self.path)
        with self._lock:
            if self._looked and stamp == self._stamp:
                return self._env
            first, self._looked, self._stamp = not self._looked, True, stamp
            try:
                env = self.load(self.path)
            except (PlatformError, OSError) as err:
                log.warning("%s no longer loads (%s); serving the clouds of its last valid version until it does",
                            self.path, err)
                return self._env
            if not first:
                log.info("environment file changed, read again: %s", self.path)
            self._check_parent(env)
            self._env = env
            return env

    def _check_parent(self, env: Any) -> None:
        from platform_sdk.localcloud.roots import local_root

        moved = local_root(self.project_root, env, "_").parent
        if moved != self.parent:
            log.warning("%s now keeps the local cloud's roots in %s (clouds.local.root); this gateway serves %s: "
                        "restart platform dev to serve the new place", self.path, moved, self.parent)

    def is_local(self, label: str) -> bool:
        """The cloud labelled `label` runs on the local cloud (it is `local`, or its `stand_in` is)."""
        return bool(self.current().target_of(label) == "local")


def finder_for_env(project_root: Path, env: Any, load: Callable[[Path], Any] | None = None) -> RootFinder:
    """The RootFinder of an environment (`platform_sdk.envs.Environment`): its clouds whose target is local.

    With `load` (`platform_sdk.envs.load_environment`) and a file behind `env`, those clouds are the file's as it
    is at each look (`FollowedEnvironment`), so a cloud given `stand_in = "local"` after start is a root too;
    without, they are `env`'s.
    """
    from platform_sdk.localcloud.roots import local_root

    parent = local_root(project_root, env, "_").parent
    if load is None or env.file is None:
        return RootFinder(parent, lambda label: bool(env.target_of(label) == "local"))
    followed = FollowedEnvironment(env, load, project_root, parent)
    return RootFinder(parent, followed.is_local, followed.path)
