"""Resolve where every resource lives and check the target cloud can serve it, before anything is synthesized.

What a cloud can serve is its plug-in's: the kinds it implements, its function limits (checked on the values
the environment deploys, `[overrides]` included), its compiler's own checks (names, triggers), and which
clouds' functions may reach its buckets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from platform_sdk import providers
from platform_sdk.envs import Environment
from platform_sdk.errors import EnvironmentError_, ModelError, PlacementError
from platform_sdk.model import (
    Bucket,
    Cdn,
    Database,
    Function,
    Grant,
    ObjectCreatedTrigger,
    Queue,
    QueueMessageTrigger,
    Resource,
    Secret,
    Service,
)
from platform_sdk.naming import default_name
from platform_sdk.providers.base import Compiler
from platform_sdk.synth.overrides import apply_overrides


@dataclass(frozen=True)
class Placement:
    """One resource's home: the cloud label (a plug-in's name), the plug-in that builds it, and its stack."""

    resource: Resource
    cloud: str
    target: str
    stack_name: str


BASE = "base"
"""The base stacks' service part: `<env>-base-<cloud>` owns a cloud's shared prerequisites (a reserved name)."""
BASE_STACK_PATTERN = f"<env>-{BASE}-<cloud>"


def stack_name(env: Environment, service: str, cloud: str) -> str:
    return f"{env.name}-{service}-{cloud}"


def base_stack_name(env: Environment, cloud: str) -> str:
    """The stack owning everything project- or account-wide of one cloud in one environment."""
    return stack_name(env, BASE, cloud)


def check_service_names(services: list[Service]) -> None:
    """No service may take the base stacks' name (its stacks would be the base stacks)."""
    for service in services:
        if service.name == BASE:
            raise ModelError(f"service name {BASE!r} is reserved: the stack {BASE_STACK_PATTERN} owns each cloud's "
                             "shared prerequisites", file=service.declared_in, line=service.declared_line,
                             key="name", value=service.name)


def _placement_key(env: Environment, resource: Resource) -> str:
    service = resource.service.name if resource.service else ""
    specific = f"{service}.{resource.name}"
    if specific in env.placement:
        return f"placement.{specific}"
    if service in env.placement:
        return f"placement.{service}"
    return "default_cloud"


def check_placement_keys(env: Environment, services: list[Service]) -> None:
    """Every placement key must name a service or a resource of the estate."""
    by_name = {s.name: s for s in services}
    for key in env.placement:
        service_name, _, resource_name = key.partition(".")
        service = by_name.get(service_name)
        if service is None:
            known = ", ".join(sorted(by_name)) or "none"
            raise EnvironmentError_(f"placement names no service (services: {known})", file=env.file,
                                    key=f"placement.{key}", value=key)
        if resource_name and service.get(resource_name) is None:
            known = ", ".join(r.name for r in service.resources)
            raise EnvironmentError_(
                f"placement names no resource of service {service_name!r} (resources: {known})",
                file=env.file, key=f"placement.{key}", value=key,
            )


def resolve_placements(env: Environment, services: list[Service], compilers: Mapping[str, Compiler],
                       naming: Callable[[Environment, str, str], str] = default_name) -> dict[Resource, Placement]:
    """Placement for every resource, after checking capabilities and cross-resource constraints.

    The environment's values are applied to the resources first (`overrides.apply_overrides`), so every check
    sees what the environment deploys.
    """
    check_placement_keys(env, services)
    apply_overrides(env, services)
    check_service_names(services)
    placements: dict[Resource, Placement] = {}
    for service in services:
        for resource in service:
            cloud = env.cloud_of(service.name, resource.name)
            target = env.target_of(cloud)
            compiler = compilers.get(target)
            key = _placement_key(env, resource)
            if compiler is None:
                raise PlacementError(f"{resource.address}: no compiler for cloud {cloud!r}", file=env.file,
                                     key=key, value=cloud)
            _check_hatches(env, resource, cloud, key)
            _check_capability(env, resource, cloud, target, key)
            _check_limits(env, resource, cloud, target)
            problems = _problems(compiler, env, resource, naming)
            if problems:
                raise _unplaceable(env, resource, cloud, key, problems, _problems(compiler, _neutral(env), resource,
                                                                                  naming))
            placements[resource] = Placement(resource, cloud, target, stack_name(env, service.name, cloud))
    for resource, placement in placements.items():
        _check_links(env, resource, placement, placements)
    return placements


def _problems(compiler: Compiler, env: Environment, resource: Resource,
              naming: Callable[[Environment, str, str], str]) -> list[str]:
    """What keeps `resource` off the compiler's cloud (the compiler's own problems; a bucket's name), each a noun
    phrase the message puts after "missing", or a phrase starting "environment variable" (a name the cloud
    reserves)."""
    problems = compiler.problems(resource, env)
    if isinstance(resource, Bucket) and resource.service is not None:
        physical = naming(env, resource.service.name, resource.physical_key)
        problems += [f"a valid bucket name: {p}" for p in compiler.bucket_name_problems(physical) if p not in problems]
    return problems


def _neutral(env: Environment) -> Environment:
    """`env` with a name prefix of the same length that no cloud refuses: what `_unplaceable` compares with to tell
    a name the prefix spoils (`goog-acme`: S3 refuses names beginning with 'goog') from one the resource spoils."""
    return env.model_copy(update={"name_prefix": "a" * len(env.name_prefix)})


def _unplaceable(env: Environment, resource: Resource, cloud: str, key: str, problems: list[str],
                 with_neutral_prefix: list[str]) -> PlacementError:
    """The error for `resource`, blaming what to change: `name_prefix` when a neutral prefix of the same length
    has none of the problems; else the declaration (its file and line) for what the resource sets, named at the
    environment file's placement key (the cloud it is placed on)."""
    words = "; ".join(f"it sets {p}" if p.startswith("environment variable ") else f"missing {p}" for p in problems)
    message = f"{resource.kind} {resource.address} cannot be placed on {cloud}: {words}"
    if not with_neutral_prefix:
        return PlacementError(message, file=env.file, key="name_prefix", value=env.name_prefix,
                              hint="choose another name_prefix (it begins every physical name)")
    where = f"{resource.declared_in}:{resource.declared_line}" if resource.declared_in else ""
    return PlacementError(message + (f" (declared at {where})" if where else ""), file=env.file, key=key, value=cloud,
                          hint=f"change the declaration{' at ' + where if where else ''}, or place "
                               f"{resource.address} on another cloud")


def _check_links(env: Environment, resource: Resource, placement: Placement,
                 placements: dict[Resource, Placement]) -> None:
    """Links that cannot cross clouds: event triggers, CDN origins and database connections."""
    def fail(message: str, other: Resource, grant: Grant | None = None) -> None:
        made = f"; the grant: {grant}" if grant is not None else ""  # its own file and line, maybe another file's
        hint = "place both on the same cloud"
        if "local" in (placement.cloud, placements[other].cloud):  # the local cloud itself, not a stand-in
            stand_ins = " and ".join(f'`[clouds.{name}] stand_in = "local"`'
                                     for name in providers.names() if name != "local")
            hint += (" (the local cloud itself is no cloud of a split: to rehearse workloads on different clouds, "
                     f"place them on stand-ins, {stand_ins}: the README's \"Moving a workload to another cloud\")")
        raise PlacementError(
            f"{message} ({resource.address} on {placement.cloud}, {other.address} on {placements[other].cloud}"
            f"{made})",
            file=env.file, key=_placement_key(env, resource), value=placement.cloud, hint=hint,
        )

    if isinstance(resource, Function):
        for trigger in resource.triggers:
            if isinstance(trigger, ObjectCreatedTrigger) and placements[trigger.bucket].cloud != placement.cloud:
                fail("an object-created trigger needs its bucket on the same cloud as the function", trigger.bucket)
            if isinstance(trigger, QueueMessageTrigger) and placements[trigger.queue].cloud != placement.cloud:
                fail("a queue_message trigger needs its queue on the same cloud as the function", trigger.queue)
        for grant in resource.grants:
            other = placements[grant.target]
            if isinstance(grant.target, Database) and other.cloud != placement.cloud:
                fail("a database is reachable only from functions on its own cloud's network", grant.target, grant)
            crosses = isinstance(grant.target, (Bucket, Secret, Queue, Function)) and other.cloud != placement.cloud
            if not crosses:
                continue
            # A stand-in is held to the real clouds' rule too (as in _check_capability), so a rehearsal refuses
            # what production would.
            for caller, owner in dict.fromkeys(((placement.target, other.target), (placement.cloud, other.cloud))):
                if not _cross_cloud_supported(grant.target.kind, caller, owner):
                    fail(f"cross-cloud {grant.target.kind} access from {caller} to {owner} is not supported",
                         grant.target, grant)
    for origin in resource.origins if isinstance(resource, Cdn) else ():
        if placements[origin].cloud != placement.cloud:
            fail("a CDN must be on the same cloud as its origin", origin)


def _cross_cloud_supported(kind: str, function_target: str, owner_target: str) -> bool:
    """Federated (keyless) access the resource's plug-in can wire; anything else fails before synthesis. Called with
    the compiling plug-ins (a stand-in's) and with the cloud labels (each a plug-in's name, `_check_capability`)."""
    owner = providers.plugin(owner_target)
    allowed = {"secret": owner.secret_access_from, "queue": owner.queue_access_from,
               "function": owner.function_access_from}.get(kind, owner.bucket_access_from)
    return function_target in allowed


def _check_hatches(env: Environment, resource: Resource, cloud: str, key: str) -> None:
    """A service with an escape hatch for one cloud lives only there: its raw Terraform exists on no other cloud."""
    for hatch in resource.service.hatches if resource.service else []:
        if hatch.cloud != cloud:
            raise PlacementError(
                f"{resource.kind} {resource.address} cannot be placed on {cloud}: service {resource.service.name} "
                f"has an escape hatch for {hatch.cloud} ({hatch.where}), whose raw Terraform "
                f"exists only on {hatch.cloud}", file=env.file, key=key, value=cloud,
                hint=f"place {resource.service.name} on {hatch.cloud}, or remove the service.terraform(...) call")


def _check_capability(env: Environment, resource: Resource, cloud: str, target: str, key: str) -> None:
    """The kind must be one the cloud's plug-in implements (and its stand-in's, when it has one)."""
    for name in dict.fromkeys((cloud, target)):
        kinds = providers.plugin(name).kinds
        if resource.kind not in kinds:
            offered = ", ".join(sorted(kinds)) or "none"
            raise PlacementError(
                f"{resource.kind} {resource.address} cannot be placed on {cloud}: {name} has no {resource.kind}s "
                f"(it implements: {offered})", file=env.file, key=key, value=cloud,
                hint=f"place {resource.address} on a cloud that implements {resource.kind}s")


def _check_limits(env: Environment, resource: Resource, cloud: str, target: str) -> None:
    """A function's runtime, memory, timeout and environment variables as deployed (the environment's values
    applied) within the plug-in's limits.

    A stand-in is held to both clouds' limits, so a rehearsal refuses what production would. The error names
    where the value comes from: the environment file's override, or the line that declared the function.
    """
    if not isinstance(resource, Function):
        return
    effective = {"runtime": resource.runtime, "memory": resource.memory, "timeout": resource.timeout,
                 "environment": resource.environment}
    for name in dict.fromkeys((cloud, target)):
        for key, problem in providers.plugin(name).function_problems(resource, effective):
            value = None if key == "environment" else effective[key]  # the problem says its size
            if key in env.overrides.get(resource.address, {}):
                raise EnvironmentError_(f"{resource.address} on {cloud}: {problem}", file=env.file,
                                        key=env.override_key(resource.address, key), value=value)
            raise resource.error(f"{problem} (placed on {cloud})", key, value)
