"""Shared pieces of the local cloud resources: schema helpers, the resource base class, file helpers.

Resources here implement a small contract that the servicer (`servicer.py`) drives:
`validate` (config may hold Unknown), `plan` (fill computed values known at plan time),
`create` / `read` / `update` / `delete`. Errors go to `diags`; any exception is turned into a
diagnostic by the servicer, so resource code never has to worry about crashing Terraform.

Start-up cost: Terraform starts the provider process for every plan, show and apply, two or three times for some
(docs/testing.md counts them), and most starts only read the schema, validate or plan. So a resource module imports
at its top only what its schema and plan need; what only creating, reading or deleting uses (`platform_sdk.runtime`'s
database roles and queue store, which load the whole neutral runtime) is imported in the function that uses it.
`tests/test_localcloud_provider.py` checks what a start loads.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from tf.schema import Attribute, Schema
from tf.types import Bool, List, Number, String, TfType, Unknown
from tf.utils import Diagnostics

if TYPE_CHECKING:
    from platform_sdk.localcloud.provider import LocalCloudProvider

State = dict[str, Any]

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class MapOf(TfType):
    """Terraform `map(T)`; the `tf` framework ships list/set only."""

    def __init__(self, element_type: TfType) -> None:
        self.element_type = element_type

    def encode(self, value: Any) -> Any:
        if value is None or value is Unknown:
            return value
        return {k: self.element_type.encode(v) for k, v in value.items()}

    def decode(self, value: Any) -> Any:
        if value is None or value is Unknown:
            return value
        return {k: self.element_type.decode(v) for k, v in value.items()}

    def tf_type(self) -> bytes:
        return f'["map",{self.element_type.tf_type().decode()}]'.encode()


STRING = String()
NUMBER = Number()
BOOL = Bool()
STRING_LIST = List(STRING)
STRING_MAP = MapOf(STRING)


def is_known(value: Any) -> bool:
    """True if the value (and everything inside it) is known at plan time."""
    if value is Unknown:
        return False
    if isinstance(value, dict):
        return all(is_known(v) for v in value.values())
    if isinstance(value, list):
        return all(is_known(v) for v in value)
    return True


def required(name: str, type_: TfType, description: str, replace: bool = False) -> Attribute:
    """A required argument; `replace=True` means changing it destroys and recreates the resource."""
    return Attribute(name, type_, description=description, required=True, requires_replace=replace)


def optional(
    name: str, type_: TfType, description: str, default: Any = Unknown, replace: bool = False
) -> Attribute:
    """An optional argument. With a default it is also computed, so state always holds the real value."""
    has_default = default is not Unknown
    return Attribute(
        name,
        type_,
        description=description,
        optional=True,
        computed=has_default,
        default=default,
        requires_replace=replace,
    )


def computed(name: str, type_: TfType, description: str, replace: bool = False) -> Attribute:
    """A read-only attribute the provider sets; `replace=True` if a change means a new object."""
    return Attribute(name, type_, description=description, computed=True, requires_replace=replace)


def check_name(diags: Diagnostics, value: Any, attr: str = "name") -> None:
    """Names become path components: plain file names, no slashes, not starting with a dot."""
    if value is None or value is Unknown:
        return
    if not isinstance(value, str) or not NAME_RE.match(value):
        diags.add_error(
            f"Invalid {attr} {value!r}",
            "Use 1-128 characters from A-Z a-z 0-9 _ . - , starting with a letter or digit.",
            path=[attr],
        )


def check_positive(diags: Diagnostics, config: State, attr: str, integer: bool = True) -> None:
    """Validate an optional positive (integer) number."""
    value = config.get(attr)
    if value is None or value is Unknown:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        diags.add_error(f"{attr} must be a positive number, got {value!r}", path=[attr])
    elif integer and float(value) != int(value):
        diags.add_error(f"{attr} must be a whole number, got {value!r}", path=[attr])


def as_int(value: Any) -> Any:
    """Terraform numbers arrive as int or float; store whole numbers as int for stable JSON."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def write_json(path: Path, data: Any) -> None:
    """Atomic JSON write (temp file + rename) so readers never see a half-written registry entry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> Any:
    """Read a JSON file, or None if it does not exist."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


class LocalResource:
    """Base class for local cloud resources (the servicer calls these methods; see module doc)."""

    type_suffix: ClassVar[str] = ""
    attributes: ClassVar[list[Attribute]] = []

    def __init__(self, provider: LocalCloudProvider) -> None:
        self.provider = provider

    # --- what the `tf` framework needs for GetProviderSchema ---
    @classmethod
    def get_name(cls) -> str:
        return cls.type_suffix

    @classmethod
    def get_schema(cls) -> Schema:
        # version=0 (not None): with None, `tf` warns "Using default upgrade" on every plan.
        return Schema(version=0, attributes=cls.attributes)

    @classmethod
    def attribute_map(cls) -> dict[str, Attribute]:
        return {a.name: a for a in cls.attributes}

    # --- lifecycle ---
    def validate(self, diags: Diagnostics, config: State) -> None:
        """Check a configuration; values may be Unknown (skip those)."""
        check_name(diags, config.get("name"))

    def computed_values(self, state: State) -> State:
        """Values the provider derives from arguments and provider config (Unknown if not derivable yet)."""
        return {"id": state.get("name")}

    def directory_values(self, state: State, area: str) -> State:
        """`computed_values` of a resource that is a directory `<root>/<area>/<name>`: its id, absolute path and
        file:// URL (Unknown while the name or the root is)."""
        name, root = state.get("name"), self.provider.root_or_unknown()
        if name is Unknown or root is Unknown:
            return {"id": name, "path": Unknown, "url": Unknown}
        path = root / area / name
        return {"id": name, "path": str(path), "url": path.as_uri()}

    def plan(self, diags: Diagnostics, prior: State | None, planned: State) -> State:
        """Fill derived values so plans (and outputs) show them before apply."""
        planned.update(self.computed_values(planned))
        return planned

    def create(self, diags: Diagnostics, planned: State) -> State | None:
        raise NotImplementedError

    def read(self, diags: Diagnostics, current: State) -> State | None:
        """Return the refreshed state, or None if the object is gone (Terraform then plans a create)."""
        raise NotImplementedError

    def update(self, diags: Diagnostics, prior: State, planned: State) -> State | None:
        raise NotImplementedError

    def delete(self, diags: Diagnostics, prior: State) -> None:
        """Delete, or add an error diagnostic to refuse (the object then stays in state)."""
        raise NotImplementedError

    def import_state(self, diags: Diagnostics, import_id: str) -> State | None:
        """`terraform import ADDRESS ID`: the state of the existing object named `import_id` (its `name`), read the
        way a refresh reads it; None (with an error) when there is no such object under the provider's root.

        Arguments the object does not record take their schema defaults; Terraform refreshes the result and the
        next plan shows what the configuration would change."""
        check_name(diags, import_id, "id")
        if diags.has_errors():
            return None
        state: State = {a.name: (None if a.default is Unknown else a.default) for a in self.attributes}
        state["name"] = import_id
        state.update(self.computed_values(state))
        found = self.read(diags, state)
        if found is None and not diags.has_errors():
            diags.add_error(f"Cannot import {self.type_suffix} {import_id!r}: it does not exist",
                            f"Nothing named {import_id!r} was found under {self.root()}.")
        return found

    # --- helpers ---
    def finish(self, planned: State) -> State:
        """State after apply: planned values plus anything that was still unknown at plan time."""
        state = dict(planned)
        for key, value in self.computed_values(planned).items():
            if state.get(key) is Unknown or state.get(key) is None:
                state[key] = value
        return state

    def root(self) -> Path:
        """The configured local cloud root; only valid once Terraform has configured the provider."""
        return self.provider.require_root()
