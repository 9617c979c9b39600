"""Drive Terraform over every stack of one environment: init, plan to a file, show, apply that file, outputs.

Why it is shaped like this:
- Each stack is a Terraform working directory (`cdktf.out/<env>/stacks/<stack>`) with its own small state,
  so stacks run in dependency order (from `platform.json`) and independent stacks in parallel.
- A consumer reads its producers' outputs through remote state. It is planned once every producer is settled
  (applied, no changes pending), or has pending changes that leave every output the consumer reads as it is
  (the producer exists and its plan's `output_changes` say "no-op" for them, terraform/reads.py): then the
  consumer's plan, made with the producer's current outputs, is still right after the producer's apply.
  Otherwise it is reported as "planned after <producer> is applied (its output X changes)" instead of being
  planned against values that do not exist yet.
- A destroy needs no value from other stacks (`terraform plan -destroy` of a stack reads only its own state), so
  every stack's destroy is planned at once and shown and counted in full before anything is destroyed; the
  approved plans are then applied consumers first, and a producer whose consumer was not destroyed is skipped
  (a saved destroy plan stays valid meanwhile: destroying a consumer does not touch its producer's state).
- Only a saved, reported plan is ever applied. `apply` therefore works in waves: plan what is ready, report,
  confirm, apply exactly those plans (producers before the consumers planned beside them), then plan the stacks
  that were waiting for them. A consumer planned beside its producer is applied only when the producer's apply
  left the outputs it read as they were when it was planned; otherwise its plan is discarded and it is planned
  again in the next wave ("planned again: ..."), never applied with outputs that are no longer current.
- `--stack` runs some stacks only (`limit`); producers outside the run are read as they are applied. A consumer
  that reads an output its producer outside the run does not have yet (the producer's pending apply adds it) is
  reported as waiting for that producer instead of failing in Terraform ("Unsupported attribute"), without
  planning the producer: its `terraform output -json` is compared with the outputs the consumer reads (only when
  its record says it changed since its last apply: else its state holds every output it declares).
- Terraform runs in its own process group with TF_FORK=0, so a Ctrl-C in the terminal reaches only us. We
  forward SIGINT to every running Terraform, wait for it to stop cleanly (state written, lock released) and
  report which stacks were interrupted.
- The local cloud's provider runs once per stack and operation, started here and reattached to by each of the
  stack's Terraform commands, instead of once per Terraform walk (`attach`; stopped when the operation ends).

Process control is `process`, the wave rules `schedule` (pure), what people see `progress`: this module is
the workflows (plan, apply in waves, outputs) and imports no UI library.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from collections.abc import Callable, Collection
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from platform_sdk import providers
from platform_sdk.terraform import reads, schedule
from platform_sdk.terraform import report as rp
from platform_sdk.terraform.attach import REATTACH_ENV_VAR, Providers
from platform_sdk.terraform.initcache import InitCache, needs_init
from platform_sdk.terraform.ledger import Ledger
from platform_sdk.terraform.locks import local_backend, parse_state_lock
from platform_sdk.terraform.process import NotStarted, Terraform, TfRun, trim_error
from platform_sdk.terraform.report import StackResult

if TYPE_CHECKING:
    from platform_sdk.model.reach import Reach

PLAN_FILE = "platform.tfplan"
RENAMED_STATE = "renamed.tfstate"
"""A stack's state with its pending renames done (`terraform state mv` of a pulled copy), planned with `-state`."""
RENAMED_WORKSPACE = "platform-renamed-copy"
"""The stateless workspace in which a plan made against RENAMED_STATE is shown (EnvironmentRunner._show_plan)."""
INIT = ["init", "-input=false", "-no-color"]
DEFAULT_PARALLELISM = 4
ALLOW_DATA_LOSS_ENV = "PLATFORM_ALLOW_DATA_LOSS"


def backend_missing() -> tuple[str, ...]:
    """Terraform's words when a state bucket or lock table is missing (`platform bootstrap` creates them)."""
    return tuple(m for plugin in providers.plugins().values() for m in plugin.backend_missing)


REATTACH_GONE = "Reattachment process not found"
"""Terraform's error when TF_REATTACH_PROVIDERS names a process that is gone (go-plugin's reattach)."""

class Progress(Protocol):
    """Told whenever a stack changes phase; shows the user what is running (see terraform.progress)."""

    def update(self, result: StackResult) -> None: ...

    def __enter__(self) -> Progress: ...

    def __exit__(self, *exc: object) -> None: ...


class NoProgress:
    def update(self, result: StackResult) -> None:
        pass

    def __enter__(self) -> NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


@dataclass
class Outcome:
    """How a multi-wave apply or destroy ended."""

    results: list[StackResult]
    waves: list[dict[str, Any]]
    interrupted: bool = False
    refused: list[tuple[str, rp.ResourceChange]] | None = None
    cancelled: bool = False
    # stacks left waiting, never applied: they read an output a producer outside the run (`--stack`) does not have
    # yet (their `reason` says how to include it)
    held: list[rp.StackResult] | None = None

    @property
    def failed(self) -> bool:
        return any(r.status in rp.BROKEN for r in self.results) or bool(self.refused) or bool(self.held)


class EnvironmentRunner:
    """Plans, applies and destroys the stacks of one synthesized environment."""

    def __init__(self, outdir: Path, metadata: dict[str, Any], terraform: Terraform, *,
                 parallelism: int = DEFAULT_PARALLELISM,
                 progress: Callable[[str, list[StackResult]], Progress] | None = None,
                 on_interrupt: Callable[[int, bool], None] | None = None,
                 ledger: Ledger | None = None, init_cache: InitCache | None = None) -> None:
        """`progress` makes the display for each run (label, stacks); `on_interrupt(count, first)` is told when
        Ctrl-C reached `count` running Terraform processes (again, when `first` is False). With a `ledger`,
        every plan and apply updates the stacks' records, and `select()` skips stacks that did not change. With
        an `init_cache`, each stack keeps its Terraform data between commands and init runs only when needed."""
        self.outdir = outdir
        self.ledger = ledger
        self.init_cache = init_cache
        self.env_name = str(metadata.get("environment", outdir.name))
        self.terraform = terraform
        self.parallelism = max(1, parallelism)
        self.progress_factory = progress or (lambda label, results: NoProgress())
        self.on_interrupt = on_interrupt or (lambda count, first: None)
        self.results: dict[str, StackResult] = {}
        self.outside: dict[str, StackResult] = {}  # stacks left out of the run by `limit`
        self._outside_outputs: dict[str, set[str]] = {}  # their output names, as their states hold them
        for name, info in sorted(metadata.get("stacks", {}).items()):
            self.results[name] = StackResult(name=name, service=info["service"], cloud=info["cloud"],
                                             target=info.get("target", info["cloud"]),
                                             dependencies=list(info.get("dependencies", [])),
                                             owners=dict(info.get("owners", {})),
                                             declared=dict(info.get("declared", {})))
        self._progress: Progress = NoProgress()
        self.renamed = {name: dict(info.get("renamed") or {}) for name, info in metadata.get("stacks", {}).items()}
        self._moved_supported: bool | None = None
        # (old, new) addresses to `terraform state mv` in a stack right before its saved plan (made against a moved
        # copy of the state) is applied; only an apply moves state (terraform/renames.py)
        self._state_moves: dict[str, list[tuple[str, str]]] = {}
        self._applying = False
        # consumer -> producer -> the outputs of it the consumer reads (reads.EVERY: all); None: unknown (all)
        self._reads: dict[str, dict[str, set[str] | None] | None] = {}
        # stacks applied in this command whose consumers were planned beside them -> their outputs after the apply
        self._watched: set[str] = set()
        self._applied_values: dict[str, dict[str, Any]] = {}
        # one local cloud provider per stack for the length of an operation, which Terraform reattaches to
        self.providers = Providers.of_plugins()

    def select(self, plan_all: bool = False, moving: set[str] | frozenset[str] = frozenset()) -> None:
        """Read the records and mark the stacks that need no plan (terraform/changes.py); needs a ledger."""
        assert self.ledger is not None, "select() needs the runner to keep records"
        self.ledger.load()
        for name, decision in self.ledger.decide(moving, plan_all).items():
            result = self.results[name]
            result.candidate = not decision.plan
            result.why = decision.reason
            result.unchanged_since = decision.since

    def limit(self, names: Collection[str]) -> None:
        """Run only the stacks `names` (`--stack`); the others are kept as `outside`, never planned or applied: a
        consumer in the run reads their outputs as their states hold them (`plan` makes it wait for one whose state
        lacks an output it reads)."""
        self.outside = {n: r for n, r in self.results.items() if n not in names}
        self.results = {n: r for n, r in self.results.items() if n in names}

    # -- helpers -------------------------------------------------------------------------------------------
    def stack_dir(self, name: str) -> Path:
        return self.outdir / "stacks" / name

    def _order_deps(self, destroy: bool) -> dict[str, list[str]]:
        """Who must be settled first: producers for plan/apply, consumers for destroy."""
        return schedule.order({n: r.dependencies for n, r in self.results.items()}, destroy)

    def _stack(self, name: str) -> StackResult:
        """A stack of the run, or one outside it (`limit`)."""
        return self.results[name] if name in self.results else self.outside[name]

    def _phase(self, result: StackResult, phase: str) -> None:
        if result.phase == phase:
            return
        result.phase = phase
        self._progress.update(result)

    def _start(self, result: StackResult, phase: str) -> None:
        result.status = rp.RUNNING
        result.started = time.monotonic()
        result.finished = None
        self._phase(result, phase)

    def _finish(self, result: StackResult, status: str, phase: str | None = None) -> None:
        result.status = status
        result.finished = time.monotonic()
        self._phase(result, phase or status)

    def _fail(self, result: StackResult, run: TfRun, what: str) -> None:
        """Record a failed Terraform run: interrupted, locked, or failed with its error text."""
        if self.ledger is not None and not run.interrupted and what in ("plan", "apply"):
            self.ledger.failed(result.name, f"{what} failed")
        text = run.stderr + "\n" + run.stdout
        lock = parse_state_lock(text)
        result.error = trim_error(run)
        if run.interrupted:
            result.reason = f"interrupted during {what}"
            self._finish(result, rp.INTERRUPTED)
        elif lock is not None:
            result.lock = lock
            result.error = lock.describe(result.name, self.env_name, local_backend(self.stack_dir(result.name)))
            self._finish(result, rp.LOCKED)
        else:
            result.reason = f"{what} failed"
            named = rp.owners_named(text, result.owners, result.declared)
            if named:
                result.error += f"\n{named}"
            if any(marker in text for marker in backend_missing()):
                result.error += f"\nhint: create the state backend first: platform bootstrap --env {self.env_name}"
            if REATTACH_GONE in text and self.terraform.env.get(REATTACH_ENV_VAR):
                result.error += (f"\nhint: {REATTACH_ENV_VAR} is set in your environment and names a provider process "
                                 "that is gone (`terraform init` will not help): unset it")
            self._finish(result, rp.FAILED)

    def _tf(self, result: StackResult, phase: str, args: list[str],
            extra_env: dict[str, str] | None = None) -> TfRun | None:
        """Run one Terraform command for a stack (`extra_env` added to its environment); None if it never started
        because of an interrupt.

        With an init cache, a command failing because the working directory needs init is run again after init.
        """
        self._phase(result, phase)
        cache, stack_dir = self.init_cache, self.stack_dir(result.name)
        env = {**(cache.env(result.name) if cache is not None else {}), **(extra_env or {})} or None
        try:
            run = self._run_attached(result.name, args, env)
            if cache is not None and args[0] != "init" and not run.ok and not run.interrupted \
                    and needs_init(run.stderr + run.stdout):
                cache.forget(result.name)
                init = self.terraform.run(stack_dir, INIT, env)
                if not init.ok:
                    return init
                cache.initialised(result.name, stack_dir)
                run = self._run_attached(result.name, args, env)
            return run
        except NotStarted:
            result.reason = "interrupted before it started"
            self._finish(result, rp.INTERRUPTED)
            return None

    def _run_attached(self, name: str, args: list[str], env: dict[str, str] | None) -> TfRun:
        """`terraform <args>` in a stack's directory, reattached to the stack's running providers when the command
        starts providers (terraform/attach.py); raises NotStarted once interrupted."""
        stack_dir = self.stack_dir(name)
        full = {**self.terraform.env, **(env or {})}
        extra = {} if self.terraform.interrupted else self.providers.env_for(name, stack_dir, args, full)
        if not extra:
            return self.terraform.run(stack_dir, args, env)
        run = self.terraform.run(stack_dir, args, {**(env or {}), **extra})
        return self.providers.add_log(name, run, full)

    def _init(self, result: StackResult) -> TfRun | None:
        """`terraform init`, unless the init cache says nothing it depends on changed (then a successful no-op)."""
        cache = self.init_cache
        if cache is not None and cache.ready(result.name, self.stack_dir(result.name)):
            return TfRun(INIT, 0, "", "", False)
        run = self._tf(result, "init", INIT)
        if run is not None and run.ok and cache is not None:
            cache.initialised(result.name, self.stack_dir(result.name))
        return run

    # -- per-stack work (worker threads) -------------------------------------------------------------------
    def _plan_stack(self, result: StackResult, destroy: bool, refresh_only: bool = False) -> None:
        self._state_moves.pop(result.name, None)
        with tempfile.TemporaryDirectory(prefix="platform-rename-") as scratch:  # a moved copy of the state
            self._plan_stack_in(result, destroy, refresh_only, Path(scratch))

    def _plan_stack_in(self, result: StackResult, destroy: bool, refresh_only: bool, scratch: Path) -> None:
        self._start(result, "init")
        result.plan, result.error, result.lock, result.reason, result.waiting_on = None, None, None, None, []
        result.waiting_outputs = {}
        run = self._init(result)
        if run is None:
            return
        if not run.ok:
            return self._fail(result, run, "init")
        moved = [] if destroy or refresh_only else self._rename(result, scratch / RENAMED_STATE)
        if moved is None:
            return
        args = ["plan", "-input=false", "-no-color", f"-out={PLAN_FILE}"] + (["-destroy"] if destroy else [])
        if refresh_only:
            args.append("-refresh-only")
        planned_on_copy = bool(moved) and (scratch / RENAMED_STATE).exists()
        if planned_on_copy:
            args.append(f"-state={scratch / RENAMED_STATE}")
        run = self._tf(result, "plan", args)
        if run is None:
            return
        if not run.ok:
            return self._fail(result, run, "plan")
        result.warnings = rp.parse_warnings(run.stdout + "\n" + run.stderr)
        run = self._show_plan(result, planned_on_copy)
        if run is None:
            return
        if not run.ok:
            return self._fail(result, run, "show")
        try:
            shown = json.loads(run.stdout)
            result.plan = rp.parse_plan(shown, destroy=destroy)
            result.plan.renamed.extend(pair for pair in moved if pair not in result.plan.renamed)
        except (ValueError, KeyError) as err:
            result.error = f"could not read `terraform show -json` output: {err}"
            return self._finish(result, rp.FAILED)
        if planned_on_copy:
            self._state_moves[result.name] = list(moved)
        # Changes made outside Terraform that the configuration does not undo (the real objects already match it)
        # are still applied, as `terraform apply` does: the apply records them in the state. Else the state keeps
        # the old values (a killed apply whose changes were made but not recorded) and every `platform drift`
        # reports them again, with no apply ever planned to clear them.
        changes = result.plan.has_changes or (bool(result.plan.drift) and not refresh_only and not destroy)
        if self.ledger is not None and refresh_only:
            if result.plan.drift:
                self.ledger.drifted(result.name)
        elif self.ledger is not None and not destroy:
            if changes:
                self.ledger.pending(result.name)
            else:
                # the state may have been changed by another command (a move of an earlier version applied without
                # records): record the outputs it has now (the plan's, as `terraform output -json` gives them), never
                # the values of an earlier apply
                planned = shown.get("planned_values") if isinstance(shown, dict) else None
                outputs = planned.get("outputs", {}) if isinstance(planned, dict) else None
                self.ledger.settled(result.name, outputs if isinstance(outputs, dict) else self._read_outputs(result),
                                    lambda: None)
                result.outputs, result.outputs_known = self.ledger.values(result.name), True
        self._finish(result, rp.CHANGES if changes else rp.NO_CHANGES, "planned")

    def _rename(self, result: StackResult, copy: Path) -> list[tuple[str, str]] | None:
        """Take the objects of renamed resources to their new addresses for the plan (terraform/renames.py), without
        changing the state: `moved` blocks when Terraform reads them; else (Terraform < 1.1) `terraform state mv` in
        a copy of the state (`copy`, which the plan then reads with `-state`), and `_apply_stack` moves the real state
        right before the plan is applied. Returns the (old, new) pairs taken by `state mv`; None when Terraform failed
        or the rename cannot be planned without changing the state (the result says why)."""
        from platform_sdk.terraform import renames

        renamed = self.renamed.get(result.name)
        if not renamed:
            return []
        run = self._tf(result, "state", ["state", "list"])
        if run is None:
            return None
        if not run.ok:
            if "No state file was found" in run.stderr + run.stdout:
                return []
            self._fail(result, run, "state list")
            return None
        pairs = renames.pending(renamed, run.stdout.split())
        if not pairs:
            return []
        if self._moved_supported is None:
            self._moved_supported = renames.supports_moved(renames.binary_version(self.terraform.binary,
                                                                                  self.terraform.env))
        if self._moved_supported:
            renames.add_moved(self.stack_dir(result.name) / "cdk.tf.json", pairs)
            return []  # the plan reports them (previous_address)
        backend = renames.backend_type(self.stack_dir(result.name) / "cdk.tf.json")
        if backend != "local" and not self._applying:
            result.error = renames.cannot_plan(pairs, backend)
            result.reason = "rename not planned"
            self._finish(result, rp.FAILED)
            return None
        if backend != "local":
            # Terraform < 1.1 plans no copy of a remote state: an apply moves the state itself, under its lock
            for old, new in pairs:
                if not self._state_mv(result, ["-lock=true", old, new]):
                    return None
            return pairs
        run = self._tf(result, "rename", ["state", "pull"])
        if run is None:
            return None
        if not run.ok:
            self._fail(result, run, "state pull")
            return None
        copy.write_text(run.stdout)
        for old, new in pairs:
            if not self._state_mv(result, [f"-state={copy}", old, new]):
                return None
        return pairs

    def _show_plan(self, result: StackResult, planned_on_copy: bool) -> TfRun | None:
        """`terraform show -json` of the stack's saved plan.

        Terraform 1.0.3's `show` compares the state a saved plan was made against with the backend's state and
        refuses a plan made against a moved copy as stale (`show` takes no `-state`). Such a plan is shown in a
        workspace that holds no state (TF_WORKSPACE=RENAMED_WORKSPACE), where there is nothing to compare; the
        local backend only makes the workspace's empty folder, removed here. The apply still makes that comparison,
        against the state it moved."""
        if not planned_on_copy:
            return self._tf(result, "show", ["show", "-json", "-no-color", PLAN_FILE])
        folder = self.stack_dir(result.name) / "terraform.tfstate.d"
        try:
            return self._tf(result, "show", ["show", "-json", "-no-color", PLAN_FILE],
                            {"TF_WORKSPACE": RENAMED_WORKSPACE})
        finally:
            for empty in (folder / RENAMED_WORKSPACE, folder):
                with contextlib.suppress(OSError):  # not empty: not ours to remove
                    empty.rmdir()

    def _state_mv(self, result: StackResult, args: list[str]) -> bool:
        """`terraform state mv <args>` in a stack; False when it failed or was interrupted (the result says why)."""
        run = self._tf(result, "rename", ["state", "mv", "-no-color", *args])
        if run is not None and not run.ok:
            self._fail(result, run, "state mv")
        return run is not None and run.ok

    def _read_outputs(self, result: StackResult) -> dict[str, Any] | None:
        """`terraform output -json` of a stack whose working directory is initialised; None if that failed."""
        run = self._tf(result, "outputs", ["output", "-json", "-no-color"])
        if run is None or not run.ok:
            return None
        try:
            raw = json.loads(run.stdout or "{}")
        except ValueError:
            return None
        return raw if isinstance(raw, dict) else None

    def _apply_stack(self, result: StackResult, destroy: bool = False) -> None:
        self._start(result, "apply")
        # the plan was made against a copy of the state with these renames done: do them in the state now, under its
        # lock (the same moves give the same serial, so Terraform takes the plan as made against this state; any
        # other change in between makes it refuse the plan as stale)
        for old, new in [] if destroy else self._state_moves.pop(result.name, []):
            if not self._state_mv(result, ["-lock=true", old, new]):
                return
        run = self._tf(result, "apply", ["apply", "-input=false", "-no-color", PLAN_FILE])
        if run is None:
            return
        if not run.ok:
            return self._fail(result, run, "apply")
        result.applied = True
        if self.ledger is not None and destroy:
            self.ledger.destroyed(result.name)
        elif self.ledger is not None or result.name in self._watched:
            raw = self._read_outputs(result)
            if self.ledger is not None:
                self.ledger.settled(result.name, raw, lambda: None)
            if raw is not None:
                self._applied_values[result.name] = {k: v.get("value") for k, v in raw.items()
                                                     if isinstance(v, dict)}
                result.outputs = {k: ("(sensitive)" if v.get("sensitive") else v.get("value")) for k, v in raw.items()}
                result.outputs_known = True
        self._finish(result, rp.APPLIED)

    def _outputs_stack(self, result: StackResult, init: bool) -> None:
        if init:
            run = self._init(result)
            if run is None:
                return
            if not run.ok:
                return self._fail(result, run, "init")
        run = self._tf(result, "outputs", ["output", "-json", "-no-color"])
        if run is None:
            return
        if not run.ok:
            return self._fail(result, run, "output")
        try:
            raw = json.loads(run.stdout or "{}")
        except ValueError as err:
            result.error = f"could not read `terraform output -json`: {err}"
            return self._finish(result, rp.FAILED)
        result.outputs = {k: ("(sensitive)" if v.get("sensitive") else v.get("value")) for k, v in raw.items()}

    # -- scheduling ----------------------------------------------------------------------------------------
    def _run_pool(self, names: list[str], work: Callable[[StackResult], None],
                  deps: dict[str, list[str]] | None, destroy: bool, label: str) -> None:
        """Run `work` on each stack once its dependencies allow it, at most `parallelism` at a time.

        Ctrl-C: forward SIGINT to Terraform, keep waiting until every process has exited, then mark what
        never started. Further Ctrl-Cs only repeat the notice: killing Terraform now could keep the lock.
        """
        pending = list(names)
        running: dict[Future[None], str] = {}
        stacks = [self._stack(n) for n in names]
        with self.progress_factory(label, stacks) as progress:
            self._progress = progress
            pool = ThreadPoolExecutor(max_workers=self.parallelism, thread_name_prefix="terraform")
            try:
                while pending or running:
                    try:
                        if not self.terraform.interrupted:
                            while self._schedule(pending, running, pool, work, deps, destroy):
                                pass  # a stack settled without Terraform (unchanged): its consumers may be ready
                        else:
                            for name in pending:
                                result = self._stack(name)
                                result.status, result.reason = rp.INTERRUPTED, "not started (interrupted)"
                            pending.clear()
                        if running:
                            done, _ = wait(list(running), timeout=0.25, return_when=FIRST_COMPLETED)
                            for future in done:
                                name = running.pop(future)
                                exc = future.exception()
                                if exc is not None:
                                    result = self._stack(name)
                                    result.error = f"internal error: {type(exc).__name__}: {exc}"
                                    self._finish(result, rp.FAILED)
                        elif pending and not self.terraform.interrupted:
                            # Nothing running and nothing ready: every dependency is decided, so this is a cycle.
                            for name in pending:
                                result = self._stack(name)
                                result.status, result.reason = rp.SKIPPED, "dependency cycle"
                            pending.clear()
                    except KeyboardInterrupt:
                        self.interrupt()
            finally:
                pool.shutdown(wait=True)
                self._progress = NoProgress()

    def _schedule(self, pending: list[str], running: dict[Future[None], str], pool: ThreadPoolExecutor,
                  work: Callable[[StackResult], None], deps: dict[str, list[str]] | None, destroy: bool) -> bool:
        """Start what is ready (schedule.decide); record which stacks wait and which are skipped, and why.

        Returns True when a stack settled without running (unchanged), so deciding again may start more.
        """
        settled_inline = False
        statuses = {name: result.status for name, result in self.results.items()}
        unaffected = None if destroy else self._unaffected
        for name, verdict in schedule.decide(pending, deps, statuses, self.parallelism - len(running), unaffected):
            pending.remove(name)
            result = self._stack(name)
            if verdict.status == schedule.READY and result.candidate and not destroy and self.ledger is not None:
                changed = [p for p in (deps or {}).get(name, []) if self.results[p].status == rp.APPLIED
                           and self.ledger.outputs_changed(p, name)]
                if not changed:
                    result.status = rp.UNCHANGED
                    result.outputs, result.outputs_known = self.ledger.values(name), True
                    self._phase(result, "unchanged")
                    settled_inline = True
                    continue
                result.candidate, result.why = False, f"the outputs of {changed[0]} changed"
            if verdict.status == schedule.READY:
                running[pool.submit(work, result)] = name
            elif verdict.status == rp.SKIPPED:
                role = "consumer" if destroy else "producer"
                result.reason = f"{role} {', '.join(verdict.on)} did not finish"
                result.status = rp.SKIPPED
                self._phase(result, "skipped")
            else:
                result.waiting_on = list(verdict.on)
                result.waiting_outputs = {} if destroy else \
                    {p: reads.described(self.stack_dir(p), outputs, self.results[p].owners)
                     for p in verdict.on if (outputs := self._changing(name, p))}
                result.status = rp.WAITING
                self._phase(result, "waiting for " + ", ".join(verdict.on))
        return settled_inline

    # -- consumers planned beside their producers ----------------------------------------------------------
    def outputs_read(self, consumer: str, producer: str) -> set[str] | None:
        """The outputs of `producer` that `consumer` reads (reads.EVERY when that cannot be told)."""
        if consumer not in self._reads:
            self._reads[consumer] = reads.outputs_read_by(self.stack_dir(consumer))
        found = self._reads[consumer]
        return reads.EVERY if found is None else found.get(producer, set())

    def _changing(self, consumer: str, producer: str) -> list[str] | None:
        """The outputs `consumer` reads that `producer`'s pending plan changes; None when the producer has no such
        plan to judge by (it has no plan with changes, or it did not exist when it was planned)."""
        result = self.results[producer]
        if result.status != rp.CHANGES or result.plan is None or not result.plan.exists:
            return None
        return reads.changing(self.outputs_read(consumer, producer), result.plan.output_actions)

    def _unaffected(self, consumer: str) -> list[str]:
        """The producers of `consumer` with pending changes that leave every output it reads as it is."""
        return [p for p in self.results[consumer].dependencies
                if p in self.results and self._changing(consumer, p) == []]

    def _stale(self, consumer: str, producer: str) -> tuple[str, str] | None:
        """(status, why) when `consumer`'s plan, made with `producer`'s outputs before `producer`'s plan was applied
        in the same wave, must not be applied: SKIPPED (the producer's apply did not finish) or PENDING (plan it
        again: an output it reads is not what it was planned with). None while its plan still holds."""
        applied = self.results[producer]
        if applied.status == rp.PENDING:
            return rp.PENDING, f"{producer} is planned again"
        if applied.status != rp.APPLIED:
            return rp.SKIPPED, f"producer {producer} did not finish"
        before = applied.plan.prior_outputs if applied.plan is not None else {}
        after = self._applied_values.get(producer)
        read = self.outputs_read(consumer, producer)
        names = set(before) | set(after or {}) if read is reads.EVERY else read or set()
        missing = object()
        changed = sorted(names) if after is None else \
            sorted(n for n in names if before.get(n, missing) != after.get(n, missing))
        if not changed:
            return None
        shown = reads.described(self.stack_dir(producer), changed, applied.owners)
        what = f"output {shown[0]}" if len(shown) == 1 else f"outputs {', '.join(shown)}"
        return rp.PENDING, f"{producer}'s {what} changed when it was applied (it had been planned with the old value)"

    def _held_by_outside(self, names: list[str]) -> list[str]:
        """Mark WAITING the stacks among `names` that read an output one of their producers outside the run
        (`limit`) does not have in its state yet: its pending apply adds it, and a plan now would fail in Terraform
        ("Unsupported attribute"). Their `reason` says how to include the producer. Returns their names.

        The producers' states are read (`terraform output -json`), never planned; a producer whose outputs cannot
        be read holds nothing back (the plan then says what is wrong), and neither does one that `select()` found
        unchanged since its last apply (its state holds every output its configuration declares; in CI its wave
        job applied it just before), whose state is therefore not read."""
        producers = sorted({p for n in names for p in self.results[n].dependencies
                            if p in self.outside and not self.outside[p].candidate})
        if not producers:
            return []

        def read(result: StackResult) -> None:
            run = self._init(result)
            outputs = self._read_outputs(result) if run is not None and run.ok else None
            if outputs is not None:
                self._outside_outputs[result.name] = set(outputs)
            self._phase(result, "read")

        unread = [p for p in producers if p not in self._outside_outputs]
        if unread:  # they are never applied in this command: read once
            self._run_pool(unread, read, None, False, "outputs")
        held = self._outside_outputs
        waiting = []
        for name in names:
            result = self.results[name]
            missing: dict[str, list[str]] = {}
            for producer in result.dependencies:
                if producer not in held:
                    continue
                wanted = self.outputs_read(name, producer)
                wanted = self.declared_outputs(producer) if wanted is reads.EVERY else wanted
                absent = sorted((wanted or set()) - held[producer])
                if absent:  # a producer never applied holds no outputs: it is just "planned after" it
                    owners = self.outside[producer].owners
                    missing[producer] = reads.described(self.stack_dir(producer), absent, owners) \
                        if held[producer] else []
            if not missing:
                continue
            waiting.append(name)
            result.status, result.waiting_on, result.waiting_outputs = rp.WAITING, list(missing), \
                {p: shown for p, shown in missing.items() if shown}
            them = ", ".join(missing)
            it = "it" if len(missing) == 1 else "them"
            stacks = " ".join(f"--stack {n}" for n in [*missing, name])
            result.reason = (f"{them} {'is' if len(missing) == 1 else 'are'} not in this run: apply {it} first, "
                             f"or include {it} ({stacks}), or run without --stack")
            self._phase(result, "waiting for " + them)
        return waiting

    def _apply_ready(self, ready: list[str], destroy: bool) -> None:
        """Apply the approved plans of one wave: producers before the consumers planned beside them, each consumer
        only while the outputs it read are still current (`_stale`); the others are planned again in the next wave
        (or skipped when their producer's apply failed)."""
        if destroy:
            return self._destroy_in_order(ready)
        self._watched = {p for r in self.results.values() for p in r.dependencies if p in ready}
        touched = set(ready)  # applied in this wave, or to be planned again
        left = list(ready)
        while True:
            self._drop_stale(left, touched)
            if not left or self.interrupted:
                break
            layer = [n for n in left if not any(p in left for p in self.results[n].dependencies)]
            if not layer:
                break  # a cycle: a wave never holds one (a stack waits for a producer in a cycle)
            self._run_pool(layer, lambda r: self._apply_stack(r), None, False, "apply")
            left = [n for n in left if n not in layer]
        self._watched = set()
        return None

    def _keep_read_producers(self, left: list[str]) -> None:
        """Take out of `left` (the stacks whose destroy is to be applied) every producer with a consumer that is not
        destroyed and will not be (its plan or destroy failed, or it was skipped): that consumer still reads it, so
        it is skipped. Repeats until nothing changes (a skipped producer keeps its own producers)."""
        consumers = self._order_deps(destroy=True)
        skipped = True
        while skipped:
            skipped = False
            for name in list(left):
                kept = [c for c in consumers[name] if c not in left and self.results[c].status not in rp.SETTLED]
                if kept:
                    left.remove(name)
                    result = self.results[name]
                    result.status, result.reason = rp.SKIPPED, f"consumer {', '.join(kept)} is not destroyed"
                    self._phase(result, "skipped")
                    skipped = True

    def _destroy_in_order(self, ready: list[str]) -> None:
        """Apply the approved destroy plans, consumers before the producers they read from; a producer with a
        consumer that is not destroyed is skipped (`_keep_read_producers`)."""
        consumers = self._order_deps(destroy=True)
        left = list(ready)
        while left and not self.interrupted:
            self._keep_read_producers(left)
            layer = [n for n in left if not any(c in left for c in consumers[n])]
            if not layer:
                break  # a cycle: the stack graph has none
            self._run_pool(layer, lambda r: self._apply_stack(r, True), None, True, "destroy")
            left = [n for n in left if n not in layer]

    def _drop_stale(self, left: list[str], touched: set[str]) -> None:
        """Take out of the wave's `left` the consumers whose plans no longer hold now that their producers in it
        are done (`_stale`); mark the consumers settled beside such producers (no changes) to be planned again when
        what they read changed. Repeats until nothing changes (a consumer planned again makes its own consumers'
        plans stale)."""
        changed = True
        while changed:
            changed = False
            for name, result in self.results.items():
                approved = name in left
                if not approved and result.status != rp.NO_CHANGES:
                    continue
                producers = [p for p in result.dependencies if p in touched]
                if not producers or any(p in left for p in producers):
                    continue
                stale = next((found for p in producers if (found := self._stale(name, p))), None)
                if stale is None or not approved and stale[0] != rp.PENDING:
                    continue
                changed = True
                touched.add(name)
                if approved:
                    left.remove(name)
                status, why = stale
                if status == rp.SKIPPED:
                    result.reason, result.status = why, rp.SKIPPED
                    self._phase(result, "skipped")
                else:
                    self.discard_plan(name)
                    result.replanned, result.status, result.plan = why, rp.PENDING, None
                    self._phase(result, "to plan again")

    def interrupt(self) -> None:
        """Forward Ctrl-C to Terraform and tell the user we are waiting for it (lock release)."""
        first = not self.terraform.interrupted
        count = self.terraform.interrupt()
        self.on_interrupt(count, first)

    @property
    def interrupted(self) -> bool:
        return self.terraform.interrupted

    # -- operations ----------------------------------------------------------------------------------------
    def plan(self, destroy: bool = False, names: list[str] | None = None,
             refresh_only: bool = False) -> list[StackResult]:
        """Plan every stack whose producers are settled; the others are reported as waiting.

        Stacks marked unchanged by `select()` are not planned unless a producer was applied with new outputs.
        `destroy`: `terraform plan -destroy` of every stack at once (no ordering: it reads only the stack's state).
        `refresh_only`: `terraform plan -refresh-only` of every stack at once, to find drift (no ordering).
        """
        todo = names if names is not None else list(self.results)
        for name in todo:
            result = self.results[name]
            result.status, result.phase, result.waiting_on, result.reason = rp.PENDING, "", [], None
            result.waiting_outputs = {}
        deps = None if refresh_only or destroy else self._order_deps(False)
        label = "refresh" if refresh_only else "destroy plan" if destroy else "plan"
        with self.providers.scope():
            if not (destroy or refresh_only):
                held = self._held_by_outside(todo)
                todo = [n for n in todo if n not in held]
            self._run_pool(todo, lambda r: self._plan_stack(r, destroy, refresh_only), deps, destroy, label)
        return list(self.results.values())

    def apply(self, confirm: Callable[[list[StackResult], int], bool], *, destroy: bool = False,
              allow_data_loss: bool = False, on_wave: Callable[[list[StackResult], int], None] | None = None,
              ) -> Outcome:
        """Wave after wave: plan what is ready, report, refuse data loss, confirm, apply exactly those plans.

        Each stack's providers serve its plan and its apply (one process per stack, stopped when this returns)."""
        self._applying = True
        try:
            with self.providers.scope():
                return self._apply(confirm, destroy=destroy, allow_data_loss=allow_data_loss, on_wave=on_wave)
        finally:
            self._applying = False

    def _apply(self, confirm: Callable[[list[StackResult], int], bool], *, destroy: bool, allow_data_loss: bool,
               on_wave: Callable[[list[StackResult], int], None] | None) -> Outcome:
        outcome = Outcome(results=list(self.results.values()), waves=[])
        if allow_data_loss:
            self.terraform.env[ALLOW_DATA_LOSS_ENV] = "1"
        wave = 0
        while True:
            todo = [n for n, r in self.results.items() if r.status in (rp.PENDING, rp.WAITING)]
            if not todo:
                break
            wave += 1
            self.plan(destroy=destroy, names=todo)
            if destroy:  # before the plans are shown: what is not destroyed keeps what it reads
                self._keep_read_producers([n for n in todo if self.results[n].status == rp.CHANGES])
            results = [self.results[n] for n in todo]
            outcome.waves.append(rp.report_json(self.env_name, "destroy" if destroy else "apply", results))
            if on_wave is not None:
                on_wave(results, wave)
            if self.interrupted:
                outcome.interrupted = True
                break
            ready = [n for n in todo if self.results[n].status == rp.CHANGES]
            if not ready:
                # what still waits has no producer left to apply in this run: one outside it (`limit`) lacks an output
                outcome.held = [self.results[n] for n in todo if self.results[n].status == rp.WAITING] or None
                break
            loss = [(n, c) for n in ready for c in self.results[n].plan.data_loss]  # type: ignore[union-attr]
            if loss and not allow_data_loss:
                outcome.refused = loss
                break
            try:
                approved = confirm(results, wave)
            except KeyboardInterrupt:
                approved = False
                outcome.interrupted = True
            if not approved:
                outcome.cancelled = True
                break
            self._apply_ready(ready, destroy)
            if self.interrupted:
                outcome.interrupted = True
                break
        return outcome

    def terraform_in(self, name: str, args: list[str], init: bool = False) -> TfRun:
        """One Terraform command in one stack's working directory (after `init` when asked): `state list`,
        `import`, `state mv`, `state rm`. Raises NotStarted when interrupted."""
        with self.providers.scope():
            return self._terraform_in(name, args, init)

    def _terraform_in(self, name: str, args: list[str], init: bool) -> TfRun:
        result = self.results[name]
        if init:
            run = self._init(result)
            if run is None:
                raise NotStarted(name)
            if not run.ok:
                return run
        run = self._tf(result, args[0], args)
        if run is None:
            raise NotStarted(name)
        return run

    def plan_stack(self, name: str) -> StackResult:
        """Plan one stack now, whatever its producers' state (adoption plans the stack it imported into)."""
        result = self.results[name]
        with self.providers.scope():
            self._plan_stack(result, destroy=False)
        return result

    def discard_plan(self, name: str) -> None:
        """Forget a stack's saved plan (it was refused): `apply` then plans again."""
        (self.stack_dir(name) / PLAN_FILE).unlink(missing_ok=True)
        self._state_moves.pop(name, None)
        if self.ledger is not None:
            self.ledger.pending(name)

    def states(self, names: list[str] | None = None) -> dict[str, dict[str, Any]]:
        """`terraform show -json` of each stack's current state (after init), keyed by stack; stacks whose state
        cannot be read are left out (their error is in `results`)."""
        states: dict[str, dict[str, Any]] = {}

        def show(result: StackResult) -> None:
            run = self._tf(result, "init", ["init", "-input=false", "-no-color"])
            if run is None or not run.ok:
                return None if run is None else self._fail(result, run, "init")
            run = self._tf(result, "show", ["show", "-json", "-no-color"])
            if run is None or not run.ok:
                return None if run is None else self._fail(result, run, "show")
            states[result.name] = json.loads(run.stdout or "{}")

        todo = names if names is not None else list(self.results)
        with self.providers.scope():
            self._run_pool(todo, show, None, False, "state")
        return states

    def outputs(self, names: list[str] | None = None, init: bool = False,
                known: bool = False) -> dict[str, dict[str, Any]]:
        """`terraform output -json` of each stack (in parallel), keyed by stack.

        `known`: keep the outputs already learned in this command (applied stacks, and stacks whose record
        holds them) instead of asking Terraform again.
        Only the outputs the stack's current configuration declares are kept (a state or a record may still hold
        outputs of resources that moved elsewhere).
        """
        todo = names if names is not None else list(self.results)
        ask = [n for n in todo if not (known and self.results[n].outputs_known)]
        if ask:
            self._run_pool(ask, lambda r: self._outputs_stack(r, init), None, False, "outputs")
        for name in todo:
            declared = self.declared_outputs(name)
            if declared is not None:
                result = self.results[name]
                result.outputs = {k: v for k, v in result.outputs.items() if k in declared}
        return {n: self.results[n].outputs for n in todo}

    def declared_outputs(self, name: str) -> set[str] | None:
        """The output names of a stack's synthesized configuration (`cdk.tf.json`); None if it cannot be read."""
        try:
            document = json.loads((self.stack_dir(name) / "cdk.tf.json").read_text())
        except (OSError, ValueError):
            return None
        return set(document.get("output") or {}) if isinstance(document, dict) else None


def where_things_live(results: list[StackResult], metadata: dict[str, Any],
                      copies: dict[tuple[str, str], str] | None = None,
                      reach: dict[str, Reach] | None = None) -> list[dict[str, Any]]:
    """Rows (service, kind, name, url, stack, cloud) from the `function_/bucket_/cdn_<name>_url` outputs, and one
    `dns` row per record of a `cdn_<name>_dns_records` output (a domain in an external zone: the record to create,
    also as `record`, "<name> <type> <value>").

    `reach`: function address -> how it is reached (`model.reach.reaches`). With it, every function of a stack
    (its `function_<name>_name` output) has a row, whose `url` is there only when that URL serves it (an `http()`
    trigger, no CDN in front; `iam`: true when it admits only callers granted `invokes`); otherwise `reached`
    says how it is reached instead: `via CDN <cdn url><pattern>`, `queue svc.outbox`, `cron 0 3 * * *`,
    `object created in svc.uploads`, `called by svc.api` (`Reach.describe`). A function with an HTTP URL and
    other triggers has both. Without `reach`, each `function_<name>_url` output is listed as is.

    `copies`: (address, cloud) -> what that copy is, for the copies a move keeps besides the live one
    (`move.record.copy_roles`); their rows say so as `copy` (the live copy's rows have none)."""
    rows = []
    stacks = metadata.get("stacks", {})
    ordered = sorted(results, key=lambda r: (r.service, r.name))
    names_of = {result.name: _model_names(result, stacks) for result in ordered}
    cdn_urls = {f"{result.service}.{names_of[result.name].get(key[4:-4], key[4:-4])}": value
                for result in ordered for key, value in result.outputs.items()
                if key.startswith("cdn_") and key.endswith("_url") and isinstance(value, str)}
    for result in ordered:
        names = names_of[result.name]
        outputs = result.outputs
        for key, value in sorted(outputs.items()):
            for kind in ("function", "bucket", "cdn"):
                prefix = f"{kind}_"
                short = key[len(prefix):-len("_url")]
                if not (key.startswith(prefix) and key.endswith("_url") and isinstance(value, str)) or \
                        kind == "function" and reach is not None:
                    continue
                rows.append(_where_row(result, kind, names.get(short, short), copies, url=value))
            if reach is not None and key.startswith("function_") and key.endswith("_name"):
                short = key[len("function_"):-len("_name")]
                name = names.get(short, short)
                how = reach.get(f"{result.service}.{name}")
                url = outputs.get(f"function_{short}_url")
                if how is None:  # not in the model (any more): as the outputs say
                    if isinstance(url, str):
                        rows.append(_where_row(result, "function", name, copies, url=url))
                    continue
                row = _where_row(result, "function", name, copies)
                if how.url and isinstance(url, str) and url:
                    row["url"] = url
                    if how.iam:
                        row["iam"] = True
                if how.others or not row.get("url"):
                    row["reached"] = how.describe(cdn_urls.get)
                rows.append(row)
            if key.startswith("cdn_") and key.endswith("_dns_records") and isinstance(value, list):
                # a CDN whose domain lives in a zone outside the cloud (dns_zone = "external"): what to create there
                short = key[len("cdn_"):-len("_dns_records")]
                for record in value:
                    if isinstance(record, dict):
                        text = f"{record.get('name')} {record.get('type')} {record.get('value')}"
                        rows.append({"service": result.service, "kind": "dns", "name": names.get(short, short),
                                     "url": f"{text}  (create it in the zone)", "stack": result.name,
                                     "cloud": result.cloud_label, "record": text})
    return rows


def _model_names(result: StackResult, stacks: dict[str, Any]) -> dict[str, str]:
    """Output name part (`on_demand`) -> the model's name (`on-demand`) of the service's resources, on whichever
    of its stacks they are now."""
    return {a.split(".", 1)[-1].replace("-", "_"): a.split(".", 1)[-1]
            for stack, info in stacks.items() if stack == result.name or info.get("service") == result.service
            for a in info.get("resources", [])}


def _where_row(result: StackResult, kind: str, name: str, copies: dict[tuple[str, str], str] | None,
               url: str | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {"service": result.service, "kind": kind, "name": name,
                           **({"url": url} if url is not None else {}), "stack": result.name,
                           "cloud": result.cloud_label}
    role = (copies or {}).get((f"{result.service}.{name}", result.cloud))
    if role is not None:
        row["copy"] = role
    return row
