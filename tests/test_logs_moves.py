"""`platform logs` of a function moved more than once, and `--follow` while it moves: through the local cloud's
plug-in and its real function logs (the files `platform dev` writes), the refs of the example estate as synthesized
by real CDKTF; the move records are written as `platform move` writes them (target, sources, cut-over time).

Faults a user found: after moves aws → gcp → aws → gcp every pre-move line was printed once per move (one window per
move, each from the beginning), and `--follow` kept reading the cloud the function had left.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from platform_sdk.cli import app
from platform_sdk.commands._common import load, run_synth
from platform_sdk.errors import PlatformError
from platform_sdk.localcloud import logs
from platform_sdk.localcloud.roots import local_root
from platform_sdk.providers.base import FunctionRef
from platform_sdk.status.logs import earlier_refs, fetch, follow, load_refs, parse_since, select
from tests.terraform_fixtures import make_project

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=50)
T1, T2, T3 = T0 + timedelta(minutes=10), T0 + timedelta(minutes=20), T0 + timedelta(minutes=30)


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, FunctionRef]:
    project = make_project(tmp_path_factory.mktemp("logs-moves"))
    proj, env, services = load(project, "local")
    outdir = run_synth(proj, env, services).outdir
    [ref] = select(load_refs(outdir), "thumbnails.on-demand")
    assert ref.cloud == "aws", ref  # the example places thumbnails on aws (a local stand-in)
    return project, env, ref


def move(source: str, target: str, at: datetime, address: str = "thumbnails.on-demand") -> dict[str, Any]:
    return {"selector": "thumbnails", "target": target, "sources": {address: source}, "phase": "done",
            "cutover_at": at.isoformat().replace("+00:00", "Z")}


def test_a_function_moved_back_and_forth_shows_each_line_of_its_old_cloud_once(
        estate: tuple[Path, Any, FunctionRef]) -> None:
    project, env, ref = estate
    gcp, aws = local_root(project, env, "gcp"), local_root(project, env, "aws")
    # it began on gcp, moved to aws at T1, back to gcp at T2, to aws (where it is now) at T3
    moves = [move("gcp", "aws", T1), move("aws", "gcp", T2), move("gcp", "aws", T3)]
    for when, text in [(T0, "gcp: first stay"), (T1 + timedelta(minutes=5), "gcp: a stray line while it was on aws"),
                       (T2 + timedelta(minutes=5), "gcp: second stay"), (T3 + timedelta(minutes=5), "gcp: after")]:
        logs.write(gcp, ref.name, text, when=when)
    logs.write(aws, ref.name, "aws: now", when=T3 + timedelta(minutes=6))

    earlier = earlier_refs([ref], moves, env)
    assert [(e.ref.cloud, e.start, e.until) for e in earlier] == [("gcp", None, T1), ("gcp", T2, T3)]
    found = fetch(project, env, [ref], T0 - timedelta(minutes=1), earlier=earlier, notes=[])
    assert [(e.cloud, e.message) for e in found] == [("gcp", "gcp: first stay"), ("gcp", "gcp: second stay"),
                                                     ("aws", "aws: now")]


def test_follow_reads_the_cloud_a_function_moves_to_while_it_follows(
        tmp_path: Path, estate: tuple[Path, Any, FunctionRef]) -> None:
    project, env, ref = estate
    name = f"{ref.name}-follow"  # lines of its own, apart from the other test's
    on_aws = dataclasses.replace(ref, name=name)
    on_gcp = dataclasses.replace(on_aws, cloud="gcp")
    start = datetime.now(UTC) - timedelta(seconds=30)
    logs.write(local_root(project, env, "aws"), name, "before the move", when=start + timedelta(seconds=1))
    located: list[str] = []

    def locate() -> tuple[list[FunctionRef], list[Any]]:  # the move has cut over by the second poll
        located.append("asked")
        if len(located) == 1:
            logs.write(local_root(project, env, "gcp"), name, "after the move", when=start + timedelta(seconds=20))
        return [on_gcp], earlier_refs([on_gcp], [move("aws", "gcp", start + timedelta(seconds=10),
                                                      on_gcp.address)], env)

    polls = iter((False, False, True))
    found = list(follow(project, env, [on_aws], start, poll_s=0, stop=lambda: next(polls), locate=locate))
    assert [(e.cloud, e.message) for e in found] == [("aws", "before the move"), ("gcp", "after the move")]
    assert located == ["asked", "asked"]  # before every poll after the first


@pytest.mark.parametrize("value", ["1000000d", "99999999999999999999d"])
def test_a_since_too_far_back_is_one_clear_error(value: str) -> None:
    with pytest.raises(PlatformError) as raised:
        parse_since(value)
    assert raised.value.key == "--since" and "too far back" in raised.value.message
    assert "--since" not in raised.value.message  # the key is named once, by the error's own prefix


def test_cli_since_too_far_back_and_a_trailing_dot_exit_2(estate: tuple[Path, Any, FunctionRef]) -> None:
    project, _, _ = estate
    runner = CliRunner()
    far = runner.invoke(app, ["logs", "thumbnails", "--env", "local", "--since", "1000000d",
                              "--project", str(project)])
    assert far.exit_code == 2 and "1000000d" in far.output and "Traceback" not in far.output, far.output
    dot = runner.invoke(app, ["logs", "thumbnails.", "--env", "local", "--project", str(project)])
    assert dot.exit_code == 2 and "'thumbnails.'" in dot.output, dot.output
