"""docs/environment-reference.md is generated from the validating models (tools/envdocs.py) and kept current."""

from __future__ import annotations

from tools.envdocs import OUTPUT, render


def test_the_committed_reference_is_current() -> None:
    assert OUTPUT.read_text() == render(), "docs/environment-reference.md is stale: run python tools/envdocs.py"


def test_the_reference_names_every_key_of_every_model() -> None:
    from platform_sdk import providers
    from platform_sdk.envs import Environment, Waiver
    from platform_sdk.model import KINDS

    text = render()
    keys = [*Environment.model_fields, *Waiver.model_fields,
            *(k for p in providers.plugins().values() for k in p.config.model_fields),
            *(k for p in providers.plugins().values() for m in p.state_backends.values() for k in m.model_fields),
            *(s.key for p in providers.plugins().values() for group in (p.size_settings, p.resource_settings)
              for settings in group.values() for s in settings),
            *(k for kind in KINDS for k in kind.overridable)]
    for key in set(keys) - {"name", "file"}:
        assert f"| `{key}` |" in text, key
