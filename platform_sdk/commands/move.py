"""`platform move SERVICE[.RESOURCE] --to CLOUD --env NAME`: move one workload with its data.

    platform move thumbnails --to gcp --env prod [--dry-run] [--keep-source | --remove-source] [--yes]
    platform move thumbnails --to gcp --env prod --remove-source [--allow-data-loss]   remove a kept source: compared
                                               with the target first, refused where only it holds data
    platform move --resume --env prod [--keep-source]   finish the environment's unfinished move (from any checkout);
                                               at its cleanup, --keep-source keeps the source copy (removes nothing)
    platform move --abort --env prod [--keep-target]   undo it before cut-over

`--dry-run` writes, applies and deletes nothing, whatever state a move is in (for an unfinished move it says what
`--resume` would do).

A CDN whose domain's DNS zone is external on the target pauses the move after the copy (exit 0): for the target's
validation records, then for the switch of the domain's own record; `--resume` goes on once they resolve
(docs/domains.md).

Output: one line per phase, progress bars while copying, a final table; `-v` adds the preflight's checks, the
Terraform plans and per-resource details; `--json` prints the full report (preflight, phases with timings,
per-object counts, verification both ways, per-table rows and checksums).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from platform_sdk.commands._common import EnvOption, JsonOption, ProjectOption, console, err_console, load, user_errors
from platform_sdk.errors import PlatformError, did_you_mean
from platform_sdk.move.kinds import RECHECK
from platform_sdk.providers import builtin_names

_clouds = builtin_names()
TARGETS = f"{', '.join(_clouds[:-1])} or {_clouds[-1]}" if len(_clouds) > 1 else _clouds[0]

PAUSE_AFTER_ENV = "PLATFORM_MOVE_PAUSE_AFTER"  # rehearsal/test switch: pause a copy pass after N objects...
PAUSE_FILE_ENV = "PLATFORM_MOVE_PAUSE_FILE"  # ...while this file exists (to interrupt a move at a known point)...
PAUSE_PASS_ENV = "PLATFORM_MOVE_PAUSE_PASS"  # ...in this pass: `copy` (default) or `sync` (the final sync)


class TerraformSteps:
    """The move's Terraform side: synthesize a configuration, plan it (preflight) or apply it (a phase)."""

    def __init__(self, project: Any, services: list[Any], parallelism: int, verbose: bool, as_json: bool) -> None:
        from platform_sdk.terraform.binary import find_terraform

        self.project = project
        self.services = services
        self.parallelism = parallelism
        self.verbose = verbose
        self.out = err_console if as_json else console
        self.binary = find_terraform()

    def _runner(self, config: Any, outdir: Path | None = None, records: bool = False) -> tuple[Any, dict[str, Any]]:
        """`records`: the runner keeps the stacks' records of their applies (next to their state), which the next
        command's DNS check reads (where a CDN domain in an external zone stands, also the twin of the `dns` step)."""
        from platform_sdk.commands import dns_phase
        from platform_sdk.profile import load_profile
        from platform_sdk.synth.app import read_metadata, synthesize
        from platform_sdk.terraform.binary import terraform_env
        from platform_sdk.terraform.process import Terraform
        from platform_sdk.terraform.progress import default_progress, interrupt_notice
        from platform_sdk.terraform.runner import EnvironmentRunner

        # a CDN domain in an external zone whose records do not resolve yet stays in its first phase, as `platform
        # apply` leaves it (docs/domains.md): the move's steps neither complete it nor count it as a pending change;
        # the CDN twin of the `dns` step has its own phase on the target
        waiting = dns_phase.check(self.project, config.env, self.services, copies=config.copies).not_ready
        env = config.env.with_domains_waiting(waiting)
        result = synthesize(self.project, env, self.services, profile=load_profile(self.project, env),
                            outdir=outdir, extra_copies=config.copies, unprotected_copies=config.unprotected)
        metadata = read_metadata(result.outdir)
        ledger = None
        if records:
            from platform_sdk.terraform.ledger import Ledger
            from platform_sdk.terraform.records import record_store

            ledger = Ledger.for_outdir(record_store(self.project.root, env), result.outdir, metadata["stacks"])
        runner = EnvironmentRunner(result.outdir, metadata, Terraform(self.binary, terraform_env(self.project.root)),
                                   parallelism=self.parallelism,
                                   progress=default_progress(err_console) if self.verbose else None,
                                   on_interrupt=interrupt_notice(err_console), ledger=ledger)
        return runner, metadata

    def plan(self, config: Any) -> list[Any]:
        """Plan every stack of `config` in a scratch folder (nothing applied, nothing of the project's replaced)."""
        from platform_sdk.move.preflight import PlannedStack
        from platform_sdk.terraform import report as rp

        scratch = Path(tempfile.mkdtemp(prefix="platform-move-plan-"))
        try:
            runner, _ = self._runner(config, scratch / "out")
            results = runner.plan()
            if runner.interrupted:
                raise KeyboardInterrupt
            if self.verbose:
                rp.render(self.out, config.env.name, "plan", results, title="preflight: plan of the target step")
            planned = [r.name for r in results if r.status in (rp.NO_CHANGES, rp.CHANGES)]
            # a stack waiting for a producer this step changes (a function reading a bucket moved earlier, say) is
            # not planned, but its state is deployed: the preflight needs its outputs (where its data lives) too
            waiting = [r.name for r in results if r.status == rp.WAITING]
            for names, init in ((planned, False), (waiting, True)):
                if names:
                    runner.outputs(names, init=init)
                    if runner.interrupted:  # Ctrl-C while the outputs were read: they may be missing
                        raise KeyboardInterrupt
            return [PlannedStack(r.name, r.status,
                                 [(c.address, r.owners.get(c.address, ""), c.action) for c in r.plan.changes]
                                 if r.plan else [],
                                 [c.address for c in r.plan.data_loss] if r.plan else [], r.error or r.reason or "",
                                 dict(r.outputs)) for r in results]
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def apply(self, config: Any, expected_loss: set[tuple[str, str]] | None) -> dict[str, Any]:
        """Apply all of `config`, refusing any data loss outside `expected_loss` (stack, neutral address).

        A copy the step removes is not in the step's own synthesis, so the neutral resource of a destroyed Terraform
        address is looked up there first, then in `config.owners` (what the move's earlier steps applied, from the
        move record), then in this checkout's record of deployed stacks; an address none of them names is data the
        move did not copy, refused. Returns {"applied": [stacks], "outputs": {stack: {name: value}}, "owners":
        {stack: {Terraform address: neutral address}}} of the applied stacks."""
        from platform_sdk.terraform import report as rp

        runner, metadata = self._runner(config, records=True)
        deployed = self.project.read_deployed(config.env.name)
        owners = {name: info.get("owners", {}) for name, info in metadata["stacks"].items()}
        unexpected: list[str] = []

        def owner(stack: str, address: str) -> str | None:
            for known in (owners.get(stack, {}), config.owners.get(stack, {}),
                          deployed.get(stack, {}).get("owners", {})):
                if address in known:
                    return str(known[address])
            return None

        def confirm(results: list[Any], wave: int) -> bool:
            if self.verbose:
                rp.render(self.out, config.env.name, "apply", results, title=f"move: {config.label} plan")
            for stack, change in rp.data_loss(results):
                neutral = owner(stack, change.address)
                if expected_loss is None or (stack, neutral) not in expected_loss:
                    unexpected.append(f"{change.address} in {stack}")
            return not unexpected

        outcome = runner.apply(confirm, allow_data_loss=expected_loss is not None)
        if outcome.refused or unexpected:
            lost = unexpected or [f"{c.address} in {s}" for s, c in outcome.refused]
            raise PlatformError(f"the {config.label} step would destroy data it did not copy: {', '.join(lost)}; "
                                "nothing was applied in this step")
        if outcome.interrupted:
            raise KeyboardInterrupt
        if outcome.failed or outcome.cancelled:
            failed = [f"{r.name}: {r.error or r.reason}" for r in outcome.results if r.status in rp.BROKEN]
            raise PlatformError(f"the {config.label} step failed ({'; '.join(failed)}); fix it and resume with "
                                f"`platform move --resume --env {config.env.name}`")
        applied = [r.name for r in outcome.results if r.status in rp.SETTLED]
        stacks = {n: {**metadata["stacks"][n]} for n in applied}
        self.project.record_deployed(config.env.name, stacks,
                                     removed=tuple(n for n in applied if metadata["stacks"][n].get("tombstone")))
        outputs = runner.outputs(applied)
        if runner.interrupted:  # Ctrl-C while the outputs were read: the step's outputs may be missing, so the
            raise KeyboardInterrupt  # move stops here (resumable) instead of going on as if it had them
        return {"applied": applied, "outputs": outputs, "owners": {n: dict(owners.get(n, {})) for n in applied}}

    def domains(self, config: Any, outcome: dict[str, Any]) -> list[dict[str, Any]]:
        """The CDN twins `config` built on the target (the `dns` step), each with its phase and its records looked
        up (the system's resolver, or `PLATFORM_DNS_RESOLVER`). Raises dns_phase.ResolverError (exit 2)."""
        from platform_sdk.commands import dns_phase

        lookup = None
        found = []
        for state in dns_phase.twin_domains(config.env, self.services, config.copies):
            short = state.cdn.split(".", 1)[1].replace("-", "_")
            values = outcome.get("outputs", {}).get(state.stack, {})
            records = [r for r in values.get(f"cdn_{short}_dns_records") or [] if isinstance(r, dict)]
            lookup = lookup or dns_phase.resolver()
            checked = [{"name": r.get("name"), "type": r.get("type"), "value": r.get("value"),
                        "serving": dns_phase.serving(r, state.domain), "resolves": dns_phase.resolves(lookup, r)}
                       for r in records]
            for record in checked:
                if not record["resolves"]:
                    record["found"] = _answers(lookup, record)
            found.append({"cdn": state.cdn, "domain": state.domain, "stack": state.stack, "cloud": state.cloud,
                          "phase": values.get(f"cdn_{short}_dns_phase"), "records": checked})
        return found


def _answers(lookup: Any, record: dict[str, Any]) -> list[str]:
    """What DNS answers now for a record's name and type (empty: nothing yet), to say how it differs."""
    import dns.exception

    try:
        answer = lookup.resolve(str(record["name"]), str(record["type"]), raise_on_no_answer=False)
    except dns.exception.DNSException:
        return []
    return [r.to_text().strip('"').rstrip(".") for r in answer]


# ------------------------------------------------------------------------------------------------------- output

def _pausing(on_event: Any, label: str) -> Any:
    """Wrap a progress callback so a rehearsal can stop a copy midway at an exact object count."""
    after, hold = os.environ.get(PAUSE_AFTER_ENV), os.environ.get(PAUSE_FILE_ENV)
    if not after or not hold or os.environ.get(PAUSE_PASS_ENV, "copy") != label:
        return on_event

    def paused(event: Any) -> None:
        if on_event is not None:
            on_event(event)
        if event.done >= int(after):
            Path(hold + ".entered").touch()
            while Path(hold).exists():
                time.sleep(0.05)
    return paused


class CopyBars:
    """One progress bar per copy pass of a bucket (on stderr, so `--json` output stays clean)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.progress: Progress | None = None

    def __call__(self, address: str, total: int, label: str) -> Any:
        self.stop()
        if not self.enabled or not total:
            return _pausing(None, label)
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=err_console, transient=False)
        self.progress.start()
        task = self.progress.add_task(f"  {label} {address}", total=total)
        progress = self.progress

        def on_event(event: Any) -> None:
            progress.update(task, completed=event.done)
            if event.done >= total and self.progress is progress:
                self.stop()
        return _pausing(on_event, label)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def _confirm(yes: bool) -> Any:
    def confirm(question: str) -> bool:
        if yes:
            return True
        if not sys.stdin.isatty():
            err_console.print(f"{question} not confirmed: not a terminal, and --yes was not given", highlight=False)
            return False
        err_console.print(f"\n[bold]{escape(question)}[/] Only 'yes' will be accepted.\n  Enter a value: ", end="")
        return sys.stdin.readline().strip().lower() == "yes"
    return confirm


def _print_preflight(preflight: Any, verbose: bool, dry_run: bool) -> None:
    checks = preflight.checks
    if dry_run or verbose or not preflight.ok:
        console.print(f"[bold]preflight[/] of moving {escape(preflight.selector)} to {escape(preflight.target)}:")
        for check in checks:
            mark = "[green]ok[/]     " if check.ok else "[red]refused[/]"
            console.print(f"  {mark} {escape(check.step)} [dim]({check.how})[/]: {escape(check.detail)}",
                          highlight=False, soft_wrap=True)
            if check.fix and not check.ok:
                console.print(f"           fix: {escape(check.fix)}", highlight=False, soft_wrap=True)
        return
    how = {h: sum(1 for c in checks if c.how == h) for h in ("planned", "checked", "static")}
    console.print(f"preflight: {len(checks)} checks passed ({how['planned']} planned, {how['checked']} checked, "
                  f"{how['static']} static)", highlight=False)
    for check in checks:  # a rehearsal's finding passes here (the local move goes ahead) but must not go unread
        if check.step.startswith("rehearsal of ") and "would be refused there" in check.detail:
            console.print(f"  [bold yellow]{escape(check.step)}[/]: {escape(check.detail)}", highlight=False,
                          soft_wrap=True)


def _final_table(report: dict[str, Any]) -> Table:
    """Every resource: what its passes copied and deleted (the copy before cut-over and the final sync, summed),
    what the latest pass left as it was (`same`), how it verified both ways, and the size of the data as the latest
    pass found it (what it copied plus what it left as it was; never the bytes of earlier passes counted again)."""
    latest: dict[str, dict[str, Any]] = {}
    copied: dict[str, int] = {}
    deleted: dict[str, int] = {}
    for result in report["copies"] + report["databases"] + report["secrets"] + report["data"]:
        address = result["resource"]
        latest[address] = result
        if result.get("kind") == "bucket" and result.get("phase") != RECHECK:
            copied[address] = copied.get(address, 0) + result["copy"]["copied"]
            deleted[address] = deleted.get(address, 0) + len(result["deleted"])
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    table.add_column("resource", no_wrap=True)
    table.add_column("kind")
    for column in ("copied", "same", "deleted", "verified →", "←", "size"):
        table.add_column(column, justify="right", no_wrap=True)
    for address, result in latest.items():
        kind = result.get("kind", "?")
        if result.get("phase") == RECHECK:  # compared again now (before a kept source is removed), nothing copied
            if kind == "bucket":
                v = result["verify"]
                table.add_row(address, kind, "", "", "", f"{v['matched']}/{v['source_objects']} now",
                              str(v["target_objects"]), f"{v['bytes'] / 1e6:.1f} MB")
            else:
                tables = result["tables"]
                ok = sum(1 for t in tables.values() if t.get("verified"))
                table.add_row(address, kind, "", "", "", f"{ok}/{len(tables)} tables now", "rows+sums", "")
        elif kind == "bucket":
            c, v = result["copy"], result["verify"]
            kept = len(v["new_on_target"]) + len(v["rewritten_on_target"]) + len(v["deleted_on_target"])
            table.add_row(address, kind, str(copied[address]),
                          str(c["skipped_already_verified"] + c["already_identical"]),
                          str(deleted[address]), f"{v['matched']}/{v['source_objects']}",
                          f"{v['target_objects']}" + (f" ({kept} target's)" if kept else ""),
                          f"{(c['bytes_copied'] + c['bytes_skipped']) / 1e6:.1f} MB")
        elif kind == "database":
            tables = result["tables"]
            rows = sum(t["target_rows"] or 0 for t in tables.values())
            ok = sum(1 for t in tables.values() if t.get("verified"))
            table.add_row(address, kind, f"{len(tables)} tables", "", "", f"{ok}/{len(tables)} tables", "rows+sums",
                          f"{rows} rows")
        elif kind == "secret":
            if result.get("source_has_value") is False:  # nothing to copy: said so, not as a verified value
                table.add_row(address, kind, "no value", "", "", "nothing to copy", "", "")
            else:
                table.add_row(address, kind, "value" if result.get("copied") else "", "" if result.get("copied")
                              else "value", "", "value" if result.get("verified") else "NO", "", "")
        elif kind == "queue":
            q = result["queue"]
            table.add_row(address, kind, f"{q['moved'] + q['dead_lettered_moved']} messages", "", "",
                          "counts" if q["verified"] else "NO", "", "")
        else:
            table.add_row(address, kind, "", "", "", "yes", "", "")
    return table


# ------------------------------------------------------------------------------------------------------ command

def _conflicts(selector: str | None, to: str | None, keep_source: bool, remove_source: bool, resume: bool,
               abort: bool, keep_target: bool, dry_run: bool) -> str | None:
    if keep_source and remove_source:
        return "--keep-source and --remove-source contradict each other: give one"
    if abort and (to or resume or dry_run or keep_source or remove_source):
        given = [f for f, v in (("--to", to), ("--resume", resume), ("--dry-run", dry_run),
                                ("--keep-source", keep_source), ("--remove-source", remove_source)) if v]
        return f"--abort undoes the unfinished move; it takes no {', '.join(given)}"
    if keep_target and not abort:
        return "--keep-target only goes with --abort"
    if not (resume or abort) and (selector is None or to is None):
        return "give what to move and where (SERVICE[.RESOURCE] --to CLOUD), or --resume / --abort"
    return None


@user_errors
def move(selector: Annotated[str | None, typer.Argument(metavar="[SERVICE[.RESOURCE]]", help="What to move.")] = None,
         to: Annotated[str | None, typer.Option("--to", help=f"Target cloud: {TARGETS}.")] = None,
         env: EnvOption = "",
         project: ProjectOption = None,
         keep_source: Annotated[bool, typer.Option("--keep-source", help="Keep the source copy after verification "
                                                   "(the default in protected environments).")] = False,
         remove_source: Annotated[bool, typer.Option("--remove-source", help="Remove the source copy after "
                                                     "verification and confirmation (also: of a finished move that "
                                                     "kept it).")] = False,
         resume: Annotated[bool, typer.Option("--resume", help="Finish the environment's unfinished move.")] = False,
         abort: Annotated[bool, typer.Option("--abort", help="Undo the unfinished move (before cut-over): placement "
                                             "and wiring back to the source.")] = False,
         keep_target: Annotated[bool, typer.Option("--keep-target", help="With --abort: keep the target twins (a "
                                                   "later move there reuses them).")] = False,
         yes: Annotated[bool, typer.Option("--yes", help="Do not ask before removing a copy.")] = False,
         allow_data_loss: Annotated[bool, typer.Option("--allow-data-loss", help="With --remove-source: remove a kept "
                                                       "source even where it holds data the target lacks (that data "
                                                       "is lost).")] = False,
         dry_run: Annotated[bool, typer.Option("--dry-run", help="Change nothing: run the preflight (every "
                                               "check), or say what --resume or --remove-source would do.")] = False,
         workers: Annotated[int, typer.Option(min=1, help="Objects copied at the same time.")] = 8,
         parallelism: Annotated[int, typer.Option("--parallelism", "-p", min=1)] = 4,
         verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show every check, plan and pass.")] = False,
         as_json: JsonOption = False) -> None:
    """Move a service or one resource to another cloud: checked first, target first, copy, verify, re-wire."""
    from platform_sdk.terraform.locks import workspace_lock

    if not env:
        raise PlatformError("--env is required", key="--env")
    problem = _conflicts(selector, to, keep_source, remove_source, resume, abort, keep_target, dry_run)
    if allow_data_loss and not remove_source:
        problem = problem or "--allow-data-loss only goes with --remove-source (of a kept source)"
    if problem:
        raise PlatformError(problem)
    proj, environment, services = load(project, env)
    if selector is not None and not (resume or abort):  # what to move, checked first: before --to and the preflight
        from platform_sdk.move.orchestrator import select_resources

        select_resources(services, selector)
    with workspace_lock(proj.cache_dir, environment.name, "move"):  # WorkspaceLocked: exit 1 (user_errors)
        _move(proj, environment, services, selector, to, keep_source, remove_source, resume, abort, keep_target,
              yes, dry_run, workers, parallelism, verbose, as_json, allow_data_loss)


def _move(proj: Any, environment: Any, services: list[Any], selector: str | None, to: str | None,
          keep_source: bool, remove_source: bool, resume: bool, abort: bool, keep_target: bool, yes: bool,
          dry_run: bool, workers: int, parallelism: int, verbose: bool, as_json: bool,
          allow_data_loss: bool = False) -> None:
    from platform_sdk.commands.dns_phase import ResolverError, probe_resolver
    from platform_sdk.move import record as rec
    from platform_sdk.move.orchestrator import MoveExecutor, MoveHooks, recheck_source, start_move
    from platform_sdk.move.preflight import run_preflight
    from platform_sdk.move.record import MoveRecords
    from platform_sdk.profile import load_profile

    out = err_console if as_json else console
    records = MoveRecords(proj, environment)
    moves = records.load()
    current = rec.unfinished(moves)
    steps = TerraformSteps(proj, services, parallelism, verbose, as_json)

    def say(text: str) -> None:
        out.print(text, highlight=False, soft_wrap=True)

    bars = CopyBars(enabled=not as_json)
    hooks = MoveHooks(apply=steps.apply, confirm=_confirm(yes), say=say, detail=say if verbose else (lambda t: None),
                      progress=bars, domains=steps.domains)
    preflight_json: dict[str, Any] | None = None
    rechecked: list[dict[str, Any]] = []
    keep = keep_source or (environment.protected and not remove_source)

    if abort:
        target_move = current or next((m for m in reversed(moves) if m.get("phase") == rec.ABORTED
                                       and m.get("target_kept") and selector in (None, m["selector"])), None)
        if target_move is None:
            raise PlatformError(f"environment {environment.name} has no unfinished move to abort")
        if selector is not None and selector != target_move["selector"]:
            raise PlatformError(f"the unfinished move is of {target_move['selector']}, not {selector}",
                                key="SERVICE", value=selector)
        executor = MoveExecutor(proj, records, target_move, hooks, workers=workers)
        executor.claim()
        try:
            report = executor.abort(keep_target)
        except ResolverError as err:
            raise PlatformError(f"{err.message}; the abort of the move of {target_move['selector']} is unfinished "
                                f"(phase {executor.move['phase']})", key=err.key, value=err.value,
                                hint=f"fix the resolver, then run `platform move --abort --env {environment.name}` "
                                     "again") from None
        finally:
            bars.stop()
            executor.release()
        _finish(report.to_json(), None, as_json, f"aborted the move of {target_move['selector']}"
                + (" (target twins kept)" if report.target_kept else ""))
        return

    if resume or (current is not None and current["selector"] == selector and current["target"] == to):
        if current is None:
            raise PlatformError(f"environment {environment.name} has no unfinished move to resume")
        for key, given, recorded in (("SERVICE", selector, current["selector"]), ("--to", to, current["target"])):
            if given is not None and given != recorded:
                raise PlatformError(f"the unfinished move is of {current['selector']} to {current['target']}, not "
                                    f"{given}{did_you_mean(given, [recorded])}", key=key, value=given,
                                    hint=f"`platform move --resume --env {environment.name}` finishes it (no "
                                         f"{key} needed)")
        _same_domains(environment, services, current)
        if dry_run:
            _dry_unfinished(current, environment.name, as_json)
            return
        move_record = current
        out.print(f"resuming the move of {escape(current['selector'])} to {escape(current['target'])} at phase "
                  f"{current['phase']} (started by {current.get('started_by', '?')} at "
                  f"{current.get('started', '?')})", highlight=False)
    elif current is not None:
        raise PlatformError(rec.describe(current), key="SERVICE", value=selector,
                            hint=rec.next_steps(current) + "; then run this again")
    else:
        assert selector is not None and to is not None
        kept = next((m for m in reversed(moves) if m.get("phase") == rec.DONE and m.get("source_kept")
                     and m["selector"] == selector and m["target"] == to), None)
        if kept is not None:
            if not remove_source:
                raise PlatformError(f"{selector} already lives on {to}; its source copy is kept on "
                                    f"{', '.join(sorted(set(kept['sources'].values())))}", key="--to", value=to,
                                    hint=f"remove that copy with `platform move {selector} --to {to} --env "
                                         f"{environment.name} --remove-source`")
            rechecked, lost = recheck_source(proj, kept, workers)
            if lost and not allow_data_loss:
                raise _would_lose(kept, lost, environment.name)
            if dry_run:
                _dry_remove(kept, rechecked, lost, as_json)
                return
            move_record = kept
            keep = False
            with records.change("platform move") as stored:  # the removal is a step of that move again
                for entry in stored:
                    if entry["id"] == kept["id"]:
                        entry["phase"] = rec.CLEANUP
                        move_record = entry
        else:
            preflight = run_preflight(proj, environment, services, moves, selector, to, steps.plan, keep,
                                      load_profile(proj, environment), dns_probe=probe_resolver)
            preflight_json = preflight.to_json()
            if not as_json:
                _print_preflight(preflight, verbose, dry_run)
            if dry_run:
                if as_json:
                    print(json.dumps({"dry_run": True, "preflight": preflight_json}, indent=2))
                elif preflight.ok:
                    summary = preflight_json["move"]
                    console.print(f"would move {', '.join(summary['moved'])} to {to} (data: "
                                  f"{', '.join(summary['stateful']) or 'none'}); nothing was changed", highlight=False)
                if not preflight.ok:
                    raise typer.Exit(2)
                return
            if not preflight.ok:
                if as_json:
                    print(json.dumps({"dry_run": False, "preflight": preflight_json}, indent=2))
                raise preflight.refusal()
            assert preflight.plan is not None
            move_record = start_move(proj, records, preflight.plan, preflight.reuses)
            summary = preflight.plan.to_json()
            out.print(f"moving {escape(', '.join(summary['moved']))} from "
                      f"{escape(', '.join(sorted(set(summary['sources'].values()))))} to {escape(to)}",
                      highlight=False)

    executor = MoveExecutor(proj, records, move_record, hooks, workers=workers)
    executor.report.results.extend(rechecked)  # the kept source as compared now, before it is removed
    executor.claim()
    try:
        with _interrupts_seen() as seen:
            try:
                report = executor.run(keep_source=keep)
            except ResolverError as err:
                if seen:
                    raise KeyboardInterrupt from None
                raise _unfinished(err, executor.move, environment.name) from None
            except Exception:
                # Ctrl-C also stops the CDK engine and Terraform: what failed because they stopped is the interrupt
                if not seen or isinstance(sys.exc_info()[1], typer.Exit):
                    raise
                raise KeyboardInterrupt from None
    except KeyboardInterrupt:
        bars.stop()
        _quiet_engine_exit()
        undo = "" if executor.move.get("rewire_started") else \
            f", or undo it with `platform move --abort --env {environment.name}`"
        err_console.print("[yellow]move interrupted[/]: resume it with "
                          f"`platform move --resume --env {environment.name}` (verified data is not copied again)"
                          + undo, highlight=False, soft_wrap=True)
        raise typer.Exit(130) from None
    finally:
        bars.stop()
        executor.release()
    data = report.to_json()
    if report.paused:
        _paused(data, preflight_json, as_json, environment.name)
        return
    state = "source removed" if report.source_removed else "source kept" if report.source_kept else ""
    _finish(data, preflight_json, as_json, f"moved {move_record['selector']} to {move_record['target']}"
            + (f" ({state})" if state else ""))


def _same_domains(environment: Any, services: list[Any], move: dict[str, Any]) -> None:
    """An unfinished move builds the target's twin of each CDN for the domain it recorded, while the source serves
    that domain: a domain changed since (in code or `[overrides."<cdn>"] domain`) is refused, nothing changed.

    Raises:
        PlatformError: naming the CDN, both domains and where the new one is set.
    """
    from platform_sdk.move.preflight import domain_set_at

    cdns = {r.address: r for s in services for r in s.resources}
    for address, recorded in (move.get("domains") or {}).items():
        cdn = cdns.get(address)
        now = environment.override(address, "domain", cdn.domain) if cdn is not None else None
        if cdn is None or str(now or "") == recorded:
            continue
        resume, abort = f"platform move --resume --env {environment.name}", f"platform move --abort --env " \
            f"{environment.name}"
        raise PlatformError(f"the unfinished move of {move['selector']} to {move['target']} builds CDN {address} "
                            f"there for {recorded}, and the source serves {recorded} until its cut-over; "
                            f"{address}'s domain is now {now or 'none'} ({domain_set_at(environment, cdn)}): "
                            "nothing was changed", key=address, value=now,
                            hint=f"put the domain back to {recorded} and finish the move (`{resume}`) or undo it "
                                 f"(`{abort}`); change the domain after that")


def _unfinished(err: PlatformError, move: dict[str, Any], env: str) -> PlatformError:
    """A DNS lookup that failed once the move had begun: the same error, saying the move is unfinished and how to go
    on (the resolver fixed: resume; or abort before the cut-over)."""
    undo = "" if move.get("rewire_started") else f", or undo it with `platform move --abort --env {env}`"
    return PlatformError(f"{err.message}; the move of {move['selector']} to {move['target']} is unfinished (phase "
                         f"{move['phase']}), its steps so far kept", key=err.key, value=err.value,
                         hint=f"fix the resolver, then resume with `platform move --resume --env {env}`{undo}")


def _dry_unfinished(move: dict[str, Any], env: str, as_json: bool) -> None:
    """`--dry-run` of the unfinished move's own command: what a resume would do, and the commands accepted in the
    move's phase (`record.next_steps`: no abort past the cut-over); nothing is written."""
    from platform_sdk.move import record as rec

    resume, abort = rec.commands(move)
    paused = move.get("dns_asked")
    waits = {"validation": "the target's validation records", "serving": "the switch of the domain's own record"}
    next_step = (f"it paused for {waits.get(paused, paused)} and goes on once they resolve" if paused else
                 f"it continues from its phase {move['phase']}")
    if as_json:
        print(json.dumps({"dry_run": True, "unfinished": {
            "selector": move["selector"], "target": move["target"], "phase": move["phase"], "paused": paused,
            "resume": resume, "abort": abort, "next_steps": rec.next_steps(move)}}, indent=2))
        return
    if move["phase"] != rec.ABORTING and not rec.past_cutover(move):
        steps = f"`{escape(resume)}` finishes it ({next_step}), `{escape(abort)}` undoes it"
    else:
        steps = escape(rec.next_steps(move))
    console.print(f"the move of {escape(move['selector'])} to {escape(move['target'])} is unfinished (phase "
                  f"{escape(move['phase'])}, started by {escape(move.get('started_by', '?'))} at "
                  f"{escape(move.get('started', '?'))}): {steps}; nothing was changed (--dry-run)", highlight=False,
                  soft_wrap=True)


def _would_lose(move: dict[str, Any], lost: dict[str, list[str]], env: str) -> PlatformError:
    """The refusal to remove a kept source that holds what the target lacks (exit 2, nothing changed)."""
    parts = []
    for address, only in lost.items():
        what = "tables" if move["kinds"].get(address) == "database" else "objects"
        shown = ", ".join(only[:5]) + (f" and {len(only) - 5} more" if len(only) > 5 else "")
        parts.append(f"{address} on {move['sources'][address]} holds {len(only)} {what} the target on "
                     f"{move['target']} lacks or holds otherwise ({shown})")
    command = f"platform move {move['selector']} --to {move['target']} --env {env} --remove-source"
    return PlatformError("the kept source was compared with the target again: " + "; ".join(parts)
                         + "; removing it would lose them, so nothing was removed", key="--remove-source",
                         value=sorted(lost)[0],
                         hint=f"copy them to the target and run `{command}` again, or run `{command} "
                              "--allow-data-loss` to remove them with the source")


def _dry_remove(move: dict[str, Any], rechecked: list[dict[str, Any]], lost: dict[str, list[str]],
                as_json: bool) -> None:
    """`--remove-source --dry-run`: the kept source compared with the target now; nothing removed."""
    sources = ", ".join(sorted(set(move["sources"].values())))
    if as_json:
        print(json.dumps({"dry_run": True, "remove_source": {"selector": move["selector"], "sources": sources,
                                                             "recheck": rechecked, "lost": lost}}, indent=2))
        return
    if rechecked:
        console.print(_final_table({"copies": rechecked, "databases": [], "secrets": [], "data": []}))
    console.print(f"would remove the source copy of {', '.join(move['stateful'])} on {sources}"
                  + (" (losing what only it holds: --allow-data-loss)" if lost else
                     " (the target holds everything it holds)") + "; nothing was changed", highlight=False)


@contextlib.contextmanager
def _interrupts_seen() -> Iterator[list[int]]:
    """A list that gets an entry at each SIGINT while inside (which still raises KeyboardInterrupt as before)."""
    seen: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield seen
        return

    def handler(signum: int, frame: Any) -> None:
        seen.append(signum)
        signal.default_int_handler(signum, frame)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield seen
    finally:
        signal.signal(signal.SIGINT, previous)


def _quiet_engine_exit() -> None:
    """A terminal's Ctrl-C reaches every process of the group, the CDK engine (the jsii Node process) too: it is
    gone, and jsii's own stop at exit then writes to its closed pipe and prints a BrokenPipeError traceback after
    the resume hint. That one error is expected after an interrupt and is not shown; any other still is."""
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, BrokenPipeError) and "jsii" in repr(unraisable.object):
            return
        previous(unraisable)

    sys.unraisablehook = hook


def _paused(data: dict[str, Any], preflight: dict[str, Any] | None, as_json: bool, env: str) -> None:
    """The move waits in its `dns` step for the target's records (exit 0, as `platform apply` does when a domain
    waits for its records: docs/domains.md): the records to create, or the record to switch, and how to go on."""
    if as_json:
        print(json.dumps({**data, "preflight": preflight}, indent=2))
        return
    out = console
    for domain in data["dns"]["domains"]:
        name, cloud = escape(domain["domain"]), escape(domain["cloud"])
        validation = [r for r in domain["records"] if not r["serving"]]
        own = [r for r in domain["records"] if r["serving"]]
        if data["dns"]["stopped"] == "dns-records-missing":
            asked = validation if data["paused"] == "validation" else own
            missing = [r for r in asked if not r["resolves"]]
            out.print(f"\n[bold]still waiting for DNS for {name} on {cloud}[/]: {len(missing)} of the {len(asked)} "
                      f"record(s) asked for before not as expected yet ({escape(_described_resolver())}); each is "
                      "marked below", highlight=False, soft_wrap=True)
        if data["paused"] == "validation":
            out.print(f"\n[bold]DNS for {name} on {cloud}[/] ({escape(domain['cdn'])}): its certificate is requested "
                      f"there. Create these records in the zone of {name}, then resume the move; it attaches {name} "
                      f"on {cloud}. Do not change the record of {name} itself yet: the source serves it meanwhile.",
                      highlight=False, soft_wrap=True)
            records = validation
        else:
            out.print(f"\n[bold]{name} is served on {cloud}[/] ({escape(domain['cdn'])}) as well as by the source: "
                      f"switch the serving record now (replace the record of {name} in its zone by this one), then "
                      "resume the move; it cuts over once every record resolves.", highlight=False, soft_wrap=True)
            records = own
        again = data["dns"]["stopped"] == "dns-records-missing"
        for r in records:
            mark = "  (in place)" if r["resolves"] else "" if not again else \
                f"  (resolves to {', '.join(r['found'])}, expected {r['value']})" if r.get("found") else \
                "  (does not resolve yet)"
            out.print(f"  {escape(str(r['name']))} {escape(str(r['type']))} {escape(str(r['value']))}"
                      f"{escape(mark)}", highlight=False, soft_wrap=True)
    out.print(f"\nmove paused: resume it with `platform move --resume --env {escape(env)}` once the records resolve, "
              f"or undo it with `platform move --abort --env {escape(env)}` (the source was not changed)",
              highlight=False, soft_wrap=True)


def _described_resolver() -> str:
    from platform_sdk.commands import dns_phase

    named = os.environ.get(dns_phase.RESOLVER_VARIABLE)
    return f"asked {named}, {dns_phase.RESOLVER_VARIABLE}" if named else "asked the system's resolver"


def _finish(data: dict[str, Any], preflight: dict[str, Any] | None, as_json: bool, line: str) -> None:
    if as_json:
        print(json.dumps({**data, "preflight": preflight}, indent=2))
        return
    if data["copies"] or data["databases"] or data["secrets"] or data["data"]:
        console.print(_final_table(data))
    if data.get("placement"):
        console.print(f"placement: {escape(data['placement'])}", highlight=False)
    console.print(f"[bold green]{escape(line)}[/]", highlight=False)


COMMANDS = (move,)
