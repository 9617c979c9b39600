"""`platform check`: the security gate. Guardrails, the conformance analysis and checkov over a scratch synth; exit 1
on any failure."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from platform_sdk.commands._common import EnvOption, JsonOption, ProjectOption, console, err_console, load, user_errors


@user_errors
def check(env: EnvOption, project: ProjectOption = None, as_json: JsonOption = False,
          checkov: Annotated[bool, typer.Option("--checkov/--no-checkov",
                                                help="Also scan the AWS/GCP stacks with checkov.")] = True,
          show_all: Annotated[bool, typer.Option("--all", help="Also list findings accepted by declaration.")] = False,
          ) -> None:
    """Security gate: synthesize into a scratch folder, run the guardrails, the conformance analysis (will every
    function work on its cloud?) and checkov; exit 1 on any failure."""
    from platform_sdk.gate import scanned as scanned_by_checkov
    from platform_sdk.gate import security_check
    from platform_sdk.profile import load_profile

    proj, environment, services = load(project, env)
    profile = load_profile(proj, environment)
    result = security_check(proj, environment, services, profile, run_checkov_scan=checkov,
                            log=lambda text: err_console.print(f"[dim]{text}[/]"))
    if as_json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        rows = result.rows(accepted=show_all)
        if rows:
            table = Table("check", "resource", "result", "detail")
            table.columns[1].overflow = "fold"
            for check_id, resource, status, detail in rows:
                style = "yellow" if status.startswith("waived") else "red"
                table.add_row(check_id, resource, f"[{style}]{status}[/]", detail)
            console.print(table)
        failing = len(result.failing_guardrails)
        waived = len(result.guardrails) - failing
        console.print(f"guardrails: {failing} failed, {waived} waived")
        if result.conformance is not None:
            report = result.conformance
            waived = sum(1 for v in report.exposures if v.waived)
            console.print(f"conformance: {len(report.missing)} missing, {len(report.exposures) - waived} exposed, "
                          f"{waived} waived; {sum(report.evidence.values())} pieces of evidence over "
                          f"{len(report.evidence)} functions"
                          + (f"; not visible (profile modules): {', '.join(report.unverified)}"
                             if report.unverified else ""), highlight=False)
        for waiver in result.unused_waivers:
            console.print(f"[dim]unused waiver: {waiver.rule} on {waiver.resource} (expires {waiver.expires})[/]")
        if result.checkov is not None:
            report = result.checkov
            scanned = sum(1 for target in result.stacks.values() if scanned_by_checkov(target))
            console.print(f"checkov {report.version or '-'}: {report.passed} passed, {len(report.failed)} failed, "
                          f"{len(report.accepted)} accepted as declared (--all lists them) over {scanned} stacks; "
                          f"{len(report.skipped)} checks skipped by the skip list"
                          + (f"; {report.parsing_errors} parsing errors" if report.parsing_errors else ""))
        verdict = "[green]passed[/]" if result.passed else "[red]failed[/]"
        console.print(f"check {environment.name}: {verdict}")
    if not result.passed:
        raise typer.Exit(1)


COMMANDS = (check,)
