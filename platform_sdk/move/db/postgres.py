"""PostgreSQL -> PostgreSQL: `pg_dump --format=custom` of one snapshot, `pg_restore` in one transaction.

- Connections (versions, table list, checksums) use pg8000 (pure Python); the copy uses the local pg_dump and
  pg_restore, which must be able to dump the source server: pg_dump refuses a server of a newer major version
  ("aborting because of server version mismatch", https://www.postgresql.org/docs/current/app-pgdump.html), and
  pg_restore cannot read archives of a newer pg_dump. `preflight` checks both before anything is copied.
- The dump and the source checksums read one exported snapshot (`pg_export_snapshot()`, `pg_dump --snapshot`),
  so verification compares exactly what was copied even while the source is being written.
- `pg_restore --clean --if-exists --single-transaction`: a re-run replaces what an earlier run restored, and a
  failed restore leaves the target as it was.
- Identifiers are always quoted (`"schema"."table"`); report keys are `format('%I.%I')`, e.g. `public.users`,
  `"App Data"."we""ird"`. Tables: ordinary tables and partitions in every schema except pg_* and
  information_schema, without extension-owned tables. Primary-key columns are ordered with `COLLATE "C"`, so
  both sides agree whatever each database's default collation.
- Passwords travel in PGPASSWORD, never on a command line.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from platform_sdk.errors import PlatformError
from platform_sdk.move.db.checksum import TableDigest, TableSum
from platform_sdk.move.db.tools import Tool, find_tool, version_tuple
from platform_sdk.move.db.urls import DatabaseUrl

APT_REPOSITORY = "https://wiki.postgresql.org/wiki/Apt"
# Session settings that fix the text form of every value, so equal content checksums equal on both sides.
CANONICAL_SETTINGS = ("DateStyle = 'ISO, YMD'", "TimeZone = 'UTC'", "IntervalStyle = 'postgres'",
                      "extra_float_digits = 3", "bytea_output = 'hex'", "lc_monetary = 'C'",
                      "client_encoding = 'UTF8'")
TABLES = """
SELECT c.oid, format('%I.%I', n.nspname, c.relname), n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 2
"""
PRIMARY_KEY = """
SELECT a.attname, a.attcollation <> 0
FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = :oid AND i.indisprimary
ORDER BY k.ord
"""


def quote_ident(name: str) -> str:
    """A PostgreSQL identifier, always quoted: `we"ird` -> `"we""ird"`."""
    return '"' + name.replace('"', '""') + '"'


def conninfo(url: DatabaseUrl) -> str:
    """libpq keyword/value connection string (no password: that travels in PGPASSWORD)."""
    def value(text: str) -> str:
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    parts = {"host": url.host or "localhost", "port": str(url.port) if url.port else None, "user": url.user,
             "dbname": url.database or None, "application_name": "platform move"}
    return " ".join(f"{key}={value(text)}" for key, text in parts.items() if text)


def client_env(url: DatabaseUrl) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PGPASSWORD", "PGSERVICE", "PGOPTIONS")}
    if url.password is not None:
        env["PGPASSWORD"] = url.password
    return env


def major(version: str) -> tuple[int, ...]:
    """PostgreSQL's major version: (16,) for 16.4; (9, 6) for 9.6.24."""
    release = version_tuple(version)
    return release[:1] if release and release[0] >= 10 else release[:2]


def _show(release: tuple[int, ...]) -> str:
    return ".".join(map(str, release))


def client_problem(pg_dump: Tool | None, pg_restore: Tool | None, source_version: str,
                   target_version: str) -> str | None:
    """Why the local pg_dump/pg_restore cannot copy between these servers (None when they can)."""
    source, target = major(source_version), major(target_version)
    package = f"postgresql-client-{_show(source)}"
    install = (f"install {package} (Debian/Ubuntu: from the PostgreSQL apt repository, {APT_REPOSITORY}, "
               f"when the distribution's own is older), make its pg_dump and pg_restore the ones on PATH "
               f"(/usr/lib/postgresql/{_show(source)}/bin; Debian's /usr/bin wrappers pick the newest installed), "
               "and re-run the move")
    if target < source:
        return (f"the target server runs PostgreSQL {target_version}, older than the source's {source_version}: "
                "a dump cannot be restored into an older major version; create the target with PostgreSQL "
                f"{_show(source)} or newer")
    if pg_dump is None or pg_restore is None:
        missing = " and ".join(n for n, t in (("pg_dump", pg_dump), ("pg_restore", pg_restore)) if t is None)
        return f"moving a PostgreSQL {source_version} database needs {missing} on PATH: {install}"
    if major(pg_dump.version) < source:
        return (f"{pg_dump} cannot dump the source server, PostgreSQL {source_version} (pg_dump refuses a server "
                f"of a newer major version): {install}")
    if major(pg_restore.version) < major(pg_dump.version):
        return (f"{pg_restore} cannot read archives written by pg_dump {pg_dump.version}: use pg_dump and "
                f"pg_restore of the same version ({package} provides both)")
    return None


def _message(err: Exception) -> str:
    detail = err.args[0] if err.args else err
    if isinstance(detail, dict):  # pg8000 server errors: {'S': 'FATAL', 'C': '28P01', 'M': '...'}
        return str(detail.get("M", detail))
    return str(detail)


class PostgresDatabase:
    """A pg8000 connection with canonical session settings."""

    def __init__(self, url: DatabaseUrl, role: str) -> None:
        import pg8000.exceptions
        import pg8000.native

        self.url = url
        options: dict[str, Any] = {"user": url.user or "postgres", "host": url.host or "localhost",
                                   "port": url.port or 5432, "database": url.database or None,
                                   "password": url.password, "application_name": "platform move"}
        try:
            try:  # libpq's default, sslmode=prefer: encrypted when the server offers it
                tls = ssl.create_default_context()
                tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
                self.conn = pg8000.native.Connection(**options, ssl_context=tls)
            except pg8000.exceptions.InterfaceError as err:
                if "refuses SSL" not in str(err):
                    raise
                self.conn = pg8000.native.Connection(**options)
        except (pg8000.exceptions.Error, OSError) as err:
            raise PlatformError(f"cannot connect to the {role} database {url}: {_message(err)}",
                                key="database", value=str(url)) from None
        for setting in CANONICAL_SETTINGS:
            self.conn.run(f"SET {setting}")
        self.version = str(self.conn.run("SHOW server_version")[0][0])
        self._in_transaction = False

    def exists(self) -> bool:
        return True

    def _tables(self) -> list[tuple[str, str, tuple[str, ...], tuple[bool, ...]]]:
        """(display name, quoted name, primary-key columns, collatable flags) per table."""
        tables = []
        for oid, display, schema, name in self.conn.run(TABLES):
            key = self.conn.run(PRIMARY_KEY, oid=oid)
            tables.append((str(display), f"{quote_ident(schema)}.{quote_ident(name)}",
                           tuple(str(column) for column, _ in key), tuple(bool(c) for _, c in key)))
        return tables

    @contextmanager
    def _read_transaction(self) -> Iterator[None]:
        if self._in_transaction:
            yield
            return
        self.conn.run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        self._in_transaction = True
        try:
            yield
        finally:
            self._in_transaction = False
            self.conn.run("COMMIT")

    @contextmanager
    def snapshot(self) -> Iterator[str]:
        """Hold a read-only snapshot and yield its id for `pg_dump --snapshot`; checksums inside use it too."""
        with self._read_transaction():
            yield str(self.conn.run("SELECT pg_export_snapshot()")[0][0])

    def checksums(self) -> dict[str, TableSum]:
        sums = {}
        with self._read_transaction():
            for display, quoted, key, collatable in self._tables():
                order = ", ".join(quote_ident(column) + (' COLLATE "C"' if text else "")
                                  for column, text in zip(key, collatable, strict=True))
                query = f"SELECT * FROM {quoted}" + (f" ORDER BY {order}" if order else "")
                digest = TableDigest(key)
                self.conn.run(f"COPY ({query}) TO STDOUT", stream=digest)
                sums[display] = digest.result()
        return sums

    def set_read_only(self, read_only: bool) -> str:
        """Refuse (or allow again) writes to this database by every other role (the functions' roles): for each
        role that is neither a superuser nor the one connected here, `ALTER ROLE ... IN DATABASE ... SET
        default_transaction_read_only = on`, so its new sessions here are read only, then its open sessions here
        are ended, so none keeps writing (an open transaction rolls back: nothing it wrote was acknowledged). The
        connected role (the move's, and the one Terraform manages the database with) keeps writing: a cut-over still
        drops the moved functions' roles. Allowing again resets that setting for every role. Needs a role with
        CREATEROLE and `pg_signal_backend` (RDS's `rds_superuser`, Cloud SQL's `cloudsqlsuperuser`).
        https://www.postgresql.org/docs/current/sql-alterrole.html,
        https://www.postgresql.org/docs/current/functions-admin.html#FUNCTIONS-ADMIN-SIGNAL. Returns how."""
        import pg8000.exceptions

        database = quote_ident(self.url.database or "postgres")
        try:
            if read_only:
                from platform_sdk import providers  # the managed services' own roles: each cloud's plug-in

                system = sorted({p for plugin in providers.plugins().values() for p in plugin.database_system_roles})
                query = ("SELECT rolname FROM pg_roles WHERE NOT rolsuper AND rolname <> current_user "
                         "AND rolname NOT LIKE 'pg\\_%'" + "".join(f" AND rolname NOT LIKE :p{i}"
                                                                 for i in range(len(system))))
                roles = [str(r[0]) for r in self.conn.run(query, **{f"p{i}": p for i, p in enumerate(system)})]
                for role in roles:
                    self.conn.run(f"ALTER ROLE {quote_ident(role)} IN DATABASE {database} "
                                  "SET default_transaction_read_only = on")
                self.conn.run("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
                              "current_database() AND pid <> pg_backend_pid() AND usename <> current_user")
                return f"read only for {len(roles)} role(s), their sessions ended"
            roles = [str(r[0]) for r in self.conn.run(
                "SELECT r.rolname FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole JOIN pg_database d "
                "ON d.oid = s.setdatabase WHERE d.datname = current_database() "
                "AND array_to_string(s.setconfig, ',') LIKE '%default_transaction_read_only=on%'")]
            for role in roles:
                self.conn.run(f"ALTER ROLE {quote_ident(role)} IN DATABASE {database} "
                              "RESET default_transaction_read_only")
            return "read-write"
        except pg8000.exceptions.Error as err:
            raise PlatformError(f"cannot {'stop' if read_only else 'allow'} writes to the database {self.url}: "
                                f"{_message(err)}", key="database", value=str(self.url),
                                hint="the move's credentials need CREATEROLE and pg_signal_backend") from None

    def close(self) -> None:
        self.conn.close()


class PostgresEngine:
    label = "PostgreSQL"
    method = "pg_dump --format=custom --snapshot | pg_restore --clean --if-exists --single-transaction"

    def __init__(self) -> None:
        self.pg_dump: Tool | None = None
        self.pg_restore: Tool | None = None

    def connect(self, url: DatabaseUrl, role: str) -> PostgresDatabase:
        return PostgresDatabase(url, role)

    def preflight(self, source: PostgresDatabase, target: PostgresDatabase) -> dict[str, str]:
        self.pg_dump, self.pg_restore = find_tool("pg_dump"), find_tool("pg_restore")
        problem = client_problem(self.pg_dump, self.pg_restore, source.version, target.version)
        if problem:
            raise PlatformError(problem, key="database", value=f"{source.url} -> {target.url}")
        assert self.pg_dump is not None and self.pg_restore is not None
        return {"source server": f"PostgreSQL {source.version}", "target server": f"PostgreSQL {target.version}",
                "pg_dump": f"{self.pg_dump.version} ({self.pg_dump.path})",
                "pg_restore": f"{self.pg_restore.version} ({self.pg_restore.path})"}

    def copy(self, source: PostgresDatabase, target: PostgresDatabase, workdir: Path) -> dict[str, TableSum]:
        assert self.pg_dump is not None and self.pg_restore is not None, "preflight first"
        workdir.mkdir(parents=True, exist_ok=True)
        dump = workdir / f"database-{uuid.uuid4().hex}.dump"
        dump.touch(mode=0o600)  # the dump holds all the data: private to this user until it is deleted
        try:
            with source.snapshot() as snapshot:
                _run([self.pg_dump.path, "--format=custom", "--no-owner", "--no-acl", "--no-subscriptions",
                      "--no-security-labels", f"--snapshot={snapshot}", f"--file={dump}",
                      f"--dbname={conninfo(source.url)}"], client_env(source.url), "the source is unchanged")
                _run([self.pg_restore.path, "--no-owner", "--no-acl", "--clean", "--if-exists", "--exit-on-error",
                      "--single-transaction", f"--dbname={conninfo(target.url)}", str(dump)],
                     client_env(target.url), "the restore was rolled back: the target is as it was")
                return source.checksums()
        finally:
            dump.unlink(missing_ok=True)


def _run(command: list[str], env: dict[str, str], state: str) -> None:
    try:
        subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as err:
        tail = err.stderr.strip()[-800:] or f"exit code {err.returncode}"
        raise PlatformError(f"database copy failed in {Path(command[0]).name}: {tail} ({state}; fix the cause and "
                            "re-run the move)") from None
