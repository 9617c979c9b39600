"""A move's preflight: everything that could make a later step fail, found before anything changes.

`platform move --dry-run` prints exactly this, and a real move runs it first and changes nothing unless every
check passed. Each check says how it was made:

- `checked`: done for real, changing nothing (synthesis of a configuration with its guardrails and analyses, a
  source reached, client tools run);
- `planned`: `terraform plan` of the configuration the first step applies, on every stack (so also: every
  state readable and unlocked, nothing else pending that the move would apply without anyone reviewing it);
- `static`: decided from the synthesized configurations of the later steps and the record, because those steps
  cannot be planned before the earlier ones are applied (a consumer's plan needs its producer's outputs). No
  value is invented for them: what a static check cannot know, it does not claim.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from platform_sdk.envs import Environment
from platform_sdk.errors import PlatformError
from platform_sdk.model import Cdn, Service
from platform_sdk.move import record as rec
from platform_sdk.move.kinds import mover
from platform_sdk.move.orchestrator import MovePlan, PhaseConfig, external_domains, new_move, phase_config, plan_move
from platform_sdk.profile import Profile
from platform_sdk.project import Project

CHECKED, PLANNED, STATIC = "checked", "planned", "static"


@dataclass
class Check:
    """One preflight check: what was checked, how, whether it passed, and how to fix it."""

    step: str
    ok: bool
    detail: str
    how: str = CHECKED
    fix: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PlannedStack:
    """What a real `terraform plan` said about one stack (the neutral summary the CLI hands the preflight)."""

    name: str
    status: str  # no-changes, changes, waiting, locked, failed, interrupted, skipped
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # (terraform address, owner, action)
    data_loss: list[str] = field(default_factory=list)  # terraform addresses
    error: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)


PlanHook = Callable[[PhaseConfig], list[PlannedStack]]
"""Synthesize a configuration, plan every stack for real (changing nothing), and read every stack's outputs."""


@dataclass
class Preflight:
    """The preflight's verdict: every check, and the move it would start."""

    selector: str
    target: str
    checks: list[Check] = field(default_factory=list)
    plan: MovePlan | None = None
    reuses: str | None = None

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def add(self, step: str, ok: bool, detail: str, how: str = CHECKED, fix: str = "") -> bool:
        self.checks.append(Check(step, ok, detail, how, fix))
        return ok

    def refusal(self) -> PlatformError:
        failed = [c for c in self.checks if not c.ok]
        lines = [f"{c.step}: {c.detail}" + (f"\n    fix: {c.fix}" if c.fix else "") for c in failed]
        return PlatformError(f"the move of {self.selector} to {self.target} would fail ({len(failed)} problem"
                             f"{'s' if len(failed) != 1 else ''}); nothing was changed:\n  " + "\n  ".join(lines))

    def to_json(self) -> dict[str, Any]:
        return {"selector": self.selector, "target": self.target, "ok": self.ok, "reuses": self.reuses,
                "move": self.plan.to_json() if self.plan else None, "checks": [c.to_json() for c in self.checks]}


def _stateful_by_stack(outdir: Path) -> dict[str, set[str]]:
    from platform_sdk.synth.app import read_metadata

    return {name: set(info.get("stateful", [])) for name, info in read_metadata(outdir)["stacks"].items()}


def _destroyed(before: dict[str, set[str]], after: dict[str, set[str]]) -> set[tuple[str, str]]:
    """(stack, stateful address) present in `before` and gone in `after`."""
    return {(stack, a) for stack, found in before.items() for a in found - after.get(stack, set())}


def run_preflight(project: Project, env: Environment, services: list[Service], moves: list[dict[str, Any]],
                  selector: str, target: str, plan_hook: PlanHook, keep_source: bool,
                  profile: Profile | None = None, dns_probe: DnsProbe | None = None) -> Preflight:
    """Every check of a new move of `selector` to `target` (see the module docstring). Changes nothing.
    `dns_probe`: how the resolver is asked (see `DnsProbe`); None: not asked."""
    result = Preflight(selector, target)
    other = rec.unfinished(moves)
    if other is not None:
        result.add("record", False, rec.describe(other), STATIC, fix=rec.next_steps(other))
        return result
    try:
        plan = plan_move(env, services, selector, target, profile)
    except PlatformError as err:
        named = f"{err.key} {err.value}: " if err.key and err.value is not None else ""  # the argument at fault
        result.add("placement", False, named + err.message + (f" ({err.hint})" if err.hint else ""))
        return result
    result.plan = plan
    result.add("placement", True, f"{', '.join(r.address for r in plan.moved)} can live on {target} "
                                  f"(data: {', '.join(r.address for r in plan.stateful) or 'none'})")
    _record_checks(result, plan, moves)
    _domain_checks(result, plan)
    _zone_checks(result, plan)
    _resolver_check(result, plan, services, dns_probe)
    for resource in plan.stateful:
        if mover(resource.kind) is None:
            result.add(f"data: {resource.address}", False, f"moving a {resource.kind} is not supported yet")
    if not result.ok:
        return result
    move = new_move(plan, result.reuses)
    scratch = Path(tempfile.mkdtemp(prefix=f"platform-move-preflight-{env.name}-"))
    try:
        steps = ("target", *(("dns",) if move.get("domains") else ()), "rewire", "keep" if keep_source else "remove")
        configs = {which: phase_config(env, move, moves, which) for which in steps}
        stateful: dict[str, dict[str, set[str]]] = {}
        for which, config in configs.items():
            outdir = scratch / which
            if _synthesize(result, project, services, profile, config, outdir):
                stateful[which] = _stateful_by_stack(outdir)
        if not result.ok:
            return result
        planned = plan_hook(configs["target"])
        _target_plan_checks(result, move, planned)
        _static_checks(result, move, stateful, keep_source)
        outputs = {p.name: p.outputs for p in planned}
        _data_checks(result, move, outputs)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return result


STEP_NAMES = {"target": "target step", "dns": "DNS step (the CDN's twin)", "rewire": "cut-over",
              "keep": "end state (source kept)", "remove": "end state (source removed)"}


def _synthesize(result: Preflight, project: Project, services: list[Service], profile: Profile | None,
                config: PhaseConfig, outdir: Path) -> bool:
    from platform_sdk.synth.app import synthesize

    name = STEP_NAMES[config.label]
    try:
        synthesized = synthesize(project, config.env, services, profile=profile, outdir=outdir,
                                 extra_copies=config.copies, unprotected_copies=config.unprotected)
    except PlatformError as err:
        return result.add(f"synthesis of the {name}", False, str(err),
                          fix="change the estate or the placement so the environment synthesizes with the move, "
                              "then try again")
    ok = result.add(f"synthesis of the {name}", True, "every stack synthesizes (schema, guardrails, analyses)")
    rehearsal = synthesized.rehearsal
    if rehearsal is not None and rehearsal.lines and config.label in ("keep", "remove"):
        # A rehearsal reports, it does not refuse (like `platform plan --env local`): the local move goes ahead, and
        # says before it starts what the same move would meet in the rehearsed environment.
        lines = rehearsal.lines
        result.add(f"rehearsal of {rehearsal.rehearsed}", True,
                   f"this placement would be refused there ({len(lines)} finding(s)); moving there needs it fixed "
                   f"first: " + "; ".join(lines[:3]) + (" ..." if len(lines) > 3 else ""))
    return ok


def _record_checks(result: Preflight, plan: MovePlan, moves: list[dict[str, Any]]) -> None:
    """Copies an earlier move kept: a move back onto them is a rollback that reuses them; anything else waits."""
    stateful = {r.address for r in plan.stateful}
    for other in moves:
        kept = set(rec.retained(other)) & stateful
        if not kept:
            continue
        same = set(other["stateful"]) == stateful
        rollback = (other.get("phase") == rec.DONE and all(other["sources"][a] == plan.target for a in kept)
                    and all(plan.sources[a] == other["target"] for a in kept))
        reuse_twins = other.get("phase") == rec.ABORTED and other["target"] == plan.target
        if same and (rollback or reuse_twins):
            result.reuses = other["id"]
            what = "a rollback onto the source copy" if rollback else "it reuses the twins"
            result.add("record", True, f"{what} kept by the earlier move of {other['selector']} "
                                       f"({', '.join(sorted(kept))} on {plan.target}): only what differs is copied",
                       STATIC)
            continue
        cloud = rec.retained(other)[sorted(kept)[0]]
        env = other["env"]
        result.add("record", False, f"an earlier move of {other['selector']} keeps a copy of {', '.join(sorted(kept))} "
                                    f"on {cloud}", STATIC,
                   fix=(f"move {other['selector']} back to {cloud} (a rollback), or remove that copy first: "
                        + (f"`platform move {other['selector']} --to {other['target']} --env {env} --remove-source`"
                           if other.get("phase") == rec.DONE else f"`platform move --abort --env {env}`")))


def _domain_checks(result: Preflight, plan: MovePlan) -> None:
    """A CDN whose domain's DNS zone is outside the target cloud (`[clouds.<target>] dns_zone = "external"`,
    docs/domains.md) needs a certificate of its own there and other records (the certificate's validation record,
    the domain's record to the target's CDN), known only once the target has requested that certificate. The move
    builds a twin of the CDN on the target before its cut-over, in front of the twins of its origins, and pauses for
    those records (its phase `dns`); so every origin of such a CDN must be a resource with a twin (a bucket moved
    with it): a function origin has none before the cut-over, and such a move is refused.

    A rehearsal (`rehearses = "prod"`) reports what the rehearsed environment would do and goes ahead."""
    env, target = plan.env, plan.target
    for cdn, domain, file in _external_domains(env, plan):
        source = plan.sources[cdn.address]
        missing = _without_twin(cdn, plan)
        if missing:
            result.add(
                f"domain: {cdn.address}", False, _domain_problem(cdn.address, str(domain), target, source, file,
                                                                 missing), STATIC,
                fix=f"keep {plan.selector} on {source} for now; or take {domain} off the CDN "
                    f"({domain_set_at(env, cdn)}) and apply (it is then not served), move, put it back and run "
                    f"`platform apply --env "
                    f"{env.name}`: it prints the records to create in the zone for {target}, and the apply after "
                    "they resolve serves the domain (docs/domains.md)")
            continue
        result.add(f"domain: {cdn.address}", True, _domain_pauses(cdn.address, str(domain), target, source, file),
                   STATIC)
    rehearsed = _rehearsed(env)
    if rehearsed is None:
        return
    for cdn, domain, file in _external_domains(rehearsed, plan):
        source = plan.sources[cdn.address]
        missing = _without_twin(cdn, plan)
        result.add(f"rehearsal of {env.rehearses}: {cdn.address}", True,
                   ("this move would be refused there: "
                    + _domain_problem(cdn.address, str(domain), target, source, file, missing)) if missing else
                   ("there this move would pause for DNS records: "
                    + _domain_pauses(cdn.address, str(domain), target, source, file)), STATIC)


def _zone_checks(result: Preflight, plan: MovePlan) -> None:
    """A moved CDN with a domain whose records the platform writes or pauses for on its source (`[clouds.<source>]
    dns_zone` set) cannot be moved to a cloud without a `dns_zone`: there the platform neither creates the domain's
    records nor pauses for them, so after the cut-over the domain's record would still point at the source's CDN,
    which the move removes (docs/domains.md)."""
    env, target = plan.env, plan.target
    for cdn, domain, source in _zone_gaps(env, plan):
        result.add(f"domain: {cdn.address}", False, _zone_problem(env, cdn, domain, source, target), STATIC,
                   fix=f"say where the zone of {domain} is for {target}: [clouds.{target}] dns_zone = \"external\" in "
                       f"{env.file} (the move pauses for the records to create), or the zone's id (the platform "
                       "creates them) (docs/domains.md)")
    rehearsed = _rehearsed(env)  # a rehearsal reports what the rehearsed environment would refuse, and goes ahead
    if rehearsed is None:
        return
    for cdn, domain, source in _zone_gaps(rehearsed, plan):
        result.add(f"rehearsal of {env.rehearses}: {cdn.address}", True,
                   "this move would be refused there: " + _zone_problem(rehearsed, cdn, domain, source, target),
                   STATIC)


def _zone_gaps(env: Environment, plan: MovePlan) -> list[tuple[Cdn, str, str]]:
    """(CDN, its domain, its source cloud) of each moved CDN whose domain's records `env` has a `dns_zone` for on the
    source and none on the target (`_zone_checks`)."""
    target = plan.target
    if getattr(env.clouds.get(target), "dns_zone", None) is not None:
        return []
    gaps = []
    for cdn in (r for r in plan.moved if isinstance(r, Cdn)):
        domain = env.override(cdn.address, "domain", cdn.domain)
        source = plan.sources[cdn.address]
        if domain and getattr(env.clouds.get(source), "dns_zone", None) is not None:
            gaps.append((cdn, str(domain), source))
    return gaps


def _zone_problem(env: Environment, cdn: Cdn, domain: str, source: str, target: str) -> str:
    return (f"CDN {cdn.address} serves {domain}, whose records [clouds.{source}] dns_zone has on {source}; "
            f"[clouds.{target}] in {env.file} names no dns_zone, so on {target} the platform would neither "
            f"create {domain}'s records nor pause for them, and after the cut-over {domain} would still point "
            f"at the CDN on {source}, which the move removes")


DnsProbe = Callable[[Environment, list[Service], list[str]], tuple[str, str | None, str] | None]
"""Asks the resolver `PLATFORM_DNS_RESOLVER` names about a domain a step of the move will look up (`names` plus the
environment's domains in external zones): None when the variable is unset or nothing is looked up, else (its value,
why it fails or None, the name asked). The CLI passes `platform_sdk.commands.dns_phase.probe_resolver`."""


def _resolver_check(result: Preflight, plan: MovePlan, services: list[Service], probe: DnsProbe | None) -> None:
    """When a step of the move looks records up (a CDN twin in an external zone on the target, or any domain of the
    environment in an external zone: every step reads where it stands), the resolver must work before anything
    changes: `PLATFORM_DNS_RESOLVER` well formed, and answering (asked once; the system's resolver is not asked
    here)."""
    answer = probe(plan.env, services, [str(d) for d in external_domains(plan).values()]) if probe else None
    if answer is None:
        return
    named, problem, asked = answer
    if problem is not None:
        result.add("DNS resolver", False, problem, CHECKED,
                   fix="set PLATFORM_DNS_RESOLVER to a resolver that answers (host or host:port, port 1-65535), or "
                       "unset it to use the system's")
        return
    result.add("DNS resolver", True, f"{named} (PLATFORM_DNS_RESOLVER) answers (looked up {asked})", CHECKED)


def _without_twin(cdn: Cdn, plan: MovePlan) -> list[str]:
    """The origins of `cdn` that get no twin on the target before the cut-over (not moved stateful resources)."""
    stateful = {r.address for r in plan.stateful}
    return [o.address for o in cdn.origins if o.address not in stateful]


def _external_domains(zones: Environment, plan: MovePlan) -> list[tuple[Cdn, object, str]]:
    """(CDN, domain, environment file) of each moved CDN with a domain (`zones`' override, else the code's), when
    `zones` says the target's DNS zone is external."""
    from platform_sdk.providers.domains import EXTERNAL

    if getattr(zones.clouds.get(plan.target), "dns_zone", None) != EXTERNAL:
        return []
    found = [(r, zones.override(r.address, "domain", r.domain)) for r in plan.moved if isinstance(r, Cdn)]
    return [(cdn, domain, str(zones.file)) for cdn, domain in found if domain]


def domain_set_at(env: Environment, cdn: Cdn) -> str:
    """Where the CDN's domain is set: the environment's override, else the CDN's declaration."""
    if "domain" in env.overrides.get(cdn.address, {}):
        return f"the line {env.override_key(cdn.address, 'domain')} of {env.file}"
    return f"domain= of the CDN at {cdn.declared_in}:{cdn.declared_line}"


def _domain_problem(address: str, domain: str, target: str, source: str, file: str, missing: list[str]) -> str:
    return (f"CDN {address} serves {domain} from a DNS zone outside {target} ([clouds.{target}] dns_zone = "
            f'"external" in {file}): on {target} it needs its own certificate and records ({domain}\'s '
            f"certificate validation record and its record to the CDN on {target}), which exist only once {target} "
            f"has requested that certificate; a move requests it from a twin of the CDN built before the cut-over "
            f"in front of the twins of its origins, and {', '.join(missing)} get no twin (only moved buckets do), "
            f"so it would cut {domain} over to a CDN without its certificate (the CDN on {source} is removed at the "
            "cut-over)")


def _domain_pauses(address: str, domain: str, target: str, source: str, file: str) -> str:
    return (f"CDN {address} serves {domain} from a DNS zone outside {target} ([clouds.{target}] dns_zone = "
            f'"external" in {file}): after the copy the move builds its twin on {target} (certificate requested) '
            f"and pauses, printing the validation records to create; `platform move --resume` then attaches "
            f"{domain} on {target} and pauses again for the switch of {domain}'s own record to {target}; the resume "
            f"after every record of {target} resolves cuts over. {source} serves {domain} until then")


def _rehearsed(env: Environment) -> Environment | None:
    """The environment a local one rehearses (`rehearses = "prod"`), None without one or when it does not load (the
    rehearsal's synthesis reports that)."""
    from platform_sdk.envs import environment_path, load_environment

    if not env.rehearses or env.file is None:
        return None
    try:
        return load_environment(environment_path(Path(env.file).parent, env.rehearses))
    except Exception:  # noqa: BLE001 - the rehearsal itself reports an unreadable rehearsed environment
        return None


def _target_plan_checks(result: Preflight, move: dict[str, Any], planned: list[PlannedStack]) -> None:
    twins = set(move["stateful"])
    target_stacks = set(move["target_stacks"].values())
    problems = False
    for stack in planned:
        if stack.status in ("locked", "failed", "interrupted", "skipped"):
            problems = not result.add(f"plan of the target step: {stack.name}", False,
                                      stack.error or stack.status, PLANNED,
                                      fix="release the lock as the message says" if stack.status == "locked"
                                      else "fix what Terraform reports, then try again")
            continue
        if stack.data_loss:
            problems = not result.add(f"plan of the target step: {stack.name}", False,
                                      f"would destroy or replace {', '.join(stack.data_loss)}", PLANNED,
                                      fix="a move never destroys data: find out why Terraform plans it "
                                          f"(`platform plan --env {move['env']}`)")
        unrelated = [f"{action} {address}" for address, owner, action in stack.changes
                     if not (stack.name in target_stacks and action == "create" and owner in twins)]
        if unrelated:
            problems = not result.add(
                f"plan of the target step: {stack.name}", False,
                f"changes that are not part of the move are pending: {', '.join(unrelated[:5])}"
                + (f" (and {len(unrelated) - 5} more)" if len(unrelated) > 5 else ""), PLANNED,
                fix=f"apply them first (`platform apply --env {move['env']}`), or revert them")
    if not problems:
        creating = sorted({owner for s in planned for _, owner, action in s.changes if action == "create"})
        result.add("plan of the target step", True,
                   f"{len(planned)} stack(s) planned, none locked; creates the twins of {', '.join(creating)}"
                   if creating else f"{len(planned)} stack(s) planned, none locked; the twins already exist",
                   PLANNED)


def _static_checks(result: Preflight, move: dict[str, Any], stateful: dict[str, dict[str, set[str]]],
                   keep_source: bool) -> None:
    """Later steps destroy exactly what the move expects: nothing at cut-over, the source copies at removal."""
    moved = set(move["stateful"])
    lost = _destroyed(stateful["target"], stateful["rewire"])
    result.add("cut-over", not lost, "destroys no data: the source copies stay, unwired" if not lost else
               f"would destroy {', '.join(sorted(a + ' in ' + s for s, a in lost))}", STATIC,
               fix="" if not lost else "report this: a cut-over must keep every copy")
    if keep_source:
        result.add("source", True, f"kept after verification: {', '.join(sorted(moved)) or '-'}", STATIC)
        return
    expected = {(move["source_stacks"][a], a) for a in moved}
    lost = _destroyed(stateful["rewire"], stateful["remove"])
    outside = lost - expected
    if outside:
        result.add("source removal", False, f"would also destroy {', '.join(sorted(a for _, a in outside))}",
                   STATIC, fix="keep the source (`--keep-source`) and find out why")
        return
    protected = move.get("protected", [])
    result.add("source removal", True,
               f"removes only the source copies of {', '.join(sorted(moved)) or '-'}, after verification and "
               "confirmation" + (f"; deletion protection of {', '.join(protected)} is turned off on that copy only, "
                                 "by the move, right before" if protected else ""), STATIC)


def _data_checks(result: Preflight, move: dict[str, Any], outputs: dict[str, dict[str, Any]]) -> None:
    for address in move["stateful"]:
        kind = move["kinds"][address]
        name = address.split(".", 1)[1].replace("-", "_")
        url = outputs.get(move["source_stacks"][address], {}).get(f"{kind}_{name}_url")
        if not isinstance(url, str):
            result.add(f"data: {address}", False, f"not deployed: stack {move['source_stacks'][address]} has no "
                                                   f"{kind}_{name}_url output", CHECKED,
                       fix=f"apply the environment first (`platform apply --env {move['env']}`)")
            continue
        found = mover(kind)
        assert found is not None
        problems = found.preflight(address, url)
        result.add(f"data: {address}", not problems, "; ".join(problems) or f"{kind} reachable at its source, "
                                                                             "copy tools ready", CHECKED)
