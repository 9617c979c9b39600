"""`platform env new`: a new stage, as an environment file derived from another one (see platform_sdk.stages)."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.markup import escape

from platform_sdk.commands._common import ProjectOption, console, project_at, user_errors

env_app = typer.Typer(no_args_is_help=True, help="Stages: create environment files (`platform envs` lists them).")


@env_app.command("new")
@user_errors
def new(name: Annotated[str, typer.Argument(help="The new stage's name: envs/NAME.toml.")],
        source: Annotated[str, typer.Option("--from", help="The environment to start from.")] = "local",
        cloud: Annotated[str | None, typer.Option(help="Put every workload of the stage on this cloud (a real "
                                                       "cloud, not a local stand-in).")] = None,
        region: Annotated[str | None, typer.Option(help="The region of --cloud (required when the source has "
                                                        "none for it: there is no default).")] = None,
        name_prefix: Annotated[str | None, typer.Option(help="First part of the stage's physical names (default: "
                                                             "the project directory's name and 4 random "
                                                             "characters).")] = None,
        project: ProjectOption = None) -> None:
    """Write envs/NAME.toml from another environment, with its own name prefix and state backend names."""
    from platform_sdk.stages import new_stage

    proj = project_at(project)
    made = new_stage(proj.envs_dir, name, source, cloud=cloud, region=region, name_prefix=name_prefix)
    env = made.env
    where = os.path.relpath(made.path, proj.root)
    console.print(f"wrote {escape(where)} (from {escape(made.source)})", highlight=False, soft_wrap=True)
    how = "derived from the project directory; change it now, before the first apply" if made.name_prefix_derived \
        else "from --name-prefix"
    console.print(f"  name_prefix = {env.name_prefix!r}  ({how})", highlight=False, soft_wrap=True)
    for line in made.dropped:
        console.print(f"  not copied: {escape(line)} (a domain belongs to one stage: give {escape(name)} its own)",
                      highlight=False, soft_wrap=True)
    clouds = sorted({env.default_cloud, *env.placement.values()})
    console.print(f"  workloads on: {', '.join(clouds)}; state: {env.state.backend}", highlight=False, soft_wrap=True)
    if env.state.backend != "local":
        console.print(f"next: platform bootstrap --env {name}   (creates the state backend), then "
                      f"platform plan --env {name}", highlight=False, soft_wrap=True)
    else:
        console.print(f"next: platform plan --env {name}", highlight=False, soft_wrap=True)


COMMANDS = ()
GROUPS = (("env", env_app),)
