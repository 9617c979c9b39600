"""`localcloud_database`: a SQL database stood in for by a SQLite file (the requested engine is recorded).

Layout: `<root>/databases/<name>.sqlite3` and `<root>/databases/.meta/<name>.json`. Destroy is
refused while deletion_protection is on, and while any table holds rows unless force_destroy is set.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from tf.types import Unknown
from tf.utils import Diagnostics

from platform_sdk.localcloud import switches
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


class Database(LocalResource):
    """A database; protected against destroy by default, and never dropped with data unless forced."""

    type_suffix = "database"
    attributes = [
        computed("id", STRING, "Same as name."),
        required("name", STRING, "Database name.", replace=True),
        required("engine", STRING, 'Requested engine, "postgres" or "mysql" (SQLite here).', replace=True),
        optional("deletion_protection", BOOL, "Refuse destroy while true.", default=True),
        optional("force_destroy", BOOL, "Allow destroying a database whose tables hold rows.", default=False),
        computed("path", STRING, "Absolute path of the SQLite file.", replace=True),
        computed("url", STRING, "sqlite:/// URL of the database."),
    ]

    def validate(self, diags: Diagnostics, config: State) -> None:
        super().validate(diags, config)
        engine = config.get("engine")
        if isinstance(engine, str) and engine not in ENGINES:
            diags.add_error(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}", path=["engine"])

    def computed_values(self, state: State) -> State:
        name, root = state.get("name"), self.provider.root_or_unknown()
        if name is Unknown or root is Unknown:
            return {"id": name, "path": Unknown, "url": Unknown}
        path = root / "databases" / f"{name}.sqlite3"
        return {"id": name, "path": str(path), "url": f"sqlite:///{path}"}

    def _meta_path(self, state: State) -> Path:
        path = Path(state["path"])
        return path.parent / ".meta" / f"{state['name']}.json"

    def _write_meta(self, state: State) -> None:
        meta = {k: state.get(k) for k in ("name", "engine", "deletion_protection", "path", "url")}
        write_json(self._meta_path(state), meta)

    def create(self, diags: Diagnostics, planned: State) -> State | None:
        state = self.finish(planned)
        path = Path(state["path"])
        if path.exists():
            diags.add_warning(f"Database {state['name']} already existed and was adopted", str(path))
        path.parent.mkdir(parents=True, exist_ok=True)
        _init_sqlite(path)
        self._write_meta(state)
        return state

    def read(self, diags: Diagnostics, current: State) -> State | None:
        path = Path(current.get("path") or self.computed_values(current)["path"])
        if not path.is_file():
            return None
        state = dict(current)
        meta = read_json(self._meta_path({**current, "path": str(path)}))
        if isinstance(meta, dict) and meta.get("engine"):
            state["engine"] = meta["engine"]
        return state

    def update(self, diags: Diagnostics, prior: State, planned: State) -> State | None:
        state = self.finish(planned)
        self._write_meta(state)
        return state

    def delete(self, diags: Diagnostics, prior: State) -> None:
        name, path = prior["name"], Path(prior["path"])
        if prior.get("deletion_protection") is not False:
            diags.add_error(
                f"Database {name} has deletion_protection enabled; refusing to destroy it",
                "Nothing was deleted. Set deletion_protection = false, apply, and destroy again.",
            )
            return
        if path.is_file() and not prior.get("force_destroy") and not switches.data_loss_allowed():
            full = tables_with_rows(path)
            if full:
                diags.add_error(
                    f"Database {name} still holds data (tables with rows: {', '.join(full)}); "
                    "refusing to destroy it",
                    f"{path} was kept. Set force_destroy = true, apply, and destroy again to drop the data.",
                )
                return
        for suffix in ("", *SIDECARS):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        self._meta_path(prior).unlink(missing_ok=True)
