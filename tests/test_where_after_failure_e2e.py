"""`platform apply`'s "Where things live" after an apply that failed for one stack: what that stack created at its
last successful apply still lives and is listed (it was left out: the command learned no outputs of it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.terraform_fixtures import (  # noqa: F401 - the *_fixture imports register fixtures
    Cli,
    cli_fixture,
    cloud_root,
    project_fixture,
    tf_binary_fixture,
)

pytestmark = pytest.mark.e2e

THUMBNAILS = "local-thumbnails-aws"


def test_a_stack_whose_apply_failed_is_listed_as_its_last_apply_left_it(cli: Cli, project: Path) -> None:
    code, first = cli.json(project, "apply", "--env", "local", "--auto-approve")
    assert code == 0, first
    before = sorted((r["service"], r["kind"], r["name"], r.get("url"), r.get("reached")) for r in first["where"]
                    if r["stack"] == THUMBNAILS)
    assert ("thumbnails", "bucket", "originals") in {row[:3] for row in before}

    # A new bucket whose directory cannot be made (a plain file is in the way): the stack's apply fails.
    services = project / "services" / "thumbnails.py"
    services.write_text(services.read_text() + '\nfrom platform_sdk import Bucket\n\nservice.add(Bucket("extra"))\n')
    blocker = cloud_root(project) / "aws" / "buckets" / "acme-local-thumbnails-extra"
    blocker.write_text("in the way")
    code, second = cli.json(project, "apply", "--env", "local", "--auto-approve")
    assert code == 1, second
    assert {s["name"]: s["status"] for s in second["stacks"]}[THUMBNAILS] == "failed", second
    after = sorted((r["service"], r["kind"], r["name"], r.get("url"), r.get("reached")) for r in second["where"]
                   if r["stack"] == THUMBNAILS)
    assert after == before, "what the last apply created is still there, and listed"
    assert "originals" in cli(project, "apply", "--env", "local", "--auto-approve").stdout
