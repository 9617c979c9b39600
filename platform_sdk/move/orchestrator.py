"""`platform move`: one workload to another cloud, with its data, while everything else stays where it is.

Nothing changes before the preflight (`move/preflight.py`) has found every later step possible. Then the move is
recorded in the environment's state backend (`move/record.py`, seen by every machine) and runs in phases, each
recorded before the next starts, so a killed move resumes where it stopped — on this machine or another:

1. target   each moved stateful resource gets a twin on the target cloud; nothing else changes
2. copy     its data is copied and verified both ways (the twin is an exact mirror of what the copy listed; nothing
            is wired to it yet; what the source writes meanwhile is carried by the later passes)
   dns      only for a CDN whose domain's DNS zone is external on the target (`dns_zone = "external"`): a twin of the
            CDN is built on the target in front of the twins, in the two phases `platform apply` runs (certificate
            requested, then the domain attached once its validation records resolve), while the source serves; the
            move pauses (exit 0, resumable) for the validation records, then (after another copy pass, since the
            target serves from its twins once the switch resolves) for the switch of the domain's own record to the
            target, and goes on once every record of the target resolves (docs/domains.md)
3. rewire   cut-over: first each moved database's source refuses writes (read only for every session but the
            move's; announced: writes fail for the seconds until the cut-over ends) and a last copy carries every
            row written so far; then functions and CDNs move, consumers switch to the target; the source is kept,
            unwired, and nothing more is written to it
4. verify   the final sync: what changed in the source meanwhile is carried (new, changed and deleted objects, the
            messages that reached the source queue), the target's own writes are left alone, and both sides are
            verified again
5. cleanup  the source copy is removed after confirmation (its deletion protection turned off first, on that
            copy only); or kept (`--keep-source`, the default in protected environments), and the move is done.
            Right before the removal both sides are compared again (`recheck_source`): a source holding anything
            the target lacks (rows, objects, messages) is kept, and the move ends with an error naming it

Before cut-over `abort` returns everything to the source: what a twin holds of its own (queue messages the copy
drained into it) goes back to the source queue first, then the twins are removed after confirmation, or kept with
`--keep-target`. After cut-over, moving back onto a kept source is a rollback: a move that reuses the kept copy
and carries back only what changed since.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from platform_sdk import providers
from platform_sdk.envs import Environment, load_environment
from platform_sdk.errors import PlatformError, did_you_mean
from platform_sdk.model import Database, Resource, Service
from platform_sdk.move import record as rec
from platform_sdk.move.kinds import RECHECK, CopyContext, mover
from platform_sdk.move.placement_file import placement_value, set_placement
from platform_sdk.move.record import MoveRecords
from platform_sdk.profile import Profile
from platform_sdk.project import Project
from platform_sdk.providers import compilers_for
from platform_sdk.providers.domains import PHASE_COMPLETE
from platform_sdk.state_documents import Holder
from platform_sdk.synth.estate import STATEFUL_KINDS
from platform_sdk.synth.placement import resolve_placements, stack_name

KILL_AFTER_ENV = "PLATFORM_MOVE_KILL_AFTER"
"""Test switch: SIGKILL this process right after the named phase is recorded (a kill at a phase boundary)."""


@dataclass
class MovePlan:
    """What a move changes, computed and validated against placement rules before anything is touched."""

    env: Environment
    selector: str
    target: str
    moved: list[Resource]
    sources: dict[str, str]  # address -> source cloud
    old_value: str | None  # the selector's placement line before (None: no line)
    new_value: str | None  # and after (None: no line, the target is what the key resolves to without one)

    @property
    def stateful(self) -> list[Resource]:
        return [r for r in self.moved if isinstance(r, STATEFUL_KINDS)]

    def to_json(self) -> dict[str, Any]:
        return {"selector": self.selector, "target": self.target, "sources": self.sources,
                "moved": [r.address for r in self.moved], "stateful": [r.address for r in self.stateful]}


def select_resources(services: list[Service], selector: str) -> list[Resource]:
    """What `SERVICE[.RESOURCE]` names: every resource of the service, or the one resource.

    Raises:
        PlatformError: (key `SERVICE` or `SERVICE.RESOURCE`, the selector) no such service or resource, with the
            known ones and the closest name.
    """
    service_name, _, resource_name = selector.partition(".")
    service = next((s for s in services if s.name == service_name), None)
    if service is None:
        known = ", ".join(s.name for s in services)
        raise PlatformError(f"no service named {service_name!r} (services: {known})"
                            + did_you_mean(service_name, [s.name for s in services]), key="SERVICE", value=selector)
    if resource_name:
        resource = service.get(resource_name)
        if resource is None:
            known = ", ".join(r.name for r in service.resources)
            raise PlatformError(f"service {service_name!r} has no resource {resource_name!r} (resources: {known})"
                                + did_you_mean(resource_name, [r.name for r in service.resources]),
                                key="SERVICE.RESOURCE", value=selector)
        return [resource]
    return service.resources


def plan_move(env: Environment, services: list[Service], selector: str, target: str,
              profile: Profile | None = None) -> MovePlan:
    """Which resources move, from where: the target's capabilities and every cross-cloud link checked (placement
    rules only: the preflight synthesizes and plans the rest). Raises PlatformError / PlacementError."""
    known = sorted(providers.plugins())
    if target not in known:
        raise PlatformError(f"unknown cloud (clouds: {', '.join(known)}){did_you_mean(target, known)}", key="--to",
                            value=target)
    if not env.is_configured(target):
        raise PlatformError(f"cloud {target!r} has no [clouds.{target}] section in {env.file}", key="--to",
                            value=target)
    selected = select_resources(services, selector)
    new_value = placement_value(env, selector, target)
    new_env = rec.with_placement(env, selector, new_value)
    naming = (profile or Profile()).physical_name
    before = resolve_placements(env, services, compilers_for(env), naming=naming)
    after = resolve_placements(new_env, services, compilers_for(new_env), naming=naming)  # raises PlacementError
    moved = [r for r in selected if before[r].cloud != after[r].cloud]
    if not moved:
        raise PlatformError(f"{selector} already lives on {target}: nothing to move", key="--to", value=target)
    sources = {r.address: before[r].cloud for r in moved}
    return MovePlan(env, selector, target, moved, sources, env.placement.get(selector), new_value)


def new_move(plan: MovePlan, reuses: str | None = None) -> dict[str, Any]:
    """The record entry of a move about to start (phase `target`)."""
    env = plan.env
    return {
        "id": f"{plan.selector}->{plan.target}@{time.time():.3f}",
        "env": env.name, "selector": plan.selector, "target": plan.target, "sources": plan.sources,
        "moved": [r.address for r in plan.moved], "stateful": [r.address for r in plan.stateful],
        "kinds": {r.address: r.kind for r in plan.stateful},
        "source_stacks": {r.address: stack_name(env, r.service.name, plan.sources[r.address])
                          for r in plan.stateful if r.service is not None},
        "target_stacks": {r.address: stack_name(env, r.service.name, plan.target)
                          for r in plan.stateful if r.service is not None},
        "protected": sorted(r.address for r in plan.stateful
                            if isinstance(r, Database) and r.deletion_protection),
        "old_value": plan.old_value, "new_value": plan.new_value, "phase": rec.TARGET, "source_kept": False,
        "target_kept": False, "urls": {}, "reuses": reuses, "started": _now(), "started_by": _who(),
        "updated": _now(), "cutover_at": None, "running": None,
        "report": {"phases": [], "results": []}, "shared": {}, "domains": external_domains(plan),
    }


def external_domains(plan: MovePlan) -> dict[str, str]:
    """Moved CDN address -> its domain (the environment's override, else the code's), when the target's DNS zone is
    external (`[clouds.<target>] dns_zone = "external"`): the move builds a twin of it in its phase `dns`."""
    from platform_sdk.model import Cdn
    from platform_sdk.providers.domains import EXTERNAL

    env = plan.env
    if getattr(env.clouds.get(plan.target), "dns_zone", None) != EXTERNAL:
        return {}
    found = {r.address: env.override(r.address, "domain", r.domain) for r in plan.moved if isinstance(r, Cdn)}
    return {address: str(domain) for address, domain in found.items() if domain}


def _who() -> str:
    holder = Holder.current("")
    return f"{holder.user}@{holder.host}"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# ------------------------------------------------------------------------------------------------ configuration

@dataclass(frozen=True)
class PhaseConfig:
    """One configuration a move applies: the environment (placement), the extra copies, copies unprotected."""

    label: str
    env: Environment
    copies: dict[str, str]
    unprotected: frozenset[str] = frozenset()
    owners: dict[str, dict[str, str]] = field(default_factory=dict)
    """stack -> {Terraform address: neutral address} of the moved resources' copies as the move's earlier steps
    applied them (the record's `addresses`): a copy this step removes is no longer in its synthesis, and its
    removal is recognised as the expected one by these names."""


def phase_config(base: Environment, move: dict[str, Any], moves: list[dict[str, Any]], which: str) -> PhaseConfig:
    """The configuration of one step of `move` (`which`: target, dns, rewire, keep, remove, abort-keep,
    abort-remove, unprotect-source, unprotect-target), on top of every other move's retained copies."""
    cutover = which in ("rewire", "keep", "remove", "unprotect-source")
    skip = {move["id"], move.get("reuses")} if cutover else {move["id"]}
    others: dict[str, str] = {}
    for other in moves:
        if other.get("id") not in skip:
            others.update(rec.retained(other))
    stateful = list(move["stateful"])
    env = rec.with_placement(base, move["selector"], move["new_value"] if cutover else move["old_value"])
    if which in ("rewire", "keep", "unprotect-source"):
        copies = {**others, **{a: move["sources"][a] for a in stateful}}
    elif which in ("target", "abort-keep", "unprotect-target"):
        copies = {**others, **{a: move["target"] for a in stateful}}
    elif which == "dns":  # the twins, and the CDN twins in front of them
        copies = {**others, **{a: move["target"] for a in [*stateful, *move.get("domains", {})]}}
    else:  # remove, abort-remove
        copies = others
    unprotected = frozenset(move.get("protected", [])) if which.startswith("unprotect") else frozenset()
    owners = {stack: dict(named) for stack, named in (move.get("addresses") or {}).items()}
    return PhaseConfig(which, env, copies, unprotected, owners)


def urls_from_outputs(move: dict[str, Any], outputs: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    """address -> {source, target} data URLs, from the `<kind>_<name>_url` outputs of both stacks."""
    urls: dict[str, dict[str, str]] = {}
    for address in move["stateful"]:
        kind, name = move["kinds"][address], address.split(".", 1)[1].replace("-", "_")
        source = outputs.get(move["source_stacks"][address], {}).get(f"{kind}_{name}_url")
        target = outputs.get(move["target_stacks"][address], {}).get(f"{kind}_{name}_url")
        if isinstance(source, str) and isinstance(target, str):
            urls[address] = {"source": source, "target": target}
    return urls


# -------------------------------------------------------------------------------------------------------- hooks

@dataclass
class MoveHooks:
    """How a move talks to Terraform and to the person running it (the CLI, or a test)."""

    apply: Callable[[PhaseConfig, set[tuple[str, str]] | None], dict[str, Any]]
    """Synthesize and apply a configuration, refusing data loss outside `expected` (stack, neutral address) pairs;
    returns {"applied": [stacks], "outputs": {stack: {name: value}}} and optionally "owners": {stack: {Terraform
    address: neutral address}} of the applied stacks (recorded for the moved resources, see PhaseConfig.owners)."""
    confirm: Callable[[str], bool]
    say: Callable[[str], None] = print
    detail: Callable[[str], None] = lambda text: None
    progress: Callable[[str, int, str], Callable[[Any], None] | None] | None = None
    domains: Callable[[PhaseConfig, dict[str, Any]], list[dict[str, Any]]] | None = None
    """After the `dns` step's apply (its outcome): each CDN twin on the target as {cdn, domain, stack, phase (its
    `cdn_<name>_dns_phase` output), records: [{name, type, value, serving, resolves}]}, its records looked up."""


@dataclass
class MoveReport:
    """What a move did: phases with timings, and per resource what was copied, deleted and verified."""

    env: str
    selector: str
    target: str
    sources: dict[str, str]
    phases: list[dict[str, Any]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    source_removed: bool = False
    source_kept: bool = False
    target_kept: bool = False
    finished: bool = False
    aborted: bool = False
    placement: str = ""
    paused: str | None = None  # the `dns` step waits for the target's "validation" records, or the "serving" switch
    dns: dict[str, Any] | None = None  # then: {stopped, domains, zones}, the shape of `platform apply --json`'s dns

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in vars(self).items() if k != "results"}
        data["copies"] = [r for r in self.results if r.get("kind") == "bucket"]
        data["databases"] = [r for r in self.results if r.get("kind") == "database"]
        data["secrets"] = [r for r in self.results if r.get("kind") == "secret"]
        data["data"] = [r for r in self.results if r.get("kind") not in ("bucket", "database", "secret")]
        return data


# ------------------------------------------------------------------------------------------------------ executor

class MoveExecutor:
    """Runs, resumes or aborts one move through its phases, recording each in the state backend."""

    def __init__(self, project: Project, records: MoveRecords, move: dict[str, Any], hooks: MoveHooks,
                 workers: int = 8) -> None:
        self.project = project
        self.records = records
        self.move = move
        self.hooks = hooks
        self.workers = workers
        self.env = load_environment(project.envs_dir / f"{move['env']}.toml")
        stored = move.get("report") or {}
        self.report = MoveReport(move["env"], move["selector"], move["target"], move["sources"],
                                 phases=list(stored.get("phases", [])), results=list(stored.get("results", [])))

    # -- bookkeeping ----------------------------------------------------------------------------------------
    def _save(self, phase: str | None = None, **changes: Any) -> None:
        if phase is not None:
            changes["phase"] = phase
        self.move.update(changes, report={"phases": self.report.phases, "results": self.report.results})
        self.records.save(self.move, "platform move")
        if phase is not None and os.environ.get(KILL_AFTER_ENV) == phase:
            os.kill(os.getpid(), signal.SIGKILL)  # test switch: a kill exactly at this phase boundary

    def _phase(self, name: str, started: float, **details: Any) -> None:
        self.report.phases.append({"phase": name, "seconds": round(time.monotonic() - started, 2), "at": _now(),
                                   **details})

    def _config(self, which: str) -> PhaseConfig:
        return phase_config(self.env, self.move, self.records.load(), which)

    def _apply(self, which: str, expected: set[tuple[str, str]] | None = None) -> dict[str, Any]:
        """Apply one step; the Terraform addresses its stacks gave the moved resources are recorded (`addresses`),
        so a later step that removes a copy, on any machine, knows that copy's addresses."""
        outcome = self.hooks.apply(self._config(which), expected)
        stateful = set(self.move["stateful"])
        addresses: dict[str, dict[str, str]] = dict(self.move.get("addresses") or {})
        for stack, owners in (outcome.get("owners") or {}).items():
            named = {a: o for a, o in owners.items() if o in stateful}
            if named:
                addresses[stack] = {**addresses.get(stack, {}), **named}
        if addresses != (self.move.get("addresses") or {}):
            self._save(addresses=addresses)
        return outcome

    def _placement(self, value: str | None) -> None:
        """Make the environment file say what the move says (also on a checkout that did not start it)."""
        assert self.env.file is not None
        shown = f'"{self.move["selector"]}" = "{value}"' if value else f'no "{self.move["selector"]}" line'
        if self.env.placement.get(self.move["selector"]) != value:
            set_placement(self.env.file, self.move["selector"], value)
            self.env = load_environment(self.env.file)
            self.report.placement = f"{self.env.file}: {shown}"
        else:  # set by an earlier run of the move (or on another checkout): said all the same
            self.report.placement = f"{self.env.file}: {shown} (already)"

    def claim(self) -> None:
        """Mark the move as running here; refuse when another live run holds it."""
        running = Holder.from_json(self.move.get("running"))
        if running is not None:
            alive = running.alive()
            if alive is None or alive:
                where = "this machine" if alive else running.host
                raise PlatformError(f"the move of {self.move['selector']} is running: {running.describe()}",
                                    hint=f"wait for it; if that run is gone, release it on {where} with "
                                         f"`{self.records.unlock_command}`")
            self.hooks.say(f"the earlier run of this move ({running.describe()}) is gone: taking over from it")
        self._save(running=Holder.current("platform move").to_json())

    def release(self) -> None:
        self._save(running=None)

    # -- the move -------------------------------------------------------------------------------------------
    def run(self, keep_source: bool) -> MoveReport:
        """Run the move from its recorded phase to its end (or its pause for DNS records).

        Raises:
            PlatformError: a step failed; the move stays unfinished at that step, and the error's hint names the
                commands that take it on from there (`record.next_steps`) when the step's own error has none.
        """
        try:
            return self._run(keep_source)
        except PlatformError as err:
            if not err.hint:
                err.hint = rec.next_steps(self.move)
            raise

    def _run(self, keep_source: bool) -> MoveReport:
        if self.move["phase"] == rec.ABORTING:
            raise PlatformError(f"the move of {self.move['selector']} to {self.move['target']} is being undone "
                                "(phase aborting): it cannot be resumed", hint=rec.next_steps(self.move))
        order = rec.PHASES
        self._placement(self.move["new_value"])
        if order.index(self.move["phase"]) <= order.index(rec.TARGET):
            self._target()
        if order.index(self.move["phase"]) <= order.index(rec.COPY):
            self._copy(cutover=False)
        if order.index(self.move["phase"]) <= order.index(rec.DNS) and not self._domains():
            return self.report  # paused for DNS records: the source serves, `--resume` goes on, `--abort` undoes
        if order.index(self.move["phase"]) <= order.index(rec.REWIRE):
            self._rewire()
        if order.index(self.move["phase"]) <= order.index(rec.VERIFY):
            self._copy(cutover=True)
        if order.index(self.move["phase"]) <= order.index(rec.CLEANUP):
            self._cleanup(keep_source)
        self.report.finished = self.move["phase"] == rec.DONE
        self.report.source_kept = bool(self.move.get("source_kept"))
        return self.report

    def _target(self) -> None:
        started = time.monotonic()
        stateful = self.move["stateful"]
        stacks = sorted(set(self.move["target_stacks"].values()))
        self.hooks.say(f"[1/5] target: twins of {', '.join(stateful) or 'nothing'} on {self.move['target']}"
                       f" ({', '.join(stacks) or '-'})")
        outcome = self._apply("target")
        urls = urls_from_outputs(self.move, outcome.get("outputs", {}))
        self._phase(rec.TARGET, started, stacks=outcome.get("applied", []))
        self._save(rec.COPY, urls=urls)

    def _urls(self) -> dict[str, dict[str, str]]:
        urls: dict[str, dict[str, str]] = self.move.get("urls") or {}
        missing = [a for a in self.move["stateful"] if a not in urls]
        if missing:
            raise PlatformError(f"no data location known for {', '.join(missing)} (their stacks have no "
                                "`<kind>_<name>_url` output): re-run the move", value=missing[0])
        return urls

    def _copy(self, cutover: bool) -> None:
        started = time.monotonic()
        phase = rec.VERIFY if cutover else rec.COPY
        self.hooks.say("[4/5] final sync: what changed in the source meanwhile, then verification both ways"
                       if cutover else "[2/5] copy: data to the twins, verified both ways")
        urls = self._urls()
        for address in self.move["stateful"]:  # every side reachable before any data of this pass moves
            found = mover(self.move["kinds"][address])
            assert found is not None  # the preflight refused kinds without a mover
            found.ready(address, urls[address])
        ctx = CopyContext(self.env.name, self.move["target"], cutover, self.project.cache_dir / "moves" / "journals",
                          self.project.cache_dir / "moves" / "work", self.workers, self.hooks.progress,
                          shared=self.move.setdefault("shared", {}))
        ctx.journals.mkdir(parents=True, exist_ok=True)
        for address in self.move["stateful"]:
            found = mover(self.move["kinds"][address])
            assert found is not None
            try:
                result = found.copy(ctx, address, urls[address], phase)
            except PlatformError as err:
                waiting = "" if cutover else self._waiting_in_twins()
                if waiting:
                    err.hint = f"{err.hint}; {waiting}" if err.hint else waiting
                raise
            self.report.results.append(result)
            self.hooks.detail(_result_line(result))
            self._save()  # this resource's evidence is in the record even if a later one fails
        self._phase(phase, started, resources=list(self.move["stateful"]))
        self._save(rec.CLEANUP if cutover else rec.DNS)

    def _waiting_in_twins(self) -> str:
        """What the copy drained into queue twins, which nothing consumes before the cut-over ("" when nothing)."""
        drained: dict[str, int] = {}
        for result in self.report.results:
            if result.get("kind") == "queue" and result.get("phase") == rec.COPY:
                queue = result["queue"]
                drained[result["resource"]] = (drained.get(result["resource"], 0) + queue.get("moved", 0)
                                               + queue.get("dead_lettered_moved", 0))
        waiting = {address: n for address, n in drained.items() if n}
        if not waiting:
            return ""
        listed = ", ".join(f"{n} message(s) of {address}" for address, n in sorted(waiting.items()))
        return (f"{listed} wait in the target twin on {self.move['target']}, which nothing consumes before the "
                f"cut-over: `platform move --resume --env {self.env.name}` delivers them there after it, "
                f"`platform move --abort --env {self.env.name}` returns them to the source")

    def _domains(self) -> bool:
        """The target's twin of each CDN whose domain's zone is external there, built and brought through its two
        phases while the source serves; whether every record of the target resolves (the move goes on to its
        cut-over), else the report says what to create or switch and the move pauses here."""
        domains: dict[str, str] = self.move.get("domains") or {}
        if not domains:
            self._save(rec.REWIRE)
            return True
        started = time.monotonic()
        target = self.move["target"]
        self.hooks.say(f"[dns] {', '.join(domains)} on {target}: the certificate of "
                       f"{', '.join(sorted(set(domains.values())))} there (the source serves meanwhile)")
        outcome = self._apply("dns")
        found = self.hooks.domains(self._config("dns"), outcome) if self.hooks.domains else []
        phase_one = [d for d in found if d.get("phase") != PHASE_COMPLETE]
        unresolved = [d for d in found if not all(r.get("resolves") for r in d.get("records", []))]
        if not phase_one and not unresolved:
            self._phase(rec.DNS, started, domains=sorted(domains))
            self._save(rec.REWIRE, dns_asked=None)
            return True
        asked = "validation" if phase_one else "serving"
        if asked == "serving":
            # the target serves the domain from its twins as soon as the switch resolves: they carry what the source
            # has now, not what the first copy found (the final sync at the cut-over carries the rest)
            self._copy(cutover=False)
        first = self.move.get("dns_asked") != asked
        for domain in found:
            domain["state"] = ("new" if first else "waiting") if domain in phase_one else "complete"
        self.report.paused = asked
        self.report.dns = {"stopped": "dns-records-to-create" if first else "dns-records-missing",
                           "domains": found, "zones": []}
        self._phase(rec.DNS, started, paused=asked)
        self._save(dns_asked=asked)
        return False

    def _rewire(self) -> None:
        started = time.monotonic()
        self.hooks.say(f"[3/5] cut-over: functions and CDNs move, consumers switch to {self.move['target']} "
                       "(the source copy stays, unwired)")
        self._save(rewire_started=True)  # from here on the wiring may be half switched: no abort, only resume
        self._stop_source_writes()
        reused = self.move.get("reuses")
        if reused:  # a rollback: the earlier move's kept copy is this move's target from now on
            with self.records.change("platform move") as moves:
                for other in moves:
                    if other.get("id") == reused and other.get("phase") == rec.DONE:
                        other["phase"] = rec.SUPERSEDED
        outcome = self._apply("rewire")
        self._phase(rec.REWIRE, started, stacks=outcome.get("applied", []))
        self._save(rec.VERIFY, cutover_at=_now())

    def _stop_source_writes(self) -> None:
        """Each moved database's source refuses writes from here on, and a last copy carries what was written during
        the copy (the target is still unwired): the functions write to the target after the cut-over, so no
        acknowledged row is left only in the source. Writes are refused for the seconds until the cut-over ends."""
        stateful = [a for a in self.move["stateful"] if hasattr(mover(self.move["kinds"][a]), "stop_writes")]
        if not stateful:
            return
        urls = self._urls()
        sources = ", ".join(sorted({self.move["sources"][a] for a in stateful}))
        self.hooks.say(f"      writes to {', '.join(stateful)} on {sources}"
                       " are refused from now until the cut-over ends (a few seconds): the last copy carries every "
                       "row written so far")
        ctx = CopyContext(self.env.name, self.move["target"], False, self.project.cache_dir / "moves" / "journals",
                          self.project.cache_dir / "moves" / "work", self.workers, self.hooks.progress,
                          shared=self.move.setdefault("shared", {}))
        for address in stateful:
            found = mover(self.move["kinds"][address])
            result = found.stop_writes(ctx, address, urls[address], rec.REWIRE)  # type: ignore[union-attr]
            if not result.get("writes_stopped"):
                self.hooks.say(f"      {address}: its engine cannot refuse writes here; rows written to the source "
                               "from now on are found by the comparison before the source is removed")
            self.report.results.append(result)
            self.hooks.detail(_result_line(result))
            self._save()

    def _cleanup(self, keep_source: bool) -> None:
        started = time.monotonic()
        stateful = self.move["stateful"]
        if not stateful:
            self._phase(rec.CLEANUP, started, removed=[])
            self._save(rec.DONE, source_kept=False)
            return
        sources = sorted(set(self.move["sources"].values()))
        if keep_source or not self.hooks.confirm(f"Data is copied and verified. Remove the source copy of "
                                                 f"{', '.join(stateful)} on {', '.join(sources)}?"):
            self.hooks.say(f"[5/5] source kept: {', '.join(stateful)} on {', '.join(sources)} (remove it later with "
                           f"`platform move {self.move['selector']} --to {self.move['target']} --env "
                           f"{self.env.name} --remove-source`; move back with `--to {sources[0]}`)")
            self._phase(rec.CLEANUP, started, removed=[], kept=stateful)
            self._save(rec.DONE, source_kept=True, removing=False)  # also when an earlier removal was refused
            return
        # Not when a removal already under way resumes (part of the source may be gone), nor when the caller compared
        # both sides just now and decided (`--remove-source`, with `--allow-data-loss`: its recheck entries are in
        # the report).
        compared = any(r.get("phase") == RECHECK for r in self.report.results)
        if not self.move.get("removing") and not compared:
            self._refuse_if_source_holds_more(started, sources)
        self.hooks.say(f"[5/5] cleanup: removing the source copy of {', '.join(stateful)}"
                       + (f" (deletion protection of {', '.join(self.move['protected'])} turned off first, on that "
                          "copy only)" if self.move.get("protected") else ""))
        self._save(rec.CLEANUP, source_kept=True, removing=True)
        if self.move.get("protected"):
            self._apply("unprotect-source")
        expected = {(self.move["source_stacks"][a], a) for a in stateful}
        outcome = self._apply("remove", expected)
        self.report.source_removed = True
        self._phase(rec.CLEANUP, started, removed=stateful, stacks=outcome.get("applied", []))
        self._save(rec.DONE, source_kept=False, removing=False)

    def _refuse_if_source_holds_more(self, started: float, sources: list[str]) -> None:
        """Right before the source is removed, both sides are compared again (`recheck_source`): a source that holds
        what the target lacks (a row, an object, a message written after the final sync) is kept, the move finishes
        with the source kept, and the error names what only the source holds and the way forward."""
        results, lost = recheck_source(self.project, self.move, self.workers)
        if not lost:  # the passes' own entries stay the report's last word on each resource
            return
        self.report.results.extend(results)  # the evidence of the refusal
        self._phase(rec.CLEANUP, started, removed=[], kept=self.move["stateful"], source_holds=lost)
        self._save(rec.DONE, source_kept=True)
        parts = []
        for address, only in sorted(lost.items()):
            shown = ", ".join(only[:5]) + (f" and {len(only) - 5} more" if len(only) > 5 else "")
            parts.append(f"{address} on {self.move['sources'][address]} holds what the target on "
                         f"{self.move['target']} lacks or holds otherwise ({shown})")
        command = (f"platform move {self.move['selector']} --to {self.move['target']} --env {self.env.name} "
                   "--remove-source")
        raise PlatformError(f"the move of {self.move['selector']} is cut over, but the source was compared with the "
                            f"target again before its removal: {'; '.join(parts)}; so the source on "
                            f"{', '.join(sources)} was kept (nothing removed)", key="--remove-source",
                            value=sorted(lost)[0],
                            hint=f"carry that data to the target (it serves now), then `{command}` compares again "
                                 "and removes the source; or keep the source")

    # -- abort ----------------------------------------------------------------------------------------------
    def _give_back(self) -> None:
        """Before the twins are removed or kept unwired: what a twin holds of its own goes back to the source (a
        queue's messages drained into it by the copy: nothing consumes the twin before the cut-over). Raises
        PlatformError (the abort stops, the twins stay) when it cannot."""
        urls: dict[str, dict[str, str]] = self.move.get("urls") or {}
        for address in self.move["stateful"]:
            found = mover(self.move["kinds"][address])
            give_back = getattr(found, "give_back", None)
            if give_back is None or address not in urls:  # no data of its own, or no twin was made
                continue
            result = give_back(address, urls[address])
            moved = result["queue"]["moved"] + result["queue"]["dead_lettered_moved"]
            if moved:
                self.hooks.say(f"      {address}: {moved} message(s) returned from the twin on {self.move['target']} "
                               f"to the source on {self.move['sources'][address]}")
            self.report.results.append(result)
            self._save()

    def abort(self, keep_target: bool) -> MoveReport:
        """Before cut-over: placement and wiring back to the source, whose data was never touched; the twins are
        removed after confirmation unless `keep_target`."""
        phase = self.move["phase"]
        before_cutover = phase in (rec.TARGET, rec.COPY, rec.DNS, rec.ABORTING) or (
            phase == rec.REWIRE and not self.move.get("rewire_started"))
        if not before_cutover and not (phase == rec.ABORTED and self.move.get("target_kept")):
            source = sorted(set(self.move["sources"].values()))[0]
            raise PlatformError(
                f"the move of {self.move['selector']} is past cut-over (phase {phase}): it cannot be aborted",
                hint=(f"finish it with `platform move --resume --env {self.env.name}`, then move back with "
                      f"`platform move {self.move['selector']} --to {source} --env {self.env.name}` (a rollback "
                      "onto the kept source)") if phase not in rec.FINISHED else
                     f"move back with `platform move {self.move['selector']} --to {source} --env {self.env.name}`")
        started = time.monotonic()
        stateful = self.move["stateful"]
        self.hooks.say(f"[1/2] abort: placement of {self.move['selector']} back to "
                       f"{self.move['old_value'] or self.env.default_cloud}; the source data was never changed")
        self._save(rec.ABORTING, target_kept=True)
        self._placement(self.move["old_value"])
        self._give_back()
        remove = bool(stateful) and not keep_target and self.hooks.confirm(
            f"Remove the target twins of {', '.join(stateful)} on {self.move['target']} (a copy of the source "
            "data)?")
        if not remove:
            self._apply("abort-keep")
            self.hooks.say(f"[2/2] target twins kept: {', '.join(stateful) or '-'} on {self.move['target']} "
                           f"(remove them later with `platform move --abort --env {self.env.name}`; a new move to "
                           f"{self.move['target']} reuses them)")
            self.report.target_kept = True
            self._phase(rec.ABORTED, started, kept=stateful)
            self._save(rec.ABORTED, target_kept=True, running=None)
        else:
            self.hooks.say(f"[2/2] removing the target twins: {', '.join(stateful)}")
            if self.move.get("protected"):
                self._apply("unprotect-target")
            expected = {(self.move["target_stacks"][a], a) for a in stateful}
            self._apply("abort-remove", expected)
            self._phase(rec.ABORTED, started, removed=stateful)
            self._save(rec.ABORTED, target_kept=False, running=None)
        self.report.aborted = True
        return self.report


def _result_line(result: dict[str, Any]) -> str:
    """One line per resource pass, for `-v`."""
    kind = result.get("kind")
    if kind == "bucket":
        c, v = result["copy"], result["verify"]
        return (f"  {result['resource']} ({result['phase']}): {c['copied']} copied, {c['skipped_already_verified']}"
                f" already verified, {c['already_identical']} identical, {len(result['deleted'])} deleted, "
                f"{len(c['kept'])} kept on target; verified {v['matched']}/{v['source_objects']} source -> target, "
                f"{v['target_objects']} target objects checked back")
    if kind == "database":
        tables = ", ".join(f"{t} {n['target_rows']}/{n['source_rows']}" for t, n in result["tables"].items())
        return f"  {result['resource']} ({result['phase']}): rows per table {tables or 'no tables'}"
    if kind == "queue":
        q = result["queue"]
        return (f"  {result['resource']} ({result['phase']}): {q['moved']} messages and {q['dead_lettered_moved']} "
                f"dead-lettered drained into the target; source empty: {q['verified']}")
    return f"  {result.get('resource')} ({result.get('phase')}): {kind} verified"


def recheck_source(project: Project, move: dict[str, Any], workers: int = 8
                   ) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """Right before a source is removed (the move's own cleanup, or `--remove-source` of a kept one): both sides
    compared again, now (read only; each kind's `leftovers`, move/kinds.py). Returns the report entries (phase
    `recheck`; a queue's `cleanup`) and, per resource, what only the source holds (object keys, table names, message
    counts): data the removal would lose.

    Raises:
        PlatformError: a side cannot be reached, or the move recorded no data location of a resource.
    """
    urls: dict[str, dict[str, str]] = move.get("urls") or {}
    ctx = CopyContext(move["env"], move["target"], True, project.cache_dir / "moves" / "journals",
                      project.cache_dir / "moves" / "work", workers, None, shared=dict(move.get("shared") or {}))
    results: list[dict[str, Any]] = []
    lost: dict[str, list[str]] = {}
    for address in move["stateful"]:
        check = getattr(mover(move["kinds"][address]), "leftovers", None)
        if check is None:
            continue
        if address not in urls:
            raise PlatformError(f"no data location known for {address}: its source cannot be compared with the "
                                "target, so it is not removed", value=address)
        entry, only = check(ctx, address, urls[address])
        results.append(entry)
        if only:
            lost[address] = only
    return results, lost


def start_move(project: Project, records: MoveRecords, plan: MovePlan, reuses: str | None = None) -> dict[str, Any]:
    """Record the move (under the record's lock; refused if another unfinished move appeared meanwhile)."""
    move = new_move(plan, reuses)
    with records.change("platform move") as moves:
        other = rec.unfinished(moves)
        if other is not None:
            raise PlatformError(rec.describe(other), hint=rec.next_steps(other))
        moves.append(move)
    return move
