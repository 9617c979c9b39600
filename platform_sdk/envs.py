"""Environment files (`envs/NAME.toml`) -> a validated Environment: clouds, placement, state backend, sizes.

The generic keys are validated here; each `[clouds.<name>]` section by its cloud plug-in's `config` model,
and a `[state]` section by the plug-in owning its `backend` (the local state file is built in).
"""

from __future__ import annotations

import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from platform_sdk import providers
from platform_sdk.errors import EnvironmentError_
from platform_sdk.providers.base import CloudConfig, StateBackend


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class LocalState(StateBackend):
    """Terraform state in local files (`<path>/<env>/<stack>.tfstate`), the default."""

    backend: Literal["local"] = "local"
    path: str = ".platform/state"


def _cloud_name(value: object) -> str:
    """A registered cloud's name, or a ValueError listing the known ones (pydantic reports it with its key)."""
    known = providers.names()
    if not isinstance(value, str) or value not in known:
        raise PydanticCustomError("literal_error", "Input should be {expected}",
                                  {"expected": " or ".join([", ".join(repr(n) for n in known[:-1]), repr(known[-1])])
                                   if len(known) > 1 else repr(known[0])})
    return value


CloudName = Annotated[str, BeforeValidator(_cloud_name)]


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
    default_cloud: CloudName = Field(default_factory=providers.default_cloud)
    clouds: dict[str, CloudConfig] = {}
    placement: dict[str, CloudName] = {}
    state: StateBackend = LocalState()
    sizes: dict[str, dict[str, dict[str, str | int]]] = {}
    overrides: dict[str, dict[str, str | int | bool]] = {}
    profile: str | None = None
    waivers: list[Waiver] = []
    rehearses: str | None = None
    """The environment this one rehearses (`rehearses = "prod"`): the name of another environment file next to this
    one. Synthesizing this environment also analyses the rehearsed environment's clouds with *this* environment's
    placement (what runs where here), and this environment's functions are then refused at runtime, with the same
    message, every operation those clouds would refuse (synth/rehearsal.py, contract.DENY). None: no rehearsal."""

    @field_validator("clouds", mode="before")
    @classmethod
    def _cloud_sections(cls, value: object) -> object:
        """Each `[clouds.<name>]` section through its plug-in's own model."""
        if not isinstance(value, dict):
            return value
        sections: dict[str, object] = {}
        for name, section in value.items():
            _cloud_name(name)
            config = providers.plugin(name).config
            sections[name] = section if isinstance(section, config) else config.model_validate(section)
        return sections

    @field_validator("clouds")
    @classmethod
    def _stand_ins(cls, value: dict[str, CloudConfig]) -> dict[str, CloudConfig]:
        hosts = [name for name, found in providers.plugins().items() if found.hosts_stand_ins]
        for section in value.values():
            if section.stand_in is not None and section.stand_in not in hosts:
                raise ValueError(f"stand_in must name a cloud that hosts stand-ins ({', '.join(hosts)}), "
                                 f"got {section.stand_in!r}")
        return value

    @field_validator("state", mode="before")
    @classmethod
    def _state_backend(cls, value: object) -> object:
        """The `[state]` section through the model of the plug-in owning its backend."""
        if not isinstance(value, dict):
            return value
        backend = value.get("backend", "local")
        models: dict[str, type[StateBackend]] = {"local": LocalState}
        for found in providers.plugins().values():
            models.update(found.state_backends)
        if backend not in models:
            raise PydanticCustomError(
                "union_tag_invalid",
                "Input tag {tag} found using 'backend' does not match any of the expected tags: {expected}",
                {"tag": repr(backend), "expected": ", ".join(repr(k) for k in models)})
        return models[backend].model_validate(value)

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
        """Which plug-in's compiler builds a cloud's stacks: the cloud itself, or its stand-in."""
        section = self.clouds.get(cloud)
        return section.stand_in if section is not None and section.stand_in else cloud

    def is_configured(self, cloud: str) -> bool:
        """A cloud has its `[clouds.<name>]` section, or its plug-in needs none."""
        if cloud in self.clouds:
            return True
        try:
            return not providers.plugin(cloud).section_required
        except providers.UnknownCloud:
            return False

    def override(self, address: str, key: str, default: object = None) -> object:
        """`[overrides."<service.resource>"] key`: what this environment deploys instead of the declared value."""
        return self.overrides.get(address, {}).get(key, default)

    def override_key(self, address: str, key: str) -> str:
        """Where an override lives in the file, for messages: `overrides."web.api".memory`."""
        return f'overrides."{address}".{key}'


def _describe(err: ValidationError) -> tuple[str, str, object]:
    first = err.errors()[0]
    key = ".".join(str(p) for p in first["loc"])
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
    clouds = data.get("clouds")
    if isinstance(clouds, dict):  # each section by its plug-in, so a message names `clouds.<name>.<key>`
        sections = {}
        for name, section in clouds.items():
            if name not in providers.names():
                raise EnvironmentError_(f"unknown cloud (known: {', '.join(providers.names())})", file=path,
                                        key=f"clouds.{name}", value=name)
            try:
                sections[name] = providers.plugin(name).config.model_validate(section)
            except ValidationError as err:
                key, msg, value = _describe(err)
                raise EnvironmentError_(msg, file=path, key=f"clouds.{name}.{key}".rstrip("."), value=value) from None
        data["clouds"] = sections
    try:
        env = Environment.model_validate({**data, "file": None})
    except ValidationError as err:
        key, msg, value = _describe(err)
        raise EnvironmentError_(msg, file=path, key=key, value=value) from None
    env.file = path
    if env.rehearses is not None:
        known = [name for name in list_environments(path.parent) if name != env.name]
        if env.rehearses not in known:
            raise EnvironmentError_("rehearses names no other environment "
                                    f"(environments: {', '.join(known) or 'none'})",
                                    file=path, key="rehearses", value=env.rehearses)
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
