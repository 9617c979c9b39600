"""After a `platform move` killed with SIGKILL, `platform unlock --env local` proves its run gone, clears the move's
running mark and says how to resume; the resume it names then finishes the move with every object at its new home.

Through real parts: the example estate applied on the local cloud, real Terraform, the `platform` CLI as a separate
process killed by the move's own test switch (SIGKILL right after phase `copy` is recorded).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from platform_sdk.envs import load_environment
from platform_sdk.move.record import MoveRecords, unfinished
from platform_sdk.project import Project
from platform_sdk.providers.local.runtime.buckets import LocalBucket
from platform_sdk.state_documents import hostname
from tests.terraform_fixtures import (  # noqa: F401 - fixtures
    Cli,
    applied_estate_fixture,
    cli_fixture,
    spawn,
    tf_binary_fixture,
)

pytestmark = pytest.mark.e2e

ORIGINALS = "acme-local-thumbnails-originals"


def test_unlock_after_a_killed_move_then_resume_finishes_it(cli: Cli, applied_estate: Callable[[], Path],
                                                           tf_binary: Path) -> None:
    project = applied_estate()
    root = project / ".platform" / "localcloud" / "local"
    aws, gcp = root / "aws" / "buckets" / ORIGINALS, root / "gcp" / "buckets" / ORIGINALS
    objects = {f"img-{i:02d}.jpg": os.urandom(300 + i) for i in range(12)}
    for key, data in objects.items():
        LocalBucket(aws).put(key, data)

    proc = spawn(project, tf_binary, "move", "thumbnails", "--to", "gcp", "--env", "local", "--yes",
                 env={"PLATFORM_MOVE_KILL_AFTER": "copy"})
    out, err = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, out + err
    records = MoveRecords(Project(project), load_environment(project / "envs" / "local.toml"))
    move = unfinished(records.load())
    assert move is not None and move["phase"] == "copy"
    assert move["running"]["pid"] == proc.pid and move["running"]["host"] == hostname()

    result = cli(project, "unlock", "--env", "local")
    assert result.exit_code == 0, result.stdout + result.stderr
    text = " ".join(result.stdout.split())
    assert "not locked" in text  # the record's flock went with the killed process
    assert f"released the move of thumbnails: `platform move` (pid {proc.pid} on {hostname()}" in text, text
    assert "is gone; resume it with `platform move --resume --env local`" in text, text
    move = unfinished(records.load())
    assert move is not None and move["running"] is None and move["phase"] == "copy", "only the mark is cleared"

    code, again = cli.json(project, "unlock", "--env", "local")
    assert code == 0 and [lock["status"] for lock in again["locks"]] == ["not locked"], again

    resumed = cli(project, "move", "--resume", "--env", "local", "--yes", "--json")
    assert resumed.exit_code == 0, resumed.stdout + resumed.stderr
    assert "taking over" not in resumed.stderr, "unlock had already released the killed run"
    assert '"finished": true' in resumed.stdout and '"source_removed": true' in resumed.stdout
    assert {info.key: LocalBucket(gcp).get(info.key) for info in LocalBucket(gcp).list()} == objects
    assert not aws.exists()
    (done,) = records.load()
    assert done["phase"] == "done" and done["running"] is None
