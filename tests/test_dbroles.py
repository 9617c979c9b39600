"""Issue 13.4: a function's database role can do exactly what its grant allows, proven on real servers.

PostgreSQL is started with password authentication for every connection (no `trust`), and the roles are set up by
a non-superuser administrator with CREATEROLE that owns the database, which is what RDS's and Cloud SQL's master
users are. MariaDB stands in for MySQL. Each role logs in with its own password and tries what its grant allows
(rows of every table, tables created by other roles included; owners also create tables) and what it does not
(DDL for non-owners, dropping another role's table, TRUNCATE, roles, databases, other databases, other schemas).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlparse

import pytest

from platform_sdk.runtime import dbroles
from platform_sdk.runtime.dbroles import Role
from tests.mariadb import mariadb_server  # noqa: F401 - fixture
from tests.postgres import postgres_password_server  # noqa: F401 - fixture

PERMISSION_DENIED = "42501"  # PostgreSQL insufficient_privilege
AUTH_FAILED = "28P01"


def _pg(server: str, user: str, password: str, database: str) -> Any:
    import pg8000.dbapi

    parsed = urlparse(server)
    return pg8000.dbapi.connect(host=parsed.hostname, port=parsed.port, user=user, password=password,
                                database=database)


def _code(exc: BaseException) -> str:
    args = getattr(exc, "args", ())
    return str(args[0].get("C")) if args and isinstance(args[0], dict) else str(args[0] if args else exc)


class PgLogin:
    """One role's session: `run` commits, `refused` expects a permission error and rolls back."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def run(self, sql: str) -> list[tuple[Any, ...]]:
        cursor = self.conn.cursor()
        cursor.execute(sql)
        rows = [tuple(r) for r in cursor.fetchall()] if cursor.description else []
        self.conn.commit()
        return rows

    def refused(self, sql: str, code: str = PERMISSION_DENIED) -> None:
        self.conn.autocommit = sql.startswith("CREATE DATABASE")  # not allowed inside a transaction
        cursor = self.conn.cursor()
        with pytest.raises(Exception) as info:
            cursor.execute(sql)
        if not self.conn.autocommit:
            self.conn.rollback()
        self.conn.autocommit = False
        assert _code(info.value) == code, f"{sql}: {info.value}"


@pytest.fixture
def pg(postgres_password_server: str) -> Iterator[dict[str, Any]]:  # noqa: F811
    """A database `app_<id>` owned by `master_<id>`: a non-superuser with CREATEROLE (the shape of RDS's master user),
    a private schema of the master's, and a second database `other_<id>`."""
    parsed = urlparse(postgres_password_server)
    superuser = unquote(parsed.password or "")
    tag = uuid.uuid4().hex[:8]
    master, master_pw, database = f"master_{tag}", secrets.token_hex(12), f"app_{tag}"
    admin = _pg(postgres_password_server, "postgres", superuser, "postgres")
    admin.autocommit = True
    cursor = admin.cursor()
    cursor.execute(f"CREATE ROLE {master} LOGIN CREATEROLE CREATEDB PASSWORD '{master_pw}'")
    cursor.execute(f"CREATE DATABASE {database} OWNER {master}")
    cursor.execute(f"CREATE DATABASE other_{tag} OWNER {master}")
    cursor.execute("DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam') THEN "
                   "CREATE ROLE rds_iam NOLOGIN; END IF; END$$")
    cursor.execute(f"GRANT rds_iam TO {master} WITH ADMIN OPTION")  # RDS's master may grant rds_iam
    other = _pg(postgres_password_server, master, master_pw, f"other_{tag}")  # a database of another service:
    dbroles.ensure(other, "postgres", Role(f"otherfn_{tag}", f"other_{tag}"), secrets.token_hex(8))  # platform-made
    other.close()
    conn = _pg(postgres_password_server, master, master_pw, database)
    setup = PgLogin(conn)
    setup.run("CREATE SCHEMA private")
    setup.run("CREATE TABLE private.secrets (k text)")
    setup.run("INSERT INTO private.secrets VALUES ('the master''s')")
    setup.run("ALTER DATABASE " + database + " SET search_path = public")
    yield {"server": postgres_password_server, "master": conn, "database": database, "tag": tag, "admin": admin}
    conn.close()
    admin.close()


def _login(pg: dict[str, Any], role: str, password: str, database: str | None = None) -> PgLogin:
    return PgLogin(_pg(pg["server"], role, password, database or pg["database"]))


def test_postgres_roles_can_do_exactly_what_connect_grants(pg: dict[str, Any]) -> None:
    db, tag = pg["database"], pg["tag"]
    passwords = {name: secrets.token_hex(12) for name in ("api", "cleanup", "report")}
    roles = {"api": Role(f"api_{tag}", db, owner=True), "cleanup": Role(f"cleanup_{tag}", db, owner=True),
             "report": Role(f"report_{tag}", db, owner=False)}  # report: a function of another service
    for key, role in roles.items():
        dbroles.ensure(pg["master"], "postgres", role, passwords[key])
    api = _login(pg, roles["api"].name, passwords["api"])
    cleanup = _login(pg, roles["cleanup"].name, passwords["cleanup"])
    report = _login(pg, roles["report"].name, passwords["report"])

    # owners carry the schema in their code
    api.run("CREATE TABLE IF NOT EXISTS sessions (token text PRIMARY KEY, n serial)")
    api.run("INSERT INTO sessions (token) VALUES ('a'), ('b'), ('c')")
    cleanup.run("CREATE TABLE IF NOT EXISTS sessions (token text PRIMARY KEY, n serial)")  # exists: skipped
    assert cleanup.run("DELETE FROM sessions WHERE token = 'a' RETURNING token") == [("a",)]
    assert report.run("SELECT token FROM sessions ORDER BY token") == [("b",), ("c",)]
    report.run("INSERT INTO sessions (token) VALUES ('d')")  # the sequence of another role's serial column too
    report.run("UPDATE sessions SET token = 'e' WHERE token = 'd'")
    report.run("DELETE FROM sessions WHERE token = 'e'")

    # and no more
    report.refused("CREATE TABLE mine (x int)")
    cleanup.refused("DROP TABLE sessions")  # only its creator may drop it
    cleanup.refused("ALTER TABLE sessions ADD COLUMN y int")
    report.refused("TRUNCATE sessions")
    for login in (api, report):
        login.refused("SELECT * FROM private.secrets")
        login.refused("CREATE SCHEMA mine")
        login.refused(f"CREATE ROLE sneaky_{tag}")
        login.refused(f"CREATE DATABASE sneaky_{tag}")
    with pytest.raises(Exception) as info:
        _login(pg, roles["api"].name, passwords["api"], database=f"other_{tag}")
    assert _code(info.value) == PERMISSION_DENIED  # no CONNECT on another database
    with pytest.raises(Exception) as info:
        _login(pg, roles["api"].name, "not-the-password")
    assert _code(info.value) == AUTH_FAILED
    assert api.run("SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user") == [
        (False, False, False)]


def test_postgres_ensure_is_idempotent_and_follows_the_grant(pg: dict[str, Any]) -> None:
    db, tag = pg["database"], pg["tag"]
    password = secrets.token_hex(12)
    owner = Role(f"fn_{tag}", db, owner=True)
    dbroles.ensure(pg["master"], "postgres", owner, password)
    dbroles.ensure(pg["master"], "postgres", owner, password)
    login = _login(pg, owner.name, password)
    login.run("CREATE TABLE t1 (x int)")
    dbroles.ensure(pg["master"], "postgres", Role(owner.name, db, owner=False), password)  # no longer an owner
    login.refused("CREATE TABLE t2 (x int)")
    login.run("INSERT INTO t1 VALUES (1)")
    rotated = secrets.token_hex(12)
    dbroles.ensure(pg["master"], "postgres", Role(owner.name, db, owner=False), rotated)
    assert _login(pg, owner.name, rotated).run("SELECT x FROM t1") == [(1,)]


def test_postgres_dropping_a_role_keeps_its_tables_and_the_other_roles_rights(pg: dict[str, Any]) -> None:
    db, tag = pg["database"], pg["tag"]
    pw = {"a": secrets.token_hex(12), "b": secrets.token_hex(12)}
    creator, user = Role(f"creator_{tag}", db, owner=True), Role(f"user_{tag}", db)
    dbroles.ensure(pg["master"], "postgres", creator, pw["a"])
    dbroles.ensure(pg["master"], "postgres", user, pw["b"])
    _login(pg, creator.name, pw["a"]).run("CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)")
    dbroles.drop(pg["master"], "postgres", creator)
    dbroles.drop(pg["master"], "postgres", creator)  # already gone: nothing to do
    assert not dbroles.role_exists(pg["master"], "postgres", creator.name)
    assert _login(pg, user.name, pw["b"]).run("SELECT x FROM kept") == [(42,)]
    owner = PgLogin(pg["master"]).run("SELECT tableowner FROM pg_tables WHERE tablename = 'kept'")
    assert owner == [(f"master_{tag}",)]


def test_postgres_iam_roles_have_no_password_and_the_master_keeps_its_own(pg: dict[str, Any]) -> None:
    """RDS IAM authentication: the role joins rds_iam; the master user is never left a member of an rds_iam role
    (it would then have to log in with IAM tokens too)."""
    db, tag = pg["database"], pg["tag"]
    role = Role(f"iam_{tag}", db, owner=True, auth="rds_iam")
    dbroles.ensure(pg["master"], "postgres", role)
    check = PgLogin(pg["master"])
    assert check.run(f"SELECT pg_has_role('{role.name}', 'rds_iam', 'MEMBER')") == [(True,)]
    assert check.run(f"SELECT pg_has_role('master_{tag}', '{role.name}', 'MEMBER')") == [(False,)]
    with pytest.raises(Exception) as info:
        _login(pg, role.name, "")
    assert "password" in str(info.value).lower() or _code(info.value) == AUTH_FAILED


def test_role_names_fit_each_engine_and_stay_unique() -> None:
    assert dbroles.role_name("acme-prod-auth-api") == "acme_prod_auth_api"
    long = dbroles.role_name("acme-production-thumbnails-on-demand", engine="mysql")
    assert len(long) == 32 and long.startswith("acme_production_thumbna_")
    assert long != dbroles.role_name("acme-production-thumbnails-on-demand2", engine="mysql")
    assert dbroles.role_name("9lives") == "r_9lives"
    pair = dbroles.role_name("acme-local-auth-api", "acme-local-auth-users")
    assert pair == "acme_local_auth_api__acme_local_auth_users"
    with pytest.raises(ValueError, match="auth must be one of"):
        Role("x", "db", auth="kerberos")
    with pytest.raises(ValueError, match="needs a password"):
        dbroles.role_statements("postgres", Role("x", "db"))


# -- MariaDB (MySQL) -------------------------------------------------------------------------------------------
def _my(server: str, user: str, password: str, database: str | None) -> Any:
    import pymysql

    parsed = urlparse(server)
    return pymysql.connect(host=parsed.hostname, port=parsed.port, user=user, password=password, database=database)


class MyLogin:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def run(self, sql: str) -> list[tuple[Any, ...]]:
        with self.conn.cursor() as cursor:
            cursor.execute(sql)
            rows = list(cursor.fetchall())
        self.conn.commit()
        return rows

    def refused(self, sql: str) -> None:
        with self.conn.cursor() as cursor, pytest.raises(Exception) as info:
            cursor.execute(sql)
        assert info.value.args[0] in (1044, 1142, 1227, 1045, 1410), f"{sql}: {info.value}"


@pytest.fixture
def my(mariadb_server: str) -> Iterator[dict[str, Any]]:  # noqa: F811
    parsed = urlparse(mariadb_server)
    tag = uuid.uuid4().hex[:8]
    admin = _my(mariadb_server, parsed.username or "", unquote(parsed.password or ""), None)
    login = MyLogin(admin)
    login.run(f"CREATE DATABASE app_{tag}")
    login.run(f"CREATE DATABASE other_{tag}")
    login.run(f"CREATE TABLE other_{tag}.secrets (k text)")
    admin.select_db(f"app_{tag}")
    yield {"server": mariadb_server, "admin": admin, "database": f"app_{tag}", "tag": tag}
    admin.close()


def test_mysql_users_can_do_exactly_what_connect_grants(my: dict[str, Any]) -> None:
    db, tag = my["database"], my["tag"]
    pw = {"owner": secrets.token_hex(12), "user": secrets.token_hex(12)}
    owner, user = Role(f"owner_{tag}", db, owner=True), Role(f"user_{tag}", db)
    dbroles.ensure(my["admin"], "mysql", owner, pw["owner"])
    dbroles.ensure(my["admin"], "mysql", owner, pw["owner"])  # idempotent
    dbroles.ensure(my["admin"], "mysql", user, pw["user"])
    as_owner = MyLogin(_my(my["server"], owner.name, pw["owner"], db))
    as_user = MyLogin(_my(my["server"], user.name, pw["user"], db))
    as_owner.run("CREATE TABLE IF NOT EXISTS sessions (token VARCHAR(64) PRIMARY KEY, n INT)")
    as_owner.run("CREATE INDEX sessions_n ON sessions (n)")
    as_owner.run("INSERT INTO sessions VALUES ('a', 1), ('b', 2)")
    as_user.run("INSERT INTO sessions VALUES ('c', 3)")
    as_user.run("UPDATE sessions SET n = 4 WHERE token = 'c'")
    as_user.run("DELETE FROM sessions WHERE token = 'a'")
    assert as_user.run("SELECT token, n FROM sessions ORDER BY token") == [("b", 2), ("c", 4)]
    as_user.refused("CREATE TABLE mine (x INT)")
    for login in (as_owner, as_user):
        login.refused("DROP TABLE sessions")
        login.refused("ALTER TABLE sessions ADD COLUMN y INT")
        login.refused("TRUNCATE TABLE sessions")
        login.refused(f"SELECT * FROM other_{tag}.secrets")
        login.refused(f"CREATE USER 'sneaky_{tag}'@'%'")
        login.refused(f"CREATE DATABASE sneaky_{tag}")
    with pytest.raises(Exception) as info:
        _my(my["server"], owner.name, pw["owner"], f"other_{tag}")
    assert info.value.args[0] == 1044  # access denied to another database

    dbroles.ensure(my["admin"], "mysql", Role(owner.name, db, owner=False), pw["owner"])  # no longer an owner
    MyLogin(_my(my["server"], owner.name, pw["owner"], db)).refused("CREATE TABLE t2 (x INT)")
    dbroles.drop(my["admin"], "mysql", owner)
    assert not dbroles.role_exists(my["admin"], "mysql", owner.name)
    assert as_user.run("SELECT count(*) FROM sessions") == [(2,)]  # the data stays


def test_mysql_iam_users_use_the_rds_plugin() -> None:
    statements = dbroles.role_statements("mysql", Role("fn", "app", auth="rds_iam"))
    assert statements[0] == "CREATE USER IF NOT EXISTS 'fn'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'"
    assert statements[-1] == "GRANT SELECT, INSERT, UPDATE, DELETE ON `app`.* TO 'fn'@'%'"
