"""The suite's markers: a test that runs real Terraform is end to end, so `make test-fast` leaves it out."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.terraform_fixtures import tf_binary_fixture  # noqa: F401 - registers the fixture


def test_a_test_asking_for_terraform_is_marked_end_to_end(request: pytest.FixtureRequest, tf_binary: Path) -> None:
    assert request.node.get_closest_marker("e2e") is not None


def test_a_test_without_terraform_is_not(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("e2e") is None
