"""The nimbus Terraform provider (`python -m tests.fourthcloud.provider`, started by Terraform through the
filesystem mirror): one resource type, `nimbus_bucket`, a directory `<root>/<name>` with a settings file."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from tf.iface import Config, CreateContext, DeleteContext, ReadContext, Resource, UpdateContext
from tf.schema import Attribute, Schema
from tf.types import Bool, String
from tf.utils import Diagnostics

SETTINGS = ".nimbus.json"


class NimbusBucket(Resource):
    def __init__(self, provider: NimbusProvider) -> None:
        self.provider = provider

    @classmethod
    def get_name(cls) -> str:
        return "bucket"

    @classmethod
    def get_schema(cls) -> Schema:
        return Schema(version=1, attributes=[
            Attribute("id", String(), computed=True),
            Attribute("name", String(), required=True, requires_replace=True),
            Attribute("versioning", Bool(), optional=True, computed=True, default=False),
            Attribute("url", String(), computed=True),
        ])

    def _path(self, name: str) -> Path:
        return self.provider.root / name

    def _state(self, name: str, versioning: bool) -> dict[str, Any]:
        return {"id": name, "name": name, "versioning": versioning, "url": f"nimbus://{name}"}

    def create(self, ctx: CreateContext, planned: dict[str, Any]) -> dict[str, Any]:
        path = self._path(planned["name"])
        path.mkdir(parents=True, exist_ok=False)
        (path / SETTINGS).write_text(json.dumps({"versioning": bool(planned.get("versioning"))}))
        return self._state(planned["name"], bool(planned.get("versioning")))

    def read(self, ctx: ReadContext, current: dict[str, Any]) -> dict[str, Any] | None:
        settings = self._path(current["name"]) / SETTINGS
        if not settings.is_file():
            return None  # gone outside Terraform: plan re-creates it
        return self._state(current["name"], json.loads(settings.read_text())["versioning"])

    def update(self, ctx: UpdateContext, current: dict[str, Any], planned: dict[str, Any]) -> dict[str, Any]:
        (self._path(planned["name"]) / SETTINGS).write_text(json.dumps({"versioning": bool(planned["versioning"])}))
        return self._state(planned["name"], bool(planned["versioning"]))

    def delete(self, ctx: DeleteContext, current: dict[str, Any]) -> None:
        shutil.rmtree(self._path(current["name"]), ignore_errors=True)


class NimbusProvider:
    """tf.iface.Provider with one setting, `root` (relative to the stack directory)."""

    def __init__(self) -> None:
        self.root = Path(".")

    def get_model_prefix(self) -> str:
        return "nimbus_"

    def full_name(self) -> str:
        return "platform.local/tests/nimbus"

    def get_provider_schema(self, diags: Diagnostics) -> Schema:
        return Schema(version=1, attributes=[Attribute("root", String(), required=True)])

    def validate_config(self, diags: Diagnostics, config: Config) -> None:
        pass

    def configure_provider(self, diags: Diagnostics, config: Config) -> None:
        self.root = Path(os.path.abspath(config["root"]))

    def get_data_sources(self) -> list[Any]:
        return []

    def get_resources(self) -> list[type[Resource]]:
        return [NimbusBucket]

    def get_functions(self) -> list[type]:
        """Provider-defined functions: none (tf >= 1.2 asks every provider for them while reading its schema)."""
        return []

    def new_resource(self, klass: type[NimbusBucket]) -> NimbusBucket:
        return klass(self)

    def new_data_source(self, klass: Any) -> Any:
        return klass(self)


if __name__ == "__main__":
    from tf.runner import run_provider

    run_provider(NimbusProvider(), sys.argv)  # prints nothing before the plugin handshake
