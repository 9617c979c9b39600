"""The contract every cloud compiler fulfils: one method per neutral resource kind.

Compilers receive a StackContext (where to put Terraform resources) and return Handles: the neutral facts
other resources need (a bucket's URL, a function's identity), as literal values or cross-stack tokens.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from platform_sdk.model import Bucket, Cdn, Database, Function, Grant, Resource

if TYPE_CHECKING:
    from platform_sdk.cdk.raw import RawDataSource, RawResource
    from platform_sdk.envs import Environment
    from platform_sdk.model import Service
    from platform_sdk.profile import Profile


@dataclass
class Handle:
    """What a compiled resource exposes to the rest of the estate."""

    resource: Resource
    cloud: str
    target: str
    stack_name: str
    attrs: dict[str, str] = field(default_factory=dict)
    constructs: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> str:
        return self.attrs[key]


@dataclass
class FunctionPackage:
    """A built package: where it is, its hash and its size (checked against cloud limits)."""

    function: Function
    target: str
    path: Path
    sha256: str
    zipped_bytes: int
    unzipped_bytes: int
    entry_point: str
    largest: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class FunctionInputs:
    """Everything a compiler needs for a function besides the function itself."""

    package: FunctionPackage
    grants: list[tuple[Grant, Handle]]
    trigger_buckets: dict[str, Handle]
    environment: dict[str, str]


class StackContext:
    """One Terraform stack being built: (environment, service, cloud)."""

    def __init__(self, env: Environment, service: Service, cloud: str, target: str, stack: Any, name: str,
                 project_dir: Path, profile: Profile, stack_dir: Path | None = None) -> None:
        self.env = env
        self.service = service
        self.cloud = cloud
        self.target = target
        self.stack = stack
        self.name = name
        self.project_dir = project_dir
        self.profile = profile
        # The stack's Terraform working directory: relative paths in the stack resolve against it.
        self.stack_dir = stack_dir or project_dir / "cdktf.out" / env.name / "stacks" / name
        self.shared: dict[str, Any] = {}

    def resource(self, terraform_type: str, id: str, attributes: dict[str, Any]) -> RawResource:
        from platform_sdk.cdk.raw import RawResource

        return RawResource(self.stack, id, terraform_type, attributes)

    def data(self, terraform_type: str, id: str, attributes: dict[str, Any]) -> RawDataSource:
        from platform_sdk.cdk.raw import RawDataSource

        return RawDataSource(self.stack, id, terraform_type, attributes)

    def once(self, key: str, build: Any) -> Any:
        """Build a stack-wide construct (a provider, an account lookup) once and reuse it."""
        if key not in self.shared:
            self.shared[key] = build()
        return self.shared[key]

    def asset(self, package: FunctionPackage) -> str:
        """Hand a built package to CDKTF; returns its path relative to the stack's working directory."""
        from platform_sdk.cdk.engine import AssetType, TerraformAsset

        asset = TerraformAsset(self.stack, f"{package.function.name}-package", path=str(package.path),
                               type=AssetType.FILE, asset_hash=package.sha256)
        return asset.path

    def output(self, id: str, value: Any, description: str = "", sensitive: bool = False) -> None:
        from platform_sdk.cdk.engine import TerraformOutput

        TerraformOutput(self.stack, id, value=value, description=description or None, sensitive=sensitive or None)

    def physical_name(self, resource: Resource, suffix: str = "") -> str:
        """The organisation's name for a resource (naming convention from the profile)."""
        return self.profile.physical_name(self.env, self.service.name, resource.name + (f"-{suffix}" if suffix else ""))

    def tags(self, resource: Resource | None = None) -> dict[str, str]:
        """Standard and mandatory tags: what it is, who owns it, where it belongs (from the profile)."""
        return self.profile.tags(self.env, self.service, resource)

    def labels(self, resource: Resource | None = None) -> dict[str, str]:
        """Tags as GCP labels: lowercase keys/values of letters, digits, '-' and '_'."""
        def clean(text: str) -> str:
            return re.sub(r"[^a-z0-9_-]", "-", text.lower())[:63]
        return {clean(k): clean(v) for k, v in self.tags(resource).items()}

    def override(self, resource: Resource, key: str, default: Any) -> Any:
        """A per-environment override from the env file (`[overrides."service.resource"]`)."""
        return self.env.overrides.get(f"{self.service.name}.{resource.name}", {}).get(key, default)

    def size(self, kind: str, tier: str, key: str, default: Any) -> Any:
        """A size-table entry: the env file's `[sizes.KIND.TIER]`, then the profile's table, then the default."""
        value = self.env.sizes.get(kind, {}).get(tier, {}).get(key)
        if value is None:
            value = self.profile.size(kind, tier, key)
        return default if value is None else value


class Compiler(ABC):
    """Maps every neutral resource kind to Terraform resources for one cloud."""

    target: ClassVar[str]
    # Package limits: (zipped bytes, unzipped bytes), None = no limit enforced.
    package_limits: ClassVar[tuple[int, int] | None] = None

    def problems(self, resource: Resource, env: Environment) -> list[str]:
        """Capabilities this cloud lacks for the resource, as 'missing X' phrases (empty = fine)."""
        return []

    def bucket_name_problems(self, name: str) -> list[str]:
        return []

    @abstractmethod
    def configure(self, ctx: StackContext) -> None:
        """Provider blocks (pinned versions) for a new stack."""

    @abstractmethod
    def bucket(self, ctx: StackContext, bucket: Bucket) -> Handle: ...

    @abstractmethod
    def database(self, ctx: StackContext, database: Database) -> Handle: ...

    @abstractmethod
    def function(self, ctx: StackContext, fn: Function, inputs: FunctionInputs) -> Handle: ...

    @abstractmethod
    def cdn(self, ctx: StackContext, cdn: Cdn, origin: Handle) -> Handle: ...

    # -- cross-cloud access (keyless federation) -----------------------------------------------------------
    def identity_literal(self, env: Environment, profile: Profile, fn: Function) -> dict[str, str]:
        """The function's identity on this cloud as values known before anything is applied.

        Used by another cloud to trust it (e.g. an AWS role ARN, a GCP service account email).
        """
        raise NotImplementedError(f"{self.target} functions cannot reach resources on other clouds yet")

    def foreign_url(self, env: Environment, profile: Profile, grant: Grant, handle: Handle, function_target: str,
                    identity: dict[str, str]) -> str:
        """The URL a function on another cloud uses for this resource, with what it needs to federate.

        Must not reference the function's stack (the owner's stack references the function instead).
        """
        raise NotImplementedError(f"{self.target} resources cannot be reached from other clouds yet")

    def federate(self, ctx: StackContext, grant: Grant, handle: Handle, fn_handle: Handle,
                 identity: dict[str, str]) -> None:
        """In the resource's own stack: trust the foreign function's identity for exactly this grant."""
        raise NotImplementedError(f"{self.target} resources cannot be reached from other clouds yet")

    def handle(self, ctx: StackContext, resource: Resource, **attrs: str) -> Handle:
        return Handle(resource, ctx.cloud, self.target, ctx.name, dict(attrs))
