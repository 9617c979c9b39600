"""A move's cut-over stops the source database's writes (`set_writes`), against real servers started by the tests:
the functions' accounts/roles can no longer write (their open connections are ended, new ones are read only), the
move's own account still can, and a database that becomes a move's target takes its roles' writes again."""

from __future__ import annotations

import subprocess

import pg8000.native
import pymysql
import pytest

from platform_sdk.move.database import set_writes
from tests.mariadb import (  # noqa: F401 - fixture
    create_mariadb_database,
    mariadb_run,
    mariadb_server,
)
from tests.postgres import create_database, postgres_server  # noqa: F401 - fixture


def psql(url: str, sql: str) -> str:
    return subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql], check=True, capture_output=True,
                          text=True).stdout.strip()


def test_postgres_functions_roles_are_refused_the_moves_is_not(postgres_server: str) -> None:  # noqa: F811
    url = create_database(postgres_server, "ro_src")
    psql(url, "DROP ROLE IF EXISTS ro_fn; CREATE ROLE ro_fn LOGIN PASSWORD 'pw'; "
              "CREATE TABLE users (email text PRIMARY KEY); GRANT ALL ON users TO ro_fn")
    port = int(postgres_server.rsplit(":", 1)[1])

    def function() -> pg8000.native.Connection:
        return pg8000.native.Connection("ro_fn", host="127.0.0.1", port=port, database="ro_src", password="pw")

    open_before = function()
    open_before.run("INSERT INTO users VALUES ('before')")
    assert set_writes(url, allowed=False)
    # its session was ended: the driver says so as an interface or database error, or the socket as reset
    with pytest.raises((pg8000.native.InterfaceError, pg8000.native.DatabaseError, ConnectionError)):
        open_before.run("INSERT INTO users VALUES ('open session')")
    with pytest.raises(pg8000.native.DatabaseError, match="read-only transaction"):
        function().run("INSERT INTO users VALUES ('after')")
    assert function().run("SELECT count(*) FROM users") == [[1]], "reads still work"
    psql(url, "INSERT INTO users VALUES ('by the move')")  # the move's (and Terraform's) own role writes

    assert set_writes(url, allowed=True) == "read-write"  # a rollback's target
    function().run("INSERT INTO users VALUES ('again')")
    assert psql(url, "SELECT string_agg(email, ',' ORDER BY email) FROM users") == "again,before,by the move"


def test_mariadb_functions_accounts_are_refused_the_moves_is_not(mariadb_server: str) -> None:  # noqa: F811
    url = create_mariadb_database(mariadb_server, "ro_src")
    mariadb_run(url, "CREATE TABLE users (email VARCHAR(40) PRIMARY KEY)",
                "CREATE USER IF NOT EXISTS 'ro_fn'@'%' IDENTIFIED BY 'pw'", "GRANT ALL PRIVILEGES ON ro_src.* TO "
                "'ro_fn'@'%'")
    port = int(mariadb_server.rsplit(":", 1)[1])

    def function() -> pymysql.connections.Connection:
        return pymysql.connect(host="127.0.0.1", port=port, user="ro_fn", password="pw", database="ro_src",
                               autocommit=True)

    open_before = function()
    open_before.cursor().execute("INSERT INTO users VALUES ('before')")
    assert set_writes(url, allowed=False)
    with pytest.raises(pymysql.err.Error):  # its connection was killed
        open_before.cursor().execute("INSERT INTO users VALUES ('open session')")
    with pytest.raises(pymysql.err.OperationalError, match="denied"):
        function().cursor().execute("INSERT INTO users VALUES ('after')")
    cursor = function().cursor()
    cursor.execute("SELECT count(*) FROM users")
    assert cursor.fetchone() == (1,), "reads still work"
    mariadb_run(url, "INSERT INTO users VALUES ('by the move')")
    assert mariadb_run(url, "SELECT email FROM users ORDER BY email") == [("before",), ("by the move",)]
