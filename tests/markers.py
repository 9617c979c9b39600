"""Marking tests by what they start, so `make test-fast` can leave out what is not a unit or synthesis test.

`e2e` (tests/conftest.py): the test runs real Terraform. `servers`: the test needs a real server or emulator process
(PostgreSQL, MariaDB, the local cloud's database engines, moto in server mode, the GCS emulator), because one of its
fixtures, directly or through others, starts one. Such a fixture says so with `@starts_server` under its
`@pytest.fixture`; tests/test_markers.py checks that every fixture starting a server is decorated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pytest

SERVERS = "servers"
"""The marker's name (pyproject.toml `[tool.pytest.ini_options] markers`)."""

F = TypeVar("F", bound=Callable[..., object])


def starts_server(fixture: F) -> F:
    """Mark a fixture function as starting a real server or emulator: every test using it gets the `servers` marker."""
    fixture.__starts_server__ = True  # type: ignore[attr-defined]
    return fixture


def uses_a_server(item: pytest.Item) -> bool:
    """Whether any fixture in the test's closure (its fixtures and theirs) is marked `@starts_server`."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(getattr(definition.func, "__starts_server__", False)
               for definitions in info.name2fixturedefs.values() for definition in definitions)


def unmarked_servers(item: pytest.Item) -> list[str]:
    """Fixtures marked `@starts_server` the test used, also through `request.getfixturevalue`, while the test itself
    is not marked `servers` (empty when it is): such a test would run in `make test-fast` although it needs one."""
    if item.get_closest_marker(SERVERS) is not None:
        return []
    request = getattr(item, "_request", None)
    used = getattr(request, "_fixture_defs", {}) if request is not None else {}
    return sorted(name for name, definition in used.items() if getattr(definition.func, "__starts_server__", False))


SERVER_BACKENDS = frozenset({"s3", "gcs"})
"""Bucket kinds the tests serve from a server process (moto in server mode, the GCS emulator); "local" needs none."""


def backends(*kinds: str | tuple[str, ...]) -> list[object]:
    """Parameters for a test or fixture parametrized by bucket kind (or a tuple of kinds): those with an S3 or GCS
    kind are marked `servers`, so their `request.getfixturevalue("moto_server")` is known before the test runs."""
    parameters: list[object] = []
    for kind in kinds:
        values = (kind,) if isinstance(kind, str) else kind
        parameters.append(pytest.param(*values, marks=pytest.mark.servers) if SERVER_BACKENDS & set(values) else kind)
    return parameters
