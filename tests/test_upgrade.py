"""Upgrading the SDK changes nothing that is deployed: an estate applied on the local cloud by an earlier version of
the SDK plans only what this version adds on purpose (issue 13.5: a role record per function granted a database;
the SQLite database stays SQLite with its data), and "no changes" after that.

The earlier version is a commit of this repository (`BEFORE`), unpacked with `git archive` and put first on
PYTHONPATH, so its CLI, compilers and local-cloud provider do the first apply through real Terraform; this checkout's
CLI then plans the same estate (the earlier version's example estate) against the state it left.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.terraform_fixtures import tf_binary_fixture  # noqa: F401 - registers the tf_binary fixture

REPO = Path(__file__).resolve().parent.parent

BEFORE = "d627c1af044c7d2b4f985a229bab9fa58a7d54c7"
"""The last commit before the package was reorganised into cloud plug-ins (issue 10)."""

pytestmark = pytest.mark.e2e


def _unpack(commit: str, dest: Path) -> Path:
    """The repository at `commit`, as files (no .git), via `git archive`."""
    probe = subprocess.run(["git", "-C", str(REPO), "cat-file", "-e", f"{commit}^{{commit}}"], capture_output=True)
    if probe.returncode != 0:
        message = f"commit {commit} is not in this clone (a shallow checkout?); the upgrade test needs history"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", commit], capture_output=True,
                             check=True).stdout
    dest.mkdir(parents=True)
    tar_path = dest.parent / f"{commit}.tar"
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as tar:
        tar.extractall(dest, filter="data")
    return dest


def _platform(args: list[str], cwd: Path, pythonpath: Path | None, tf_binary: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PLATFORM_PROJECT")}
    env["PLATFORM_TERRAFORM"] = str(tf_binary)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    main = "import sys; sys.argv[0] = 'platform'; from platform_sdk.cli import app; app()"
    return subprocess.run([sys.executable, "-c", main, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=900)


def test_an_estate_applied_by_the_earlier_version_plans_no_changes(tmp_path: Path, tf_binary: Path) -> None:
    old = _unpack(BEFORE, tmp_path / "old-sdk")
    estate = tmp_path / "estate"
    estate.mkdir()
    for part in ("services", "envs"):
        shutil.copytree(old / part, estate / part)
    # Environment files now name their prefix (issue 17: no hidden default); the earlier version read the same key,
    # so the estate keeps the prefix it had by default and both versions deploy the same names.
    for env_file in (estate / "envs").glob("*.toml"):
        env_file.write_text('name_prefix = "acme"\n' + env_file.read_text())

    applied = _platform(["apply", "--env", "local", "--auto-approve"], estate, old, tf_binary)
    assert applied.returncode == 0, applied.stdout[-3000:] + applied.stderr[-3000:]
    used = subprocess.run([sys.executable, "-c", "import platform_sdk; print(platform_sdk.__file__)"], cwd=estate,
                          env={**os.environ, "PYTHONPATH": str(old)}, capture_output=True, text=True).stdout
    assert used.startswith(str(old)), f"the earlier SDK was not the one imported: {used}"

    # Data the earlier version's SQLite stand-in holds (every local database was SQLite then).
    sqlite_file = estate / ".platform" / "localcloud" / "local" / "aws" / "databases" / "acme-local-auth-users.sqlite3"
    with contextlib.closing(sqlite3.connect(sqlite_file)) as conn:
        conn.execute("CREATE TABLE users (email TEXT PRIMARY KEY, salt TEXT NOT NULL, hash TEXT NOT NULL)")
        conn.execute("INSERT INTO users VALUES ('ada@example.com', 's', 'h')")
        conn.commit()

    planned = _platform(["plan", "--env", "local", "--json", "--detailed-exitcode"], estate, None, tf_binary)
    report = json.loads(planned.stdout) if planned.stdout.strip().startswith("{") else {}
    changed = [(s["name"], s.get("status"), s.get("changes"), s.get("drift")) for s in report.get("stacks", [])
               if s.get("status") != "no-changes" or s.get("drift")]
    # The one change, on purpose (issue 13.5): each function granted the database gets its own role record. The
    # database itself is kept, on SQLite with its data (local databases now run their engine, but an existing
    # SQLite stand-in is never replaced under anyone's data), so on SQLite the roles are records only and the
    # functions keep their URL: nothing is updated, replaced or destroyed, and the plan says why.
    roles = ["localcloud_database_role.api_users_role", "localcloud_database_role.cleanup_users_role"]
    assert planned.returncode == 2, f"plan after the upgrade: exit {planned.returncode}\n{planned.stderr[-3000:]}"
    assert changed == [("local-auth-aws", "changes", {"create": roles, "update": [], "replace": [], "destroy": []},
                        [])], changed
    auth = next(s for s in report["stacks"] if s["name"] == "local-auth-aws")
    assert any("Database acme-local-auth-users is a SQLite stand-in, not PostgreSQL: It was created on SQLite (by "
               "an earlier version" in warning for warning in auth["warnings"]), auth["warnings"]

    applied = _platform(["apply", "--env", "local", "--auto-approve"], estate, None, tf_binary)
    assert applied.returncode == 0, applied.stdout[-3000:] + applied.stderr[-3000:]
    replanned = _platform(["plan", "--env", "local", "--detailed-exitcode"], estate, None, tf_binary)
    assert replanned.returncode == 0, replanned.stdout[-3000:] + replanned.stderr[-3000:]
    with contextlib.closing(sqlite3.connect(sqlite_file)) as conn:
        assert conn.execute("SELECT email FROM users").fetchall() == [("ada@example.com",)]
