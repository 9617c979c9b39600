"""`platform plan / apply / destroy / drift / outputs / bootstrap`: drive Terraform over one environment's stacks.

`plan` and `apply` run Terraform only for stacks that changed since their last successful apply, or read an
upstream output that changed (terraform/changes.py, from records kept next to the state: terraform/records.py);
the others are listed as "unchanged since <time> (not refreshed)". `--all` plans every stack; `drift` refreshes
every stack and reports what changed outside Terraform (for a scheduled CI job).

Exit codes follow Terraform: 0 success (no changes), 1 error (a stack failed or was locked, data loss refused,
apply cancelled, `apply --stack` left a stack waiting for a producer outside the run), 2 changes present
(`plan --detailed-exitcode` only; `drift`: drift found), 130 interrupted (Ctrl-C). Bad input (unknown environment,
invalid service) exits 2 like every other `platform` command, except under `--detailed-exitcode`, where 2 means
"changes" and bad input therefore exits 1.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from platform_sdk.commands import dns_phase
from platform_sdk.commands._common import (
    SHOWN_WARNINGS,
    EnvOption,
    JsonOption,
    ProjectOption,
    console,
    err_console,
    load,
    print_rehearsal,
    project_at,
    run_synth,
    user_errors,
)
from platform_sdk.errors import PlatformError, did_you_mean
from platform_sdk.terraform import report as rp

ParallelismOption = Annotated[int, typer.Option("--parallelism", "-p", min=1,
                                                help="How many stacks run Terraform at the same time.")]
AutoApproveOption = Annotated[bool, typer.Option("--auto-approve", help="Apply without asking.")]
AllowDataLossOption = Annotated[bool, typer.Option(
    "--allow-data-loss", help="Allow destroying or replacing buckets and databases (their contents are lost).")]
AllOption = Annotated[bool, typer.Option(
    "--all", help="Plan every stack, also those unchanged since their last apply (they are not refreshed otherwise).")]
StackOption = Annotated[list[str] | None, typer.Option(
    "--stack", help="Only this stack (repeatable): one CI wave. Producers outside the run are read as applied.")]

EXIT_ERROR, EXIT_CHANGES, EXIT_INTERRUPTED = 1, 2, 130


@dataclass
class Session:
    """One environment, synthesized and locked, with a runner over its stacks."""

    project: Any
    env: Any
    metadata: dict[str, Any]
    runner: Any
    services: list[Any] = field(default_factory=list)
    rehearsal: Any = None  # what the rehearsed environment's clouds would refuse (a local env with `rehearses`)
    moves: list[dict[str, Any]] = field(default_factory=list)
    dns: Any = field(default_factory=dns_phase.DnsCheck)  # external-zone domains, their two-phase apply (dns_phase)


def _moves(project: Any, env: Any) -> list[dict[str, Any]]:
    """The environment's move record, from its state backend (a backend not reachable yet has no moves: Terraform
    then says what is wrong with it)."""
    from platform_sdk.move.record import MoveRecords, RecordUnavailable

    try:
        return MoveRecords(project, env).load()
    except RecordUnavailable as err:  # an unreachable or missing backend: Terraform reports it next
        note = textwrap.shorten(err.message, 300, placeholder=" …")  # at a word: never mid-URL or mid-markup
        err_console.print(f"[yellow]note:[/] {escape(note)}", highlight=False, soft_wrap=True)
        return []


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """CI cancels jobs with SIGTERM: treat it like Ctrl-C so Terraform is stopped cleanly too."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def session(project: Path | None, env_name: str, command: str, parallelism: int,
            records: bool = False, check: Callable[[Any], None] | None = None) -> Iterator[Session]:
    """Load, lock the environment's workspace, synthesize, and find Terraform: the start of every command.

    `records`: the runner keeps the stacks' records (next to their state) and can skip unchanged stacks.
    `check`: the command's own options checked against the synthesized estate (`known_stacks`) before it replaces
    the output folder: a PlatformError it raises refuses the command with nothing written (synth/app.py).
    """
    from platform_sdk.synth.app import read_metadata
    from platform_sdk.terraform.binary import TerraformNotFound, find_terraform, terraform_env
    from platform_sdk.terraform.locks import WorkspaceLocked, workspace_lock
    from platform_sdk.terraform.process import Terraform
    from platform_sdk.terraform.progress import default_progress, interrupt_notice
    from platform_sdk.terraform.runner import EnvironmentRunner

    try:
        binary = find_terraform()
    except TerraformNotFound as err:
        err_console.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False)
        raise typer.Exit(EXIT_ERROR) from None
    from platform_sdk import cdk

    cdk.preload()  # the engine starts while the estate is read
    proj, env, services = load(project, env_name)
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(workspace_lock(proj.cache_dir, env.name, command))
        except WorkspaceLocked as err:
            err_console.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_ERROR) from None
        stack.enter_context(_sigterm_as_interrupt())
        from platform_sdk.move import record as moves_record

        moves = _moves(proj, env)
        for line in moves_record.notice(moves, env):  # an unfinished move is said first, on every machine
            err_console.print(f"[bold yellow]{escape(line)}[/]" if not line.startswith(" ") else escape(line),
                              highlight=False, soft_wrap=True)
        env = moves_record.effective_environment(env, moves)
        dns = dns_phase.check(proj, env, services, copies=proj.retained_copies(env.name)) if command != "unlock" \
            else dns_phase.DnsCheck()
        if dns.not_ready:  # first phase of a domain in an external zone: synthesis builds what the apply does
            env = env.with_domains_waiting(dns.not_ready)
        try:
            result = run_synth(proj, env, services, before_replace=check)
        except KeyboardInterrupt:
            err_console.print("[bold yellow]Interrupted[/] while synthesizing; Terraform was not started.")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        metadata = read_metadata(result.outdir)
        terraform = Terraform(binary, terraform_env(proj.root))
        ledger = None
        if records:
            from platform_sdk.terraform.ledger import Ledger
            from platform_sdk.terraform.records import record_store

            ledger = Ledger.for_outdir(record_store(proj.root, env), result.outdir, metadata.get("stacks", {}))
        from platform_sdk.terraform.initcache import InitCache

        init_cache = InitCache(proj.cache_dir / "terraform" / env.name, terraform.env, binary)
        runner = EnvironmentRunner(result.outdir, metadata, terraform, parallelism=parallelism,
                                   progress=default_progress(err_console), on_interrupt=interrupt_notice(err_console),
                                   ledger=ledger, init_cache=init_cache)
        yield Session(proj, env, metadata, runner, services, result.rehearsal, moves, dns)
        if ledger is not None:
            for warning in ledger.warnings:
                err_console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)


def known_stacks(names: list[str] | None, key: str = "--stack") -> Callable[[Any], None]:
    """A `session` check: every name in `names` is a stack of the synthesized estate. An unknown name that is a
    service's gets that service's stacks (a stack is `<env>-<service>-<cloud>`), else a single unknown name the
    closest stack (`errors.did_you_mean`, as `platform logs` names the closest function).

    Raises (from the check):
        PlatformError: (key `key`) "no stack X in environment E (did you mean 'Y'?) (its stacks: ...)", before
            anything is written.
    """
    def check(result: Any) -> None:
        stacks = result.to_json()["stacks"]
        unknown = sorted(set(names or []) - set(stacks))
        if unknown:
            raise PlatformError(f"no stack {', '.join(unknown)} in environment {result.env.name}"
                                f"{_meant(stacks, unknown)} (its stacks: {', '.join(sorted(stacks))})",
                                key=key, value=unknown[0])
    return check


def _meant(stacks: dict[str, Any], unknown: list[str]) -> str:
    """` (did you mean 'S1' or 'S2'?)`: the stacks (the synthesis metadata's, by name) of the unknown names that
    are services' names; else, for one unknown name, the closest stack; else ""."""
    meant = [repr(name) for name, info in sorted(stacks.items()) if info.get("service") in unknown]
    if not meant:
        return did_you_mean(unknown[0], sorted(stacks)) if len(unknown) == 1 else ""
    return f" (did you mean {meant[0]}?)" if len(meant) == 1 else \
        f" (did you mean {', '.join(meant[:-1])} or {meant[-1]}?)"


def _select(s: Session, plan_all: bool, stacks: list[str] | None = None) -> None:
    """Mark the stacks that need no plan: unchanged since their last apply (terraform/changes.py); with `stacks`
    (`--stack`, checked by the session: `known_stacks`), leave the others out of the run."""
    from platform_sdk.move.record import unfinished
    from platform_sdk.terraform.changes import moving_stacks

    services = {name: info["service"] for name, info in s.metadata.get("stacks", {}).items()}
    current = unfinished(s.moves)
    s.runner.select(plan_all=plan_all, moving=moving_stacks([current] if current else [], services))
    if stacks:
        s.runner.limit(stacks)


def _exit(code: int) -> None:
    if code:
        raise typer.Exit(code)


# ---------------------------------------------------------------------------------------------------- plan

@user_errors
def plan(env: EnvOption, project: ProjectOption = None, as_json: JsonOption = False,
         parallelism: ParallelismOption = 4,
         detailed_exitcode: Annotated[bool, typer.Option(
             "--detailed-exitcode", help="Exit 2 when changes are present (0 none, 1 error).")] = False,
         destroy: Annotated[bool, typer.Option("--destroy", help="Plan destroying everything instead.")] = False,
         plan_all: AllOption = False, stacks: StackOption = None,
         output_format: Annotated[str | None, typer.Option(
             "--format", help="text (the default), json (same as --json) or markdown (a pull-request comment).")]
         = None,
         report: Annotated[str | None, typer.Option(
             "--report", help="Also write the JSON report to this file (what `apply --expect` compares with); an "
                              "existing file is replaced only if it is such a report.")] = None,
         ) -> None:
    """Plan the stacks of an environment that changed since their last apply; summarize, flagging data loss."""
    try:
        as_json = _plan_format(output_format, as_json)
        report_path = _report_target(report, project)
        if destroy and stacks:  # a destroy plan covers every stack (consumers first): --stack would be ignored
            raise PlatformError("plan --destroy plans every stack of the environment; it takes no --stack",
                                key="--stack", value=stacks[0])
        def check(result: Any) -> None:  # before the synthesis replaces anything: a refusal writes nothing
            known_stacks(stacks)(result)
            if report_path is not None:
                _report_outside_sources(report_path, report, result)

        with session(project, env, "plan", parallelism, records=True, check=check) as s:
            if not destroy:
                _select(s, plan_all, stacks)
            results = s.runner.plan(destroy=destroy)
            operation = "destroy" if destroy else "plan"
            data = rp.report_json(s.env.name, operation, results)
            data["warnings"] = list(SHOWN_WARNINGS)  # what synthesis announced (a handler calling an ungranted name)
            secrets = [] if destroy else _secret_states(s)
            content = [] if destroy or s.runner.interrupted else _content_plans(s)
            if any(c.has_changes for c in content):
                data["changes_present"] = True  # the next apply uploads or deletes files
            unwritten = _write_report(report_path, report, data) if report_path is not None else None
            if output_format == "markdown":
                from platform_sdk.terraform.markdown import render_markdown

                print(render_markdown(data, [state.to_json() for state in secrets]), end="")
            elif as_json:
                print(json.dumps({**data, "secrets": [state.to_json() for state in secrets],
                                  "content": [c.to_json() for c in content],
                                  "rehearsal": s.metadata.get("rehearsal"),
                                  "dns": s.dns.to_json(),
                                  "unfinished_move": _unfinished(s)}, indent=2))
            else:
                rp.render(console, s.env.name, operation, results,
                          title=f"{'Destroy plan' if destroy else 'Plan'} for environment {s.env.name}")
                _print_content(content, f"Static content for environment {s.env.name}")
                _print_secret_states(secrets, s.env.name)
                print_rehearsal(s.rehearsal, console)
                _print_dns_plan(s, console)
                for line in _rename_typos(s, [(r.name, c) for r in results if r.plan for c in r.plan.data_loss]):
                    err_console.print(f"[yellow]hint:[/] {escape(line)}", highlight=False, soft_wrap=True)
            if unwritten is not None:  # the plan is shown; the report it was asked for is not there
                raise unwritten
            if s.runner.interrupted:
                _interrupted_notice(results)
                _exit(EXIT_INTERRUPTED)
            if any(r.status in rp.BROKEN for r in results):
                _exit(EXIT_ERROR)
            if detailed_exitcode and data["changes_present"]:
                _exit(EXIT_CHANGES)
    except PlatformError as err:
        if not detailed_exitcode:
            raise
        err_console.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False)
        raise typer.Exit(EXIT_ERROR) from None


def _plan_format(output_format: str | None, as_json: bool) -> bool:
    """Whether the plan prints JSON. An unknown --format, or one --json contradicts, is bad input (exit 2, before
    anything runs)."""
    if output_format is None:
        return as_json
    if output_format not in ("text", "json", "markdown"):
        raise PlatformError("unknown format (known: text, json, markdown)", key="--format", value=output_format)
    if as_json and output_format != "json":
        raise PlatformError(f"--json and --format {output_format} ask for two different outputs: give one",
                            key="--format", value=output_format)
    return as_json or output_format == "json"


REPORT_KEYS = ("environment", "operation", "totals", "stacks")
"""The keys of every JSON report `plan --report` writes (`report.report_json`): how an existing file is known as one."""


def _report_target(given: str | None, project: Path | None) -> Path | None:
    """`plan --report FILE`, checked before anything runs: the file to write (None: no report).

    The file is replaced only if it is empty or a plan report (`REPORT_KEYS`, an earlier `plan --report`): never
    another file, nor anything in the project's `services/` or `envs/` (its declarations); its folder must exist and
    be writable. A symlink is judged by the file it names.

    Raises:
        PlatformError: (key `--report`, the value as given) empty, a folder, a device or other non-regular file, a
            folder that is missing or not a folder, not writable, in `services/` or `envs/`, or an existing file that
            is not a plan report.
    """
    import os

    if given is None:
        return None

    def refused(message: str) -> PlatformError:
        return PlatformError(message, key="--report", value=given)

    if not given.strip():
        raise refused("is empty: --report names the file the JSON report is written to")
    path = Path(given).expanduser()
    target = path.resolve()
    if target.is_dir():
        raise refused("is a folder: --report names the file the JSON report is written to")
    if target.exists() and not target.is_file():
        raise refused("is not a regular file (a device, a pipe or a socket): --report names the file the JSON "
                      "report is written to (`--json` prints it)")
    folder = target.parent
    if not folder.is_dir():
        raise refused(f"{folder} {'is not a folder' if folder.exists() else 'does not exist'}: the report is "
                      "written into an existing folder")
    if not os.access(folder, os.W_OK | os.X_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise refused(f"{target if target.exists() else folder} is not writable (permission denied)")
    proj = project_at(project)
    for declarations in (proj.services_dir, proj.envs_dir):
        if target.is_relative_to(declarations.resolve()):
            raise refused(f"is in the project's {declarations.name}/ folder ({declarations}): the report is never "
                          "written among the project's declarations")
    if target.exists() and target.stat().st_size and not _is_report(target):
        raise refused(f"{target} exists and is not a plan report: --report replaces only a report an earlier "
                      "`platform plan --report` wrote; name a new file, or remove this one")
    return path


def _is_report(path: Path) -> bool:
    """Whether `path` holds a JSON plan report (`REPORT_KEYS`, a plan or destroy plan of any environment)."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and all(key in data for key in REPORT_KEYS) and \
        data["operation"] in ("plan", "destroy") and isinstance(data["stacks"], list)


def _report_outside_sources(path: Path, given: str | None, result: Any) -> None:
    """A session check: `--report` names no file in a function's source folder (it would be deployed with the code).

    Raises:
        PlatformError: (key `--report`) the folder and its function, before anything is written.
    """
    from platform_sdk.model import Function

    target = path.resolve()
    for resource in result.placements:
        if isinstance(resource, Function) and target.is_relative_to(resource.source_dir.resolve()):
            raise PlatformError(f"is in the source folder of function {resource.address} ({resource.source_dir}): "
                                "the report would be deployed with its code", key="--report", value=given)


def _write_report(path: Path, given: str | None, data: dict[str, Any]) -> PlatformError | None:
    """Write the report (`_report_target` checked the path) in one step: a new file renamed over the old one, so an
    earlier report is replaced whole or kept. Returns the error to raise once the plan is shown (key `--report`, the
    OS's reason), or None when written."""
    import os

    target = path.resolve()
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as to a new file
        with open(fd, "w") as out:
            out.write(json.dumps(data, indent=2) + "\n")
        os.replace(temporary, target)
    except OSError as err:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        return PlatformError(f"cannot write the JSON report: {err.strerror or err} (the plan above is complete)",
                             key="--report", value=given)
    return None


def _expecting(path: Path | None, expected: dict[str, dict[str, Any]], confirm: Any) -> Any:
    """`apply --expect FILE`: refuse to apply plans that differ from the reviewed report `expected` (its stacks by
    name, `load_expected`; terraform/expect.py)."""
    if path is None:
        return confirm
    from platform_sdk.terraform.expect import differences

    def compared(results: list[rp.StackResult], wave: int) -> bool:
        found = differences(results, expected)
        if found:
            err_console.print(f"[bold red]error:[/] refusing to apply: the plan differs from the reviewed plan in "
                              f"{escape(str(path))} (it went stale: plan and review again):\n  "
                              + escape("\n  ".join(found)) + "\nNothing was changed in these stacks.",
                              highlight=False, soft_wrap=True)
            return False
        return bool(confirm(results, wave))
    return compared


def _interrupted_notice(results: list[rp.StackResult]) -> None:
    interrupted = [r for r in results if r.status == rp.INTERRUPTED]
    stopped = [r.name for r in interrupted if r.reason and r.reason.startswith("interrupted during")]
    not_started = [r.name for r in interrupted if r.name not in stopped]
    err_console.print("[bold yellow]Interrupted.[/] Terraform stopped cleanly and released its locks."
                      + (f" Interrupted while running: {', '.join(stopped)}." if stopped else "")
                      + (f" Not started: {', '.join(not_started)}." if not_started else "")
                      + " Run the command again to continue.", highlight=False, soft_wrap=True)


# ------------------------------------------------------------------------------------------- apply/destroy

def _confirm(auto_approve: bool, operation: str, env_name: str) -> Any:
    """Ask before each wave (Terraform's rule: only "yes" approves)."""
    def confirm(results: list[rp.StackResult], wave: int) -> bool:
        if auto_approve:
            return True
        ready = [r.name for r in results if r.status == rp.CHANGES]
        verb = "Destroy" if operation == "destroy" else "Apply"
        err_console.print(f"\n[bold]{verb} the plans above to {len(ready)} stack(s) in environment "
                          f"{escape(env_name)}?[/] Only 'yes' will be accepted.", highlight=False, soft_wrap=True)
        err_console.print("  Enter a value: ", end="", soft_wrap=True)
        line = sys.stdin.readline()
        return line.strip().lower() == "yes"
    return confirm


def _on_wave(as_json: bool, operation: str, env_name: str) -> Any:
    def show(results: list[rp.StackResult], wave: int) -> None:
        target = err_console if as_json else console
        title = f"{'Destroy' if operation == 'destroy' else 'Apply'} plan for environment {env_name}"
        if wave > 1 or any(r.status == rp.WAITING for r in results):
            title += f" (wave {wave})"
        rp.render(target, env_name, operation, results, title=title)
    return show


def _deploy(project: Path | None, env: str, operation: str, as_json: bool, parallelism: int, auto_approve: bool,
            allow_data_loss: bool, plan_all: bool = False, stacks: list[str] | None = None,
            expect: Path | None = None) -> None:
    expected: dict[str, dict[str, Any]] = {}

    def check(result: Any) -> None:  # the options, before the synthesis replaces anything: a refusal writes nothing
        known_stacks(stacks)(result)
        if expect is not None:
            from platform_sdk.terraform.expect import load_expected

            expected.update(load_expected(expect, result.env.name))

    with session(project, env, operation, parallelism, records=True, check=check) as s:
        runner = s.runner
        secrets = _secret_states(s) if operation == "apply" else []
        if secrets:
            from platform_sdk.secrets.deploy import refuse_unreadable

            refuse_unreadable(secrets, s.env.name)  # exit 2 before Terraform changes anything
        if operation == "destroy":
            _destroy_preflight(s, allow_data_loss)  # exit 2 before anything is destroyed
        if operation == "apply":
            _select(s, plan_all, stacks)
            # a domain whose records do not resolve yet stays in its first phase (already applied: no change to its
            # stack); every other stack applies as usual, and the apply says afterwards which records are missing
        approved: list[int] = []  # the waves the user approved (the content shown with them needs no question)

        def confirm(results: list[rp.StackResult], wave: int) -> bool:
            ok = bool(guarded(results, wave))
            if ok:
                approved.append(wave)
            return ok

        guarded = _guard_moving_data(s, _expecting(expect, expected, _confirm(auto_approve, operation, s.env.name)))
        preview = _content_preview(s, err_console if as_json else console) \
            if operation == "apply" and not auto_approve else None
        outcome = runner.apply(confirm, destroy=operation == "destroy",
                               allow_data_loss=allow_data_loss, on_wave=_on_wave(as_json, operation, s.env.name))
        results = outcome.results
        out = err_console if as_json else console
        _record(s, results, operation)
        if outcome.refused:
            names = ", ".join(f"{c.address} in {stack} ({c.action})" for stack, c in outcome.refused)
            err_console.print(f"[bold red]error:[/] refusing to {operation}: this would destroy or replace "
                              f"{len(outcome.refused)} stateful resource(s) and lose their data: {escape(names)}. "
                              "Nothing was changed. Re-run with --allow-data-loss if that is intended.",
                              highlight=False)
            for line in _rename_typos(s, outcome.refused):
                err_console.print(f"[yellow]hint:[/] {escape(line)}", highlight=False, soft_wrap=True)
        elif outcome.held:  # --stack left out a producer that must be applied first: exit 1, nothing done to them
            for result in outcome.held:
                waits = rp.planned_after(result.waiting_on, result.waiting_outputs, operation)
                err_console.print(f"[bold red]error:[/] not applied: {escape(result.name)} is {escape(waits)}; "
                                  f"{escape(result.reason or '')}. Nothing was changed in it.",
                                  highlight=False, soft_wrap=True)
        elif outcome.cancelled and not outcome.interrupted:
            err_console.print(f"[yellow]{operation.capitalize()} cancelled.[/] Nothing more was changed.")
        rows: list[dict[str, Any]] = []
        generated: list[str] = []
        if operation == "apply" and not outcome.interrupted:
            settled = [r.name for r in results if r.status in rp.SETTLED]
            if settled:
                runner.outputs(settled, known=True)
                if runner.interrupted:  # Ctrl-C while the outputs were read: some may be missing, so nothing
                    outcome.interrupted = True  # that needs them runs (content, secrets, DNS); exit code 130
                else:
                    rows = _where(s, results)
            if secrets and not outcome.interrupted:
                from platform_sdk.secrets.deploy import generate_missing

                generated = generate_missing(secrets, settled)
        ran = any(r.started is not None and r.status != rp.PENDING for r in results)
        if ran and not outcome.refused:
            out.print()
            out.print(f"[bold]{operation.capitalize()} of environment {escape(s.env.name)}:[/]")
            rp.render_outcome(out, operation, results)
        for address in generated:
            out.print(f"generated a value for secret {escape(address)} (never shown)", highlight=False)
        content = []
        steps: list[tuple[str, bool]] = []
        if operation == "apply" and not (outcome.interrupted or outcome.refused or outcome.cancelled):
            content = _deploy_content(s, results, auto_approve or bool(approved), preview, out)
            steps = _after_apply(s, results, out)
        if rows and not as_json:
            console.print()
            _print_where(rows, "Where things live")
        dns: dict[str, Any] = {}
        if operation == "apply" and not (outcome.interrupted or outcome.refused or outcome.cancelled):
            dns = _dns_after_apply(s, results, err_console if as_json else console)
        if operation == "apply":
            for line in _consumers_left_behind(s, results):
                err_console.print(f"[yellow]note:[/] {escape(line)}", highlight=False, soft_wrap=True)
        if operation == "apply":  # a rehearsal reports what the rehearsed clouds would refuse, never failing
            print_rehearsal(s.rehearsal, err_console if as_json else console)
            _print_dns_rehearsal(s, err_console if as_json else console)
        if as_json:
            print(json.dumps({
                "environment": s.env.name, "operation": operation,
                "interrupted": outcome.interrupted, "cancelled": outcome.cancelled,
                "refused": [{"stack": st, "address": c.address, "type": c.type, "action": c.action}
                            for st, c in outcome.refused or []],
                "waves": outcome.waves,
                "stacks": rp.report_json(s.env.name, operation, results)["stacks"],
                "where": rows,
                "generated_secrets": generated,
                "content": [c.to_json() for c in content],
                "after_apply": [{"step": line, "failed": failed} for line, failed in steps],
                "rehearsal": s.metadata.get("rehearsal"),
                "dns": dns,
            }, indent=2))
        if outcome.interrupted:
            _interrupted_notice(results)
            _exit(EXIT_INTERRUPTED)
        if outcome.failed or outcome.cancelled or any(_content_failed(c) for c in content) or \
                any(failed for _, failed in steps):
            _exit(EXIT_ERROR)


# ------------------------------------------------------------------------ domains in external zones, DNS zones
def _print_records(out: Any, lines: list[str]) -> None:
    for line in lines:
        out.print(f"  {escape(line)}", highlight=False, soft_wrap=True)


def _dns_waiting(s: Session, out: Any) -> None:
    """After an apply: the domains left in their first phase because some of their records do not resolve yet (the
    rest of the environment was applied), and a move's twin that waits for the switch of its serving record."""
    resume = f"resume the move (`platform move --resume --env {escape(s.env.name)}`)"
    for state in [d for d in s.dns.domains if d.stack in s.runner.results]:
        where = f" on {escape(state.cloud)} (the move's twin)" if state.twin else ""
        if state.state == "waiting":
            what = "its validation record(s)" if state.twin else "them"
            then = f"then {resume}" if state.twin else f"then apply environment {escape(s.env.name)} again"
            out.print(f"\n[bold yellow]waiting for DNS:[/] {escape(state.cdn)}{where} on {escape(state.domain)}: "
                      f"{len(state.missing)} of {len(state.records)} record(s) do not resolve yet, so "
                      f"{escape(state.domain)} is not served {'there ' if state.twin else ''}yet; create {what} in "
                      f"the zone of the domain, {then}:", highlight=False, soft_wrap=True)
            _print_records(out, dns_phase.record_lines(state.blocking))
            if len(state.blocking) < len(state.missing):
                out.print(f"  not the record of {escape(state.domain)} itself yet: the move asks for its switch at "
                          "its next pause (the source serves the domain meanwhile)", highlight=False, soft_wrap=True)
        elif state.twin and state.state == "complete" and state.missing and _dns_pause(s) == "serving":
            out.print(f"\n[bold yellow]waiting for DNS:[/] {escape(state.cdn)}{where} serves {escape(state.domain)}; "
                      f"switch its record now (replace the record of {escape(state.domain)} in its zone by this "
                      f"one), then {resume}:", highlight=False, soft_wrap=True)
            _print_records(out, dns_phase.record_lines(state.missing))


def _dns_stopped(s: Session, ready: set[str]) -> str | None:
    """`dns.stopped` of `--json`: a domain left at its first phase by this apply (records to create, or records
    missing), else None. Either way the exit code is 0 (docs/domains.md)."""
    if any(d.stack in ready for d in s.dns.new):
        return "dns-records-to-create"
    if any(d.stack in s.runner.results for d in s.dns.waiting):
        return "dns-records-missing"
    return None


def _dns_after_apply(s: Session, results: list[rp.StackResult], out: Any) -> dict[str, Any]:
    """After an apply: the records each first phase asks for or still misses (the domain waits there, the rest is
    applied; exit 0), and the name servers of the zones the base stacks hold."""
    ready = {r.name for r in results if r.status in rp.SETTLED}
    _dns_waiting(s, out)
    outputs = _stack_outputs(s)
    dns_phase.requested_records(s.dns, outputs)
    for state in s.dns.new:
        if state.stack not in ready:
            continue
        out.print(f"\n[bold]Phase 1 of 2 for {escape(state.domain)}[/] ({escape(state.cdn)}): its certificate is "
                  "requested. Create these records in the zone of the domain, then apply again: the next apply "
                  "checks they resolve and serves the domain.", highlight=False, soft_wrap=True)
        _print_records(out, dns_phase.record_lines(state.records))
    zones = dns_phase.zones([r for r in results if r.name in ready])
    for zone in zones:
        out.print(f"\nDNS zone {escape(zone['zone'])} ({escape(zone['stack'])}): delegate it from its parent zone "
                  "to these name servers (NS records):", highlight=False, soft_wrap=True)
        _print_records(out, zone["name_servers"])
    data = s.dns.to_json()
    data["zones"] = zones
    data["stopped"] = _dns_stopped(s, ready)
    return data


def _print_dns_plan(s: Session, out: Any) -> None:
    """`plan`: which domains the next apply would build in their first phase, or stop for."""
    for state in s.dns.domains:
        if state.state == "waiting":
            out.print(f"[yellow]{escape(state.cdn)}[/]: {len(state.missing)} DNS record(s) of {escape(state.domain)} "
                      "do not resolve yet: the apply leaves it in its first phase (not served yet)", highlight=False,
                      soft_wrap=True)
            _print_records(out, dns_phase.record_lines(state.blocking))
            if len(state.blocking) < len(state.missing):
                out.print(f"  not the record of {escape(state.domain)} itself yet: the move asks for its switch at "
                          "its next pause (the source serves the domain meanwhile)", highlight=False, soft_wrap=True)
        elif state.state == "new":
            out.print(f"[yellow]{escape(state.cdn)}[/]: phase 1 of 2 for {escape(state.domain)}: the apply requests "
                      "its certificate (the rest of the environment applies as usual) and prints the DNS records to "
                      "create", highlight=False, soft_wrap=True)
        elif state.state == "resolved":
            out.print(f"{escape(state.cdn)}: the DNS records of {escape(state.domain)} resolve: the apply completes "
                      "it", highlight=False, soft_wrap=True)
    _print_dns_rehearsal(s, out)


def _print_dns_rehearsal(s: Session, out: Any) -> None:
    if s.rehearsal is None or s.env.rehearses is None:
        return
    for note in dns_phase.rehearsal_notes(s.env, s.env.rehearses, s.services):
        out.print(f"[bold yellow]rehearsal of {escape(s.env.rehearses)}[/]: {escape(note)}", highlight=False,
                  soft_wrap=True)


# ------------------------------------------------------------------------------------------ static content

def _stack_outputs(s: Session) -> Any:
    """stack -> its outputs: learned in this command, else recorded at its last apply ({} if never applied)."""
    runner = s.runner

    def outputs(stack: str) -> dict[str, Any]:
        result = runner.results.get(stack)
        if result is not None and (result.outputs_known or result.outputs):
            return dict(result.outputs)
        return runner.ledger.values(stack) if runner.ledger is not None else {}
    return outputs


def _content_skips(s: Session) -> dict[str, str]:
    """Content buckets an unfinished move carries: the move owns their objects until it is finished."""
    move = _unfinished(s)
    if move is None:
        return {}
    why = f"the move of {move['selector']} is unfinished (finish it with `{move['resume']}`)"
    return {address: why for address in move["stateful"]}


def _content_plans(s: Session) -> list[Any]:
    from platform_sdk.content.deploy import content_targets, plan_content

    targets = content_targets(s.env, s.services)
    return plan_content(targets, _stack_outputs(s), _content_skips(s)) if targets else []


def _content_failed(status: Any) -> bool:
    return bool(status.error or (status.report is not None and not status.report.ok))


def _print_content(content: list[Any], title: str, target: Any = console) -> None:
    """`web.site: 3 files to upload, 1 to delete`, one line per bucket with a content directory."""
    if not content:
        return
    target.print()
    target.print(f"[bold]{escape(title)}[/]")
    for status in content:
        color = "red" if _content_failed(status) else "yellow" if status.has_changes or status.skipped else "dim"
        target.print(f"  [{color}]{escape(status.line())}[/]", highlight=False, soft_wrap=True)
        if status.report is not None:
            for key, error in status.report.failed[:5]:
                target.print(f"    [red]{escape(key)}: {escape(error)}[/]", highlight=False, soft_wrap=True)


def _content_preview(s: Session, out: Any) -> list[Any]:
    """Before an apply asks its question: the content buckets the apply will change, shown with the plan."""
    preview = [c for c in _content_plans(s) if c.has_changes]
    _print_content(preview, f"Static content for environment {s.env.name}", out)
    return preview


def _consumers_left_behind(s: Session, results: list[rp.StackResult]) -> list[str]:
    """After an apply limited by `--stack`: each stack left out of it that reads an output the apply changed (the
    applied plan's action for that output, terraform/reads.py): it still points at the old value (a bucket's old
    name, a queue's URL) until it is applied too. Outputs it does not read are not its concern."""
    from platform_sdk.terraform import reads

    outside = s.runner.outside
    if not outside:
        return []
    applied = {r.name: r for r in results if r.status == rp.APPLIED and r.plan is not None}
    lines = []
    for name, consumer in sorted(outside.items()):
        stale = [p for p in consumer.dependencies
                 if p in applied and reads.changing(s.runner.outputs_read(name, p), applied[p].plan.output_actions)]
        if stale:
            lines.append(f"{name} reads outputs of {', '.join(stale)} that changed with this apply and still has "
                         f"the old values: apply it too (platform apply --env {s.env.name} --stack {name})")
    return lines


def _deploy_content(s: Session, results: list[rp.StackResult], approved: bool, preview: list[Any] | None,
                    out: Any) -> list[Any]:
    """Sync the content buckets whose stacks settled. Without `--auto-approve` (`preview` is what was shown before
    the apply's question), and when no Terraform change was approved, asks first about the content alone."""
    from platform_sdk.content.deploy import content_targets, deploy_content, plugin_invalidate

    targets = content_targets(s.env, s.services)
    if not targets:
        return []
    outputs, skips = _stack_outputs(s), _content_skips(s)
    if not approved:
        if not preview:
            return []
        err_console.print(f"\n[bold]Upload the static content above to environment {escape(s.env.name)}?[/] "
                          "Only 'yes' will be accepted.", highlight=False, soft_wrap=True)
        err_console.print("  Enter a value: ", end="", soft_wrap=True)
        if sys.stdin.readline().strip().lower() != "yes":
            err_console.print("[yellow]Content upload cancelled.[/] Nothing was uploaded.")
            return []
    ready = {r.name for r in results if r.status in rp.SETTLED}
    content = deploy_content(targets, outputs, ready, plugin_invalidate(s.env), skips)
    _print_content(content, f"Static content of environment {s.env.name}:", out)
    return content


# ------------------------------------------------------------------------------------------ after apply

def _after_apply(s: Session, results: list[rp.StackResult], out: Any) -> list[tuple[str, bool]]:
    """Each plug-in's step after Terraform (`CloudPlugin.after_apply`: the GCP plug-in grants its Cloud SQL
    function users their database rights) over its settled stacks' outputs; returns (line, failed) per step."""
    from platform_sdk import providers

    outputs = _stack_outputs(s)
    by_target: dict[str, dict[str, Any]] = {}
    for result in results:
        if result.status in rp.SETTLED:
            by_target.setdefault(result.target, {})[result.name] = outputs(result.name)
    steps: list[tuple[str, bool]] = []
    for target, stacks in sorted(by_target.items()):
        steps += providers.plugin(target).after_apply(s.env, stacks)
    if steps:
        out.print()
        out.print(f"[bold]After the apply of environment {escape(s.env.name)}:[/]")
        for line, failed in steps:
            out.print(f"  [{'red' if failed else 'dim'}]{escape(line)}[/]", highlight=False, soft_wrap=True)
    return steps


def _rename_typos(s: Session, lost: list[tuple[str, rp.ResourceChange]]) -> list[str]:
    """For each deployed resource a plan destroys while a declaration of its service says `renamed_from` a name that
    matches nothing (a typo, or the entry of `[renames]` mistyped): the rename the user most likely meant. Without
    it, such a plan read as an ordinary DATA LOSS (exit 0) and only the data-loss guard stood in the way."""
    services = {name: info.get("service") for name, info in s.metadata.get("stacks", {}).items()}
    hints = []
    for stack, change in lost:
        if change.action != "destroy" or "." not in change.address:
            continue
        gone = change.address.rsplit(".", 1)[1]
        service = next((svc for svc in s.services if svc.name == services.get(stack)), None)
        if service is None or service.get(gone) is not None:
            continue
        for resource in service:
            old = getattr(resource, "renamed_from", None)
            if old is None or old == gone or service.get(old) is not None:
                continue
            if did_you_mean(old, [gone]):
                hints.append(f"{resource.address} declares renamed_from={old!r}, which names nothing deployed: did "
                             f"you mean renamed_from={gone!r} (the {change.type} this plan destroys)?"
                             + (f" ({resource.declared_in}:{resource.declared_line})" if resource.declared_in else ""))
    return hints


def _unfinished(s: Session) -> dict[str, Any] | None:
    from platform_sdk.move import record as moves_record

    move = moves_record.unfinished(s.moves)
    if move is None:
        return None
    resume, abort = moves_record.commands(move)
    return {"selector": move["selector"], "target": move["target"], "phase": move["phase"],
            "stateful": move.get("stateful", []), "resume": resume, "abort": abort,
            "next": moves_record.next_steps(move)}  # only commands its phase accepts (no abort past cut-over)


def _guard_moving_data(s: Session, confirm: Any) -> Any:
    """While a move is unfinished its data is refused to any destroy, even with --allow-data-loss."""
    move = _unfinished(s)
    if move is None:
        return confirm
    moving = set(move["stateful"])

    def guarded(results: list[rp.StackResult], wave: int) -> bool:
        owners = {r.name: r.owners for r in results}
        hit = [f"{c.address} in {stack}" for stack, c in rp.data_loss(results)
               if owners.get(stack, {}).get(c.address) in moving]
        if hit:
            err_console.print(f"[bold red]error:[/] refusing: the unfinished move of {escape(move['selector'])} "
                              f"still needs {escape(', '.join(hit))} (some of its data may not be copied yet): "
                              f"{escape(move['next'])}. Nothing was changed.", highlight=False, soft_wrap=True)
            return False
        return bool(confirm(results, wave))
    return guarded


def _destroy_preflight(s: Session, allow_data_loss: bool) -> None:
    """Refuse, before destroying anything, what would stop a destroy halfway: an unfinished move, and resources
    their cloud refuses to delete (deletion protection on, as the stacks' state says)."""
    problems: list[str] = []
    move = _unfinished(s)
    if move is not None:
        problems.append(f"the move of {move['selector']} to {move['target']} is unfinished (phase {move['phase']}): "
                        f"{move['next']}, first")
    for stack, address, owner in _protected(s):
        where = f" ({owner})" if owner else ""
        problems.append(f"{address}{where} in {stack} has deletion protection on: set `deletion_protection = false` "
                        f'under [overrides."{owner or "<service.resource>"}"] in {s.env.file} (or `ephemeral = '
                        f"true` for a throwaway environment), run `platform apply --env {s.env.name}`, then destroy")
    if problems:
        raise PlatformError(f"destroy of environment {s.env.name} refused before destroying anything: it would "
                            "stop halfway:\n  " + "\n  ".join(problems))


def _protected(s: Session) -> list[tuple[str, str, str]]:
    """(stack, Terraform address, neutral owner) of every deployed resource whose `deletion_protection` is on."""
    found = []
    for stack, state in sorted(s.runner.states().items()):
        for resource in (state.get("values") or {}).get("root_module", {}).get("resources", []):
            if resource.get("mode") == "managed" and (resource.get("values") or {}).get("deletion_protection"):
                address = resource["address"]
                found.append((stack, address, s.runner.results[stack].owners.get(address, "")))
    return found


def _record(s: Session, results: list[rp.StackResult], operation: str) -> None:
    """Tell synthesis which stacks hold deployed resources, so a stack that loses them all is kept to destroy."""

    settled = [r.name for r in results if r.status in rp.SETTLED]
    if not settled:
        return
    stacks = s.metadata.get("stacks", {})
    if operation == "destroy":
        s.project.record_deployed(s.env.name, {}, removed=tuple(settled))
    else:
        s.project.record_deployed(s.env.name, {n: dict(stacks[n]) for n in settled},
                                  removed=tuple(n for n in settled if stacks[n].get("tombstone")))


@user_errors
def apply(env: EnvOption, project: ProjectOption = None, as_json: JsonOption = False,
          parallelism: ParallelismOption = 4, auto_approve: AutoApproveOption = False,
          allow_data_loss: AllowDataLossOption = False, plan_all: AllOption = False, stacks: StackOption = None,
          expect: Annotated[Path | None, typer.Option(
              "--expect", help="Refuse to apply if the plan differs from this reviewed report (`plan --report`).")]
          = None) -> None:
    """Plan what changed, show the report, confirm, and apply exactly the reviewed plans, wave by wave."""
    _deploy(project, env, "apply", as_json, parallelism, auto_approve, allow_data_loss, plan_all, stacks, expect)


@user_errors
def destroy(env: EnvOption, project: ProjectOption = None, as_json: JsonOption = False,
            parallelism: ParallelismOption = 4, auto_approve: AutoApproveOption = False,
            allow_data_loss: AllowDataLossOption = False) -> None:
    """Destroy every stack of an environment (consumers first); buckets and databases need --allow-data-loss."""
    _deploy(project, env, "destroy", as_json, parallelism, auto_approve, allow_data_loss)


def _secret_states(s: Session) -> list[Any]:
    """Whether each secret has a value in the environment (asked through the clouds' APIs; [] without secrets)."""
    from platform_sdk.secrets.deploy import states

    return states(s.project, s.env, s.services)


def _print_secret_states(found: list[Any], env_name: str) -> None:
    """The secrets that have no value in the environment yet, with what gives them one."""
    from platform_sdk.secrets.values import SET, UNKNOWN

    missing = [state for state in found if state.state != SET]
    if not missing:
        return
    console.print()
    console.print(f"[bold]Secrets without a value in environment {escape(env_name)}[/]")
    for state in missing:
        ref = state.ref
        readers = f"read by {', '.join(ref.readers)}" if ref.readers else "read by no function"
        if state.state == UNKNOWN:
            what = f"could not check: {state.detail}"
        elif ref.generate:
            what = "generated by the next `platform apply`"
        else:
            what = f"set it with `{ref.set_command()}`" + (" (apply refuses until then)" if ref.readers else "")
        console.print(f"  {escape(ref.address)} ({readers}): {escape(what)}", highlight=False, soft_wrap=True)


# --------------------------------------------------------------------------------------------------- drift

@user_errors
def drift(env: EnvOption, project: ProjectOption = None, as_json: JsonOption = False,
          parallelism: ParallelismOption = 4) -> None:
    """Refresh every stack (`terraform plan -refresh-only`) and report what changed outside Terraform.

    For a scheduled CI job: exit 0 when nothing drifted, 2 when something did, 1 on errors. A drifted stack's
    record says so, so the next `platform plan` plans it even if its configuration did not change.
    """
    with session(project, env, "drift", parallelism, records=True) as s:
        results = s.runner.plan(refresh_only=True)
        drifted = [r for r in results if r.plan is not None and r.plan.drift]
        if as_json:
            data = rp.report_json(s.env.name, "drift", results)
            data["drifted"] = [r.name for r in drifted]
            print(json.dumps(data, indent=2))
        else:
            for result in sorted(results, key=lambda r: (r.service, r.cloud, r.name)):
                label = f"{escape(result.name)} [dim]({escape(result.service)}, {escape(result.cloud_label)})[/]"
                if result.status in rp.BROKEN:
                    console.print(f"[bold red]{result.status:>9}[/]  {label}: {escape(result.error or '')}",
                                  highlight=False, soft_wrap=True)
                elif result.plan is not None and result.plan.drift:
                    console.print(f"[yellow]{'drifted':>9}[/]  {label}", highlight=False, soft_wrap=True)
                    for address, what in result.plan.drift:
                        console.print(f"             [yellow]![/] {escape(address)} was {what} outside Terraform",
                                      highlight=False, soft_wrap=True)
                else:
                    console.print(f"[dim]{'no drift':>9}[/]  {label}", highlight=False, soft_wrap=True)
            console.print(f"[bold]Drift:[/] {len(drifted)} of {len(results)} stack(s) changed outside Terraform",
                          highlight=False)
        if s.runner.interrupted:
            _interrupted_notice(results)
            _exit(EXIT_INTERRUPTED)
        if any(r.status in rp.BROKEN for r in results):
            _exit(EXIT_ERROR)
        if drifted:
            _exit(EXIT_CHANGES)


# ------------------------------------------------------------------------------------------------- outputs

def _dns_pause(s: Session) -> str | None:
    """What the unfinished move's pause at its `dns` step waits for (`move.record.dns_pause`); None: no such pause."""
    from platform_sdk.move.record import dns_pause, unfinished

    move = unfinished(s.moves)
    return dns_pause(move) if move is not None else None


RECORD_LABELS = {dns_phase.IN_PLACE: "in place", dns_phase.TO_CREATE: "create it in the zone",
                 dns_phase.SWITCH_LATER: "switch it at the move's next pause"}


def _where(s: Session, results: list[rp.StackResult]) -> list[dict[str, Any]]:
    """The "Where things live" rows: the one source of `platform apply`'s listing and of `platform outputs` (text and
    `where` in --json), so that the two cannot disagree. From the stacks' outputs (`where_things_live`), a copy kept by
    a move said as such; a CDN row with its domain (`domain`, and `domain_served`: false while its stack is in its
    first phase); each DNS record of an external-zone domain with `dns` (`dns_phase.record_status`, from the lookup
    of `s.dns`, made before the command ran): "in-place", "to-create", or "switch-later" (a move's serving record
    before the move asks for the switch), also said after the record in `url`. A function's row has `url` only when
    that URL serves it, and says how it is reached otherwise as `reached` (`model.reach`: `via CDN ...`, its queue,
    schedule, bucket or callers)."""
    from platform_sdk.model import Cdn
    from platform_sdk.model.reach import reaches
    from platform_sdk.move.record import copy_roles
    from platform_sdk.providers.domains import PHASE_CERTIFICATE
    from platform_sdk.terraform.runner import where_things_live

    rows: list[dict[str, Any]] = list(where_things_live(_with_last_outputs(s, results), s.metadata,
                                                          copy_roles(s.moves), reaches(s.services)))
    domains = {(d.stack, d.cdn.split(".", 1)[1].replace("-", "_")): d for d in s.dns.domains}
    configured = {cdn.address: s.env.override(cdn.address, "domain", cdn.domain)
                  for service in s.services for cdn in service.of(Cdn)}
    outputs = {r.name: r.outputs for r in results}
    switch_asked = _dns_pause(s) == "serving"
    for row in rows:
        short = row.get("name", "").replace("-", "_")
        if row.get("kind") == "cdn" and configured.get(f"{row['service']}.{row['name']}"):
            row["domain"] = str(configured[f"{row['service']}.{row['name']}"])
            row["domain_served"] = outputs.get(row["stack"], {}).get(f"cdn_{short}_dns_phase") != PHASE_CERTIFICATE
        if row.get("kind") != "dns":
            continue
        state = domains.get((row.get("stack", ""), short))
        status = state.record_status(row["record"], switch_asked) if state is not None else dns_phase.TO_CREATE
        label = RECORD_LABELS[status]
        if status == dns_phase.TO_CREATE and state is not None and state.twin and \
                dns_phase.serving({"name": row["record"].split(" ", 1)[0]}, state.domain):
            label = f"switch it now: it replaces the record of {state.domain} in the zone"
        row["dns"] = status
        row["url"] = f"{row['record']}  ({label})"
    return rows


def _with_last_outputs(s: Session, results: list[rp.StackResult]) -> list[rp.StackResult]:
    """`results`, a stack this command learned no outputs of (its apply failed or was refused, or it waits for one
    that failed) with those recorded at its last apply: what it created then still lives. Only the outputs its
    configuration declares, as `runner.outputs` keeps (a record may hold outputs of resources moved elsewhere)."""
    import dataclasses

    last = _stack_outputs(s)
    completed = []
    for result in results:
        if result.outputs or result.outputs_known:
            completed.append(result)
            continue
        declared = s.runner.declared_outputs(result.name)
        values = {k: v for k, v in last(result.name).items() if declared is None or k in declared}
        completed.append(dataclasses.replace(result, outputs=values) if values else result)
    return completed


def _print_where(rows: list[dict[str, Any]], title: str) -> None:
    """Aligned lines rather than a table: URLs must never be cut or wrapped (people copy them); a function without
    a URL that serves it says how it is reached instead (`via CDN ...`, `queue svc.outbox`, ...), one with a URL
    and other triggers says those after it; a CDN says the domain it serves (or not yet), a copy kept by a move says
    what it is after its cloud."""
    console.print(f"[bold]{escape(title)}[/]")
    widths = {k: max(len(r[k]) for r in rows) for k in ("service", "kind", "name")}
    for row in rows:
        url = row.get("url")
        where = escape(url or row.get('reached', ''))
        if url and row.get("iam"):
            where += "  (callers granted invokes)"
        if url and row.get("reached"):
            where += f"  [dim](also {escape(row['reached'])})[/]"
        line = (f"  {escape(row['service']):<{widths['service']}}  {row['kind']:<{widths['kind']}}  "
                f"{escape(row['name']):<{widths['name']}}  {where}")
        if row.get("domain"):
            line += (f"  (serves {escape(row['domain'])})" if row.get("domain_served") else
                     f"  ({escape(row['domain'])} not served yet: its DNS records are to create)")
        copy = f"  [yellow]{escape(row['copy'])}[/]" if row.get("copy") else ""
        console.print(f"{line}  [dim]{escape(row['cloud'])}[/]{copy}", highlight=False, soft_wrap=True)


@user_errors
def outputs(env: EnvOption, project: ProjectOption = None, as_json: JsonOption = False,
            parallelism: ParallelismOption = 4) -> None:
    """Where each function, bucket and CDN route lives, read from the stacks' Terraform outputs."""
    with session(project, env, "outputs", parallelism) as s:
        values = s.runner.outputs(init=True)
        results = list(s.runner.results.values())
        broken = [r for r in results if r.status in rp.BROKEN]
        rows = _where(s, results)
        if as_json:
            print(json.dumps({"environment": s.env.name, "stacks": values, "where": rows}, indent=2))
        else:
            if rows:
                _print_where(rows, f"Where things live in environment {s.env.name}")
            else:
                console.print("[dim]no outputs yet: run `platform apply` first[/]")
        for result in broken:
            err_console.print(f"[red]{escape(result.name)}:[/] {escape(result.error or result.status)}",
                              highlight=False)
        if s.runner.interrupted:
            _exit(EXIT_INTERRUPTED)
        if broken:
            _exit(EXIT_ERROR)


# ----------------------------------------------------------------------------------------------- bootstrap

@user_errors
def bootstrap(env: EnvOption, project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """Create the environment's state backend: S3 bucket + DynamoDB lock table, GCS bucket, or local dir."""
    from platform_sdk.envs import find_environment
    from platform_sdk.terraform.bootstrap import bootstrap as run_bootstrap

    proj = project_at(project)
    environment = find_environment(proj.envs_dir, env)
    steps = run_bootstrap(proj.root, environment)
    if as_json:
        print(json.dumps({"environment": environment.name, "backend": environment.state.backend,
                          "steps": [s.to_json() for s in steps]}, indent=2))
        return
    for step in steps:
        color = "green" if step.status == "created" else "dim"
        console.print(f"[{color}]{step.status:>7}[/]  {step.kind} {escape(step.name)}"
                      + (f"  [dim]{escape(step.detail)}[/]" if step.detail else ""), highlight=False)


COMMANDS = (plan, apply, destroy, drift, outputs, bootstrap)
