"""Issue 13.5: the local cloud runs the engine a database declares (PostgreSQL, MariaDB for `mysql`) through real
Terraform, with one least-privilege role per function, and SQLite only as an explicit, announced fallback.

Before: `localcloud_database` was a SQLite file whatever the engine, so a PostgreSQL-only statement passed locally
and failed in the cloud, and every function had every right.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from platform_sdk.localcloud import dbserver, mirror
from platform_sdk.runtime.database import Database
from tests.markers import starts_server
from tests.test_localcloud_provider import Workspace, combined, files_under, shared_cache, terraform_bin  # noqa: F401


def config(root: Path, engine: str, *, databases: str | None = None, protect: bool = False,
           force: bool = False, roles: tuple[str, ...] = ("api", "report")) -> dict[str, Any]:
    provider: dict[str, Any] = {"root": str(root)}
    if databases is not None:
        provider["databases"] = databases
    resources: dict[str, Any] = {
        "localcloud_database": {"main": {"name": "shop-main", "engine": engine, "deletion_protection": protect,
                                         "force_destroy": force}},
    }
    if roles:
        resources["localcloud_database_role"] = {
            name: {"name": f"shop_{name}", "database": "${localcloud_database.main.name}", "owner": name == "api"}
            for name in roles}
    return {
        "terraform": {"required_providers": {"localcloud": {"source": mirror.PROVIDER_SOURCE,
                                                            "version": mirror.PROVIDER_VERSION}}},
        "provider": {"localcloud": provider},
        "resource": resources,
        "output": {"db_url": {"value": "${localcloud_database.main.url}"},
                   **{f"{name}_url": {"value": f"${{localcloud_database_role.{name}.url}}"} for name in roles}},
    }


@pytest.fixture
@starts_server
def root(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "cloud"
    yield root
    for engine in dbserver.ENGINES:
        dbserver.Server(root, engine).remove()


def skip_without(engine: str) -> None:
    problem = dbserver.missing(engine)
    if problem:
        pytest.skip(problem)


def connect(url: str) -> Any:
    """A connection as the function would open it (the runtime reads the role's secret file)."""
    return Database("main", url).connect()


@pytest.mark.parametrize("engine", ["postgres", "mysql"])
def test_a_database_runs_its_engine_and_each_function_its_own_role(terraform_bin: Path,  # noqa: F811
                                                                   shared_cache: Path,  # noqa: F811
                                                                   tmp_path: Path, root: Path, engine: str) -> None:
    skip_without(engine)
    ws = Workspace(terraform_bin, tmp_path / "stack", shared_cache)
    ws.write(config(root, engine))
    ws.init()
    ws.apply()
    outputs = ws.outputs()
    server = dbserver.Server(root, engine)
    scheme = "postgres" if engine == "postgres" else "mysql"
    assert outputs["db_url"] == (f"{scheme}://platform_admin@127.0.0.1:{server.port}/shop-main"
                                 f"?secret={server.admin_file}&cloud=local")
    assert outputs["api_url"].startswith(f"{scheme}://shop_api@127.0.0.1:{server.port}/shop-main?secret=")
    secret = root / "databases" / ".secrets" / "shop_api.json"
    assert secret.stat().st_mode & 0o777 == 0o600 and "password" in json.loads(secret.read_text())
    assert "password" not in json.dumps(ws.state())  # never in state

    with connect(outputs["api_url"]) as conn:  # the declared engine: its own SQL works, SQLite's would not
        version = conn.query("SELECT version()")[0][0]
        assert ("PostgreSQL" in version) if engine == "postgres" else ("MariaDB" in version)
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body VARCHAR(100))")
        conn.execute("INSERT INTO notes VALUES (?, ?)", (1, "from api"))
    with connect(outputs["report_url"]) as conn:
        assert conn.query("SELECT body FROM notes") == [("from api",)]
        conn.execute("UPDATE notes SET body = ? WHERE id = ?", ("seen by report", 1))
    with pytest.raises(Exception) as info, connect(outputs["report_url"]) as conn:
        conn.execute("CREATE TABLE mine (x INTEGER)")  # not the database's service: rows only
    assert "denied" in str(info.value).lower()

    # Nothing to change on a second plan; after the server stopped (a reboot), the refresh starts it again.
    assert ws.run("plan", "-no-color", "-detailed-exitcode").returncode == 0
    server.stop()
    assert not server.running()
    assert ws.run("plan", "-no-color", "-detailed-exitcode").returncode == 0
    assert server.running()
    with connect(outputs["report_url"]) as conn:
        assert conn.query("SELECT body FROM notes") == [("seen by report",)]

    # Destroying a role keeps its data; the database with rows is refused until forced; the last database takes
    # the server with it, and nothing is left on disk.
    ws.write(config(root, engine, roles=("report",)))
    ws.apply()
    with connect(outputs["report_url"]) as conn:
        assert conn.query("SELECT body FROM notes") == [("seen by report",)]
    assert not (root / "databases" / ".secrets" / "shop_api.json").exists()
    proc = ws.run("destroy", "-auto-approve", "-no-color", ok=False)
    assert "Database shop-main still holds data (tables with rows: " in combined(proc)
    assert server.running()
    ws.write(config(root, engine, roles=("report",), force=True))
    ws.apply()
    ws.run("destroy", "-auto-approve", "-no-color")
    assert ws.state() == {}
    assert not server.running() and not server.dir.exists()
    assert files_under(root) == []


def test_the_sqlite_fallback_is_explicit_and_announced(terraform_bin: Path, shared_cache: Path,  # noqa: F811
                                                       tmp_path: Path, root: Path) -> None:
    ws = Workspace(terraform_bin, tmp_path / "stack", shared_cache)
    ws.write(config(root, "postgres", databases="sqlite"))
    ws.init()
    proc = ws.run("apply", "-auto-approve", "-no-color")
    text = combined(proc)
    assert "Database shop-main is a SQLite stand-in, not PostgreSQL" in text
    assert 'The environment sets databases = "sqlite" in [clouds.local].' in text
    assert "Role shop_api is not created: database shop-main is a SQLite stand-in" in text
    outputs = ws.outputs()
    sqlite_file = root / "databases" / "shop-main.sqlite3"
    assert outputs["db_url"] == outputs["api_url"] == f"sqlite:///{sqlite_file}"
    assert not (root / "databases" / ".postgres").exists()


def test_an_existing_sqlite_stand_in_keeps_its_data_when_the_engine_becomes_the_default(
        terraform_bin: Path, shared_cache: Path, tmp_path: Path, root: Path) -> None:  # noqa: F811
    """The upgrade path: a database created on SQLite (by an earlier version) is kept, data and all, and the plan
    says so; only new databases run the engine."""
    skip_without("postgres")
    ws = Workspace(terraform_bin, tmp_path / "stack", shared_cache)
    ws.write(config(root, "postgres", databases="sqlite", roles=()))
    ws.init()
    ws.apply()
    sqlite_file = root / "databases" / "shop-main.sqlite3"
    with connect(f"sqlite:///{sqlite_file}") as conn:
        conn.execute("CREATE TABLE kept (x TEXT)")
        conn.execute("INSERT INTO kept VALUES ('mine')")
    ws.write(config(root, "postgres", roles=()))  # databases defaults to "engine" now
    proc = ws.run("plan", "-no-color", "-detailed-exitcode", ok=None)
    assert proc.returncode == 0, proc.stdout + proc.stderr  # no change to the database
    assert "It was created on SQLite (by an earlier version, or with databases = \"sqlite\") and keeps its data" \
        in combined(proc)
    with connect(f"sqlite:///{sqlite_file}") as conn:
        assert conn.query("SELECT x FROM kept") == [("mine",)]


def test_missing_server_programs_fail_the_plan_naming_the_fix(terraform_bin: Path, shared_cache: Path,  # noqa: F811
                                                              tmp_path: Path, root: Path) -> None:
    ws = Workspace(terraform_bin, tmp_path / "stack", shared_cache)
    ws.env[dbserver.SERVER_PATH_ENV] = str(tmp_path / "empty")  # nothing installed there
    ws.write(config(root, "mysql"))
    ws.init()
    text = combined(ws.run("plan", "-no-color", ok=False))
    assert "Database shop-main needs a local MariaDB server: the MariaDB server programs (mariadbd and " \
           "mariadb-install-db) are not installed: install MariaDB's server (Debian/Ubuntu: apt-get install " \
           "mariadb-server" in text
    assert 'Or use the explicit SQLite fallback: set databases = "sqlite" in [clouds.local]' in text
    assert not root.exists()


def test_a_postgres_server_runs_while_its_pid_file_names_a_live_process(tmp_path: Path) -> None:
    """`Server.running` reads `postmaster.pid` as `pg_ctl status` does instead of starting `pg_ctl` (and, as root,
    `runuser`) on every refresh: a live PostgreSQL process in it is a running server; no file, a process that is
    gone or another program, an invalid file or our own pid are not."""
    if dbserver.binaries("postgres") is None:
        pytest.skip(dbserver.missing("postgres") or "no PostgreSQL")
    root = tmp_path / "cloud"
    server = dbserver.Server(root, "postgres")
    data = tmp_path / "base" / "data"
    data.mkdir(parents=True)
    dbserver.write_json(server.info_file, {"engine": "postgres", "port": 1, "base": str(data.parent)})
    server.admin_file.write_text('{"username": "platform_admin", "password": "x"}\n')
    pid_file = data / "postmaster.pid"
    assert not server.running()  # no pid file: stopped
    # a live process named as PostgreSQL's server is (its /proc/PID/comm), and another program
    live = subprocess.Popen([sys.executable, "-c", "import sys, time; open('/proc/self/comm', 'w').write('postgres');"
                             " print(flush=True); time.sleep(60)"], stdout=subprocess.PIPE)
    other = subprocess.Popen(["sleep", "60"])
    try:
        assert live.stdout is not None and live.stdout.readline() == b"\n"  # renamed
        for first_line in (f"{live.pid}\n", f"-{live.pid}\n"):  # a server, a single-user backend
            pid_file.write_text(f"{first_line}{data}\n1700000000\n5432\n")
            assert server.running()
        pid_file.write_text(f"{other.pid}\n{data}\n")  # a stale file whose pid another program got since
        assert not server.running()
    finally:
        for process in (live, other):
            process.kill()
            process.wait()
    pid_file.write_text(f"{live.pid}\n{data}\n")  # the process is gone: a stale file after a crash
    assert not server.running()
    for content in ("", "not a pid\n", f"{os.getpid()}\n", "0\n"):
        pid_file.write_text(content)
        assert not server.running(), content


def test_databases_created_in_parallel_all_succeed(terraform_bin: Path, shared_cache: Path,  # noqa: F811
                                                   tmp_path: Path, root: Path) -> None:
    """Terraform creates a stack's databases in parallel. Each creation also closes PostgreSQL's maintenance
    databases (`REVOKE ALL ON DATABASE postgres ...`), and two such statements at once fail with "tuple
    concurrently updated": the first apply of a service with two or more databases failed about half the time (and
    a move's target step with them). Creating and dropping now take the server's admin lock, as GRANTs do."""
    skip_without("postgres")
    names = [f"shop-db{i}" for i in range(6)]
    document = config(root, "postgres", roles=())
    document["resource"] = {"localcloud_database": {
        name.replace("-", "_"): {"name": name, "engine": "postgres", "force_destroy": True,
                                 "deletion_protection": False} for name in names}}
    del document["output"]
    ws = Workspace(terraform_bin, tmp_path / "stack", shared_cache)
    ws.write(document)
    ws.init()
    for _ in range(3):  # before: 6 at once failed in nearly every round; a parallel destroy of all of them
        # removed the server under the last ones ("network error")
        ws.apply()
        assert sorted(dbserver.Server(root, "postgres").databases()) == names
        ws.run("destroy", "-auto-approve", "-no-color")


@pytest.mark.servers
def test_a_server_cut_short_while_initialising_is_stopped_and_removed(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """`platform test` removes every server its throwaway copy started (`remove_all_under`), also a MariaDB server
    whose initialisation was cut short: it runs before `server.json` names it, and `stop` used to skip a server
    without one, so an interrupted apply left it running. Here a Ctrl-C arrives right after it started."""
    skip_without("mysql")
    copy = tmp_path / "copy"
    server = dbserver.Server(copy / "cloud", "mysql")
    started = dbserver.Server._wait

    def interrupted(self: dbserver.Server, ready: Any, base: Path) -> None:
        started(self, ready, base)
        raise KeyboardInterrupt

    monkeypatch.setattr(dbserver.Server, "_wait", interrupted)
    with pytest.raises(KeyboardInterrupt):
        server.ensure_running()
    monkeypatch.undo()
    pid = server._mariadb_pid()
    assert pid is not None and not server.initialised, "running, and not recorded in server.json"
    base = server.base

    dbserver.remove_all_under(copy)

    assert server._mariadb_pid() is None and not base.exists() and not server.dir.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
