"""MariaDB/MySQL -> same: `mysqldump --single-transaction` streamed into `mysql`, verified through PyMySQL.

- mysqldump carries everything a database holds (tables, views, triggers, routines, events) and emits
  `DROP ... IF EXISTS` before each object, so a re-run replaces what an earlier run restored. Dump and restore
  are piped: nothing is written to disk, memory stays bounded.
- Checksums read each table through an unbuffered PyMySQL cursor inside one consistent snapshot, ordered by
  primary key, with values as the server's text (no driver conversions) and the session time zone at UTC.
  mysqldump takes its own snapshot: if the source is written during the copy, verification says which table
  differs, and a re-run copies again.
- Versions: MariaDB and MySQL have diverged (https://mariadb.com/kb/en/mariadb-vs-mysql-compatibility/), so both
  servers and the local client must be of one family, the client no older (major.minor) than the source server,
  and the target no older than the source. MySQL is verified here on MariaDB (Debian's mariadb-server); a MySQL
  server needs MySQL's own client.
- Identifiers are always quoted with backticks; credentials travel in a private option file
  (`--defaults-extra-file`, mode 0600, deleted afterwards), never on a command line.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from platform_sdk.errors import PlatformError
from platform_sdk.move.db.checksum import TableDigest, TableSum, text_row
from platform_sdk.move.db.tools import Tool, find_tool, version_tuple
from platform_sdk.move.db.urls import DatabaseUrl

INSTALL = {
    "MariaDB": "install mariadb-client {release} or newer (Debian/Ubuntu: apt-get install mariadb-client; newer "
               "releases from MariaDB's apt repository, https://mariadb.org/download/?t=repo-config)",
    "MySQL": "install MySQL's client {release} or newer (package mysql-client from the MySQL APT repository, "
             "https://dev.mysql.com/downloads/repo/apt/); Debian's mariadb-client is verified only against "
             "MariaDB servers",
}
DUMP_OPTIONS = ("--single-transaction", "--routines", "--triggers", "--events", "--hex-blob", "--no-tablespaces",
                "--default-character-set=utf8mb4")
TABLES = ("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
          "AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') ORDER BY TABLE_NAME")
PRIMARY_KEY = ("SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() "
               "AND TABLE_NAME = %s AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX")


def quote_literal(text: str) -> str:
    """A string literal for an account's user or host part (`'o''brien'`)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def quote_ident(name: str) -> str:
    """A MariaDB/MySQL identifier, always quoted: ``we`ird`` -> ```we``ird```."""
    return "`" + name.replace("`", "``") + "`"


def family(server_version: str) -> str:
    """`MariaDB` or `MySQL`, from `SELECT VERSION()` (e.g. `10.11.18-MariaDB-0+deb12u1`, `8.0.36`)."""
    return "MariaDB" if "mariadb" in server_version.lower() else "MySQL"


def release(version: str) -> tuple[int, ...]:
    """(major, minor): the part of a version that decides compatibility."""
    return version_tuple(version)[:2]


def _show(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version))


def client_problem(dump: Tool | None, load: Tool | None, source_version: str, target_version: str) -> str | None:
    """Why the local mysqldump/mysql cannot copy between these servers (None when they can)."""
    source_family, target_family = family(source_version), family(target_version)
    if source_family != target_family:
        return (f"the source runs {source_family} {source_version} and the target {target_family} "
                f"{target_version}: a dump of one is not guaranteed to restore into the other; create the target "
                f"with {source_family}")
    if release(target_version) < release(source_version):
        return (f"the target server runs {target_family} {target_version}, older than the source's "
                f"{source_version}: create the target with {source_family} {_show(release(source_version))} or newer")
    install = INSTALL[source_family].format(release=_show(release(source_version)))
    if dump is None or load is None:
        missing = " and ".join(n for n, t in (("mysqldump", dump), ("mysql", load)) if t is None)
        return f"moving a {source_family} database needs {missing} on PATH: {install}"
    for tool in (dump, load):
        if tool.family != source_family:
            return f"{tool} is not verified against a {source_family} {source_version} server: {install}"
        if release(tool.version) < release(source_version):
            return f"{tool} is older than the source server, {source_family} {source_version}: {install}"
    return None


def option_file(url: DatabaseUrl, directory: Path) -> Path:
    """A private `[client]` option file with the connection and password (mode 0600; delete it after use)."""
    def value(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    lines = ["[client]", f"host={value(url.host or '127.0.0.1')}", f"port={url.port or 3306}",
             f"user={value(url.user or 'root')}", "protocol=TCP"]
    if url.password is not None:
        lines.append(f"password={value(url.password)}")
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="client-", suffix=".cnf", dir=directory)
    with os.fdopen(fd, "w") as handle:  # mkstemp creates it 0600
        handle.write("\n".join(lines) + "\n")
    return Path(name)


class MysqlDatabase:
    """A PyMySQL connection returning values as the server's text (bytes for binary columns)."""

    def __init__(self, url: DatabaseUrl, role: str) -> None:
        import pymysql
        from pymysql.converters import conversions

        self.url = url
        encoders = {k: v for k, v in conversions.items() if not isinstance(k, int)}  # no decoders: server text
        try:
            self.conn = pymysql.connect(host=url.host or "127.0.0.1", port=url.port or 3306, user=url.user or "root",
                                        password=url.password or "", database=url.database or None,
                                        charset="utf8mb4", autocommit=True, conv=encoders, connect_timeout=30)
        except (pymysql.err.Error, OSError) as err:
            reason = err.args[1] if len(err.args) > 1 else err
            raise PlatformError(f"cannot connect to the {role} database {url}: {reason}", key="database",
                                value=str(url)) from None
        self.version = str(self._rows("SELECT VERSION()")[0][0])
        self._rows("SET time_zone = '+00:00'")

    def exists(self) -> bool:
        return True

    def _rows(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        with self.conn.cursor() as cursor:
            cursor.execute(query, args or None)
            return list(cursor.fetchall())

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        self._rows("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        try:
            yield
        finally:
            self._rows("COMMIT")

    def checksums(self) -> dict[str, TableSum]:
        import pymysql.cursors

        sums = {}
        with self._snapshot():
            for (name,) in self._rows(TABLES):
                key = tuple(str(column) for (column,) in self._rows(PRIMARY_KEY, name))
                query = f"SELECT * FROM {quote_ident(name)}"
                if key:
                    query += " ORDER BY " + ", ".join(quote_ident(column) for column in key)
                digest = TableDigest(key)
                with self.conn.cursor(pymysql.cursors.SSCursor) as cursor:  # unbuffered: rows stream
                    cursor.execute(query)
                    while batch := cursor.fetchmany(1000):
                        for row in batch:
                            digest.add(text_row(None if v is None else "\\x" + v.hex() if isinstance(v, bytes)
                                                else str(v) for v in row))
                sums[str(name)] = digest.result()
        return sums

    def set_read_only(self, read_only: bool) -> str:
        """Refuse writes to this database by every other account (the functions' accounts): each account with rights
        on this database alone (a `mysql.db` row; neither the one connected here nor one with global rights) keeps
        only SELECT there, and its open connections to it are killed, so none keeps writing (MySQL checks
        database rights when a connection starts using the database). MariaDB has no read-only switch per
        database (MySQL 8.0.22's `ALTER DATABASE ... READ ONLY` is MySQL only), hence the rights.
        https://mariadb.com/kb/en/revoke/, https://mariadb.com/kb/en/kill/. Allowing writes again is left to
        those accounts' owner: a cut-over drops the moved functions' accounts on the source and a rollback's
        cut-over grants the recreated ones their rights again; it changes nothing here. Returns how."""
        import pymysql

        if not read_only:
            return "read-write: the accounts' rights are granted again by their next apply"
        name = self.url.database or ""
        try:
            me = str(self._rows("SELECT CURRENT_USER()")[0][0]).rpartition("@")[0]
            accounts = [(str(u), str(h)) for u, h in self._rows(
                "SELECT DISTINCT User, Host FROM mysql.db WHERE Db = %s AND User <> %s", name, me)]
            for user, host in accounts:
                account = f"{quote_literal(user)}@{quote_literal(host)}"
                self._rows(f"REVOKE ALL PRIVILEGES ON {quote_ident(name)}.* FROM {account}")
                self._rows(f"GRANT SELECT ON {quote_ident(name)}.* TO {account}")
            users = {user for user, _ in accounts}
            for pid, user in self._rows("SELECT ID, USER FROM information_schema.PROCESSLIST WHERE DB = %s "
                                        "AND ID <> CONNECTION_ID()", name):
                if str(user) in users:
                    with suppress(pymysql.err.Error):  # gone meanwhile
                        self._rows(f"KILL CONNECTION {int(pid)}")
        except pymysql.err.Error as err:
            reason = err.args[1] if len(err.args) > 1 else err
            raise PlatformError(f"cannot stop writes to the database {self.url}: {reason}", key="database",
                                value=str(self.url), hint="the move's credentials need GRANT OPTION, SELECT on "
                                "mysql.db and the right to kill other accounts' connections") from None
        return f"SELECT only for {len(accounts)} account(s), their connections killed"

    def close(self) -> None:
        with suppress(Exception):
            self.conn.close()


class MysqlEngine:
    label = "MariaDB/MySQL"
    method = "mysqldump --single-transaction --routines --triggers --events | mysql"

    def __init__(self) -> None:
        self.dump: Tool | None = None
        self.load: Tool | None = None

    def connect(self, url: DatabaseUrl, role: str) -> MysqlDatabase:
        return MysqlDatabase(url, role)

    def preflight(self, source: MysqlDatabase, target: MysqlDatabase) -> dict[str, str]:
        self.dump, self.load = find_tool("mysqldump", "mariadb-dump"), find_tool("mysql", "mariadb")
        problem = client_problem(self.dump, self.load, source.version, target.version)
        if problem:
            raise PlatformError(problem, key="database", value=f"{source.url} -> {target.url}")
        assert self.dump is not None and self.load is not None
        return {"source server": f"{family(source.version)} {source.version}",
                "target server": f"{family(target.version)} {target.version}",
                self.dump.name: f"{self.dump.family} {self.dump.version} ({self.dump.path})",
                self.load.name: f"{self.load.family} {self.load.version} ({self.load.path})"}

    def copy(self, source: MysqlDatabase, target: MysqlDatabase, workdir: Path) -> dict[str, TableSum]:
        assert self.dump is not None and self.load is not None, "preflight first"
        private = workdir / f"mysql-{uuid.uuid4().hex}"
        private.mkdir(parents=True, mode=0o700)
        try:
            source_cnf, target_cnf = option_file(source.url, private), option_file(target.url, private)
            extra = ["--set-gtid-purged=OFF"] if self.dump.family == "MySQL" else []
            with tempfile.TemporaryFile() as dump_err, tempfile.TemporaryFile() as load_err:
                dumper = subprocess.Popen([self.dump.path, f"--defaults-extra-file={source_cnf}", *DUMP_OPTIONS,
                                           *extra, "--", source.url.database],
                                          stdout=subprocess.PIPE, stderr=dump_err)
                loader = subprocess.Popen([self.load.path, f"--defaults-extra-file={target_cnf}",
                                           "--default-character-set=utf8mb4", "--binary-mode", "--batch",
                                           "--", target.url.database], stdin=dumper.stdout, stderr=load_err)
                assert dumper.stdout is not None
                dumper.stdout.close()  # the loader holds the pipe; mysqldump sees EPIPE if the loader dies
                loaded, dumped = loader.wait(), dumper.wait()
                for code, name, err in ((loaded, self.load.name, load_err), (dumped, self.dump.name, dump_err)):
                    if code != 0:
                        err.seek(0)
                        tail = err.read().decode(errors="replace").strip()[-800:] or f"exit code {code}"
                        raise PlatformError(f"database copy failed in {name}: {tail} (the source is unchanged; "
                                            "the target may be partly restored: fix the cause and re-run the "
                                            "move, which replaces it)")
        finally:
            for path in private.glob("*"):
                path.unlink(missing_ok=True)
            private.rmdir()
        return source.checksums()
