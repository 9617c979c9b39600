"""The `platform` console script starts the CDK engine early only for commands that synthesize, and imports only the
module of the command it runs (platform_sdk.cli.app_for) with the same help and errors as the whole command."""

from __future__ import annotations

import gc
import importlib
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from platform_sdk import cdk, cli, console
from platform_sdk.cdk import kernel
from tests.conftest import REPO
from tools.golden import estate_copy


def _run(monkeypatch: pytest.MonkeyPatch, *argv: str) -> list[str]:
    started: list[str] = []
    monkeypatch.setattr(kernel, "prestart", lambda: started.append("node"))
    monkeypatch.setattr(cdk, "preload", lambda: started.append("engine"))
    monkeypatch.setattr(cli, "app_for", lambda argv: lambda: started.append("cli"))
    monkeypatch.setattr(sys, "argv", ["platform", *argv])
    threshold = gc.get_threshold()
    try:
        console.main()
        if gc.get_threshold()[0] == console.GC_THRESHOLD:
            started.append("fewer collections")
    finally:
        gc.set_threshold(*threshold)
    return started


@pytest.mark.parametrize("command", sorted(console.SYNTHESIZING))
def test_synthesizing_commands_start_the_engine_before_the_cli(monkeypatch: pytest.MonkeyPatch,
                                                              command: str) -> None:
    assert _run(monkeypatch, command, "--env", "local") == ["node", "engine", "cli", "fewer collections"]


@pytest.mark.parametrize(("argv", "collecting"), [
    (("synth", "--env", "local"), {"node": False, "engine": False, "cli": False, "command": True}),
    (("status", "--env", "local"), {"cli": True, "command": True}),
])
def test_synthesizing_commands_start_with_the_collector_paused(monkeypatch: pytest.MonkeyPatch, argv: tuple[str, ...],
                                                              collecting: dict[str, bool]) -> None:
    seen: dict[str, bool] = {}

    def app_for(argv: list[str]) -> object:
        seen["cli"] = gc.isenabled()
        return lambda: seen.setdefault("command", gc.isenabled())

    monkeypatch.setattr(kernel, "prestart", lambda: seen.setdefault("node", gc.isenabled()))
    monkeypatch.setattr(cdk, "preload", lambda: seen.setdefault("engine", gc.isenabled()))
    monkeypatch.setattr(cli, "app_for", app_for)
    monkeypatch.setattr(sys, "argv", ["platform", *argv])
    threshold = gc.get_threshold()
    try:
        console.main()
    finally:
        gc.set_threshold(*threshold)
    assert seen == collecting
    assert gc.isenabled()


@pytest.mark.parametrize("argv", [(), ("status", "--env", "local"), ("logs", "auth.api"), ("unlock",),
                                  ("synth", "--help"), ("--help",)])
def test_other_commands_and_help_never_start_it(monkeypatch: pytest.MonkeyPatch, argv: tuple[str, ...]) -> None:
    assert _run(monkeypatch, *argv) == ["cli"]


def test_every_synthesizing_name_is_a_command_of_the_cli() -> None:
    names = {typer.main.get_command_name(c.name or c.callback.__name__)  # type: ignore[union-attr]
             for c in cli.app.registered_commands}
    assert names >= console.SYNTHESIZING, console.SYNTHESIZING - names


def _names(module: object) -> set[str]:
    return ({typer.main.get_command_name(c.__name__) for c in module.COMMANDS}  # type: ignore[attr-defined]
            | {name for name, _ in getattr(module, "GROUPS", ())})


def test_every_command_has_its_module_as_home() -> None:
    homes = {name: module for module in cli.MODULES
             for name in _names(importlib.import_module(f"platform_sdk.commands.{module}"))}
    assert homes == cli.HOME


@pytest.mark.parametrize("argv", [*([name, "--help"] for name in sorted(cli.HOME)), ["env", "new", "--help"],
                                  ["secret", "set", "--help"], ["synth"], ["synth", "--env"], ["plan", "--nope"],
                                  ["envs", "--project", "/nonexistent"], ["init", "--nope"]])
def test_one_command_behaves_as_in_the_whole_command(argv: list[str]) -> None:
    """Help, usage errors and user errors of `platform NAME ...` are the same with only NAME's module imported."""
    whole = CliRunner().invoke(cli.app, argv, prog_name="platform")
    alone = CliRunner().invoke(cli.app_for(argv), argv, prog_name="platform")
    assert (alone.exit_code, alone.output) == (whole.exit_code, whole.output)
    assert whole.exit_code in (0, 2), whole.output


@pytest.mark.parametrize("argv", [[], ["--help"], ["nosuchcommand"], ["--version"]])
def test_anything_else_gets_the_whole_command(argv: list[str]) -> None:
    assert cli.app_for(argv) is cli.app


def test_a_command_imports_only_its_module() -> None:
    script = ("import sys; from platform_sdk import cli; cli.app_for(['synth', '--env', 'x']); "
              "print(sorted(m for m in sys.modules if m.startswith('platform_sdk.commands.')))")
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "['platform_sdk.commands._common', 'platform_sdk.commands.estate']"


def test_end_runs_the_exit_handlers_and_joins_threads_but_skips_the_teardown(tmp_path: Path) -> None:
    script = f"""
import atexit, sys, threading, time
from pathlib import Path
from platform_sdk import console

class Noisy:
    def __del__(self):
        print("teardown ran", file=sys.stderr)

kept = Noisy()
atexit.register(lambda: Path({str(tmp_path / "atexit")!r}).write_text("ran"))
threading.Thread(target=lambda: (time.sleep(0.2), Path({str(tmp_path / "thread")!r}).write_text("done"))).start()
print("buffered output", end="")
console.end(3)
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == (3, "buffered output", "")
    assert (tmp_path / "atexit").read_text() == "ran"
    assert (tmp_path / "thread").read_text() == "done"


def test_a_synthesizing_command_ends_with_its_exit_code_and_output(tmp_path: Path) -> None:
    """The real script on a copy of the example estate: synthesized, exit 0, the summary printed; a user error still
    exits 2 with its message."""
    project = estate_copy(tmp_path / "estate")
    script = "import sys; sys.argv[0] = 'platform'; from platform_sdk.console import main; main()"

    def platform(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", script, *argv, "--project", str(project)], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)

    done = platform("synth", "--env", "local")
    assert done.returncode == 0, done.stderr
    assert "synthesized" in done.stdout and (project / "cdktf.out" / "local" / "manifest.json").is_file()
    wrong = platform("synth", "--env", "nope")
    assert wrong.returncode == 2 and "unknown environment" in wrong.stderr, wrong.stderr


def test_ctrl_c_while_the_command_starts_ends_it_with_130_and_no_traceback(tmp_path: Path) -> None:
    """Ctrl-C during the imports and the engine's load (the first ~0.5 s): exit code 130 and "Interrupted.", never a
    traceback from the import machinery, and never a hang (a KeyboardInterrupt inside an import while the engine's
    thread imported could leave Python's import locks taken: seen once in ~40 early interrupts)."""
    import signal
    import time

    project = estate_copy(tmp_path / "estate")
    script = "import sys; sys.argv[0] = 'platform'; from platform_sdk.console import main; main()"
    for delay in (0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.7):
        proc = subprocess.Popen([sys.executable, "-c", script, "plan", "--env", "local", "--project", str(project)],
                                cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)  # a hang fails here instead of blocking the suite
        if proc.returncode == -signal.SIGINT:
            continue  # the interpreter itself was still starting: killed by the signal, nothing ran
        assert proc.returncode in (130, 0, 1), (delay, proc.returncode, err)  # 0/1: the plan ended first
        assert "Traceback" not in err and "Exception ignored" not in err, (delay, err)
        if proc.returncode == 130:
            assert "Interrupted" in err, (delay, err)


def _processes_naming(text: str) -> list[int]:
    """Pids of the processes whose command line contains `text` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and text.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:  # ended meanwhile
            continue
    return found


def test_ctrl_c_from_a_terminal_reaches_the_command_not_the_engine(tmp_path: Path) -> None:
    """A terminal's Ctrl-C is a SIGINT to the whole foreground process group. The engine's Node kernel used to be in
    that group and died first, with a request unanswered: a jsii traceback and exit code 1 whenever Ctrl-C came
    during synthesis, and jsii's `jsii-kernel-*` folder (and our copy of its program files) left in the temporary
    folder. Now, at every moment: exit code 130 and "Interrupted." (or 0 if the command ended first), no
    traceback, no Node process left behind and nothing left in the temporary folder."""
    import os
    import signal
    import time

    project = estate_copy(tmp_path / "estate")
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    script = "import sys; sys.argv[0] = 'platform'; from platform_sdk.console import main; main()"
    interrupted = 0
    for delay in (0.1, 0.3, 0.5, 0.7, 0.9, 1.1):
        proc = subprocess.Popen([sys.executable, "-c", script, "synth", "--env", "local", "--project", str(project)],
                                cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "TMPDIR": str(temporary)}, start_new_session=True)
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGINT)  # as a terminal does: the whole group
        out, err = proc.communicate(timeout=120)
        if proc.returncode == -signal.SIGINT:
            continue  # the interpreter itself was still starting: killed by the signal, nothing ran
        assert proc.returncode in (130, 0), (delay, proc.returncode, err)
        assert "Traceback" not in err and "Exception ignored" not in err, (delay, err)
        if proc.returncode == 130:
            interrupted += 1
            assert err.rstrip().endswith("Interrupted."), (delay, err)
        deadline = time.monotonic() + 15  # the kernel ends once our side of its socket closes, then cleans up
        while (_processes_naming(str(temporary)) or list(temporary.iterdir())) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _processes_naming(str(temporary)) == [], delay
        assert list(temporary.iterdir()) == [], (delay, list(temporary.iterdir()))
    assert interrupted >= 3, interrupted  # most delays land while the command runs
