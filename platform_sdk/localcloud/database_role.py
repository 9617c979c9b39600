"""`localcloud_database_role`: one function's least-privilege login role on a local database.

The role has exactly the rights `uses(database)` grants (`platform_sdk.runtime.dbroles`): the rows of its
database's tables, and, for an `owner` (a function of the service that declares the database), creating tables.
Its password is random and lives in `<root>/databases/.secrets/<role>.json` (mode 0600), never in state or
configuration; `url` names that file (`postgres://<role>@127.0.0.1:<port>/<database>?secret=<file>&cloud=local`)
and is what the function receives. On a SQLite stand-in (the explicit fallback) there are no roles: `url` is the
database's own and the plan warns.

Destroying the role keeps its data: tables it created become the administrator's.
"""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from tf.types import Unknown
from tf.utils import Diagnostics

from platform_sdk.localcloud import dbserver
from platform_sdk.localcloud.base import BOOL, STRING, LocalResource, State, computed, optional, required
from platform_sdk.localcloud.database import read_meta

if TYPE_CHECKING:
    from platform_sdk.runtime.dbroles import Role

ROLE_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class DatabaseRole(LocalResource):
    """A function's login role on a local database."""

    type_suffix = "database_role"
    attributes = [
        computed("id", STRING, "Same as name."),
        required("name", STRING, "The role (PostgreSQL) or user (MariaDB): [a-z][a-z0-9_]*, at most 63 "
                                 "characters (32 on MariaDB).", replace=True),
        required("database", STRING, "The localcloud_database it may use.", replace=True),
        optional("owner", BOOL, "May create tables in the database (functions of the service declaring it).",
                 default=False),
        computed("url", STRING, "What the function connects with: the role's URL (no password: ?secret= names the "
                                "file holding it), or the database's own URL on a SQLite stand-in."),
    ]

    def validate(self, diags: Diagnostics, config: State) -> None:
        name = config.get("name")
        if isinstance(name, str) and not ROLE_RE.match(name):
            diags.add_error(f"Invalid role name {name!r}", "Use [a-z][a-z0-9_]*, at most 63 characters.",
                            path=["name"])

    def _secret(self, name: str) -> Path:
        return self.root() / "databases" / ".secrets" / f"{name}.json"

    def _role(self, state: State) -> Role:
        from platform_sdk.runtime.dbroles import Role  # not at the top: see base.py's docstring

        return Role(str(state["name"]), str(state["database"]), owner=bool(state.get("owner")))

    def computed_values(self, state: State) -> State:
        name, database, root = state.get("name"), state.get("database"), self.provider.root_or_unknown()
        if Unknown in (name, database, root) or not isinstance(database, str):
            return {"id": name, "url": Unknown}
        meta = read_meta(root, database)
        if meta is None:
            return {"id": name, "url": Unknown}
        if meta["backend"] == "sqlite":
            return {"id": name, "url": meta.get("url", Unknown)}
        server = dbserver.Server(root, str(meta["engine"]))
        if not server.initialised:
            return {"id": name, "url": Unknown}
        return {"id": name, "url": server.url(database, str(name), root / "databases" / ".secrets" / f"{name}.json")}

    def plan(self, diags: Diagnostics, prior: State | None, planned: State) -> State:
        planned.update(self.computed_values(planned))
        database = planned.get("database")
        root = self.provider.root_or_unknown()
        if prior is None and isinstance(database, str) and root is not Unknown:
            meta = read_meta(root, database)
            if meta is not None and meta["backend"] == "sqlite":
                diags.add_warning(f"Role {planned.get('name')} is not created: database {database} is a SQLite "
                                  "stand-in", "The function connects to the SQLite file with every right.")
        return planned

    def create(self, diags: Diagnostics, planned: State) -> State | None:
        state = dict(planned)
        meta = read_meta(self.root(), str(state["database"]))
        if meta is None:
            diags.add_error(f"Role {state['name']}: database {state['database']} does not exist on this local cloud")
            return None
        if meta["backend"] != "sqlite":
            password = secrets.token_hex(24)
            if not self._ensure(diags, state, meta, password):
                return None
            secret = self._secret(str(state["name"]))
            secret.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            secret.touch(mode=0o600)
            secret.write_text(json.dumps({"username": state["name"], "password": password}) + "\n")
        state.update(self.computed_values(state))
        return state

    def _ensure(self, diags: Diagnostics, state: State, meta: dict[str, object], password: str) -> bool:
        engine = str(meta["engine"])
        server = dbserver.Server(self.root(), engine)
        try:
            from platform_sdk.runtime import dbroles  # not at the top: see base.py's docstring

            with server.admin(str(state["database"]) if engine == "postgres" else None) as conn:
                dbroles.ensure(conn, engine, self._role(state), password)
        except dbserver.ServerError as err:
            diags.add_error(f"Role {state['name']}: {err}")
            return False
        return True

    def read(self, diags: Diagnostics, current: State) -> State | None:
        meta = read_meta(self.root(), str(current["database"]))
        if meta is None:
            return None
        if meta["backend"] != "sqlite":
            server = dbserver.Server(self.root(), str(meta["engine"]))
            if not server.initialised or not self._secret(str(current["name"])).is_file():
                return None
            try:
                server.ensure_running()
                from platform_sdk.runtime import dbroles  # not at the top: see base.py's docstring

                with server.session() as conn:
                    if not dbroles.role_exists(conn, str(meta["engine"]), str(current["name"])):
                        return None
            except dbserver.ServerError as err:
                diags.add_error(f"Role {current['name']}: {err}")
                return None
        return {**current, **self.computed_values(current)}

    def update(self, diags: Diagnostics, prior: State, planned: State) -> State | None:
        state = dict(planned)
        meta = read_meta(self.root(), str(state["database"]))
        if meta is not None and meta["backend"] != "sqlite":
            secret = json.loads(self._secret(str(state["name"])).read_text())
            if not self._ensure(diags, state, meta, str(secret["password"])):
                return None
        state.update(self.computed_values(state))
        return state

    def delete(self, diags: Diagnostics, prior: State) -> None:
        meta = read_meta(self.root(), str(prior["database"]))
        if meta is not None and meta["backend"] != "sqlite":
            engine = str(meta["engine"])
            server = dbserver.Server(self.root(), engine)
            if server.initialised:
                try:
                    server.ensure_running()
                    database = str(prior["database"]) if engine == "postgres" else None
                    if database is not None and database not in server.databases():
                        database = None  # dropped already: the role owns nothing anywhere
                    from platform_sdk.runtime import dbroles  # not at the top: see base.py's docstring

                    with server.admin(database) as conn:
                        dbroles.drop(conn, engine, self._role(prior))
                except dbserver.ServerError as err:
                    diags.add_error(f"Role {prior['name']}: {err}")
                    return
        self._secret(str(prior["name"])).unlink(missing_ok=True)
