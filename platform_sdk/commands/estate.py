"""`platform envs / synth / graph`: the environments, the synthesized estate and its stack graph."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from platform_sdk.commands._common import (
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


@user_errors
def envs(project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """List the environments and where their workloads live."""
    from platform_sdk.envs import list_environments, load_environment

    proj = project_at(project)  # no project here or above: one error, not an empty list
    rows = []
    for name in list_environments(proj.envs_dir):
        env = load_environment(proj.envs_dir / f"{name}.toml")
        rows.append({"name": name, "default_cloud": env.default_cloud, "placement": env.placement,
                     "state": env.state.backend, "protected": env.protected,
                     "stand_ins": sorted(c for c in env.clouds if env.target_of(c) != c)})
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table("environment", "default cloud", "placement", "state", "protected")
    for row in rows:
        placement = ", ".join(f"{k}→{v}" for k, v in row["placement"].items()) or "-"
        if row["stand_ins"]:
            placement += f"  (local stand-ins: {', '.join(row['stand_ins'])})"
        table.add_row(row["name"], row["default_cloud"], placement, row["state"], "yes" if row["protected"] else "")
    console.print(table)


@user_errors
def synth(env: EnvOption, service: Annotated[str | None, typer.Option(help="Only this service's stacks.")] = None,
          project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """Compile the estate for one environment into cdktf.out/<env>, checked against the provider schemas."""
    from platform_sdk import cdk
    from platform_sdk.synth import collector
    from platform_sdk.terraform.locks import workspace_lock

    cdk.preload()  # the engine starts while the estate is read
    with collector.paused():  # the modules, the estate and its synthesis live to the end (synth/collector.py)
        from platform_sdk.synth.schema_check import check_outdir

        proj, environment, services = load(project, env)
        with workspace_lock(proj.cache_dir, environment.name, "synth"):  # never under a running apply (else exit 1)
            result = run_synth(proj, environment, services, service)
        errors = check_outdir(result.outdir)
    for warning in result.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}")
    if as_json:
        print(json.dumps({**result.to_json(), "outdir": str(result.outdir),
                          "schema_errors": [str(e) for e in errors], "warnings": result.warnings}, indent=2))
    else:
        table = Table("stack", "cloud", "resources", "depends on")
        for info in result.stacks.values():
            cloud = info.cloud if info.target == info.cloud else f"{info.cloud} (local stand-in)"
            table.add_row(info.name, cloud, ", ".join(info.resources), ", ".join(info.dependencies) or "-")
        console.print(table)
        console.print(f"synthesized {len(result.stacks)} stacks into {result.outdir}")
        print_rehearsal(result.rehearsal, console)
    if errors:
        for error in errors:
            err_console.print(f"[red]schema:[/] {error}")
        raise typer.Exit(1)


@user_errors
def graph(env: EnvOption, project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """Stacks of an environment: their cloud, resources and dependencies, as synthesis wires them (the base stacks
    with the shared prerequisites they provide included: the order `plan`, `apply` and `platform ci` follow)."""
    from platform_sdk.terraform.locks import workspace_lock

    proj, environment, services = load(project, env)
    with workspace_lock(proj.cache_dir, environment.name, "graph"):  # never under a running apply (else exit 1)
        result = run_synth(proj, environment, services)
    kinds = {resource.address: resource.kind for resource in result.placements}
    stacks: dict[str, dict[str, Any]] = {}
    for name, info in sorted(result.stacks.items()):
        stacks[name] = {"service": info.service, "cloud": info.cloud, "target": info.target,
                        "resources": [{"name": address.split(".", 1)[-1], "kind": kinds.get(address, "?")}
                                      for address in info.resources],
                        "shared": info.shared, "depends_on": sorted(info.dependencies)}
    if as_json:
        print(json.dumps({"environment": environment.name, "stacks": stacks}, indent=2))
        return
    for name, entry in stacks.items():
        cloud = entry["cloud"] + (" (local stand-in)" if entry["target"] != entry["cloud"] else "")
        console.print(f"[bold]{name}[/]  [cyan]{cloud}[/]")
        for res in entry["resources"]:
            console.print(f"  {res['kind']:<9} {res['name']}")
        for need, keys in sorted(entry["shared"].items()):
            console.print(f"  [dim]shared[/]    {need}: {', '.join(keys)}")
        for dep in entry["depends_on"]:
            console.print(f"  [dim]after[/] {dep}")


COMMANDS = (envs, synth, graph)
