"""The neutral runtime API through real parts: grants on real buckets (local dir, S3 on moto), the database
wrapper on a real SQLite file and a real PostgreSQL server, secrets from Secrets Manager (moto) and from
the Secret Manager client library, and the runtime importing with nothing but the standard library."""

from __future__ import annotations

import ast
import base64
import contextlib
import hashlib
import http.server
import json
import logging
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from platform_sdk.providers.aws.runtime import adapter as aws_lambda
from platform_sdk.runtime import GrantError, HttpRequest, HttpResponse, bucket, config, database
from platform_sdk.runtime.database import Database, DatabaseConfigError, qmark_to_format
from platform_sdk.runtime.resources import GrantedBucket, grants
from tests.markers import starts_server
from tests.postgres import PG_BIN, postgres_available

pytestmark = pytest.mark.xdist_group("runtime")  # module-scoped fixtures: keep the module on one worker

database_module = sys.modules["platform_sdk.runtime.database"]  # the name `database` is the function

REPO = Path(__file__).resolve().parent.parent
EVENTS = Path(__file__).resolve().parent / "events"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def moto_endpoint() -> Iterator[str]:
    """The shared moto helper from tests/emulators.py when present, else a ThreadedMotoServer of our own."""
    try:
        from emulators import start_moto  # type: ignore[import-not-found]
    except ImportError:
        try:
            from tests.emulators import start_moto  # type: ignore[import-not-found,no-redef]
        except ImportError:
            start_moto = None  # type: ignore[assignment]
    if start_moto is not None:
        with start_moto() as url:
            yield url
        return
    from moto.server import ThreadedMotoServer

    fake = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    old = {k: os.environ.get(k) for k in fake}
    os.environ.update(fake)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


@pytest.fixture(scope="module")
@starts_server
def moto() -> Iterator[str]:
    with moto_endpoint() as url:
        yield url


@pytest.fixture(autouse=True)
def function_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts as function thumbnails.resize with no grants, and with no cached secrets."""
    for key in list(os.environ):
        if key.startswith("PLATFORM_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("PLATFORM_ENV", "test")
    monkeypatch.setenv("PLATFORM_SERVICE", "thumbnails")
    monkeypatch.setenv("PLATFORM_FUNCTION", "resize")
    monkeypatch.setenv("PLATFORM_CLOUD", "local")
    monkeypatch.setenv("PLATFORM_GRANTS", "")
    database_module._secret_cache.clear()


def grant_buckets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **access: str) -> dict[str, Path]:
    """Grant local directory buckets, e.g. grant_buckets(..., originals="read", thumbs="write")."""
    dirs = {}
    for name in access:
        path = tmp_path / "buckets" / f"test-{name}-physical"
        path.mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(f"PLATFORM_BUCKET_{name.upper().replace('-', '_')}", path.as_uri())
        dirs[name] = path
    monkeypatch.setenv("PLATFORM_GRANTS", ",".join(f"bucket:{n}:{a}" for n, a in sorted(access.items())))
    return dirs


# ------------------------------------------------------------------------------------------------ events


def test_http_request_normalises_and_parses() -> None:
    request = HttpRequest("post", "/signup", {"a": "1"}, {"Content-Type": "application/json"}, b'{"email": "x"}')
    assert request.method == "POST"
    assert request.headers == {"content-type": "application/json"}
    assert request.json() == {"email": "x"}
    assert request.text == '{"email": "x"}'
    assert HttpRequest("GET", "/", body="é").body == "é".encode()


@pytest.mark.parametrize(
    ("body", "content_type", "data"),
    [
        ({"a": [1, 2]}, "application/json", b'{"a":[1,2]}'),
        ([1], "application/json", b"[1]"),
        ("hé", "text/plain; charset=utf-8", "hé".encode()),
        (b"\x89PNG", "application/octet-stream", b"\x89PNG"),
    ],
)
def test_http_response_bodies(body: Any, content_type: str, data: bytes) -> None:
    status, headers, encoded = HttpResponse(201, body).encode()
    assert (status, headers["content-type"], encoded) == (201, content_type, data)


def test_http_response_keeps_explicit_content_type_and_empty_body() -> None:
    assert HttpResponse(200, b"x", {"Content-Type": "image/png"}).encode()[1] == {"content-type": "image/png"}
    assert HttpResponse(204).encode() == (204, {}, b"")
    with pytest.raises(TypeError):
        HttpResponse(200, 42).encode()  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------ grants


def test_ungranted_bucket_names_function_bucket_and_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    grant_buckets(monkeypatch, tmp_path, originals="read")
    with pytest.raises(GrantError) as info:
        bucket("thumbs")
    message = str(info.value)
    assert "thumbnails.resize" in message
    assert "'thumbs'" in message
    assert "fn.reads(bucket)" in message and "fn.writes(bucket)" in message
    assert "PLATFORM_BUCKET_THUMBS is not set" in message
    assert "service 'thumbnails'" in message


def test_bucket_url_without_grant_entry_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    grant_buckets(monkeypatch, tmp_path, originals="read")
    monkeypatch.setenv("PLATFORM_GRANTS", "")
    with pytest.raises(GrantError, match="PLATFORM_GRANTS has no bucket:originals entry"):
        bucket("originals")


def test_read_grant_reads_and_cannot_write(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    dirs = grant_buckets(monkeypatch, tmp_path, originals="read")
    (dirs["originals"] / "cats").mkdir()
    (dirs["originals"] / "cats" / "a.jpg").write_bytes(b"jpeg")
    originals = bucket("originals")
    assert isinstance(originals, GrantedBucket)
    assert originals.get("cats/a.jpg") == b"jpeg"
    assert [o.key for o in originals.list("cats/")] == ["cats/a.jpg"]
    assert originals.exists("cats/a.jpg") and not originals.exists("nope")
    assert originals.stat("cats/a.jpg").size == 4
    assert originals.open_read("cats/a.jpg").read() == b"jpeg"
    assert originals.signed_url("cats/a.jpg").startswith("file://")
    for call in (lambda: originals.put("x", b"1"), lambda: originals.delete("cats/a.jpg"),
                 lambda: originals.signed_url("x", method="PUT")):
        with pytest.raises(GrantError) as info:
            call()
        assert "thumbnails.resize" in str(info.value) and "'read'" in str(info.value)
        assert "fn.reads_writes(bucket)" in str(info.value)
    assert (dirs["originals"] / "cats" / "a.jpg").read_bytes() == b"jpeg"


def test_write_grant_writes_and_cannot_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    dirs = grant_buckets(monkeypatch, tmp_path, thumbs="write")
    thumbs = bucket("thumbs")
    thumbs.put("128/a.jpg", b"small", content_type="image/jpeg")
    assert (dirs["thumbs"] / "128" / "a.jpg").read_bytes() == b"small"
    for call in (lambda: thumbs.get("128/a.jpg"), lambda: list(thumbs.list()), lambda: thumbs.exists("x"),
                 lambda: thumbs.stat("x"), lambda: thumbs.open_read("x")):
        with pytest.raises(GrantError, match="may not .* on bucket 'thumbs'"):
            call()
    thumbs.delete("128/a.jpg")
    assert not (dirs["thumbs"] / "128" / "a.jpg").exists()


def test_readwrite_and_split_grants_combine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    grant_buckets(monkeypatch, tmp_path, thumbs="readwrite")
    thumbs = bucket("thumbs")
    thumbs.put("k", b"v")
    assert thumbs.get("k") == b"v"
    monkeypatch.setenv("PLATFORM_GRANTS", "bucket:thumbs:read,bucket:thumbs:write,database:users:connect")
    assert grants() == {("bucket", "thumbs"): {"read", "write"}, ("database", "users"): {"connect"}}
    assert bucket("thumbs").access == frozenset({"read", "write"})


def test_hyphenated_bucket_names_map_to_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    dirs = grant_buckets(monkeypatch, tmp_path, **{"raw-uploads": "readwrite"})
    assert os.environ["PLATFORM_BUCKET_RAW_UPLOADS"] == dirs["raw-uploads"].as_uri()
    bucket("raw-uploads").put("a", b"1")


def test_s3_bucket_through_moto_honours_endpoint(monkeypatch: pytest.MonkeyPatch, moto: str) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto, region_name="us-east-1")
    s3.create_bucket(Bucket="thumbnails-originals-1a2b")
    s3.put_object(Bucket="thumbnails-originals-1a2b", Key="cat.jpg", Body=b"meow")
    monkeypatch.setenv("PLATFORM_S3_ENDPOINT", moto)
    monkeypatch.setenv("PLATFORM_BUCKET_ORIGINALS", "s3://thumbnails-originals-1a2b")
    monkeypatch.setenv("PLATFORM_GRANTS", "bucket:originals:read")
    originals = bucket("originals")
    assert originals.get("cat.jpg") == b"meow"
    with pytest.raises(GrantError):
        originals.put("dog.jpg", b"woof")
    assert "dog.jpg" not in {o["Key"] for o in s3.list_objects_v2(Bucket="thumbnails-originals-1a2b")["Contents"]}


def test_config_reads_plain_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THUMBNAIL_WIDTHS", "128,512")
    assert config("THUMBNAIL_WIDTHS") == "128,512"
    assert config("MISSING", "dflt") == "dflt"
    assert config("MISSING") is None


# ---------------------------------------------------------------------------------------------- database


@pytest.mark.parametrize(
    ("sql", "expected", "count"),
    [
        ("SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = %s AND b = %s", 2),
        ("SELECT '?', 'it''s ?' WHERE x LIKE 'a%' AND y = ?", "SELECT '?', 'it''s ?' WHERE x LIKE 'a%%' AND y = %s",
         1),
        ('SELECT "we?ird" FROM t -- what?\nWHERE a = ?', 'SELECT "we?ird" FROM t -- what?\nWHERE a = %s', 1),
        ("SELECT /* ? */ $$ a ? b $$, $fn$ ? $fn$, ?", "SELECT /* ? */ $$ a ? b $$, $fn$ ? $fn$, %s", 1),
        ("SELECT E'\\' ?' , ?", "SELECT E'\\' ?' , %s", 1),
        ("SELECT 5 % 2", "SELECT 5 %% 2", 0),
    ],
)
def test_qmark_translation(sql: str, expected: str, count: int) -> None:
    assert qmark_to_format(sql) == (expected, count)


@pytest.fixture
def sqlite_users(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    path = tmp_path / "databases" / "users.sqlite3"
    path.parent.mkdir()
    monkeypatch.setenv("PLATFORM_DATABASE_USERS", f"sqlite:///{path}")
    monkeypatch.setenv("PLATFORM_GRANTS", "database:users:connect")
    return path


def test_sqlite_database_commits_and_rolls_back(sqlite_users: Path) -> None:
    db = database("users")
    assert (db.engine, db.url, db.sqlite_path) == ("sqlite", f"sqlite:///{sqlite_users}", sqlite_users)
    with db.connect() as conn:
        conn.execute("CREATE TABLE users (email TEXT PRIMARY KEY, n INTEGER)")
        assert conn.execute("INSERT INTO users VALUES (?, ?)", ("a@x", 1)) == 1
    with pytest.raises(RuntimeError), db.connect() as conn:
        conn.execute("INSERT INTO users VALUES (?, ?)", ("b@x", 2))
        raise RuntimeError("handler failed half-way")
    with db.connect() as conn:
        assert conn.query("SELECT email, n FROM users ORDER BY email") == [("a@x", 1)]
        assert conn.query("SELECT count(*) FROM users WHERE email LIKE ?", ("%@x",)) == [(1,)]
    import sqlite3

    with contextlib.closing(sqlite3.connect(sqlite_users)) as raw:  # really on disk, really committed
        assert raw.execute("SELECT email FROM users").fetchall() == [("a@x",)]


def test_ungranted_database_is_a_grant_error(sqlite_users: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(GrantError) as info:
        database("orders")
    assert "thumbnails.resize" in str(info.value) and "'orders'" in str(info.value)
    assert "fn.uses(database)" in str(info.value)
    monkeypatch.setenv("PLATFORM_GRANTS", "bucket:users:read")
    with pytest.raises(GrantError, match="PLATFORM_GRANTS has no database:users entry"):
        database("users")


def test_database_url_with_password_is_refused() -> None:
    with pytest.raises(DatabaseConfigError, match="must not carry a password"):
        Database("users", "postgres://app:hunter2@db:5432/users")


def test_sqlite_missing_directory_is_explained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PLATFORM_DATABASE_USERS", f"sqlite:///{tmp_path}/nowhere/users.sqlite3")
    monkeypatch.setenv("PLATFORM_GRANTS", "database:users:connect")
    with pytest.raises(DatabaseConfigError, match="has the local cloud been applied"):
        database("users").connect()


# ------------------------------------------------------------------------------------------- PostgreSQL


@dataclass
class PgServer:
    port: int
    socket_dir: Path
    ssl: bool
    admin_password: str

    def admin(self) -> Any:
        import pg8000.native

        return pg8000.native.Connection("postgres", host="127.0.0.1", port=self.port,
                                        password=self.admin_password)


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture(scope="module")
@starts_server
def postgres() -> Iterator[PgServer]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (password auth, TLS when openssl exists)."""
    reason = postgres_available()
    if reason:
        pytest.skip(reason)
    initdb, pg_ctl = str(PG_BIN / "initdb"), str(PG_BIN / "pg_ctl")
    owner = None
    if os.geteuid() == 0:  # initdb refuses to run as root: run the server as the postgres user
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run initdb as")
        if not shutil.which("runuser"):
            pytest.skip("running as root and runuser is missing: cannot start PostgreSQL as 'postgres'")
    base = Path(tempfile.mkdtemp(prefix="platform-pg-"))
    base.chmod(0o755)
    password = uuid.uuid4().hex
    (base / "pw").write_text(password)

    def own(path: Path) -> None:
        if owner is not None:
            os.chown(path, owner.pw_uid, owner.pw_gid)

    own(base)
    own(base / "pw")
    data = base / "data"
    try:
        subprocess.run(_as_postgres([initdb, "-D", str(data), "-U", "postgres", f"--pwfile={base / 'pw'}",
                                     "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "-E", "UTF8",
                                     "--no-sync"]), check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"initdb failed, cannot start a PostgreSQL server: {exc.stderr.strip()[-500:]}")
    options = f"-p {{port}} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
    ssl = bool(shutil.which("openssl"))
    if ssl:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                        "/CN=127.0.0.1", "-keyout", str(base / "server.key"), "-out", str(base / "server.crt")],
                       check=True, capture_output=True)
        (base / "server.key").chmod(0o600)
        own(base / "server.key")
        own(base / "server.crt")
        options += f" -c ssl=on -c ssl_cert_file={base / 'server.crt'} -c ssl_key_file={base / 'server.key'}"
    port = free_port()
    start = subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-l", str(base / "log"), "-w",
                                         "-o", options.format(port=port), "start"]), capture_output=True, text=True)
    if start.returncode != 0:
        log = (base / "log").read_text() if (base / "log").exists() else start.stderr
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"PostgreSQL did not start: {log.strip()[-500:]}")
    server = PgServer(port, base, ssl, password)
    try:
        admin = server.admin()
        admin.run("CREATE ROLE app LOGIN PASSWORD 'app-initial-pw'")
        admin.run("CREATE DATABASE users OWNER app")
        admin.close()
        yield server
    finally:
        subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def _set_app_password(server: PgServer, password: str) -> None:
    admin = server.admin()
    try:
        admin.run(f"ALTER ROLE app PASSWORD '{password}'")
    finally:
        admin.close()


@pytest.fixture
def aws_users_db(postgres: PgServer, moto: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """users granted to the function, RDS-style: secret in Secrets Manager (moto), URL without password."""
    import boto3

    password = f"pw-{uuid.uuid4().hex}"
    _set_app_password(postgres, password)
    secrets = boto3.client("secretsmanager", endpoint_url=moto, region_name="us-east-1")
    arn = secrets.create_secret(Name=f"rds!db-{uuid.uuid4().hex[:8]}",
                                SecretString=json.dumps({"username": "app", "password": password}))["ARN"]
    url = f"postgres://app@127.0.0.1:{postgres.port}/users?secret={arn}&cloud=aws"
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto)
    monkeypatch.setenv("PLATFORM_CLOUD", "aws")
    monkeypatch.setenv("PLATFORM_DATABASE_USERS", url)
    monkeypatch.setenv("PLATFORM_GRANTS", "database:users:connect")
    return {"arn": arn, "password": password, "url": url}


def test_postgres_on_aws_resolves_secret_and_connects(aws_users_db: dict[str, str], postgres: PgServer,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    db = database("users")
    assert db.engine == "postgres" and db.url == aws_users_db["url"]
    with db.connect() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT)")
        conn.execute("DELETE FROM notes")
        conn.execute("INSERT INTO notes (id, body) VALUES (?, ?)", (1, "100% sure? yes"))
        rows = conn.query("SELECT body, current_user, '?' FROM notes WHERE body LIKE '100%' AND id = ?", (1,))
        assert rows == [("100% sure? yes", "app", "?")]
        ssl_used = conn.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        assert ssl_used == [(postgres.ssl,)]  # sslmode defaults to require on aws
        name = conn.query("SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()")
        assert name == [("thumbnails/resize",)]
    with pytest.raises(ZeroDivisionError), db.connect() as conn:
        conn.execute("INSERT INTO notes (id, body) VALUES (?, ?)", (2, "rolled back"))
        1 / 0  # noqa: B018
    with db.connect() as conn:
        assert conn.query("SELECT id FROM notes ORDER BY id") == [(1,)]
    assert aws_users_db["password"] not in caplog.text
    assert aws_users_db["password"] not in repr(database_module._secret_cache)


def test_postgres_refetches_a_rotated_secret(aws_users_db: dict[str, str], postgres: PgServer, moto: str) -> None:
    import boto3

    with database("users").connect() as conn:  # caches the current credentials
        assert conn.query("SELECT 1") == [(1,)]
    rotated = f"rotated-{uuid.uuid4().hex}"
    _set_app_password(postgres, rotated)
    secrets = boto3.client("secretsmanager", endpoint_url=moto, region_name="us-east-1")
    secrets.put_secret_value(SecretId=aws_users_db["arn"], SecretString=json.dumps({"username": "app",
                                                                                     "password": rotated}))
    with database("users").connect() as conn:  # stale cached password -> 28P01 -> refetch -> connects
        assert conn.query("SELECT current_user") == [("app",)]


def test_postgres_wrong_secret_fails_without_leaking(aws_users_db: dict[str, str], moto: str) -> None:
    import boto3

    secrets = boto3.client("secretsmanager", endpoint_url=moto, region_name="us-east-1")
    wrong = f"wrong-{uuid.uuid4().hex}"
    secrets.put_secret_value(SecretId=aws_users_db["arn"], SecretString=json.dumps({"username": "app",
                                                                                     "password": wrong}))
    with pytest.raises(Exception) as info:
        database("users").connect()
    assert wrong not in str(info.value) and "28P01" in str(info.value)


class _FakeSecretManager(http.server.BaseHTTPRequestHandler):
    """Answers AccessSecretVersion (GET /v1/{name}:access) like the Secret Manager REST API."""

    secrets: dict[str, bytes] = {}
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        path = self.path.split("?", 1)[0]
        self.requests.append(path)
        name = path.removeprefix("/v1/").removesuffix(":access")
        data = self.secrets.get(name)
        if data is None:
            body = json.dumps({"error": {"code": 404, "message": f"Secret [{name}] not found", "status": "NOT_FOUND"}})
            self.send_response(404)
        else:
            body = json.dumps({"name": name, "payload": {"data": base64.b64encode(data).decode()}})
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def secret_manager(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_FakeSecretManager]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeSecretManager)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _FakeSecretManager.secrets = {}
    _FakeSecretManager.requests = []
    monkeypatch.setenv("PLATFORM_SECRETMANAGER_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    try:
        yield _FakeSecretManager
    finally:
        server.shutdown()
        server.server_close()


def test_postgres_on_gcp_via_cloudsql_socket(postgres: PgServer, secret_manager: type[_FakeSecretManager],
                                             monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """Cloud SQL's /cloudsql/<connection>/.s.PGSQL.5432 socket, stood in for by a link to the real socket."""
    password = f"gcp-{uuid.uuid4().hex}"
    _set_app_password(postgres, password)
    connection = "acme-prod:europe-west1:users"
    secret_manager.secrets["projects/acme-prod/secrets/users-db-password/versions/latest"] = password.encode()
    socket_root = Path(tempfile.mkdtemp(prefix="csql-"))  # short: unix socket paths are limited to 107 bytes
    request.addfinalizer(lambda: shutil.rmtree(socket_root, ignore_errors=True))
    (socket_root / connection).mkdir(parents=True)
    (socket_root / connection / ".s.PGSQL.5432").symlink_to(postgres.socket_dir / f".s.PGSQL.{postgres.port}")
    monkeypatch.setenv("PLATFORM_CLOUDSQL_SOCKET_DIR", str(socket_root))
    monkeypatch.setenv("PLATFORM_DATABASE_USERS",
                       f"postgres://app@/users?instance={connection}&secret=users-db-password&cloud=gcp")
    monkeypatch.setenv("PLATFORM_GRANTS", "database:users:connect")
    with database("users").connect() as conn:
        assert conn.query("SELECT current_user, current_database()") == [("app", "users")]
        assert conn.query("SELECT client_addr IS NULL FROM pg_stat_activity WHERE pid = pg_backend_pid()") == [
            (True,)]  # a unix socket, not TCP
    assert secret_manager.requests == ["/v1/projects/acme-prod/secrets/users-db-password/versions/latest:access"]


def test_postgres_on_gcp_without_socket_explains(secret_manager: type[_FakeSecretManager],
                                                 monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret_manager.secrets["projects/p/secrets/s/versions/latest"] = b"pw"
    monkeypatch.setenv("PLATFORM_CLOUDSQL_SOCKET_DIR", str(tmp_path))
    monkeypatch.setenv("PLATFORM_DATABASE_USERS", "postgres://app@/users?instance=p:r:i&secret=s&cloud=gcp")
    monkeypatch.setenv("PLATFORM_GRANTS", "database:users:connect")
    monkeypatch.setenv("NO_GCE_CHECK", "True")  # google-auth: no metadata server here, do not look for one
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "no-gcloud"))
    # the connector installed (the gcp extra) but no credentials: one clear message, not google-auth's
    with pytest.raises(DatabaseConfigError, match="no Cloud SQL socket .* no Google credentials .* Attach the "
                                                  "instance to the function's service"):
        database("users").connect()
    monkeypatch.setitem(sys.modules, "google.cloud.sql.connector", None)  # not installed
    with pytest.raises(DatabaseConfigError, match="no Cloud SQL socket .* Attach the instance 'p:r:i'"):
        database("users").connect()


@pytest.fixture
def auth_code(tmp_path: Path) -> Iterator[Path]:
    """A copy of the example auth service's function code, with its module names kept out of sys.modules."""
    code = tmp_path / "auth-code"
    shutil.copytree(REPO / "services" / "functions" / "auth", code)
    for name in ("api", "cleanup"):
        sys.modules.pop(name, None)
    yield code
    for name in ("api", "cleanup"):
        sys.modules.pop(name, None)
    with contextlib.suppress(ValueError):
        sys.path.remove(str(code))


def test_example_auth_service_on_lambda_with_real_postgres(aws_users_db: dict[str, str], auth_code: Path, moto: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """services/functions/auth/api.py unchanged: Lambda function URL events -> adapter -> real PostgreSQL, its
    tokens signed with the jwt-key secret read from Secrets Manager (moto)."""
    import boto3
    import jwt

    key = f"key-{uuid.uuid4().hex}"
    name = f"acme-test-auth-jwt-key-{uuid.uuid4().hex[:6]}"
    boto3.client("secretsmanager", endpoint_url=moto, region_name="us-east-1").create_secret(Name=name,
                                                                                            SecretString=key)
    monkeypatch.setenv("PLATFORM_SECRET_JWT_KEY", f"secretsmanager://{name}?region=us-east-1")
    sqs = boto3.client("sqs", endpoint_url=moto, region_name="us-east-1")
    outbox = f"acme-test-notifications-outbox-{uuid.uuid4().hex[:6]}"
    sqs.create_queue(QueueName=outbox)
    monkeypatch.setenv("PLATFORM_QUEUE_OUTBOX", f"sqs://123456789012/{outbox}?region=us-east-1"
                                                f"&endpoint={moto}")
    monkeypatch.setenv("PLATFORM_GRANTS", "database:users:connect,queue:outbox:send,secret:jwt-key:read")
    handler = aws_lambda.make_entry("api.handle", base_dir=auth_code)
    template = json.loads((EVENTS / "aws_function_url_post.json").read_text())
    email = f"{uuid.uuid4().hex[:8]}@example.com"

    def call(method: str, path: str, body: dict[str, str] | None = None, token: str | None = None) -> Any:
        event = json.loads(json.dumps(template))
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
        event["requestContext"]["http"]["method"] = method
        event["body"] = json.dumps(body) if body is not None else None
        if token:
            event["headers"]["authorization"] = f"Bearer {token}"
        response = handler(event, None)
        return response["statusCode"], json.loads(response["body"])

    assert call("POST", "/signup", {"email": email, "password": "correct horse"}) == (201, {"email": email})
    assert call("POST", "/signup", {"email": email, "password": "again"})[0] == 409
    (welcome,) = sqs.receive_message(QueueUrl=sqs.get_queue_url(QueueName=outbox)["QueueUrl"],
                                     MessageAttributeNames=["All"])["Messages"]
    assert json.loads(welcome["Body"]) == {"template": "welcome", "email": email}, "one welcome message, via SQS"
    assert call("POST", "/signin", {"email": email, "password": "wrong"})[0] == 401
    status, body = call("POST", "/signin", {"email": email, "password": "correct horse"})
    assert status == 200
    assert jwt.decode(body["token"], key, algorithms=["HS256"])["sub"] == email
    assert call("GET", "/me", token=body["token"]) == (200, {"email": email})
    forged = jwt.encode({"sub": email, "jti": "x", "exp": 4102444800}, "not-the-key-" * 4, algorithm="HS256")
    assert call("GET", "/me", token=forged)[0] == 401


# ------------------------------------------------------------------------------------ package import hygiene


def test_database_name_stays_the_function_after_the_submodule_loads() -> None:
    """`platform_sdk.runtime.database` is both a submodule and the API function: the function must win."""
    script = ("import importlib, sys\n"
              "from platform_sdk.runtime import database\n"
              "importlib.import_module('platform_sdk.runtime.database')\n"
              "import platform_sdk.runtime.database as again\n"
              "from platform_sdk.runtime import database as later\n"
              "assert callable(database) and later is database and again is database, (database, later, again)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr


def _extract(entries: dict[str, bytes], root: Path) -> Path:
    for name, data in entries.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


@pytest.mark.parametrize("target", ["local", "aws", "gcp"])
def test_built_package_runs_with_only_the_standard_library(target: str, tmp_path: Path) -> None:
    """A real package (synth/assets) imports and serves HTTP under `python -S -I`: no site-packages at all.

    Cloud packages carry the runtime; local packages take it from the project's environment (here: the repo
    on sys.path after the package), so an SDK upgrade does not change them.
    """
    from platform_sdk import providers
    from platform_sdk.model import Function, http
    from platform_sdk.synth.assets import build_package

    source = tmp_path / "src"
    source.mkdir()
    (source / "app.py").write_text(
        "from platform_sdk.runtime import HttpRequest, HttpResponse, config\n"
        "def handle(request: HttpRequest) -> HttpResponse:\n"
        "    return HttpResponse(200, {'path': request.path, 'greeting': config('GREETING', 'hi')})\n"
    )
    fn = Function("hello", handler="app.handle", source=source, triggers=[http()])
    package = build_package(fn, target, tmp_path / "build")
    with zipfile.ZipFile(package.path) as archive:
        root = _extract({n: archive.read(n) for n in archive.namelist()}, tmp_path / "pkg")
    packaging = providers.plugin(target).packaging
    entry_module, symbol = packaging.entry_module, packaging.entry_symbol
    shipped = (root / "platform_sdk" / "runtime").is_dir()
    assert shipped == packaging.ships_runtime
    path_after = "" if shipped else f"sys.path.append({str(Path(__file__).resolve().parent.parent)!r})\n"
    calls = {
        "local": f"r = {entry_module}.{symbol}({{'type': 'http', 'method': 'GET', 'path': '/x', 'query': {{}}, "
                 "'headers': {}, 'body_base64': ''})\nbody = base64.b64decode(r['body_base64'])\nstatus = r['status']",
        "aws": f"r = {entry_module}.{symbol}(json.load(open({str(EVENTS / 'aws_function_url_get.json')!r})), None)\n"
               "body = r['body'].encode()\nstatus = r['statusCode']",
        "gcp": "class Req:\n    method = 'GET'; path = '/x'; args = {}; headers = {}\n"
               "    def get_data(self, cache=True): return b''\n"
               f"body, status, headers = {entry_module}.{symbol}(Req())",
    }
    script = (
        f"import sys, json, base64\nsys.path.insert(0, {str(root)!r})\n{path_after}import {entry_module}\n"
        f"{calls[target]}\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'google', 'pg8000', "
        "'flask', 'functions_framework'))\n"
        "print(json.dumps({'status': status, 'body': json.loads(body), 'heavy': heavy,"
        " 'runtime': sys.modules['platform_sdk.runtime'].__file__}))\n"
    )
    env = {"PATH": os.environ.get("PATH", ""), "GREETING": "hello from the package"}
    result = subprocess.run([sys.executable, "-S", "-I", "-c", script], capture_output=True, text=True, env=env,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["status"] == 200
    assert out["body"]["greeting"] == "hello from the package"
    assert out["heavy"] == []
    assert out["runtime"].startswith(str(root)) == shipped


def _runtime_modules(root: Path, package: str) -> list[str]:
    """Dotted names of every module of `package` found under `root` (the directory holding its top package)."""
    base = root / package.replace(".", "/")
    names = []
    for path in base.rglob("*.py"):
        parts = path.relative_to(base).with_suffix("").parts
        names.append(".".join((package, *parts[:-1])) if parts[-1] == "__init__" else ".".join((package, *parts)))
    return sorted(names)


def _shipped_names(package: str) -> set[str]:
    """Package entry names of every .py file of `package` in this checkout."""
    base = REPO / package.replace(".", "/")
    return {f"{package.replace('.', '/')}/{p.relative_to(base).as_posix()}" for p in base.rglob("*.py")}


HEAVY = ("boto3", "botocore", "s3transfer", "google", "pg8000", "flask", "functions_framework", "cdktf", "constructs",
         "jsii", "pydantic", "typer", "rich", "starlette")


@pytest.mark.parametrize(("target", "foreign"), [("aws", "gcp"), ("gcp", "aws")])
def test_shipped_runtime_is_exactly_the_neutral_runtime_and_the_plug_in_runtimes(
        target: str, foreign: str, tmp_path: Path) -> None:
    """A cloud package carries platform_sdk.runtime, contract.py and the runtimes of its target and of the clouds it
    is granted resources on, with stub __init__ files above them: every module imports under `python -S -I`."""
    from platform_sdk.model import Function, http
    from platform_sdk.synth.assets import STUB_INIT, build_package

    source = tmp_path / "src"
    source.mkdir()
    (source / "app.py").write_text("def handle(request):\n    return 'ok'\n")
    fn = Function("hello", handler="app.handle", source=source, triggers=[http()])
    own = build_package(fn, target, tmp_path / "own")
    both = build_package(fn, target, tmp_path / "both", runtimes=[foreign])
    with zipfile.ZipFile(own.path) as archive:
        own_names = {n for n in archive.namelist() if n.startswith("platform_sdk/")}
    with zipfile.ZipFile(both.path) as archive:
        entries = {n: archive.read(n) for n in archive.namelist()}
    stubs = {"platform_sdk/__init__.py", "platform_sdk/providers/__init__.py",
             f"platform_sdk/providers/{target}/__init__.py"}
    assert own_names == (_shipped_names("platform_sdk.runtime") | {"platform_sdk/contract.py"} | stubs
                         | _shipped_names(f"platform_sdk.providers.{target}.runtime"))
    assert all(entries[stub] == STUB_INIT for stub in stubs)  # the real __init__ files import compilers
    added = {n for n in entries if n.startswith("platform_sdk/")} - own_names
    assert added == _shipped_names(f"platform_sdk.providers.{foreign}.runtime") | {
        f"platform_sdk/providers/{foreign}/__init__.py"}

    root = _extract(entries, tmp_path / "pkg")
    modules = [m for package in ("platform_sdk.runtime", f"platform_sdk.providers.{target}.runtime",
                                 f"platform_sdk.providers.{foreign}.runtime") for m in _runtime_modules(root, package)]
    script = (f"import importlib, json, sys\nsys.path.insert(0, {str(root)!r})\n"
              f"for name in {modules!r}:\n    importlib.import_module(name)\n"
              "from platform_sdk.runtime import plugins\n"
              f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})\n"
              "print(json.dumps({'heavy': heavy, 'plugins': plugins.names(), 'schemes': plugins.bucket_schemes(),"
              " 'files': sorted({m.__file__ for n, m in sys.modules.items() if n.startswith('platform_sdk')})}))\n")
    result = subprocess.run([sys.executable, "-S", "-I", "-c", script], capture_output=True, text=True,
                            env={"PATH": os.environ.get("PATH", "")}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["heavy"] == []
    assert out["plugins"] == sorted([target, foreign])
    assert set(out["schemes"].values()) == {target, foreign}
    assert all(path.startswith(str(root)) for path in out["files"])


# --------------------------------------------------------------------------------------------- layer rules

CLOUD_WORDS = re.compile(r"(?<![a-z0-9])(aws|gcp|google|amazon|azure|s3|gs|gcs|lambda|cloudsql)(?![a-z0-9])")
CLOUD_SDKS = {"boto3", "botocore", "s3transfer", "google", "functions_framework", "flask"}


def _documentation(tree: ast.AST) -> set[int]:
    """ids of string constants that are documentation: docstrings and bare string statements (attribute docs)."""
    return {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)}


def test_neutral_runtime_names_no_cloud() -> None:
    """No module under platform_sdk/runtime has a cloud word in a string literal or imports a cloud SDK
    (documentation may name clouds): cloud knowledge lives in platform_sdk/providers/<cloud>/runtime."""
    found = []
    for path in sorted((REPO / "platform_sdk" / "runtime").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        docs = _documentation(tree)
        where = path.relative_to(REPO)
        for node in ast.walk(tree):
            literal = isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
            if literal and (match := CLOUD_WORDS.search(node.value.lower())):
                found.append(f"{where}:{node.lineno}: {match.group(0)!r} in {node.value[:60]!r}")
            modules = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                       else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{where}:{node.lineno}: imports {m}" for m in modules if m.split(".")[0] in CLOUD_SDKS]
    assert found == []


def test_the_rule_catches_cloud_words_and_sdk_imports() -> None:
    """The check above fails on what it forbids, and lets documentation through."""
    tree = ast.parse('"""Runs on AWS and GCP."""\nimport boto3\nX = "s3"\nY = f"gs://{z}"\nZ = 1\n"""On aws."""\n')
    docs = _documentation(tree)
    literals = [n.value for n in ast.walk(tree)
                if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs]
    assert [w for w in literals if CLOUD_WORDS.search(w.lower())] == ["s3", "gs://"]


def test_runtime_modules_import_only_the_standard_library_at_module_level() -> None:
    """Neutral runtime and plug-in runtimes: module-level imports are the standard library, platform_sdk.runtime,
    platform_sdk.contract or the module's own plug-in runtime; anything else is imported inside a function."""
    allowed_sdk = ("platform_sdk.runtime", "platform_sdk.contract")
    roots = [REPO / "platform_sdk" / "runtime", *sorted((REPO / "platform_sdk" / "providers").glob("*/runtime"))]
    assert len(roots) >= 4
    found = []
    for root in roots:
        own = ".".join(root.relative_to(REPO).parts)
        for path in sorted(root.rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            for node in tree.body:  # module level only; `if TYPE_CHECKING:` blocks are not executed
                names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                         else [f"{node.module}.{alias.name}" for alias in node.names]
                         if isinstance(node, ast.ImportFrom) else [])
                for name in names:
                    top = name.split(".")[0]
                    ok = (top in sys.stdlib_module_names or top == "__future__"
                          or name.startswith(allowed_sdk) or name == own or name.startswith(own + "."))
                    if not ok:
                        found.append(f"{path.relative_to(REPO)}:{node.lineno}: {name}")
    assert found == []


@pytest.mark.parametrize("cloud", ["aws", "gcp", "local"])
def test_plug_in_runtime_imports_neither_the_cdk_nor_the_synthesis_side(cloud: str) -> None:
    """Importing every module of a plug-in's runtime in the full installation loads no CDK, no compiler, no model.

    Needs the plug-in's `providers/<cloud>/__init__.py` to be cheap (importing a subpackage runs it)."""
    modules = _runtime_modules(REPO, f"platform_sdk.providers.{cloud}.runtime")
    script = ("import importlib, json, sys\n"
              f"for name in {modules!r}:\n    importlib.import_module(name)\n"
              # (`google` and `google.cloud` are namespace packages a .pth file may load at start-up)
              "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('cdktf', 'constructs', 'jsii', 'pydantic', "
              "'boto3', 'botocore') or m.startswith(('google.cloud.', 'google.auth', 'google.api_core', "
              "'platform_sdk.synth', 'platform_sdk.model', 'platform_sdk.envs', "
              f"'platform_sdk.terraform')) or (m.startswith('platform_sdk.providers.') and not "
              f"m.startswith('platform_sdk.providers.{cloud}.runtime') and m.count('.') > 2))\n"
              "print(json.dumps(bad))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_runtime_import_contracts() -> None:
    """The runtime layer's import-linter contracts (in pyproject.toml) are kept."""
    lint = Path(sys.executable).parent / "lint-imports"
    contracts = ("runtime-neutral", "plugin-runtimes", "plugin-runtimes-independent")
    args = [arg for contract in contracts for arg in ("--contract", contract)]
    result = subprocess.run([str(lint), "--no-logo", "--no-cache", *args], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout, result.stdout


def test_runtime_layer_is_strictly_typed() -> None:
    """`mypy --strict` over the runtime layer ([tool.mypy] in pyproject.toml lists the packages)."""
    result = subprocess.run([sys.executable, "-m", "mypy"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "platform_sdk/runtime" in (REPO / "pyproject.toml").read_text()


# ------------------------------------------------------------------------------- a plug-in outside the SDK

TEST_PLUGIN = {
    "__init__.py": 'BUCKET_SCHEMES = ("mem",)\n',
    "buckets.py": '''
from __future__ import annotations
import hashlib
from platform_sdk.runtime.buckets import BucketClient, ObjectInfo, ObjectNotFoundError, ObjectReader
import io
STORE: dict[str, dict[str, bytes]] = {}

class MemoryBucket(BucketClient):
    scheme = "mem"
    def _objects(self): return STORE.setdefault(self.name, {})
    def get(self, key):
        try:
            return self._objects()[key]
        except KeyError:
            raise ObjectNotFoundError(key) from None
    def put(self, key, data, content_type=None):
        self._objects()[key] = data
        return ObjectInfo(key, len(data), hashlib.md5(data).hexdigest(), md5_source="computed")
    def list(self, prefix=""):
        return iter([ObjectInfo(k, len(v)) for k, v in sorted(self._objects().items()) if k.startswith(prefix)])
    def delete(self, key): self._objects().pop(key, None)
    def signed_url(self, key, expires_seconds=3600, method="GET"): return f"mem://{self.name}/{key}"
    def open_read(self, key): return ObjectReader(io.BytesIO(self.get(key)), ObjectInfo(key, len(self.get(key))))
    def put_stream(self, key, stream, size, content_type=None, md5_hex=None): return self.put(key, stream.read(size))
    def stat(self, key):
        data = self._objects().get(key)
        return None if data is None else ObjectInfo(key, len(data))

def open_bucket(url, *, endpoint_url=None, region=None, project=None):
    return MemoryBucket(url.split("://", 1)[1].split("/")[0])
''',
    "adapter.py": '''
from platform_sdk.runtime.adapters.common import Entry, new_request_id
from platform_sdk.runtime.events import HttpRequest
from pathlib import Path

def make_entry(handler_path, *, base_dir=None):
    entry = Entry(handler_path, Path(base_dir), "testcloud")
    def handler(path):
        return entry.run_http(HttpRequest("GET", path), new_request_id()).encode()
    return handler
''',
}


@pytest.fixture
def test_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fourth cloud's runtime that lives outside platform_sdk: buckets (mem://) and an entry adapter only."""
    from platform_sdk.runtime import plugins

    package = tmp_path / "plugin_root" / "testcloud_runtime"
    package.mkdir(parents=True)
    for name, text in TEST_PLUGIN.items():
        (package / name).write_text(text)
    monkeypatch.syspath_prepend(str(package.parent))
    plugins.register("testcloud", "testcloud_runtime")
    try:
        yield "testcloud"
    finally:
        plugins.unregister("testcloud")
        for name in [m for m in sys.modules if m.startswith("testcloud_runtime")]:
            del sys.modules[name]


def test_a_registered_plug_in_serves_buckets_grants_and_entries(test_plugin: str, monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    from platform_sdk.runtime import plugins
    from platform_sdk.runtime.buckets import open_bucket
    from platform_sdk.runtime.entry import make_entry

    assert test_plugin in plugins.names() and {"aws", "gcp", "local"} <= set(plugins.names())
    assert plugins.bucket_schemes()["mem"] == test_plugin
    assert type(open_bucket("mem://inbox")).__name__ == "MemoryBucket"

    monkeypatch.setenv("PLATFORM_BUCKET_INBOX", "mem://inbox-physical")
    monkeypatch.setenv("PLATFORM_GRANTS", "bucket:inbox:readwrite")
    written = bucket("inbox").put("a.txt", b"hello")  # the grant wrapper returns what the store reported
    assert written is not None and written.md5 == hashlib.md5(b"hello").hexdigest()
    assert [o.key for o in bucket("inbox").list()] == ["a.txt"]

    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "tc_app.py").write_text("def handle(request):\n    return {'path': request.path}\n")
    exec_globals = {"__file__": str(tmp_path / "code" / "_platform_entry.py"), "make_entry": make_entry}
    exec("handler = make_entry('testcloud', 'tc_app.handle')", exec_globals)
    assert exec_globals["handler"]("/x") == (200, {"content-type": "application/json"}, b'{"path":"/x"}')
    sys.modules.pop("tc_app", None)


def test_unknown_targets_and_schemes_are_explained(test_plugin: str) -> None:
    from platform_sdk.runtime import plugins
    from platform_sdk.runtime.buckets import open_bucket
    from platform_sdk.runtime.entry import make_entry

    with pytest.raises(ValueError, match=r"no entry adapter for target 'nowhere'.*available: aws, gcp, local, testc"):
        make_entry("nowhere", "app.handle")
    with pytest.raises(ValueError, match=r"no plug-in here serves ftp:// buckets \(served: file://, gcs://, gs://, "
                                         r"mem://, s3://\)"):
        open_bucket("ftp://x")
    with pytest.raises(plugins.PluginNotFoundError, match="no 'database' module in the runtime of plug-in 'testcloud'"):
        plugins.load(test_plugin, "database")
    plugins.register("othercloud", "testcloud_runtime")  # a second plug-in claiming mem://
    try:
        with pytest.raises(plugins.PluginNotFoundError, match="both serve mem:// buckets"):
            open_bucket("mem://x")
    finally:
        plugins.unregister("othercloud")
