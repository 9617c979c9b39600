"""`platform secret set / rotate / list`: secret values, through the clouds' APIs, never through Terraform.

- `set SERVICE.NAME --env E` reads the value from standard input (typed without echo at a terminal, or piped in;
  never an argument) and stores it as the secret's new version. A container that does not exist yet is created
  first, alone, by a targeted Terraform apply of its stack (so the value can be set before the functions that read
  it are deployed: `platform apply` refuses to deploy them until it is).
- `rotate SERVICE.NAME --env E` replaces a generated secret's value with a new random one.
- `list --env E` says which secrets have a value in the environment, never the values.

Values are never printed, logged, or written to a file of ours; errors name the secret, never its value.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from platform_sdk.commands._common import (
    EnvOption,
    JsonOption,
    ProjectOption,
    console,
    err_console,
    load,
    refuse_other_kind,
    user_errors,
)
from platform_sdk.errors import PlatformError

AddressArgument = Annotated[str, typer.Argument(metavar="SERVICE.NAME", help="The secret: its service and name.")]
PLAN_FILE = "platform-secret.tfplan"

app = typer.Typer(name="secret", no_args_is_help=True, help="Set, rotate and list secret values (never shown).")


def _refs(project: Path | None, env: str, address: str | None = None,
          does: str = "") -> tuple[Any, Any, list[Any], Any, list[Any]]:
    """The project, environment, services, profile and secrets; `address` (`SERVICE.NAME`), when given, must not name
    a resource of another kind (`does`: what the command does with a secret, for the message)."""
    from platform_sdk.profile import load_profile
    from platform_sdk.secrets.inventory import inventory

    proj, environment, services = load(project, env)
    if address is not None:
        refuse_other_kind(services, address, "secret", does, "SERVICE.NAME")
    profile = load_profile(proj, environment)
    return proj, environment, services, profile, inventory(proj, environment, services, profile)


def _where(ref: Any) -> str:
    return ref.cloud if ref.target == ref.cloud else f"{ref.cloud} (local stand-in)"


@app.command("set")
@user_errors
def set_value(address: AddressArgument, env: EnvOption, project: ProjectOption = None,
              arguments: Annotated[list[str] | None, typer.Argument(hidden=True, show_default=False)] = None,
              ) -> None:
    """Store a new value for a secret, read from standard input (never from the command line)."""
    from platform_sdk.runtime.secrets import open_secret
    from platform_sdk.secrets.inventory import find
    from platform_sdk.secrets.values import read_value

    if arguments:  # caught here so that the value is not echoed back in a usage error
        raise PlatformError("a secret's value is never taken as an argument (it would stay in the shell's history "
                            "and the process list): pipe it on standard input, or type it at the prompt",
                            key="SERVICE.NAME", value=address)
    does = "platform secret set stores a secret's value"
    proj, environment, services, profile, refs = _refs(project, env, address, does)
    ref = find(refs, address)
    value = read_value(address)
    client = open_secret(ref.url)
    if not client.exists():
        _create_container(proj, environment, services, profile, ref)
    version = client.write(value)
    err_console.print(f"{escape(address)}: new value stored in environment {escape(environment.name)} "
                      f"({escape(_where(ref))}), version {escape(version)}", highlight=False)


@app.command("rotate")
@user_errors
def rotate(address: AddressArgument, env: EnvOption, project: ProjectOption = None) -> None:
    """Replace a generated secret's value with a new random one."""
    from platform_sdk.runtime.secrets import SECRET_TTL_SECONDS, open_secret
    from platform_sdk.secrets.inventory import find
    from platform_sdk.secrets.values import generate

    does = "platform secret rotate replaces a generated secret's value"
    _, environment, _, _, refs = _refs(project, env, address, does)
    ref = find(refs, address)
    if not ref.generate:
        raise PlatformError("only generated secrets are rotated by the platform; give this one a new value with "
                            f"`{ref.set_command()}`", key="SERVICE.NAME", value=address)
    client = open_secret(ref.url)
    if not client.exists():
        raise PlatformError(f"secret {address} has no container in environment {environment.name} yet: "
                            f"`platform apply --env {environment.name}` creates it and its first value",
                            key="SERVICE.NAME", value=address)
    version = client.write(generate(ref.secret))
    err_console.print(f"{escape(address)}: rotated in environment {escape(environment.name)} "
                      f"({escape(_where(ref))}), version {escape(version)}; running functions read the new value "
                      f"within {SECRET_TTL_SECONDS:.0f} s", highlight=False)


@app.command("list")
@user_errors
def list_secrets(env: EnvOption, project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """Every secret of the estate and whether it has a value in the environment (values are never shown)."""
    from platform_sdk.secrets.values import value_states

    _, environment, _, _, refs = _refs(project, env)
    states = value_states(refs)
    if as_json:
        print(json.dumps({"environment": environment.name, "secrets": [s.to_json() for s in states]}, indent=2))
        return
    if not states:
        console.print("[dim]no secrets in the estate[/]")
        return
    table = Table("secret", "cloud", "value", "read by", title=f"Secrets in environment {environment.name}")
    for state in states:
        # the declaration, not the value's origin: a value set by hand stays after `generate=True` is added
        value = state.state + (" (generate=True)" if state.ref.generate else "")
        if state.detail:
            value += f": {state.detail}"
        table.add_row(state.ref.address, _where(state.ref), value, ", ".join(state.ref.readers) or "-")
    console.print(table)


def _create_container(project: Any, env: Any, services: list[Any], profile: Any, ref: Any) -> None:
    """Create the secret's container (and only what it depends on) with a targeted Terraform apply of its stack."""
    from platform_sdk.synth.app import read_metadata, synthesize
    from platform_sdk.terraform import report as rp
    from platform_sdk.terraform.binary import TerraformNotFound, find_terraform, terraform_env
    from platform_sdk.terraform.locks import workspace_lock
    from platform_sdk.terraform.process import Terraform, trim_error

    try:
        binary = find_terraform()
    except TerraformNotFound as err:
        raise PlatformError(str(err)) from None
    with workspace_lock(project.cache_dir, env.name, "secret set"):  # WorkspaceLocked: exit 1 (user_errors)
        result = synthesize(project, env, services, profile=profile)
        info = read_metadata(result.outdir)["stacks"][ref.stack]
        targets = sorted(a for a, owner in info["owners"].items() if owner == ref.address
                         and not a.startswith("data."))
        stack_dir = result.outdir / "stacks" / ref.stack
        terraform = Terraform(binary, terraform_env(project.root))
        err_console.print(f"creating the container of {escape(ref.address)} in environment {escape(env.name)} "
                          f"(stack {escape(ref.stack)}) before storing its value", highlight=False)
        plan_args = ["plan", "-input=false", "-no-color", f"-out={PLAN_FILE}", *(f"-target={t}" for t in targets)]
        for args in (["init", "-input=false", "-no-color"], plan_args):
            run = _run(terraform, stack_dir, args)
            if not run.ok:
                raise PlatformError(f"could not create the container of {ref.address}: {trim_error(run)}")
        shown = _run(terraform, stack_dir, ["show", "-json", "-no-color", PLAN_FILE])
        plan = rp.parse_plan(json.loads(shown.stdout)) if shown.ok else None
        if plan is None or plan.data_loss or any(c.action != "create" for c in plan.changes):
            raise PlatformError(f"creating the container of {ref.address} would change more than that; run "
                                f"`platform apply --env {env.name}` and review its plan instead")
        for change in plan.changes:
            err_console.print(f"  + {escape(change.address)}", highlight=False)
        run = _run(terraform, stack_dir, ["apply", "-input=false", "-no-color", PLAN_FILE])
        (stack_dir / PLAN_FILE).unlink(missing_ok=True)
        if not run.ok:
            raise PlatformError(f"could not create the container of {ref.address}: {trim_error(run)}")
        project.record_deployed(env.name, {ref.stack: info})


def _run(terraform: Any, stack_dir: Path, args: list[str]) -> Any:
    """One Terraform command in a worker thread, so that Ctrl-C reaches us: it is forwarded to Terraform, which
    stops cleanly (state written, lock released) before we exit with 130."""
    from concurrent.futures import ThreadPoolExecutor

    from platform_sdk.terraform.process import NotStarted

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="terraform") as pool:
        future = pool.submit(terraform.run, stack_dir, args)
        while True:
            try:
                run = future.result()
            except KeyboardInterrupt:
                terraform.interrupt()
                err_console.print("[yellow]Interrupted:[/] waiting for Terraform to stop cleanly", highlight=False)
                continue
            except NotStarted:
                raise typer.Exit(130) from None
            if run.interrupted:
                err_console.print("Terraform stopped and released its lock; run the command again", highlight=False)
                raise typer.Exit(130)
            return run


COMMANDS = ()
GROUPS = (("secret", app),)
