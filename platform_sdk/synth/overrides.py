"""Per-environment values: an environment file's `[overrides."service.resource"]` applied to the estate's model.

    [overrides."web.site-cdn"]
    domain = "shop.qa.example.com"          # the CDN serves QA on its own name
    [overrides."web.api"]
    memory = 1024
    [overrides."web.api".environment]
    LOG_LEVEL = "debug"                     # one variable, this environment only
    [overrides."web.api".alarms]
    errors = 5                              # this stage's alarm thresholds (platform_sdk.model.alarms)

Service code declares one estate; each environment file says how its stage differs. This module is the one place
that turns the declared estate into what an environment deploys, before anything is placed or compiled, so every
consumer (placement and the plug-ins' limits, guardrails, compilers, `platform check`) sees the effective values
without knowing where they came from.

A key is either
- a setting of the resource's kind (`Kind.overridable`: `memory`, `domain`, `versioning`, ...), validated by the
  model's own checks (the resource is re-declared with the new values), so an environment can deploy nothing the
  code could not declare; `environment` merges variable by variable into the declared variables, `alarms` threshold
  by threshold into the declared ones, `cors` replaces the declared rules; or
- a setting the resource's cloud plug-in adds (`CloudPlugin.resource_settings`: `log_retention_days` on AWS,
  `max_instances` on GCP), checked by the plug-in's `Setting` and read by its compiler with `StackContext.setting`.

Anything else, an address that names no resource, or a value the model refuses raises `EnvironmentError_` naming
the environment file, the key (`overrides."web.api".memory`) and the value, with the closest valid name.

Applying is idempotent and reversible: the declared values are remembered, so applying an environment to services
that had another environment's values starts from the declaration again.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from weakref import WeakKeyDictionary

from platform_sdk import providers
from platform_sdk.envs import Environment, key_line
from platform_sdk.errors import EnvironmentError_, ModelError, did_you_mean
from platform_sdk.model import Alarms, Bucket, Cors, Function, Resource, Service
from platform_sdk.providers.base import Setting

_declared: WeakKeyDictionary[Resource, dict[str, Any]] = WeakKeyDictionary()
"""Resource -> the declared values of the settings an environment changed on it."""


def apply_overrides(env: Environment, services: list[Service]) -> None:
    """Give every resource of `services` the values `env` deploys (in place; see the module docstring).

    Raises:
        EnvironmentError_: an override names no resource, no setting of its kind or cloud, or a value the model or
            the plug-in refuses; nothing is changed then.
    """
    resources = {resource.address: resource for service in services for resource in service}
    _restore(resources.values())
    planned = {address: _changes(env, resources, address, table) for address, table in env.overrides.items()}
    for new, old_name in _renames(env, resources).items():
        planned.setdefault(new, {})["renamed_from"] = old_name
    for address, changes in planned.items():
        resource = resources[address]
        _declared[resource] = {key: getattr(resource, key) for key in changes}
        for key, value in changes.items():
            setattr(resource, key, value)
    if env.ephemeral:  # every stateful resource deletable, whatever the code or the overrides say
        for resource in resources.values():
            for key, value in EPHEMERAL.items():
                if hasattr(resource, key) and getattr(resource, key) != value:
                    _declared.setdefault(resource, {}).setdefault(key, getattr(resource, key))
                    setattr(resource, key, value)


def _renames(env: Environment, resources: dict[str, Resource]) -> dict[str, str]:
    """`[renames]` "service.old" = "service.new" -> {new address: old neutral name}, checked.

    Raises:
        EnvironmentError_: (key `renames."service.old"`) the new address names no resource, the old one is still
            declared, or the rename crosses services: moving state between two stacks is not supported (declare the
            resource in its new service and `platform move`/copy the data instead).
    """
    found: dict[str, str] = {}
    for old, new in env.renames.items():
        key = f'renames."{old}"'
        if new not in resources:
            raise EnvironmentError_(f"the rename's new address names no resource{did_you_mean(new, resources)}",
                                    file=env.file, key=key, value=new)
        old_service, _, old_name = old.partition(".")
        if old_service != new.partition(".")[0]:
            raise EnvironmentError_("a rename must stay within one service: moving a resource's state to another "
                                    "service's stack is not supported", file=env.file, key=key, value=new)
        if old in resources or not old_name:
            raise EnvironmentError_("the old address must be `service.resource` of a resource no longer declared",
                                    file=env.file, key=key, value=old)
        found[new] = old_name
    return found


EPHEMERAL = {"deletion_protection": False, "force_destroy": True}
"""What `ephemeral = true` in an environment file sets on every resource that has the setting."""


def declared(resource: Resource, key: str) -> Any:
    """The value the code declared for a setting, whatever an environment deploys."""
    return _declared.get(resource, {}).get(key, getattr(resource, key))


def plugin_settings(env: Environment, resource: Resource) -> dict[str, Setting]:
    """The settings the plug-ins building `resource` in `env` add for its kind (its cloud's and its stand-in's)."""
    service = resource.service.name if resource.service else ""
    cloud = env.cloud_of(service, resource.name)
    found: dict[str, Setting] = {}
    for name in dict.fromkeys((cloud, env.target_of(cloud))):
        if name in providers.names():
            found.update({s.key: s for s in providers.plugin(name).resource_settings.get(resource.kind, ())})
    return found


def _restore(resources: Any) -> None:
    for resource in resources:
        for key, value in _declared.pop(resource, {}).items():
            setattr(resource, key, value)


def _changes(env: Environment, resources: dict[str, Resource], address: str,
             table: dict[str, Any]) -> dict[str, Any]:
    """The model settings `table` changes on the resource at `address`, validated; plug-in settings are checked."""
    resource = resources.get(address)
    if resource is None:
        raise EnvironmentError_(f"overrides name no resource of the estate{did_you_mean(address, resources)}",
                                file=env.file, key=f'overrides."{address}"', value=address)
    model_keys = type(resource).overridable
    cloud_keys = plugin_settings(env, resource)
    changes: dict[str, Any] = {}
    for key, value in table.items():
        where = env.override_key(address, key)
        if key in model_keys:
            changes[key] = _merged(env, resource, key, value, where)
        elif key in cloud_keys:
            problem = cloud_keys[key].problem(value)
            if problem:
                raise EnvironmentError_(problem, file=env.file, line=key_line(env.file, where),
                                        key=where, value=value)
        else:
            raise EnvironmentError_(_unknown(env, resource, key, model_keys), file=env.file, key=where, value=value)
    _validate(env, resource, changes, address)
    return changes


def _merged(env: Environment, resource: Resource, key: str, value: Any, where: str) -> Any:
    """The value to validate: variables merge into the declared ones; a CORS table becomes a `Cors`."""
    if key == "environment" and isinstance(resource, Function) and isinstance(value, dict):
        return {**declared(resource, "environment"), **value}
    if key == "alarms" and isinstance(value, dict):
        known = [f.name for f in dataclasses.fields(Alarms)]
        for name in value:
            if name not in known:
                raise EnvironmentError_(f"unknown alarm setting{did_you_mean(name, known)} (settings: "
                                        f"{', '.join(known)})", file=env.file, key=f"{where}.{name}", value=value[name])
        return Alarms(**value).over(declared(resource, "alarms"))
    if key == "cors" and isinstance(resource, Bucket) and isinstance(value, dict):
        known = [f.name for f in dataclasses.fields(Cors)]
        for name in value:
            if name not in known:
                raise EnvironmentError_(f"unknown CORS key{did_you_mean(name, known)} (keys: {', '.join(known)})",
                                        file=env.file, key=f"{where}.{name}", value=value[name])
        if "origins" not in value:
            raise EnvironmentError_("CORS rules need origins, like origins = [\"https://shop.example.com\"]",
                                    file=env.file, key=f"{where}.origins")
        return Cors(**value)
    return value


def _validate(env: Environment, resource: Resource, changes: dict[str, Any], address: str) -> None:
    """The model's own checks on the new values: the resource is declared again with them (and thrown away)."""
    if not changes:
        return
    try:
        dataclasses.replace(resource, **changes)  # type: ignore[type-var]
    except ModelError as err:
        key = err.key if err.key and err.key != resource.address else next(iter(changes))
        raise EnvironmentError_(err.message, file=env.file, key=env.override_key(address, key), value=err.value,
                                hint=err.hint) from None


def _unknown(env: Environment, resource: Resource, key: str, model_keys: tuple[str, ...]) -> str:
    """Why `key` is refused: a setting of another cloud, or no setting at all (with the closest name)."""
    elsewhere = sorted(name for name, plugin in providers.plugins().items()
                       if key in {s.key for s in plugin.resource_settings.get(resource.kind, ())})
    if elsewhere:
        cloud = env.cloud_of(resource.service.name if resource.service else "", resource.name)
        return (f"{key} is a setting of {resource.kind}s on {', '.join(elsewhere)}; {resource.address} is placed on "
                f"{cloud}")
    valid = [*model_keys, *plugin_settings(env, resource)]
    return f"unknown setting of a {resource.kind}{did_you_mean(key, valid)} (settings: {', '.join(valid)})"
