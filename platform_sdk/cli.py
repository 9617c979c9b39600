"""The `platform` command: a thin typer layer over the library. User errors exit 2 with one clear message.

Each module of `platform_sdk.commands` lists its commands in `COMMANDS` (and command groups such as `platform env
new` or `platform secret set` in `GROUPS`); this module registers them, in the order `platform --help` shows them.
Commands never import this module.
"""

from __future__ import annotations

import sys

import typer

from platform_sdk.commands import (
    adopt,
    apptest,
    check,
    ci,
    deploy,
    dev,
    env,
    estate,
    init,
    logs,
    move,
    secret,
    status,
    unlock,
)

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Declare services once; plan, apply and move them across AWS, GCP and the local cloud.")

for _module in (init, estate, env, check, deploy, ci, dev, apptest, move, adopt, unlock, status, logs, secret):
    for _command in _module.COMMANDS:
        # a command passing arguments through (`platform test` to pytest) says so in its `context_settings`
        app.command(context_settings=getattr(_command, "context_settings", None))(_command)
    for _name, _group in getattr(_module, "GROUPS", ()):
        app.add_typer(_group, name=_name)


def main() -> None:  # pragma: no cover - console script entry
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
