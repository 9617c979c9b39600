"""Faults a new user's tryout found in the `platform` CLI, each fixed as a class (every sibling command alike) and
checked through the real CLI on a copy of the example estate (or a directory holding no project).

- A command that takes one kind of resource (`logs`: functions; `secret set/rotate`: secrets) answered a resource of
  another kind as unknown: it now says what the resource is and what the command covers (exit 2, nothing written).
- `platform logs --since` a time after now was accepted and printed nothing: it is refused (exit 2, nothing written).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from platform_sdk.cli import app

runner = CliRunner()


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def files(root: Path) -> set[str]:
    """Every file and folder under `root` (what a command may have written there)."""
    return {str(path.relative_to(root)) for path in root.rglob("*")}


@pytest.mark.parametrize(("argv", "message"), [
    (["logs", "auth.users"], "auth.users is a database; platform logs reads functions' logs (functions of auth: "
                             "auth.api, auth.cleanup)"),
    (["logs", "auth.jwt-key"], "auth.jwt-key is a secret; platform logs reads functions' logs (functions of auth: "
                               "auth.api, auth.cleanup)"),
    (["logs", "files"], "service files declares no function; platform logs reads functions' logs (its resources: "
                        "files.uploads (bucket))"),
    (["secret", "set", "auth.users"], "auth.users is a database; platform secret set stores a secret's value "
                                      "(secrets of auth: auth.jwt-key)"),
    (["secret", "rotate", "auth.api"], "auth.api is a function; platform secret rotate replaces a generated secret's "
                                       "value (secrets of auth: auth.jwt-key)"),
])
def test_a_resource_of_another_kind_is_named_for_what_it_is(estate: Path, argv: list[str], message: str) -> None:
    (estate / "services" / "files.py").write_text('from platform_sdk import Bucket, Service\n\n'
                                                  'service = Service("files")\nservice.add(Bucket("uploads"))\n')
    before = files(estate)
    result = runner.invoke(app, [*argv, "--env", "local", "--project", str(estate)], input="s3cret\n")
    assert result.exit_code == 2, result.output
    error = flat(result.stderr)
    assert error.count("error:") == 1 and message in error, error
    assert files(estate) == before, "nothing may be written on bad input"


@pytest.mark.parametrize(("ahead", "spelling"), [(timedelta(minutes=5), "%Y-%m-%dT%H:%M:%SZ"),
                                                 (timedelta(days=400), "%Y-%m-%dT%H:%M:%S+00:00"),
                                                 (timedelta(minutes=5), "%Y-%m-%d %H:%M:%S")])  # UTC alike
def test_logs_since_a_time_in_the_future_is_refused(estate: Path, ahead: timedelta, spelling: str) -> None:
    since = (datetime.now(UTC) + ahead).strftime(spelling)
    before = files(estate)
    result = runner.invoke(app, ["logs", "auth", "--since", since, "--env", "local", "--project", str(estate)])
    assert result.exit_code == 2, result.output
    error = flat(result.stderr)
    assert error.count("error:") == 1 and "--since: is in the future" in error and repr(since) in error, error
    assert result.stdout == ""
    assert files(estate) == before, "nothing may be written on bad input"
