"""ServiceWithDatabase: an HTTP function with its own managed database, connected by a grant."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

from platform_sdk.model import Database, Function, http
from platform_sdk.modules.base import FunctionGrants, Module


@dataclass(eq=False, kw_only=True)
class ServiceWithDatabase(FunctionGrants, Module):
    """The classic CRUD shape: `handler(request)` in `source` over HTTP, with a database only it can reach.

    Parts: `database` (named `{prefix}db`, created first) and `function` (named `{name}`). The function
    connects with `database(<database name>)` from `platform_sdk.runtime`; connection details are injected.
    Database safety defaults stay on (backups, deletion protection); `high_availability` is usually set per
    environment instead (`[overrides."svc.db"] high_availability = true` in the production env file).
    """

    parts: ClassVar[dict[str, str]] = {"database": "{prefix}db", "function": "{name}"}
    handler: str
    source: str | Path
    memory: int = 256
    timeout: int = 30
    runtime: str = "python3.11"
    public: bool = True
    environment: dict[str, str] = field(default_factory=dict)
    engine: Literal["postgres", "mysql"] = "postgres"
    size: Literal["small", "medium", "large"] = "small"
    storage_gb: int = 20
    high_availability: bool = False
    backups: bool = True
    deletion_protection: bool = True
    database_name: str | None = None
    database: Database = field(init=False, repr=False)
    function: Function = field(init=False, repr=False)

    def build(self) -> None:
        self.database = self.add_part("database", Database(
            self.part_name("database"), engine=self.engine, size=self.size, storage_gb=self.storage_gb,
            backups=self.backups, high_availability=self.high_availability,
            deletion_protection=self.deletion_protection, database_name=self.database_name,
        ))
        self.function = self.add_part("function", Function(
            self.part_name("function"), handler=self.handler, source=self.resolve(self.source), runtime=self.runtime,
            memory=self.memory, timeout=self.timeout, environment=dict(self.environment),
            triggers=[http(public=self.public)],
        ))
        self.function.uses(self.database)
