"""`platform status`: per function, what the cloud reports (state, URL, runtime, code, last update) and drift; the
URL only when it serves the function, else how the function is reached (`status.reached`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from platform_sdk.commands._common import (
    EnvOption,
    JsonOption,
    ProjectOption,
    console,
    err_console,
    load,
    run_synth,
    user_errors,
)

SynthOption = Annotated[bool, typer.Option(
    "--synth", help="Synthesize first, so drift is measured against the current sources (default: the last synth, "
                    "or a fresh one if there is none).")]


@user_errors
def status(env: EnvOption, project: ProjectOption = None, as_json: JsonOption = False, synth: SynthOption = False,
           ) -> None:
    """What each cloud reports for every deployed function; flags code that differs from the synthesized package.

    Exits 1 when a cloud could not be asked (no credentials, unreachable), else 0.
    """
    from platform_sdk.model.reach import reaches
    from platform_sdk.status import NOT_FOUND, UNKNOWN, collect, reached
    from platform_sdk.synth.app import METADATA_FILE
    from platform_sdk.terraform.locks import workspace_lock

    proj, environment, services = load(project, env)
    outdir = proj.env_outdir(environment.name)
    if synth or not (outdir / METADATA_FILE).is_file():
        err_console.print(f"[dim]synthesizing {escape(environment.name)} ...[/]")
        with workspace_lock(proj.cache_dir, environment.name, "status"):  # never under a running apply (else exit 1)
            outdir = run_synth(proj, environment, services).outdir
    reach = reaches(services)
    cdns = {address for how in reach.values() for address, _ in how.cdn_routes}
    statuses = reached(collect(proj.root, environment, outdir), reach, _cdn_urls(proj.root, environment, outdir, cdns))
    drifted = [s for s in statuses if s.drifted]
    missing = [s for s in statuses if s.state == NOT_FOUND]
    unknown = [s for s in statuses if s.state == UNKNOWN]
    if as_json:
        print(json.dumps({"environment": environment.name, "functions": [s.to_json() for s in statuses],
                          "drifted": [s.address for s in drifted], "not_deployed": [s.address for s in missing],
                          "unknown": [s.address for s in unknown]}, indent=2))
    else:
        _render(environment.name, statuses)
        summary = (f"{len(statuses)} function(s): {len(statuses) - len(missing) - len(unknown)} deployed, "
                   f"{len(missing)} not deployed")
        if unknown:
            summary += f", [yellow]{len(unknown)} unknown[/] (the cloud could not be asked)"
        if drifted:
            every = " --all" if any(s.changed_outside for s in drifted) else ""  # no stack changed: none planned
            summary += (f", [bold red]{len(drifted)} drifted[/] (deployed code differs from the synthesized package: "
                        f"`platform apply --env {escape(environment.name)}{every}`)")
        console.print(summary, highlight=False, soft_wrap=True)
    if unknown:
        raise typer.Exit(1)


def _cdn_urls(project_root: Path, env: Any, outdir: Path, cdns: set[str]) -> dict[str, str]:
    """CDN address -> its URL as last applied: the `cdn_<name>_url` value in the record of the stack holding it
    (terraform/records.py, next to the state), for the CDN addresses `cdns`. A CDN whose stack has no readable
    record (never applied, backend unreachable) is left out."""
    from platform_sdk.synth.app import read_metadata
    from platform_sdk.terraform.records import read_all, record_store

    holders = {stack: [a for a in info.get("resources", []) if a in cdns]
               for stack, info in (read_metadata(outdir).get("stacks") or {}).items()}
    holders = {stack: found for stack, found in holders.items() if found}
    if not holders:
        return {}
    try:
        records = read_all(record_store(project_root, env), holders)
    except Exception:  # noqa: BLE001 - no backend to ask: the rows name the CDN instead of its URL
        return {}
    urls: dict[str, str] = {}
    for stack, addresses in holders.items():
        record = records.get(stack)
        values = record.applied.values if record is not None and record.applied is not None else {}
        for address in addresses:
            value = values.get(f"cdn_{address.split('.', 1)[1]}_url".replace("-", "_"))
            if isinstance(value, str) and value:
                urls.setdefault(address, value)
    return urls


def _short_time(value: str | None) -> str:
    """ISO times from three clouds in one shape: `2026-11-27 09:18:51`."""
    return value[:19].replace("T", " ") if value else "-"


def _render(env_name: str, statuses: list[Any]) -> None:
    """Aligned lines, not a table: names and URLs must never be cut (people copy them). A function's URL only when it
    serves it, else how it is reached (`via CDN web.cdn /api/*`, `queue svc.outbox`, ...)."""
    from platform_sdk.status import NOT_FOUND

    console.print(f"[bold]Functions of environment {escape(env_name)}[/]", highlight=False)
    rows = []
    for s in statuses:
        cloud = s.cloud if s.target == s.cloud else f"{s.cloud} (local)"
        if s.changed_outside:
            code, color = "code changed outside Terraform", "bold red"
        elif s.drifted:
            code, color = f"drifted {(s.code_hash or '')[:12]}", "bold red"
        elif s.drifted is False:
            code, color = f"in sync {(s.code_hash or '')[:12]}", "green"
        else:
            code, color = "-", "dim"
        state = "not deployed" if s.state == NOT_FOUND else s.state
        where = " ".join(filter(None, [s.url, f"({s.reached})" if s.url and s.reached else s.reached]))
        rows.append((s.address, cloud, state, (code, color), _short_time(s.last_update), s.name, where))
    widths = [max((len(r[i]) for r in rows), default=0) for i in (0, 1, 2)]
    code_width = max((len(r[3][0]) for r in rows), default=0)
    for address, cloud, state, (code, color), updated, name, where in rows:
        padded = f"{escape(state):<{widths[2]}}"
        state_text = {"not deployed": f"[dim]{padded}[/]", "Unknown": f"[yellow]{padded}[/]"}.get(state, padded)
        console.print(f"  {escape(address):<{widths[0]}}  {cloud:<{widths[1]}}  {state_text}  "
                      f"[{color}]{code:<{code_width}}[/]  {updated}  {escape(name)}  {escape(where)}",
                      highlight=False, soft_wrap=True)
    notes: dict[str, list[str]] = {}
    for s in statuses:
        if s.detail and s.state != NOT_FOUND:
            notes.setdefault(s.detail, []).append(s.address)
    for detail, addresses in notes.items():
        console.print(f"  [dim]{escape(', '.join(addresses))}: {escape(detail)}[/]", highlight=False, soft_wrap=True)


COMMANDS = (status,)
