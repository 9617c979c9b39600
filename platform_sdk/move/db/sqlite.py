"""SQLite -> SQLite (the local cloud's stand-in databases): SQLite's online backup API, verified table by table.

The backup copies the whole file consistently even while the source is in use; the source checksums are read in
the same read transaction as the backup. Values are typed in SQLite (1, 1.0, '1' and x'31' differ), so each
field's canonical text carries its storage class: `i:1`, `r:1.0`, `t:1`, `b:31`.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from platform_sdk.errors import PlatformError
from platform_sdk.move.db.checksum import TableDigest, TableSum, text_row
from platform_sdk.move.db.urls import DatabaseUrl

TABLES = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
PRIMARY_KEY = "SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk"


def quote_ident(name: str) -> str:
    """An SQLite identifier, always quoted: `we"ird` -> `"we""ird"`."""
    return '"' + name.replace('"', '""') + '"'


def _field(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return "b:" + value.hex()
    if isinstance(value, float):
        return "r:" + repr(value)
    return ("i:" if isinstance(value, int) else "t:") + str(value)


class SqliteDatabase:
    """One SQLite file; a target that does not exist yet reads as empty."""

    def __init__(self, url: DatabaseUrl, role: str) -> None:
        assert url.path is not None
        self.url = url
        self.path = url.path
        self.version = sqlite3.sqlite_version
        if role == "source" and not self.path.is_file():
            raise PlatformError(f"the source database {self.path} does not exist", key="database", value=str(url))

    def exists(self) -> bool:
        return self.path.is_file()

    def connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None)
        conn.text_factory = lambda data: data.decode(errors="surrogateescape")
        return conn

    def checksums(self, conn: sqlite3.Connection | None = None) -> dict[str, TableSum]:
        if conn is None:
            if not self.exists():
                return {}
            with closing(self.connect()) as own:
                return self.checksums(own)
        sums = {}
        for (name,) in conn.execute(TABLES).fetchall():
            key = tuple(column for (column,) in conn.execute(PRIMARY_KEY, (name,)))
            query = f"SELECT * FROM {quote_ident(name)}"
            if key:
                query += " ORDER BY " + ", ".join(quote_ident(column) for column in key)
            digest = TableDigest(key)
            for row in conn.execute(query):
                digest.add(text_row(_field(value) for value in row))
            sums[name] = digest.result()
        return sums

    def close(self) -> None:
        pass


class SqliteEngine:
    label = "SQLite"
    method = "SQLite online backup"

    def connect(self, url: DatabaseUrl, role: str) -> SqliteDatabase:
        return SqliteDatabase(url, role)

    def preflight(self, source: SqliteDatabase, target: SqliteDatabase) -> dict[str, str]:
        return {"SQLite library": sqlite3.sqlite_version}

    def copy(self, source: SqliteDatabase, target: SqliteDatabase, workdir: Path) -> dict[str, TableSum]:
        target.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(source.connect()) as src, closing(sqlite3.connect(target.path)) as dst:
            src.execute("BEGIN")  # one read transaction: the backup and the checksums see the same data
            try:
                sums = source.checksums(src)
                src.backup(dst)
            finally:
                src.execute("COMMIT")
        return sums
