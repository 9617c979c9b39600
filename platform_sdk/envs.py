"""Environment files (`envs/NAME.toml`) -> a validated Environment: clouds, placement, state backend, sizes."""

from __future__ import annotations

import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from platform_sdk.errors import EnvironmentError_

CLOUDS = ("aws", "gcp", "local")
Cloud = Literal["aws", "gcp", "local"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class AwsCloud(_Strict):
    """Where AWS workloads go. `stand_in = "local"` compiles them to the local cloud (rehearsals)."""

    account: Annotated[str, Field(pattern=r"^\d{12}$")] | None = None
    region: str = "us-east-1"
    stand_in: Literal["local"] | None = None
    endpoint: str | None = None  # an AWS-compatible API endpoint (tests: moto)


class GcpCloud(_Strict):
    """Where GCP workloads go."""

    project: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")] | None = None
    region: str = "us-central1"
    stand_in: Literal["local"] | None = None


class LocalCloud(_Strict):
    """The embedded local cloud: everything lives under `root` (relative to the project)."""

    root: str = ".platform/localcloud"
    gateway_port: int = 8790


class Clouds(_Strict):
    aws: AwsCloud | None = None
    gcp: GcpCloud | None = None
    local: LocalCloud | None = None


class LocalState(_Strict):
    backend: Literal["local"] = "local"
    path: str = ".platform/state"


class S3State(_Strict):
    backend: Literal["s3"]
    bucket: str
    lock_table: str
    region: str = "us-east-1"
    key_prefix: str = "platform"
    endpoint: str | None = None  # tests: moto server


class GcsState(_Strict):
    backend: Literal["gcs"]
    bucket: str
    prefix: str = "platform"


class Waiver(_Strict):
    """A guardrail exception: which rule, for which resource, why, until when."""

    rule: str
    resource: str
    reason: Annotated[str, Field(min_length=10)]
    expires: date


class Environment(_Strict):
    """One environment: which cloud each workload lives on and how its state is kept."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,15}$")] = "dev"
    file: Path | None = None
    protected: bool = False
    name_prefix: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,19}$")] = "acme"
    default_cloud: Cloud = "aws"
    clouds: Clouds = Clouds()
    placement: dict[str, Cloud] = {}
    state: Annotated[LocalState | S3State | GcsState, Field(discriminator="backend")] = LocalState()
    sizes: dict[str, dict[str, dict[str, str | int]]] = {}
    overrides: dict[str, dict[str, str | int | bool]] = {}
    profile: str | None = None
    waivers: list[Waiver] = []

    @field_validator("placement")
    @classmethod
    def _placement_keys(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not re.match(r"^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)?$", key):
                raise ValueError(f"placement key {key!r} must be 'service' or 'service.resource'")
        return value

    def cloud_of(self, service: str, resource: str) -> str:
        """Placement: the most specific key wins (`service.resource`, then `service`, then the default)."""
        return self.placement.get(f"{service}.{resource}") or self.placement.get(service) or self.default_cloud

    def target_of(self, cloud: str) -> str:
        """Which compiler builds a cloud's stacks: the cloud itself, or the local cloud for a stand-in."""
        config = getattr(self.clouds, cloud, None)
        return "local" if getattr(config, "stand_in", None) == "local" else cloud

    def is_configured(self, cloud: str) -> bool:
        return getattr(self.clouds, cloud, None) is not None or (cloud == "local")

    @property
    def local(self) -> LocalCloud:
        return self.clouds.local or LocalCloud()


def _describe(err: ValidationError) -> tuple[str, str, object]:
    first = err.errors()[0]
    key = ".".join(str(p) for p in first["loc"] if not (isinstance(p, str) and p in ("local", "s3", "gcs")
                                                        and len(first["loc"]) > 1 and first["loc"][0] == "state"))
    return key, first["msg"], first.get("input")


def load_environment(path: Path) -> Environment:
    """Parse and validate one environment file; every problem names the file, the key and the value."""
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise EnvironmentError_("environment file not found", file=path) from None
    except tomllib.TOMLDecodeError as err:
        raise EnvironmentError_(f"TOML syntax error: {err}", file=path) from None
    data.setdefault("name", path.stem)
    try:
        env = Environment.model_validate({**data, "file": None})
    except ValidationError as err:
        key, msg, value = _describe(err)
        raise EnvironmentError_(msg, file=path, key=key, value=value) from None
    env.file = path
    for cloud in {env.default_cloud, *env.placement.values()}:
        if not env.is_configured(cloud):
            key = "default_cloud" if cloud == env.default_cloud else "placement"
            raise EnvironmentError_(
                f"cloud {cloud!r} is used but has no [clouds.{cloud}] section", file=path, key=key, value=cloud
            )
    return env


def environment_path(envs_dir: Path, name: str) -> Path:
    return envs_dir / f"{name}.toml"


def list_environments(envs_dir: Path) -> list[str]:
    return sorted(p.stem for p in envs_dir.glob("*.toml"))


def find_environment(envs_dir: Path, name: str) -> Environment:
    """Load `envs/NAME.toml`, with a clear message listing the known environments when it does not exist."""
    path = environment_path(envs_dir, name)
    if not path.is_file():
        known = ", ".join(list_environments(envs_dir)) or "none"
        raise EnvironmentError_(f"unknown environment (known: {known})", file=path, key="--env", value=name)
    return load_environment(path)
