"""What each engine module provides to `copy_database`: an open database, and the copy itself."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, TypeVar

from platform_sdk.move.db.checksum import TableSum
from platform_sdk.move.db.urls import DatabaseUrl


class Database(Protocol):
    """One open database (a connection, or a file for SQLite)."""

    url: DatabaseUrl
    version: str  # as the server reports it, e.g. `16.4 (Debian ...)`, `10.11.18-MariaDB`

    def exists(self) -> bool:
        """False for a target that has not been created yet (an SQLite file)."""
        ...

    def checksums(self) -> dict[str, TableSum]:
        """Rows and content checksum of every user table (streamed; bounded memory), keyed by display name."""
        ...

    def close(self) -> None: ...


D = TypeVar("D", bound=Database)


class Engine(Protocol[D]):
    """One engine's copy: opened once per copy, checked, then run (`D`: that engine's Database)."""

    label: str  # PostgreSQL, MariaDB/MySQL, SQLite
    method: str  # how the data is copied, for the report

    def connect(self, url: DatabaseUrl, role: str) -> D:
        """Open `url` (`role` is `source` or `target`, for messages). Raises PlatformError when it cannot."""
        ...

    def preflight(self, source: D, target: D) -> dict[str, str]:
        """Check local client tools against both servers; return the versions found (`source server`,
        `target server`, each tool). Raises PlatformError naming what to install. Changes nothing."""
        ...

    def copy(self, source: D, target: D, workdir: Path) -> dict[str, TableSum]:
        """Replace the target's tables with the source's; return the checksums of exactly what was copied."""
        ...
