"""The `platform` console script: starts the CDK engine first for the commands that synthesize, then the CLI.

Importing the CLI (typer, rich, the commands, the model, pydantic) takes ~0.15 s, and starting the engine (Node, the
`constructs` and `cdktf` assemblies) ~0.35 s of mostly Node's time: begun here, the engine's start overlaps the
CLI's import and the reading of the estate on a second core instead of following them (`platform_sdk.cdk.preload`).
Only commands that always synthesize start it: `platform status` or `logs` never pay for Node.

The same commands collect garbage less often (`GC_THRESHOLD`): synthesis allocates hundreds of thousands of
objects that live to the end (modules, the model, the compiled resources, the stack documents), so with Python's
default a collection every 700 allocations walked them again and again (~230 young and ~20 middle collections,
~0.05 s of CPU for 1,020 resources) and found almost nothing to free.
"""

from __future__ import annotations

import gc
import sys

SYNTHESIZING = frozenset({"synth", "graph", "check", "plan", "apply", "destroy", "drift", "outputs", "move", "adopt"})
"""Commands whose every successful run synthesizes an environment (typer's command names)."""

GC_THRESHOLD = 50_000
"""Allocations between two collections of the youngest generation for the synthesizing commands (Python's default:
700; the older generations keep their defaults, every 10th collection of the one below). Cyclic garbage is still
collected, only less often: a long `platform apply` or `move` keeps a bounded heap."""


def main() -> None:
    """Entry point of the `platform` script (pyproject.toml `[project.scripts]`)."""
    arguments = sys.argv[1:2]
    if arguments and arguments[0] in SYNTHESIZING and not {"--help", "-h"} & set(sys.argv[2:]):
        gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
        import jsii  # noqa: F401 - here, before the CLI competes for the interpreter: Node starts at once

        from platform_sdk import cdk

        cdk.preload()
    from platform_sdk import cli

    cli.app_for(sys.argv[1:])()
