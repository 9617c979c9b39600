"""The `platform` command: a thin typer layer over the library. User errors exit 2 with one clear message."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from platform_sdk.errors import PlatformError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Declare services once; plan, apply and move them across AWS, GCP and the local cloud.")
console = Console()
err_console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])

EnvOption = Annotated[str, typer.Option("--env", "-e", help="Environment name (a file envs/NAME.toml).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
ProjectOption = Annotated[Path | None, typer.Option("--project", help="Project directory (default: nearest envs/).")]


def user_errors(func: F) -> F:
    """Turn a PlatformError into one message on stderr and exit code 2."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PlatformError as err:
            err_console.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
    return wrapper  # type: ignore[return-value]


def _project(path: Path | None) -> Any:
    from platform_sdk.project import Project

    return Project(path.resolve()) if path else Project.find()


def load(project_path: Path | None, env_name: str) -> tuple[Any, Any, list[Any]]:
    """Project, environment and services, validated: the common start of every command."""
    from platform_sdk.envs import find_environment
    from platform_sdk.loader import load_services

    project = _project(project_path)
    env = find_environment(project.envs_dir, env_name)
    services = load_services(project.services_dir)
    return project, env, services


def run_synth(project: Any, env: Any, services: list[Any], service: str | None = None) -> Any:
    from platform_sdk.profile import load_profile
    from platform_sdk.synth.app import synthesize

    profile = load_profile(project, env)
    return synthesize(project, env, services, only_service=service, profile=profile)


@app.command()
@user_errors
def envs(project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """List the environments and where their workloads live."""
    from platform_sdk.envs import list_environments, load_environment

    proj = _project(project)
    rows = []
    for name in list_environments(proj.envs_dir):
        env = load_environment(proj.envs_dir / f"{name}.toml")
        rows.append({"name": name, "default_cloud": env.default_cloud, "placement": env.placement,
                     "state": env.state.backend, "protected": env.protected,
                     "stand_ins": [c for c in ("aws", "gcp") if env.target_of(c) == "local"]})
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


@app.command()
@user_errors
def synth(env: EnvOption, service: Annotated[str | None, typer.Option(help="Only this service's stacks.")] = None,
          project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """Compile the estate for one environment into cdktf.out/<env>, checked against the provider schemas."""
    from platform_sdk.synth.schema_check import check_outdir
    from platform_sdk.terraform.locks import WorkspaceLocked, workspace_lock

    proj, environment, services = load(project, env)
    try:
        with workspace_lock(proj.cache_dir, environment.name, "synth"):  # never under a running apply
            result = run_synth(proj, environment, services, service)
    except WorkspaceLocked as err:
        raise PlatformError(str(err)) from None
    errors = check_outdir(result.outdir)
    if as_json:
        print(json.dumps({**result.to_json(), "outdir": str(result.outdir),
                          "schema_errors": [str(e) for e in errors]}, indent=2))
    else:
        table = Table("stack", "cloud", "resources", "depends on")
        for info in result.stacks.values():
            cloud = info.cloud if info.target == info.cloud else f"{info.cloud} (local stand-in)"
            table.add_row(info.name, cloud, ", ".join(info.resources), ", ".join(info.dependencies) or "-")
        console.print(table)
        console.print(f"synthesized {len(result.stacks)} stacks into {result.outdir}")
    if errors:
        for error in errors:
            err_console.print(f"[red]schema:[/] {error}")
        raise typer.Exit(1)


@app.command()
@user_errors
def graph(env: EnvOption, project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """Stacks of an environment: their cloud, resources and dependencies."""
    from platform_sdk.envs import Environment  # noqa: F401 - typing only
    from platform_sdk.placement import resolve_placements
    from platform_sdk.providers import compilers_for
    from platform_sdk.synth.app import dependencies_of

    proj, environment, services = load(project, env)
    placements = resolve_placements(environment, services, compilers_for(environment))
    stacks: dict[str, dict[str, Any]] = {}
    for resource, placement in placements.items():
        entry = stacks.setdefault(placement.stack_name, {
            "service": resource.service.name, "cloud": placement.cloud, "target": placement.target,
            "resources": [], "depends_on": []})
        entry["resources"].append({"name": resource.name, "kind": resource.kind})
    for name, deps in dependencies_of(placements).items():
        stacks[name]["depends_on"] = deps
    if as_json:
        print(json.dumps({"environment": environment.name, "stacks": dict(sorted(stacks.items()))}, indent=2))
        return
    for name, entry in sorted(stacks.items()):
        cloud = entry["cloud"] + (" (local stand-in)" if entry["target"] != entry["cloud"] else "")
        console.print(f"[bold]{name}[/]  [cyan]{cloud}[/]")
        for res in entry["resources"]:
            console.print(f"  {res['kind']:<9} {res['name']}")
        for dep in entry["depends_on"]:
            console.print(f"  [dim]after[/] {dep}")


def _register_command_modules() -> None:
    """Import the command modules that exist; each adds its commands to `app`."""
    import importlib
    import pkgutil

    import platform_sdk.commands as commands

    for module in sorted(m.name for m in pkgutil.iter_modules(commands.__path__)):
        importlib.import_module(f"platform_sdk.commands.{module}")


_register_command_modules()


def main() -> None:  # pragma: no cover - console script entry
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
