"""Behaviour unchanged: every example environment synthesizes to exactly the golden files in tests/golden/.

A change meant to alter the output re-blesses them with `python tools/golden.py`; the diff of tests/golden/
then shows what changed, stack by stack. See tools/golden.py for what is normalized and why.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

import pytest

from tools.golden import ENVS, GOLDEN_DIR, dump, snapshots

pytestmark = pytest.mark.xdist_group("golden")  # module-scoped fixtures: keep the module on one worker


@pytest.fixture(scope="module")
def synthesized() -> dict[str, dict[str, Any]]:
    return snapshots()


@pytest.mark.parametrize("env_name", ENVS)
def test_environment_matches_its_golden_files(synthesized: dict[str, dict[str, Any]], env_name: str) -> None:
    expected_dir = GOLDEN_DIR / env_name
    expected = {p.relative_to(expected_dir).as_posix() for p in expected_dir.rglob("*.json")}
    actual = synthesized[env_name]
    assert set(actual) == expected, f"only now: {set(actual) - expected}; only golden: {expected - set(actual)}"
    for rel, content in sorted(actual.items()):
        golden = (expected_dir / rel).read_text()
        now = dump(content)
        if now != golden:
            diff = "".join(difflib.unified_diff(golden.splitlines(True), now.splitlines(True), f"golden/{rel}",
                                                f"now/{rel}", n=2))
            pytest.fail(f"{env_name}: {rel} differs from its golden file (bless with tools/golden.py if meant):\n"
                        + diff[:6000])


def test_golden_files_are_normalized() -> None:
    """No engine version and no raw package hash may leak into the golden files (they would pin the engine)."""
    for path in GOLDEN_DIR.rglob("cdk.tf.json"):
        doc = json.loads(path.read_text())
        assert "version" not in doc.get("//", {}).get("metadata", {}), path
    text = "".join(p.read_text() for p in GOLDEN_DIR.rglob("cdk.tf.json"))
    assert "<package:" in text, "package hashes are expected to be replaced by placeholders"

