"""`LocalQueue`: a local cloud queue (`file:///<root>/queues/<name>`), its messages in one SQLite file.

The directory is the container `localcloud_queue` creates; `queue.sqlite` inside holds every message with its
visibility time, delivery count and whether it is dead-lettered, and the queue's settings (`max_attempts`,
`retention_seconds`). SQLite's locking makes it safe for several processes at once (functions sending, the
`platform dev` gateway delivering, a move draining), and its journal makes a sent message durable.

Semantics follow SQS: `receive` hands a message out invisible for `visibility_seconds` and counts a delivery; a
message not deleted by then is handed out again; a message that was delivered `max_attempts` times and comes back
is moved to the dead-letter queue instead, where it is kept (for `retention_seconds`, like every message). Standard
library only.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

from platform_sdk.runtime.queues import QueueCounts, QueuedMessage

DATABASE_FILE = "queue.sqlite"
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_RETENTION_SECONDS = 4 * 86400
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, "
    "body BLOB NOT NULL, attributes TEXT NOT NULL, sent_at REAL NOT NULL, visible_at REAL NOT NULL, "
    "attempts INTEGER NOT NULL DEFAULT 0, dead INTEGER NOT NULL DEFAULT 0, receipt TEXT)",
    "CREATE INDEX IF NOT EXISTS messages_ready ON messages (dead, visible_at, seq)",
)


class LocalQueueMissingError(LookupError):
    """The queue's directory does not exist (Terraform creates it: run `platform apply` first)."""


class LocalQueue:
    """One local queue and its dead-letter queue."""

    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        if parsed.scheme != "file" or not parsed.path:
            raise ValueError(f"not a local queue URL: {url!r} (expected file:///<root>/queues/<name>)")
        self.url = url
        self.path = Path(url2pathname(parsed.path))
        self.name = self.path.name

    def __repr__(self) -> str:
        return f"LocalQueue({self.url!r})"

    # -- storage ------------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _db(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        if not self.path.is_dir():
            raise LocalQueueMissingError(f"queue directory {self.path} does not exist (Terraform creates it: run "
                                         "`platform apply` first)")
        conn = sqlite3.connect(self.path / DATABASE_FILE, timeout=60, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            for statement in SCHEMA:
                conn.execute(statement)
            if write:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            else:
                yield conn
        finally:
            conn.close()

    def _setting(self, conn: sqlite3.Connection, key: str, default: int) -> int:
        row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else default

    def configure(self, max_attempts: int, retention_seconds: int) -> None:
        """Create the store (the directory exists) and record the queue's settings (`localcloud_queue` calls this)."""
        with self._db(write=True) as conn:
            conn.executemany("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)",
                             [("max_attempts", str(int(max_attempts))),
                              ("retention_seconds", str(int(retention_seconds)))])

    def exists(self) -> bool:
        return self.path.is_dir()

    # -- the neutral client -------------------------------------------------------------------------------------
    def send(self, body: bytes, attributes: dict[str, str] | None = None, message_id: str | None = None,
             dead_letter: bool = False) -> str:
        """Store a message; a `message_id` already present is not stored twice (a retried drain adds nothing)."""
        message_id = message_id or uuid.uuid4().hex
        now = time.time()
        with self._db(write=True) as conn:
            conn.execute("INSERT OR IGNORE INTO messages (id, body, attributes, sent_at, visible_at, dead) "
                         "VALUES (?, ?, ?, ?, ?, ?)",
                         (message_id, bytes(body), json.dumps(attributes or {}, sort_keys=True), now, now,
                          1 if dead_letter else 0))
        return message_id

    def receive(self, max_messages: int = 10, visibility_seconds: int = 30,
                dead_letter: bool = False) -> list[QueuedMessage]:
        """Up to `max_messages` waiting messages, oldest first, each counted as one more delivery; messages past
        `max_attempts` are dead-lettered on the way, expired ones dropped (retention)."""
        now = time.time()
        out: list[QueuedMessage] = []
        with self._db(write=True) as conn:
            max_attempts = self._setting(conn, "max_attempts", DEFAULT_MAX_ATTEMPTS)
            retention = self._setting(conn, "retention_seconds", DEFAULT_RETENTION_SECONDS)
            conn.execute("DELETE FROM messages WHERE sent_at < ?", (now - retention,))
            if not dead_letter:
                conn.execute("UPDATE messages SET dead = 1, receipt = NULL, visible_at = ? WHERE dead = 0 AND "
                             "visible_at <= ? AND attempts >= ?", (now, now, max_attempts))
            rows = conn.execute("SELECT seq, id, body, attributes, attempts FROM messages WHERE dead = ? AND "
                                "visible_at <= ? ORDER BY seq LIMIT ?",
                                (1 if dead_letter else 0, now, max(1, max_messages))).fetchall()
            for seq, message_id, body, attributes, attempts in rows:
                receipt = uuid.uuid4().hex
                conn.execute("UPDATE messages SET visible_at = ?, attempts = ?, receipt = ? WHERE seq = ?",
                             (now + visibility_seconds, attempts + (0 if dead_letter else 1), receipt, seq))
                out.append(QueuedMessage(message_id, bytes(body), json.loads(attributes),
                                         attempts + (0 if dead_letter else 1), receipt))
        return out

    def delete(self, message: QueuedMessage, dead_letter: bool = False) -> None:
        """Acknowledge: the message is gone (only while this receipt is current, like SQS)."""
        with self._db(write=True) as conn:
            conn.execute("DELETE FROM messages WHERE id = ? AND receipt = ? AND dead = ?",
                         (message.id, message.receipt, 1 if dead_letter else 0))

    def release(self, message: QueuedMessage, delay_seconds: float) -> None:
        """A failed delivery: the message becomes visible again after `delay_seconds` (dead-lettered on its next
        receive once it has used up `max_attempts`)."""
        with self._db(write=True) as conn:
            conn.execute("UPDATE messages SET visible_at = ?, receipt = NULL WHERE id = ? AND receipt = ?",
                         (time.time() + delay_seconds, message.id, message.receipt))

    def counts(self) -> QueueCounts:
        now = time.time()
        with self._db() as conn:
            visible, in_flight, dead = conn.execute(
                "SELECT COALESCE(SUM(dead = 0 AND visible_at <= ?), 0), COALESCE(SUM(dead = 0 AND visible_at > ?), 0),"
                " COALESCE(SUM(dead = 1), 0) FROM messages", (now, now)).fetchone()
        return QueueCounts(int(visible), int(in_flight), int(dead))

    def next_visible(self) -> float | None:
        """When the next live message becomes visible (epoch seconds), None when there is none."""
        with self._db() as conn:
            row = conn.execute("SELECT MIN(visible_at) FROM messages WHERE dead = 0").fetchone()
        return float(row[0]) if row and row[0] is not None else None


def open_queue(url: str) -> LocalQueue:
    """The plug-in hook `platform_sdk.runtime.queues.open_queue` calls for `file://` URLs."""
    return LocalQueue(url)
