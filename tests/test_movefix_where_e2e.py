""""Where things live" after a move killed past its cut-over and resumed: the listing always equals the stacks'
real current outputs (what `platform outputs` reads from Terraform), never a stack's outputs its configuration no
longer declares, with the model's names. Through real Terraform on the local cloud, the CLI killed with SIGKILL.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.terraform_fixtures import (  # noqa: F401 - fixtures
    Cli,
    applied_estate_fixture,
    cli_fixture,
    spawn,
    tf_binary_fixture,
)

pytestmark = pytest.mark.e2e


def places(rows: list[dict[str, str]], service: str) -> set[tuple[str, str, str, str]]:
    return {(r["kind"], r["name"], r["url"], r["cloud"]) for r in rows if r["service"] == service}



def test_where_things_live_follows_a_killed_then_resumed_move(cli: Cli, applied_estate: Callable[[], Path],
                                                              tf_binary: Path) -> None:
    project = applied_estate()
    code, before = cli.json(project, "outputs", "--env", "local")
    assert code == 0
    moved = {(k, n) for k, n, _, _ in places(before["where"], "thumbnails") if k in ("function", "cdn")}
    assert moved and {n for _, n in moved} >= {"on-demand"}, before["where"]

    proc = spawn(project, tf_binary, "move", "thumbnails", "--to", "gcp", "--env", "local", "--yes",
                 env={"PLATFORM_MOVE_KILL_AFTER": "verify"})  # killed right after the cut-over's apply
    proc.communicate()
    assert proc.returncode == -9

    code, now = cli.json(project, "outputs", "--env", "local")
    assert code == 0
    real = places(now["where"], "thumbnails")
    assert {(k, n, c) for k, n, _, c in real if k in ("function", "cdn")} == \
        {(k, n, "gcp (local stand-in)") for k, n in moved}
    code, applied = cli.json(project, "apply", "--env", "local", "--auto-approve")
    assert code == 0, applied
    assert places(applied["where"], "thumbnails") == real

    code, report = cli.json(project, "move", "--resume", "--env", "local", "--yes")
    assert code == 0, report
    code, now = cli.json(project, "outputs", "--env", "local")
    real = places(now["where"], "thumbnails")
    assert {(k, n) for k, n, _, c in real if c == "gcp (local stand-in)"} >= moved
    for extra in ([], ["--all"]):
        code, applied = cli.json(project, "apply", "--env", "local", "--auto-approve", *extra)
        assert code == 0, applied
        assert places(applied["where"], "thumbnails") == real, extra
