"""`platform adopt SERVICE.RESOURCE --env E --id ID`: import an existing bucket, database or function into the
state of the stack that declares it, plan, and keep the import only if the plan replaces and destroys nothing of it
(platform_sdk.adopt).

Exit codes: 0 adopted, 1 refused (differences named; nothing imported remains) or Terraform failed, 2 bad input
(unknown resource, a kind that cannot be adopted, a missing or empty --id), 130 interrupted.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape

from platform_sdk.commands._common import EnvOption, JsonOption, ProjectOption, console, err_console, user_errors
from platform_sdk.errors import PlatformError
from platform_sdk.terraform import report as rp


@user_errors
def adopt(resource: Annotated[str, typer.Argument(help="SERVICE.RESOURCE: the declared bucket, database or function.")],
          env: EnvOption,
          cloud_id: Annotated[str, typer.Option("--id", help="The existing object's id as `terraform import` takes "
                                                             "it (a bucket's name, a DB instance identifier, ...).")],
          project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """Adopt an existing bucket, database or function: import it, plan, refuse any replacement of its data."""
    from platform_sdk import adopt as adoption
    from platform_sdk.commands._common import load
    from platform_sdk.commands.deploy import EXIT_ERROR, EXIT_INTERRUPTED, session
    from platform_sdk.terraform.process import NotStarted

    if not cloud_id.strip():
        raise PlatformError("--id must name the existing object (for a bucket: its name)", key="--id", value=cloud_id)
    adoption.check_resource(load(project, env)[2], resource)  # bad input is refused before anything is synthesized
    with session(project, env, "adopt", 1, records=True) as s:
        target = adoption.find_target(s.services, s.metadata, s.runner.outdir, resource, s.env)
        try:
            outcome = adoption.adopt(s.runner, target, cloud_id.strip(), s.env)
        except adoption.AdoptionFailed as err:
            err_console.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_ERROR) from None
        except NotStarted:
            err_console.print("[bold yellow]Interrupted.[/]", highlight=False)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        if as_json:
            print(json.dumps(outcome.to_json(), indent=2))
        elif outcome.result is not None and outcome.adopted:
            rp.render(console, s.env.name, "plan", [outcome.result], title=f"Plan for {target.stack} after adoption")
        if outcome.refused:
            err_console.print(f"[bold red]refused:[/] adopting {escape(target.resource)} as {escape(cloud_id)} "
                              "would lose its data; nothing was imported (the state is as it was):",
                              highlight=False, soft_wrap=True)
            for line in outcome.refused:
                err_console.print(f"  - {escape(line)}", highlight=False, soft_wrap=True)
            if target.declared_id and target.declared_id != cloud_id.strip():
                # no setting gives a resource another physical name: "align the declaration" could not be followed
                err_console.print(
                    f"  the platform names {escape(target.resource)} {escape(repr(target.declared_id))}, and adoption "
                    f"keeps that name: {escape(repr(cloud_id.strip()))} can be adopted only by a declaration whose "
                    "generated name it is (<name_prefix>-<env>-<service>-<resource>). Otherwise apply the "
                    "declaration and copy the data across; adopting an object under another name is not supported.",
                    highlight=False, soft_wrap=True)
            else:
                hint = f"; the declaration's id is {target.declared_id!r}" if target.declared_id else ""
                err_console.print(f"  align the declaration of {escape(target.resource)}'s settings with the "
                                  f"existing object{escape(hint)}, then adopt again.", highlight=False,
                                  soft_wrap=True)
            raise typer.Exit(EXIT_ERROR)
        count = len(outcome.in_place)
        if not as_json:
            console.print(f"[green]adopted[/] {escape(target.resource)} ({escape(target.address)} in "
                          f"{escape(target.stack)}), {count} in-place change{'s' if count != 1 else ''}; "
                          f"`platform apply --env {escape(s.env.name)}` applies them.", highlight=False,
                          soft_wrap=True)


COMMANDS = (adopt,)
