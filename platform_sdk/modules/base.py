"""The base of every module: a typed, documented composition of neutral resources that a service adds in one call.

Why a base class: every module needs the same plumbing (where the user declared it, how its parts are named,
errors that point at the user's line, adding its parts to a service). A platform team's own modules subclass
`Module` exactly like the built-in ones do; nothing else in the SDK needs to know about them.
"""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

from platform_sdk.errors import ModelError
from platform_sdk.model.base import NAME_PATTERN, Resource, caller_location

if TYPE_CHECKING:
    from platform_sdk.model import Bucket, Database, Function, Queue, Secret, Service

_SDK_DIR = str(Path(__file__).resolve().parent.parent) + "/"
P = TypeVar("P", bound="Resource | Module")


def _definition_dirs(cls: type) -> tuple[str, ...]:
    """Files and package folders that define `cls` and its bases outside the SDK (a team's module package).

    Frames inside them are the module's own code, never the user's declaration.
    """
    places: list[str] = []
    for klass in cls.__mro__:
        module_name = klass.__module__
        if module_name.startswith("platform_sdk") or module_name == "builtins":
            continue
        top = sys.modules.get(module_name.split(".")[0])
        if top is not None and getattr(top, "__path__", None) and getattr(top, "__file__", None):
            places.append(str(Path(top.__file__).resolve().parent) + "/")  # type: ignore[arg-type]
        else:
            module = sys.modules.get(module_name)
            if module is not None and getattr(module, "__file__", None):
                places.append(str(Path(module.__file__).resolve()))  # type: ignore[arg-type]
    return tuple(places)


@dataclass(eq=False)
class Module:
    """A reusable composition of resources. Subclass it, declare `parts`, and create the parts in `build()`.

    `name` identifies the module in its service. Each part is named from its template in `parts`, where
    `{name}` is the module's name and `{prefix}` is `prefix` (default: the name and a dash). Pass `prefix=""`
    for bare part names, or `names={role: "other-name"}` for single parts: use these to adopt resources that
    already exist under other names (renaming a resource replaces it, data included).

    A module's settings that a resource kind also has are inherited from that kind's spec (`FunctionSpec`,
    `DatabaseSpec`), not declared again: same names, types, units, defaults and errors as the kind, passed
    on with `FunctionSpec.of(self)`.

    Attributes:
        name: Required. Identifies the module in its service: 1-40 lowercase letters, digits and '-',
            starting with a letter. Raises `ModelError` (key `name`) otherwise.
        prefix: Keyword-only. Replaces `{prefix}` in part names. Default `None`: `<name>-`. Raises
            `ModelError` (key `prefix`) unless empty or lowercase letters, digits and '-' ending with '-'.
        names: Keyword-only. Role -> neutral name, for single parts. Default `{}`. Raises `ModelError` (key
            `names`) for a role the module does not have.
        service: The service the module was added to (set by `Service.add`).
        declared_in: The app team's file that declared the module (parts report it too); set automatically.
        declared_line: That line; set automatically.

    Raises:
        ModelError: a parameter (or a part's validation) is invalid, naming the app team's file and line.
    """

    # role -> default name template of the part, e.g. {"bucket": "{name}", "cdn": "{prefix}cdn"}
    parts: ClassVar[dict[str, str]] = {}
    name: str
    prefix: str | None = field(default=None, kw_only=True)
    names: dict[str, str] = field(default_factory=dict, kw_only=True)
    service: Service | None = field(default=None, init=False, repr=False)
    declared_in: str | None = field(default=None, init=False, repr=False)
    declared_line: int | None = field(default=None, init=False, repr=False)
    _parts: dict[str, Resource | Module] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.declared_in, self.declared_line = self._locate()
        if not isinstance(self.name, str) or not NAME_PATTERN.match(self.name):
            raise self.error("invalid module name: use 1-40 lowercase letters, digits and '-', starting with a letter",
                             "name", self.name)
        if self.prefix is not None and (not isinstance(self.prefix, str)
                                        or (self.prefix and not re.match(r"^[a-z][a-z0-9-]*-$", self.prefix))):
            raise self.error("prefix must be empty or lowercase letters, digits and '-', ending with '-'",
                             "prefix", self.prefix)
        roles = self.templates()
        unknown = sorted(set(self.names) - set(roles))
        if unknown:
            raise self.error(f"names has no part {unknown[0]!r} (parts: {', '.join(roles)})", "names", unknown[0])
        try:
            self.build()
        except ModelError as err:
            self._repoint(err)
            raise
        for part in self.resources:
            # Parts report the user's line (not the module's source) in every later error, e.g. a name clash.
            part.declared_in, part.declared_line = self.declared_in, self.declared_line

    # -- for module authors -------------------------------------------------------------------------------------
    def build(self) -> None:
        """Create the parts with `self.add_part(role, resource)`. Raise `self.error(...)` for bad parameters."""
        raise NotImplementedError(f"{type(self).__name__}.build()")

    def templates(self) -> dict[str, str]:
        """Role -> name template of every part. Override when the parts depend on parameters (routes)."""
        return dict(self.parts)

    def part_name(self, role: str) -> str:
        """The neutral name of one part: the user's choice from `names`, else the template."""
        templates = self.templates()
        if role not in templates:
            raise KeyError(f"{type(self).__name__} declares no part {role!r}")
        prefix = f"{self.name}-" if self.prefix is None else self.prefix
        return self.names.get(role) or templates[role].format(name=self.name, prefix=prefix)

    def add_part(self, role: str, part: P) -> P:
        """Record a part (a resource or a nested module); parts are added to the service in this order."""
        self._parts[role] = part
        return part

    def resolve(self, path: str | Path) -> Path:
        """A path the user wrote, relative to the file that declared the module (like `Function(source=...)`)."""
        base = Path(self.declared_in).parent if self.declared_in else Path.cwd()
        return (base / path).resolve()

    def error(self, message: str, key: str | None = None, value: object = None, hint: str | None = None) -> ModelError:
        """An error pointing at the line that declared this module."""
        return ModelError(f"{type(self).__name__} {self.name!r}: {message}", file=self.declared_in,
                          line=self.declared_line, key=key, value=value, hint=hint)

    # -- for services ---------------------------------------------------------------------------------------
    def add_to(self, service: Service) -> None:
        """Add every part to `service` (what `service.add(module)` calls)."""
        self.service = service
        for part in self._parts.values():
            service.add(part)

    @property
    def resources(self) -> list[Resource]:
        """Every resource of the module, nested modules flattened, in the order they are added."""
        return list(self._iter_resources())

    def _iter_resources(self) -> Iterator[Resource]:
        for part in self._parts.values():
            if isinstance(part, Module):
                yield from part._iter_resources()
            else:
                yield part

    def __iter__(self) -> Iterator[Resource]:
        return self._iter_resources()

    # -- internals ------------------------------------------------------------------------------------------
    def _locate(self) -> tuple[str | None, int | None]:
        """The user's line: the first frame that is neither SDK code, nor this module's code or package."""
        own = _definition_dirs(type(self))
        frame = inspect.currentframe()
        while frame is not None:
            filename = frame.f_code.co_filename
            inside = (filename.startswith("<") or filename.startswith(_SDK_DIR)
                      or frame.f_locals.get("self") is self
                      or any(filename == place or filename.startswith(place) for place in own))
            if not inside:
                return filename, frame.f_lineno
            frame = frame.f_back
        return caller_location()

    def _repoint(self, err: ModelError) -> None:
        """A part's validation error is about a module parameter: point it at the module's declaration."""
        if err.file != self.declared_in or err.line != self.declared_line:
            err.file, err.line = self.declared_in, self.declared_line
        prefix = f"{type(self).__name__} {self.name!r}: "
        if not err.message.startswith(prefix):
            err.message = prefix + err.message


def describe(module: Module) -> dict[str, Any]:
    """Role -> neutral name of each part (for docs, tests and `repr`-like listings)."""
    return {role: (part.name if isinstance(part, (Resource, Module)) else part) for role, part in module._parts.items()}


class FunctionGrants:
    """Grant helpers for modules built around one function (`self.function`): `job.uses(db)` reads naturally."""

    function: Function

    def reads(self, target: Bucket | Secret) -> Self:
        """Allow the module's function to read a bucket or a secret (see `Function.reads`)."""
        self.function.reads(target)
        return self

    def writes(self, bucket: Bucket) -> Self:
        """Allow the module's function to write `bucket` (see `Function.writes`)."""
        self.function.writes(bucket)
        return self

    def reads_writes(self, bucket: Bucket) -> Self:
        """Allow the module's function to read and write `bucket` (see `Function.reads_writes`)."""
        self.function.reads_writes(bucket)
        return self

    def uses(self, database: Database) -> Self:
        """Allow the module's function to connect to `database` (see `Function.uses`)."""
        self.function.uses(database)
        return self

    def sends(self, queue: Queue) -> Self:
        """Allow the module's function to put messages on `queue` (see `Function.sends`)."""
        self.function.sends(queue)
        return self

    def invokes(self, function: Function) -> Self:
        """Allow the module's function to call `function` (see `Function.invokes`)."""
        self.function.invokes(function)
        return self
