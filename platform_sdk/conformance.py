"""Conformance analysis: would every function of a synthesized environment be able to do, on its cloud, what the
neutral model says it does?

The schema check proves each resource is well-formed; this proves the estate works. Requirements come from the
neutral model: every grant, trigger and CDN in front of a function, and `internet=True` (a network path to the
internet, `INTERNET`), means runtime *operations* (the table below).
Provisions come only from the synthesized Terraform JSON — what the compilers emitted, not what they meant —
read through `tfjson.Estate`. Each cloud plug-in (`platform_sdk.providers.<target>.conformance`, attribute
`RULES`) decides, from its own tables (kept as data with the documentation page each fact came from), what an
operation needs on that cloud: the permissions (IAM actions on the right ARN; GCP roles -> permissions) and the
network path (VPC endpoints, egress rules, NAT). No module outside the plug-ins names a cloud.

Results:
- `Finding`: one missing permission or path (kind "missing"), or an entry point the model never declared
  (kind "exposure": a function reachable around its CDN, invocable by any principal). It names the function,
  the grant or trigger (`cause`, as written in the service file), the operation and exactly what is missing.
- `Evidence`: what a satisfied requirement relied on — the JSON location of a policy statement's action, a
  binding, an endpoint, an egress rule, a `depends_on` entry, an environment variable. `locations` are
  alternatives: any one of them suffices, so a test removes them all to prove the requirement is real.

Entry points (see docs/conformance.md for how to wire them into synthesis, `platform check` and rehearsals):
    analyze(outdir, stacks, placements, trusted=None) -> list[Finding]
    require_conformance(outdir, stacks, placements, trusted=None, env="")    raises ConformanceError
    examine(outdir_or_estate, placements, stacks=None, trusted=None, only=None) -> Analysis (with evidence)
    index(outdir_or_documents, stacks) -> Estate                            (the JSON, references resolved)
`stacks` is the StackInfo map of a SynthResult, or `tfjson.stacks_from_metadata(outdir)` for an existing
output; `placements` is SynthResult.placements. A bring-your-own network the environment file describes is
trusted as described: pass `trusted={cloud label: TrustedNetwork(reaches=frozenset({"aws:s3", "internet"}),
source="envs/prod.toml: clouds.aws.network")}`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from platform_sdk import contract
from platform_sdk.errors import PlatformError
from platform_sdk.model import (
    Bucket,
    Cdn,
    Function,
    Grant,
    HttpTrigger,
    ObjectCreatedTrigger,
    QueueMessageTrigger,
    Resource,
    ScheduleTrigger,
)
from platform_sdk.tfjson import Block, Estate, Location, StackLike

# -- the neutral operations (the model engineer's per-kind OPERATIONS tables replace these) --------------------
# What the runtime does for each grant: `bucket("x").get(...)` etc. (platform_sdk.runtime.resources.GrantedBucket
# allows exactly these per access level). `head` is stat/exists; a signed URL carries the signer's rights.
BUCKET_READ = ("get", "head", "list", "signed_url_get")
BUCKET_WRITE = ("put", "overwrite", "delete", "signed_url_put")
GRANT_OPERATIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "bucket": {"read": BUCKET_READ, "write": BUCKET_WRITE, "readwrite": BUCKET_READ + BUCKET_WRITE},
    "database": {"connect": ("connect",)},  # includes reading the credentials the URL names (its secret)
    "secret": {"read": ("read",)},  # secret(name): the value of exactly that secret
    "queue": {"send": ("send",)},  # queue(name).send(...): put a message on exactly that queue
    "function": {"invoke": ("invoke", "send")},  # function(name).invoke / .send (and .request to an iam trigger)
}
# What the cloud does to the function for each trigger, and a CDN for its origin.
TRIGGER_OPERATIONS: dict[type, tuple[str, ...]] = {
    ObjectCreatedTrigger: ("events.deliver",),
    ScheduleTrigger: ("scheduler.invoke",),
    HttpTrigger: ("http.invoke",),
    QueueMessageTrigger: ("queue.deliver",),  # the queue's messages reach the function, failures are dead-lettered
}
CDN_ORIGIN_OPERATIONS = ("cdn.fetch_get", "cdn.fetch_post")
FEDERATION = "federation.token_exchange"  # a grant on another cloud: the function's identity is exchanged first
INTERNET = contract.INTERNET
"""The operation of a function declared `internet=True`: its own code calls hosts on the internet (HTTPS). Its
cloud's plug-in adds `Endpoint(INTERNET_ENDPOINT)` and finds the network path (a NAT gateway from a VPC, ...)."""
INTERNET_CAUSE = "internet=True"
INTERNET_ENDPOINT = "internet"
GRANT_VERBS = {"read": "reads", "write": "writes", "readwrite": "reads_writes", "connect": "uses", "send": "sends",
               "invoke": "invokes"}

MISSING = "missing"
EXPOSURE = "exposure"
EXPOSURE_RULE = "conformance.exposure"
"""The waiver rule id of exposure findings (`[[waivers]] rule = "conformance.exposure"`, resource = the function)."""


class PlacementLike(Protocol):
    """Where a resource lives (`platform_sdk.synth.placement.Placement` has it)."""

    cloud: str
    target: str
    stack_name: str


@dataclass(frozen=True)
class Need:
    """One operation one function must be able to perform (or have performed on it)."""

    function: Function = field(compare=False)
    cause: str  # as the service file says it: "reads_writes(files)", "object_created(inbox)", "cdn(web.cdn)"
    operation: str  # "bucket.put", "events.deliver", ...
    target: Resource | None = field(default=None, compare=False)
    trigger: Any = field(default=None, compare=False)
    access: str = ""  # the grant's access level, for grant needs
    route: str = ""  # the CDN route's path pattern ("/*", "/api/*"), for cdn.* needs

    @property
    def name(self) -> str:
        return f"{self.function.address}: {self.cause} -> {self.operation}"

    @property
    def verb(self) -> str:
        """The operation without its kind: `bucket.get` -> `get`."""
        return self.operation.split(".", 1)[1]


@dataclass(frozen=True)
class Endpoint:
    """A network destination an operation needs from the function: a cloud API (`aws:s3`, `gcp:storage`), the
    internet, or a database instance's port (`database`, with its block)."""

    service: str
    target: Block | None = None
    port: int = 443

    def __str__(self) -> str:
        return f"{self.service} port {self.port}" if self.target is None else f"{self.target.address} port {self.port}"


@dataclass(frozen=True)
class TrustedNetwork:
    """A network the environment file describes (bring your own VPC): trusted as described, not checked.

    `reaches`: endpoint services reachable from the functions placed in it (`aws:s3`, `aws:secretsmanager`,
    `internet`, `database`, ...). `source`: where it is described (file and key), named in the evidence.
    """

    reaches: frozenset[str]
    source: str


@dataclass(frozen=True)
class Evidence:
    """What one satisfied requirement relied on; `locations` are alternatives (any one suffices)."""

    need: str
    what: str
    locations: tuple[Location, ...]


@dataclass(frozen=True)
class Finding:
    """A requirement the emitted configuration does not meet, or an entry point the model never declared."""

    function: str
    cause: str
    operation: str
    missing: str
    kind: str = MISSING
    cloud: str = ""
    target: str = ""  # the neutral address of the granted resource, for a grant's operations (rehearsals deny them)

    def __str__(self) -> str:
        label = "exposed" if self.kind == EXPOSURE else "missing"
        return f"{self.function}: {self.cause} -> {self.operation}: {label} {self.missing}"


@dataclass
class Analysis:
    findings: list[Finding] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)  # functions built by a profile module: not visible


class ConformanceError(PlatformError):
    """The estate would not work on its clouds (or opens a way in the model never declared): one line per finding,
    each with the line of the service file that made its grant (a grant's finding), else that declared the function.
    The CLI exits 2; nothing is written.

    `declared`: function address -> "file:line" of its declaration, and `<function address>: <cause>` (`grant_cause`)
    -> "file:line" of the grant statement, which may be in another service file (`sibling()`); `expired`: function
    address -> the date its exposure waiver expired (the exposure is reported again).
    """

    def __init__(self, findings: list[Finding], env: str = "", declared: Mapping[str, str] | None = None,
                 expired: Mapping[str, Any] | None = None) -> None:
        where = f" in environment {env}" if env else ""
        declared = declared or {}
        expired = expired or {}

        def line(finding: Finding) -> str:
            text = f"  - {finding}"
            if finding.kind == EXPOSURE and finding.function in expired:
                text += f" (the waiver expired on {expired[finding.function]})"
            where = declared.get(f"{finding.function}: {finding.cause}") or declared.get(finding.function)
            if where:
                text += f" [{where}]"
            return text
        missing = [f for f in findings if f.kind != EXPOSURE]
        exposed = [f for f in findings if f.kind == EXPOSURE]
        parts = []
        if missing:
            parts.append(f"{len(missing)} operation(s) would fail on the cloud{where}:\n"
                         + "\n".join(line(f) for f in missing))
        if exposed:
            parts.append(f"{len(exposed)} way(s) in the model never declared{where}:\n"
                         + "\n".join(line(f) for f in exposed))
        hint = "each line names the function, the grant or trigger, the operation and what is missing"
        if exposed:
            hint += ('; an exposure may be waived in the environment file: [[waivers]] rule = "conformance.exposure", '
                     'resource = "<service.function>", reason, expires')
        super().__init__("\n".join(parts), hint=hint)
        self.findings = findings


class Proof:
    """What one need relied on and what it lacks, filled in by the plug-ins."""

    def __init__(self, need: Need) -> None:
        self.need = need
        self.evidence: list[Evidence] = []
        self.missing: list[str] = []
        self.endpoints: list[Endpoint] = []

    def rely(self, what: str, *locations: Location) -> None:
        """Record a satisfied requirement and every location that alone satisfies it."""
        self.evidence.append(Evidence(self.need.name, what, tuple(dict.fromkeys(locations))))

    def lack(self, what: str) -> None:
        if what not in self.missing:
            self.missing.append(what)

    def reach(self, endpoint: Endpoint) -> None:
        if endpoint not in self.endpoints:
            self.endpoints.append(endpoint)

    def require(self, ok: bool, what: str, missing: str, *locations: Location) -> bool:
        """`rely(what, *locations)` when ok, else `lack(missing)`; returns ok."""
        if ok:
            self.rely(what, *locations)
        else:
            self.lack(missing)
        return ok


@dataclass
class Caller:
    """A function as its cloud emitted it: its main block, its identity block, its environment variables."""

    function: Function
    placement: PlacementLike
    block: Block
    identity: Block | None
    environment: Mapping[str, str]
    environment_path: tuple[str | int, ...]  # where the variables sit inside `block`
    extra: dict[str, Any] = field(default_factory=dict)

    def env_location(self, name: str) -> Location:
        return self.block.at(*self.environment_path, name)


@dataclass(frozen=True)
class EntryPoints:
    """How the model says a function may be reached: nothing else may reach it."""

    public_url: bool  # http(public=True) with no CDN in front
    private_url: bool  # http(public=False) with no CDN in front
    cdns: tuple[Cdn, ...]
    event_buckets: tuple[Bucket, ...]
    schedules: int


class Rules(Protocol):
    """A cloud plug-in's conformance rules (`platform_sdk.providers.<target>.conformance.RULES`)."""

    target: str

    def derive(self, block: Block, attribute: str, estate: Estate) -> str | None:
        """An attribute's value from the block's own arguments (an ARN from a name), or None."""

    def caller(self, fn: Function, placement: PlacementLike, ctx: Context) -> Caller | None:
        """The function's blocks on this cloud; None when synthesis emitted none (a profile module builds it)."""

    def check(self, need: Need, caller: Caller, ctx: Context, proof: Proof) -> None:
        """Permissions (and configuration) the need requires on this cloud's resources; adds the endpoints the
        caller must reach to `proof.endpoints`. Called on the plug-in of the need's target resource."""

    def reach(self, caller: Caller, endpoint: Endpoint, ctx: Context, proof: Proof) -> None:
        """The network path from this cloud's function to `endpoint`."""

    def exposures(self, caller: Caller, entry: EntryPoints, ctx: Context) -> list[tuple[str, str, str]]:
        """(cause, operation, what is open) for every way to invoke the function beyond `entry`."""


@dataclass
class Context:
    """What the plug-ins read: the estate, where each resource lives, every function's caller record."""

    estate: Estate
    placements: Mapping[Resource, PlacementLike]
    rules: Mapping[str, Rules]
    trusted: Mapping[str, TrustedNetwork] = field(default_factory=dict)
    callers: dict[Function, Caller] = field(default_factory=dict)
    # id(origin) -> (origin, the CDNs in front of it): cdns_of's index, built on first use
    _cdns: dict[int, tuple[Any, list[Cdn]]] | None = field(default=None, init=False, repr=False)

    def placement(self, resource: Resource) -> PlacementLike:
        return self.placements[resource]

    def blocks_of(self, resource: Resource, tf_type: str) -> list[Block]:
        """The blocks implementing `resource` in the stack it is wired in (a moving resource's copy elsewhere is
        not the one functions use)."""
        stack = self.placements[resource].stack_name
        return [b for b in self.estate.owned_by(resource.address, tf_type) if b.stack == stack]

    def block_of(self, resource: Resource, tf_type: str) -> Block | None:
        found = self.blocks_of(resource, tf_type)
        return found[0] if found else None

    def cdns_of(self, fn: Function) -> list[Cdn]:
        """The CDNs with `fn` among their origins, in placement order (indexed on first use: asked per function)."""
        if self._cdns is None:
            self._cdns = {}
            for resource in self.placements:
                if isinstance(resource, Cdn):
                    for origin in {id(o): o for o in resource.origins}.values():
                        self._cdns.setdefault(id(origin), (origin, []))[1].append(resource)
        origin, cdns = self._cdns.get(id(fn), (None, []))
        return list(cdns) if origin is fn else []


# -- requirements from the model ------------------------------------------------------------------------------
def _label(fn: Function, resource: Resource) -> str:
    return resource.name if resource.service is fn.service else resource.address


def grant_cause(grant: Grant) -> str:
    """A grant as findings name it, as the service file says it: `reads_writes(files)`, `reads(orders.files)` (a
    resource of another service by its address)."""
    return f"{GRANT_VERBS[grant.access]}({_label(grant.function, grant.target)})"


def needs_of(fn: Function, ctx: Context) -> list[Need]:
    """Every operation the model says `fn` performs or undergoes, in declaration order."""
    needs: list[Need] = []
    home = ctx.placement(fn).target
    for grant in fn.grants:
        cause = grant_cause(grant)
        if ctx.placement(grant.target).target != home:
            needs.append(Need(fn, cause, FEDERATION, grant.target, access=grant.access))
        for verb in GRANT_OPERATIONS[grant.target.kind][grant.access]:
            needs.append(Need(fn, cause, f"{grant.target.kind}.{verb}", grant.target, access=grant.access))
    if fn.internet:
        needs.append(Need(fn, INTERNET_CAUSE, INTERNET))
    cdns = ctx.cdns_of(fn)
    for trigger in fn.triggers:
        if isinstance(trigger, HttpTrigger) and cdns:
            continue  # a CDN in front replaces the function's own URL (entry_points): its needs are the CDN's below
        if isinstance(trigger, ObjectCreatedTrigger):
            cause, target = f"object_created({_label(fn, trigger.bucket)})", trigger.bucket
        elif isinstance(trigger, ScheduleTrigger):
            cause, target = f"schedule({trigger.cron!r})", None
        elif isinstance(trigger, QueueMessageTrigger):
            cause, target = f"queue_message({_label(fn, trigger.queue)})", trigger.queue
        else:
            cause, target = "http()" if trigger.public else "http(public=False)", None
        for operation in TRIGGER_OPERATIONS[type(trigger)]:
            needs.append(Need(fn, cause, operation, target, trigger=trigger))
    for cdn in cdns:
        for route in cdn.routes_to(fn):  # every route to the function must reach it
            cause = f"cdn({_label(fn, cdn)})" if cdn.routes is None else f"cdn({_label(fn, cdn)} {route})"
            for operation in CDN_ORIGIN_OPERATIONS:
                needs.append(Need(fn, cause, operation, cdn, route=route))
    return needs


def entry_points(fn: Function, ctx: Context) -> EntryPoints:
    """The ways in the model declares: a CDN in front replaces the function's own URL."""
    http = fn.trigger_of(HttpTrigger)
    cdns = tuple(ctx.cdns_of(fn))
    return EntryPoints(
        public_url=bool(http) and http[0].public and not cdns,
        private_url=bool(http) and not http[0].public and not cdns,
        cdns=cdns,
        event_buckets=tuple(t.bucket for t in fn.trigger_of(ObjectCreatedTrigger)),
        schedules=len(fn.trigger_of(ScheduleTrigger)),
    )


def _wiring(need: Need, caller: Caller, proof: Proof) -> None:
    """The runtime finds a granted resource through the wire contract (platform_sdk.contract): its URL variable,
    and its entry in PLATFORM_GRANTS allowing the operation's access."""
    target = need.target
    if need.access == "" or target is None:
        return
    var = contract.resource_var(target.kind, target.name)
    proof.require(bool(caller.environment.get(var)), f"{var} tells the runtime where {target.address} is",
                  f"environment variable {var} (the runtime cannot find {target.address})",
                  caller.env_location(var))
    try:
        granted = contract.decode_grants(caller.environment.get(contract.GRANTS, ""))
    except ValueError:
        granted = {}
    levels = granted.get((target.kind, target.name), set())
    wanted = {"read", "write"} if need.access == "readwrite" else {need.access}
    proof.require(wanted <= levels, f"{contract.GRANTS} allows {need.access} on {target.address}",
                  f"{target.kind}:{target.name}:{need.access} in {contract.GRANTS} (the runtime refuses the call)",
                  caller.env_location(contract.GRANTS))


def load_rules(targets: Iterable[str]) -> dict[str, Rules]:
    """Each target's plug-in rules (`platform_sdk.providers.<target>.conformance.RULES`); targets without a
    conformance module (the local cloud, which permits everything; a plug-in registered from another package) are
    not analysed."""
    found: dict[str, Rules] = {}
    for target in sorted(set(targets)):
        name = f"platform_sdk.providers.{target}.conformance"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name and name.startswith(err.name):  # no such module (or a plug-in registered from elsewhere)
                continue
            raise
        found[target] = module.RULES
    return found


def _derive(rules: Mapping[str, Rules]) -> Any:
    def derive(block: Block, attribute: str, estate: Estate) -> str | None:
        for plugin in rules.values():
            value = plugin.derive(block, attribute, estate)
            if value is not None:
                return value
        return None
    return derive


def index(source: Path | Mapping[str, Any], stacks: Mapping[str, StackLike]) -> Estate:
    """The stacks' JSON (read from `cdktf.out/<env>`, or given as documents by stack name) as an Estate whose
    references resolve to derived literals where the stacks' cloud plug-ins know them (ARNs, emails)."""
    rules = load_rules(info.target for info in stacks.values())
    if isinstance(source, Path):
        return Estate.load(source, stacks, derive=_derive(rules))
    return Estate(source, stacks, derive=_derive(rules))


def examine(outdir_or_estate: Path | Estate, placements: Mapping[Resource, PlacementLike],
            stacks: Mapping[str, StackLike] | None = None, trusted: Mapping[str, TrustedNetwork] | None = None,
            rules: Mapping[str, Rules] | None = None, only: Iterable[str] | None = None) -> Analysis:
    """Findings and evidence for every function placed on a cloud that has conformance rules.

    `outdir_or_estate`: `cdktf.out/<env>` (then `stacks` is required) or an already loaded Estate.
    `only`: function addresses to analyse (default: all).
    """
    rules = dict(rules) if rules is not None else load_rules(p.target for p in placements.values())
    if isinstance(outdir_or_estate, Estate):
        estate = outdir_or_estate
        estate.derive = _derive(rules)
    else:
        if stacks is None:
            raise ValueError("stacks are needed to read an output directory")
        estate = Estate.load(outdir_or_estate, stacks, derive=_derive(rules))
    ctx = Context(estate, placements, rules, dict(trusted or {}))
    analysis = Analysis()
    functions = [r for r in placements if isinstance(r, Function)]
    for fn in functions:
        plugin = rules.get(placements[fn].target)
        if plugin is None:
            continue
        caller = plugin.caller(fn, placements[fn], ctx)
        if caller is None:
            analysis.unverified.append(fn.address)
        else:
            ctx.callers[fn] = caller
    wanted = set(only) if only is not None else None
    for fn in functions:
        caller = ctx.callers.get(fn)
        if caller is None or (wanted is not None and fn.address not in wanted):
            continue
        home = rules[placements[fn].target]
        for need in needs_of(fn, ctx):
            proof = Proof(need)
            _wiring(need, caller, proof)
            owner = rules.get(placements[need.target].target) if need.access and need.target is not None else home
            if owner is not None:
                owner.check(need, caller, ctx, proof)
            for endpoint in proof.endpoints:
                home.reach(caller, endpoint, ctx, proof)
            analysis.evidence += proof.evidence
            target = need.target.address if need.access and need.target is not None else ""
            analysis.findings += [Finding(fn.address, need.cause, need.operation, missing, MISSING,
                                          placements[fn].cloud, target) for missing in proof.missing]
        for cause, operation, what in home.exposures(caller, entry_points(fn, ctx), ctx):
            analysis.findings.append(Finding(fn.address, cause, operation, what, EXPOSURE, placements[fn].cloud))
    return analysis


def analyze(outdir: Path, stacks: Mapping[str, StackLike], placements: Mapping[Resource, PlacementLike],
            trusted: Mapping[str, TrustedNetwork] | None = None) -> list[Finding]:
    """Every finding for the environment synthesized into `outdir` (the temporary folder during synthesis).

    `stacks`: StackInfo by name (their `owners` map Terraform addresses to neutral resources); `placements`:
    the resolved placement of every resource (SynthResult.placements). Empty list = every operation the model
    declares has its permissions and network path on its cloud.
    """
    return examine(outdir, placements, stacks, trusted).findings


def require_conformance(outdir: Path, stacks: Mapping[str, StackLike], placements: Mapping[Resource, PlacementLike],
                        trusted: Mapping[str, TrustedNetwork] | None = None, env: str = "") -> None:
    """Raise ConformanceError listing every finding (synthesis then exits 2 and writes nothing)."""
    findings = analyze(outdir, stacks, placements, trusted)
    if findings:
        raise ConformanceError(findings, env)


__all__ = [
    "CDN_ORIGIN_OPERATIONS", "EXPOSURE", "FEDERATION", "GRANT_OPERATIONS", "INTERNET", "INTERNET_CAUSE",
    "INTERNET_ENDPOINT", "MISSING", "TRIGGER_OPERATIONS",
    "Analysis", "Caller", "ConformanceError", "Context", "Endpoint", "EntryPoints",
    "Evidence", "Finding", "Need", "Proof", "Rules", "TrustedNetwork", "analyze", "entry_points", "examine",
    "index", "needs_of", "require_conformance",
]
