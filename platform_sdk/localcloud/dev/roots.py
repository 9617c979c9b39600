"""Which local cloud roots `platform dev` serves, found again on disk while it runs.

An environment's roots are the directories `<clouds.local.root>/<env>/<cloud label>` (`localcloud/roots.py`).
An apply or a `platform move` that places a workload on a cloud with no root yet creates that root while the
gateway runs (and a destroy, or `rm -rf`, removes one), so the gateway does not fix its roots at start: a
`RootFinder` lists the environment's directory again when asked (one `scandir`, tens of microseconds), which
the gateway does when a name is not found, when the routes are listed, and when its file watcher sees a change
directly under that directory.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platform_sdk.localcloud.registry import CloudRoot


@dataclass(frozen=True)
class RootFinder:
    """The roots of one environment: every directory of `parent` whose name is a cloud label `is_local` accepts
    (a cloud the environment runs on the local cloud); names starting with a dot are never roots."""

    parent: Path
    is_local: Callable[[str], bool]

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


def finder_for_env(project_root: Path, env: Any) -> RootFinder:
    """The RootFinder of an environment (`platform_sdk.envs.Environment`): its clouds whose target is local."""
    from platform_sdk.localcloud.roots import local_root

    def is_local(label: str) -> bool:
        return bool(env.target_of(label) == "local")

    return RootFinder(local_root(project_root, env, "_").parent, is_local)
