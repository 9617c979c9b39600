"""Synthesis: the estate + an environment -> one CDKTF stack per (environment, service, cloud).

Nothing is written unless everything compiled: the app synthesizes into a temporary folder which then
replaces the environment's output folder in one step.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from platform_sdk import contract
from platform_sdk.envs import Environment
from platform_sdk.errors import PlatformError
from platform_sdk.guardrails import run_guardrails_model, run_guardrails_synth
from platform_sdk.model import Bucket, Cdn, Database, Function, ObjectCreatedTrigger, Resource, Service
from platform_sdk.placement import Placement, resolve_placements, stack_name
from platform_sdk.profile import ModuleBacking, Profile
from platform_sdk.project import Project
from platform_sdk.providers import compilers_for
from platform_sdk.providers.base import Compiler, FunctionInputs, Handle, StackContext
from platform_sdk.synth import engine
from platform_sdk.synth.assets import FunctionPackage, build_package
from platform_sdk.synth.vendoring import vendor_function

METADATA_FILE = "platform.json"
# Handle attributes published as stack outputs: where things live, never secrets.
PUBLIC_ATTRS = {"bucket": ("name", "url"), "function": ("name", "url"), "cdn": ("url", "domain"),
                "database": ("endpoint", "url")}


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
    # A stack that was deployed but no longer holds anything: kept (empty) so Terraform plans its destroy.
    tombstone: bool = False


@dataclass
class SynthResult:
    env: Environment
    outdir: Path
    stacks: dict[str, StackInfo]
    packages: dict[str, FunctionPackage]
    placements: dict[Resource, Placement]

    def to_json(self) -> dict[str, Any]:
        return {
            "environment": self.env.name,
            "stacks": {name: vars(info) for name, info in sorted(self.stacks.items())},
            "packages": {
                key: {"sha256": p.sha256, "zipped_bytes": p.zipped_bytes, "unzipped_bytes": p.unzipped_bytes,
                      "target": p.target}
                for key, p in sorted(self.packages.items())
            },
        }


class EstateBuilder:
    """Adds one environment's stacks to a CDKTF app."""

    def __init__(self, app: Any, project: Project, env: Environment, services: list[Service],
                 profile: Profile | None = None,
                 compilers: dict[str, Compiler] | None = None, outdir: Path | None = None,
                 extra_copies: dict[str, str] | None = None) -> None:
        self.app = app
        self.outdir = outdir or project.env_outdir(env.name)
        self.project = project
        self.env = env
        self.services = services
        self.profile = profile or Profile()
        self.extra_copies = dict(extra_copies or {})
        self.copy_handles: dict[Resource, Handle] = {}
        self.compilers = compilers or compilers_for(env)
        self.placements = resolve_placements(env, services, self.compilers, naming=self.profile.physical_name)
        self.contexts: dict[str, StackContext] = {}
        self.handles: dict[Resource, Handle] = {}
        self.packages: dict[str, FunctionPackage] = {}
        self.stack_infos: dict[str, StackInfo] = {}

    # -- stacks ---------------------------------------------------------------------------------------------
    def _context(self, placement: Placement) -> StackContext:
        service = placement.resource.service
        assert service is not None
        return self._stack(placement.stack_name, service, placement.cloud, placement.target)

    def _stack(self, name: str, service: Service, cloud: str, target: str) -> StackContext:
        if name not in self.contexts:
            stack = engine.TerraformStack(self.app, name)
            self._backend(stack, name)
            ctx = StackContext(self.env, service, cloud, target, stack, name, self.project.root, self.profile,
                               stack_dir=self.outdir / "stacks" / name)
            self.compilers[target].configure(ctx)
            self.contexts[name] = ctx
            self.stack_infos[name] = StackInfo(name, self.env.name, service.name, cloud, target)
        return self.contexts[name]

    def _backend(self, stack: Any, name: str) -> None:
        state = self.env.state
        if state.backend == "local":
            state_file = self.project.root / state.path / self.env.name / f"{name}.tfstate"
            stack_dir = self.outdir / "stacks" / name
            engine.LocalBackend(stack, path=os.path.relpath(state_file, stack_dir))
        elif state.backend == "s3":
            extra: dict[str, Any] = {}
            if state.endpoint:
                extra = dict(endpoint=state.endpoint, dynamodb_endpoint=state.endpoint, iam_endpoint=state.endpoint,
                             sts_endpoint=state.endpoint, force_path_style=True, skip_credentials_validation=True,
                             skip_metadata_api_check=True, skip_region_validation=True)
            engine.S3Backend(stack, bucket=state.bucket, key=f"{state.key_prefix}/{self.env.name}/{name}.tfstate",
                             region=state.region, dynamodb_table=state.lock_table, encrypt=True, **extra)
        else:
            engine.GcsBackend(stack, bucket=state.bucket, prefix=f"{state.prefix}/{self.env.name}/{name}")

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
        """Compile producers first (buckets, databases), then functions, then CDNs in front of them."""
        order: list[type[Resource]] = [Bucket, Database, Function, Cdn]
        for kind in order:
            for service in self.services:
                for resource in service.of(kind):
                    self._compile(resource, self.placements[resource])
                    if resource.address in self.extra_copies:
                        self._compile_copy(resource, self.extra_copies[resource.address])
        for ctx in self.contexts.values():
            self._outputs(ctx)
        self._record_dependencies()
        self.add_tombstones(deployed or {})

    def _compile_copy(self, resource: Resource, cloud: str) -> None:
        """A second, unwired instance of a stateful resource on another cloud, used while its data moves."""
        if not isinstance(resource, (Bucket, Database)) or resource.service is None:
            raise PlatformError("only buckets and databases keep a copy during a move", value=resource.address)
        placement = Placement(resource, cloud, self.env.target_of(cloud), stack_name(self.env, resource.service.name,
                                                                                     cloud))
        self._compile(resource, placement, wire=False)

    def _compile(self, resource: Resource, placement: Placement, wire: bool = True) -> None:
        ctx = self._context(placement)
        compiler = self.compilers[placement.target]
        known = {id(c) for c in ctx.stack.node.children}
        backing = self.profile.modules.get((placement.target, resource.kind))
        if backing is not None:
            handle = self._from_module(ctx, resource, backing)
        elif isinstance(resource, Bucket):
            handle = compiler.bucket(ctx, resource)
        elif isinstance(resource, Database):
            handle = compiler.database(ctx, resource)
        elif isinstance(resource, Function):
            handle = compiler.function(ctx, resource, self._function_inputs(resource, placement, compiler))
            if wire:
                self._federate(resource, handle, compiler)
        elif isinstance(resource, Cdn):
            assert resource.origin is not None
            handle = compiler.cdn(ctx, resource, self.handles[resource.origin])
        else:  # pragma: no cover - the model has no other kinds
            raise TypeError(resource)
        if wire:
            self.handles[resource] = handle
        else:
            self.copy_handles[resource] = handle
        info = self.stack_infos[placement.stack_name]
        info.resources.append(resource.address)
        for child in ctx.stack.node.children:
            if id(child) not in known and hasattr(child, "terraform_resource_type"):
                prefix = "data." if isinstance(child, engine.TerraformDataSource) else ""
                address = f"{prefix}{child.terraform_resource_type}.{child.friendly_unique_id}"
                info.owners[address] = resource.address
        if isinstance(resource, (Bucket, Database)):
            info.stateful.append(resource.address)

    def _from_module(self, ctx: StackContext, resource: Resource, backing: ModuleBacking) -> Handle:
        """The platform team's own Terraform module stands in for the built-in compiler of this kind."""
        inputs = backing.inputs(resource, ctx) if callable(backing.inputs) else dict(backing.inputs)
        inputs = {"name": ctx.physical_name(resource), "tags": ctx.tags(resource), **inputs}
        module = engine.TerraformHclModule(ctx.stack, f"{resource.name}_module", source=backing.source,
                                           version=backing.version, variables=inputs)
        attrs = {output: module.get_string(output) for output in backing.outputs}
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
        extra = vendor_function(fn, placement.target, self.project.cache_dir / "vendor", foreign=foreign)
        package = build_package(fn, placement.target, self.project.cache_dir / "packages" / self.env.name, extra=extra,
                                runtimes=set(foreign.values()))
        self._check_package_size(fn, package, compiler)
        self.packages[f"{fn.address}"] = package
        environment = {
            contract.ENV: self.env.name,
            contract.SERVICE: fn.service.name if fn.service else "",
            contract.FUNCTION: fn.name,
            contract.CLOUD: placement.cloud,
        }
        grants = []
        for grant in fn.grants:
            handle = self.handles[grant.target]
            grants.append((grant, handle))
            url = handle["url"]
            if handle.target != placement.target:  # another cloud: keyless federated access
                owner = self.compilers[handle.target]
                identity = compiler.identity_literal(self.env, self.profile, fn)
                url = owner.foreign_url(self.env, self.profile, grant, handle, placement.target, identity)
            environment[contract.resource_var(grant.target.kind, grant.target.name)] = url
        for trigger in fn.triggers:  # lets the entry adapter map a physical bucket name back to the neutral one
            if isinstance(trigger, ObjectCreatedTrigger):
                key = contract.resource_var("bucket", trigger.bucket.name)
                environment.setdefault(key, self.handles[trigger.bucket]["url"])
        environment[contract.GRANTS] = contract.encode_grants(
            (g.target.kind, g.target.name, g.access) for g in fn.grants)
        environment.update(fn.environment)
        trigger_buckets = {
            t.bucket.name: self.handles[t.bucket] for t in fn.triggers if isinstance(t, ObjectCreatedTrigger)
        }
        return FunctionInputs(package, grants, trigger_buckets, dict(sorted(environment.items())))

    def _check_package_size(self, fn: Function, package: FunctionPackage, compiler: Compiler) -> None:
        limits = compiler.package_limits
        if limits is None:
            return
        zipped, unzipped = limits
        if package.zipped_bytes > zipped or package.unzipped_bytes > unzipped:
            biggest = ", ".join(f"{name} ({size / 1e6:.1f} MB)" for name, size in package.largest)
            raise fn.error(
                f"package is too big for {compiler.target}: {package.zipped_bytes / 1e6:.1f} MB zipped "
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
        for name, deps in dependencies_of(self.placements).items():
            self.stack_infos[name].dependencies = deps


def dependencies_of(placements: dict[Resource, Placement]) -> dict[str, list[str]]:
    """Stack -> the stacks it reads from (grants, triggers, CDN origins): the order plans and applies follow."""
    deps: dict[str, set[str]] = {p.stack_name: set() for p in placements.values()}
    for resource, placement in placements.items():
        linked: list[Resource] = []
        if isinstance(resource, Function):
            linked = [g.target for g in resource.grants]
            linked += [t.bucket for t in resource.triggers if isinstance(t, ObjectCreatedTrigger)]
        elif isinstance(resource, Cdn) and resource.origin is not None:
            linked = [resource.origin]
        for other in linked:
            producer = placements[other].stack_name
            if producer != placement.stack_name:
                deps[placement.stack_name].add(producer)
    return {name: sorted(d) for name, d in sorted(deps.items())}


def _dependencies_from_manifest(outdir: Path, stacks: dict[str, StackInfo]) -> None:
    """Use the cross-stack references CDKTF actually wired (the model's view cannot see federation trusts)."""
    manifest = json.loads((outdir / "manifest.json").read_text())
    for name, info in stacks.items():
        wired = manifest["stacks"].get(name, {}).get("dependencies", [])
        info.dependencies = sorted(wired)


def new_app(outdir: Path) -> Any:
    return engine.App(outdir=str(outdir), stack_traces=False, skip_validation=False)


def previously_deployed(project: Project, env: Environment, outdir: Path) -> dict[str, dict[str, Any]]:
    """Stacks that may hold deployed resources: the runner's record, plus non-empty local state files."""
    found = deployed_record(project, env)
    meta = outdir / METADATA_FILE
    last = json.loads(meta.read_text()).get("stacks", {}) if meta.is_file() else {}
    if env.state.backend == "local":
        for state_file in sorted((project.root / env.state.path / env.name).glob("*.tfstate")):
            name = state_file.stem
            try:
                has_resources = bool(json.loads(state_file.read_text() or "{}").get("resources"))
            except json.JSONDecodeError:
                has_resources = True  # unreadable: assume it holds something
            if has_resources and name not in found and name in last:
                found[name] = last[name]
    return found


def retained_copies(project: Project, env: Environment) -> dict[str, str]:
    """Stateful resources an unfinished or `--keep-source` move still keeps on their old cloud (address -> cloud)."""
    path = project.move_record(env.name)
    if not path.is_file():
        return {}
    moves = json.loads(path.read_text()).get("moves", [])
    return {address: move["sources"][address] for move in moves if move.get("source_kept")
            for address in move.get("stateful", [])}


def deployed_record(project: Project, env: Environment) -> dict[str, dict[str, Any]]:
    """The runner's record of applied stacks (`.platform/deployed/<env>.json`), so tombstones survive re-synths."""
    path = project.deployed_record(env.name)
    return json.loads(path.read_text()) if path.is_file() else {}


def record_deployed(project: Project, env: Environment, stacks: dict[str, dict[str, Any]],
                    removed: tuple[str, ...] = ()) -> None:
    """Remember applied stacks (with their owners map); forget stacks destroyed to nothing."""
    path = project.deployed_record(env.name)
    record = deployed_record(project, env)
    record.update(stacks)
    for name in removed:
        record.pop(name, None)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")


def synthesize(project: Project, env: Environment, services: list[Service], only_service: str | None = None,
               profile: Profile | None = None, outdir: Path | None = None,
               extra_copies: dict[str, str] | None = None) -> SynthResult:
    """Compile and synthesize one environment; replace `cdktf.out/<env>` only when everything succeeded."""
    target_dir = outdir or project.env_outdir(env.name)
    if only_service is not None and only_service not in {s.name for s in services}:
        known = ", ".join(s.name for s in services)
        raise PlatformError(f"unknown service (services: {known})", key="--service", value=only_service)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f"platform-synth-{target_dir.name}-"))
    try:
        app = new_app(tmp_dir)
        profile = profile or Profile()
        for hook in profile.before_synth:
            hook(env, services)
        if extra_copies is None:
            extra_copies = retained_copies(project, env)
        builder = EstateBuilder(app, project, env, services, profile=profile, outdir=target_dir,
                                extra_copies=extra_copies)
        run_guardrails_model(env, services, builder.placements, profile)  # fail fast, before building
        builder.build(deployed=previously_deployed(project, env, target_dir))
        app.synth()
        _dependencies_from_manifest(tmp_dir, builder.stack_infos)
        stacks = builder.stack_infos
        if only_service is not None:
            stacks = {name: info for name, info in stacks.items() if info.service == only_service}
        result = SynthResult(env, target_dir, stacks, builder.packages, builder.placements)
        (tmp_dir / METADATA_FILE).write_text(json.dumps(result.to_json(), indent=2, sort_keys=True) + "\n")
        run_guardrails_synth(env, tmp_dir, list(stacks), profile)  # on the temp folder: a violation writes nothing
        result.outdir = tmp_dir  # hooks read the new stacks before they replace the old ones
        for after in profile.after_synth:
            after(result)  # may raise: then nothing is written
        result.outdir = target_dir
        if target_dir.exists():
            shutil.rmtree(target_dir)
        target_dir.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(tmp_dir, target_dir)
        return result
    finally:
        if tmp_dir.exists():
            shutil.rmtree(tmp_dir, ignore_errors=True)


def read_metadata(outdir: Path) -> dict[str, Any]:
    """The stack metadata written next to the synthesized stacks."""
    path = outdir / METADATA_FILE
    if not path.is_file():
        raise PlatformError("nothing synthesized yet: run `platform synth` first", file=path)
    return json.loads(path.read_text())
