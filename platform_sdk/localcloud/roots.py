"""Where the local cloud keeps one environment's clouds on disk: one root directory per cloud label.

The local environment can hold stand-ins for other clouds: each cloud label gets its own root, so a
cross-cloud move can be rehearsed end to end on a laptop. The compiler, `platform dev` and `platform status`
all derive roots here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

DEFAULT_ROOT = ".platform/localcloud"  # [clouds.local] root, when the section leaves it out


def local_root(project_root: Path, env: Any, cloud: str) -> Path:
    """`<project>/<clouds.local.root>/<env>/<cloud label>`, absolute; `env` is a platform_sdk.envs.Environment."""
    section = env.clouds.get("local")
    root = section.root if section is not None else DEFAULT_ROOT
    return (project_root / root / env.name / cloud).resolve()
