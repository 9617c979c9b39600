"""Raw Terraform constructs: resources, data sources and providers emitted through cdktf core, no bindings.

They override the protected jsii member `_synthesize_attributes` (leading underscore; the public spelling is
silently ignored) so the JSON is clean and cross-stack references still work.
"""

from __future__ import annotations

from typing import Any

from platform_sdk.cdk.engine import (
    Construct,
    GeneratorMetadata,
    TerraformDataSource,
    TerraformProvider,
    TerraformResource,
)


def _provider_of(terraform_type: str) -> str:
    return terraform_type.split("_", 1)[0]


class RawResource(TerraformResource):
    """A Terraform resource of any type with the given arguments."""

    def __init__(self, scope: Construct, id: str, terraform_type: str, attributes: dict[str, Any]) -> None:
        super().__init__(
            scope, id, terraform_resource_type=terraform_type,
            terraform_generator_metadata=GeneratorMetadata(provider_name=_provider_of(terraform_type)),
        )
        self.attributes = attributes

    def _synthesize_attributes(self) -> dict[str, Any]:
        return self.attributes

    def ref(self, attribute: str) -> str:
        """A token for one attribute (becomes `${type.name.attr}` or a cross-stack output)."""
        return self.get_string_attribute(attribute)

    def after(self, *others: TerraformResource) -> RawResource:
        """Explicit ordering where Terraform cannot infer it from references (same stack only).

        Written as plain addresses (`aws_iam_role.x`): CDKTF's own `${...}` form is rejected by Terraform 1.0.
        Nothing to wait for (`after()`) writes nothing.
        """
        if not others:
            return self
        current = list(self.depends_on or [])
        for other in others:
            address = f"{other.terraform_resource_type}.{other.friendly_unique_id}"
            if isinstance(other, TerraformDataSource):
                address = f"data.{address}"
            if address not in current:
                current.append(address)
        self.depends_on = current
        return self


class RawDataSource(TerraformDataSource):
    """A Terraform data source of any type."""

    def __init__(self, scope: Construct, id: str, terraform_type: str, attributes: dict[str, Any]) -> None:
        super().__init__(
            scope, id, terraform_resource_type=terraform_type,
            terraform_generator_metadata=GeneratorMetadata(provider_name=_provider_of(terraform_type)),
        )
        self.attributes = attributes

    def _synthesize_attributes(self) -> dict[str, Any]:
        return self.attributes

    def ref(self, attribute: str) -> str:
        return self.get_string_attribute(attribute)


class RawProvider(TerraformProvider):
    """A provider block with a pinned source and version constraint."""

    def __init__(self, scope: Construct, id: str, name: str, source: str, version: str,
                 attributes: dict[str, Any]) -> None:
        super().__init__(
            scope, id, terraform_resource_type=name, terraform_provider_source=source,
            terraform_generator_metadata=GeneratorMetadata(provider_name=name, provider_version_constraint=version),
        )
        self.attributes = attributes

    def _synthesize_attributes(self) -> dict[str, Any]:
        return self.attributes
