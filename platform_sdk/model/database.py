"""The Database kind: a managed relational database, its settings, and what a grant on it allows at runtime."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import ClassVar, Literal, get_args

from platform_sdk.model.base import ErrorFactory, Resource, Spec, is_whole

Engine = Literal["postgres", "mysql"]
Size = Literal["small", "medium", "large"]
ENGINES: tuple[str, ...] = get_args(Engine)
SIZES: tuple[str, ...] = get_args(Size)

OPERATIONS: Mapping[str, tuple[str, ...]] = {"connect": ("connect",)}
"""Grant access level -> the runtime operations it allows. `fn.uses(database)` grants "connect"."""

OPERATION_DESCRIPTIONS: Mapping[str, str] = {
    "connect": "open a SQL connection with the credentials the platform injects (runtime: database(name).connect()): "
               "needs a network path to the instance and read access to its credentials",
}
"""What each operation in `OPERATIONS` does, and the runtime client methods that perform it."""


@dataclass(eq=False, kw_only=True)
class DatabaseSpec(Spec):
    """The settings of a `Database` (keyword-only). Modules that create a database subclass this spec.

    Attributes:
        engine: `"postgres"` or `"mysql"`. Default `"postgres"`. Raises `ModelError` (key `engine`) otherwise;
            a cloud plug-in refuses an engine it cannot run.
        size: Instance size tier, `"small"`, `"medium"` or `"large"`; each environment maps it to an instance
            class (`[sizes]`). Default `"small"`. Raises `ModelError` (key `size`) otherwise.
        storage_gb: Allocated storage in GiB, a positive whole number. Default 20. Raises `ModelError`
            (key `storage_gb`) otherwise; each cloud plug-in checks its own minimum and maximum.
        backups: Automated daily backups. Default `True`. Raises `ModelError` (key `backups`) unless a bool.
        high_availability: A standby in another zone. Default `False` (usually turned on per environment:
            `[overrides."svc.db"] high_availability = true`). Raises `ModelError` (key `high_availability`)
            unless a bool.
        deletion_protection: The cloud refuses to delete the instance. Default `True`. Raises `ModelError`
            (key `deletion_protection`) unless a bool.
        database_name: The logical database created inside the instance. Default `None`: the neutral name
            with '-' turned into '_'. Raises `ModelError` (key `database_name`) unless letters, digits and '_'
            starting with a letter (at most 63 characters).
    """

    engine: Engine = "postgres"
    size: Size = "small"
    storage_gb: int = 20
    backups: bool = True
    high_availability: bool = False
    deletion_protection: bool = True
    database_name: str | None = None

    def check_spec(self, error: ErrorFactory) -> None:
        """Raise `error(message, key, value)` for the first invalid setting."""
        if self.engine not in ENGINES:
            raise error(f"engine must be one of {', '.join(ENGINES)}", "engine", self.engine)
        if self.size not in SIZES:
            raise error(f"size must be one of {', '.join(SIZES)}", "size", self.size)
        if not is_whole(self.storage_gb) or self.storage_gb < 1:
            raise error("storage_gb must be a positive whole number of GiB", "storage_gb", self.storage_gb)
        for key in ("backups", "high_availability", "deletion_protection"):
            if not isinstance(getattr(self, key), bool):
                raise error(f"{key} must be True or False", key, getattr(self, key))
        name = self.database_name
        if name is not None and (not isinstance(name, str) or not name[:1].isalpha() or len(name) > 63
                                 or not name.replace("_", "").isalnum() or not name.isascii()):
            raise error("database_name must be letters, digits and '_', starting with a letter (at most 63)",
                        "database_name", name)


@dataclass(eq=False)
class Database(Resource, DatabaseSpec):
    """A managed relational database. Deletion protection and backups are on unless turned off.

    Functions connect with `fn.uses(database)`, which injects the connection details (`OPERATIONS`).

    Attributes:
        name: Required. The neutral name, see `Resource`.
        engine, size, storage_gb, backups, high_availability, deletion_protection, database_name: keyword-only
            settings, see `DatabaseSpec` (units, defaults and errors).

    Raises:
        ModelError: on any invalid setting, naming the file and line of the declaration, the key and the value.
    """

    kind: ClassVar[str] = "database"
    operations: ClassVar[Mapping[str, tuple[str, ...]]] = OPERATIONS
    # Not the engine: every stage runs the SQL dialect the code was written for.
    overridable: ClassVar[tuple[str, ...]] = tuple(f.name for f in fields(DatabaseSpec) if f.name != "engine")

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_spec(self.error)
        self.database_name = self.database_name or self.name.replace("-", "_")
