"""The `localcloud` provider: configuration (`root`, `gateway_port`, `databases`) and the list of resource types."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tf.iface import Config, DataSource
from tf.schema import Attribute, Schema
from tf.types import Unknown
from tf.utils import Diagnostics

from platform_sdk.localcloud.base import NUMBER, STRING, LocalResource, as_int
from platform_sdk.localcloud.bucket import Bucket
from platform_sdk.localcloud.cdn import CdnRoute
from platform_sdk.localcloud.database import BACKENDS, Database
from platform_sdk.localcloud.database_role import DatabaseRole
from platform_sdk.localcloud.function import Function
from platform_sdk.localcloud.mirror import PROVIDER_SOURCE, PROVIDER_TYPE
from platform_sdk.localcloud.queue import Queue
from platform_sdk.localcloud.secret import Secret

DEFAULT_GATEWAY_PORT = 8790
DEFAULT_DATABASES = "engine"


class ProviderNotConfigured(Exception):
    """Raised when a resource needs `root` before Terraform configured the provider with a known value."""


class LocalCloudProvider:
    """Holds the provider configuration that every resource of one Terraform run shares."""

    def __init__(self) -> None:
        self._unconfigured()

    def _unconfigured(self) -> None:
        self.root: Path | None = None
        self.root_known = False
        self.gateway_port: int | Any = DEFAULT_GATEWAY_PORT
        self.databases = DEFAULT_DATABASES

    # --- tf.iface.Provider ---
    def get_model_prefix(self) -> str:
        return f"{PROVIDER_TYPE}_"

    def full_name(self) -> str:
        return PROVIDER_SOURCE

    def get_provider_schema(self, diags: Diagnostics) -> Schema:
        return Schema(
            version=0,
            attributes=[
                Attribute(
                    "root",
                    STRING,
                    description="Directory of this local cloud; every resource lives under it.",
                    required=True,
                ),
                Attribute(
                    "gateway_port",
                    NUMBER,
                    description=f"Port of the local gateway, used in URLs (default {DEFAULT_GATEWAY_PORT}).",
                    optional=True,
                ),
                Attribute(
                    "databases",
                    STRING,
                    description='How new databases run: "engine" (the root\'s own PostgreSQL / MariaDB server, '
                                'the default) or "sqlite" (the explicit SQLite fallback).',
                    optional=True,
                ),
            ],
        )

    def validate_config(self, diags: Diagnostics, config: Config) -> None:
        root = config.get("root")
        if root is not Unknown and (not isinstance(root, str) or not root.strip()):
            diags.add_error("root must be a non-empty directory path", path=["root"])
        port = config.get("gateway_port")
        if port is not None and port is not Unknown:
            if isinstance(port, bool) or not isinstance(port, (int, float)) or port != int(port):
                diags.add_error(f"gateway_port must be a whole number, got {port!r}", path=["gateway_port"])
            elif not 1 <= int(port) <= 65535:
                diags.add_error(f"gateway_port must be 1-65535, got {port!r}", path=["gateway_port"])

        databases = config.get("databases")
        if databases is not None and databases is not Unknown and databases not in BACKENDS:
            diags.add_error(f"databases must be one of {', '.join(BACKENDS)}, got {databases!r}", path=["databases"])

    def configure_provider(self, diags: Diagnostics, config: Config) -> None:
        """Take this walk's configuration. One process may serve several Terraform walks (a provider `platform`
        started for Terraform to reattach to), so nothing of an earlier walk's configuration is kept, not even
        when this one is invalid."""
        self._unconfigured()
        self.validate_config(diags, config)
        if diags.has_errors():
            return
        root = config.get("root")
        if root is Unknown:
            self.root, self.root_known = None, False
        else:
            # Relative roots are relative to Terraform's working directory (the stack directory).
            self.root, self.root_known = Path(os.path.abspath(os.path.expanduser(root))), True
        databases = config.get("databases")
        self.databases = DEFAULT_DATABASES if databases is None or databases is Unknown else str(databases)
        port = config.get("gateway_port")
        if port is None:
            self.gateway_port = DEFAULT_GATEWAY_PORT
        else:
            self.gateway_port = Unknown if port is Unknown else int(as_int(port))

    def get_data_sources(self) -> list[type[DataSource]]:
        return []

    def get_functions(self) -> list[Any]:
        """Provider-defined functions: none (`tf` 1.2 asks every provider for them while reading the schema)."""
        return []

    def get_resources(self) -> list[type[LocalResource]]:
        return [Bucket, Function, CdnRoute, Database, DatabaseRole, Secret, Queue]

    def new_resource(self, klass: type[LocalResource]) -> LocalResource:
        return klass(self)

    # --- used by resources ---
    def require_root(self) -> Path:
        """The root directory; raises if Terraform has not given a known value yet."""
        if not self.root_known or self.root is None:
            raise ProviderNotConfigured("provider root is not known yet (computed from another resource?)")
        return self.root

    def root_or_unknown(self) -> Path | Any:
        """The root directory, or Unknown during plans where it depends on unapplied values."""
        return self.root if self.root_known and self.root is not None else Unknown

    def gateway_url(self, suffix: str) -> str | Any:
        """`http://127.0.0.1:<gateway_port><suffix>`, or Unknown if the port is not known yet."""
        if self.gateway_port is Unknown:
            return Unknown
        return f"http://127.0.0.1:{self.gateway_port}{suffix}"
