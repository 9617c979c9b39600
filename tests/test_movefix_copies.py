"""Two copies of one bucket during or after a move are never listed alike: the copy a move keeps besides the live
one says what it is (from the move record), in "Where things live" and `platform outputs`."""

from __future__ import annotations

from typing import Any

import pytest

from platform_sdk.move.record import copy_roles
from platform_sdk.terraform.report import StackResult
from platform_sdk.terraform.runner import where_things_live


def move(phase: str, **extra: Any) -> dict[str, Any]:
    return {"id": "m1", "phase": phase, "target": "gcp", "sources": {"web.assets": "aws"},
            "stateful": ["web.assets"], **extra}


def rows(moves: list[dict[str, Any]]) -> dict[str, str | None]:
    results = []
    for cloud in ("aws", "gcp"):
        result = StackResult(name=f"prod-web-{cloud}", service="web", cloud=cloud, target=cloud)
        result.outputs = {"bucket_assets_url": f"https://{cloud}.example/assets"}
        results.append(result)
    metadata = {"stacks": {r.name: {"service": "web", "resources": ["web.assets"]} for r in results}}
    return {row["cloud"]: row.get("copy") for row in where_things_live(results, metadata, copy_roles(moves))}


@pytest.mark.parametrize(("phase", "extra", "marked"), [
    ("target", {}, {"gcp": "target twin (copy in progress)"}),
    ("copy", {}, {"gcp": "target twin (copy in progress)"}),
    ("verify", {}, {"aws": "source copy (unwired, removed at the move's cleanup)"}),
    ("done", {"source_kept": True}, {"aws": "kept source copy (unwired)"}),
    ("aborted", {"target_kept": True}, {"gcp": "kept target twin (unwired)"}),
    ("done", {"source_kept": False}, {}),
    ("aborted", {"target_kept": False}, {}),
])
def test_the_copy_a_move_keeps_besides_the_live_one_says_what_it_is(phase: str, extra: dict[str, Any],
                                                                    marked: dict[str, str]) -> None:
    assert rows([move(phase, **extra)]) == {"aws": marked.get("aws"), "gcp": marked.get("gcp")}


def test_without_moves_nothing_is_marked() -> None:
    assert rows([]) == {"aws": None, "gcp": None}
