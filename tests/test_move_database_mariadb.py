"""MariaDB/MySQL -> same database moves against a real MariaDB server started by the tests (tests/mariadb.py).

Proves: a MariaDB database (awkward table, column and database names; views, triggers, routines) is copied with
mysqldump | mysql and verified per table by rows and content checksums; re-runs copy again; the local mysqldump
is checked against the real server's version before anything changes (boundary faked by a wrapper on PATH); the
password (with quotes, `#`, `@` and a space) never reaches a command line or the report.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from platform_sdk.errors import PlatformError
from platform_sdk.move.database import copy_database, preflight
from platform_sdk.move.db.checksum import ORDERED, UNORDERED
from tests.db_clients import client_path, wrap_client
from tests.mariadb import (  # noqa: F401 - fixture
    PASSWORD,
    create_mariadb_database,
    mariadb_run,
    mariadb_server,
    skip_or_fail,
)

SCHEMA = (
    "CREATE TABLE `we\"ird` (id INT PRIMARY KEY, body TEXT)",
    "CREATE TABLE `back``tick` (`Region` VARCHAR(20), `Seq` INT, note TEXT NULL, PRIMARY KEY (`Region`, `Seq`))",
    "CREATE TABLE `has space` (id BIGINT AUTO_INCREMENT PRIMARY KEY, at DATETIME(6), stamp TIMESTAMP NULL, "
    "amount DECIMAL(12, 4), ratio DOUBLE, raw VARBINARY(16), doc JSON, flag BIT(3))",
    "CREATE TABLE `Upper` (what VARCHAR(20), n INT)",  # no primary key, duplicate rows
    "CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(40))",
    "INSERT INTO `we\"ird` SELECT seq, CONCAT('tab\\there\\nnewline \\\\ backslash ', seq) FROM seq_1_to_300",
    "INSERT INTO `back``tick` SELECT r.v, s.seq, NULL FROM (SELECT 'eu' v UNION SELECT 'us' UNION SELECT 'Ärger') r "
    "CROSS JOIN seq_1_to_40 s",
    "INSERT INTO `has space` (at, stamp, amount, ratio, raw, doc, flag) SELECT "
    "'2024-02-29 12:00:00.123456' + INTERVAL seq HOUR, FROM_UNIXTIME(1700000000 + seq), seq / 7, seq / 3, "
    "UNHEX(LPAD(HEX(seq), 8, '0')), JSON_OBJECT('g', seq), b'101' FROM seq_1_to_500",
    "INSERT INTO `Upper` VALUES ('login', 1), ('login', 1), ('logout', NULL)",
    "CREATE VIEW `recent view` AS SELECT id, body FROM `we\"ird` WHERE id > 290",
    "CREATE TRIGGER `we\"ird_audit` AFTER INSERT ON `we\"ird` FOR EACH ROW INSERT INTO audit (what) VALUES "
    "(CONCAT('inserted ', NEW.id))",
    "CREATE PROCEDURE `count weird`() SELECT COUNT(*) FROM `we\"ird`",
)
TABLES = {'we"ird', "back`tick", "has space", "Upper", "audit"}


def test_mariadb_copy_verified_by_rows_and_checksums(mariadb_server: str, tmp_path: Path) -> None:  # noqa: F811
    """Issue 16 item 4: MariaDB/MySQL -> same, against a real server (before: "not supported yet")."""
    source = create_mariadb_database(mariadb_server, "src we`ird db")
    target = create_mariadb_database(mariadb_server, "dst we`ird db")
    mariadb_run(source, *SCHEMA)
    report = copy_database(source, target, tmp_path)
    assert report.verified and set(report.tables) == TABLES
    data = report.to_json()
    tables = data["tables"]
    assert tables['we"ird']["source_rows"] == tables['we"ird']["target_rows"] == 300  # type: ignore[index]
    assert tables["back`tick"]["primary_key"] == ["Region", "Seq"]  # type: ignore[index]
    assert tables["back`tick"]["checksum"] == ORDERED and tables["Upper"]["checksum"] == UNORDERED  # type: ignore[index]
    assert data["engine"] == "MariaDB/MySQL" and str(data["method"]).startswith("mysqldump")
    assert str(data["versions"]["source server"]).startswith("MariaDB 10.")  # type: ignore[index]
    assert str(data["versions"]["mysqldump"]).startswith("MariaDB ")  # type: ignore[index]
    for query in ("SELECT MD5(GROUP_CONCAT(id, body ORDER BY id SEPARATOR '|')) FROM `we\"ird`",
                  "SELECT MD5(GROUP_CONCAT(id, at, stamp, amount, ratio, HEX(raw), doc, flag + 0 ORDER BY id)) "
                  "FROM `has space`",
                  "SELECT COUNT(*) FROM `recent view`"):
        assert mariadb_run(target, query) == mariadb_run(source, query)
    mariadb_run(target, "INSERT INTO `we\"ird` VALUES (1000, 'fires the copied trigger')")
    assert mariadb_run(target, "SELECT what FROM audit") == [("inserted 1000",)]
    assert mariadb_run(target, "CALL `count weird`()") == [(301,)]


def test_mariadb_rerun_copies_changes(mariadb_server: str, tmp_path: Path) -> None:  # noqa: F811
    source = create_mariadb_database(mariadb_server, "re_src")
    target = create_mariadb_database(mariadb_server, "re_dst")
    mariadb_run(source, *SCHEMA)
    copy_database(source, target, tmp_path)
    mariadb_run(source, "UPDATE `we\"ird` SET body = 'changed' WHERE id = 7", "DELETE FROM `Upper` WHERE n IS NULL",
                "INSERT INTO `Upper` VALUES ('login', 1)")  # same row counts, different content
    again = copy_database(source, target, tmp_path)
    assert again.verified and again.method.startswith("mysqldump")
    assert mariadb_run(target, "SELECT body FROM `we\"ird` WHERE id = 7") == [("changed",)]
    assert mariadb_run(target, "SELECT COUNT(*) FROM `Upper` WHERE what = 'login'") == [(3,)]
    assert copy_database(source, target, tmp_path).method.startswith("none: the target already holds")


def test_old_mysqldump_is_refused_before_anything_changes(mariadb_server: str, tmp_path: Path,  # noqa: F811
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    source = create_mariadb_database(mariadb_server, "old_src")
    target = create_mariadb_database(mariadb_server, "old_dst")
    mariadb_run(source, *SCHEMA)
    log = wrap_client(tmp_path / "bin", "mysqldump", "mysqldump  Ver 10.19 Distrib 10.5.0-MariaDB, for Linux")
    client_path(monkeypatch, tmp_path / "bin")
    with pytest.raises(PlatformError) as err:
        copy_database(source, target, tmp_path / "work")
    server = str(mariadb_run(source, "SELECT VERSION()")[0][0])
    release = ".".join(server.split(".")[:2])
    assert f"is older than the source server, MariaDB {server}: install mariadb-client {release} or newer" \
        in str(err.value)
    assert log.read_text().split() == ["--version"]
    assert mariadb_run(target, "SHOW TABLES") == []
    assert not (tmp_path / "work").exists()


def test_mysql_client_against_mariadb_server_is_refused(mariadb_server: str, tmp_path: Path,  # noqa: F811
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    source = create_mariadb_database(mariadb_server, "fam_src")
    wrap_client(tmp_path / "bin", "mysqldump", "mysqldump  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server)")
    client_path(monkeypatch, tmp_path / "bin")
    with pytest.raises(PlatformError, match="is not verified against a MariaDB .* server: install mariadb-client"):
        preflight(source, create_mariadb_database(mariadb_server, "fam_dst"))


def test_password_never_on_a_command_line_nor_in_the_report(mariadb_server: str, tmp_path: Path,  # noqa: F811
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    source = create_mariadb_database(mariadb_server, "pw_src")
    target = create_mariadb_database(mariadb_server, "pw_dst")
    mariadb_run(source, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1)")
    dump_log = wrap_client(tmp_path / "bin", "mysqldump")
    load_log = wrap_client(tmp_path / "bin", "mysql")
    client_path(monkeypatch, tmp_path / "bin")
    report = copy_database(source, target, tmp_path / "work")
    assert report.verified
    assert "pw_src" in dump_log.read_text() and "pw_dst" in load_log.read_text()  # they did run
    secret = PASSWORD.split()[0]
    history = tmp_path / "work" / "database-copies.json"
    for text in (dump_log.read_text(), load_log.read_text(), str(report.to_json()), history.read_text()):
        assert secret not in text and "p%40ss" not in text
    assert list((tmp_path / "work").rglob("*")) == [history]  # the option files are deleted


def test_wrong_password_is_one_clear_error(mariadb_server: str, tmp_path: Path) -> None:  # noqa: F811
    source = create_mariadb_database(mariadb_server, "bad_src")
    wrong = source.replace("p%40ss", "nope")
    with pytest.raises(PlatformError, match="cannot connect to the source database mysql://platform:\\*\\*\\*@.*"
                                            "Access denied"):
        copy_database(wrong, wrong.replace("bad_src", "bad_dst"), tmp_path)


def test_a_server_that_cannot_start_fails_under_ci_and_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true and mariadbd missing"):
        skip_or_fail("mariadbd missing")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="mariadbd missing"):
        skip_or_fail("mariadbd missing")
