"""Faults a new user's tryout found in the `platform` CLI, each fixed as a class (every sibling command alike) and
checked through the real CLI on a copy of the example estate (or a directory holding no project).

- A command that takes one kind of resource (`logs`: functions; `secret set/rotate`: secrets) answered a resource of
  another kind as unknown: it now says what the resource is and what the command covers (exit 2, nothing written).
- `platform logs --since` a time after now was accepted and printed nothing: it is refused (exit 2, nothing written).
- Outside any project every command but `platform envs` said "unknown environment (known: none)": each command that
  needs a project now says there is none there (the directory, and the envs/ folder looked for), exit 2.
- Piped (`platform synth | cat`), the output was wrapped and cut at 80 columns, midway through names and paths: to a
  pipe or a file no line is wrapped.
- `platform plan | head -1` ended with exit code 1, as if the command had failed (and, in the tryout, with Python's
  BrokenPipeError noise on stderr): a reader that closes early ends any command quietly, exit code 141 (as git).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from platform_sdk import cli
from platform_sdk.cli import app
from tests.conftest import copy_estate

PLATFORM_BIN = Path(sys.executable).parent / "platform"

runner = CliRunner()


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def files(root: Path) -> set[str]:
    """Every file and folder under `root` (what a command may have written there)."""
    return {str(path.relative_to(root)) for path in root.rglob("*")}


@pytest.mark.parametrize(("argv", "message"), [
    (["logs", "auth.users"], "auth.users is a database; platform logs reads functions' logs (functions of auth: "
                             "auth.api, auth.cleanup)"),
    (["logs", "auth.jwt-key"], "auth.jwt-key is a secret; platform logs reads functions' logs (functions of auth: "
                               "auth.api, auth.cleanup)"),
    (["logs", "files"], "service files declares no function; platform logs reads functions' logs (its resources: "
                        "files.uploads (bucket))"),
    (["secret", "set", "auth.users"], "auth.users is a database; platform secret set stores a secret's value "
                                      "(secrets of auth: auth.jwt-key)"),
    (["secret", "rotate", "auth.api"], "auth.api is a function; platform secret rotate replaces a generated secret's "
                                       "value (secrets of auth: auth.jwt-key)"),
])
def test_a_resource_of_another_kind_is_named_for_what_it_is(estate: Path, argv: list[str], message: str) -> None:
    (estate / "services" / "files.py").write_text('from platform_sdk import Bucket, Service\n\n'
                                                  'service = Service("files")\nservice.add(Bucket("uploads"))\n')
    before = files(estate)
    result = runner.invoke(app, [*argv, "--env", "local", "--project", str(estate)], input="s3cret\n")
    assert result.exit_code == 2, result.output
    error = flat(result.stderr)
    assert error.count("error:") == 1 and message in error, error
    assert files(estate) == before, "nothing may be written on bad input"


@pytest.mark.parametrize(("ahead", "spelling"), [(timedelta(minutes=5), "%Y-%m-%dT%H:%M:%SZ"),
                                                 (timedelta(days=400), "%Y-%m-%dT%H:%M:%S+00:00"),
                                                 (timedelta(minutes=5), "%Y-%m-%d %H:%M:%S")])  # UTC alike
def test_logs_since_a_time_in_the_future_is_refused(estate: Path, ahead: timedelta, spelling: str) -> None:
    since = (datetime.now(UTC) + ahead).strftime(spelling)
    before = files(estate)
    result = runner.invoke(app, ["logs", "auth", "--since", since, "--env", "local", "--project", str(estate)])
    assert result.exit_code == 2, result.output
    error = flat(result.stderr)
    assert error.count("error:") == 1 and "--since: is in the future" in error and repr(since) in error, error
    assert result.stdout == ""
    assert files(estate) == before, "nothing may be written on bad input"


ARGUMENTS = {"ci": ["github", "--env", "dev"], "adopt": ["auth.users", "--id", "x"], "logs": ["auth"],
             "env new": ["qa"], "secret set": ["auth.jwt-key"], "secret rotate": ["auth.jwt-key"],
             "move": ["auth", "--to", "gcp", "--yes"]}
"""The arguments a command needs besides `--env local` (each command taking --env gets it), by command."""


def _commands(command: object, path: tuple[str, ...] = ()) -> Iterator[tuple[str, set[str]]]:
    """Every command of the CLI (`env new` for a group's): its name and its options."""
    subcommands = getattr(command, "commands", None)
    if subcommands is None:
        yield " ".join(path), {option for param in command.params for option in param.opts}  # type: ignore[attr-defined]
        return
    for name, sub in subcommands.items():
        yield from _commands(sub, (*path, name))


COMMANDS = dict(_commands(typer.main.get_command(cli.app)))
NEEDING_A_PROJECT = sorted(name for name, options in COMMANDS.items() if "--project" in options)


def test_every_command_taking_an_environment_needs_a_project() -> None:
    assert {name for name, options in COMMANDS.items() if "--env" in options} <= set(NEEDING_A_PROJECT)
    assert len(NEEDING_A_PROJECT) >= 20, NEEDING_A_PROJECT


@pytest.mark.parametrize("command", NEEDING_A_PROJECT)
def test_outside_any_project_every_command_says_there_is_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               command: str) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PLATFORM_PROJECT", raising=False)
    argv = [*command.split(), *ARGUMENTS.get(command, [])]
    if "--env" in COMMANDS[command] and "--env" not in argv:
        argv += ["--env", "local"]
    result = runner.invoke(app, argv, input="s3cret\n")
    assert result.exit_code == 2, result.output
    error = flat(result.stderr)
    assert error.count("error:") == 1, error
    assert f"no project there: {tmp_path.resolve()} has no envs/ folder (nor has any directory above it)" in error
    assert "unknown environment" not in error and result.stdout == ""
    assert files(tmp_path) == set(), "nothing may be written outside a project"


def test_platform_project_naming_no_project_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATFORM_PROJECT", str(tmp_path))
    result = runner.invoke(app, ["status", "--env", "local"])
    assert result.exit_code == 2, result.output
    error = flat(result.stderr)
    assert f"PLATFORM_PROJECT: no project there: {tmp_path.resolve()} has no envs/ folder" in error, error


def test_piped_output_is_never_wrapped_or_cut(tmp_path: Path) -> None:
    """`platform synth` with stdout a pipe (stdin and stderr not a terminal either, COLUMNS unset: rich's 80 columns)
    on an estate in a deep directory: the summary line with its path, and each table row, are whole lines."""
    estate = copy_estate(tmp_path / ("a-directory-with-a-rather-long-name-" * 3).rstrip("-") / "estate")
    env = {name: value for name, value in os.environ.items() if name not in ("COLUMNS", "PLATFORM_PROJECT")}
    run = subprocess.run([str(PLATFORM_BIN), "synth", "--env", "local", "--project", str(estate)], env=env,
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    outdir = estate / "cdktf.out" / "local"
    assert len(f"synthesized 4 stacks into {outdir}") > 80
    assert f"synthesized 4 stacks into {outdir}" in lines, run.stdout
    [auth] = [line for line in lines if "local-auth-aws" in line]
    assert "│ aws (local stand-in) │ auth.users, auth.jwt-key, auth.api, auth.cleanup" in auth, run.stdout
    assert all("…" not in line for line in lines), run.stdout


def _big_project(root: Path) -> Path:
    """A project whose `platform envs --json` writes ~0.7 MB: far more than a pipe holds (64 KiB), so the command is
    still writing when the reader has read its first line and gone."""
    (root / "envs").mkdir(parents=True)
    placement = "".join(f'"service-number-{i:05d}" = "gcp"\n' for i in range(20_000))
    (root / "envs" / "big.toml").write_text('name_prefix = "acme"\ndefault_cloud = "aws"\n[placement]\n' + placement
                                            + '[clouds.aws]\nregion = "us-east-1"\n'
                                            '[clouds.gcp]\nproject = "acme-dev-123"\nregion = "us-central1"\n')
    return root


@pytest.mark.parametrize("platform", [[str(PLATFORM_BIN)], [sys.executable, "-m", "platform_sdk"]],
                         ids=["script", "python-m"])
def test_a_reader_closing_after_the_first_line_ends_the_command_quietly(tmp_path: Path, platform: list[str]) -> None:
    """`platform envs --json | head -1`, the reader being this test: it reads one line and closes the pipe; the same
    through `python -m platform_sdk` (the script's entry where no script is on PATH)."""
    project = _big_project(tmp_path / "big")
    env = {name: value for name, value in os.environ.items() if name != "PLATFORM_PROJECT"}
    with subprocess.Popen([*platform, "envs", "--json", "--project", str(project)], env=env,
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as run:
        assert run.stdout is not None and run.stderr is not None
        assert run.stdout.readline() == b"[\n"
        run.stdout.close()
        stderr = run.stderr.read().decode()
        code = run.wait(timeout=120)
    assert (code, stderr) == (141, ""), stderr


def test_a_synthesizing_command_whose_reader_has_gone_ends_quietly(tmp_path: Path) -> None:
    """`platform synth` (ended without the interpreter's teardown, `console.end`) writing to a pipe nobody reads any
    more: the reader closed it before the command wrote its first line."""
    estate = copy_estate(tmp_path / "estate")
    env = {name: value for name, value in os.environ.items() if name != "PLATFORM_PROJECT"}
    read, write = os.pipe()
    os.close(read)
    try:
        run = subprocess.run([str(PLATFORM_BIN), "synth", "--env", "local", "--project", str(estate)], env=env,
                             stdin=subprocess.DEVNULL, stdout=write, stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(write)
    assert (run.returncode, run.stderr) == (141, ""), run.stderr
    assert (estate / "cdktf.out" / "local" / "manifest.json").is_file()  # the command itself did its work


def test_a_long_note_is_shortened_at_a_word_never_inside_a_url(monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """The move record's unreadable-backend note was cut at 200/300 characters: "... see ):" with the URL lost (a
    missing Google credential's message ends with its URL). Now cut at a word, the URL whole when it fits."""
    from platform_sdk.commands import deploy
    from platform_sdk.move import record

    url = "https://cloud.google.com/docs/authentication/external/set-up-adc"
    message = ("cannot read the move record gs://acme-tfstate/platform/dev/_platform/moves.json: "
               "DefaultCredentialsError: Your default credentials were not found. To set up Application Default "
               f"Credentials, see {url} for more information.")

    def unreadable(self: object) -> list[object]:
        raise record.RecordUnavailable(message)

    monkeypatch.setattr(record.MoveRecords, "__init__", lambda self, *a: None)
    monkeypatch.setattr(record.MoveRecords, "load", unreadable)
    monkeypatch.setenv("COLUMNS", "0")
    assert deploy._moves(object(), object()) == []
    err = capsys.readouterr().err
    assert url in err and "see ):" not in err
    monkeypatch.setattr(record.MoveRecords, "load", lambda self: (_ for _ in ()).throw(
        record.RecordUnavailable("word " * 100)))
    deploy._moves(object(), object())
    err = capsys.readouterr().err
    assert err.rstrip().endswith("word …") and len(err) < 330
