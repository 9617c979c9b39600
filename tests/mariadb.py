"""A throwaway MariaDB server on 127.0.0.1 for tests (Debian's `mariadb-server`; run as user mysql when root).

`mariadb_server` yields `mysql://platform:PASSWORD@127.0.0.1:PORT` for a user with a password (not socket
authentication), so the password paths of the code under test are exercised. Under `CI=true` a server that cannot
be started fails the test instead of skipping it: CI must prove the MariaDB paths, not silently pass without them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

import pytest

from tests.markers import starts_server

PASSWORD = "p@ss w'rd\"#1"  # characters that break naive quoting in URLs and option files
USER = "platform"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _binary(*names: str) -> str | None:
    """The first of `names` on PATH or in /usr/sbin (where Debian puts mariadbd, outside a user's PATH)."""
    for name in names:
        found = shutil.which(name) or shutil.which(name, path="/usr/sbin")
        if found:
            return found
    return None


def mariadb_available() -> str | None:
    """Why a server cannot be started here (None when it can)."""
    missing = [name for name, found in (("mariadbd", _binary("mariadbd", "mysqld")),
                                        ("mariadb-install-db", _binary("mariadb-install-db", "mysql_install_db")),
                                        ("mysqldump", _binary("mysqldump", "mariadb-dump")),
                                        ("mysql", _binary("mysql", "mariadb"))) if not found]
    if missing:
        return f"MariaDB not installed ({', '.join(missing)} missing): apt-get install mariadb-server mariadb-client"
    try:
        import pymysql  # noqa: F401
    except ImportError:
        return "PyMySQL not installed: pip install -e '.[test]'"
    return None


def skip_or_fail(reason: str) -> None:
    """Skip with the reason; under CI=true fail instead, so CI never passes without the real server."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def _wait_until_ready(proc: subprocess.Popen[bytes], sock: Path, log: Path, timeout: float = 60.0) -> None:
    import pymysql

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mariadbd exited with {proc.returncode}: {log.read_text(errors='replace')[-2000:]}")
        if sock.exists():
            try:
                pymysql.connect(unix_socket=str(sock), user="root", connect_timeout=2).close()
                return
            except pymysql.err.Error:
                pass
        time.sleep(0.1)
    raise RuntimeError(f"mariadbd not ready after {timeout:.0f} s: {log.read_text(errors='replace')[-2000:]}")


@pytest.fixture(scope="session")
@starts_server
def mariadb_server() -> Iterator[str]:
    """Start mariadbd on a free port; yield `mysql://platform:PASSWORD@127.0.0.1:PORT` (password percent-encoded)."""
    import pymysql

    reason = mariadb_available()
    if reason:
        skip_or_fail(reason)
    base = Path(tempfile.mkdtemp(prefix="platform-mariadb-"))
    data, sock, log = base / "data", base / "mysqld.sock", base / "mysqld.log"
    as_root = os.geteuid() == 0
    user = ["--user=mysql"] if as_root else []
    tmp = base / "tmp"  # its own: in the shared /tmp another run's clean-up removed its temporary tables
    tmp.mkdir()
    if as_root:
        shutil.chown(base, "mysql", "mysql")
        shutil.chown(tmp, "mysql", "mysql")
    install = subprocess.run([_binary("mariadb-install-db", "mysql_install_db"), "--no-defaults",
                              f"--datadir={data}", f"--tmpdir={tmp}", "--auth-root-authentication-method=socket",
                              "--skip-test-db", *user], capture_output=True, text=True)
    if install.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        skip_or_fail(f"mariadb-install-db failed: {install.stderr.strip()[-500:]}")
    port = _free_port()
    proc = subprocess.Popen([_binary("mariadbd", "mysqld"), "--no-defaults", f"--datadir={data}",
                             f"--socket={sock}", f"--port={port}", "--bind-address=127.0.0.1",
                             f"--pid-file={base / 'mysqld.pid'}", f"--log-error={log}", "--skip-name-resolve",
                             "--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0", f"--tmpdir={tmp}",
                             *user],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        try:
            _wait_until_ready(proc, sock, log)
        except RuntimeError as err:
            skip_or_fail(str(err))
        with pymysql.connect(unix_socket=str(sock), user="root") as conn, conn.cursor() as cur:
            cur.execute("CREATE USER %s@'127.0.0.1' IDENTIFIED BY %s", (USER, PASSWORD))
            cur.execute(f"GRANT ALL PRIVILEGES ON *.* TO `{USER}`@'127.0.0.1' WITH GRANT OPTION")
        yield f"mysql://{USER}:{quote(PASSWORD, safe='')}@127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(base, ignore_errors=True)


def create_mariadb_database(server: str, name: str) -> str:
    """Create database `name` (any characters) on the server; return its URL."""
    import pymysql

    parsed = urlparse(server)
    with pymysql.connect(host=parsed.hostname, port=parsed.port, user=parsed.username,
                         password=unquote(parsed.password or "")) as conn, conn.cursor() as cur:
        quoted = "`" + name.replace("`", "``") + "`"
        cur.execute(f"DROP DATABASE IF EXISTS {quoted}")
        cur.execute(f"CREATE DATABASE {quoted} CHARACTER SET utf8mb4")
    return f"{server}/{quote(name, safe='')}"


def mariadb_run(url: str, *statements: str) -> list[tuple[object, ...]]:
    """Run statements on the database named by `url`; return the rows of the last one."""
    import pymysql

    parsed = urlparse(url)
    rows: list[tuple[object, ...]] = []
    with pymysql.connect(host=parsed.hostname, port=parsed.port, user=parsed.username,
                         password=unquote(parsed.password or ""), database=unquote(parsed.path.lstrip("/")),
                         autocommit=True) as conn, conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)
            rows = list(cur.fetchall())
    return rows
