"""The local cloud's environment-file section: `[clouds.local]` (optional: its defaults work everywhere)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from platform_sdk.providers.base import CloudConfig


class LocalConfig(CloudConfig):
    """The embedded local cloud: everything lives under `root` (relative to the project)."""

    root: Annotated[str, Field(min_length=1)] = Field(
        ".platform/localcloud", description="Directory (relative to the project) holding the local cloud's buckets, "
        "function registry, CDN routes and databases.")
    gateway_port: Annotated[int, Field(ge=1, le=65535)] = Field(
        8790, description="TCP port of the `platform dev` gateway on 127.0.0.1 (function URLs and CDN routes "
        "are built with it).")


def local_config(env: object) -> LocalConfig:
    """The environment's `[clouds.local]` section, or its defaults."""
    return env.clouds.get("local") or LocalConfig()  # type: ignore[attr-defined,no-any-return]
