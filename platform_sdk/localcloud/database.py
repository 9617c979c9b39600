"""`localcloud_database`: a SQL database on the local cloud, running the engine it declares.

Two backends, chosen by the provider's `databases` setting when a database is created (`[clouds.local] databases`):
- "engine" (the default): a database on the root's own PostgreSQL or MariaDB server (`dbserver.py`), started on
  demand; functions connect through a least-privilege role each (`localcloud_database_role`). `url` is the
  administrator's URL (`postgres://platform_admin@127.0.0.1:<port>/<name>?secret=<file>&cloud=local`), which
  `platform move` uses to copy it; `path` is the server's directory.
- "sqlite": the explicit fallback for machines without the server programs: a SQLite file `<root>/databases/
  <name>.sqlite3` whatever the engine (announced with a warning: SQL that only the real engine rejects passes
  here, and there are no roles). `url` is `sqlite:///<path>`.

A database keeps the backend it was created with: an existing SQLite stand-in (made by an earlier version, when
every local database was SQLite) stays SQLite, with its data, until it is migrated (see docs/databases.md); the
plan says so with a warning. Metadata: `<root>/databases/.meta/<name>.json`. Destroy is refused while
deletion_protection is on, and while any table holds rows unless force_destroy is set.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

from tf.types import Unknown
from tf.utils import Diagnostics

from platform_sdk.localcloud import dbserver, switches
from platform_sdk.localcloud.base import (
    BOOL,
    STRING,
    LocalResource,
    State,
    computed,
    optional,
    read_json,
    required,
    write_json,
)

ENGINES = ("postgres", "mysql")
BACKENDS = ("engine", "sqlite")
SIDECARS = ("-wal", "-shm", "-journal")


def _init_sqlite(path: Path) -> None:
    """Create the file with a valid SQLite header (a zero-byte file confuses some tools)."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS __localcloud_init (x)")
        conn.execute("DROP TABLE __localcloud_init")
        conn.commit()


def tables_with_rows(path: Path) -> list[str]:
    """Names of user tables that hold at least one row (read-only: destroy checks must not write)."""
    with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as conn:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                "ORDER BY name"
            )
        ]
        quoted = {n: '"' + n.replace('"', '""') + '"' for n in names}
        return [n for n in names if conn.execute(f"SELECT 1 FROM {quoted[n]} LIMIT 1").fetchone()]


def meta_path(root: Path, name: str) -> Path:
    return root / "databases" / ".meta" / f"{name}.json"


def read_meta(root: Path, name: str) -> dict[str, Any] | None:
    """What the local cloud recorded about database `name` (engine, backend, url, path), or None."""
    meta = read_json(meta_path(root, name))
    if not isinstance(meta, dict):
        return None
    meta.setdefault("backend", "sqlite" if str(meta.get("url", "")).startswith("sqlite:") else "engine")
    return meta


def sqlite_fallback_warning(diags: Diagnostics, name: str, engine: str, why: str) -> None:
    diags.add_warning(
        f"Database {name} is a SQLite stand-in, not {dbserver.label(engine)}",
        f"{why} SQL that only {dbserver.label(engine)} rejects passes here, and functions connect without a "
        "least-privilege role.",
    )


class Database(LocalResource):
    """A database; protected against destroy by default, and never dropped with data unless forced."""

    type_suffix = "database"
    attributes = [
        computed("id", STRING, "Same as name."),
        required("name", STRING, "Database name.", replace=True),
        required("engine", STRING, 'The engine, "postgres" or "mysql" (run by the root\'s own server, or stood in '
                                   "for by SQLite with the sqlite fallback).", replace=True),
        optional("deletion_protection", BOOL, "Refuse destroy while true.", default=True),
        optional("force_destroy", BOOL, "Allow destroying a database whose tables hold rows.", default=False),
        computed("path", STRING, "The SQLite file, or the directory of the engine's local server.", replace=True),
        computed("url", STRING, "sqlite:/// URL, or the administrator's postgres:// / mysql:// URL (no password: "
                                "?secret= names the file holding it)."),
    ]

    def validate(self, diags: Diagnostics, config: State) -> None:
        super().validate(diags, config)
        engine = config.get("engine")
        if isinstance(engine, str) and engine not in ENGINES:
            diags.add_error(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}", path=["engine"])

    # -- which backend ---------------------------------------------------------------------------------------
    def _backend(self, state: State) -> str:
        """The backend of an existing database (from its path), else the provider's setting."""
        path = state.get("path")
        if isinstance(path, str) and path:
            return "sqlite" if path.endswith(".sqlite3") else "engine"
        return str(self.provider.databases)

    def computed_values(self, state: State) -> State:
        name, root, engine = state.get("name"), self.provider.root_or_unknown(), state.get("engine")
        if name is Unknown or root is Unknown or engine is Unknown:
            return {"id": name, "path": Unknown, "url": Unknown}
        if self._backend(state) == "sqlite":
            path = root / "databases" / f"{name}.sqlite3"
            return {"id": name, "path": str(path), "url": f"sqlite:///{path}"}
        server = dbserver.Server(root, engine)
        return {"id": name, "path": str(server.dir), "url": server.url(name) if server.initialised else Unknown}

    def plan(self, diags: Diagnostics, prior: State | None, planned: State) -> State:
        same = prior is not None and all(prior.get(k) == planned.get(k) for k in ("name", "engine"))
        if prior is not None and same and prior.get("path"):
            planned.update(id=prior.get("id"), path=prior["path"], url=prior.get("url"))  # keeps its backend
            if prior["path"].endswith(".sqlite3") and self.provider.databases == "engine":
                sqlite_fallback_warning(
                    diags, str(planned.get("name")), str(planned.get("engine")),
                    "It was created on SQLite (by an earlier version, or with databases = \"sqlite\") and keeps its "
                    "data there; to run it on the engine, copy its data out and re-create it (docs/databases.md).")
            return planned
        planned.update(self.computed_values({k: v for k, v in planned.items() if k != "path"}))
        engine = planned.get("engine")
        if isinstance(engine, str) and engine in ENGINES and planned.get("name") is not Unknown:
            if self.provider.databases == "engine":
                problem = dbserver.missing(engine)
                if problem:
                    diags.add_error(
                        f"Database {planned['name']} needs a local {dbserver.label(engine)} server: {problem}",
                        "Or use the explicit SQLite fallback: set databases = \"sqlite\" in [clouds.local] of the "
                        "environment file (SQL only the real engine rejects then passes locally).")
            else:
                sqlite_fallback_warning(diags, str(planned["name"]), engine,
                                        "The environment sets databases = \"sqlite\" in [clouds.local].")
        return planned

    # -- metadata --------------------------------------------------------------------------------------------
    def _meta_path(self, state: State) -> Path:
        return meta_path(self.root(), str(state["name"]))

    def _write_meta(self, state: State) -> None:
        meta = {k: state.get(k) for k in ("name", "engine", "deletion_protection", "path", "url")}
        meta["backend"] = self._backend(state)
        write_json(self._meta_path(state), meta)

    def _server(self, state: State) -> dbserver.Server:
        return dbserver.Server(self.root(), str(state["engine"]))

    # -- lifecycle -------------------------------------------------------------------------------------------
    def create(self, diags: Diagnostics, planned: State) -> State | None:
        state = dict(planned)
        if self._backend(state) == "sqlite":
            state = self.finish(planned)
            path = Path(state["path"])
            if path.exists():
                diags.add_warning(f"Database {state['name']} already existed and was adopted", str(path))
            path.parent.mkdir(parents=True, exist_ok=True)
            _init_sqlite(path)
        else:
            server = self._server(state)
            try:
                with server.exclusive():  # no other resource's step between these (dbserver.Server.exclusive)
                    server.ensure_running()
                    if not server.create_database(state["name"]):
                        diags.add_warning(f"Database {state['name']} already existed on the local "
                                          f"{dbserver.label(state['engine'])} server and was adopted",
                                          str(server.dir))
                    from platform_sdk.runtime import dbroles  # not at the top: see base.py's docstring

                    with server.admin(state["name"] if state["engine"] == "postgres" else None) as conn:
                        _execute(conn, dbroles.database_statements(state["engine"], state["name"]))
            except (dbserver.ServerError, OSError) as err:
                diags.add_error(f"Database {state['name']}: {err}")
                return None
            state.update(id=state["name"], path=str(server.dir), url=server.url(state["name"]))
        self._write_meta(state)
        return state

    def read(self, diags: Diagnostics, current: State) -> State | None:
        if not current.get("path"):
            current = {**current, **self.computed_values(current)}
        state = dict(current)
        if self._backend(current) == "sqlite":
            if not Path(current["path"]).is_file():
                return None
        else:
            server = self._server(current)
            if not server.initialised:
                return None
            try:
                server.ensure_running()  # a reboot stopped it: the next plan starts it again
                if current["name"] not in server.databases():
                    return None
            except dbserver.ServerError as err:
                diags.add_error(f"Database {current['name']}: {err}")
                return None
            state["url"] = server.url(current["name"])
        meta = read_meta(self.root(), str(current["name"]))
        if meta and meta.get("engine"):
            state["engine"] = meta["engine"]
        return state

    def update(self, diags: Diagnostics, prior: State, planned: State) -> State | None:
        state = self.finish(planned)
        self._write_meta(state)
        return state

    def delete(self, diags: Diagnostics, prior: State) -> None:
        name = prior["name"]
        if prior.get("deletion_protection") is not False:
            diags.add_error(
                f"Database {name} has deletion_protection enabled; refusing to destroy it",
                "Nothing was deleted. Set deletion_protection = false, apply, and destroy again.",
            )
            return
        if self._backend(prior) == "sqlite":
            self._delete_sqlite(diags, prior)
        else:
            self._delete_on_server(diags, prior)
        if not diags.has_errors():
            self._meta_path(prior).unlink(missing_ok=True)

    def _refuse_data_loss(self, diags: Diagnostics, prior: State, full: list[str], where: str) -> bool:
        if full and not prior.get("force_destroy") and not switches.data_loss_allowed():
            diags.add_error(
                f"Database {prior['name']} still holds data (tables with rows: {', '.join(full)}); "
                "refusing to destroy it",
                f"{where} was kept. Set force_destroy = true, apply, and destroy again to drop the data.",
            )
            return True
        return False

    def _delete_sqlite(self, diags: Diagnostics, prior: State) -> None:
        path = Path(prior["path"])
        if path.is_file() and self._refuse_data_loss(diags, prior, tables_with_rows(path), str(path)):
            return
        for suffix in ("", *SIDECARS):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    def _delete_on_server(self, diags: Diagnostics, prior: State) -> None:
        server = self._server(prior)
        name = prior["name"]
        if not server.initialised:
            return
        try:
            with server.exclusive():  # the last database's removal of the server must not meet a creation
                server.ensure_running()
                if name in server.databases():
                    where = f"It ({server.url(name)})"
                    if self._refuse_data_loss(diags, prior, server.tables_with_rows(name), where):
                        return
                    server.drop_database(name)
                    if prior["engine"] == "postgres":
                        from platform_sdk.runtime import dbroles  # not at the top: see base.py's docstring

                        group = dbroles.ident(dbroles.group_name(name), "postgres")
                        with server.admin() as conn:
                            _execute(conn, [f"DROP ROLE IF EXISTS {group}"])
                if not server.databases():  # the last one: the server goes too (it holds nothing of anyone's)
                    server.remove()
        except dbserver.ServerError as err:
            diags.add_error(f"Database {name}: {err}")


def _execute(conn: Any, statements: list[str]) -> None:
    cursor = conn.cursor()
    try:
        for statement in statements:
            cursor.execute(statement)
        conn.commit()
    finally:
        cursor.close()
