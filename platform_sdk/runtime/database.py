"""Portable SQL access: one small connection wrapper over SQLite, PostgreSQL and MySQL (verified on MariaDB).

Function code writes SQL with `?` placeholders everywhere; for PostgreSQL and MySQL they are translated to the
drivers' `%s` (outside string literals, quoted identifiers, comments and, on PostgreSQL, dollar quotes; MySQL's
backslash escapes, backquoted identifiers and `#` comments are honoured). The injected URL never holds a password:
it names where the password lives, and it is fetched at connect time.

URL shapes (PLATFORM_DATABASE_<NAME>):
  local   sqlite:////abs/path.sqlite3   (the SQLite fallback), or postgres:// / mysql:// with ?secret=<file>
  cloud   postgres://user@host:port/db?secret=<where the password is>&cloud=<plug-in>[&...]
          mysql://user@host:port/db?secret=...&cloud=<plug-in>[&...]
          postgres://user@host:port/db?auth=iam&cloud=<plug-in>[&...]   (an IAM token as the password)
          postgres://user@/db?cloud=<plug-in>&...   (no host: the plug-in knows how to reach it)
The plug-in named by `cloud` supplies, in its runtime `database` module (`platform_sdk.providers.<cloud>.runtime
.database`): `fetch_credentials(secret, params)` reading its secret store (e.g. AWS Secrets Manager for RDS's
managed secret, GCP Secret Manager), `TCP_SSLMODE` (the default sslmode over TCP, else "disable") and, optionally,
`iam_auth_token(host, port, user, params)` (the password of `?auth=iam`: e.g. an RDS IAM authentication token) and
`connect_without_host(database, kwargs)` for URLs without a host (e.g. the Cloud SQL socket or connector).
Optional query parameters: `sslmode` = disable | require | verify-ca | verify-full, `sslrootcert` = CA bundle path
for verify-*.

The drivers are pure Python (packages for Lambda need no native wheels): pg8000 for PostgreSQL, PyMySQL for
MySQL/MariaDB; they and the cloud SDKs are imported only when such a database is actually connected. MySQL is
verified against MariaDB (the server Debian ships), not Oracle MySQL. Passwords are never
logged, never put in exception messages, and never kept in the URL.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlparse

from platform_sdk import contract
from platform_sdk.runtime import plugins

if TYPE_CHECKING:
    import ssl

SECRET_TTL_SECONDS = 300.0
"""How long fetched credentials are reused by a warm function before being fetched again, in seconds."""

AUTH_FAILED_CODES = {"28P01", "28000"}
"""PostgreSQL SQLSTATEs for a rejected password: refetch the secret once (it may have been rotated)."""

MYSQL_AUTH_FAILED = 1045
"""MySQL/MariaDB error ER_ACCESS_DENIED_ERROR (a rejected password): refetch the secret once, like PostgreSQL."""

SSLMODES = ("disable", "require", "verify-ca", "verify-full")


class DatabaseConfigError(ValueError):
    """The injected database URL cannot be used (bad shape, unsupported engine, missing socket)."""

# ------------------------------------------------------------------------------------------ placeholders


def qmark_to_format(sql: str, dialect: str = "postgres") -> tuple[str, int]:
    """Rewrite `?` placeholders to `%s` and escape literal `%` as `%%`; return (sql, placeholder count).

    `dialect` "postgres": question marks and percent signs inside '...' / E'...' strings, "..." identifiers,
    -- and /* */ comments and $tag$...$tag$ bodies are left alone. (PostgreSQL's jsonb `?` operators therefore
    cannot be written bare: use jsonb_exists() and friends.)
    `dialect` "mysql": inside '...' and "..." strings (backslash escapes and doubled quotes), `...` identifiers,
    `-- `, `#` and /* */ comments.
    """
    if dialect == "mysql":
        return _mysql_qmarks(sql)
    out: list[str] = []
    count = 0
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c == "'":
            escaped = i > 0 and sql[i - 1] in "eE" and (i < 2 or not (sql[i - 2].isalnum() or sql[i - 2] == "_"))
            j = i + 1
            while j < n:
                if escaped and sql[j] == "\\":
                    j += 2
                    continue
                if sql[j] == "'":
                    if j + 1 < n and sql[j + 1] == "'":
                        j += 2
                        continue
                    break
                j += 1
            out.append(_escape_percent(sql[i:j + 1]))
            i = j + 1
        elif c == '"':
            j = sql.find('"', i + 1)
            while j != -1 and j + 1 < n and sql[j + 1] == '"':
                j = sql.find('"', j + 2)
            j = n - 1 if j == -1 else j
            out.append(_escape_percent(sql[i:j + 1]))
            i = j + 1
        elif c == "-" and sql.startswith("--", i):
            j = sql.find("\n", i)
            j = n if j == -1 else j
            out.append(_escape_percent(sql[i:j]))
            i = j
        elif c == "/" and sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            j = n if j == -1 else j + 2
            out.append(_escape_percent(sql[i:j]))
            i = j
        elif c == "$" and (i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] == "_")):
            tag_end = i + 1
            while tag_end < n and (sql[tag_end].isalnum() or sql[tag_end] == "_"):
                tag_end += 1
            if tag_end < n and sql[tag_end] == "$" and not sql[i + 1:tag_end].isdigit():
                tag = sql[i:tag_end + 1]
                j = sql.find(tag, tag_end + 1)
                j = n if j == -1 else j + len(tag)
                out.append(_escape_percent(sql[i:j]))
                i = j
            else:
                out.append(c)
                i += 1
        elif c == "?":
            out.append("%s")
            count += 1
            i += 1
        elif c == "%":
            out.append("%%")
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out), count


def _escape_percent(text: str) -> str:
    return text.replace("%", "%%")


def _mysql_qmarks(sql: str) -> tuple[str, int]:
    """qmark_to_format for MySQL/MariaDB (default sql_mode: backslash escapes inside strings)."""
    out: list[str] = []
    count = 0
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"`":
            j = i + 1
            while j < n:
                if sql[j] == "\\" and c != "`":
                    j += 2
                    continue
                if sql[j] == c:
                    if j + 1 < n and sql[j + 1] == c:
                        j += 2
                        continue
                    break
                j += 1
            out.append(_escape_percent(sql[i:j + 1]))
            i = j + 1
        elif c == "#" or (c == "-" and sql.startswith("--", i) and (i + 2 == n or sql[i + 2] in " \t\n\r")):
            j = sql.find("\n", i)
            j = n if j == -1 else j
            out.append(_escape_percent(sql[i:j]))
            i = j
        elif c == "/" and sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            j = n if j == -1 else j + 2
            out.append(_escape_percent(sql[i:j]))
            i = j
        elif c == "?":
            out.append("%s")
            count += 1
            i += 1
        elif c == "%":
            out.append("%%")
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out), count


def count_qmarks(sql: str, dialect: str = "postgres") -> int:
    """Number of `?` placeholders outside literals and comments."""
    return qmark_to_format(sql, dialect)[1]


# ------------------------------------------------------------------------------------------- connection


def _short(sql: str) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= 80 else text[:77] + "..."


class TransactionAborted(RuntimeError):
    """(PostgreSQL) A statement of the transaction failed earlier and its error was caught: PostgreSQL refuses every
    later statement of the transaction, and its COMMIT is a ROLLBACK. `statement` and `error` are that first failure.
    Roll back after catching an error (`conn.rollback()`) to go on, or catch it outside the `with` block."""

    def __init__(self, failed: tuple[str, BaseException], what: str) -> None:
        self.statement, self.error = failed
        super().__init__(f"{what}: the transaction's statement {_short(self.statement)!r} failed earlier ({self.error})"
                         " and PostgreSQL refuses everything after an error in a transaction; call rollback() after "
                         "catching such an error, or catch it outside the `with` block")


class Connection:
    """A DB-API connection with one calling convention on every engine.

    Use as a context manager: commits when the block ends cleanly, rolls back when it raises, closes
    either way. Parameters are always `?` placeholders (translated for PostgreSQL and MySQL drivers); a count
    of `?` that differs from the parameters given raises ValueError. Driver errors (a constraint violated, a
    syntax error) pass through as the driver's exceptions.
    """

    def __init__(self, raw: Any, engine: str) -> None:
        self.raw = raw
        self.engine = engine
        self.closed = False
        self._failed: tuple[str, BaseException] | None = None  # this transaction's first failed statement

    def _prepare(self, sql: str, params: Sequence[Any]) -> tuple[str, tuple[Any, ...]]:
        values = tuple(params)
        if self.engine == "sqlite":
            return sql, values
        translated, count = qmark_to_format(sql, self.engine)
        if count != len(values):
            raise ValueError(f"SQL has {count} ? placeholder(s) but {len(values)} parameter(s) were given")
        # With no parameters the driver sends the text as-is (no %-unescaping), so keep the original.
        return (translated if values else sql), values

    def _cursor(self, sql: str, params: Sequence[Any]) -> Any:
        if self.closed:
            raise RuntimeError("connection is closed")
        statement, values = self._prepare(sql, params)
        cursor = self.raw.cursor()
        try:
            if values:
                cursor.execute(statement, values)
            else:
                cursor.execute(statement)
        except Exception as error:
            cursor.close()
            if self._failed is not None and self.engine == "postgres":
                raise TransactionAborted(self._failed, f"statement {_short(sql)!r} was not run") from error
            self._failed = (sql, error)
            raise
        return cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns the affected row count (-1 when the driver does not know)."""
        cursor = self._cursor(sql, params)
        try:
            return int(cursor.rowcount if cursor.rowcount is not None else -1)
        finally:
            cursor.close()

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement once per parameter row (inside the current transaction)."""
        for row in rows:
            self.execute(sql, row)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a statement and return every row as a tuple."""
        cursor = self._cursor(sql, params)
        try:
            return [tuple(row) for row in (cursor.fetchall() or [])]
        finally:
            cursor.close()

    def commit(self) -> None:
        """Make the current transaction's changes permanent (the `with` block does this when it ends cleanly).

        Raises:
            TransactionAborted: (PostgreSQL) a statement of this transaction failed and the error was caught: the
                server refuses everything after it and a COMMIT ends the transaction as a ROLLBACK, silently. The
                transaction is rolled back and this says so, naming that statement, instead of losing the
                block's writes without a word.
        """
        failed, self._failed = self._failed, None
        if failed is not None and self.engine == "postgres":
            self.raw.rollback()
            raise TransactionAborted(failed, "nothing of this transaction was committed") from failed[1]
        self.raw.commit()

    def rollback(self) -> None:
        """Undo the current transaction's changes (the `with` block does this when it raises)."""
        self._failed = None
        self.raw.rollback()

    def close(self) -> None:
        """Close the connection; closing twice is harmless. Uncommitted changes are lost."""
        if not self.closed:
            self.closed = True
            self.raw.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if exc_type is None:
                self.commit()
            else:
                self.rollback()
        finally:
            self.close()


# ---------------------------------------------------------------------------------------------- secrets


@dataclass(frozen=True)
class Credentials:
    """A database user and password from a secret store; the password never shows in repr()."""

    username: str | None
    password: str = ""

    def __repr__(self) -> str:  # never show the password, even in a traceback's locals
        return f"Credentials(username={self.username!r}, password='***')"


_secret_cache: dict[str, tuple[float, Credentials]] = {}
_secret_lock = threading.Lock()


def parse_secret(text: str) -> Credentials:
    """A secret's text: JSON {"username", "password", ...} (managed secrets), or the password itself.

    Raises:
        DatabaseConfigError: JSON without a "password" field.
    """
    try:
        value = json.loads(text)
    except ValueError:
        return Credentials(None, text.strip("\n"))
    if isinstance(value, dict) and "password" in value:
        username = value.get("username")
        return Credentials(str(username) if username is not None else None, str(value["password"]))
    if isinstance(value, str):
        return Credentials(None, value)
    raise DatabaseConfigError("the database secret is JSON without a 'password' field")


@contextlib.contextmanager
def no_debug_logs(*names: str) -> Iterator[None]:
    """SDK debug logging prints response bodies, i.e. the secret: keep those loggers at INFO while fetching."""
    loggers = [logging.getLogger(name) for name in names]
    saved = [lg.level for lg in loggers]
    for lg in loggers:
        if lg.getEffectiveLevel() < logging.INFO:
            lg.setLevel(logging.INFO)
    try:
        yield
    finally:
        for lg, level in zip(loggers, saved, strict=True):
            lg.setLevel(level)


def cloud_module(cloud: str) -> ModuleType | None:
    """The runtime `database` module of plug-in `cloud`, or None when it has none (or no such plug-in is here)."""
    if not cloud:
        return None
    try:
        return plugins.load(cloud, "database")
    except plugins.PluginNotFoundError:
        return None


def fetch_credentials(cloud: str, secret: str, params: Mapping[str, str] | None = None,
                      refresh: bool = False) -> Credentials:
    """Credentials from plug-in `cloud`'s secret store, cached per process for SECRET_TTL_SECONDS.

    `params` are the database URL's query parameters (some stores need more than the secret's name).

    Raises:
        DatabaseConfigError: that cloud has no secret store here, or the secret is malformed.
    """
    key = f"{cloud}:{secret}"
    now = time.monotonic()
    with _secret_lock:
        cached = _secret_cache.get(key)
        if cached and not refresh and now - cached[0] < SECRET_TTL_SECONDS:
            return cached[1]
    module = cloud_module(cloud)
    fetch = getattr(module, "fetch_credentials", None)
    if fetch is None:
        raise DatabaseConfigError(f"no secret store for cloud {cloud!r}")
    creds: Credentials = fetch(secret, dict(params or {}))
    with _secret_lock:
        _secret_cache[key] = (now, creds)
    return creds


TOKEN_TTL_SECONDS = 600.0
"""How long an IAM authentication token is reused, in seconds (RDS accepts one for 15 minutes)."""

_token_cache: dict[str, tuple[float, Credentials]] = {}


def iam_credentials(database: Database, refresh: bool = False) -> Credentials | None:
    """The URL's user with an IAM authentication token from plug-in `cloud` (`iam_auth_token(host, port, user,
    params)` of its runtime `database` module), cached for TOKEN_TTL_SECONDS; None when that cloud's connection
    path authenticates by itself (e.g. a connector with IAM authentication).

    Raises:
        DatabaseConfigError: the URL has no user or host, or that cloud knows no IAM authentication.
    """
    parsed = database.parsed
    user = unquote(parsed.username or "")
    module = cloud_module(database.cloud)
    sign = getattr(module, "iam_auth_token", None)
    if sign is None:
        if parsed.hostname is None and hasattr(module, "connect_without_host"):
            return Credentials(user or None, "")
        raise DatabaseConfigError(f"database {database.name!r}: cloud {database.cloud!r} has no IAM database "
                                  "authentication here")
    if not user or not parsed.hostname:
        raise DatabaseConfigError(f"database {database.name!r}: IAM authentication needs the URL's user and host")
    port = parsed.port or (5432 if database.engine == "postgres" else 3306)
    key = f"{database.cloud}:{user}@{parsed.hostname}:{port}"
    now = time.monotonic()
    with _secret_lock:
        cached = _token_cache.get(key)
        if cached and not refresh and now - cached[0] < TOKEN_TTL_SECONDS:
            return cached[1]
    creds = Credentials(user, str(sign(parsed.hostname, port, user, database.params)))
    with _secret_lock:
        _token_cache[key] = (now, creds)
    return creds


# --------------------------------------------------------------------------------------------- database


def _ssl_context(mode: str, rootcert: str | None) -> ssl.SSLContext | None:
    import ssl  # lazily: ~10 ms, and SQLite-only functions never need it

    if mode == "disable":
        return None
    if mode == "require":  # encrypt, do not verify (libpq's meaning of sslmode=require)
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if mode in ("verify-ca", "verify-full"):
        context = ssl.create_default_context(cafile=rootcert)
        context.check_hostname = mode == "verify-full"
        return context
    raise DatabaseConfigError(f"unsupported sslmode {mode!r}: use {', '.join(SSLMODES)}")


class Database:
    """A granted database: `.url` (no password), `.engine` ("sqlite" | "postgres" | "mysql") and `.connect()`.

    Engines and drivers: SQLite (the standard library), PostgreSQL (pg8000), MySQL (PyMySQL; verified on MariaDB).
    """

    def __init__(self, name: str, url: str) -> None:
        self.name = name
        self.url = url
        parsed = urlparse(url)
        scheme = parsed.scheme.lower()
        if scheme == "sqlite":
            self.engine = "sqlite"
        elif scheme in ("postgres", "postgresql"):
            self.engine = "postgres"
        elif scheme == "mysql":
            self.engine = "mysql"
        else:
            raise DatabaseConfigError(f"database {name!r}: unsupported URL scheme {scheme!r}")
        if parsed.password:
            raise DatabaseConfigError(f"database {name!r}: the URL must not carry a password; use ?secret=")
        self.parsed = parsed
        self.params = dict(parse_qsl(parsed.query))

    def __repr__(self) -> str:
        return f"Database({self.name!r}, {self.url!r})"

    @property
    def cloud(self) -> str:
        """The plug-in named by the URL's `cloud` parameter ("local" for SQLite, "" when unnamed)."""
        return self.params.get("cloud", "local" if self.engine == "sqlite" else "")

    @property
    def sqlite_path(self) -> Path:
        """The SQLite file: `sqlite:////abs` is absolute, `sqlite:///rel` relative to the working directory."""
        rest = unquote(self.url[len("sqlite://"):].split("?", 1)[0])
        if not rest.startswith("/"):
            raise DatabaseConfigError(f"database {self.name!r}: expected sqlite:///<path>, got {self.url!r}")
        rest = rest[1:]
        return Path(rest) if rest.startswith("/") else Path.cwd() / rest

    def connect(self) -> Connection:
        """Open a new connection (the caller closes it, best with `with db.connect() as conn:`).

        Raises:
            DatabaseConfigError: the URL cannot be used; driver errors (e.g. a refused password) pass through.
        """
        if self.engine == "sqlite":
            return self._connect_sqlite()
        if self.engine == "postgres":
            return Connection(self._with_credentials(self._pg8000_connect), "postgres")
        return Connection(self._with_credentials(self._pymysql_connect), "mysql")

    def _connect_sqlite(self) -> Connection:
        path = self.sqlite_path
        if str(path) != ":memory:" and not path.parent.is_dir():
            raise DatabaseConfigError(f"database {self.name!r}: directory {path.parent} does not exist "
                                      "(has the local cloud been applied?)")
        raw = sqlite3.connect(str(path), timeout=30.0)
        raw.execute("PRAGMA foreign_keys = ON")
        return Connection(raw, "sqlite")

    def _with_credentials(self, connect: Any) -> Any:
        """`connect(credentials)` with the URL's secret, or an IAM authentication token (`?auth=iam`); a refused
        password fetches them again once (a secret may have been rotated since this warm process cached it)."""
        secret = self.params.get("secret")
        iam = self.params.get("auth") == "iam"
        refresh = False
        for attempt in (1, 2):
            if iam:
                creds = iam_credentials(self, refresh)
            else:
                creds = fetch_credentials(self.cloud, secret, self.params, refresh) if secret else None
            try:
                return connect(creds)
            except Exception as exc:
                if attempt == 1 and (secret or iam) and _auth_failed(exc):
                    refresh = True
                    continue
                raise
        raise AssertionError("unreachable")

    def _user(self, creds: Credentials | None, default: str) -> str:
        return (creds.username if creds and creds.username else None) or unquote(self.parsed.username or "") or default

    @staticmethod
    def _application() -> str:
        app = "/".join(filter(None, (os.environ.get(contract.SERVICE), os.environ.get(contract.FUNCTION))))
        return app or "platform-function"

    def _tls(self, module: ModuleType | None) -> ssl.SSLContext | None:
        mode = self.params.get("sslmode") or str(getattr(module, "TCP_SSLMODE", "disable"))
        return _ssl_context(mode, self.params.get("sslrootcert"))

    def _without_host(self, module: ModuleType | None, kwargs: dict[str, Any]) -> Any:
        connect_without_host = getattr(module, "connect_without_host", None)
        if connect_without_host is None:
            raise DatabaseConfigError(f"database {self.name!r}: the URL has no host"
                                      + (f" (and cloud {self.cloud!r} knows no other way)" if self.cloud else ""))
        return connect_without_host(self, kwargs)

    def _pg8000_connect(self, creds: Credentials | None) -> Any:
        import pg8000.dbapi  # lazily: sqlite-only functions never import it

        parsed = self.parsed
        kwargs: dict[str, Any] = {
            "user": self._user(creds, "postgres"),
            "database": unquote(parsed.path.lstrip("/")) or None,
            "password": creds.password if creds else None,
            "application_name": self._application()[:63],
        }
        module = cloud_module(self.cloud)
        if parsed.hostname:
            kwargs.update(host=parsed.hostname, port=parsed.port or 5432, ssl_context=self._tls(module))
            return pg8000.dbapi.connect(**kwargs)
        return self._without_host(module, kwargs)

    def _pymysql_connect(self, creds: Credentials | None) -> Any:
        import pymysql  # lazily: only functions granted a MySQL database import it

        parsed = self.parsed
        kwargs: dict[str, Any] = {
            "user": self._user(creds, "root"),
            "database": unquote(parsed.path.lstrip("/")) or None,
            "password": creds.password if creds else "",
            "program_name": self._application()[:63],  # performance_schema.session_connect_attrs
            "charset": "utf8mb4",
            "autocommit": False,
        }
        module = cloud_module(self.cloud)
        if parsed.hostname:
            kwargs.update(host=parsed.hostname, port=parsed.port or 3306, ssl=self._tls(module))
            return pymysql.connect(**kwargs)
        return self._without_host(module, kwargs)


def _auth_failed(exc: BaseException) -> bool:
    """A rejected password: PostgreSQL SQLSTATE 28P01/28000, MySQL error 1045."""
    if _sqlstate(exc) in AUTH_FAILED_CODES:
        return True
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    return bool(args) and args[0] == MYSQL_AUTH_FAILED and type(exc).__module__.startswith("pymysql")


def _sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a pg8000 error (its args[0] is a dict with key 'C'), if any."""
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], dict):
        return args[0].get("C")
    return None
