"""Create what Terraform's state backend needs before the first plan: a directory, or a cloud's bucket + lock table.

Terraform cannot create its own backend, so `platform bootstrap --env NAME` does it once per environment: the
local state directory here, a cloud's backend through the plug-in owning it (`CloudPlugin.bootstrap`). Every
step is idempotent: a second run changes nothing and reports "exists".
"""

from __future__ import annotations

from pathlib import Path

from platform_sdk import providers
from platform_sdk.envs import Environment, LocalState
from platform_sdk.errors import PlatformError
from platform_sdk.providers.base import Step

__all__ = ["Step", "bootstrap"]


def bootstrap(project_root: Path, env: Environment) -> list[Step]:
    """Make sure the environment's state backend exists; returns what was created and what existed."""
    state = env.state
    if isinstance(state, LocalState):
        return [_local(project_root, env.name, state)]
    for found in providers.plugins().values():
        if state.backend in found.state_backends:
            return found.bootstrap(env, state)
    raise PlatformError(f"unknown state backend {state.backend!r}", key="state.backend")  # pragma: no cover


def _local(project_root: Path, env_name: str, state: LocalState) -> Step:
    path = project_root / state.path / env_name
    existed = path.is_dir()
    path.mkdir(parents=True, exist_ok=True)
    return Step("directory", str(path), "exists" if existed else "created")
