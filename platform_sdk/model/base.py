"""What every kind shares: a neutral name unique in its service, and the user's line that declared it.

A *kind* (Bucket, Database, Secret, Function, Cdn) is one module of this package: its class, the settings it accepts
(types, units, defaults, the errors they raise, all in the class docstring), the grants other resources may
hold on it and the runtime operations each grant allows (`operations`). Nothing here knows about a cloud:
the model keeps neutral sanity (types, whole numbers, names); each cloud plug-in checks its own limits on the
values an environment actually deploys.
"""

from __future__ import annotations

import copy
import inspect
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from platform_sdk.errors import ModelError

if TYPE_CHECKING:
    from platform_sdk.model.service import Service

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$|^[a-z]$")
"""Neutral names: 1-40 lowercase letters, digits and '-', starting with a letter and not ending with '-'.

DNS-like, so that every cloud can derive a valid physical name from them."""

ErrorFactory = Callable[[str, str, object], ModelError]
"""The shape of `Resource.error` and `Module.error`: (message, key, value) -> the error to raise."""

_PACKAGE_DIR = str(Path(__file__).resolve().parent.parent) + "/"

_declared: list[list[Resource | Service]] = []


@contextmanager
def declarations() -> Iterator[list[Resource | Service]]:
    """Every Resource and Service created inside the block, in creation order: how the loader finds a declaration
    that was never added to a service (or a service no service file binds), which would otherwise be dropped
    silently. Blocks nest; a declaration is recorded in the innermost."""
    declared: list[Resource | Service] = []
    _declared.append(declared)
    try:
        yield declared
    finally:
        _declared.remove(declared)


def record_declaration(part: Resource | Service) -> None:
    """Record `part` in the innermost `declarations()` block, if any."""
    if _declared:
        _declared[-1].append(part)


def caller_location() -> tuple[str | None, int | None]:
    """(file, line) of the first stack frame outside `platform_sdk`: where the user wrote the declaration.

    Frames of generated code (`<string>`: a dataclass `__init__`) and of the SDK itself are skipped, so a
    resource made by a built-in module reports the line that declared the module. `(None, None)` when
    there is no such frame.
    """
    frame = inspect.currentframe()
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith("<") and not filename.startswith(_PACKAGE_DIR):
            return filename, frame.f_lineno
        frame = frame.f_back
    return None, None


def check_name(kind: str, name: object, file: str | None = None, line: int | None = None) -> str:
    """`name` if it matches `NAME_PATTERN`.

    Raises:
        ModelError: (key `name`) anything else, a non-string included.
    """
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ModelError(
            f"invalid {kind} name: use 1-40 lowercase letters, digits and '-', starting with a letter",
            file=file,
            line=line,
            key="name",
            value=name,
        )
    return name


def is_whole(value: object) -> bool:
    """True for an `int` that is not a `bool` (`True` is an int to Python, never a size to us)."""
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(eq=False, kw_only=True)
class Spec:
    """A group of a kind's settings that modules reuse: a module subclasses the spec to take the same keyword
    arguments (same types, same defaults, same documentation) and passes them on with `Spec.of(self)`.
    """

    @classmethod
    def of(cls, source: object) -> dict[str, Any]:
        """This spec's settings read from `source` (a kind or a module built on the spec), as keyword arguments.

        Dicts and lists are copied, so parts made from one module never share a mutable setting.
        """
        values = {f.name: getattr(source, f.name) for f in fields(cls)}
        return {key: copy.copy(value) if isinstance(value, (dict, list)) else value for key, value in values.items()}


@dataclass(eq=False)
class Resource:
    """Common part of every kind: a neutral name, unique within its service.

    Attributes:
        name: Required. The neutral name (see `NAME_PATTERN`): 1-40 lowercase letters, digits and '-',
            starting with a letter. Each cloud derives its physical name from it and the environment's prefix.
            Raises `ModelError` (key `name`) otherwise.
        service: The `Service` the resource was added to (set by `Service.add`); `None` until then.
        declared_in: The file that declared the resource (for error messages); set automatically.
        declared_line: The line that declared the resource; set automatically.
        renamed_from: The neutral name the resource had before a rename (keyword only). Default None. The physical
            name stays the one derived from it, and `platform plan/apply` move the deployed object to the new
            Terraform address (`terraform state mv`, or `moved` blocks on Terraform >= 1.1) instead of destroying and
            creating it. The old name stays taken: another resource of the kind given it would be the same object,
            which synthesis refuses (platform_sdk.synth.unique_names). Raises `ModelError` (key `renamed_from`) for
            an invalid name or the resource's own name.
    """

    kind: ClassVar[str] = "resource"
    operations: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    """Grant access level -> the runtime operations it allows (see each kind's `OPERATIONS`); empty when
    nothing can be granted on the kind."""
    overridable: ClassVar[tuple[str, ...]] = ()
    """The settings an environment file may give per resource (`[overrides."service.resource"] key = value`),
    validated exactly as the declaration is; what links or locates the resource (name, handler, source,
    triggers, origin, a database's engine) is not among them."""

    name: str
    renamed_from: str | None = field(default=None, kw_only=True)
    service: Service | None = field(default=None, init=False, repr=False)
    declared_in: str | None = field(default=None, init=False, repr=False)
    declared_line: int | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.declared_in, self.declared_line = caller_location()
        check_name(self.kind, self.name, self.declared_in, self.declared_line)
        if self.renamed_from is not None:
            try:
                check_name(self.kind, self.renamed_from, self.declared_in, self.declared_line)
            except ModelError as err:
                raise self.error(f"invalid renamed_from: {err.message}", key="renamed_from",
                                 value=self.renamed_from) from None
            if self.renamed_from == self.name:
                raise self.error("renamed_from names the resource itself", key="renamed_from", value=self.renamed_from)
        record_declaration(self)

    @property
    def physical_key(self) -> str:
        """The name physical names derive from: `renamed_from` when the resource was renamed, else `name`."""
        return self.renamed_from or self.name

    @property
    def address(self) -> str:
        """`service.resource`: the key environments use for placement and overrides (`?` before `Service.add`)."""
        service = self.service.name if self.service else "?"
        return f"{service}.{self.name}"

    def error(self, message: str, key: str | None = None, value: object = None, hint: str | None = None) -> ModelError:
        """An error pointing at the line that declared this resource (key defaults to its address)."""
        return ModelError(
            message, file=self.declared_in, line=self.declared_line, key=key or self.address, value=value, hint=hint
        )
