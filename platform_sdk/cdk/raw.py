"""Raw Terraform blocks: resources and data sources of any type as plain Python objects, providers as constructs.

A `RawResource` or `RawDataSource` joins its stack's `StackDocument` (`cdk/document.py`) and costs no call to the
engine: its references are markers (`cdk/expressions.py`), rendered when the document is emitted. They keep the
API of CDKTF's `TerraformResource` that compilers use: `ref` / `get_string_attribute` /
`interpolation_for_attribute`, `get_list_attribute`, `after`, `depends_on`, `provider`, `lifecycle`, `fqn`,
`friendly_unique_id`, `terraform_resource_type`, `add_override`. `scope` is a stack (or its document).
A module's outputs are references too (`StackDocument.module_output`).

Providers stay engine constructs (a stack has one or two): they override the protected jsii member
`_synthesize_attributes` (leading underscore; the public spelling is silently ignored).
"""

from __future__ import annotations

from typing import Any

from platform_sdk.cdk import expressions
from platform_sdk.cdk.document import META_ARGUMENTS, StackDocument, deep_merge, make_unique_id
from platform_sdk.cdk.engine import GeneratorMetadata, TerraformDataSource, TerraformProvider


def _provider_of(terraform_type: str) -> str:
    return terraform_type.split("_", 1)[0]


class Block:
    """A `resource` or `data` block of one stack (see the module docstring)."""

    section = "resource"
    prefix = ""

    def __init__(self, scope: Any, id: str, terraform_type: str, attributes: dict[str, Any]) -> None:
        self.document = StackDocument.of(scope)
        self.construct_id = id
        self.terraform_resource_type = terraform_type
        self.attributes = attributes
        self.friendly_unique_id = make_unique_id(id)
        self.depends_on: list[Any] | None = None
        self.count: Any = None
        self.provider: Any = None
        self.lifecycle: Any = None
        self.raw_overrides: dict[str, Any] = {}
        self._refs: dict[str, str] = {}
        self.document.add(self)

    @property
    def fqn(self) -> str:
        """The block's address, `type.name` (`data.type.name` for a data source)."""
        return f"{self.prefix}{self.terraform_resource_type}.{self.friendly_unique_id}"

    @property
    def node_path(self) -> str:
        return f"{self.document.path}/{self.construct_id}"

    # -- references -------------------------------------------------------------------------------------------
    def ref(self, attribute: str) -> str:
        """A reference to one attribute: `${type.name.attr}` here, an output read through remote state elsewhere."""
        marker = self._refs.get(attribute)
        if marker is None:
            marker = self._refs[attribute] = expressions.Reference(self.document, self.fqn, attribute).marker()
        return marker

    get_string_attribute = ref
    interpolation_for_attribute = ref
    get_number_attribute = ref
    get_boolean_attribute = ref

    def get_list_attribute(self, attribute: str) -> list[str]:
        """A list-valued attribute, as a one-element list (like CDKTF's `Token.asList`)."""
        return expressions.Token.as_list(self.ref(attribute))

    def after(self, *others: Any) -> Block:
        """Explicit ordering where Terraform cannot infer it from references (same stack only).

        Written as plain addresses (`aws_iam_role.x`): CDKTF's own `${...}` form is rejected by Terraform 1.0.
        Nothing to wait for (`after()`) writes nothing.
        """
        if not others:
            return self
        current = list(self.depends_on or [])
        for other in others:
            address = _address(other)
            if address not in current:
                current.append(address)
        self.depends_on = current
        return self

    def add_override(self, path: str, value: Any) -> None:
        """Set `path` (dotted) in the rendered block, after everything else (CDKTF's `addOverride`)."""
        parts = path.split(".")
        current = self.raw_overrides
        for part in parts[:-1]:
            if not isinstance(current.get(part), dict):
                current[part] = {}
            current = current[part]
        current[parts[-1]] = value

    # -- rendering ---------------------------------------------------------------------------------------------
    def meta_arguments(self) -> dict[str, Any]:
        """`depends_on`, `count`, `provider`, `lifecycle` as CDKTF renders them (unset ones as None)."""
        if self.depends_on is not None:
            depends_on: list[str] | None = [_address(d) for d in self.depends_on]
        else:
            depends_on = None
        return {"depends_on": depends_on, "count": self.count, "provider": _provider_fqn(self.provider),
                "lifecycle": _lifecycle(self.lifecycle)}

    def render(self, scope: StackDocument) -> dict[str, Any]:
        attributes = expressions.resolve(self.attributes, scope)
        meta = expressions.resolve(self.meta_arguments(), scope)
        for key in META_ARGUMENTS:
            value = meta.get(key)
            if value is None:
                attributes.pop(key, None)
            elif isinstance(value, dict) and isinstance(attributes.get(key), dict):
                deep_merge(attributes[key], value)
            else:
                attributes[key] = value
        if self.raw_overrides:
            deep_merge(attributes, expressions.resolve(self.raw_overrides, scope))
        attributes["//"] = {**attributes.get("//", {}),
                            "metadata": {"path": self.node_path, "uniqueId": self.friendly_unique_id}}
        return attributes  # type: ignore[no-any-return]


class RawResource(Block):
    """A Terraform resource of any type with the given arguments."""


class RawDataSource(Block):
    """A Terraform data source of any type."""

    section = "data"
    prefix = "data."


def _address(other: Any) -> str:
    if isinstance(other, Block):
        return other.fqn
    if isinstance(other, str):
        return other
    address = f"{other.terraform_resource_type}.{other.friendly_unique_id}"  # an engine construct of the user's
    return f"data.{address}" if isinstance(other, TerraformDataSource) else address


def _provider_fqn(provider: Any) -> str | None:
    if provider is None:
        return None
    if isinstance(provider, RawProvider):
        return f"{provider.provider_name}.{provider.alias}" if provider.alias else provider.provider_name
    return str(provider.fqn)


def _lifecycle(lifecycle: Any) -> dict[str, Any] | None:
    """A `TerraformResourceLifecycle` (a jsii struct: plain Python values) or a dict, in Terraform's spelling."""
    if lifecycle is None:
        return None
    values = dict(getattr(lifecycle, "_values", lifecycle))
    if values.get("replace_triggered_by"):
        values["replace_triggered_by"] = [x if isinstance(x, str) else x.fqn for x in values["replace_triggered_by"]]
    for key in ("precondition", "postcondition"):
        if values.get(key):
            values[key] = [dict(getattr(c, "_values", c)) for c in values[key]]
    return values


class RawProvider(TerraformProvider):  # type: ignore[misc, valid-type]
    """A provider block with a pinned source and version constraint (an engine construct)."""

    def __init__(self, scope: Any, id: str, name: str, source: str, version: str,
                 attributes: dict[str, Any]) -> None:
        if expressions.has_markers(attributes):
            raise ValueError(f"provider {name}: attributes cannot reference resources ({attributes!r})")
        self.provider_name = name
        super().__init__(
            scope, id, terraform_resource_type=name, terraform_provider_source=source,
            terraform_generator_metadata=GeneratorMetadata(provider_name=name, provider_version_constraint=version),
        )
        self.attributes = attributes

    @property
    def alias(self) -> str | None:
        return getattr(self, "_alias_name", None)

    @alias.setter
    def alias(self, value: str | None) -> None:
        self._alias_name = value

    def _synthesize_attributes(self) -> dict[str, Any]:
        return self.attributes
