"""The local cloud's database servers: one PostgreSQL and one MariaDB server per local cloud root, run on a laptop
from the distribution's server binaries, so local databases speak the engine the code was written for.

Layout under `<root>/databases/`: `.postgres/` and `.mariadb/` (one server each), holding
- `server.json`: the port (a free loopback port chosen once, kept across restarts), the data directory, the version;
- `admin.json`: the administrator `platform_admin` and its random password (mode 0600): what the provider uses to
  create databases and roles, and what `platform move` uses to copy a database (URL `?secret=<this file>`);
- `data/`: the server's data directory (except as root, below), `server.log`, `.lock` (one process at a time
  initialises or starts the server).

Lifecycle: a server is initialised and started on demand (the first database created; every refresh, so a reboot
heals on the next plan; `platform dev`), listens on 127.0.0.1 only with password authentication (no unix socket for
PostgreSQL; MariaDB's socket is private to its directory), and is stopped and removed when its last database is
destroyed. `stop_all(root)` stops every server of a root (tests, `platform destroy`); `remove_all_under(dir)`
stops and deletes every server below a throwaway directory (`platform test`'s copy), data included.

Root: PostgreSQL and MariaDB refuse to run as root, so as root the servers run as the `postgres` / `mysql` system
users (`runuser`), and their data directories live under /var/lib/platform-localcloud/<hash of the root> (a project
directory under a private home is not reachable by those users); `server.json` says where.

Binaries: PostgreSQL's `initdb`, `pg_ctl` and `postgres` from PATH or the newest /usr/lib/postgresql/<n>/bin
(Debian); MariaDB's `mariadbd` (or `mysqld`) and `mariadb-install-db` from PATH or /usr/sbin; only from the
directories in PLATFORM_LOCALCLOUD_SERVER_PATH when it is set. `missing(engine)` says what to install when they are
not there.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from platform_sdk.localcloud.base import read_json, write_json

_held = threading.local()
"""Per thread: how deep it holds each server's lock (`Server._locked`)."""

ENGINES = ("postgres", "mysql")
ADMIN = "platform_admin"
SERVER_DIRS = {"postgres": ".postgres", "mysql": ".mariadb"}
SYSTEM_USERS = {"postgres": "postgres", "mysql": "mysql"}
ROOT_DATA = Path("/var/lib/platform-localcloud")
START_TIMEOUT_S = 60.0
INSTALL_HINTS = {
    "postgres": "install PostgreSQL's server (Debian/Ubuntu: apt-get install postgresql; macOS: brew install "
                "postgresql)",
    "mysql": "install MariaDB's server (Debian/Ubuntu: apt-get install mariadb-server; macOS: brew install mariadb)",
}


class ServerError(Exception):
    """A local database server could not be found, initialised, started or reached (the message says why)."""


# -- binaries --------------------------------------------------------------------------------------------------
SERVER_PATH_ENV = "PLATFORM_LOCALCLOUD_SERVER_PATH"
"""Directories (os.pathsep-separated) holding the server programs: when set, the only places searched."""


def _which(name: str, *extra_dirs: Path) -> Path | None:
    override = os.environ.get(SERVER_PATH_ENV)
    found = shutil.which(name, path=override) if override is not None else shutil.which(name)
    if found:
        return Path(found)
    for directory in ([] if override is not None else extra_dirs):
        if (directory / name).is_file():
            return directory / name
    return None


def _postgres_dirs() -> list[Path]:
    """Debian keeps the server binaries off PATH, one directory per major version: newest first."""
    if os.environ.get(SERVER_PATH_ENV) is not None:
        return []
    return sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: _major(p.parent.name), reverse=True)


def _major(text: str) -> int:
    return int(text) if text.isdigit() else 0


def binaries(engine: str) -> dict[str, Path] | None:
    """The server programs of `engine`, or None when one is missing."""
    if engine == "postgres":
        for directory in [None, *_postgres_dirs()]:
            names = ("initdb", "pg_ctl", "postgres")
            found = {n: (_which(n) if directory is None else (directory / n if (directory / n).is_file() else None))
                     for n in names}
            if all(found.values()):
                return {n: p for n, p in found.items() if p is not None}
        return None
    server = _which("mariadbd", Path("/usr/sbin")) or _which("mysqld", Path("/usr/sbin"))
    install = _which("mariadb-install-db", Path("/usr/bin")) or _which("mysql_install_db", Path("/usr/bin"))
    if server is None or install is None:
        return None
    return {"server": server, "install": install}


def missing(engine: str) -> str | None:
    """Why a local `engine` server cannot run here (None when it can): the missing programs and how to get them."""
    if binaries(engine) is None:
        names = "initdb, pg_ctl and postgres" if engine == "postgres" else "mariadbd and mariadb-install-db"
        return f"the {label(engine)} server programs ({names}) are not installed: {INSTALL_HINTS[engine]}"
    if os.geteuid() == 0:
        user = SYSTEM_USERS[engine]
        try:
            pwd.getpwnam(user)
        except KeyError:
            return f"running as root, and there is no '{user}' system user to run the {label(engine)} server as"
        if not shutil.which("runuser"):
            return f"running as root without runuser: the {label(engine)} server cannot be started as '{user}'"
    return None


def label(engine: str) -> str:
    return "PostgreSQL" if engine == "postgres" else "MariaDB"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _postmaster_alive(data_dir: Path) -> bool:
    """Whether PostgreSQL's server of `data_dir` runs: what `pg_ctl -D data_dir status` answers (exit code 0),
    read the way it reads it (PostgreSQL 15 `src/bin/pg_ctl/pg_ctl.c`, do_status, get_pgpid, postmaster_is_alive):
    the first line of `postmaster.pid` is the server's process id (negative for a single-user backend), and that
    process exists (`kill(pid, 0)` succeeds; not this process or its parent) and, where /proc tells, is PostgreSQL's
    (a stale file's pid may have been reused). No file, an unreadable or invalid one, or a process that is gone or
    another program: not running.

    Why not `pg_ctl status` itself: every refresh of a database or role asks (`ensure_running`), and that was a
    process start each time, as root two (`runuser`, then `pg_ctl`), ~6 ms of CPU plus a fork of the provider
    (docs/testing.md)."""
    try:
        with open(data_dir / "postmaster.pid", encoding="utf-8", errors="replace") as pid_file:
            pid = abs(int(pid_file.readline().strip()))
    except (OSError, ValueError):
        return False
    if pid == 0 or pid in (os.getpid(), os.getppid()):
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a stale file's pid reused by another program (as root, kill(pid, 0) succeeds for any process)
        return Path(f"/proc/{pid}/comm").read_text().strip() in ("postgres", "postmaster")
    except OSError:
        return True  # no /proc (macOS): what pg_ctl answers


# -- one server ------------------------------------------------------------------------------------------------
class Server:
    """The `engine` server of one local cloud root (see the module docstring)."""

    def __init__(self, root: Path, engine: str) -> None:
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}")
        self.root = root
        self.engine = engine
        self.dir = root / "databases" / SERVER_DIRS[engine]
        self.info_file = self.dir / "server.json"
        self.admin_file = self.dir / "admin.json"

    # -- what it is ------------------------------------------------------------------------------------------
    @property
    def info(self) -> dict[str, Any]:
        data = read_json(self.info_file)
        return data if isinstance(data, dict) else {}

    @property
    def initialised(self) -> bool:
        return bool(self.info.get("port")) and self.admin_file.is_file()

    @property
    def port(self) -> int:
        return int(self.info["port"])

    @property
    def base(self) -> Path:
        """Where the server's own files live (data directory, log, MariaDB's pid file and socket)."""
        return Path(self.info.get("base") or self._base())

    @property
    def data_dir(self) -> Path:
        return self.base / "data"

    @property
    def log_file(self) -> Path:
        return self.base / "server.log"

    def _base(self) -> Path:
        if os.geteuid() != 0:
            return self.dir
        digest = hashlib.sha256(str(self.root.resolve()).encode()).hexdigest()[:16]
        return ROOT_DATA / digest / SERVER_DIRS[self.engine].lstrip(".")

    def admin_password(self) -> str:
        return str(json.loads(self.admin_file.read_text())["password"])

    def url(self, database: str, user: str = ADMIN, secret: Path | None = None) -> str:
        """`postgres://<user>@127.0.0.1:<port>/<database>?secret=<credentials file>&cloud=local` (mysql://...)."""
        scheme = "postgres" if self.engine == "postgres" else "mysql"
        secret = secret or self.admin_file
        return (f"{scheme}://{quote(user, safe='')}@127.0.0.1:{self.port}/{quote(database, safe='')}"
                f"?secret={quote(str(secret), safe='/')}&cloud=local")

    # -- running it ------------------------------------------------------------------------------------------
    def _system_user(self) -> pwd.struct_passwd | None:
        return pwd.getpwnam(SYSTEM_USERS[self.engine]) if os.geteuid() == 0 else None

    def _as_server_user(self, command: list[str]) -> list[str]:
        user = self._system_user()
        return ["runuser", "-u", user.pw_name, "--", *command] if user else command

    def _own(self, path: Path) -> None:
        user = self._system_user()
        if user is not None:
            os.chown(path, user.pw_uid, user.pw_gid)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """The server's lock, one holder at a time across processes (Terraform runs a provider process per stack,
        each applying resources in parallel threads); re-entrant within a thread, so `exclusive` can hold it around
        steps that take it themselves."""
        key = str(self.dir)
        held: dict[str, int] = _held.__dict__.setdefault("depth", {})
        if held.get(key):
            held[key] += 1
            try:
                yield
            finally:
                held[key] -= 1
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            held[key] = 1
            try:
                yield
            finally:
                held[key] = 0
                fcntl.flock(lock, fcntl.LOCK_UN)

    def exclusive(self) -> contextlib.AbstractContextManager[None]:
        """Hold the server's lock around several steps that must not interleave with another resource's: creating
        a database and its roles, or dropping the last database and removing the server (a creation meanwhile
        lost its server: "network error")."""
        return self._locked()

    def ensure_running(self) -> int:
        """Initialise the server if it has never run, start it if it is not running; return its port.

        Raises ServerError naming what is missing or why it did not start (its log's tail)."""
        with self._locked():
            return self._ensure_running()

    def _ensure_running(self) -> int:
        if not self.initialised:
            problem = missing(self.engine)
            if problem:
                raise ServerError(problem)
            self._initialise()
        if not self.running():
            self._start()
        return self.port

    @contextlib.contextmanager
    def admin(self, database: str | None = None) -> Iterator[Any]:
        """The administrator's connection (not autocommit) to a running server, one process at a time: Terraform
        applies resources in parallel, and concurrent GRANTs on one object fail ("tuple concurrently updated")."""
        with self._locked():
            self._ensure_running()
            conn = self.connect(database)
            try:
                yield conn
            finally:
                conn.close()

    def running(self) -> bool:
        if not self.initialised:
            return False
        if self.engine == "postgres":
            if binaries("postgres") is None:
                return _port_open(self.port)
            return _postmaster_alive(self.data_dir)
        pid = self._mariadb_pid()
        return pid is not None and _port_open(self.port)

    def _initialise(self) -> None:
        found = binaries(self.engine)
        assert found is not None
        base = self._base()
        base.mkdir(parents=True, exist_ok=True)
        if self._system_user() is not None:  # root: the server's user must reach and own its directory
            for directory in (ROOT_DATA, base.parent):
                os.chmod(directory, 0o755)
            self._own(base)
        data = base / "data"
        if data.exists():  # a half-initialised earlier attempt: nothing of value in it yet
            shutil.rmtree(data)
        password = secrets.token_hex(24)
        port = _free_port()
        if self.engine == "postgres":
            self._initdb(found, data, password, port)
        else:
            self._install_mariadb(found, base, password, port)
        self.admin_file.touch(mode=0o600)
        self.admin_file.write_text(json.dumps({"username": ADMIN, "password": password}) + "\n")
        write_json(self.info_file, {"engine": self.engine, "port": port, "base": str(base),
                                    "version": self._version(found)})

    def _version(self, found: dict[str, Path]) -> str:
        program = found["postgres"] if self.engine == "postgres" else found["server"]
        out = subprocess.run([str(program), "--version"], capture_output=True, text=True).stdout.strip()
        match = re.search(r"(\d+\.\d+(?:\.\d+)?)", out)
        return match.group(1) if match else out

    def _initdb(self, found: dict[str, Path], data: Path, password: str, port: int) -> None:
        data.mkdir(mode=0o700)
        self._own(data)
        pwfile = data.parent / f".pw-{secrets.token_hex(4)}"
        pwfile.touch(mode=0o600)
        pwfile.write_text(password)
        self._own(pwfile)
        try:
            result = subprocess.run(self._as_server_user([
                str(found["initdb"]), "-D", str(data), "-U", ADMIN, f"--pwfile={pwfile}", "-E", "UTF8",
                "--locale=C.UTF-8", "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "--no-sync"]),
                capture_output=True, text=True)
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise ServerError(f"initdb failed for the local PostgreSQL server in {data}: "
                              f"{(result.stderr or result.stdout).strip()[-600:]}")
        with open(data / "postgresql.conf", "a") as conf:
            conf.write("\n# the local cloud's server: loopback TCP only, password authentication\n"
                       f"port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n")

    def _mariadb_socket(self, base: Path) -> Path:
        """The server's unix socket: in its directory, or a short /tmp name when that path is too long for one."""
        candidate = base / "mariadb.sock"
        if len(str(candidate)) < 100:
            return candidate
        return Path("/tmp") / f"platform-mariadb-{hashlib.sha256(str(base).encode()).hexdigest()[:12]}.sock"

    def _mariadb_command(self, base: Path, port: int) -> list[str]:
        found = binaries("mysql")
        assert found is not None
        user = self._system_user()
        return [str(found["server"]), "--no-defaults", f"--datadir={base / 'data'}", f"--port={port}",
                "--bind-address=127.0.0.1", f"--socket={self._mariadb_socket(base)}",
                f"--pid-file={base / 'mariadb.pid'}", f"--log-error={base / 'server.log'}",
                "--skip-name-resolve", "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci",
                f"--tmpdir={self._mariadb_tmp(base)}", *([f"--user={user.pw_name}"] if user else [])]

    def _mariadb_tmp(self, base: Path) -> Path:
        """The server's own temporary folder: in the shared /tmp, another program's clean-up removed its internal
        temporary tables under it (`mariadb-install-db` failed: "Could not remove temporary table")."""
        tmp = base / "tmp"
        if not tmp.is_dir():
            tmp.mkdir(parents=True)
            self._own(tmp)
        return tmp

    def _install_mariadb(self, found: dict[str, Path], base: Path, password: str, port: int) -> None:
        import pymysql

        user = self._system_user()
        data = base / "data"
        result = subprocess.run([str(found["install"]), "--no-defaults", f"--datadir={data}",
                                 f"--tmpdir={self._mariadb_tmp(base)}",
                                 "--auth-root-authentication-method=normal", "--skip-test-db",
                                 *([f"--user={user.pw_name}"] if user else [])], capture_output=True, text=True)
        if result.returncode != 0:
            raise ServerError(f"mariadb-install-db failed for the local MariaDB server in {data}: "
                              f"{(result.stderr or result.stdout).strip()[-600:]}")
        self._launch_mariadb(base, port)
        sock = self._mariadb_socket(base)
        self._wait(lambda: sock.exists() and _socket_login(sock), base)
        with contextlib.closing(pymysql.connect(unix_socket=str(sock), user="root", autocommit=True)) as conn, \
                conn.cursor() as cursor:
            cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (ADMIN, password))
            cursor.execute(f"GRANT ALL PRIVILEGES ON *.* TO `{ADMIN}`@'%' WITH GRANT OPTION")
            cursor.execute("SELECT User, Host FROM mysql.user WHERE User IN ('root', '')")
            for account_user, host in cursor.fetchall():  # no password-less root or anonymous account is left
                cursor.execute("DROP USER %s@%s", (account_user, host))

    def _launch_mariadb(self, base: Path, port: int) -> None:
        log = base / "server.log"
        log.touch()
        self._own(log)
        subprocess.Popen(self._mariadb_command(base, port), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True, cwd=str(base))

    def _mariadb_pid(self) -> int | None:
        try:
            pid = int((self.base / "mariadb.pid").read_text().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def _start(self) -> None:
        port = self.port
        if _port_open(port):
            raise ServerError(f"port {port} of the local {label(self.engine)} server ({self.info_file}) is taken by "
                              "another program: stop it, or remove the server's directory to start over (its "
                              "databases go with it)")
        if self.engine == "postgres":
            found = binaries("postgres")
            if found is None:
                raise ServerError(missing("postgres") or "PostgreSQL is not installed")
            log = self.log_file
            log.touch()
            self._own(log)
            result = subprocess.run(self._as_server_user([str(found["pg_ctl"]), "-D", str(self.data_dir), "-l",
                                                          str(log), "-w", "-t", str(int(START_TIMEOUT_S)), "start"]),
                                    capture_output=True, text=True, start_new_session=True)
            if result.returncode != 0:
                raise ServerError(f"the local PostgreSQL server did not start: {self._log_tail()}")
            return
        self._launch_mariadb(self.base, port)
        self._wait(lambda: _port_open(port) and self._mariadb_pid() is not None, self.base)

    def _wait(self, ready: Any, base: Path) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if ready():
                return
            time.sleep(0.1)
        raise ServerError(f"the local {label(self.engine)} server in {base} did not start within "
                          f"{START_TIMEOUT_S:.0f} s: {self._log_tail()}")

    def _log_tail(self) -> str:
        log = self.log_file if self.info else self._base() / "server.log"
        return log.read_text(errors="replace").strip()[-800:] if log.is_file() else "(no log)"

    def stop(self) -> None:
        """Stop the server if it runs (fast shutdown: open transactions roll back, committed data stays); also one
        whose initialisation was cut short (MariaDB runs before `server.json` is written)."""
        if self.engine == "postgres":
            found = binaries("postgres")
            if found is not None and _postmaster_alive(self.data_dir):
                subprocess.run(self._as_server_user([str(found["pg_ctl"]), "-D", str(self.data_dir), "-m", "fast",
                                                     "-w", "stop"]), capture_output=True)
            return
        pid = self._mariadb_pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):  # launched by this process (`platform dev`): reap it
                os.waitpid(pid, os.WNOHANG)
            try:
                os.kill(pid, 0)
            except OSError:
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)

    def remove(self) -> None:
        """Stop the server and delete it (its data directory included): only when it holds no database."""
        self.stop()
        base = self.base
        if self.engine == "mysql":
            self._mariadb_socket(base).unlink(missing_ok=True)
        if base != self.dir:
            shutil.rmtree(base, ignore_errors=True)
            with contextlib.suppress(OSError):
                base.parent.rmdir()  # the root's directory under ROOT_DATA, once both servers are gone
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- talking to it ---------------------------------------------------------------------------------------
    def connect(self, database: str | None = None) -> Any:
        """A DB-API connection of the administrator (not autocommit), to `database` or the server's default.

        PostgreSQL: without TLS (`ssl_context=False`). The server listens on 127.0.0.1 only and runs without TLS
        (initdb's default `ssl = off`), so the connection was plain text before too; but pg8000's default
        (`ssl_context=None`) first builds a default TLS context, loading the system's CA certificates (~25 ms of
        CPU, ten times the rest of a local connection, docs/testing.md), only to be told "no TLS here"."""
        if self.engine == "postgres":
            import pg8000.dbapi

            return pg8000.dbapi.connect(host="127.0.0.1", port=self.port, user=ADMIN, password=self.admin_password(),
                                        database=database or "postgres", application_name="localcloud",
                                        ssl_context=False)
        import pymysql

        return pymysql.connect(host="127.0.0.1", port=self.port, user=ADMIN, password=self.admin_password(),
                               database=database, charset="utf8mb4", autocommit=False)

    @contextlib.contextmanager
    def session(self, database: str | None = None, autocommit: bool = False) -> Iterator[Any]:
        conn = self.connect(database)
        if autocommit:
            conn.autocommit = True
        try:
            yield conn
        finally:
            conn.close()

    def databases(self) -> list[str]:
        """The databases the local cloud created on this server (system databases excluded)."""
        with self.session() as conn:
            cursor = conn.cursor()
            if self.engine == "postgres":
                cursor.execute("SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres'")
            else:
                cursor.execute("SELECT schema_name FROM information_schema.schemata WHERE schema_name NOT IN "
                               "('mysql', 'information_schema', 'performance_schema', 'sys')")
            return sorted(str(row[0]) for row in cursor.fetchall())

    def create_database(self, name: str) -> bool:
        """Create `name` unless it exists; True when it was created. PostgreSQL's maintenance databases are closed
        to everyone but the administrator, so a function's role reaches its own database only.

        Under the admin lock (`admin`): Terraform creates a stack's databases in parallel, and two `REVOKE ... ON
        DATABASE postgres` at once fail with "tuple concurrently updated"."""
        with self._locked():
            if name in self.databases():
                return False
            quoted = _ident(name, self.engine)
            with self.session(autocommit=True) as conn:
                cursor = conn.cursor()
                if self.engine == "postgres":
                    cursor.execute(f"CREATE DATABASE {quoted}")
                    for maintenance in ("postgres", "template1"):
                        cursor.execute(f"REVOKE ALL ON DATABASE {maintenance} FROM PUBLIC")
                else:
                    cursor.execute(f"CREATE DATABASE {quoted} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            return True

    def drop_database(self, name: str) -> None:
        """Drop `name` if it exists (its connections ended), under the admin lock as `create_database`."""
        quoted = _ident(name, self.engine)
        with self._locked(), self.session(autocommit=True) as conn:
            cursor = conn.cursor()
            if self.engine == "postgres":
                cursor.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
            else:
                cursor.execute(f"DROP DATABASE IF EXISTS {quoted}")

    def tables_with_rows(self, name: str) -> list[str]:
        """Tables of database `name` that hold at least one row (read-only)."""
        with self.session(name if self.engine == "postgres" else None) as conn:
            cursor = conn.cursor()
            if self.engine == "postgres":
                cursor.execute("SELECT format('%I.%I', schemaname, tablename), schemaname, tablename FROM pg_tables "
                               "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1")
                tables = [(str(r[0]), f"{_ident(r[1], 'postgres')}.{_ident(r[2], 'postgres')}")
                          for r in cursor.fetchall()]
            else:
                cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                               "AND table_type = 'BASE TABLE' ORDER BY 1", (name,))
                tables = [(str(r[0]), f"{_ident(name, 'mysql')}.{_ident(str(r[0]), 'mysql')}")
                          for r in cursor.fetchall()]
            full = []
            for shown, quoted in tables:
                cursor.execute(f"SELECT 1 FROM {quoted} LIMIT 1")
                if cursor.fetchone() is not None:
                    full.append(shown)
            conn.rollback()
            return full


def _socket_login(sock: Path) -> bool:
    import pymysql

    try:
        pymysql.connect(unix_socket=str(sock), user="root", connect_timeout=2).close()
        return True
    except pymysql.err.Error:
        return False


def _ident(name: str, engine: str) -> str:
    quote_char = '"' if engine == "postgres" else "`"
    return quote_char + name.replace(quote_char, quote_char * 2) + quote_char


def stop_all(root: Path) -> None:
    """Stop every database server of the local cloud root `root` (their data stays)."""
    for engine in ENGINES:
        Server(root, engine).stop()


def remove_all_under(directory: Path) -> None:
    """Stop and delete every database server of every local cloud root below `directory`, with its data (under
    ROOT_DATA when running as root), whatever state it was left in: initialised or cut short while initialising.
    For a throwaway directory (`platform test`'s copy) only: nothing outside `directory` is looked at, except the
    data directories of the servers found in it."""
    for engine, name in SERVER_DIRS.items():
        for server_dir in sorted(directory.rglob(f"databases/{name}")):
            if server_dir.is_dir():
                Server(server_dir.parent.parent, engine).remove()


def servers_under(directory: Path) -> list[Server]:
    """Every initialised server of every local cloud root below `directory` (for `platform dev` and tests)."""
    found = []
    for engine, name in SERVER_DIRS.items():
        for info in directory.rglob(f"databases/{name}/server.json"):
            found.append(Server(info.parent.parent.parent, engine))
    return found
