"""What the process knows about its standard streams: whether the reader of stderr closed it early.

`platform plan 2>&1 | head -1`: the reader goes after one line. The console on stderr (platform_sdk.commands._common)
calls `stderr_reader_gone` when a write there finds the pipe closed; the command goes on with its work and the
`platform` script's entry (platform_sdk.console) ends it with exit code 141 once it is done. Imports nothing of ours:
both the commands and the entry point read it.
"""

from __future__ import annotations

import contextlib
import os
import sys

_stderr_gone = False


def stderr_reader_gone() -> None:
    """The reader of stderr closed it early: what is still written there goes to /dev/null (a stack's progress line
    failing to print no longer fails the stack), and `stderr_gone()` says so from now on."""
    global _stderr_gone
    _stderr_gone = True
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.__stderr__.fileno() if sys.__stderr__ is not None else 2)


def stderr_gone() -> bool:
    """Whether `stderr_reader_gone` was called in this process."""
    return _stderr_gone
