"""Nightly: delete expired sessions."""

from __future__ import annotations

import time

from platform_sdk.runtime import ScheduleTick, database


def run(tick: ScheduleTick) -> None:
    with database("users").connect() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS sessions (token TEXT PRIMARY KEY, email TEXT NOT NULL, "
                     "expires INTEGER NOT NULL)")
        conn.execute("DELETE FROM sessions WHERE expires <= ?", (int(time.time()),))
