"""docs/runtime-reference.md is generated from the runtime API (tools/runtimedocs.py) and kept current."""

from __future__ import annotations

import platform_sdk.runtime as runtime
from tools.runtimedocs import OUTPUT, render


def test_the_committed_reference_is_current() -> None:
    assert OUTPUT.read_text() == render(), "docs/runtime-reference.md is stale: run python tools/runtimedocs.py"


def test_the_reference_documents_every_public_name_with_a_docstring() -> None:
    text = render()
    for name in runtime.__all__:
        assert f"\n### {name}\n" in text, name
    assert "_(no docstring)_" not in text, "a documented member lacks a docstring"
    for needed in ("bucket(name: str) -> GrantedBucket", ".connect() -> Connection", "GrantError",
                   "`size` is in bytes", "expires_seconds"):
        assert needed in text, needed
