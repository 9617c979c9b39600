"""The `platform` console script starts the CDK engine early only for commands that synthesize."""

from __future__ import annotations

import gc
import sys

import pytest
import typer

from platform_sdk import cdk, cli, console


def _run(monkeypatch: pytest.MonkeyPatch, *argv: str) -> list[str]:
    started: list[str] = []
    monkeypatch.setattr(cdk, "preload", lambda: started.append("engine"))
    monkeypatch.setattr(cli, "app", lambda: started.append("cli"))
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
    assert _run(monkeypatch, command, "--env", "local") == ["engine", "cli", "fewer collections"]


@pytest.mark.parametrize("argv", [(), ("status", "--env", "local"), ("logs", "auth.api"), ("unlock",),
                                  ("synth", "--help"), ("--help",)])
def test_other_commands_and_help_never_start_it(monkeypatch: pytest.MonkeyPatch, argv: tuple[str, ...]) -> None:
    assert _run(monkeypatch, *argv) == ["cli"]


def test_every_synthesizing_name_is_a_command_of_the_cli() -> None:
    names = {typer.main.get_command_name(c.name or c.callback.__name__)  # type: ignore[union-attr]
             for c in cli.app.registered_commands}
    assert names >= console.SYNTHESIZING, console.SYNTHESIZING - names
