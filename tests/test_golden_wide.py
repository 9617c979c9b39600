"""Behaviour unchanged on a wider estate: every environment of tools/wide_estate.py synthesizes to exactly the
golden files in tests/golden-wide/.

The example estate (tests/test_golden.py) has no reference between stacks; this one has them on every cloud and
every state backend (outputs + `terraform_remote_state`, stack dependencies), plus functions of Terraform, provider
aliases, lifecycles, a module backing read from another stack and federation. Re-bless with `python tools/golden.py`.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

import pytest

from tools.golden import WIDE_GOLDEN_DIR, dump, wide_snapshots
from tools.wide_estate import ENVS


@pytest.fixture(scope="module")
def wide() -> dict[str, dict[str, Any]]:
    return wide_snapshots()


@pytest.mark.parametrize("env_name", list(ENVS))
def test_wide_environment_matches_its_golden_files(wide: dict[str, dict[str, Any]], env_name: str) -> None:
    expected_dir = WIDE_GOLDEN_DIR / env_name
    expected = {p.relative_to(expected_dir).as_posix() for p in expected_dir.rglob("*.json")}
    actual = wide[env_name]
    assert set(actual) == expected, f"only now: {set(actual) - expected}; only golden: {expected - set(actual)}"
    for rel, content in sorted(actual.items()):
        golden = (expected_dir / rel).read_text()
        now = dump(content)
        if now != golden:
            diff = "".join(difflib.unified_diff(golden.splitlines(True), now.splitlines(True), f"golden/{rel}",
                                                f"now/{rel}", n=2))
            pytest.fail(f"{env_name}: {rel} differs from its golden file (bless with tools/golden.py if meant):\n"
                        + diff[:6000])


def test_wide_golden_files_exercise_what_they_are_for() -> None:
    """A guard against a silently narrower estate: the references and constructs the wide estate exists for."""
    text = "".join(p.read_text() for p in WIDE_GOLDEN_DIR.rglob("cdk.tf.json"))
    for needle in ("terraform_remote_state", "cross-stack-output-", "${element(split(", "\"module\"",
                   "aws.us_east_1", "create_before_destroy", "formatdate", "cross-stack-output-module"):
        assert needle in text, needle
    backends = {json.loads(p.read_text())["//"]["metadata"]["backend"] for p in WIDE_GOLDEN_DIR.rglob("cdk.tf.json")}
    assert backends == {"local", "s3", "gcs"}
    manifests = [json.loads(p.read_text()) for p in WIDE_GOLDEN_DIR.glob("*/manifest.json")]
    assert sum(len(stack["dependencies"]) for m in manifests for stack in m["stacks"].values()) >= 8


def test_wide_golden_files_are_normalized() -> None:
    """No engine version and no raw package hash may leak into the golden files (they would pin the engine)."""
    for path in WIDE_GOLDEN_DIR.rglob("cdk.tf.json"):
        assert "version" not in json.loads(path.read_text()).get("//", {}).get("metadata", {}), path
    assert "<package:" in "".join(p.read_text() for p in WIDE_GOLDEN_DIR.rglob("cdk.tf.json"))


def test_the_wide_estate_is_generated_not_copied(tmp_path: Path) -> None:
    from tools import wide_estate

    root = wide_estate.write_project(tmp_path / "estate")
    assert sorted(p.stem for p in (root / "envs").glob("*.toml")) == sorted(ENVS)
