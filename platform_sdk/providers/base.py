"""The plug-in contract: what a cloud provides (`CloudPlugin`) and how its compiler builds stacks (`Compiler`).

A cloud is one package `platform_sdk/providers/<name>/` whose `plugin.py` defines `PLUGIN`, an instance of a
`CloudPlugin` subclass with one attribute or method per concern (environment-file section, kinds, limits,
stateful types, state backends, packaging, status, guardrails, checkov). Everything else in the SDK asks
the registry (`platform_sdk.providers`) instead of naming a cloud.

Compilers receive a StackContext (where to put Terraform resources) and return Handles: the neutral facts
other resources need (a bucket's URL, a function's identity), as literal values or cross-stack tokens.

Importing this module is cheap (pydantic and the neutral model only): the registry and every `plugin.py`
import it, and those are imported by code that must not pay for the CDK engine or a cloud SDK.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from platform_sdk.errors import did_you_mean
from platform_sdk.model import AlarmThreshold, Bucket, Cdn, Database, Function, Grant, Metric, Queue, Resource, Secret

if TYPE_CHECKING:
    from platform_sdk.cdk.raw import RawDataSource, RawResource
    from platform_sdk.conformance import TrustedNetwork
    from platform_sdk.envs import Environment
    from platform_sdk.model import Service
    from platform_sdk.profile import Profile
    from platform_sdk.rules import Rule


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
    trigger_queues: dict[str, Handle] = field(default_factory=dict)
    """Handles of the queues its `queue_message` triggers read, by neutral queue name."""
    invokers: list[tuple[Function, str]] = field(default_factory=list)
    """The functions granted `invokes` on this one, with the cloud label each is placed on."""

    cdns: tuple[Cdn, ...] = ()
    """The CDNs in front of the function: then the CDN is its only way in (its own URL admits only them)."""


@dataclass
class BaseNeeds:
    """What the service stacks of one (environment, cloud) need from that cloud's base stack.

    Everything project- or account-wide (API enablement, service-agent bindings, custom roles, the alert channel
    and the budget; later the DNS zone) has exactly one owner: the base stack `<env>-base-<cloud>`, which every service
    stack of the cloud depends on. Compilers say what they need while they compile service resources
    (`ctx.needs.add("api", "run.googleapis.com")`); the plug-in's `Compiler.base` then builds each need once, in
    the base stack. Kinds and values are the plug-in's own vocabulary, plain strings, so they are recorded in
    `platform.json` and a deployed base keeps serving them while the environment exists: a move never takes a
    shared prerequisite away from the stacks that stay.
    """

    entries: dict[str, set[str]] = field(default_factory=dict)

    def add(self, kind: str, *values: str) -> None:
        self.entries.setdefault(kind, set()).update(values)

    def of(self, kind: str) -> list[str]:
        """The values of one kind, sorted (what `Compiler.base` builds, in a stable order)."""
        return sorted(self.entries.get(kind, ()))

    def update(self, recorded: Mapping[str, Any]) -> None:
        """Add what a deployed base stack recorded (`to_json` of an earlier synthesis)."""
        for kind, values in recorded.items():
            if isinstance(values, list):
                self.add(kind, *(str(v) for v in values))

    def to_json(self) -> dict[str, list[str]]:
        return {kind: self.of(kind) for kind in sorted(self.entries) if self.entries[kind]}

    def __bool__(self) -> bool:
        return any(self.entries.values())


class StackContext:
    """One Terraform stack being built: (environment, service, cloud).

    `needs`: what this stack needs from its cloud's base stack (shared by every stack of that cloud label).
    `stack` is the engine's stack (for providers, backends, modules and a platform team's own constructs);
    resources, data sources and outputs go to its `document` as plain Python objects (platform_sdk.cdk.raw).
    """

    def __init__(self, env: Environment, service: Service, cloud: str, target: str, stack: Any, name: str,
                 project_dir: Path, profile: Profile, stack_dir: Path | None = None,
                 needs: BaseNeeds | None = None, build_dir: Path | None = None) -> None:
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
        # Where a compiler writes files it builds itself (next to the function packages), before they become assets.
        self.build_dir = build_dir or project_dir / ".platform" / "packages" / env.name
        self.shared: dict[str, Any] = {}
        self.needs = needs if needs is not None else BaseNeeds()
        self.inputs: dict[str, str] = {}
        self._document: Any = None

    @property
    def document(self) -> Any:
        """The stack's `StackDocument` (platform_sdk.cdk.document), made on first use."""
        if self._document is None:
            from platform_sdk.cdk.document import StackDocument

            self._document = StackDocument.of(self.stack, self.name)
        return self._document

    def resource(self, terraform_type: str, id: str, attributes: dict[str, Any]) -> RawResource:
        from platform_sdk.cdk.raw import RawResource

        return RawResource(self.document, id, terraform_type, attributes)

    def data(self, terraform_type: str, id: str, attributes: dict[str, Any]) -> RawDataSource:
        from platform_sdk.cdk.raw import RawDataSource

        return RawDataSource(self.document, id, terraform_type, attributes)

    def once(self, key: str, build: Any) -> Any:
        """Build a stack-wide construct (a provider, an account lookup) once and reuse it."""
        if key not in self.shared:
            self.shared[key] = build()
        return self.shared[key]

    def asset(self, package: FunctionPackage) -> str:
        """Hand a built package to CDKTF (which copies it into the stack's folder); returns its path there.

        The path is CDKTF's (terraform-asset.ts: `assets/<logical id>/<hash>/<file name>`), computed here to save
        a round trip to the engine per function.
        """
        from platform_sdk.cdk.document import make_unique_id
        from platform_sdk.cdk.engine import AssetType, TerraformAsset

        construct_id = f"{package.function.name}-package"
        self.document.claim(construct_id)
        TerraformAsset(self.stack, construct_id, path=str(package.path), type=AssetType.FILE,
                       asset_hash=package.sha256)
        return f"assets/{make_unique_id(construct_id)}/{package.sha256}/{package.path.name}"

    def file_asset(self, id: str, path: Path, sha256: str) -> str:
        """Hand a file a compiler built (in `build_dir`) to CDKTF; returns its path relative to the stack's working
        directory. `sha256` (hex) is its content hash, so an unchanged file keeps its asset path."""
        from platform_sdk.cdk.engine import AssetType, TerraformAsset

        asset = TerraformAsset(self.stack, id, path=str(path), type=AssetType.FILE, asset_hash=sha256)
        return asset.path

    def output(self, id: str, value: Any, description: str = "", sensitive: bool = False) -> None:
        self.document.output(id, value, description=description or None, sensitive=sensitive or None)

    def resolve(self, value: Any) -> Any:
        """`value` for a construct of your own in this stack (`ctx.stack`): references rendered as Terraform
        expressions (a reference to another stack's resource is wired through its outputs and remote state)."""
        return self.document.resolve(value)

    def input(self, name: str, digest: str) -> None:
        """Declare something Terraform reads while planning this stack that its configuration does not show
        (a secret's version, files uploaded by path): `platform plan` plans the stack when `digest` changes."""
        self.inputs[name] = digest

    def input_files(self, name: str, path: Path) -> None:
        """`input()` with the sha256 of a file, or of every file under a directory (names and contents)."""
        import hashlib

        digest = hashlib.sha256()
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            digest.update(f"{file.relative_to(path) if path.is_dir() else file.name}\0".encode())
            digest.update(hashlib.sha256(file.read_bytes()).digest())
        self.inputs[name] = digest.hexdigest()

    def physical_name(self, resource: Resource, suffix: str = "") -> str:
        """The organisation's name for a resource (naming convention from the profile); a renamed resource keeps the
        name of what it was renamed from (`Resource.physical_key`)."""
        key = resource.physical_key + (f"-{suffix}" if suffix else "")
        return self.profile.physical_name(self.env, self.service.name, key)

    def tags(self, resource: Resource | None = None) -> dict[str, str]:
        """Standard and mandatory tags: what it is, who owns it, where it belongs (from the profile)."""
        return self.profile.tags(self.env, self.service, resource)

    def labels(self, resource: Resource | None = None) -> dict[str, str]:
        """Tags as GCP labels: lowercase keys/values of letters, digits, '-' and '_'."""
        def clean(text: str) -> str:
            return re.sub(r"[^a-z0-9_-]", "-", text.lower())[:63]
        return {clean(k): clean(v) for k, v in self.tags(resource).items()}

    def setting(self, resource: Resource, key: str, default: Any) -> Any:
        """A per-resource setting this cloud's plug-in adds (`CloudPlugin.resource_settings`): the environment
        file's `[overrides."service.resource"] key`, else `default`.

        The neutral model's own settings (`memory`, `domain`, ...) are not read here: synthesis applies the
        environment's values to the model before compiling (`platform_sdk.synth.overrides`), so compilers read
        them from the resource itself.
        """
        return self.env.override(resource.address, key, default)

    def size(self, kind: str, tier: str, key: str, default: Any) -> Any:
        """A size-table entry: the env file's `[sizes.KIND.TIER]`, then the profile's table, then the default."""
        value = self.env.sizes.get(kind, {}).get(tier, {}).get(key)
        if value is None:
            value = self.profile.size(kind, tier, key)
        return default if value is None else value


class Compiler(ABC):
    """Maps every neutral resource kind to Terraform resources for one cloud."""

    target: ClassVar[str]
    known_kinds: ClassVar[frozenset[str]] = frozenset()
    """Kinds whose handle `known_handle` gives as values known before apply, usable by a function in another stack
    of this cloud before the resource exists (an IAM policy may name a bucket that does not exist yet; a binding
    on the bucket itself may not). Synthesis wires one grant of a cycle between two stacks this way."""

    def known_handle(self, ctx: StackContext, resource: Resource) -> Handle:
        """The handle of `resource` (one of `known_kinds`, in its own stack `ctx`) as literal values: the same
        attributes consumers read from the compiled handle, derived from the naming convention."""
        raise NotImplementedError(f"{self.target} gives no known values for {resource.kind}s")

    def problems(self, resource: Resource, env: Environment) -> list[str]:
        """Capabilities this cloud lacks for the resource, as 'missing X' phrases (empty = fine)."""
        return []

    def bucket_name_problems(self, name: str) -> list[str]:
        return []

    def internet_refusal(self, env: Environment, fn: Function) -> str | None:
        """Why `fn`, declared `internet=True`, could not reach the internet on this cloud in `env` (synthesis
        refuses it there, naming the environment file's key), or None when it can. A rehearsal of `env` cuts the
        function off from the internet with this message instead (platform_sdk.synth.rehearsal)."""
        return None

    @abstractmethod
    def configure(self, ctx: StackContext) -> None:
        """Provider blocks (pinned versions) for a new stack."""

    # One method per kind. A plug-in implements those in its `kinds`; placement refuses the others before
    # anything is compiled, so these defaults are never reached.
    def bucket(self, ctx: StackContext, bucket: Bucket) -> Handle:
        raise NotImplementedError(f"{self.target} has no buckets")

    def database(self, ctx: StackContext, database: Database) -> Handle:
        raise NotImplementedError(f"{self.target} has no databases")

    def secret(self, ctx: StackContext, secret: Secret) -> Handle:
        """The secret's container only (never a value); the handle's `url` is what `CloudPlugin.secret_url` says."""
        raise NotImplementedError(f"{self.target} has no secrets")

    def queue(self, ctx: StackContext, queue: Queue) -> Handle:
        """The queue and its dead-letter queue; the handle's `url` is what `fn.sends(queue)` injects (its runtime client
        opens it, `platform_sdk.runtime.queues.open_queue`)."""
        raise NotImplementedError(f"{self.target} has no queues")

    def function(self, ctx: StackContext, fn: Function, inputs: FunctionInputs) -> Handle:
        """The function with its triggers and grants. The handle's `call_url` is what `caller.invokes(fn)` injects
        into callers on the same cloud (`platform_sdk.runtime.functions.open_function`)."""
        raise NotImplementedError(f"{self.target} has no functions")

    def cdn(self, ctx: StackContext, cdn: Cdn, origins: Mapping[Resource, Handle]) -> Handle:
        """The CDN in front of every origin of `cdn.route_origins`; `origins` holds each origin's handle."""
        raise NotImplementedError(f"{self.target} has no CDNs")

    # -- shared prerequisites --------------------------------------------------------------------------------
    def base(self, ctx: StackContext, needs: BaseNeeds) -> None:
        """Build, in the cloud's base stack `ctx` (`<env>-base-<cloud>`), every project- or account-wide
        prerequisite the service stacks asked for in `needs`. Called once per (environment, cloud), after every
        service stack was compiled, and only when `needs` is not empty; every service stack of the cloud then
        depends on the base stack, moves never move it and a destroy removes it last. A plug-in whose compiler
        records needs (`ctx.needs.add(...)`) implements it; a cloud that shares nothing never gets here."""
        raise NotImplementedError(f"{self.target} builds no base stack, yet its stacks need {needs.to_json()}")

    # -- observability (issue 20) --------------------------------------------------------------------------------
    # Called after every base stack was built (so an alarm can reference the alert channel there), once per service
    # stack of this compiler. The environment's `[alerts]` channel and `[budget]` are base-stack needs the compiler
    # records while it compiles (`ctx.needs`). A cloud without monitoring (the local cloud) keeps these no-ops.
    def alarms(self, ctx: StackContext, handle: Handle, thresholds: list[AlarmThreshold]) -> None:
        """The alarms of one compiled resource (`handle`) whose kind has alarms (`platform_sdk.model.ALARM_KEYS`),
        one per threshold (already resolved: environment file, declaration, profile, defaults; empty when the
        resource's alarms are off), each notifying the environment's alert channel. The per-kind hook: a plug-in
        dispatches on `handle.resource.kind` (a new kind adds its builder there)."""
        return None

    def dashboard(self, ctx: StackContext, handles: list[Handle], metrics: list[Metric]) -> None:
        """One dashboard for the service of stack `ctx`: its functions' invocations, errors and duration, its CDNs'
        requests and error rate (`handles`: every resource compiled into the stack), and every business metric the
        service declares (`metrics`), with whatever this cloud needs to collect them (a log-based metric)."""
        return None

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


# ====================================================================================================== plug-ins

class CloudConfig(BaseModel):
    """A cloud's environment-file section (`[clouds.<name>]`); each plug-in subclasses it with its own keys.

    `stand_in` names another cloud whose compiler builds this cloud's stacks (the local cloud, for
    rehearsals); only a plug-in with `hosts_stand_ins` may be named.
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    stand_in: str | None = Field(None, description="Compile this cloud's stacks with another cloud's plug-in "
                                 "instead (`\"local\"`: a local stand-in, for rehearsals on a laptop).")


class StateBackend(BaseModel):
    """A `[state]` section: `backend` picks the plug-in (or the built-in local file) that keeps Terraform state."""

    model_config = ConfigDict(extra="forbid", strict=True)

    backend: str = Field(description="Which backend keeps the Terraform state.")
    shared: ClassVar[bool] = True
    """False: the state lives on this machine only, so no other machine (a CI job's runner) can apply from it."""


@dataclass(frozen=True)
class FunctionLimits:
    """What a cloud's function service accepts, checked on the effective values (the env file's overrides win).

    Ranges are inclusive; `source` names the documentation page the numbers come from.
    """

    runtimes: tuple[str, ...]
    memory_mb: tuple[int, int]
    timeout_s: tuple[int, int]
    source: str = ""
    environment_bytes: int | None = None
    """The most bytes a function's environment variables may take in aggregate, as `environment_size` measures
    them (None: no limit)."""
    environment_size: Callable[[Mapping[str, str]], int] | None = None
    """How the cloud measures a function's variables, in bytes (default: names and values, UTF-8). Called with what
    is known at synthesis: a reference resolved only at apply (`${...}`) counts as empty, so the size is a lower
    bound and a refusal is certain."""
    environment_source: str = ""
    """The documentation page `environment_bytes` comes from."""

    def environment_problem(self, address: str, variables: Mapping[str, str], cloud: str) -> str | None:
        """"function <address>'s environment variables take N bytes, over the M bytes <cloud> allows ..." when
        `variables` exceed `environment_bytes`; None when they fit (or there is no limit)."""
        if self.environment_bytes is None:
            return None
        known = {name: UNRESOLVED.sub("", value) for name, value in variables.items()}
        size = (self.environment_size or names_and_values_size)(known)
        if size <= self.environment_bytes:
            return None
        return (f"function {address}'s environment variables take {size} bytes, over the {self.environment_bytes} "
                f"bytes {cloud} allows a function in aggregate ({self.environment_source})")


UNRESOLVED = re.compile(r"[$#&]\{[^{}]*\}")
"""A reference Terraform resolves at apply (`${aws_s3_bucket.x.bucket}`, a synthesis marker `${@3}`, a CDKTF token)."""


def names_and_values_size(variables: Mapping[str, str]) -> int:
    """The bytes of every variable's name and value, UTF-8 encoded."""
    return sum(len(name.encode()) + len(value.encode()) for name, value in variables.items())


@dataclass(frozen=True)
class Pattern:
    """The form of a string key of an environment file, with its words: `Annotated[str, Pattern(VPC_ID, "a VPC id
    (vpc- and 8 to 17 hex digits, e.g. vpc-0a1b2c3d)")]`. A value the regular expression does not find (searched, as
    pydantic's `pattern` is; write `^...$`) is refused as "must be <words>", with the closest of the expression's
    literal alternatives (`external` in `^(Z[A-Z0-9]{1,31}|external)$`) as a did-you-mean; the JSON schema keeps the
    expression as `pattern`.
    """

    regex: str
    words: str

    @property
    def literals(self) -> list[str]:
        """The alternatives of the expression that are plain words (`external`)."""
        return re.findall(r"(?<=[(|])[a-z]+(?=[|)])", self.regex)

    def check(self, value: str) -> str:
        """`value`, or a PydanticCustomError (`string_pattern_mismatch`) in the words of the key."""
        if re.search(self.regex, value) is None:
            raise PydanticCustomError("string_pattern_mismatch", "must be {words}{hint}",
                                      {"words": self.words, "hint": did_you_mean(value, self.literals)})
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json = handler(schema)
        json["pattern"] = self.regex
        return json


@dataclass(frozen=True)
class Setting:
    """A key a cloud plug-in adds to environment files: a per-resource setting (`CloudPlugin.resource_settings`,
    under `[overrides."service.resource"]`) or a size-table entry (`CloudPlugin.size_settings`, under
    `[sizes.<kind>.<tier>]`).

    `type` is the TOML value's Python type (`int`, `str` or `bool`); `choices`, `pattern` (said as `form`, words
    like "an RDS instance class like db.t4g.micro", in messages) and the inclusive `minimum`/`maximum` restrict it
    further. `default` and `unit` are words for messages and the generated
    reference (docs/environment-reference.md); `source` names the documentation page the facts come from.
    """

    key: str
    type: type
    description: str
    default: str = ""
    unit: str = ""
    choices: tuple[object, ...] = ()
    pattern: str = ""
    form: str = ""
    minimum: int | None = None
    maximum: int | None = None
    source: str = ""

    def problem(self, value: object) -> str | None:
        """Why `value` is not acceptable (a phrase for the message), or None."""
        names = {int: "a whole number", str: "a string", bool: "true or false"}
        wrong_type = not isinstance(value, self.type) or (self.type is int and isinstance(value, bool))
        if wrong_type:
            return f"{self.key} must be {names.get(self.type, self.type.__name__)}"
        if self.choices and value not in self.choices:
            return f"{self.key} must be one of {', '.join(map(str, self.choices))}"
        if self.pattern and not re.fullmatch(self.pattern, str(value)):
            return f"{self.key} must be {self.form}" if self.form else f"{self.key} must match {self.pattern}"
        if isinstance(value, int) and not isinstance(value, bool):
            low, high = self.minimum, self.maximum
            if (low is not None and value < low) or (high is not None and value > high):
                bounds = f"from {low} to {high}" if low is not None and high is not None else (
                    f">= {low}" if low is not None else f"<= {high}")
                return f"{self.key} must be {bounds}" + (f" {self.unit}" if self.unit else "")
        return None

    def describe(self) -> str:
        """The constraint in words, for the reference: `one of 1, 3, 5`, `from 1 to 1000 instances`."""
        if self.choices:
            return "one of " + ", ".join(map(str, self.choices))
        if self.pattern:
            return f"matches `{self.pattern}`"
        if self.minimum is not None or self.maximum is not None:
            return f"from {self.minimum} to {self.maximum}" if self.maximum is not None else f">= {self.minimum}"
        return ""


@dataclass(frozen=True)
class Packaging:
    """How function packages are built for a cloud.

    `entry_module`/`entry_symbol`: the generated module the cloud loads and the callable in it.
    `ships_runtime`: copy the platform runtime into the package (False when functions run in the project's
    own environment, which has the SDK installed). `limits`: (zipped, unzipped) bytes, None = no limit.
    `vendoring`: how third-party dependencies get there (synth/vendoring.py): "wheels" (binary wheels for
    `CloudPlugin.wheel_platforms`, unpacked into the package), "requirements" (a requirements.txt the cloud
    installs) or "none". `runtime_name`: the function service, for messages ("AWS Lambda").
    """

    entry_module: str = "_platform_entry"
    entry_symbol: str = "handler"
    ships_runtime: bool = True
    limits: tuple[int, int] | None = None
    vendoring: str = "none"
    runtime_name: str = ""


@dataclass(frozen=True)
class MirroredProvider:
    """A Terraform provider written in Python, which Terraform installs from the project's filesystem mirror.

    `source` must live under the mirror's hostname (`platform.local/<namespace>/<type>`); `module` is run with
    `python -m` (see platform_sdk.localcloud.mirror). `attachable`: the module can also be started by `platform`
    for a stack's Terraform commands to reattach to (it serves without TLS when `mirror.ATTACH_ENV_VAR` is "1" and
    takes a new configuration on every ConfigureProvider; see platform_sdk.terraform.attach). Default False.
    """

    source: str
    version: str
    module: str
    attachable: bool = False


@dataclass
class Step:
    """One thing `platform bootstrap` made sure of."""

    kind: str  # "directory", "s3 bucket", "dynamodb table", "gcs bucket"
    name: str
    status: str  # "created" or "exists"
    detail: str = ""

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name, "status": self.status, "detail": self.detail}


NOT_FOUND = "NotFound"
UNKNOWN = "Unknown"


@dataclass(frozen=True)
class FunctionRef:
    """One function as synthesized: where it should be and which package it should run."""

    service: str
    function: str
    address: str          # neutral address, "service.function"
    stack: str
    cloud: str            # the placement label
    target: str           # which plug-in built it (a stand-in cloud has the stand-in's name)
    resource: str         # Terraform address in its stack
    name: str             # physical name
    expected_sha256: str | None
    region: str | None = None    # region / location
    project: str | None = None   # project, where the cloud has one


@dataclass
class FunctionStatus:
    """What the cloud reported for one function (state NotFound when it is not deployed)."""

    service: str
    function: str
    address: str
    stack: str
    cloud: str
    target: str
    name: str
    state: str
    url: str | None = None
    runtime: str | None = None
    code_hash: str | None = None       # hex sha256 of the deployed package, when the cloud tells us
    expected_hash: str | None = None   # hex sha256 of the synthesized package
    drifted: bool | None = None        # None: not deployed, or the cloud gives no comparable hash
    last_update: str | None = None
    detail: str | None = None
    reached: str | None = None         # how it is reached when not (only) at `url`: "via CDN ...", "queue svc.q"
    changed_outside: bool = False      # its code was changed outside Terraform (edited in place), where the cloud tells

    @classmethod
    def of(cls, ref: FunctionRef, state: str, **values: Any) -> FunctionStatus:
        """A status for `ref`; drift is decided here, the same way for every cloud."""
        status = cls(service=ref.service, function=ref.function, address=ref.address, stack=ref.stack,
                     cloud=ref.cloud, target=ref.target, name=ref.name, state=state,
                     expected_hash=ref.expected_sha256, **values)
        if status.code_hash and status.expected_hash:
            status.drifted = status.code_hash.lower() != status.expected_hash.lower()
        if status.changed_outside:
            status.drifted = True  # whatever package it came from, it is not running that package any more
        return status

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LogEntry:
    """One line a deployed function logged, as its cloud returns it (`platform logs`).

    `time`: aware UTC; `function`: the neutral address (`service.function`); `request_id`: the invocation that wrote
    it, when the cloud or the line tells (None otherwise); `message`: the text (a JSON line stays JSON text).
    """

    time: datetime
    function: str
    request_id: str | None
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"time": self.time.isoformat().replace("+00:00", "Z"), "function": self.function,
                "request_id": self.request_id, "message": self.message}


@dataclass(frozen=True)
class StageNote:
    """One setting a new stage (`platform env new`) does not copy as its source has it: `table` (`clouds.aws`,
    `clouds.aws.network`, `""` for the top level) and `key` name it, `was` is the source's value (a TOML value, or
    a table's keys), `now` the stage's (None: left out, and written into the new file as a comment), `reason` why
    and what to do about it."""

    table: str
    key: str
    was: Any
    reason: str
    now: Any = None


def unresolved(name: str) -> bool:
    """A physical name that is a Terraform expression cannot be looked up before apply."""
    return "${" in name


class CloudPlugin:
    """Everything the platform knows about one cloud; subclass it once per cloud (see the module docstring).

    Attributes with defaults are the capabilities a minimal cloud lacks; a new cloud sets what it has.
    """

    name: ClassVar[str]
    """The cloud's name in environment files (`default_cloud`, `[placement]`, `[clouds.<name>]`)."""
    config: ClassVar[type[CloudConfig]] = CloudConfig
    """Its `[clouds.<name>]` section."""
    section_required: ClassVar[bool] = True
    """False: usable without a `[clouds.<name>]` section (its defaults apply)."""
    hosts_stand_ins: ClassVar[bool] = False
    """True: other clouds may say `stand_in = "<name>"` and be compiled by this plug-in."""
    default: ClassVar[bool] = False
    """True for the one built-in cloud an environment uses when it names no `default_cloud`."""
    extra: ClassVar[str | None] = None
    """The optional-dependency extra of platform-sdk that installs the SDKs its plug-in code imports
    (`pip install 'platform-sdk[<extra>]'`, pyproject.toml `[project.optional-dependencies]`); None: it needs none."""
    kinds: ClassVar[frozenset[str]] = frozenset()
    """The neutral kinds it implements (`bucket`, `function`, ...); placement refuses the others."""
    function_limits: ClassVar[FunctionLimits | None] = None
    resource_settings: ClassVar[Mapping[str, tuple[Setting, ...]]] = {}
    """Per-resource keys it adds under `[overrides."<service.resource>"]`, by kind (`function`: (...)): valid on a
    resource placed on this cloud (or compiled by it as a stand-in); its compiler reads them with `ctx.setting`."""
    size_settings: ClassVar[Mapping[str, tuple[Setting, ...]]] = {}
    """Keys of `[sizes.<kind>.<tier>]` its compiler reads (with `ctx.size`), by kind."""
    stateful_types: ClassVar[frozenset[str]] = frozenset()
    """Terraform types whose destroy or replace loses data: the plan report flags them."""
    state_backends: ClassVar[Mapping[str, type[StateBackend]]] = {}
    """`[state] backend = "<key>"` values it keeps Terraform state with, and their sections."""
    backend_missing: ClassVar[tuple[str, ...]] = ()
    """Terraform's words when one of its state buckets or lock tables does not exist (-> `platform bootstrap`)."""
    bucket_access_from: ClassVar[frozenset[str]] = frozenset()
    """Plug-ins whose functions reach this cloud's buckets (keyless federation across clouds, or the same cloud
    across stand-in labels)."""
    secret_access_from: ClassVar[frozenset[str]] = frozenset()
    """Plug-ins whose functions read this cloud's secrets (like `bucket_access_from`)."""
    queue_access_from: ClassVar[frozenset[str]] = frozenset()
    """Plug-ins whose functions send to this cloud's queues (like `bucket_access_from`)."""
    function_access_from: ClassVar[frozenset[str]] = frozenset()
    """Plug-ins whose functions invoke this cloud's functions (like `bucket_access_from`)."""
    primary_types: ClassVar[Mapping[str, str]] = {}
    """Kind -> the Terraform type of the block that *is* a resource of that kind (`bucket`: `aws_s3_bucket`): what
    an escape hatch's `tf.ref(resource, attribute)` points at."""
    unique_names: ClassVar[Mapping[str, str]] = {}
    """Terraform type -> the argument naming its objects, where the cloud keeps one object per name in the account or
    project an environment deploys that cloud to (or in the whole cloud: bucket names): two blocks of the type with one
    literal value there are one object, which synthesis refuses (`physical_names`, platform_sdk.synth.unique_names).
    Types named only within a parent object (an IAM role's inline policy, a permission's statement id) are not
    listed."""
    packaging: ClassVar[Packaging] = Packaging()
    runtime_requirements: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    """What the shipped runtime imports lazily on this cloud, per granted kind (`function`: always)."""
    client_requirements: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    """What a function on another cloud needs to reach this cloud's resources, per kind."""
    function_type: ClassVar[tuple[str, str] | None] = None
    """(Terraform type, attribute holding the physical name) of its functions, for `platform status`."""

    def physical_names(self, env: Environment, terraform_type: str,
                       body: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(namespace, name) of every object one synthesized block of `env` makes whose name the cloud holds once per
        namespace (an account, a project, a Region of one): by default the `unique_names` argument, the block's type as
        the namespace. `body` is the block as Terraform reads it (`provider` included when the block sets one). A name
        that is a Terraform expression (known only at apply) is not among them. A plug-in adds the Region to the
        namespace of a regional type, and the named objects its resources make that their blocks do not show."""
        argument = self.unique_names.get(terraform_type)
        value = body.get(argument) if argument is not None else None
        return [(terraform_type, value)] if isinstance(value, str) and "${" not in value else []

    def helper_function(self, body: Mapping[str, Any]) -> bool:
        """Whether a block of `function_type` is one of the platform's own helpers (a database setup function, a
        CDN's edge function) rather than one of the estate's functions: not listed by `platform status` or `logs`,
        no alarms of its own. Default: none is."""
        return False
    credential_files: ClassVar[tuple[str, ...]] = ()
    """Where the cloud's tools keep a machine's credentials (gitignore syntax, e.g. `.aws/`): never shipped in a
    function package or content upload (platform_sdk.synth.sources)."""
    database_system_roles: ClassVar[tuple[str, ...]] = ()
    """PostgreSQL role name patterns (`LIKE` syntax) of the cloud's managed database service's own roles, which a
    move never makes read only (platform_sdk.move.db.postgres): e.g. RDS's `rds%`."""
    checkov: ClassVar[bool] = False
    """Scan its stacks with checkov in `platform check`."""
    checkov_accepted: ClassVar[Mapping[str, tuple[str, str]]] = {}
    """Checkov findings the model or profile declares on purpose: check id -> (declaration, reason). The
    declarations are neutral (`public-function`, `no-database`, `no-domain`, `unversioned`, `single-zone`,
    `no-kms-key`, `short-retention`; see platform_sdk.gate)."""
    checkov_skips: ClassVar[Mapping[str, str]] = {}
    """Checkov checks that do not fit how its compiler builds things, for every project: check id -> reason."""
    schema_files: ClassVar[tuple[str, ...]] = ()
    """Vendored provider schemas (file names next to its plugin module) the schema check validates against."""
    unchecked_prefixes: ClassVar[tuple[str, ...]] = ()
    """Terraform type prefixes emitted without a vendored schema (the schema check skips them)."""
    terraform_providers: ClassVar[tuple[MirroredProvider, ...]] = ()
    """Its own Terraform providers served from the filesystem mirror (no registry download)."""

    # -- environment file ----------------------------------------------------------------------------------
    def settings(self, env: Environment) -> CloudConfig:
        """The environment's `[clouds.<name>]` section, or its defaults."""
        return env.clouds.get(self.name) or self.config()

    # -- synthesis -----------------------------------------------------------------------------------------
    def compiler(self, env: Environment) -> Compiler:
        """The compiler building this cloud's stacks for `env` (imported lazily: it may need the CDK engine)."""
        raise NotImplementedError(f"{self.name} has no compiler")

    def function_problems(self, fn: Function, effective: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(setting, problem) for each effective function setting this cloud refuses (`function_limits`): `effective`
        holds `runtime`, `memory`, `timeout` and `environment` (the variables the code and the environment file
        set; the compiler checks again with those the platform adds)."""
        limits = self.function_limits
        if limits is None:
            return []
        found: list[tuple[str, str]] = []
        runtime, memory, timeout = effective["runtime"], effective["memory"], effective["timeout"]
        if runtime not in limits.runtimes:
            found.append(("runtime", f"runtime must be one of {', '.join(limits.runtimes)} on {self.name}"))
        for key, value, (low, high), unit in (("memory", memory, limits.memory_mb, "MB"),
                                              ("timeout", timeout, limits.timeout_s, "seconds")):
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                found.append((key, f"{key} must be a whole number of {unit} from {low} to {high} on {self.name}"))
        problem = limits.environment_problem(fn.address, effective.get("environment", {}), self.name)
        if problem:
            found.append(("environment", problem))
        return found

    def secret_url(self, project_root: Path, env: Environment, cloud: str, physical_name: str) -> str:
        """Where the value of a secret this plug-in builds under cloud label `cloud` lives, as the URL its runtime
        client opens (`platform_sdk.runtime.secrets.open_secret`): what the CLI sets, generates, lists and copies,
        known without Terraform. `physical_name` is the profile's name for the secret."""
        raise NotImplementedError(f"{self.name} has no secrets")

    def backend(self, stack: Any, state: StateBackend, env: Environment, stack_name: str) -> None:
        """Declare the Terraform backend of one stack for one of its `state_backends`."""
        raise NotImplementedError(f"{self.name} keeps no Terraform state")

    def bootstrap(self, env: Environment, state: StateBackend) -> list[Step]:
        """Create what one of its state backends needs (idempotent: "exists" the second time)."""
        raise NotImplementedError(f"{self.name} keeps no Terraform state")

    def state_document(self, env: Environment, state: StateBackend, name: str) -> Any:
        """A JSON document `name` next to the environment's state in one of its backends, with its own lock
        (`platform_sdk.state_documents.Document`: describe, read, write, acquire, release, force_release)."""
        raise NotImplementedError(f"{self.name} keeps no Terraform state")

    def stage_state(self, stem: str, section: CloudConfig | None,
                    current: StateBackend | None) -> StateBackend | None:
        """The state backend of a new stage (`platform env new`) whose names derive from `stem`
        (`<name_prefix>-<stage>`: state buckets share the global bucket namespace, and stages share a prefix):
        `current`, one of this plug-in's backends copied from the source stage, renamed; or, when `current` is
        None, this cloud's usual backend in `section`'s region. None: the stage keeps its state in local files."""
        return None

    def stage_settings(self, name: str, data: dict[str, Any], source: Environment,
                       services: list[Service]) -> list[StageNote]:
        """Adjust new stage `name`'s environment file `data` (`platform env new`: the TOML tables copied from `source`,
        already moved onto `--cloud` if given) in place, so that it synthesizes and never breaks `source`: what
        exists once per account, project or network and `source`'s base stack creates (a DNS zone, a NAT gateway,
        a VPC's gateway endpoint) is referenced or left out instead of created a second time, and what the new
        stage must be given is left out with a note. `services`: the project's, for what depends on them.
        Returns one note per setting changed or left out. Default: copy everything."""
        return []

    def state_records(self, env: Environment, state: StateBackend) -> Any:
        """Where the stacks' records live next to their state in one of its backends: an object with
        `read(stack) -> bytes | None`, `write(stack, data)` and `describe(stack) -> str`
        (platform_sdk.terraform.records.RecordStore)."""
        raise NotImplementedError(f"{self.name} keeps no Terraform state")

    def wheel_platforms(self, python_version: str, arch: str = "x86_64") -> list[str]:
        """pip `--platform` tags of its function runtime for "wheels" vendoring, best first (`3.11` -> tags)."""
        raise NotImplementedError(f"{self.name} does not vendor wheels")

    # -- adoption (platform adopt) ------------------------------------------------------------------------
    def import_id(self, kind: str, body: Mapping[str, Any], env: Environment) -> str | None:
        """The id `terraform import` takes for the primary block (`primary_types[kind]`) the compiler emitted with
        `body` in `env`, as the provider's import documentation spells it; None for a kind it cannot adopt."""
        return None

    def live_differences(self, kind: str, blocks: Mapping[str, Mapping[str, Any]], import_id: str,
                         env: Environment, client: Any = None) -> list[str]:
        """How the existing object `import_id` differs from its declaration, read from the cloud before anything is
        imported: one line per setting, "<setting>: live <value>, declared <value>" (a missing object is one line
        too). `blocks`: every block synthesis emitted for the resource, Terraform address -> body; `client` may be
        injected by tests. Empty when they agree or the cloud has nothing to compare."""
        return []

    # -- operations ----------------------------------------------------------------------------------------
    def function_location(self, doc: Mapping[str, Any], body: Mapping[str, Any]) -> tuple[str | None, str | None]:
        """(region, project) of a synthesized function resource `body` in stack `doc`, where known."""
        return None, None

    def status_checks(self, project_root: Path, env: Environment, refs: list[FunctionRef],
                      client: Any = None) -> list[Callable[[], FunctionStatus]]:
        """One callable per function asking the cloud itself (`client` may be injected by tests)."""
        return [lambda ref=ref: FunctionStatus.of(ref, UNKNOWN, detail=f"{self.name} reports no status")
                for ref in refs]

    def fetch_logs(self, project_root: Path, env: Environment, refs: list[FunctionRef], since: datetime,
                   client: Any = None) -> list[LogEntry]:
        """What the functions `refs` logged at or after `since`, oldest first, read from the cloud's own log service
        (`client` may be injected by tests). `platform logs` polls it again with a later `since` to follow."""
        raise NotImplementedError(f"{self.name} keeps no function logs the platform can read")

    def invalidate_cdn(self, env: Environment, cdn_url: str, paths: list[str], client: Any = None) -> str | None:
        """Make the CDN at `cdn_url` (its `cdn_<name>_url` stack output) drop its cached copies of `paths`
        (`/`-rooted, URL-encoded: `/index.html`), after `platform apply` replaced or deleted those objects in a
        bucket it serves (`client` may be injected by tests). Returns the cloud's id of the invalidation; None when
        this cloud's CDN keeps no cache the platform invalidates (the default: the local gateway caches nothing)."""
        return None

    def after_apply(self, env: Environment, outputs: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, bool]]:
        """A step `platform apply` runs once Terraform applied, through the cloud's own clients (the GCP plug-in
        grants its Cloud SQL function users their database rights). `outputs`: every settled stack of this plug-in
        (applied, or unchanged) -> its output values. Returns one (line to show, failed) per thing it did; a failed
        one makes the apply exit 1. Default: nothing to do."""
        return []

    def trusted_network(self, env: Environment) -> TrustedNetwork | None:
        """The bring-your-own network its `[clouds.<name>]` section describes, which the conformance analysis
        trusts as described (`TrustedNetwork(reaches=..., source="envs/prod.toml: clouds.aws.network")`); None:
        the section describes none, so the analysis checks the network the compilers emitted."""
        return None

    def check_environments(self, env: Environment, services: list[Service], others: list[Environment]) -> None:
        """Refuse `env` (raise PlatformError naming its file and key) when it cannot be deployed next to the
        project's other environments `others` (every other `envs/*.toml` that loads), e.g. both would build the
        same object that exists once per account or network. Called before synthesis builds anything
        (platform_sdk.synth.environments). Default: nothing to check."""

    def stack_rules(self) -> list[Rule]:
        """Its own guardrails on synthesized stacks (fresh instances)."""
        return []

    def untagged(self, doc: Mapping[str, Any], required: list[str]) -> list[tuple[str, str, str]]:
        """(type, id, problem) for each of its resources in stack `doc` missing one of the `required` tags."""
        return []

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
