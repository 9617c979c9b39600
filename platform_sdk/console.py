"""The `platform` console script: starts the CDK engine first for the commands that synthesize, then the CLI.

Importing the CLI (typer, rich, the commands, the model, pydantic) takes ~0.15 s, and starting the engine (Node, the
`constructs` and `cdktf` assemblies) ~0.35 s of mostly Node's time: begun here, the engine's start overlaps the
CLI's import and the reading of the estate on a second core instead of following them (`platform_sdk.cdk.preload`).
Only commands that always synthesize start it: `platform status` or `logs` never pay for Node.
"""

from __future__ import annotations

import sys

SYNTHESIZING = frozenset({"synth", "graph", "check", "plan", "apply", "destroy", "drift", "outputs", "move", "adopt"})
"""Commands whose every successful run synthesizes an environment (typer's command names)."""


def main() -> None:
    """Entry point of the `platform` script (pyproject.toml `[project.scripts]`)."""
    arguments = sys.argv[1:2]
    if arguments and arguments[0] in SYNTHESIZING and not {"--help", "-h"} & set(sys.argv[2:]):
        import jsii  # noqa: F401 - here, before the CLI competes for the interpreter: Node starts at once

        from platform_sdk import cdk

        cdk.preload()
    from platform_sdk.cli import app

    app()
