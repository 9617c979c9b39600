"""Durable record of which objects a bucket copy has verified, so a killed copy resumes cleanly.

A SQLite file in WAL mode with one row per verified object, committed per object: a kill -9 loses
at most the objects in flight, never a verified one. Rows are keyed by (source url, destination
url, key), so one journal file can serve several copies (e.g. every bucket of a workload move).

WAL with synchronous=NORMAL survives a process crash (the OS has the WAL pages); pass
synchronous="FULL" to also survive power loss, at a per-commit fsync cost.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS verified (
    src_url     TEXT NOT NULL,
    dst_url     TEXT NOT NULL,
    key         TEXT NOT NULL,
    size        INTEGER NOT NULL,
    md5         TEXT NOT NULL,
    src_etag    TEXT,
    dst_etag    TEXT,
    verified_by TEXT,
    verified_at REAL NOT NULL,
    PRIMARY KEY (src_url, dst_url, key)
) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class JournalEntry:
    """One verified object: content identity (size, md5) plus both sides' version fingerprints."""

    key: str
    size: int
    md5: str
    src_etag: str | None = None
    dst_etag: str | None = None
    verified_by: str | None = None  # which destination checksum proved the copy (md5, etag, crc32c)
    verified_at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Journal:
    """Verified-object journal for one (source url, destination url) pair in a SQLite file.

    Thread-safe: copy workers record from their own threads through one connection under a lock.
    """

    def __init__(self, path: str | Path, src_url: str, dst_url: str, *, synchronous: str = "NORMAL") -> None:
        if synchronous.upper() not in ("NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"unsupported synchronous mode {synchronous!r}")
        self.path = Path(path)
        self.src_url = src_url
        self.dst_url = dst_url
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # Autocommit (isolation_level=None): each record() is its own committed transaction.
        self._conn = sqlite3.connect(
            str(self.path), check_same_thread=False, isolation_level=None, timeout=30
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
        self._conn.executescript(SCHEMA)

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def record(self, entry: JournalEntry) -> None:
        """Persist one verified object (its own transaction, committed before returning)."""
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO verified"
                " (src_url, dst_url, key, size, md5, src_etag, dst_etag, verified_by, verified_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self.src_url,
                    self.dst_url,
                    entry.key,
                    entry.size,
                    entry.md5,
                    entry.src_etag,
                    entry.dst_etag,
                    entry.verified_by,
                    entry.verified_at or time.time(),
                ),
            )

    def forget(self, key: str) -> None:
        """Drop one key, e.g. when its source changed and it must be copied again."""
        with self._lock:
            self._conn.execute(
                "DELETE FROM verified WHERE src_url=? AND dst_url=? AND key=?",
                (self.src_url, self.dst_url, key),
            )

    def clear(self) -> None:
        """Forget every object of this pair (start a copy from scratch)."""
        with self._lock:
            self._conn.execute(
                "DELETE FROM verified WHERE src_url=? AND dst_url=?", (self.src_url, self.dst_url)
            )

    def get(self, key: str) -> JournalEntry | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT key, size, md5, src_etag, dst_etag, verified_by, verified_at FROM verified"
                " WHERE src_url=? AND dst_url=? AND key=?",
                (self.src_url, self.dst_url, key),
            ).fetchone()
        return JournalEntry(*row) if row else None

    def entries(self) -> dict[str, JournalEntry]:
        """Every verified object of this pair, by key."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT key, size, md5, src_etag, dst_etag, verified_by, verified_at FROM verified"
                " WHERE src_url=? AND dst_url=?",
                (self.src_url, self.dst_url),
            ).fetchall()
        return {row[0]: JournalEntry(*row) for row in rows}

    def count(self) -> int:
        with self._lock:
            (n,) = self._conn.execute(
                "SELECT COUNT(*) FROM verified WHERE src_url=? AND dst_url=?", (self.src_url, self.dst_url)
            ).fetchone()
        return int(n)


def count_verified(path: str | Path, src_url: str | None = None, dst_url: str | None = None) -> int:
    """Rows in a journal file, read-only (for watchers such as a test that kills a copy midway)."""
    path = Path(path)
    if not path.exists():
        return 0
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        try:
            if src_url is None or dst_url is None:
                (n,) = conn.execute("SELECT COUNT(*) FROM verified").fetchone()
            else:
                (n,) = conn.execute(
                    "SELECT COUNT(*) FROM verified WHERE src_url=? AND dst_url=?", (src_url, dst_url)
                ).fetchone()
        except sqlite3.OperationalError:
            return 0  # table not created yet
        return int(n)
    finally:
        conn.close()
