"""The platform team's profile: organisation standards applied to every stack without forking the compilers.

An environment points at a profile with `profile = "path/to/file.py:NAME"` (relative to the project) or
`profile = "package.module:NAME"`. Without one, `Profile()` gives sane defaults.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from platform_sdk.errors import EnvironmentError_
from platform_sdk.model.alarms import Alarms
from platform_sdk.naming import default_name

if TYPE_CHECKING:
    from platform_sdk.envs import Environment
    from platform_sdk.model import Resource, Service
    from platform_sdk.project import Project


@dataclass
class ModuleBacking:
    """Back one neutral kind on one cloud with the team's own Terraform module instead of the built-in compiler.

    `inputs` maps the module's variables to values; a callable receives (resource, context) and returns them.
    The module must expose the outputs named in `outputs` (e.g. `name`, `url`, `arn` for a bucket).
    """

    source: str
    version: str | None = None
    inputs: Callable[[Any, Any], dict[str, Any]] | dict[str, Any] = field(default_factory=dict)
    outputs: tuple[str, ...] = ("name", "url")


@dataclass
class Profile:
    """Organisation standards: naming, mandatory tags, retention, encryption keys, regions, sizes, hooks.

    `alarms`: the organisation's alarm thresholds (`Alarms(period=600, errors=5)`), used where a resource's
    declaration and the environment file set none (platform_sdk.model.alarms).
    """

    name: str = "default"
    naming: Callable[[Environment, str, str], str] = default_name
    required_tags: dict[str, str] = field(default_factory=dict)
    tag_from_service: dict[str, str] = field(default_factory=lambda: {"owner": "owner"})
    log_retention_days: int = 30
    kms_keys: dict[str, str] = field(default_factory=dict)  # cloud -> key ARN / key id
    allowed_regions: dict[str, list[str]] = field(default_factory=dict)  # cloud -> regions
    sizes: dict[str, dict[str, dict[str, str | int]]] = field(default_factory=dict)
    modules: dict[tuple[str, str], ModuleBacking] = field(default_factory=dict)  # (cloud, kind) -> module
    before_synth: list[Callable[[Environment, list[Service]], None]] = field(default_factory=list)
    after_synth: list[Callable[[Any], None]] = field(default_factory=list)
    guardrails: list[Any] | None = None  # None = the standard rule set
    alarms: Alarms | None = None
    source: str | None = None

    def physical_name(self, env: Environment, service: str, resource: str) -> str:
        return self.naming(env, service, resource)

    def tags(self, env: Environment, service: Service, resource: Resource | None) -> dict[str, str]:
        """Standard tags first, then the organisation's mandatory ones (which win)."""
        tags = {"managed-by": "platform-sdk", "environment": env.name, "service": service.name}
        for tag, attribute in self.tag_from_service.items():
            value = getattr(service, attribute, None)
            if value:
                tags[tag] = str(value)
        if resource is not None:
            tags["resource"] = resource.name
        tags.update(self.required_tags)
        return tags

    def size(self, kind: str, tier: str, key: str) -> Any:
        return self.sizes.get(kind, {}).get(tier, {}).get(key)


def _import_reference(reference: str, project: Project, env: Environment) -> Any:
    target, _, attribute = reference.partition(":")
    attribute = attribute or "PROFILE"
    path = project.root / target
    try:
        if target.endswith(".py"):
            if not path.is_file():
                raise EnvironmentError_("profile file not found", file=env.file, key="profile", value=reference)
            spec = importlib.util.spec_from_file_location(f"_platform_profile_{path.stem}", path)
            assert spec and spec.loader
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(target)
    except EnvironmentError_:
        raise
    except Exception as err:
        raise EnvironmentError_(f"cannot load profile: {type(err).__name__}: {err}", file=env.file, key="profile",
                                value=reference) from None
    profile = getattr(module, attribute, None)
    if not isinstance(profile, Profile):
        raise EnvironmentError_(f"{attribute} in the profile module is not a platform_sdk.profile.Profile",
                                file=env.file, key="profile", value=reference)
    return profile


def load_profile(project: Project, env: Environment) -> Profile:
    """The environment's profile, or the defaults."""
    if not env.profile:
        return Profile()
    profile = _import_reference(env.profile, project, env)
    profile.source = env.profile
    return profile
