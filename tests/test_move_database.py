"""Database moves (engine-neutral parts and SQLite, the local cloud's stand-in): copied, then proven complete per
table by rows and content checksums; unsupported pairs, unusable client tools and targets holding data the copy
may not replace are refused before anything changes; passwords never shown.

PostgreSQL and MariaDB against real servers: test_move_database_postgres.py, test_move_database_mariadb.py;
large tables with bounded memory: test_move_database_large.py.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from platform_sdk.errors import PlatformError
from platform_sdk.move.database import DatabaseCopyReport, copy_database, preflight, support_problem
from platform_sdk.move.db import mysql, postgres
from platform_sdk.move.db.checksum import ORDERED, UNORDERED, TableDigest, text_row
from platform_sdk.move.db.sqlite import SqliteEngine
from platform_sdk.move.db.tools import Tool, parse_version_output

AWKWARD = ['we"ird', "has space", "Upper", "back`tick", "semi;colon --"]


def url(path: Path) -> str:
    return f"sqlite:///{path}"


def make_source(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (email TEXT PRIMARY KEY, hash TEXT)")
        conn.executemany("INSERT INTO users VALUES (?, ?)", [(f"u{i}@x", f"h{i}") for i in range(250)])
        conn.execute("CREATE TABLE sessions (token TEXT)")  # no primary key
        conn.executemany("INSERT INTO sessions VALUES (?)", [("t",), ("t",), (None,), ("tab\there",)])
        for name in AWKWARD:
            quoted = '"' + name.replace('"', '""') + '"'
            conn.execute(f'CREATE TABLE {quoted} ("Id" INTEGER PRIMARY KEY, "odd""col" BLOB, n REAL)')
            conn.executemany(f"INSERT INTO {quoted} VALUES (?, ?, ?)",
                             [(i, bytes([i % 256]) * 3, i / 3) for i in range(7)])


def table_rows(path: Path, table: str) -> list[tuple[object, ...]]:
    quoted = '"' + table.replace('"', '""') + '"'
    with sqlite3.connect(path) as conn:
        return conn.execute(f"SELECT * FROM {quoted} ORDER BY 1").fetchall()


# ------------------------------------------------------------------------------------------------ SQLite copies

def test_sqlite_copy_verified_by_rows_and_checksums_with_awkward_names(tmp_path: Path) -> None:
    """Fault 4a (quoting: `we"ird` crashed with a traceback) and 4c (row counts alone were verified)."""
    source, target = tmp_path / "a.sqlite3", tmp_path / "b" / "b.sqlite3"
    make_source(source)
    report = copy_database(url(source), url(target), tmp_path / "work")
    assert report.verified
    assert set(report.tables) == {"users", "sessions", *AWKWARD}
    data = report.to_json()
    users, sessions = data["tables"]["users"], data["tables"]["sessions"]  # type: ignore[index]
    assert users["source_rows"] == users["target_rows"] == 250
    assert users["checksum"] == ORDERED and users["primary_key"] == ["email"]
    assert users["source_checksum"] == users["target_checksum"] and len(users["source_checksum"]) == 64
    assert sessions["checksum"] == UNORDERED and sessions["primary_key"] == []  # announced as whole-table
    assert data["method"] == "SQLite online backup" and data["engine"] == "SQLite"
    for name in AWKWARD:
        assert table_rows(target, name) == table_rows(source, name)
        assert data["tables"][name]["verified"] is True  # type: ignore[index]


def test_rerun_copies_what_changed_and_leaves_an_identical_target_alone(tmp_path: Path) -> None:
    source, target, work = tmp_path / "a.sqlite3", tmp_path / "b.sqlite3", tmp_path / "work"
    make_source(source)
    copy_database(url(source), url(target), work)
    with sqlite3.connect(source) as conn:  # same row count, different content: only a checksum can tell
        conn.execute("UPDATE users SET hash = 'changed' WHERE email = 'u7@x'")
    again = copy_database(url(source), url(target), work)
    assert again.verified and again.method == "SQLite online backup"
    assert ("u7@x", "changed") in table_rows(target, "users")
    third = copy_database(url(source), url(target), work)
    assert third.verified and third.method.startswith("none: the target already holds the same content")


@pytest.mark.parametrize("table", ["users", "sessions", 'we"ird'])
def test_verification_catches_same_row_count_with_different_content(tmp_path: Path, table: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A copy that loses one change but keeps the row count: row counts alone called this verified."""
    source, target = tmp_path / "a.sqlite3", tmp_path / "b.sqlite3"
    make_source(source)
    real_copy = SqliteEngine.copy

    def lossy_copy(self: SqliteEngine, src: object, dst: object, workdir: Path) -> object:
        sums = real_copy(self, src, dst, workdir)  # type: ignore[arg-type]
        quoted = '"' + table.replace('"', '""') + '"'
        with sqlite3.connect(target) as conn:
            column = conn.execute("SELECT name FROM pragma_table_info(?) ORDER BY cid DESC", (table,)).fetchone()[0]
            conn.execute(f'UPDATE {quoted} SET "{column}" = \'lost\' WHERE rowid = (SELECT max(rowid) FROM {quoted})')
        return sums

    with monkeypatch.context() as patch:
        patch.setattr(SqliteEngine, "copy", lossy_copy)
        with pytest.raises(PlatformError, match=f"{table}: same .* rows but the content differs"):
            copy_database(url(source), url(target), tmp_path / "work")
    assert copy_database(url(source), url(target), tmp_path / "work").verified  # a re-run replaces the bad copy


def test_target_holding_data_the_move_did_not_copy_is_never_overwritten(tmp_path: Path) -> None:
    source, target = tmp_path / "a.sqlite3", tmp_path / "b.sqlite3"
    make_source(source)
    with sqlite3.connect(target) as conn:
        conn.execute("CREATE TABLE precious (x)")
        conn.execute("INSERT INTO precious VALUES (1)")
    before = hashlib.sha256(target.read_bytes()).hexdigest()
    with pytest.raises(PlatformError, match="holds tables this move did not put there \\(precious\\)"):
        copy_database(url(source), url(target), tmp_path / "work")
    assert hashlib.sha256(target.read_bytes()).hexdigest() == before


def test_target_in_use_after_the_copy_keeps_its_new_rows(tmp_path: Path) -> None:
    """The move's second pass runs after functions were re-wired to the target: new rows there must survive."""
    source, target, work = tmp_path / "a.sqlite3", tmp_path / "b.sqlite3", tmp_path / "work"
    make_source(source)
    copy_database(url(source), url(target), work)
    with sqlite3.connect(target) as conn:
        conn.execute("INSERT INTO users VALUES ('new@x', 'h')")
    second = copy_database(url(source), url(target), work)  # nothing new in the source: nothing to copy
    assert second.verified and "source is unchanged since its verified copy" in second.method
    assert ("new@x", "h") in table_rows(target, "users")
    with sqlite3.connect(source) as conn:  # now both sides changed: refuse rather than lose either
        conn.execute("INSERT INTO users VALUES ('late@x', 'h')")
    with pytest.raises(PlatformError, match="written after this move copied into it, and so was the source"):
        copy_database(url(source), url(target), work)
    assert ("new@x", "h") in table_rows(target, "users")


def test_a_killed_copy_is_replaced_on_rerun(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source, target, work = tmp_path / "a.sqlite3", tmp_path / "b.sqlite3", tmp_path / "work"
    make_source(source)

    def killed(self: SqliteEngine, src: object, dst: object, workdir: Path) -> object:
        with sqlite3.connect(target) as conn:  # a partial target, then the process dies
            conn.execute("CREATE TABLE users (email TEXT PRIMARY KEY, hash TEXT)")
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(SqliteEngine, "copy", killed)
        with pytest.raises(KeyboardInterrupt):
            copy_database(url(source), url(target), work)
    assert copy_database(url(source), url(target), work).verified


@pytest.mark.parametrize(("source", "target", "names"), [
    ("postgresql://u@db/x", "sqlite:///{tmp}/t.sqlite3", ("PostgreSQL", "SQLite")),
    ("sqlite:///{tmp}/s.sqlite3", "mysql://u@db/x", ("SQLite", "MariaDB/MySQL")),
    ("mysql://u:pw@db/x", "postgres://u@db/x", ("MariaDB/MySQL", "PostgreSQL")),
])
def test_cross_engine_pairs_are_refused_naming_both_engines(tmp_path: Path, source: str, target: str,
                                                           names: tuple[str, str]) -> None:
    source, target = source.format(tmp=tmp_path), target.format(tmp=tmp_path)
    problem = support_problem(source, target)
    assert problem and f"from {names[0]} to {names[1]} is not supported" in problem
    for call in (preflight, lambda s, t: copy_database(s, t, tmp_path / "work")):
        with pytest.raises(PlatformError, match=f"from {names[0]} to {names[1]}") as err:
            call(source, target)
        assert err.value.key == "database"  # a PlatformError: the CLI prints it and exits 2
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_a_url_without_a_host_is_refused_before_connecting(tmp_path: Path) -> None:
    no_host = "postgres://platform@/users?instance=p:r:i&secret=s"
    with pytest.raises(PlatformError, match="the source database URL names no host"):
        copy_database(no_host, "postgres://platform@127.0.0.1:9/users", tmp_path)


def test_unknown_engine_is_refused() -> None:
    assert "moving a oracle database is not supported" in (support_problem("oracle://a/b", "oracle://c/d") or "")


# ---------------------------------------------------------------------------------------------- checksum rules

def test_checksums_order_independent_only_without_a_primary_key() -> None:
    def digest(rows: list[bytes], key: tuple[str, ...]) -> str:
        table = TableDigest(key)
        for row in rows:
            table.add(row)
        return table.result().checksum

    x, y = b"x\t1", b"y\t2"
    assert digest([x, y], ()) == digest([y, x], ())
    assert digest([x, x], ()) != digest([y, y], ())  # an XOR would call these equal (both zero)
    assert digest([x, y], ()) != digest([x, y, y], ())
    assert digest([x, y], ("id",)) != digest([y, x], ("id",))  # primary-key order is part of the evidence


def test_copy_stream_rows_split_across_chunks() -> None:
    rows = [b"1\tone", b"2\t\\N", b"3\ta\\tb"]
    whole, chunked = TableDigest(("id",)), TableDigest(("id",))
    whole.write(b"".join(r + b"\n" for r in rows))
    stream = b"".join(r + b"\n" for r in rows)
    for i in range(0, len(stream), 4):
        chunked.write(stream[i:i + 4])
    assert whole.result() == chunked.result() and whole.result().rows == 3
    assert text_row(["a\tb", None, "back\\slash\nnl"]) == b"a\\tb\t\\N\tback\\\\slash\\nnl"


# ------------------------------------------------------------------------------------ client/server versions

def tool(name: str, family: str, version: str) -> Tool:
    return Tool(name, f"/usr/bin/{name}", family, version)


def test_postgres_client_must_be_able_to_dump_the_source_server() -> None:
    """Fault 4b: the clouds run PostgreSQL 16 while the pg_dump installable here is 15."""
    dump, restore = tool("pg_dump", "PostgreSQL", "15.18"), tool("pg_restore", "PostgreSQL", "15.18")
    problem = postgres.client_problem(dump, restore, "16.4", "16.4") or ""
    assert "pg_dump 15.18 (PostgreSQL, /usr/bin/pg_dump) cannot dump the source server, PostgreSQL 16.4" in problem
    assert "install postgresql-client-16" in problem and postgres.APT_REPOSITORY in problem
    assert postgres.client_problem(dump, restore, "15.2", "16.4") is None
    assert postgres.client_problem(tool("pg_dump", "PostgreSQL", "16.4"), restore, "15.2", "15.2") == (
        "pg_restore 15.18 (PostgreSQL, /usr/bin/pg_restore) cannot read archives written by pg_dump 16.4: use "
        "pg_dump and pg_restore of the same version (postgresql-client-15 provides both)")
    assert "older than the source's 16.1" in (postgres.client_problem(dump, restore, "16.1", "15.2") or "")
    assert "needs pg_dump and pg_restore on PATH" in (postgres.client_problem(None, None, "15.1", "15.1") or "")
    assert postgres.major("9.6.24") == (9, 6) and postgres.major("16.4 (Debian 16.4-1.pgdg120+2)") == (16,)


def test_mysql_client_must_match_the_server_family_and_version() -> None:
    maria = tool("mysqldump", "MariaDB", "10.11.18"), tool("mysql", "MariaDB", "10.11.18")
    assert mysql.client_problem(*maria, "10.11.18-MariaDB-0+deb12u1", "10.11.6-MariaDB") is None
    newer = mysql.client_problem(*maria, "11.4.2-MariaDB", "11.4.2-MariaDB") or ""
    assert "is older than the source server, MariaDB 11.4.2-MariaDB: install mariadb-client 11.4" in newer
    cloud = mysql.client_problem(*maria, "8.0.36", "8.0.36") or ""  # the clouds' MySQL with Debian's client
    assert "not verified against a MySQL 8.0.36 server" in cloud and "dev.mysql.com/downloads/repo/apt" in cloud
    assert mysql.client_problem(tool("mysqldump", "MySQL", "8.0.36"), tool("mysql", "MySQL", "8.0.36"),
                                "8.0.36", "8.0.40") is None
    assert "a dump of one is not guaranteed" in (mysql.client_problem(*maria, "10.11.2-MariaDB", "8.0.36") or "")
    assert "older than the source's" in (mysql.client_problem(*maria, "10.11.2-MariaDB", "10.6.1-MariaDB") or "")


@pytest.mark.parametrize(("line", "expected"), [
    ("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)", ("PostgreSQL", "15.18")),
    ("pg_restore (PostgreSQL) 16.4", ("PostgreSQL", "16.4")),
    ("mysqldump  Ver 10.19 Distrib 10.11.18-MariaDB, for debian-linux-gnu (x86_64)", ("MariaDB", "10.11.18")),
    ("mysql  Ver 15.1 Distrib 10.11.18-MariaDB, for debian-linux-gnu (x86_64) using  EditLine wrapper",
     ("MariaDB", "10.11.18")),
    ("mariadb-dump from 11.4.2-MariaDB, client 10.19 for Linux (x86_64)", ("MariaDB", "11.4.2")),
    ("mysqldump  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)", ("MySQL", "8.0.36")),
    ("mysqldump  Ver 10.13 Distrib 5.7.44, for Linux (x86_64)", ("MySQL", "5.7.44")),
    ("something else", None),
])
def test_client_versions_are_read_from_version_output(line: str, expected: tuple[str, str] | None) -> None:
    assert parse_version_output(line + "\n") == expected


# ------------------------------------------------------------------------------------------------- passwords

def test_report_never_shows_a_password() -> None:
    report = DatabaseCopyReport("postgresql://app:s3cret@db:5432/users", "mysql://app:p%40ss@db2/users")
    text = str(report.to_json())
    assert "s3cret" not in text and "p%40ss" not in text and "p@ss" not in text
    assert "postgresql://app:***@db:5432/users" in text and "mysql://app:***@db2/users" in text


@pytest.mark.parametrize("scheme", ["postgresql", "mysql"])
def test_connection_errors_never_show_a_password(scheme: str) -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    source = f"{scheme}://app:s3cr%3Aet@127.0.0.1:{port}/db"
    with pytest.raises(PlatformError) as err:
        copy_database(source, source.replace("/db", "/other"), Path("/nonexistent"))
    assert "s3cr" not in str(err.value) and "app:***@127.0.0.1" in str(err.value)
    assert "cannot connect to the source database" in str(err.value)


def test_a_kept_source_with_rows_written_since_its_copy_is_told_apart(tmp_path: Path) -> None:
    """Before a kept source is removed: nothing only it holds while it is unchanged since its verified copy (the target
    may have moved on); a row written to it since is named by its table."""
    from platform_sdk.move.database import source_leftovers

    source, target, work = tmp_path / "a.sqlite3", tmp_path / "b.sqlite3", tmp_path / "work"
    make_source(source)
    copy_database(url(source), url(target), work)
    assert source_leftovers(url(source), url(target), work)[1] == []
    with sqlite3.connect(target) as conn:  # the target is in use: its own writes lose nothing of the source
        conn.execute("INSERT INTO users VALUES ('new@x', 'n')")
    assert source_leftovers(url(source), url(target), work)[1] == []
    with sqlite3.connect(source) as conn:
        conn.execute("INSERT INTO sessions VALUES ('late')")
    tables, lost = source_leftovers(url(source), url(target), work)
    assert lost == ["sessions"] and not tables["sessions"].verified
