"""ServiceWithDatabase: an HTTP function with its own managed database, connected by a grant."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from platform_sdk.model import Database, DatabaseSpec, Function, FunctionSpec, http
from platform_sdk.modules.base import FunctionGrants, Module


@dataclass(eq=False, kw_only=True)
class ServiceWithDatabase(FunctionGrants, Module, FunctionSpec, DatabaseSpec):
    """The classic CRUD shape: `handler(request)` in `source` over HTTP, with a database only it can reach.

    Parts: `database` (named `{prefix}db`, created first) and `function` (named `{name}`). The function
    connects with `database(<database name>)` from `platform_sdk.runtime`; connection details are injected.
    Database safety defaults stay on (backups, deletion protection); `high_availability` is usually set per
    environment instead (`[overrides."svc.db"] high_availability = true` in the production env file).

    Attributes:
        handler: Required. `module.function` in `source` serving every HTTP request. Raises `ModelError` (key
            `handler`) unless it looks like that.
        source: Required. The code's directory, relative to the file declaring the module.
        public: Anyone may call the function's URL. Default `True`. Raises `ModelError` (key `http.public`)
            unless a bool.
        runtime, memory, timeout, environment: the function's settings, see `FunctionSpec` (units, defaults
            and errors).
        engine, size, storage_gb, backups, high_availability, deletion_protection, database_name: the
            database's settings, see `DatabaseSpec` (units, defaults and errors).
        database: The `Database` part (not a constructor argument).
        function: The `Function` part (not a constructor argument).
    """

    parts: ClassVar[dict[str, str]] = {"database": "{prefix}db", "function": "{name}"}
    handler: str
    source: str | Path
    public: bool = True
    database: Database = field(init=False, repr=False)
    function: Function = field(init=False, repr=False)

    def build(self) -> None:
        self.database = self.add_part("database", Database(self.part_name("database"), **DatabaseSpec.of(self)))
        self.function = self.add_part("function", Function(
            self.part_name("function"), handler=self.handler, source=self.resolve(self.source),
            triggers=[http(public=self.public)], **FunctionSpec.of(self),
        ))
        self.function.uses(self.database)
