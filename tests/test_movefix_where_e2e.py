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
    return {(r["kind"], r["name"], r.get("url") or r["reached"], r["cloud"]) for r in rows if r["service"] == service}


def copies(rows: list[dict[str, str]]) -> dict[tuple[str, str, str], str | None]:
    """(service.name, kind, cloud) -> what the copy is (None: the live one), for the buckets."""
    return {(f"{r['service']}.{r['name']}", r["kind"], r["cloud"]): r.get("copy") for r in rows
            if r["kind"] == "bucket"}


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
    # two copies of each bucket while the move is unfinished: the source one says it is unwired
    marked = copies(now["where"])
    assert marked[("thumbnails.originals", "bucket", "aws (local stand-in)")] == \
        "source copy (unwired, removed at the move's cleanup)", marked
    assert marked[("thumbnails.originals", "bucket", "gcp (local stand-in)")] is None, marked
    code, applied = cli.json(project, "apply", "--env", "local", "--auto-approve")
    assert code == 0, applied
    assert places(applied["where"], "thumbnails") == real
    assert copies(applied["where"]) == marked
    text = cli(project, "outputs", "--env", "local").stdout
    assert "source copy (unwired" in next(line for line in text.splitlines()
                                          if "originals" in line and "aws (local" in line)

    code, report = cli.json(project, "move", "--resume", "--env", "local", "--yes")
    assert code == 0, report
    code, now = cli.json(project, "outputs", "--env", "local")
    real = places(now["where"], "thumbnails")
    assert {(k, n) for k, n, _, c in real if c == "gcp (local stand-in)"} >= moved
    assert not any(copies(now["where"]).values()), now["where"]  # the source was removed: one copy, unmarked
    for extra in ([], ["--all"]):
        code, applied = cli.json(project, "apply", "--env", "local", "--auto-approve", *extra)
        assert code == 0, applied
        assert places(applied["where"], "thumbnails") == real, extra


def test_a_kept_source_copy_is_marked_as_such(cli: Cli, applied_estate: Callable[[], Path]) -> None:
    project = applied_estate()
    code, report = cli.json(project, "move", "thumbnails", "--to", "gcp", "--env", "local", "--yes", "--keep-source")
    assert code == 0 and report["source_kept"], report
    code, now = cli.json(project, "outputs", "--env", "local")
    assert code == 0
    marked = copies(now["where"])
    assert marked[("thumbnails.originals", "bucket", "aws (local stand-in)")] == "kept source copy (unwired)"
    assert marked[("thumbnails.originals", "bucket", "gcp (local stand-in)")] is None
    code, applied = cli.json(project, "apply", "--env", "local", "--auto-approve")
    assert code == 0, applied
    assert copies(applied["where"]) == marked
