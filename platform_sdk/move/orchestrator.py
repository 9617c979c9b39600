"""`platform move`: one workload to another cloud, with its data, while everything else stays where it is.

The move runs in phases, recorded in `.platform/moves/<env>.json` so an interrupted move resumes where it
stopped (and a bucket copy resumes object by object from its journal):

1. placement  the environment file's placement line changes (validated first: a bad move changes nothing)
2. target     each moved bucket/database/secret gets a twin on the target cloud; nothing else changes yet
3. copy       data is copied (streamed, concurrent, checksummed) and then verified in full; a secret's value
              through the clouds' APIs, never printed
4. rewire     functions and CDNs move, consumers switch to the target; the source twin is kept, unwired
5. verify     anything written to the source meanwhile is copied too; full verification again
6. cleanup    the source twin is destroyed: only after confirmation, never by default in protected envs
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from platform_sdk.envs import Environment, load_environment
from platform_sdk.errors import PlatformError
from platform_sdk.model import Bucket, Database, Queue, Resource, Secret, Service
from platform_sdk.move.placement_file import set_placement
from platform_sdk.profile import Profile
from platform_sdk.project import Project
from platform_sdk.providers import compilers_for
from platform_sdk.synth.placement import resolve_placements

PHASES = ("placement", "target", "copy", "rewire", "verify", "cleanup", "done")


@dataclass
class MovePlan:
    """What a move changes, computed and validated before anything is touched."""

    env: Environment
    selector: str
    target: str
    moved: list[Resource]
    sources: dict[str, str]  # address -> source cloud
    old_placement: dict[str, str]
    new_env: Environment

    @property
    def stateful(self) -> list[Resource]:
        return [r for r in self.moved if isinstance(r, (Bucket, Database, Secret, Queue))]

    def to_json(self) -> dict[str, Any]:
        return {"selector": self.selector, "target": self.target, "sources": self.sources,
                "moved": [r.address for r in self.moved], "stateful": [r.address for r in self.stateful]}


def _select(services: list[Service], selector: str, env: Environment) -> list[Resource]:
    service_name, _, resource_name = selector.partition(".")
    service = next((s for s in services if s.name == service_name), None)
    if service is None:
        known = ", ".join(s.name for s in services)
        raise PlatformError(f"no service named {service_name!r} (services: {known})", key="SERVICE",
                            value=selector)
    if resource_name:
        resource = service.get(resource_name)
        if resource is None:
            known = ", ".join(r.name for r in service.resources)
            raise PlatformError(f"service {service_name!r} has no resource {resource_name!r} (resources: {known})",
                                key="SERVICE.RESOURCE", value=selector)
        return [resource]
    return service.resources


def plan_move(env: Environment, services: list[Service], selector: str, target: str,
              profile: Profile | None = None) -> MovePlan:
    """Validate the move against the target cloud's capabilities and every cross-cloud link; change nothing."""
    if not env.is_configured(target):
        raise PlatformError(f"cloud {target!r} has no [clouds.{target}] section in {env.file}", key="--to",
                            value=target)
    selected = _select(services, selector, env)
    new_placement = dict(env.placement)
    new_placement[selector] = target
    new_env = env.model_copy(update={"placement": new_placement})
    naming = (profile or Profile()).physical_name
    compilers = compilers_for(new_env)
    before = resolve_placements(env, services, compilers_for(env), naming=naming)
    after = resolve_placements(new_env, services, compilers, naming=naming)  # raises PlacementError
    moved = [r for r in selected if before[r].cloud != after[r].cloud]
    if not moved:
        raise PlatformError(f"{selector} already lives on {target}: nothing to move", key="--to", value=target)
    sources = {r.address: before[r].cloud for r in moved}
    return MovePlan(env, selector, target, moved, sources, dict(env.placement), new_env)


# ----------------------------------------------------------------------------------------------- record

def load_record(project: Project, env: Environment) -> dict[str, Any]:
    return project.read_moves(env.name)


def save_record(project: Project, env: Environment, record: dict[str, Any]) -> None:
    project.write_moves(env.name, record)


def unfinished_move(project: Project, env: Environment, selector: str | None = None) -> dict[str, Any] | None:
    for move in load_record(project, env)["moves"]:
        if move["phase"] != "done" and (selector is None or move["selector"] == selector):
            return move
    return None


# ------------------------------------------------------------------------------------------------ report

@dataclass
class MoveReport:
    """What the move did, phase by phase, with the copy and verification evidence."""

    env: str
    selector: str
    target: str
    sources: dict[str, str]
    phases: list[dict[str, Any]] = field(default_factory=list)
    copies: list[dict[str, Any]] = field(default_factory=list)
    databases: list[dict[str, Any]] = field(default_factory=list)
    secrets: list[dict[str, Any]] = field(default_factory=list)  # what happened to each value, never the value
    source_removed: bool = False
    source_kept: bool = False
    finished: bool = False

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))


# --------------------------------------------------------------------------------------------- executor

@dataclass
class MoveHooks:
    """How the orchestrator talks to the person running it (CLI) or to a test."""

    apply: Callable[[str, Environment, dict[str, str] | None, set[tuple[str, str]] | None], dict[str, Any]]
    confirm_removal: Callable[[list[str]], bool]
    say: Callable[[str], None] = print
    copy_progress: Callable[[str, int, int], Callable[[Any], None]] | None = None


class MoveExecutor:
    """Runs (or resumes) one move through its phases."""

    def __init__(self, project: Project, services: list[Service], move: dict[str, Any], hooks: MoveHooks,
                 workers: int = 8) -> None:
        self.project = project
        self.services = services
        self.move = move
        self.hooks = hooks
        self.workers = workers
        self.env = load_environment(project.envs_dir / f"{move['env']}.toml")
        self.report = MoveReport(move["env"], move["selector"], move["target"], move["sources"],
                                 phases=list(move.get("phases", [])), copies=list(move.get("copies", [])),
                                 databases=list(move.get("databases", [])), secrets=list(move.get("secrets", [])))

    # -- bookkeeping ----------------------------------------------------------------------------------------
    def _save(self, phase: str, **changes: Any) -> None:
        record = load_record(self.project, self.env)
        self.move.update(changes, phase=phase, phases=self.report.phases, copies=self.report.copies,
                         databases=self.report.databases, secrets=self.report.secrets)
        record["moves"] = [m for m in record["moves"] if m["id"] != self.move["id"]] + [self.move]
        save_record(self.project, self.env, record)

    def _phase(self, name: str, started: float, **details: Any) -> None:
        self.report.phases.append({"phase": name, "seconds": round(time.monotonic() - started, 2), **details})

    def _old_env(self) -> Environment:
        return self.env.model_copy(update={"placement": dict(self.move["old_placement"])})

    # -- phases ---------------------------------------------------------------------------------------------
    def run(self, keep_source: bool) -> MoveReport:
        phase = self.move["phase"]
        if PHASES.index(phase) <= PHASES.index("target"):
            self._target()
        if PHASES.index(self.move["phase"]) <= PHASES.index("copy"):
            self._copy("copy")
        if PHASES.index(self.move["phase"]) <= PHASES.index("rewire"):
            self._rewire()
        if PHASES.index(self.move["phase"]) <= PHASES.index("verify"):
            self._copy("verify")
        if PHASES.index(self.move["phase"]) <= PHASES.index("cleanup"):
            self._cleanup(keep_source)
        self.report.finished = self.move["phase"] == "done"
        self.report.source_kept = bool(self.move.get("source_kept")) and not self.report.source_removed
        return self.report

    def _target(self) -> None:
        started = time.monotonic()
        stateful = self.move["stateful"]
        self.hooks.say(f"[1/5] creating the target side on {self.move['target']}: {', '.join(stateful) or '-'}")
        twins = {address: self.move["target"] for address in stateful}
        outcome = self.hooks.apply("target", self._old_env(), twins, None)
        self._phase("target", started, stacks=outcome.get("applied", []))
        self._save("copy", urls=outcome.get("urls", {}))

    def _urls(self) -> dict[str, dict[str, str]]:
        """address -> {source, target} data URLs, from the outputs of the applied stacks."""
        return self.move.get("urls", {})

    def _copy(self, phase: str) -> None:
        from platform_sdk.move.copy import copy_bucket, verify_bucket
        from platform_sdk.move.database import copy_database, preflight_databases
        from platform_sdk.move.journal import Journal
        from platform_sdk.move.queue import drain_queue, preflight_queue
        from platform_sdk.move.secret import copy_secret, preflight_secrets
        from platform_sdk.runtime.buckets import open_bucket

        started = time.monotonic()
        step = "[2/5] copying data" if phase == "copy" else "[4/5] copying what changed meanwhile, verifying"
        self.hooks.say(step)
        urls = self._urls()
        # Engines and client/server versions of every database, before any data of this phase is copied.
        preflight_databases(urls[a] for a in self.move["stateful"] if self.move["kinds"][a] == "database" and a in urls)
        # Both containers of every secret (the twin exists), likewise.
        preflight_secrets({a: urls[a] for a in self.move["stateful"]
                           if self.move["kinds"][a] == "secret" and a in urls})
        journals = self.project.cache_dir / "moves" / "journals"
        journals.mkdir(parents=True, exist_ok=True)
        for address in self.move["stateful"]:
            pair = urls.get(address)
            if pair is None:
                raise PlatformError(f"no data location known for {address}: re-run the move", value=address)
            kind = self.move["kinds"][address]
            if kind == "bucket":
                src, dst = open_bucket(pair["source"]), open_bucket(pair["target"])
                journal_file = journals / f"{self.env.name}-{address}-{self.move['target']}.sqlite3"
                journal = Journal(journal_file, src.url, dst.url)
                try:
                    total = sum(1 for _ in src.list())
                    progress = self.hooks.copy_progress(address, total, phase == "verify") \
                        if self.hooks.copy_progress else None
                    copied = copy_bucket(src, dst, journal, workers=self.workers, progress=progress)
                finally:
                    journal.close()
                if not copied.ok:
                    raise PlatformError(f"copy of {address} incomplete: {len(copied.failed)} object(s) failed "
                                        f"({'; '.join(f.key + ': ' + f.reason for f in copied.failed[:3])}); "
                                        "re-run the move to resume", value=address)
                verified = verify_bucket(src, dst, workers=self.workers)
                if not verified.ok:
                    raise PlatformError(
                        f"verification of {address} failed: {len(verified.missing)} missing, "
                        f"{len(verified.mismatched)} different; the source is untouched, re-run the move",
                        value=address)
                self.report.copies.append({"phase": phase, "resource": address, "copy": copied.to_dict(),
                                           "verify": {k: v for k, v in verified.to_dict().items()
                                                      if k in ("ok", "checked", "matched", "bytes", "extra")}})
            elif kind == "secret":
                copied_secret = copy_secret(address, pair["source"], pair["target"], phase)
                self.report.secrets.append(copied_secret.to_json())
            elif kind == "queue":  # copy: what waits now; verify (after rewiring producers): what came meanwhile
                preflight_queue(address, pair["source"], pair["target"])
                drained = drain_queue(address, pair["source"], pair["target"])
                self.report.copies.append({"phase": phase, "resource": address, "queue": drained.to_json()})
            else:
                workdir = self.project.cache_dir / "moves" / "work"
                result = copy_database(pair["source"], pair["target"], workdir)
                self.report.databases.append({"phase": phase, "resource": address, **result.to_json()})
        self._phase(phase, started)
        self._save("rewire" if phase == "copy" else "cleanup")

    def _rewire(self) -> None:
        started = time.monotonic()
        self.hooks.say(f"[3/5] moving functions and CDNs, re-wiring consumers to {self.move['target']} "
                       "(the source copy is kept)")
        self._save("rewire", source_kept=True)
        outcome = self.hooks.apply("rewire", self.env, None, None)
        self._phase("rewire", started, stacks=outcome.get("applied", []))
        self._save("verify", source_kept=True)

    def _cleanup(self, keep_source: bool) -> None:
        started = time.monotonic()
        stateful = self.move["stateful"]
        if not stateful:
            self._phase("cleanup", started, removed=[])
            self._save("done", source_kept=False)
            return
        if keep_source or not self.hooks.confirm_removal(stateful):
            self.hooks.say("[5/5] keeping the source copy (remove it later with "
                           f"`platform move {self.move['selector']} --to {self.move['target']} --env "
                           f"{self.env.name} --remove-source`)")
            self._phase("cleanup", started, removed=[], kept=stateful)
            self._save("cleanup", source_kept=True)
            return
        self.hooks.say(f"[5/5] removing the source copy: {', '.join(stateful)}")
        self._save("cleanup", source_kept=False)
        expected = {(self.move["source_stacks"][a], a) for a in stateful}
        try:
            outcome = self.hooks.apply("cleanup", self.env, {}, expected)
        except BaseException:
            self._save("cleanup", source_kept=True)
            raise
        self.report.source_removed = True
        self._phase("cleanup", started, removed=stateful, stacks=outcome.get("applied", []))
        self._save("done", source_kept=False)


def start_move(project: Project, plan: MovePlan, services: list[Service]) -> dict[str, Any]:
    """Record the move, then change the placement line: from here on the move can be resumed."""
    from platform_sdk.synth.placement import stack_name

    record = load_record(project, plan.env)
    move = {
        "id": f"{plan.selector}->{plan.target}@{int(time.time())}",
        "env": plan.env.name, "selector": plan.selector, "target": plan.target, "sources": plan.sources,
        "moved": [r.address for r in plan.moved], "stateful": [r.address for r in plan.stateful],
        "kinds": {r.address: r.kind for r in plan.stateful},
        "source_stacks": {r.address: stack_name(plan.env, r.service.name, plan.sources[r.address])
                          for r in plan.stateful if r.service is not None},
        "target_stacks": {r.address: stack_name(plan.env, r.service.name, plan.target)
                          for r in plan.moved if r.service is not None},
        "old_placement": plan.old_placement, "phase": "target", "source_kept": False, "phases": [],
        "copies": [], "databases": [], "secrets": [],
    }
    record["moves"].append(move)
    save_record(project, plan.env, record)
    assert plan.env.file is not None
    set_placement(plan.env.file, plan.selector, plan.target)
    return move
