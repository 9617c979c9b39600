"""The GCP plug-in's environment-file sections: `[clouds.gcp]` and the GCS state backend (`[state] backend = "gcs"`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from platform_sdk.providers.base import CloudConfig, StateBackend


class GcpConfig(CloudConfig):
    """Where GCP workloads go. `stand_in = "local"` compiles them to the local cloud (rehearsals)."""

    project: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")] | None = None
    region: str = "us-central1"


class GcsState(StateBackend):
    """Terraform's GCS backend (object versioning on; `platform bootstrap` creates the bucket)."""

    backend: Literal["gcs"]
    bucket: str
    prefix: str = "platform"


def gcp_config(env: object) -> GcpConfig | None:
    """The environment's `[clouds.gcp]` section, None when it has none."""
    return env.clouds.get("gcp")  # type: ignore[attr-defined,no-any-return]
