"""PostgreSQL -> PostgreSQL database moves against a real server started by the tests (tests/postgres.py).

Proves: awkward identifiers in any schema are copied and verified; rows and content checksums per table (primary-
key order independent of each database's collation; whole-table checksum without a primary key); re-runs copy
again without losing anything; the local pg_dump/pg_restore are checked against the real server versions before
anything changes (with the version boundary faked by a wrapper on PATH); passwords stay off command lines.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from platform_sdk.errors import PlatformError
from platform_sdk.move.database import copy_database, preflight
from platform_sdk.move.db.checksum import ORDERED, UNORDERED
from tests.db_clients import client_path, wrap_client
from tests.postgres import create_database, postgres_server  # noqa: F401 - fixture

SCHEMA = """
CREATE SCHEMA "App Data";
CREATE TABLE public."we""ird" (id int PRIMARY KEY, body text);
CREATE TABLE "App Data"."has space" (region text, "Seq" int, note text, PRIMARY KEY (region, "Seq"));
CREATE TABLE public."Upper" (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at timestamptz, amount numeric,
                             ratio double precision, raw bytea, doc jsonb, span interval);
CREATE TABLE public."back`tick" (k text PRIMARY KEY);
CREATE TABLE "App Data".events (what text, at timestamptz);  -- no primary key, duplicate rows
INSERT INTO public."we""ird" SELECT g, E'tab\\there\\nnewline \\\\ backslash ' || g FROM generate_series(1, 300) g;
INSERT INTO "App Data"."has space" SELECT r, g, NULL FROM unnest(ARRAY['eu', 'EU', 'us', 'Ärger', 'zz'])
    AS r, generate_series(1, 40) g;
INSERT INTO public."Upper" (at, amount, ratio, raw, doc, span)
    SELECT '2024-02-29 12:00:00+01'::timestamptz + g * interval '1 hour', g / 7.0, g / 3.0,
           decode(lpad(to_hex(g), 8, '0'), 'hex'), jsonb_build_object('g', g, 'name', 'n' || g), g * interval '1 min'
    FROM generate_series(1, 500) g;
INSERT INTO public."back`tick" VALUES ('a'), ('B'), ('c'), ('_'), ('Z');
INSERT INTO "App Data".events SELECT 'login', '2024-01-01' FROM generate_series(1, 3);
INSERT INTO "App Data".events VALUES ('logout', NULL), ('logout', NULL);
"""
TABLES = {'"App Data".events', '"App Data"."has space"', 'public."Upper"', 'public."back`tick"', 'public."we""ird"'}


def psql(url: str, sql: str) -> str:
    return subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql], check=True, capture_output=True,
                          text=True).stdout.strip()


def test_awkward_identifiers_copied_and_verified_by_rows_and_checksums(postgres_server: str,  # noqa: F811
                                                                       tmp_path: Path) -> None:
    """Fault 4a: a table named `we"ird` (or with a space, upper case, another schema) crashed the copy."""
    source, target = create_database(postgres_server, "pg_awk_src"), create_database(postgres_server, "pg_awk_dst")
    psql(source, SCHEMA)
    report = copy_database(source, target, tmp_path)
    assert report.verified and set(report.tables) == TABLES
    data = report.to_json()
    tables = data["tables"]
    assert tables['public."we""ird"']["source_rows"] == tables['public."we""ird"']["target_rows"] == 300  # type: ignore[index]
    assert tables['"App Data"."has space"']["primary_key"] == ["region", "Seq"]  # type: ignore[index]
    assert tables['"App Data"."has space"']["checksum"] == ORDERED  # type: ignore[index]
    assert tables['"App Data".events']["checksum"] == UNORDERED  # type: ignore[index]
    assert tables['"App Data".events']["target_rows"] == 5  # type: ignore[index]
    assert data["engine"] == "PostgreSQL" and str(data["method"]).startswith("pg_dump --format=custom")
    assert str(data["versions"]["pg_dump"]).startswith("15.")  # type: ignore[index]
    for query in ('SELECT md5(string_agg(t::text, \',\' ORDER BY id)) FROM public."we""ird" t',
                  'SELECT md5(string_agg(t::text, \',\' ORDER BY id)) FROM public."Upper" t',
                  'SELECT count(*) FROM "App Data"."has space" WHERE region = \'Ärger\''):
        assert psql(target, query) == psql(source, query)


def test_primary_key_order_does_not_depend_on_the_database_collation(postgres_server: str,  # noqa: F811
                                                                     tmp_path: Path) -> None:
    """ICU `en-US` sorts `a` < `B`, the C collation `B` < `a`: both sides must still hash rows in one order."""
    admin = f"{postgres_server}/postgres"
    psql(admin, "CREATE DATABASE pg_coll_src TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' "
                "LOCALE 'C.UTF-8'")
    psql(admin, "CREATE DATABASE pg_coll_dst TEMPLATE template0 LOCALE 'C'")
    source, target = f"{postgres_server}/pg_coll_src", f"{postgres_server}/pg_coll_dst"
    psql(source, "CREATE TABLE words (w text PRIMARY KEY); INSERT INTO words VALUES ('a'), ('B'), ('c'), ('D')")
    assert psql(source, "SELECT string_agg(w, '' ORDER BY w) FROM words") == "aBcD"
    report = copy_database(source, target, tmp_path)
    assert report.verified and report.tables["public.words"].source is not None
    assert psql(target, "SELECT string_agg(w, '' ORDER BY w) FROM words") == "BDac"


def test_rerun_copies_changes_and_never_overwrites_new_target_rows(postgres_server: str,  # noqa: F811
                                                                   tmp_path: Path) -> None:
    """The move copies twice (before and after re-wiring) and may be re-run: each run must succeed, and rows
    written to the target after its copy must survive."""
    source, target = create_database(postgres_server, "pg_re_src"), create_database(postgres_server, "pg_re_dst")
    psql(source, SCHEMA)
    copy_database(source, target, tmp_path)
    psql(source, 'UPDATE public."we""ird" SET body = \'changed\' WHERE id = 7; '
                 'DELETE FROM public."back`tick" WHERE k = \'a\'; INSERT INTO public."back`tick" VALUES (\'new\')')
    again = copy_database(source, target, tmp_path)  # same row counts, different content: copied again
    assert again.verified and again.method.startswith("pg_dump")
    assert psql(target, 'SELECT body FROM public."we""ird" WHERE id = 7') == "changed"
    assert psql(target, 'SELECT string_agg(k, \',\' ORDER BY k COLLATE "C") FROM public."back`tick"') == "B,Z,_,c,new"
    assert copy_database(source, target, tmp_path).method.startswith("none: the target already holds")
    psql(target, 'INSERT INTO public."back`tick" VALUES (\'written on the target\')')
    kept = copy_database(source, target, tmp_path)
    assert kept.verified and "the target has newer writes" in kept.method
    psql(source, 'INSERT INTO public."back`tick" VALUES (\'written on the source\')')
    with pytest.raises(PlatformError, match="and so was the source"):
        copy_database(source, target, tmp_path)
    assert psql(target, 'SELECT count(*) FROM public."back`tick" WHERE k = \'written on the target\'') == "1"


def test_target_with_foreign_tables_is_refused_untouched(postgres_server: str, tmp_path: Path) -> None:  # noqa: F811
    source, target = create_database(postgres_server, "pg_fo_src"), create_database(postgres_server, "pg_fo_dst")
    psql(source, SCHEMA)
    psql(target, 'CREATE TABLE public."we""ird" (id int, body text); INSERT INTO public."we""ird" VALUES (1, \'x\')')
    with pytest.raises(PlatformError, match="holds tables this move did not put there"):
        copy_database(source, target, tmp_path)
    assert psql(target, 'SELECT body FROM public."we""ird"') == "x"


def test_real_server_and_client_versions_are_read_and_reported(postgres_server: str) -> None:  # noqa: F811
    source, target = create_database(postgres_server, "pg_ver_src"), create_database(postgres_server, "pg_ver_dst")
    versions = preflight(source, target)
    server = psql(source, "SHOW server_version")
    assert versions["source server"] == versions["target server"] == f"PostgreSQL {server}"
    real = subprocess.run(["pg_dump", "--version"], capture_output=True, text=True).stdout.split()[2]
    assert versions["pg_dump"].startswith(f"{real} (") and versions["pg_restore"].startswith(f"{real} (")


def test_old_pg_dump_is_refused_before_anything_changes(postgres_server: str, tmp_path: Path,  # noqa: F811
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault 4b with the boundary faked: a pg_dump one major version older than the real server reads."""
    source, target = create_database(postgres_server, "pg_old_src"), create_database(postgres_server, "pg_old_dst")
    psql(source, SCHEMA)
    major = int(psql(source, "SHOW server_version_num")) // 10000
    log = wrap_client(tmp_path / "bin", "pg_dump", f"pg_dump (PostgreSQL) {major - 1}.9")
    wrap_client(tmp_path / "bin", "pg_restore", f"pg_restore (PostgreSQL) {major - 1}.9")
    client_path(monkeypatch, tmp_path / "bin")
    with pytest.raises(PlatformError) as err:
        copy_database(source, target, tmp_path / "work")
    message = str(err.value)
    assert f"pg_dump {major - 1}.9 (PostgreSQL, {tmp_path / 'bin' / 'pg_dump'}) cannot dump the source server, " \
           f"PostgreSQL {major}." in message
    assert f"install postgresql-client-{major}" in message and "https://wiki.postgresql.org/wiki/Apt" in message
    assert log.read_text().split() == ["--version"]  # asked its version, never run
    assert psql(target, "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', "
                        "'information_schema')") == "0"
    assert not (tmp_path / "work").exists()


def test_pg_restore_older_than_pg_dump_is_refused(postgres_server: str, tmp_path: Path,  # noqa: F811
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    source, target = create_database(postgres_server, "pg_rst_src"), create_database(postgres_server, "pg_rst_dst")
    wrap_client(tmp_path / "bin", "pg_restore", "pg_restore (PostgreSQL) 12.1")
    client_path(monkeypatch, tmp_path / "bin")
    with pytest.raises(PlatformError, match="pg_restore 12.1 .* cannot read archives written by pg_dump"):
        preflight(source, target)


def test_password_never_on_a_command_line_nor_in_the_report(postgres_server: str, tmp_path: Path,  # noqa: F811
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    source, target = create_database(postgres_server, "pg_pw_src"), create_database(postgres_server, "pg_pw_dst")
    psql(source, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)")
    dump_log = wrap_client(tmp_path / "bin", "pg_dump")
    restore_log = wrap_client(tmp_path / "bin", "pg_restore")
    client_path(monkeypatch, tmp_path / "bin")
    with_password = lambda url: url.replace("postgres@", "postgres:s3cret%27pw@")  # noqa: E731 - trust auth
    report = copy_database(with_password(source), with_password(target), tmp_path / "work")
    assert report.verified
    assert "pg_pw_src" in dump_log.read_text() and "pg_pw_dst" in restore_log.read_text()  # they did run
    history = (tmp_path / "work" / "database-copies.json").read_text()
    for text in (dump_log.read_text(), restore_log.read_text(), str(report.to_json()), history):
        assert "s3cret" not in text
    assert list((tmp_path / "work").glob("*.dump")) == []  # the dump is deleted
