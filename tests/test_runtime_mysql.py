"""Issue 13.3: the function runtime speaks MySQL (PyMySQL), tested against a real MariaDB server.

Before: `database("users").connect()` on a `mysql://` URL raised "the function runtime does not speak mysql yet"
while the local cloud accepted the engine. Now the same `?`-placeholder API runs on MySQL: the secret is read from
the cloud's store (moto's Secrets Manager here), placeholders are translated with MySQL's lexical rules, a rotated
password is refetched once, and transactions commit or roll back like on PostgreSQL.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from urllib.parse import unquote, urlparse

import pytest

from platform_sdk.runtime import database
from platform_sdk.runtime.database import qmark_to_format
from tests.mariadb import create_mariadb_database, mariadb_run, mariadb_server  # noqa: F401 - fixture
from tests.test_runtime import function_env, moto  # noqa: F401 - fixtures

database_module = sys.modules["platform_sdk.runtime.database"]


@pytest.mark.parametrize(
    ("sql", "expected", "count"),
    [
        ("SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = %s AND b = %s", 2),
        ("SELECT 'it\\'s ?', \"dq ?\", `we?ird` WHERE x LIKE 'a%' AND y = ?",
         "SELECT 'it\\'s ?', \"dq ?\", `we?ird` WHERE x LIKE 'a%%' AND y = %s", 1),
        ("SELECT 1 # what?\nFROM t WHERE a = ? -- and?\n", "SELECT 1 # what?\nFROM t WHERE a = %s -- and?\n", 1),
        ("SELECT 5--?\n", "SELECT 5--%s\n", 1),  # `--` without a space is not a comment on MySQL
        ("SELECT /* ? */ 'a''?', `a``?`, ?", "SELECT /* ? */ 'a''?', `a``?`, %s", 1),
        ("SELECT $$ ? $$", "SELECT $$ %s $$", 1),  # no dollar quoting on MySQL
    ],
)
def test_mysql_qmark_translation(sql: str, expected: str, count: int) -> None:
    assert qmark_to_format(sql, "mysql") == (expected, count)


def _admin(server: str) -> dict[str, object]:
    parsed = urlparse(server)
    return {"host": parsed.hostname, "port": parsed.port, "user": parsed.username,
            "password": unquote(parsed.password or "")}


def _set_app_password(server: str, user: str, password: str) -> None:
    import pymysql

    with pymysql.connect(**_admin(server), autocommit=True) as conn, conn.cursor() as cur:  # type: ignore[arg-type]
        cur.execute("CREATE USER IF NOT EXISTS %s@'127.0.0.1' IDENTIFIED BY %s", (user, password))
        cur.execute("ALTER USER %s@'127.0.0.1' IDENTIFIED BY %s", (user, password))
        cur.execute(f"GRANT ALL PRIVILEGES ON `orders`.* TO `{user}`@'127.0.0.1'")


@pytest.fixture
def aws_orders_db(mariadb_server: str, moto: str,  # noqa: F811
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """`orders` granted to the function, RDS-style: a MySQL URL without password, the secret in Secrets Manager."""
    import boto3

    create_mariadb_database(mariadb_server, "orders")
    user, password = "app", f"pw-{uuid.uuid4().hex}"
    _set_app_password(mariadb_server, user, password)
    secrets = boto3.client("secretsmanager", endpoint_url=moto, region_name="us-east-1")
    arn = secrets.create_secret(Name=f"rds!db-{uuid.uuid4().hex[:8]}",
                                SecretString=json.dumps({"username": user, "password": password}))["ARN"]
    port = urlparse(mariadb_server).port
    # The test server has no TLS; RDS has it (the AWS runtime's default sslmode is require).
    url = f"mysql://{user}@127.0.0.1:{port}/orders?secret={arn}&cloud=aws&sslmode=disable"
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto)
    monkeypatch.setenv("PLATFORM_CLOUD", "aws")
    monkeypatch.setenv("PLATFORM_DATABASE_ORDERS", url)
    monkeypatch.setenv("PLATFORM_GRANTS", "database:orders:connect")
    yield {"arn": arn, "password": password, "url": url, "server": mariadb_server}


def test_mysql_on_aws_resolves_the_secret_and_runs_qmark_sql(aws_orders_db: dict[str, str]) -> None:
    db = database("orders")
    assert db.engine == "mysql"
    with db.connect() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body VARCHAR(200))")
        conn.execute("DELETE FROM notes")
        assert conn.execute("INSERT INTO notes (id, body) VALUES (?, ?)", (1, "100% sure? it's so")) == 1
        rows = conn.query("SELECT body, CURRENT_USER(), '?' FROM notes WHERE body LIKE '100%' AND id = ?", (1,))
        assert rows == [("100% sure? it's so", "app@127.0.0.1", "?")]
    with pytest.raises(ZeroDivisionError), db.connect() as conn:
        conn.execute("INSERT INTO notes (id, body) VALUES (?, ?)", (2, "rolled back"))
        1 / 0  # noqa: B018
    with db.connect() as conn:
        assert conn.query("SELECT id FROM notes ORDER BY id") == [(1,)]
    assert mariadb_run(f"{aws_orders_db['server']}/orders", "SELECT body FROM notes") == [("100% sure? it's so",)]
    assert aws_orders_db["password"] not in repr(database_module._secret_cache)


def test_mysql_refetches_a_rotated_secret(aws_orders_db: dict[str, str], moto: str) -> None:  # noqa: F811
    import boto3

    with database("orders").connect() as conn:  # caches the current credentials
        assert conn.query("SELECT 1") == [(1,)]
    rotated = f"rotated-{uuid.uuid4().hex}"
    _set_app_password(aws_orders_db["server"], "app", rotated)
    secrets = boto3.client("secretsmanager", endpoint_url=moto, region_name="us-east-1")
    secrets.put_secret_value(SecretId=aws_orders_db["arn"],
                             SecretString=json.dumps({"username": "app", "password": rotated}))
    with database("orders").connect() as conn:  # stale cached password -> 1045 -> refetch -> connects
        assert conn.query("SELECT CURRENT_USER()") == [("app@127.0.0.1",)]


def test_mysql_wrong_password_fails_without_leaking(aws_orders_db: dict[str, str], moto: str) -> None:  # noqa: F811
    import boto3

    wrong = f"wrong-{uuid.uuid4().hex}"
    secrets = boto3.client("secretsmanager", endpoint_url=moto, region_name="us-east-1")
    secrets.put_secret_value(SecretId=aws_orders_db["arn"], SecretString=json.dumps({"username": "app",
                                                                                     "password": wrong}))
    with pytest.raises(Exception) as info:
        database("orders").connect()
    assert wrong not in str(info.value) and "1045" in str(info.value)


def test_mysql_placeholder_count_mismatch_is_explained(aws_orders_db: dict[str, str]) -> None:
    with database("orders").connect() as conn, pytest.raises(ValueError, match="1 \\? placeholder"):
        conn.query("SELECT ? FROM DUAL", (1, 2))

