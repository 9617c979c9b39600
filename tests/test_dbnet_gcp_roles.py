"""Issue 13.4 on GCP: the GRANT step after `platform apply` gives each function's Cloud SQL IAM user its rights.

Before, the step of platform_sdk.runtime.dbroles was not automated on GCP: an owner function's IAM user could not
CREATE TABLE, and on MySQL no function had any row right. Now the GCP plug-in's post-apply step reads the
stacks' outputs, fetches the built-in user's password from Secret Manager (the fake Secret Manager REST server,
driven by the real client), connects through the Cloud SQL connector and runs the statements as the administrator.
The connector is the boundary: only its `connect` is faked, opening a real connection to a real PostgreSQL started
with password authentication (the administrator a non-superuser with CREATEROLE, as Cloud SQL's built-in user is)
or a real MariaDB. The IAM users are made by the server's superuser, as Cloud SQL makes them, with the predefined
roles Cloud SQL gives them (`database_roles`).
"""

from __future__ import annotations

import secrets
import sys
import types
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, unquote, urlparse

import pytest

from platform_sdk.providers import plugin
from platform_sdk.providers.gcp.runtime import database as gcp_database
from tests.conformance_estates import matrix
from tests.fake_secretmanager import FakeSecretManager, _Secret, _Version
from tests.mariadb import mariadb_server  # noqa: F401 - fixture
from tests.postgres import postgres_password_server  # noqa: F401 - fixture
from tests.test_dbroles import MyLogin, PgLogin, _my, _pg

PROJECT = "acme-dbnet-123"
PERMISSION_DENIED = "42501"


def test_synthesis_says_what_the_grant_step_does() -> None:
    """The database's stack publishes where the step connects; each function's stack its user and ownership."""
    documents = matrix("gcp").documents()
    admin = documents["gcp-app-gcp"]["output"]["dbadmin_db"]["value"]
    assert admin["engine"] == "postgres" and admin["name"] == "app.db"
    assert "?instance=" in admin["admin_url"] and "&secret=" in admin["admin_url"]
    roles = {key: output["value"] for name, document in documents.items()
             for key, output in (document.get("output") or {}).items() if key.startswith("dbrole_")}
    assert {key: role["owner"] for key, role in roles.items()} == {
        "dbrole_dbuser_app_db": True, "dbrole_vpcfiles_app_db": True,  # functions of the service declaring it
        "dbrole_dbclient_store_shared_db": False}  # a function of another service: rows only
    assert roles["dbrole_dbuser_app_db"]["user"] == f"acme-gcp-app-dbuser@{'acme-conf-123'}.iam"
    assert roles["dbrole_dbuser_app_db"]["admin_url"] == admin["admin_url"]


# -- the step against real servers ------------------------------------------------------------------------------
@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[dict[str, Any]]:
    """The fake Secret Manager, and the connector whose `connect` opens a real connection to the server registered
    for the instance (`servers`), recording (instance, driver, user)."""
    servers: dict[str, str] = {}
    calls: list[tuple[str, str, str]] = []

    class Connector:  # the Cloud SQL Python Connector's API: Connector().connect(instance, driver, **kwargs)
        def connect(self, instance: str, driver: str, **kwargs: Any) -> Any:
            calls.append((instance, driver, kwargs["user"]))
            server = servers[instance]
            if driver == "pg8000":
                return _pg(server, kwargs["user"], kwargs["password"], kwargs["db"])
            return _my(server, kwargs["user"], kwargs["password"], kwargs["db"])

    module = types.ModuleType("google.cloud.sql.connector")
    module.Connector = Connector  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "google.cloud.sql.connector", module)
    monkeypatch.setattr(gcp_database, "_connector", None)
    monkeypatch.setenv(gcp_database.SOCKET_DIR_ENV, str(tmp_path))  # no Cloud SQL socket: the connector path
    fake = FakeSecretManager()
    with fake.running() as url:
        monkeypatch.setenv(gcp_database.ENDPOINT_ENV, url)
        yield {"servers": servers, "calls": calls, "secrets": fake}


def _secret(cloud: dict[str, Any], name: str, password: str) -> str:
    full = f"projects/{PROJECT}/secrets/{name}"
    cloud["secrets"].secrets[full] = _Secret(full, {}, [_Version(1, password.encode())])
    return full


def _outputs(admin_url: str, engine: str, database: str, roles: dict[str, bool]) -> dict[str, dict[str, Any]]:
    """Stack outputs as `platform apply` reads them: the database's stack and one function stack per role."""
    outputs: dict[str, dict[str, Any]] = {"dev-data-gcp": {"dbadmin_db": {
        "admin_url": admin_url, "engine": engine, "database": database, "name": "data.db"}}}
    for index, (user, owner) in enumerate(roles.items()):
        outputs[f"dev-svc{index}-gcp"] = {f"dbrole_fn{index}_data_db": {
            "admin_url": admin_url, "engine": engine, "database": database, "user": user, "owner": owner}}
    return outputs


def _step(outputs: dict[str, dict[str, Any]]) -> list[tuple[str, bool]]:
    return plugin("gcp").after_apply(None, outputs)  # type: ignore[arg-type]


def _pg_refused(server: str, user: str, password: str, database: str) -> None:
    with pytest.raises(Exception) as info:
        _pg(server, user, password, database)
    assert PERMISSION_DENIED in str(info.value)


def test_postgres_owner_functions_create_tables_and_readers_use_rows(cloud: dict[str, Any],
                                                                     postgres_password_server: str,  # noqa: F811
                                                                     ) -> None:
    server = postgres_password_server
    tag = uuid.uuid4().hex[:8]
    admin_user, admin_pw, database = f"app_{tag}", secrets.token_hex(12), f"db_{tag}"
    owner_user, reader_user = f"api-{tag}@{PROJECT}.iam", f"report-{tag}@{PROJECT}.iam"
    passwords = {owner_user: secrets.token_hex(8), reader_user: secrets.token_hex(8)}  # IAM tokens, in effect
    superuser = _pg(server, "postgres", unquote(urlparse(server).password or ""), "postgres")
    superuser.autocommit = True
    cursor = superuser.cursor()
    cursor.execute(f"CREATE ROLE {admin_user} LOGIN CREATEROLE CREATEDB PASSWORD '{admin_pw}'")  # the built-in user
    cursor.execute(f"CREATE DATABASE {database} OWNER {admin_user}")
    for user, password in passwords.items():  # Cloud SQL makes the IAM users, with their `database_roles`
        cursor.execute(f"CREATE ROLE \"{user}\" LOGIN PASSWORD '{password}'")
        cursor.execute(f"GRANT pg_read_all_data, pg_write_all_data TO \"{user}\"")
    superuser.close()
    instance = f"{PROJECT}:europe-west1:pg-{tag}"
    cloud["servers"][instance] = server
    secret = _secret(cloud, f"pg-{tag}-password", admin_pw)
    admin_url = f"postgres://{admin_user}@/{database}?instance={instance}&secret={secret}&cloud=gcp"
    outputs = _outputs(admin_url, "postgres", database, {owner_user: True, reader_user: False})

    owner = PgLogin(_pg(server, owner_user, passwords[owner_user], database))
    owner.refused("CREATE TABLE sessions (token text)")  # before the step: the owner cannot create its tables
    owner.conn.close()

    assert _step(outputs) == [("data.db: database rights of 2 function user(s) granted", False)]
    assert cloud["calls"] == [(instance, "pg8000", admin_user)]  # as the built-in user, through the connector

    owner = PgLogin(_pg(server, owner_user, passwords[owner_user], database))
    reader = PgLogin(_pg(server, reader_user, passwords[reader_user], database))
    owner.run("CREATE TABLE IF NOT EXISTS sessions (token text PRIMARY KEY, n serial)")
    owner.run("INSERT INTO sessions (token) VALUES ('a'), ('b')")
    assert reader.run("SELECT token FROM sessions ORDER BY token") == [("a",), ("b",)]
    reader.run("INSERT INTO sessions (token) VALUES ('c')")
    reader.run("DELETE FROM sessions WHERE token = 'a'")
    reader.refused("CREATE TABLE mine (x int)")  # a reader has rows only
    reader.refused("DROP TABLE sessions")
    assert _step(outputs) == [("data.db: database rights of 2 function user(s) granted", False)]  # idempotent
    owner.conn.close()
    reader.conn.close()

    # the owner function goes: its user loses the database (its tables stay, with their rows)
    del outputs["dev-svc0-gcp"]
    assert _step(outputs) == [(f"data.db: database rights of 1 function user(s) granted, revoked from {owner_user}",
                               False)]
    _pg_refused(server, owner_user, passwords[owner_user], database)
    reader = PgLogin(_pg(server, reader_user, passwords[reader_user], database))
    assert reader.run("SELECT token FROM sessions ORDER BY token") == [("b",), ("c",)]
    reader.conn.close()


def test_mysql_functions_get_their_row_rights(cloud: dict[str, Any], mariadb_server: str) -> None:  # noqa: F811
    server = mariadb_server
    parsed = urlparse(server)
    admin_user, admin_pw = parsed.username or "", unquote(parsed.password or "")
    tag = uuid.uuid4().hex[:8]
    database = f"app_{tag}"
    owner_user, reader_user = f"api-{tag}", f"report-{tag}"  # Cloud SQL: the part of the email before `@`
    passwords = {owner_user: secrets.token_hex(8), reader_user: secrets.token_hex(8)}
    admin = MyLogin(_my(server, admin_user, admin_pw, None))
    admin.run(f"CREATE DATABASE {database}")
    admin.run(f"CREATE TABLE {database}.orders (id int PRIMARY KEY, item text)")
    for user, password in passwords.items():  # Cloud SQL makes the IAM users, without rights
        admin.run(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
    instance = f"{PROJECT}:europe-west1:my-{tag}"
    cloud["servers"][instance] = server
    secret = _secret(cloud, f"my-{tag}-password", admin_pw)
    admin_url = f"mysql://{quote(admin_user)}@/{database}?instance={instance}&secret={secret}&cloud=gcp"
    outputs = _outputs(admin_url, "mysql", database, {owner_user: True, reader_user: False})

    reader = MyLogin(_my(server, reader_user, passwords[reader_user], None))
    reader.refused(f"SELECT * FROM {database}.orders")  # before the step: no row right at all
    reader.conn.close()

    assert _step(outputs) == [("data.db: database rights of 2 function user(s) granted", False)]
    assert cloud["calls"] == [(instance, "pymysql", admin_user)]

    reader = MyLogin(_my(server, reader_user, passwords[reader_user], database))
    owner = MyLogin(_my(server, owner_user, passwords[owner_user], database))
    reader.run("INSERT INTO orders VALUES (1, 'pen'), (2, 'ink')")
    reader.run("UPDATE orders SET item = 'nib' WHERE id = 2")
    reader.run("DELETE FROM orders WHERE id = 1")
    assert reader.run("SELECT id, item FROM orders") == [(2, "nib")]
    reader.refused("CREATE TABLE mine (x int)")  # rows only
    owner.run("CREATE TABLE IF NOT EXISTS invoices (id int PRIMARY KEY)")  # the owner carries the schema
    owner.run("INSERT INTO invoices VALUES (7)")
    assert reader.run("SELECT id FROM invoices") == [(7,)]
    reader.refused("DROP TABLE invoices")
    reader.refused("SELECT * FROM mysql.user")
    reader.conn.close()
    owner.conn.close()

    del outputs["dev-svc1-gcp"]  # the reader function goes
    assert _step(outputs) == [(f"data.db: database rights of 1 function user(s) granted, revoked from {reader_user}",
                               False)]
    reader = MyLogin(_my(server, reader_user, passwords[reader_user], None))
    reader.refused(f"SELECT * FROM {database}.orders")
    reader.conn.close()
    admin.run(f"DROP DATABASE {database}")
    admin.conn.close()


def test_a_database_that_cannot_be_reached_is_reported_and_fails_the_apply(cloud: dict[str, Any]) -> None:
    """The step reports each database it could not grant on (the apply then exits 1); nothing is retried silently."""
    secret = _secret(cloud, "gone-password", "x")
    url = f"postgres://app@/db?instance={PROJECT}:europe-west1:gone&secret={secret}&cloud=gcp"
    ((line, failed),) = _step(_outputs(url, "postgres", "db", {"fn@p.iam": True}))
    assert failed and line.startswith("data.db: database rights not granted: KeyError")


def test_without_the_connector_the_step_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "google.cloud.sql.connector", None)  # `import` raises ImportError
    url = f"postgres://app@/db?instance={PROJECT}:europe-west1:i&secret=projects/{PROJECT}/secrets/s&cloud=gcp"
    ((line, failed),) = _step(_outputs(url, "postgres", "db", {"fn@p.iam": False}))
    assert failed and "pip install cloud-sql-python-connector" in line
    assert _step({"dev-web-gcp": {"bucket_site_url": "gs://x"}}) == []  # no database: nothing to do


def test_platform_apply_runs_the_step_over_the_settled_stacks_of_each_plugin(cloud: dict[str, Any]) -> None:
    """The apply's hook: every plug-in's `after_apply` gets its settled stacks' outputs (a failed stack's are not
    passed), and the lines are shown under the apply; a failed step is what makes the apply exit 1."""
    from io import StringIO
    from types import SimpleNamespace

    from rich.console import Console

    from platform_sdk.commands.deploy import _after_apply
    from platform_sdk.terraform import report as rp

    secret = _secret(cloud, "hook-password", "x")
    url = f"postgres://app@/db?instance={PROJECT}:europe-west1:hook&secret={secret}&cloud=gcp"
    outputs = _outputs(url, "postgres", "db", {"fn@p.iam": True})
    results = [rp.StackResult(name, name.split("-")[1], "gcp", "gcp", status=rp.APPLIED, outputs=values,
                              outputs_known=True) for name, values in outputs.items()]
    results.append(rp.StackResult("dev-other-gcp", "other", "gcp", "gcp", status=rp.FAILED,
                                  outputs={"dbadmin_x": {"admin_url": "postgres://app@/x?cloud=gcp",
                                                         "engine": "postgres", "database": "x", "name": "other.x"}}))
    results.append(rp.StackResult("dev-files-local", "files", "local", "local", status=rp.APPLIED))
    session = SimpleNamespace(env=SimpleNamespace(name="dev"),
                              runner=SimpleNamespace(results={r.name: r for r in results}, ledger=None))
    out = StringIO()
    steps = _after_apply(session, results, Console(file=out, width=200))  # type: ignore[arg-type]
    assert [line.split(":")[0] for line, _ in steps] == ["data.db"]  # not the failed stack's database
    assert steps[0][1] is True  # the instance is unreachable here: reported as failed
    assert "After the apply of environment dev:" in out.getvalue() and "data.db: database rights not granted" \
        in out.getvalue()
