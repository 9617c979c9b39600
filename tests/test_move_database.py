"""Database moves: copied, then proven complete by per-table row counts; unsupported pairs change nothing."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

from platform_sdk.errors import PlatformError
from platform_sdk.move.database import copy_database, support_problem
from tests.postgres import create_database, postgres_server  # noqa: F401 - fixture


def test_sqlite_copy_is_verified_table_by_table(tmp_path: Path) -> None:
    source = tmp_path / "a.sqlite3"
    with sqlite3.connect(source) as conn:
        conn.execute("CREATE TABLE users (email TEXT PRIMARY KEY, hash TEXT)")
        conn.executemany("INSERT INTO users VALUES (?, ?)", [(f"u{i}@x", "h") for i in range(250)])
        conn.execute("CREATE TABLE sessions (token TEXT)")
    report = copy_database(f"sqlite:///{source}", f"sqlite:///{tmp_path / 'b' / 'b.sqlite3'}", tmp_path)
    assert report.verified
    assert report.tables == {"users": (250, 250), "sessions": (0, 0)}
    with sqlite3.connect(tmp_path / "b" / "b.sqlite3") as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == 250


def test_unsupported_pair_is_refused_before_anything_changes(tmp_path: Path) -> None:
    target = tmp_path / "never.sqlite3"
    assert "not supported yet" in (support_problem("mysql://db/x", f"sqlite:///{target}") or "")
    with pytest.raises(PlatformError, match="not supported yet"):
        copy_database("mysql://u@db/x", f"sqlite:///{target}", tmp_path)
    assert not target.exists()


def test_postgres_dump_and_restore_with_row_counts(postgres_server: str, tmp_path: Path) -> None:  # noqa: F811
    source = create_database(postgres_server, "users_src")
    target = create_database(postgres_server, "users_dst")
    subprocess.run(["psql", source, "-qc",
                    "CREATE TABLE users (email text primary key, hash text);"
                    "INSERT INTO users SELECT 'u' || g || '@x', md5(g::text) FROM generate_series(1, 1234) g;"
                    "CREATE TABLE audit (id serial primary key, what text);"
                    "INSERT INTO audit (what) SELECT 'event' FROM generate_series(1, 17);"],
                   check=True, capture_output=True)
    report = copy_database(source, target, tmp_path)
    assert report.verified
    assert report.tables == {"public.audit": (17, 17), "public.users": (1234, 1234)}
    out = subprocess.run(["psql", target, "-Atc", "SELECT count(*) FROM users WHERE hash = md5('7')"],
                         check=True, capture_output=True, text=True).stdout
    assert out.strip() == "1"


def test_report_never_shows_a_password() -> None:
    from platform_sdk.move.database import DatabaseCopyReport

    report = DatabaseCopyReport("postgresql://app:s3cret@db:5432/users", "postgresql://app:other@db2/users")
    text = str(report.to_json())
    assert "s3cret" not in text and "other" not in text and "app:***@db:5432" in text
