"""The local cloud's environment-file section: `[clouds.local]` (optional: its defaults work everywhere)."""

from __future__ import annotations

from platform_sdk.providers.base import CloudConfig


class LocalConfig(CloudConfig):
    """The embedded local cloud: everything lives under `root` (relative to the project)."""

    root: str = ".platform/localcloud"
    gateway_port: int = 8790


def local_config(env: object) -> LocalConfig:
    """The environment's `[clouds.local]` section, or its defaults."""
    return env.clouds.get("local") or LocalConfig()  # type: ignore[attr-defined,no-any-return]
