"""Fake the client-version boundary: a wrapper on PATH that reports another `--version` and otherwise runs the
real program, logging each command line it was given (to prove passwords never appear there)."""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

import pytest

from tests.mariadb import skip_or_fail


def wrap_client(bin_dir: Path, name: str, version_line: str | None = None) -> Path:
    """Write `bin_dir/name`: prints `version_line` for `--version` (when given), else execs the real `name`.

    Every invocation appends its arguments, one command per line, to `bin_dir/name.log`. Put `bin_dir` first on
    PATH (see `client_path`). Returns the log file.
    """
    real = shutil.which(name)
    if real is None:
        skip_or_fail(f"{name} not installed")
    assert real is not None
    bin_dir.mkdir(parents=True, exist_ok=True)
    log = bin_dir / f"{name}.log"
    version = f'if [ "$1" = "--version" ]; then echo {shlex.quote(version_line)}; exit 0; fi\n' if version_line else ""
    script = bin_dir / name
    script.write_text("#!/bin/sh\n"
                      f'printf "%s " "$@" >> {shlex.quote(str(log))}; echo >> {shlex.quote(str(log))}\n'
                      f"{version}exec {shlex.quote(real)} \"$@\"\n")
    script.chmod(0o755)
    return log


def client_path(monkeypatch: pytest.MonkeyPatch, bin_dir: Path) -> None:
    """Put `bin_dir` first on PATH for this test."""
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
