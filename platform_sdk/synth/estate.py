"""The estate builder: one environment's resources -> CDKTF stacks, one per (environment, service, cloud).

Compilers come from the cloud plug-ins; this module decides the order (producers first), wires grants,
triggers and CDN origins between handles, federates cross-cloud grants, builds function packages and
records what each stack holds (resources, stateful ones, owners, dependencies) for the runner.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from platform_sdk import contract, providers
from platform_sdk.cdk.document import finalize
from platform_sdk.envs import Environment, LocalState
from platform_sdk.errors import ModelError, PlatformError
from platform_sdk.model import (
    ALARM_KEYS,
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
    alarm_thresholds,
)
from platform_sdk.model.function import last_made
from platform_sdk.profile import ModuleBacking, Profile
from platform_sdk.project import Project
from platform_sdk.providers import compilers_for
from platform_sdk.providers.base import BaseNeeds, Compiler, FunctionInputs, FunctionPackage, Handle, StackContext
from platform_sdk.providers.domains import refuse_shared_domains
from platform_sdk.synth.assets import build_package
from platform_sdk.synth.environments import check_environments
from platform_sdk.synth.graph import dependencies_of, knowable, known_grants
from platform_sdk.synth.hatch import add_hatches
from platform_sdk.synth.placement import BASE, Placement, base_stack_name, resolve_placements, stack_name
from platform_sdk.synth.unique_names import refuse_shared_names
from platform_sdk.synth.vendoring import vendor_function

# Handle attributes published as stack outputs: where things live, never secret values (a secret's url names its
# container; moves copy the value between two of them).
PUBLIC_ATTRS = {"bucket": ("name", "url"), "function": ("name", "url"), "cdn": ("url", "domain"),
                "database": ("endpoint", "url"), "secret": ("url",), "queue": ("url",)}
STATEFUL_KINDS = (Bucket, Database, Secret, Queue)
"""Kinds whose destroy loses data: a move keeps a copy on the old cloud while their data (or value) moves."""


@dataclass
class StackInfo:
    """What the runner and the reports need to know about one stack."""

    name: str
    env: str
    service: str
    cloud: str
    target: str
    resources: list[str] = field(default_factory=list)
    stateful: list[str] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)
    # Terraform address -> the neutral resource it implements (lets reports recognise a move across stacks)
    owners: dict[str, str] = field(default_factory=dict)
    # neutral resource -> where it is declared, "path:line" (relative to the project): a Terraform error about one of
    # its blocks names it (platform_sdk.terraform.report.owners_named)
    declared: dict[str, str] = field(default_factory=dict)
    # A stack that was deployed but no longer holds anything: kept (empty) so Terraform plans its destroy.
    tombstone: bool = False
    # A base stack (`<env>-base-<cloud>`): the shared prerequisites it provides (BaseNeeds.to_json()).
    shared: dict[str, list[str]] = field(default_factory=dict)
    # Terraform types an escape hatch added that no vendored schema knows: the schema check skips exactly these.
    unchecked: list[str] = field(default_factory=list)
    # What Terraform reads while planning besides the configuration (name -> digest, `StackContext.input`):
    # part of the stack's fingerprint, so a change plans the stack (platform_sdk.terraform.records).
    inputs: dict[str, str] = field(default_factory=dict)
    # Terraform address -> the address it had before its resource was renamed (`renamed_from`, `[renames]`): the
    # runner moves deployed objects there to here before planning (platform_sdk.terraform.renames).
    renamed: dict[str, str] = field(default_factory=dict)


class EstateBuilder:
    """Adds one environment's stacks to a CDKTF app."""

    def __init__(self, app: Any, project: Project, env: Environment, services: list[Service],
                 profile: Profile | None = None,
                 compilers: Mapping[str, Compiler] | None = None, outdir: Path | None = None,
                 extra_copies: dict[str, str] | None = None, vendor: bool = True,
                 unprotected_copies: frozenset[str] = frozenset(),
                 denials: dict[str, list[contract.Denial]] | None = None, packages_dir: Path | None = None) -> None:
        """`vendor=False`: packages carry the function's code but no third-party dependencies and are not held to
        the cloud's size limits (a build only analysed, never deployed). `denials`: function address -> what a
        rehearsed environment's clouds would refuse it (written into PLATFORM_DENY). `packages_dir`: where the
        function packages are built (default: the project's cache, per environment; a rehearsal's own folder)."""
        self.app = app
        self.vendor = vendor
        default_packages = project.cache_dir / "packages" / (env.name if vendor else f"{env.name}-bare")
        self.packages_dir = packages_dir or default_packages
        self.denials = dict(denials or {})
        self.outdir = outdir or project.env_outdir(env.name)
        self.project = project
        self.env = env
        self.services = services
        self.profile = profile or Profile()
        self.extra_copies = dict(extra_copies or {})
        self.unprotected_copies = unprotected_copies
        self.copy_handles: dict[Resource, Handle] = {}
        self.compilers = compilers or compilers_for(env)
        self.placements = resolve_placements(env, services, self.compilers, naming=self.profile.physical_name)
        check_environments(project.envs_dir, env, services)  # what another environment builds too
        refuse_shared_domains(env, services)  # one CDN per domain, on every cloud (providers/domains.py)
        # grants wired with values known before apply, so that no two stacks need each other first (graph.py)
        self.known_grants = known_grants(self.placements, knowable(self.placements, self.compilers,
                                                                   self.profile.modules))
        self.contexts: dict[str, StackContext] = {}
        self.handles: dict[Resource, Handle] = {}
        self.known_handles: dict[Resource, Handle] = {}
        self.packages: dict[str, FunctionPackage] = {}
        self.stack_infos: dict[str, StackInfo] = {}
        self.needs: dict[str, BaseNeeds] = {}  # cloud label -> what its service stacks need from its base stack
        self.warnings: list[str] = []
        self._callers_index: tuple[dict[int, list[tuple[Function, str]]], dict[int, list[Cdn]]] | None = None

    # -- stacks ---------------------------------------------------------------------------------------------
    def _context(self, placement: Placement) -> StackContext:
        service = placement.resource.service
        assert service is not None
        return self._stack(placement.stack_name, service, placement.cloud, placement.target)

    def _stack(self, name: str, service: Service, cloud: str, target: str) -> StackContext:
        if name not in self.contexts:
            from platform_sdk.cdk import engine  # late: preloaded meanwhile (platform_sdk.cdk.preload)

            stack = engine.TerraformStack(self.app, name)
            self._backend(stack, name)
            ctx = StackContext(self.env, service, cloud, target, stack, name, self.project.root, self.profile,
                               stack_dir=self.outdir / "stacks" / name,
                               needs=self.needs.setdefault(cloud, BaseNeeds()),
                               build_dir=self.project.cache_dir / "packages" / self.env.name)
            self.compilers[target].configure(ctx)
            self.contexts[name] = ctx
            self.stack_infos[name] = StackInfo(name, self.env.name, service.name, cloud, target)
        return self.contexts[name]

    def _backend(self, stack: Any, name: str) -> None:
        """Local state files, or the backend of the plug-in owning `[state] backend`."""
        from platform_sdk.cdk import engine

        state = self.env.state
        if isinstance(state, LocalState):
            state_file = self.project.root / state.path / self.env.name / f"{name}.tfstate"
            stack_dir = self.outdir / "stacks" / name
            engine.LocalBackend(stack, path=os.path.relpath(state_file, stack_dir))
            return
        owner = next(p for p in providers.plugins().values() if state.backend in p.state_backends)
        owner.backend(stack, state, self.env, name)

    # -- resources ------------------------------------------------------------------------------------------
    def add_tombstones(self, deployed: dict[str, dict[str, Any]]) -> None:
        """Keep every deployed stack that no longer holds resources, empty, so its destroy is planned.

        Without this, moving a whole service to another cloud would silently orphan the source stack.
        """
        by_name = {s.name: s for s in self.services}
        for name, info in sorted(deployed.items()):
            if name in self.contexts or info.get("env", self.env.name) != self.env.name:
                continue
            cloud = info["cloud"]
            if not self.env.is_configured(cloud):
                continue
            service = by_name.get(info["service"]) or Service(info["service"])
            self._stack(name, service, cloud, self.env.target_of(cloud))
            stack_info = self.stack_infos[name]
            stack_info.tombstone = True
            stack_info.owners = dict(info.get("owners", {}))

    def build(self, deployed: dict[str, dict[str, Any]] | None = None) -> None:
        """Compile producers first (buckets, databases, secrets, queues), then functions (a callee before its
        callers), then CDNs in front of them, then the services' escape hatches."""
        for kind in (Bucket, Database, Secret, Queue):
            for service in self.services:
                for resource in service.of(kind):
                    self._compile(resource, self.placements[resource])
                    kept = self.extra_copies.get(resource.address)
                    # a copy kept on the very cloud the resource is placed on now (the placement edited back onto
                    # it) is the resource itself: compiling both would declare it twice in one stack
                    if kept is not None and kept != self.placements[resource].cloud:
                        self._compile_copy(resource, kept)
        for fn in callees_first([fn for service in self.services for fn in service.functions]):
            self._compile(fn, self.placements[fn])
        for service in self.services:
            for cdn in service.of(Cdn):
                self._compile(cdn, self.placements[cdn])
                kept = self.extra_copies.get(cdn.address)
                if kept is not None and kept != self.placements[cdn].cloud:
                    self._compile_copy(cdn, kept)
        self.warnings += add_hatches(self)
        for ctx in self.contexts.values():
            self._outputs(ctx)
        self._record_dependencies()
        self.add_tombstones(deployed or {})
        self.add_bases(deployed or {})
        self.observe()
        for name, ctx in self.contexts.items():
            self.stack_infos[name].inputs = dict(sorted(ctx.inputs.items()))
        self._record_renames()
        refuse_shared_names(self)  # two declarations that would be one object on a cloud (synth/unique_names.py)
        finalize()  # every stack's resources to the engine, references between stacks wired

    def observe(self) -> None:
        """Alarms for every resource whose kind has them and one dashboard per service stack, by the stack's
        compiler, once the base stacks (which hold the alert channel the alarms notify) exist."""
        by_stack: dict[str, list[Handle]] = {}
        for handle in self.handles.values():
            by_stack.setdefault(handle.stack_name, []).append(handle)
        for ctx in list(self.contexts.values()):
            info = self.stack_infos[ctx.name]
            if info.tombstone or info.shared:
                continue
            compiler = self.compilers[ctx.target]
            handles = by_stack.get(ctx.name, [])
            for handle in handles:
                resource = handle.resource
                if resource.kind not in ALARM_KEYS:
                    continue
                thresholds = alarm_thresholds(resource.kind, getattr(resource, "alarms", None), self.profile.alarms,
                                              getattr(resource, "timeout", None))
                known = len(ctx.document.blocks)
                compiler.alarms(ctx, handle, thresholds)
                self._own(ctx, known, resource)
            if handles:
                compiler.dashboard(ctx, handles, ctx.service.metrics)

    def _record_renames(self) -> None:
        """For each block of a renamed resource, the address it had under the old name (StackInfo.renamed)."""
        from platform_sdk.synth.renames import previous_address

        renamed = {r.address: r for r in self.placements if r.renamed_from}
        for info in self.stack_infos.values():
            for address, owner in sorted(info.owners.items()):
                resource = renamed.get(owner)
                old = previous_address(address, resource.name, resource.renamed_from) if resource else None
                if old is not None and resource is not None and resource.service is not None \
                        and info.service == resource.service.name:
                    info.renamed[address] = old

    def _own(self, ctx: StackContext, known: int, resource: Resource) -> None:
        """Record the Terraform blocks added to `ctx`'s document after the first `known` as parts of `resource`."""
        info = self.stack_infos[ctx.name]
        for block in ctx.document.blocks[known:]:
            info.owners[block.fqn] = resource.address
        if resource.declared_in is not None and resource.address not in info.declared:
            path = Path(resource.declared_in)
            shown = path.relative_to(self.project.root) if path.is_relative_to(self.project.root) else path
            info.declared[resource.address] = f"{shown}:{resource.declared_line}"

    def add_bases(self, deployed: dict[str, dict[str, Any]]) -> None:
        """One base stack per cloud label whose stacks need something shared: its plug-in builds the needs there,
        and every other stack of that label depends on it (so it is applied first and destroyed last).

        What a deployed base stack provided stays in it (a move takes a service's needs away from one cloud, not
        the prerequisites other stacks, or a later move back, rely on); `platform destroy` removes it.
        """
        for info in deployed.values():
            shared = info.get("shared")
            if shared and info.get("env", self.env.name) == self.env.name and self.env.is_configured(info["cloud"]):
                self.needs.setdefault(info["cloud"], BaseNeeds()).update(shared)
        for cloud, needs in sorted(self.needs.items()):
            if not needs:
                continue
            name = base_stack_name(self.env, cloud)
            dependents = [c for c in self.contexts.values() if c.cloud == cloud and c.name != name]
            ctx = self._stack(name, Service(BASE, owner="platform"), cloud, self.env.target_of(cloud))
            self.compilers[ctx.target].base(ctx, needs)
            info = self.stack_infos[name]
            info.tombstone = False
            info.shared = needs.to_json()
            for dependent in dependents:
                dependent.stack.add_dependency(ctx.stack)
                dependents_info = self.stack_infos[dependent.name]
                dependents_info.dependencies = sorted({*dependents_info.dependencies, name})

    def _compile_copy(self, resource: Resource, cloud: str) -> None:
        """A second, unwired instance of a stateful resource on another cloud, used while its data moves; or of a
        CDN in front of such copies only (a move's twin of a CDN whose domain needs its records on the target
        before the cut-over, docs/domains.md)."""
        twin_cdn = isinstance(resource, Cdn) and all(self.extra_copies.get(o.address) == cloud
                                                     and o in self.copy_handles for o in resource.origins)
        if not (isinstance(resource, STATEFUL_KINDS) or twin_cdn) or resource.service is None:
            raise PlatformError("only buckets, databases, secrets and queues keep a copy during a move, and a CDN "
                                "whose origins all keep one there", value=resource.address)
        placement = Placement(resource, cloud, self.env.target_of(cloud), stack_name(self.env, resource.service.name,
                                                                                     cloud))
        protected = getattr(resource, "deletion_protection", None)
        if protected and resource.address in self.unprotected_copies:
            resource.deletion_protection = False  # type: ignore[attr-defined]  # this copy only, about to go
            try:
                self._compile(resource, placement, wire=False)
            finally:
                resource.deletion_protection = protected  # type: ignore[attr-defined]
            return
        self._compile(resource, placement, wire=False)

    def _compile(self, resource: Resource, placement: Placement, wire: bool = True) -> None:
        ctx = self._context(placement)
        compiler = self.compilers[placement.target]
        known = len(ctx.document.blocks)
        backing = self.profile.modules.get((placement.target, resource.kind))
        if backing is not None:
            handle = self._from_module(ctx, resource, backing)
        elif isinstance(resource, Bucket):
            handle = compiler.bucket(ctx, resource)
        elif isinstance(resource, Database):
            handle = compiler.database(ctx, resource)
        elif isinstance(resource, Secret):
            handle = compiler.secret(ctx, resource)
        elif isinstance(resource, Queue):
            handle = compiler.queue(ctx, resource)
        elif isinstance(resource, Function):
            handle = compiler.function(ctx, resource, self._function_inputs(resource, placement, compiler))
            if wire:
                self._federate(resource, handle, compiler)
        elif isinstance(resource, Cdn):
            handles = self.handles if wire else self.copy_handles  # a twin CDN is in front of the twins
            handle = compiler.cdn(ctx, resource, {origin: handles[origin] for origin in resource.origins})
        else:  # pragma: no cover - the model has no other kinds
            raise TypeError(resource)
        if wire:
            self.handles[resource] = handle
            if any(grant.target is resource for grant in self.known_grants):
                self.known_handles[resource] = compiler.known_handle(ctx, resource)
        else:
            self.copy_handles[resource] = handle
        info = self.stack_infos[placement.stack_name]
        info.resources.append(resource.address)
        self._own(ctx, known, resource)
        if isinstance(resource, STATEFUL_KINDS):
            info.stateful.append(resource.address)

    def _from_module(self, ctx: StackContext, resource: Resource, backing: ModuleBacking) -> Handle:
        """The platform team's own Terraform module stands in for the built-in compiler of this kind."""
        inputs = backing.inputs(resource, ctx) if callable(backing.inputs) else dict(backing.inputs)
        inputs = {"name": ctx.physical_name(resource), "tags": ctx.tags(resource), **inputs}
        from platform_sdk.cdk import engine

        module_id = f"{resource.name}_module"
        ctx.document.claim(module_id)
        module = engine.TerraformHclModule(ctx.stack, module_id, source=backing.source, version=backing.version,
                                           variables=ctx.resolve(inputs))
        attrs = {output: ctx.document.module_output(module_id, output) for output in backing.outputs}
        return Handle(resource, ctx.cloud, ctx.target, ctx.name, attrs, {"module": module})

    def _federate(self, fn: Function, fn_handle: Handle, fn_compiler: Compiler) -> None:
        """Grants that cross clouds: the resource's own cloud trusts the function's identity (no keys)."""
        for grant in fn.grants:
            handle = self.handles[grant.target]
            if handle.target == fn_handle.target:
                continue
            owner = self.compilers[handle.target]
            identity = fn_compiler.identity_literal(self.env, self.profile, fn)
            owner_ctx = self.contexts[handle.stack_name]
            owner.federate(owner_ctx, grant, handle, fn_handle, identity)

    def _function_inputs(self, fn: Function, placement: Placement, compiler: Compiler) -> FunctionInputs:
        foreign = {g.target.address: self.placements[g.target].target for g in fn.grants
                   if self.placements[g.target].target != placement.target}
        if foreign:  # whether it can reach another cloud at all, before downloading the clients to do it
            compiler.identity_literal(self.env, self.profile, fn)
        extra = vendor_function(fn, placement.target, self.project.cache_dir / "vendor", foreign=foreign) \
            if self.vendor else {}
        package = build_package(fn, placement.target, self.packages_dir, extra=extra, runtimes=set(foreign.values()))
        if self.vendor:
            self._check_package_size(fn, package, placement.target)
        self.packages[f"{fn.address}"] = package
        environment = {
            contract.ENV: self.env.name,
            contract.SERVICE: fn.service.name if fn.service else "",
            contract.FUNCTION: fn.name,
            contract.CLOUD: placement.cloud,
        }
        grants = []
        for grant in fn.grants:
            handle = (self.known_handles if grant in self.known_grants else self.handles)[grant.target]
            grants.append((grant, handle))
            url = handle["call_url"] if isinstance(grant.target, Function) else handle["url"]
            if handle.target != placement.target:  # another cloud: keyless federated access
                owner = self.compilers[handle.target]
                identity = compiler.identity_literal(self.env, self.profile, fn)
                url = owner.foreign_url(self.env, self.profile, grant, handle, placement.target, identity)
            environment[contract.resource_var(grant.target.kind, grant.target.name)] = url
        for trigger in fn.triggers:  # lets the entry adapter map a physical name back to the neutral one
            if isinstance(trigger, ObjectCreatedTrigger):
                key = contract.resource_var("bucket", trigger.bucket.name)
                environment.setdefault(key, self.handles[trigger.bucket]["url"])
            elif isinstance(trigger, QueueMessageTrigger):
                key = contract.resource_var("queue", trigger.queue.name)
                environment.setdefault(key, self.handles[trigger.queue]["url"])
        environment[contract.GRANTS] = contract.encode_grants(
            (g.target.kind, g.target.name, g.access) for g in fn.grants)
        if self.denials.get(fn.address):
            environment[contract.DENY] = contract.encode_denials(self.denials[fn.address])
        if fn.service is not None and fn.service.metrics:  # what `metric(name)` may emit (runtime/metrics.py)
            environment[contract.METRICS] = contract.encode_metrics(
                contract.metrics_namespace(self.env.name_prefix, self.env.name),
                (contract.MetricSpec(m.name, m.unit, m.dimensions) for m in fn.service.metrics))
        environment.update(fn.environment)
        trigger_buckets = {
            t.bucket.name: self.handles[t.bucket] for t in fn.triggers if isinstance(t, ObjectCreatedTrigger)
        }
        trigger_queues = {t.queue.name: self.handles[t.queue] for t in fn.trigger_of(QueueMessageTrigger)}
        invokers, cdns = self._callers_of(fn)
        return FunctionInputs(package, grants, trigger_buckets, dict(sorted(environment.items())), trigger_queues,
                              invokers, cdns)

    def _callers_of(self, fn: Function) -> tuple[list[tuple[Function, str]], tuple[Cdn, ...]]:
        """(function, its cloud) for every function granted `invoke` on `fn`, and the CDNs with `fn` as an origin,
        in placement order. Indexed once per build: asking every placement for every function grew with the
        square of the estate."""
        if self._callers_index is None:
            invokers: dict[int, list[tuple[Function, str]]] = {}
            cdns: dict[int, list[Cdn]] = {}
            for resource, placement in self.placements.items():
                if isinstance(resource, Function):
                    for target in dict.fromkeys(id(g.target) for g in resource.grants if g.access == "invoke"):
                        invokers.setdefault(target, []).append((resource, placement.cloud))
                elif isinstance(resource, Cdn):
                    for origin in dict.fromkeys(id(o) for o in resource.origins):
                        cdns.setdefault(origin, []).append(resource)
            self._callers_index = (invokers, cdns)
        invokers, cdns = self._callers_index
        return list(invokers.get(id(fn), ())), tuple(cdns.get(id(fn), ()))

    def _check_package_size(self, fn: Function, package: FunctionPackage, target: str) -> None:
        limits = providers.plugin(target).packaging.limits
        if limits is None:
            return
        zipped, unzipped = limits
        if package.zipped_bytes > zipped or package.unzipped_bytes > unzipped:
            biggest = ", ".join(f"{name} ({size / 1e6:.1f} MB)" for name, size in package.largest)
            raise fn.error(
                f"package is too big for {target}: {package.zipped_bytes / 1e6:.1f} MB zipped "
                f"(limit {zipped / 1e6:.0f} MB), {package.unzipped_bytes / 1e6:.1f} MB unzipped "
                f"(limit {unzipped / 1e6:.0f} MB); biggest: {biggest}",
                key=f"{fn.address}.source", value=str(fn.source_dir),
            )

    def _outputs(self, ctx: StackContext) -> None:
        for resource, handle in [*self.handles.items(), *self.copy_handles.items()]:
            if handle.stack_name != ctx.name:
                continue
            for attr in PUBLIC_ATTRS.get(resource.kind, ()):
                if handle.attrs.get(attr):
                    ctx.output(f"{resource.kind}_{resource.name}_{attr}".replace("-", "_"), handle.attrs[attr])

    def _record_dependencies(self) -> None:
        for name, deps in dependencies_of(self.placements, self.known_grants).items():
            self.stack_infos[name].dependencies = deps


def callees_first(functions: list[Function]) -> list[Function]:
    """Functions ordered so that every callee (`caller.invokes(callee)`) comes before its callers: a caller's
    configuration names its callee's. Declaration order otherwise.

    Raises:
        ModelError: functions invoke each other in a cycle, naming every grant of it with its file and line, and
            pointing at the line of the grant that closes it (which may be in another service file than the
            function it names, made there through `sibling()`).
    """
    ordered: list[Function] = []
    state: dict[Function, str] = {}

    def visit(fn: Function, path: list[Grant]) -> None:
        state[fn] = "visiting"
        for grant in fn.grants:
            callee = grant.target
            if not isinstance(callee, Function) or state.get(callee) == "done":
                continue
            if state.get(callee) == "visiting":
                start = next((i for i, step in enumerate(path) if step.function is callee), len(path))
                raise _invoke_cycle([*path[start:], grant])
            visit(callee, [*path, grant])
        state[fn] = "done"
        ordered.append(fn)

    for fn in functions:
        if fn not in state:
            visit(fn, [])
    return ordered


def _invoke_cycle(cycle: list[Grant]) -> ModelError:
    """The refusal of `invokes` grants that form a cycle, at the line of the grant made last (the one that closed
    it)."""
    addresses = " -> ".join([cycle[0].function.address, *(grant.target.address for grant in cycle)])
    closing = last_made(cycle)
    return closing.error(f"functions invoke each other in a cycle ({addresses}): {'; '.join(map(str, cycle))}",
                         value=closing.target.address,
                         hint="one of them must hand work over through a Queue instead (fn.sends(queue), "
                              "queue_message(queue) on the other)")
