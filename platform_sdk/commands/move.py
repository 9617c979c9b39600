"""`platform move SERVICE[.RESOURCE] --to CLOUD --env NAME`: move one workload with its data."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from platform_sdk.commands._common import EnvOption, JsonOption, ProjectOption, console, err_console, load, user_errors
from platform_sdk.errors import PlatformError
from platform_sdk.providers import builtin_names

_clouds = builtin_names()
TARGETS = f"{', '.join(_clouds[:-1])} or {_clouds[-1]}" if len(_clouds) > 1 else _clouds[0]


def _stack_outputs_url(outputs: dict[str, Any], address: str, kind: str) -> str | None:
    name = address.split(".", 1)[1].replace("-", "_")
    value = outputs.get(f"{kind}_{name}_url")
    return value if isinstance(value, str) else None


class TerraformApplier:
    """Synthesize a configuration and apply all of it, refusing any data loss the move did not expect."""

    def __init__(self, project: Any, services: list[Any], move: dict[str, Any], parallelism: int,
                 as_json: bool) -> None:
        from platform_sdk.terraform.binary import find_terraform

        self.project = project
        self.services = services
        self.move = move
        self.parallelism = parallelism
        self.out = err_console if as_json else console
        self.binary = find_terraform()

    def __call__(self, phase: str, env: Any, extra_copies: dict[str, str] | None,
                 expected_loss: set[tuple[str, str]] | None) -> dict[str, Any]:
        from platform_sdk.profile import load_profile
        from platform_sdk.synth.app import read_metadata, synthesize
        from platform_sdk.terraform import report as rp
        from platform_sdk.terraform.binary import terraform_env
        from platform_sdk.terraform.process import Terraform
        from platform_sdk.terraform.progress import default_progress, interrupt_notice
        from platform_sdk.terraform.runner import EnvironmentRunner

        result = synthesize(self.project, env, self.services, profile=load_profile(self.project, env),
                            extra_copies=extra_copies)
        metadata = read_metadata(result.outdir)
        runner = EnvironmentRunner(result.outdir, metadata, Terraform(self.binary, terraform_env(self.project.root)),
                                   parallelism=self.parallelism, progress=default_progress(err_console),
                                   on_interrupt=interrupt_notice(err_console))
        owners = {name: info.get("owners", {}) for name, info in metadata["stacks"].items()}
        unexpected: list[str] = []

        def confirm(results: list[Any], wave: int) -> bool:
            rp.render(self.out, env.name, "apply", results, title=f"move {self.move['selector']}: {phase} plan")
            for stack, change in rp.data_loss(results):
                neutral = owners.get(stack, {}).get(change.address)
                if expected_loss is None or (stack, neutral) not in expected_loss:
                    unexpected.append(f"{change.address} in {stack}")
            return not unexpected

        outcome = runner.apply(confirm, allow_data_loss=expected_loss is not None)
        if outcome.refused or unexpected:
            lost = unexpected or [f"{c.address} in {s}" for s, c in outcome.refused]
            raise PlatformError(f"the {phase} step would destroy data it did not copy: {', '.join(lost)}; "
                                "nothing was applied in this step")
        if outcome.interrupted:
            raise KeyboardInterrupt
        if outcome.failed or outcome.cancelled:
            failed = [f"{r.name}: {r.error or r.reason}" for r in outcome.results if r.status in rp.BROKEN]
            raise PlatformError(f"the {phase} step failed ({'; '.join(failed)}); fix it and re-run the move to resume")
        applied = [r.name for r in outcome.results if r.status in rp.SETTLED]
        stacks = {n: {**metadata["stacks"][n]} for n in applied}
        self.project.record_deployed(env.name, stacks,
                                     removed=tuple(n for n in applied if metadata["stacks"][n].get("tombstone")))
        outputs = runner.outputs(applied)
        urls: dict[str, dict[str, str]] = {}
        for address in self.move["stateful"]:
            kind = self.move["kinds"][address]
            source = _stack_outputs_url(outputs.get(self.move["source_stacks"][address], {}), address, kind)
            target = _stack_outputs_url(outputs.get(self.move["target_stacks"][address], {}), address, kind)
            if source and target:
                urls[address] = {"source": source, "target": target}
        return {"applied": applied, "urls": urls}


PAUSE_AFTER_ENV = "PLATFORM_MOVE_PAUSE_AFTER"  # rehearsal/test switch: pause the copy after N objects...
PAUSE_FILE_ENV = "PLATFORM_MOVE_PAUSE_FILE"  # ...while this file exists (to interrupt a move at a known point)


def _pausing(on_event: Any) -> Any:
    """Wrap a progress callback so a rehearsal can stop a copy midway at an exact object count."""
    after, hold = os.environ.get(PAUSE_AFTER_ENV), os.environ.get(PAUSE_FILE_ENV)
    if not after or not hold:
        return on_event

    def paused(event: Any) -> None:
        if on_event is not None:
            on_event(event)
        if event.done >= int(after):
            Path(hold + ".entered").touch()
            while Path(hold).exists():
                time.sleep(0.05)
    return paused


@contextlib.contextmanager
def _copy_bars(enabled: bool) -> Iterator[Any]:
    """One progress bar per copied bucket (on stderr, so --json stays clean)."""
    if not enabled:
        yield lambda address, total, verify_pass: _pausing(None)
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, transient=False) as progress:
        def factory(address: str, total: int, verify_pass: bool) -> Any:
            label = f"{'re-copy' if verify_pass else 'copy'} {address}"
            task = progress.add_task(label, total=total)

            def on_event(event: Any) -> None:
                progress.update(task, completed=event.done)
            return _pausing(on_event)
        yield factory


def _confirm_removal(yes: bool) -> Any:
    def confirm(addresses: list[str]) -> bool:
        if yes:
            return True
        if not sys.stdin.isatty():
            err_console.print("source kept: not a terminal, and --yes was not given")
            return False
        err_console.print(f"\n[bold]Data is copied and verified. Remove the source copy of "
                          f"{', '.join(addresses)}?[/] Only 'yes' will be accepted.\n  Enter a value: ", end="")
        return sys.stdin.readline().strip().lower() == "yes"
    return confirm


@user_errors
def move(selector: Annotated[str, typer.Argument(metavar="SERVICE[.RESOURCE]", help="What to move.")],
         to: Annotated[str, typer.Option("--to", help=f"Target cloud: {TARGETS}.")],
         env: EnvOption,
         project: ProjectOption = None,
         keep_source: Annotated[bool | None, typer.Option(
             "--keep-source/--remove-source",
             help="Keep (or remove) the source copy after verification. Default: keep in protected "
                  "environments, remove after confirmation elsewhere.")] = None,
         yes: Annotated[bool, typer.Option("--yes", help="Do not ask before removing the source copy.")] = False,
         dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate and show what would move.")] = False,
         workers: Annotated[int, typer.Option(min=1, help="Objects copied at the same time.")] = 8,
         parallelism: Annotated[int, typer.Option("--parallelism", "-p", min=1)] = 4,
         as_json: JsonOption = False) -> None:
    """Move a service or one resource to another cloud: target first, copy, verify, re-wire, then the source."""
    from platform_sdk.terraform.locks import WorkspaceLocked, workspace_lock

    proj, environment, services = load(project, env)
    try:
        with workspace_lock(proj.cache_dir, environment.name, "move"):
            _move(proj, environment, services, selector, to, keep_source, yes, dry_run, workers, parallelism,
                  as_json)
    except WorkspaceLocked as err:
        raise PlatformError(str(err)) from None


def _check_new_placement(proj: Any, new_env: Any, services: list[Any], profile: Any) -> None:
    """The new placement through the whole synthesis (guardrails, the conformance analysis) in a scratch folder:
    a move that would not work on its target is refused before anything changes, --dry-run included."""
    import shutil
    import tempfile

    from platform_sdk.synth.app import synthesize

    scratch = Path(tempfile.mkdtemp(prefix=f"platform-move-{new_env.name}-"))
    try:
        synthesize(proj, new_env, services, profile=profile, outdir=scratch / new_env.name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _move(proj: Any, environment: Any, services: list[Any], selector: str, to: str, keep_source: bool | None,
          yes: bool, dry_run: bool, workers: int, parallelism: int, as_json: bool) -> None:
    from platform_sdk.move.orchestrator import MoveExecutor, MoveHooks, plan_move, start_move, unfinished_move
    from platform_sdk.profile import load_profile

    resume = unfinished_move(proj, environment, selector)
    other = unfinished_move(proj, environment)
    if resume is None and other is not None and other["phase"] != "cleanup":
        raise PlatformError(f"move {other['selector']} -> {other['target']} is unfinished: resume it first",
                            key="SERVICE", value=selector)
    if resume is not None and resume["target"] != to:
        raise PlatformError(f"an unfinished move of {selector} goes to {resume['target']}: resume it first",
                            key="--to", value=to)
    if resume is None:
        profile = load_profile(proj, environment)
        plan = plan_move(environment, services, selector, to, profile)
        _check_new_placement(proj, plan.new_env, services, profile)
        summary = plan.to_json()
        if dry_run:
            print(json.dumps(summary, indent=2)) if as_json else console.print(
                f"would move {', '.join(summary['moved'])} to {to} "
                f"(data: {', '.join(summary['stateful']) or 'none'})")
            return
        move_record = start_move(proj, plan, services)
        (err_console if as_json else console).print(
            f"moving {escape(', '.join(summary['moved']))} from "
            f"{escape(', '.join(sorted(set(summary['sources'].values()))))} to {escape(to)} "
            f"(placement updated in {escape(str(environment.file))})", highlight=False)
    else:
        move_record = resume
        (err_console if as_json else console).print(f"resuming move of {escape(selector)} to {escape(to)} "
                                                    f"at phase {resume['phase']}", highlight=False)
    keep = keep_source if keep_source is not None else environment.protected
    say = (lambda text: err_console.print(text, highlight=False)) if as_json else \
        (lambda text: console.print(text, highlight=False))
    with _copy_bars(not as_json) as bars:
        hooks = MoveHooks(apply=TerraformApplier(proj, services, move_record, parallelism, as_json),
                          confirm_removal=_confirm_removal(yes), say=say, copy_progress=bars)
        executor = MoveExecutor(proj, services, move_record, hooks, workers=workers)
        try:
            report = executor.run(keep_source=keep)
        except KeyboardInterrupt:
            err_console.print("[yellow]move interrupted[/]: run the same command again to resume; "
                              "verified objects are not copied twice")
            raise typer.Exit(130) from None
    data = report.to_json()
    if as_json:
        print(json.dumps(data, indent=2))
        return
    for copy in data["copies"]:
        c, v = copy["copy"], copy["verify"]
        console.print(f"  {copy['resource']} ({copy['phase']}): {c['copied']} copied, "
                      f"{c['skipped_already_verified']} already verified, {c['bytes_copied'] / 1e6:.1f} MB, "
                      f"verified {v['matched']}/{v['checked']}", highlight=False)
    for db in data["databases"]:
        tables = ", ".join(f"{t} {n['target_rows']}/{n['source_rows']}" for t, n in db["tables"].items())
        console.print(f"  {db['resource']} ({db['phase']}): rows verified per table: {tables or 'no tables'}")
    for secret in data["secrets"]:
        what = ("value copied and verified" if secret["copied"] else "value already there, verified") \
            if secret["source_has_value"] else "no value to copy"
        console.print(f"  {secret['resource']} ({secret['phase']}): {what}", highlight=False)
    if data["secrets"]:
        values = sum(1 for s in data["secrets"] if s["source_has_value"] and s["phase"] == "copy")
        console.print(f"  secrets: {len({s['resource'] for s in data['secrets']})} moved, {values} value(s) carried "
                      "(never shown)", highlight=False)
    state = "source removed" if report.source_removed else "source kept" if report.source_kept else ""
    console.print(f"[bold green]moved[/] {escape(selector)} to {escape(to)}" + (f" ({state})" if state else ""))


COMMANDS = (move,)
