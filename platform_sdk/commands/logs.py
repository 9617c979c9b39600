"""`platform logs SERVICE[.FUNCTION] --env E [--since 1h] [--follow]`: the functions' log lines with request ids."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from platform_sdk.commands._common import (
    EnvOption,
    JsonOption,
    ProjectOption,
    console,
    err_console,
    load,
    refuse_other_kind,
    run_synth,
    user_errors,
)
from platform_sdk.errors import PlatformError, did_you_mean

if TYPE_CHECKING:
    from platform_sdk.providers.base import LogEntry

TargetArgument = Annotated[str, typer.Argument(help="SERVICE or SERVICE.FUNCTION, e.g. thumbnails.on-demand.")]
SinceOption = Annotated[str, typer.Option("--since", help="How far back: 30m, 1h, 2d, or a time before now like "
                                                          "2026-11-30T08:00:00Z (UTC without an offset).")]
FollowOption = Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines until Ctrl-C.")]


def _line(entry: LogEntry, as_json: bool) -> None:
    if as_json:
        print(json.dumps(entry.to_json()), flush=True)
        return
    when = entry.time.strftime("%Y-%m-%d %H:%M:%S")
    cloud = getattr(entry, "cloud", "")
    console.print(f"{when}  [cyan]{escape(entry.function)}[/]" + (f"  [dim]{escape(cloud)}[/]" if cloud else "")
                  + f"  [dim]{escape(entry.request_id or '-')}[/]  {escape(entry.message)}",
                  highlight=False, soft_wrap=True)


def _moves(proj: Any, environment: Any) -> list[dict[str, Any]]:
    """The environment's move record (which functions came from another cloud, when); none if unreadable."""
    from platform_sdk.move.record import MoveRecords, RecordUnavailable

    try:
        return MoveRecords(proj, environment).load()
    except RecordUnavailable as err:
        note = textwrap.shorten(err.message, 300, placeholder=" …")  # at a word: never mid-URL or mid-markup
        err_console.print(f"[dim]the move record could not be read ({escape(note)}): only the "
                          "functions' current clouds are read[/]", highlight=False)
        return []


def _notes(notes: list[str], shown: set[str]) -> None:
    for note in notes:
        if note not in shown:
            shown.add(note)
            err_console.print(f"[dim]{escape(note)}[/]", highlight=False, soft_wrap=True)


def _check_target(services: list[Any], target: str) -> None:
    """Refuse, before anything is synthesized, a target naming a resource that is not a function, a service that
    declares none (saying which resources it has), or nothing declared (saying which functions there are).

    Raises:
        PlatformError: (key `SERVICE[.FUNCTION]`) e.g. "auth.users is a database; platform logs reads functions'
            logs (functions of auth: auth.api, auth.cleanup)".
    """
    does = "platform logs reads functions' logs"
    refuse_other_kind(services, target, "function", does, "SERVICE[.FUNCTION]")
    service = next((s for s in services if s.name == target), None)
    if service is not None and not any(r.kind == "function" for r in service.resources):
        kinds = ", ".join(f"{r.address} ({r.kind})" for r in service.resources) or "none"
        raise PlatformError(f"service {target} declares no function; {does} (its resources: {kinds})",
                            key="SERVICE[.FUNCTION]", value=target)
    functions = sorted(r.address for s in services for r in s.resources if r.kind == "function")
    name, dot, function = target.partition(".")
    chosen = [a for a in functions if a.partition(".")[0] == name and (not function or a.partition(".")[2] == function)]
    if not chosen or (dot and not function):  # as `select` says it after a synthesis
        known = sorted({s.name for s in services} | set(functions))
        raise PlatformError(f"no function of the environment is {target!r}{did_you_mean(target, known)} "
                            f"(functions: {', '.join(functions) or 'none'})", key="SERVICE[.FUNCTION]", value=target)


@user_errors
def logs(target: TargetArgument, env: EnvOption, since: SinceOption = "1h", follow: FollowOption = False,
         project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """What a service's (or one function's) deployed functions logged, with request ids: CloudWatch Logs, Cloud
    Logging, or the local cloud's function logs (written by `platform dev`)."""
    from platform_sdk.status.logs import Located, earlier_refs, fetch, load_refs, parse_since, select
    from platform_sdk.status.logs import follow as follow_logs
    from platform_sdk.synth.app import METADATA_FILE
    from platform_sdk.terraform.locks import workspace_lock

    now = datetime.now(UTC)
    start = parse_since(since, now).astimezone(UTC)  # shown as UTC below: a time given with an offset too
    if start > now:  # nothing was logged after now: an empty answer would hide the typo
        raise PlatformError(f"is in the future ({start:%Y-%m-%d %H:%M:%S} UTC; now {now:%Y-%m-%d %H:%M:%S} UTC): "
                            "give a time before now, or a duration like 30m, 1h or 2d", key="--since", value=since)
    proj, environment, services = load(project, env)
    _check_target(services, target)
    outdir = proj.env_outdir(environment.name)
    if not (outdir / METADATA_FILE).is_file():
        err_console.print(f"[dim]synthesizing {escape(environment.name)} ...[/]")
        with workspace_lock(proj.cache_dir, environment.name, "logs"):  # never under a running apply (else exit 1)
            outdir = run_synth(proj, environment, services).outdir
    def locate() -> Located:  # where the functions live now, and their history on clouds they moved from
        refs = select(load_refs(outdir), target)
        return refs, earlier_refs(refs, _moves(proj, environment), environment)

    refs, earlier = locate()
    notes: list[str] = []
    shown: set[str] = set()
    if not follow:
        entries = fetch(proj.root, environment, refs, start, earlier=earlier, notes=notes)
        for entry in entries:
            _line(entry, as_json)
        _notes(notes, shown)
        if not entries and not as_json:
            err_console.print(f"[dim]no log lines from {escape(target)} since {start:%Y-%m-%d %H:%M:%S} UTC[/]")
        return
    try:
        for followed in follow_logs(proj.root, environment, refs, start, earlier=earlier, notes=notes,
                                    locate=locate):
            _line(followed, as_json)
            _notes(notes, shown)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


COMMANDS = (logs,)
