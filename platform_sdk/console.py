"""The `platform` console script: starts the CDK engine first for the commands that synthesize, then the CLI.

The engine's Node process is started before anything else is imported (`platform_sdk.cdk.kernel.prestart`).

Importing the CLI (typer, rich, the commands, the model, pydantic) takes ~0.15 s, and starting the engine (Node, the
`constructs` and `cdktf` assemblies) ~0.35 s of mostly Node's time: begun here, the engine's start overlaps the
CLI's import and the reading of the estate on a second core instead of following them (`platform_sdk.cdk.preload`).
Only commands that always synthesize start it: `platform status` or `logs` never pay for Node.

The same commands collect garbage less often (`GC_THRESHOLD`): synthesis allocates hundreds of thousands of
objects that live to the end (modules, the model, the compiled resources, the stack documents), so with Python's
default a collection every 700 allocations walked them again and again (~230 young and ~20 middle collections,
~0.05 s of CPU for 1,020 resources) and found almost nothing to free. While such a command starts (the engine's and
the CLI's imports, `cli.app_for`) the collector is paused altogether (`platform_sdk.synth.collector.paused`), and
what was imported is set aside in the oldest generation when the pause ends: it lives to the end. Counted in the
youngest generation instead, it filled it while typer parsed the arguments, and that collection walked ~50,000
objects (~0.014 s of CPU for `platform synth`) to free none of them.

And once such a command has finished, the process ends without the interpreter's teardown (`end`): the exit
handlers run (the engine's kernel is stopped, temporary folders removed, logging flushed), the other threads are
joined, stdout and stderr flushed, then `os._exit` with the command's exit code. The teardown freed every object of
the run one by one and collected the whole heap once more: ~0.2 s of CPU for 1,020 resources, for nothing.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import signal
import sys
import threading
from types import FrameType
from typing import NoReturn

from platform_sdk import streams

SYNTHESIZING = frozenset({"synth", "graph", "check", "plan", "apply", "destroy", "drift", "outputs", "move", "adopt"})
"""Commands whose every successful run synthesizes an environment (typer's command names)."""

GC_THRESHOLD = 50_000
"""Allocations between two collections of the youngest generation for the synthesizing commands (Python's default:
700; the older generations keep their defaults, every 10th collection of the one below). Cyclic garbage is still
collected, only less often: a long `platform apply` or `move` keeps a bounded heap."""


EXIT_READER_GONE = 141
"""The exit code when the reader of the output closed its pipe early (`platform plan | head -1`, `_reader_gone`):
128 + SIGPIPE (13), what a shell reports for git or coreutils there, killed by the signal (Python ignores it and
gets an error instead). Not 0: the output was cut short, and a script with `set -o pipefail` sees it as for those
tools; not 1, which says the command itself failed. Nothing is printed: the reader asked for no more."""

_STARTING = True
"""True until the command itself runs (`main`): a Ctrl-C meanwhile ends the process at once (`_on_interrupt`)."""


def _on_interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGINT: while the process is starting (imports; the engine's load in its thread) end it at once with exit
    code 130, as an interrupted command does; afterwards Python's own KeyboardInterrupt (the commands handle it).

    A KeyboardInterrupt raised inside an import while another thread imports (the engine's preload) can leave
    Python's import locks taken: the process then hung for good, or printed a traceback from the import machinery.
    Nothing has been written by then (the command has not run, or waits for the engine), so there is nothing to
    stop cleanly."""
    engine = sys.modules.get("platform_sdk.cdk")
    if _STARTING or (engine is not None and engine.loading()):
        with contextlib.suppress(OSError):
            os.write(2, b"\nInterrupted.\n")
        kernel = sys.modules.get("platform_sdk.cdk.kernel")
        if kernel is not None:  # no exit handlers run here: its program files would stay in the temporary folder
            with contextlib.suppress(Exception):
                kernel.abandon()
        os._exit(130)
    signal.default_int_handler(signum, frame)


def main() -> None:
    """Entry point of the `platform` script (pyproject.toml `[project.scripts]`).

    A reader that closes the output early (`platform plan | head -1`) ends the command quietly, with no traceback
    and no "Exception ignored" on stderr, and exit code 141 (`EXIT_READER_GONE`: 128 + SIGPIPE, what git and coreutils
    end with there; not 0, since the output was cut short). Handled once here for every command (`_reader_gone`)."""
    global _STARTING
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not when Ctrl-C is ignored (nohup, CI)
        signal.signal(signal.SIGINT, _on_interrupt)
    arguments = sys.argv[1:2]
    synthesizing = bool(arguments) and arguments[0] in SYNTHESIZING and not {"--help", "-h"} & set(sys.argv[2:])
    if synthesizing:
        gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    with _collector_paused(synthesizing):  # what is imported now lives to the end (see the module's docstring)
        if synthesizing:
            from platform_sdk.cdk import kernel

            kernel.prestart()  # Node starts loading now, jsii adopts it (platform_sdk.cdk.kernel)
            import jsii  # noqa: F401 - here, before the CLI competes for the interpreter

            from platform_sdk import cdk

            cdk.preload()
        from platform_sdk import cli

        command = cli.app_for(sys.argv[1:])
    _STARTING = False
    try:
        command()
    except SystemExit as done:  # typer ends every run so, with the exit code (an error message: a string)
        if _reader_gone(done):
            if synthesizing:
                end(EXIT_READER_GONE)
            raise SystemExit(EXIT_READER_GONE) from None
        if done.code == 130 and isinstance(done.__context__, Exception) and \
                isinstance(done.__context__.__cause__, KeyboardInterrupt):
            # typer turns a KeyboardInterrupt no command handled into exit code 130, silently
            print("\nInterrupted.", file=sys.stderr)
        if synthesizing and (done.code is None or isinstance(done.code, int)):
            end(done.code or 0)
        raise


def _reader_gone(done: SystemExit) -> bool:
    """Whether the reader of stdout (or stderr) closed its pipe before the command's output ended (`platform plan |
    head -1`): then the command ends quietly with `EXIT_READER_GONE`, as git and coreutils do.

    Either the command met the closed pipe while it wrote (rich's console and click end the run so: exit code 1, a
    `BrokenPipeError` as the exit's context), or what is still buffered cannot be flushed now. What is buffered, and
    anything written later (the exit handlers), then goes to /dev/null: the interpreter's last flush would otherwise
    print "Exception ignored ... BrokenPipeError" on stderr and end with exit code 120.
    """
    gone = isinstance(done.__context__, BrokenPipeError) or streams.stderr_gone()
    for stream in (sys.__stdout__, sys.__stderr__):
        if stream is None:
            continue
        try:
            stream.flush()
        except BrokenPipeError:
            gone = True
            os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
        except (OSError, ValueError):  # not ours to judge: the interpreter reports it as usual
            continue
    return gone


def _collector_paused(synthesizing: bool) -> contextlib.AbstractContextManager[None]:
    """The garbage collector paused while a synthesizing command starts (`platform_sdk.synth.collector`)."""
    if not synthesizing:
        return contextlib.nullcontext()
    from platform_sdk.synth import collector

    return collector.paused()


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
