"""`platform init`: a new project in an empty directory (see platform_sdk.scaffold)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from platform_sdk.commands._common import console, user_errors


@user_errors
def init(directory: Annotated[Path, typer.Argument(help="Where to create the project (default: here).")] = Path("."),
         name_prefix: Annotated[str | None, typer.Option(help="First part of every physical name (bucket names "
                                                              "are global: make it unique). Asked for when "
                                                              "interactive, else derived from the directory "
                                                              "name.")] = None) -> None:
    """Start a project: services/ with an example service, envs/local.toml and .gitignore."""
    from platform_sdk.scaffold import init as scaffold
    from platform_sdk.stages import check_name_prefix, derive_name_prefix

    root = directory.resolve()
    how = "from --name-prefix"
    if name_prefix is None:
        derived = derive_name_prefix(root)
        if sys.stdin.isatty():
            name_prefix = typer.prompt("Name prefix of every physical name (unique to your organisation and "
                                       "project)", default=derived)
            how = "as entered" if name_prefix != derived else "derived from the directory name"
        else:
            name_prefix, how = derived, "derived from the directory name"
    made = scaffold(root, check_name_prefix(name_prefix))
    for path in made.written:
        console.print(f"  created {escape(str(path))}", highlight=False, soft_wrap=True)
    console.print(f"name_prefix = {made.name_prefix!r} ({how}; it is in envs/local.toml)", highlight=False,
                  soft_wrap=True)
    console.print("next: platform apply --env local --auto-approve, then platform dev --env local", highlight=False,
                  soft_wrap=True)


COMMANDS = (init,)
