"""The local cloud's environment-file section: `[clouds.local]` (optional: its defaults work everywhere)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from platform_sdk.providers.base import CloudConfig


class LocalConfig(CloudConfig):
    """The embedded local cloud: everything lives under `root` (relative to the project); as root, see `databases`."""

    root: Annotated[str, Field(min_length=1)] = Field(
        ".platform/localcloud", description="Directory (relative to the project) holding the local cloud's buckets, "
        "function registry, CDN routes and database servers (as root, their data directories are elsewhere: see "
        "`databases`).")
    gateway_port: Annotated[int, Field(ge=1, le=65535)] = Field(
        8790, description="TCP port of the `platform dev` gateway on 127.0.0.1 (function URLs and CDN routes "
        "are built with it).")
    databases: Literal["engine", "sqlite"] = Field(
        "engine", description="How local databases run. `engine`: the engine each database declares, PostgreSQL or "
        "MariaDB (for `mysql`), on a server of the local cloud's own, started on demand on a free "
        "127.0.0.1 port, each function connecting as a role with exactly its grant's rights; needs the server "
        "programs (Debian: `postgresql`, `mariadb-server`). The servers' files are under `root`/<env>/<cloud>/"
        "databases, except when running as root: PostgreSQL and MariaDB refuse to run as root, so they run as the "
        "`postgres` / `mysql` users, with their data in /var/lib/platform-localcloud/<hash of the root> (a project "
        "under a private home is out of those users' reach); `platform destroy` removes it, deleting the project "
        "folder does not. `sqlite`: the explicit fallback, every database a "
        "SQLite file (no roles, and SQL only the real engine rejects passes locally); announced at every plan. "
        "A database keeps what it was created with: earlier SQLite stand-ins keep their data on SQLite until "
        "migrated (docs/databases.md).")


def local_config(env: object) -> LocalConfig:
    """The environment's `[clouds.local]` section, or its defaults."""
    return env.clouds.get("local") or LocalConfig()  # type: ignore[attr-defined,no-any-return]
