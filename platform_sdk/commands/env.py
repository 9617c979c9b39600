"""`platform env new`: a new stage, as an environment file derived from another one (see platform_sdk.stages)."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.markup import escape

from platform_sdk.commands._common import ProjectOption, console, project_at, user_errors
from platform_sdk.errors import PlatformError

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
                                                             "the source's; the stage's name already keeps their "
                                                             "names apart).")] = None,
        domain: Annotated[list[str] | None, typer.Option(
            help="SERVICE.CDN=NAME: the stage's own domain of a CDN (the source's are not copied); "
                 "repeatable.")] = None,
        project: ProjectOption = None) -> None:
    """Write envs/NAME.toml from another environment, with its own state backend names; what exists once per
    account or network is referenced, not built again."""
    from platform_sdk.stages import describe, new_stage, toml_value

    proj = project_at(project)
    domains = {}
    for given in domain or []:
        address, sep, value = given.partition("=")
        if not sep or not address or not value:
            raise PlatformError("--domain is SERVICE.CDN=NAME, e.g. web.cdn=shop.qa.example.com", key="--domain",
                                value=given)
        domains[address] = value
    made = new_stage(proj.envs_dir, name, source, cloud=cloud, region=region, name_prefix=name_prefix,
                     domains=domains)
    env = made.env
    where = os.path.relpath(made.path, proj.root)
    console.print(f"wrote {escape(where)} (from {escape(made.source)})", highlight=False, soft_wrap=True)
    how = "from --name-prefix" if made.name_prefix_given else \
        f"{made.source}'s: physical names are {env.name_prefix}-{name}-<service>-<resource>"
    console.print(f"  name_prefix = {env.name_prefix!r}  ({escape(how)})", highlight=False, soft_wrap=True)
    for note in made.notes:
        if note.now is None:
            line = f"  not copied: {describe(note)} ({note.reason})"
        else:
            line = f"  changed: {describe(note)} (was {toml_value(note.was)}: {note.reason})"
        console.print(escape(line), highlight=False, soft_wrap=True)
    if made.notes:
        console.print(f"  (noted at the top of {escape(where)})", highlight=False, soft_wrap=True)
    clouds = sorted({env.default_cloud, *env.placement.values()})
    console.print(f"  workloads on: {', '.join(clouds)}; state: {env.state.backend}", highlight=False, soft_wrap=True)
    if env.state.backend != "local":
        console.print(f"next: platform bootstrap --env {name}   (creates the state backend), then "
                      f"platform plan --env {name}", highlight=False, soft_wrap=True)
    else:
        console.print(f"next: platform plan --env {name}", highlight=False, soft_wrap=True)


COMMANDS = ()
GROUPS = (("env", env_app),)
