"""`platform unlock --env E STACK ...` on stacks whose state is in the local backend, through the real CLI and the
real Terraform: a stack named twice is checked once; a service's name instead of a stack's gets the service's stacks
as the hint.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.terraform_fixtures import Cli, cli_fixture, make_project, tf_binary_fixture  # noqa: F401 - fixtures

STACK = "local-auth-aws"


@pytest.fixture
def auth(tmp_path: Path) -> Path:
    return make_project(tmp_path / "estate", services=["auth", "web"])


def test_a_stack_named_twice_is_checked_once(cli: Cli, auth: Path) -> None:
    result = cli(auth, "unlock", "--env", "local", STACK, STACK, "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    (outcome,) = json.loads(result.stdout)["locks"]
    assert outcome["what"] == f"stack {STACK}" and outcome["status"] == "not locked", outcome


def test_a_service_name_is_answered_with_its_stacks(cli: Cli, auth: Path) -> None:
    result = cli(auth, "unlock", "--env", "local", "auth")
    assert result.exit_code == 2, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert message.count("error:") == 1 and "no stack named auth in environment local" in message, message
    assert f"did you mean {STACK}?" in message, message
    other = cli(auth, "unlock", "--env", "local", "nosuch")
    assert other.exit_code == 2 and "did you mean" not in other.stderr, other.stderr
