"""The `platform` console script: starts the CDK engine first for the commands that synthesize, then the CLI.

The engine's Node process is started before anything else is imported (`platform_sdk.cdk.kernel.prestart`).

Importing the CLI (typer, rich, the commands, the model, pydantic) takes ~0.15 s, and starting the engine (Node, the
`constructs` and `cdktf` assemblies) ~0.35 s of mostly Node's time: begun here, the engine's start overlaps the
CLI's import and the reading of the estate on a second core instead of following them (`platform_sdk.cdk.preload`).
Only commands that always synthesize start it: `platform status` or `logs` never pay for Node.

The same commands collect garbage less often (`GC_THRESHOLD`): synthesis allocates hundreds of thousands of
objects that live to the end (modules, the model, the compiled resources, the stack documents), so with Python's
default a collection every 700 allocations walked them again and again (~230 young and ~20 middle collections,
~0.05 s of CPU for 1,020 resources) and found almost nothing to free.

And once such a command has finished, the process ends without the interpreter's teardown (`end`): the exit
handlers run (the engine's kernel is stopped, temporary folders removed, logging flushed), the other threads are
joined, stdout and stderr flushed, then `os._exit` with the command's exit code. The teardown freed every object of
the run one by one and collected the whole heap once more: ~0.2 s of CPU for 1,020 resources, for nothing.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
import threading
from typing import NoReturn

SYNTHESIZING = frozenset({"synth", "graph", "check", "plan", "apply", "destroy", "drift", "outputs", "move", "adopt"})
"""Commands whose every successful run synthesizes an environment (typer's command names)."""

GC_THRESHOLD = 50_000
"""Allocations between two collections of the youngest generation for the synthesizing commands (Python's default:
700; the older generations keep their defaults, every 10th collection of the one below). Cyclic garbage is still
collected, only less often: a long `platform apply` or `move` keeps a bounded heap."""


def main() -> None:
    """Entry point of the `platform` script (pyproject.toml `[project.scripts]`)."""
    arguments = sys.argv[1:2]
    synthesizing = bool(arguments) and arguments[0] in SYNTHESIZING and not {"--help", "-h"} & set(sys.argv[2:])
    if synthesizing:
        gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
        from platform_sdk.cdk import kernel

        kernel.prestart()  # Node starts loading now, jsii adopts it (platform_sdk.cdk.kernel)
        import jsii  # noqa: F401 - here, before the CLI competes for the interpreter

        from platform_sdk import cdk

        cdk.preload()
    from platform_sdk import cli

    try:
        cli.app_for(sys.argv[1:])()
    except SystemExit as done:  # typer ends every run so, with the exit code (an error message: a string)
        if synthesizing and (done.code is None or isinstance(done.code, int)):
            end(done.code or 0)
        raise


def end(code: int) -> NoReturn:
    """End the process with `code` as the interpreter would, without its teardown (see the module's docstring).
    Should stdout or stderr fail to flush (a closed pipe), the interpreter ends it as usual instead."""
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        raise SystemExit(code) from None
    os._exit(code)
