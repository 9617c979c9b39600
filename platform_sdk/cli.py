"""The `platform` command: a thin typer layer over the library. User errors exit 2 with one clear message.

Each module of `platform_sdk.commands` lists its commands in `COMMANDS` (and command groups such as `platform env
new` or `platform secret set` in `GROUPS`); this module registers them, in the order `platform --help` shows them.
Commands never import this module.

`app` is the whole command (every module imported). `app_for(argv)` is what the `platform` script runs: for
`platform NAME ...` with a known NAME only the module holding NAME is imported and registered (`HOME`), which
saves importing and registering the other commands (~0.03 s of CPU); `platform`, `platform --help`, an unknown
name or an option first get the whole command, so help and errors look as they always did.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from types import ModuleType
from typing import Any

import typer

MODULES = ("init", "estate", "env", "check", "deploy", "ci", "dev", "apptest", "move", "adopt", "unlock", "status",
           "logs", "secret")
"""Modules of `platform_sdk.commands`, in the order `platform --help` lists their commands."""

HOME = {
    "init": "init", "envs": "estate", "synth": "estate", "graph": "estate", "env": "env", "check": "check",
    "plan": "deploy", "apply": "deploy", "destroy": "deploy", "drift": "deploy", "outputs": "deploy",
    "bootstrap": "deploy", "ci": "ci", "dev": "dev", "test": "apptest", "move": "move", "adopt": "adopt",
    "unlock": "unlock", "status": "status", "logs": "logs", "secret": "secret",
}
"""The module of each command and command group, by the name typed after `platform` (tests/test_console.py checks
it against the modules' `COMMANDS` and `GROUPS`)."""

HELP = "Declare services once; plan, apply and move them across AWS, GCP and the local cloud."


def build(modules: Iterable[str] = MODULES) -> typer.Typer:
    """The `platform` command with the commands of `modules` (names in `MODULES`) registered, in that order."""
    command = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, help=HELP)
    names = list(modules)
    for name in names:
        module = _module(name)
        for function in module.COMMANDS:
            # a command passing arguments through (`platform test` to pytest) says so in its `context_settings`
            command.command(context_settings=getattr(function, "context_settings", None))(function)
        for group_name, group in getattr(module, "GROUPS", ()):
            command.add_typer(group, name=group_name)
    if len(names) < len(MODULES):
        # typer runs an app of one command as that command (`platform init` would take `init` as its argument):
        # a callback keeps the subcommand, as in the whole app
        command.callback()(_group)
    return command


def _module(name: str) -> ModuleType:
    """The command module `name` of `MODULES`, imported now. Spelled out, not `importlib.import_module`: the import
    graph (`lint-imports`, pyproject.toml's layers: CLI > commands > ...) sees that the CLI imports each of them."""
    match name:
        case "init":
            from platform_sdk.commands import init

            return init
        case "estate":
            from platform_sdk.commands import estate

            return estate
        case "env":
            from platform_sdk.commands import env

            return env
        case "check":
            from platform_sdk.commands import check

            return check
        case "deploy":
            from platform_sdk.commands import deploy

            return deploy
        case "ci":
            from platform_sdk.commands import ci

            return ci
        case "dev":
            from platform_sdk.commands import dev

            return dev
        case "apptest":
            from platform_sdk.commands import apptest

            return apptest
        case "move":
            from platform_sdk.commands import move

            return move
        case "adopt":
            from platform_sdk.commands import adopt

            return adopt
        case "unlock":
            from platform_sdk.commands import unlock

            return unlock
        case "status":
            from platform_sdk.commands import status

            return status
        case "logs":
            from platform_sdk.commands import logs

            return logs
        case "secret":
            from platform_sdk.commands import secret

            return secret
    raise ValueError(f"not a command module: {name!r}")


def _group() -> None:
    """Declare services once; plan, apply and move them across AWS, GCP and the local cloud."""


def app_for(argv: list[str]) -> typer.Typer:
    """The command to run for the arguments after `platform`: `app` unless the first one names a command in `HOME`,
    then the command with only that command's module (`platform synth --help` shows the same help either way)."""
    home = HOME.get(argv[0]) if argv else None
    if home is None:
        whole: typer.Typer = getattr(sys.modules[__name__], "app")  # noqa: B009 - built on first use by __getattr__
        return whole
    return build([home])


def __getattr__(name: str) -> Any:
    """`app`, the whole command, built on first use (`from platform_sdk.cli import app`)."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    whole = globals()["app"] = build()
    return whole


def main() -> None:  # pragma: no cover - console script entry
    """The CLI alone. The `platform` script's entry is `platform_sdk.console.main` (`python -m platform_sdk`): it
    starts the engine first and handles Ctrl-C and a reader closing the output; this one (`python -m
    platform_sdk.cli`) does neither."""
    app_for(sys.argv[1:])()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app_for(sys.argv[1:])())
