"""What every command shares: the common options, the consoles, user-error handling, loading and synthesizing.

Commands import this module; `platform_sdk.cli` imports the commands and registers them (never the reverse).
"""

from __future__ import annotations

import errno
import functools
import os
import shutil
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from platform_sdk.errors import PlatformError, PlatformWarning

UNWRAPPED = 1_000_000
"""The width of a console writing to a pipe or a file (columns): wide enough that no line is wrapped or cut."""


class _Console(Console):
    """rich's console, but a reader closing stderr early ends nothing by itself: rich's `on_broken_pipe` sent stdout
    to /dev/null and raised SystemExit(1) in whatever wrote the line (a stack's progress in the Terraform runner,
    which then failed the stack), so `platform plan 2>&1 | head -1` lost the plan and ended with exit code 1."""

    def on_broken_pipe(self) -> None:
        if not self.stderr:
            super().on_broken_pipe()  # stdout: quiet, SystemExit with the BrokenPipeError: exit 141 (console.main)
            return
        from platform_sdk.streams import stderr_reader_gone

        self.quiet = True
        stderr_reader_gone()


def _console(stderr: bool = False) -> Console:
    """A console on stdout (or stderr). On a terminal rich wraps lines at its width; to anything else (`| cat`,
    `> file`, a CI log) rich wrapped and cut them at 80 columns, midway through names and paths: there lines are
    never wrapped (`UNWRAPPED`), unless COLUMNS gives a width (rich's own setting). COLUMNS=0 gives none: rich
    took it for a width of 0 and printed nothing at all."""
    stream = sys.stderr if stderr else sys.stdout
    try:
        terminal = stream.isatty()
    except (AttributeError, ValueError):  # no stream (pythonw), or a closed one
        terminal = False
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return _Console(stderr=stderr)
    if not terminal:
        return _Console(stderr=stderr, width=UNWRAPPED)
    return _Console(stderr=stderr, width=shutil.get_terminal_size().columns if columns.isdigit() else None)


console = _console()
err_console = _console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])

EnvOption = Annotated[str, typer.Option("--env", "-e", help="Environment name (a file envs/NAME.toml).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
ProjectOption = Annotated[Path | None, typer.Option("--project", help="Project directory (default: nearest envs/).")]


REFUSED_BY_FILE_SYSTEM = frozenset({errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR,
                                    errno.EEXIST, errno.EISDIR})
"""OSError numbers that mean the file system refused what a command writes there (a read-only project, a full disk,
a file where the command makes a folder): the user's to fix, said in one message (`user_errors`), not a traceback."""


SHOWN_WARNINGS: list[str] = []
"""The PlatformWarnings this command printed (`file:line: message`), in order: a plan report carries them, so a
reviewer of the CI comment sees what the job's log said (`user_errors`)."""


def user_errors(func: F) -> F:
    """Turn a PlatformError into one message on stderr and its exit code (2: bad input; 1: refused because another
    command holds the environment, `WorkspaceLocked`); an OSError of `REFUSED_BY_FILE_SYSTEM` naming a path into one
    message naming it and what the file system said, exit code 1; print PlatformWarnings on stderr."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        SHOWN_WARNINGS.clear()  # this command's own (tests run many commands in one process)
        with warnings.catch_warnings():
            warnings.simplefilter("default", PlatformWarning)  # once per declaration
            show = warnings.showwarning

            def show_platform(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                              *rest: Any, **more: Any) -> None:
                if not issubclass(category, PlatformWarning):
                    show(message, category, filename, lineno, *rest, **more)
                    return
                where = f"{filename}:{lineno}: " if lineno else ""
                SHOWN_WARNINGS.append(where + str(message))
                err_console.print(f"[bold yellow]warning:[/] {escape(where + str(message))}", highlight=False,
                                  soft_wrap=True)

            warnings.showwarning = show_platform
            try:
                return func(*args, **kwargs)
            except PlatformError as err:
                _locate(err)
                err_console.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False, soft_wrap=True)
                raise typer.Exit(err.exit_code) from None
            except OSError as err:
                if err.errno not in REFUSED_BY_FILE_SYSTEM or not err.filename:
                    raise
                said = ("a file is in the way of a folder on this path" if err.errno in (errno.EEXIST, errno.ENOTDIR)
                        else err.strerror or errno.errorcode.get(err.errno or 0, "refused"))
                err_console.print(f"[bold red]error:[/] {escape(str(err.filename))}: {escape(said)}", highlight=False,
                                  soft_wrap=True)
                err_console.print("  hint: platform reads the project's files and writes its output (cdktf.out/) and "
                                  "working files (.platform/) in the project's directory, as folders",
                                  highlight=False, soft_wrap=True)
                raise typer.Exit(1) from None
    return wrapper  # type: ignore[return-value]


def _locate(err: PlatformError) -> None:
    """An error about a key of an environment file (`envs/*.toml`) raised without its line gets it: the line that
    sets the key, else of the nearest table it is in (`envs.key_line`), as the file's own checks give it."""
    if err.line is None and err.key and err.file is not None and str(err.file).endswith(".toml"):
        from platform_sdk.envs import key_line

        err.line = key_line(Path(err.file), err.key)


def project_at(path: Path | None) -> Any:
    """The project at `path` (`--project`), else the one PLATFORM_PROJECT names, else the nearest one at or above
    the working directory (`Project.find`): a directory holding an `envs/` folder.

    Raises:
        PlatformError: `path` is not a directory holding an `envs/` folder (key `--project`); PLATFORM_PROJECT names
            none (key `PLATFORM_PROJECT`); without either, neither the working directory nor any directory above
            it holds one (key `--project`, the working directory): one message, before anything is read or written.
    """
    from platform_sdk.project import Project

    if path is None:
        found = Project.find()
        if found.envs_dir.is_dir():
            return found
        named = os.environ.get("PLATFORM_PROJECT")
        if named:
            raise PlatformError(f"no project there: {found.root} has no envs/ folder", key="PLATFORM_PROJECT",
                                value=named, hint="name the directory holding services/ and envs/, or unset it")
        raise PlatformError(f"no project there: {found.root} has no envs/ folder (nor has any directory above it)",
                            key="--project", value=str(found.root),
                            hint="run it in the directory holding services/ and envs/, or give it with --project "
                                 "(platform init makes one)")
    root = path.resolve()
    if not (root / "envs").is_dir():
        what = "does not exist" if not root.exists() else "has no envs/ folder"
        raise PlatformError(f"no project there: {root} {what}", key="--project", value=str(path),
                            hint="give the directory holding services/ and envs/ (platform init makes one)")
    return Project(root)


def load(project_path: Path | None, env_name: str) -> tuple[Any, Any, list[Any]]:
    """Project, environment and services, validated: the common start of every command."""
    from platform_sdk.envs import find_environment
    from platform_sdk.loader import load_services

    project = project_at(project_path)
    env = find_environment(project.envs_dir, env_name)
    services = load_services(project.services_dir)
    return project, env, services


def refuse_other_kind(services: list[Any], target: str, kind: str, does: str, key: str) -> None:
    """Refuse a `SERVICE.NAME` that names a declared resource of another kind than the command takes (`kind`: a
    resource's `kind`, e.g. "function"), saying what it is, what the command does (`does`, e.g. "platform logs
    reads functions' logs") and the service's resources of `kind`; a name declaring nothing is left to the command.

    Raises:
        PlatformError: (key `key`) e.g. "auth.users is a database; platform logs reads functions' logs (functions
            of auth: auth.api, auth.cleanup)".
    """
    declared = {resource.address: resource for service in services for resource in service.resources}
    found = declared.get(target)
    if found is None or found.kind == kind:
        return
    service = target.partition(".")[0]
    same = sorted(address for address, resource in declared.items()
                  if resource.kind == kind and address.partition(".")[0] == service)
    raise PlatformError(f"{target} is a {found.kind}; {does} ({kind}s of {service}: {', '.join(same) or 'none'})",
                        key=key, value=target)


def run_synth(project: Any, env: Any, services: list[Any], service: str | None = None,
              before_replace: Callable[[Any], None] | None = None, outdir: Path | None = None) -> Any:
    """Synthesize `env` (an unfinished move's placement applied) into its output folder (`outdir`, default
    cdktf.out/<env>); `before_replace` checks a command's options against the result before anything is written
    (`synthesize`)."""
    from platform_sdk.move.record import effective_environment
    from platform_sdk.profile import load_profile
    from platform_sdk.synth.app import synthesize

    env = effective_environment(env, project.read_moves(env.name).get("moves", []))  # an unfinished move's placement
    profile = load_profile(project, env)
    return synthesize(project, env, services, only_service=service, profile=profile, outdir=outdir,
                      before_replace=before_replace)


def print_rehearsal(rehearsal: Any, out: Console) -> None:
    """What the rehearsed environment's clouds would refuse (a local environment with `rehearses`): reported, never
    failing the command; the local functions refuse the same operations at runtime."""
    if rehearsal is None:
        return
    lines = rehearsal.lines
    if not lines:
        out.print(f"[dim]rehearsal of {escape(rehearsal.rehearsed)}: every operation would work there (its "
                  f"guardrails are checked by `platform synth --env {escape(rehearsal.rehearsed)}`)[/]",
                  highlight=False, soft_wrap=True)
        return
    if rehearsal.error is not None:  # nothing to deny one by one: the rehearsed synthesis itself refused
        out.print(f"[bold yellow]rehearsal of {escape(rehearsal.rehearsed)}[/]: `platform apply --env "
                  f"{escape(rehearsal.rehearsed)}` would refuse this placement before deploying anything (the local "
                  "stand-ins run it anyway):", highlight=False, soft_wrap=True)
    else:
        out.print(f"[bold yellow]rehearsal of {escape(rehearsal.rehearsed)}[/]: {len(lines)} finding(s) there; the "
                  "local stand-ins refuse the same operations with the same message:", highlight=False,
                  soft_wrap=True)
    for line in lines:
        out.print(f"  - {escape(line)}", highlight=False, soft_wrap=True)
