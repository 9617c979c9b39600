"""Moves that are safe in production, through real Terraform, the real local cloud provider and moto (issues 15, 16).

- a move, cut over, rolled back and moved again with data written on both sides in between: every object and row
  ends where it belongs, and a rollback carries back only what changed;
- a move started in one checkout is seen, resumed and aborted from a second checkout sharing the S3 backend;
- deletion protection is handled by the move itself; a destroy that would stop halfway is refused before it
  destroys anything; an ephemeral environment is destroyed in one command;
- a state lock left by a killed run is reported with the command that releases it, `platform unlock` releases it
  only once no run is alive, and no provider process outlives its Terraform.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import boto3
import psutil
import pytest
from botocore.config import Config

from tests.terraform_fixtures import (  # noqa: F401 - fixtures
    HOLD_ENV,
    Cli,
    cli_fixture,
    hold_file_fixture,
    make_project,
    spawn,
    state_files,
    state_resources,
    tf_binary_fixture,
    wait_for_path,
)

pytestmark = pytest.mark.e2e

PROVIDER_MODULE = "platform_sdk.localcloud.plugin"


def cloud_dir(project: Path, cloud: str, env: str = "local") -> Path:
    return project / ".platform" / "localcloud" / env / cloud


def objects(bucket: Path) -> dict[str, bytes]:
    return {p.relative_to(bucket).as_posix(): p.read_bytes() for p in sorted(bucket.rglob("*"))
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(bucket).parts)}


def rows(db: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT id, v FROM items ORDER BY id").fetchall()


def wait_until(check: Any, what: str, attempts: int = 600) -> None:
    for _ in range(attempts):
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def orphaned_providers(root: Path) -> list[psutil.Process]:
    """Local cloud provider processes working under `root` (this test's projects) whose Terraform is gone."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if PROVIDER_MODULE in " ".join(proc.info["cmdline"] or []) and proc.cwd().startswith(str(root)):
                parent = proc.parent()
                if parent is None or parent.pid == 1 or "terraform" not in " ".join(parent.cmdline()):
                    found.append(proc)
        except psutil.Error:
            continue
    return found


# ---------------------------------------------------------------------------------- move, roll back, move again

STORE = '''
from platform_sdk import Bucket, Database, Function, Service, http

service = Service("store", owner="data-team")
files = service.add(Bucket("files"))
records = service.add(Database("rows"))
api = service.add(Function("api", handler="api.handle", source="functions/store", triggers=[http()]))
api.reads_writes(files)
api.uses(records)
'''


@pytest.fixture
def store(cli: Cli, tmp_path: Path) -> Path:
    project = make_project(tmp_path / "estate", services=[])
    (project / "services" / "store.py").write_text(STORE)
    (project / "services" / "functions" / "store").mkdir(parents=True)
    (project / "services" / "functions" / "store" / "api.py").write_text("def handle(request):\n    return None\n")
    env = project / "envs" / "local.toml"
    # this test drives the databases' files itself: the explicit SQLite stand-ins (PostgreSQL moves between two real
    # local servers are proven by test_move_e2e.py)
    text = env.read_text().replace('"web" = "gcp"\n', "")
    text = text.replace("[clouds.local]\n", '[clouds.local]\ndatabases = "sqlite"\n')
    assert 'databases = "sqlite"' in text
    env.write_text("protected = true\n" + text + '\n[overrides."store.rows"]\nhigh_availability = true\n')
    result = cli(project, "apply", "--env", "local", "--auto-approve")
    assert result.exit_code == 0, result.stdout + result.stderr
    return project


def test_move_cut_over_roll_back_and_move_again_with_writes_on_both_sides(cli: Cli, store: Path) -> None:
    aws_files = cloud_dir(store, "aws") / "buckets" / "acme-local-store-files"
    gcp_files = cloud_dir(store, "gcp") / "buckets" / "acme-local-store-files"
    aws_db = cloud_dir(store, "aws") / "databases" / "acme-local-store-rows.sqlite3"
    gcp_db = cloud_dir(store, "gcp") / "databases" / "acme-local-store-rows.sqlite3"
    for i in range(20):
        (aws_files / f"obj-{i}").write_bytes(os.urandom(100 + i))
    with sqlite3.connect(aws_db) as conn:
        conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT)")
        conn.executemany("INSERT INTO items VALUES (?, ?)", [(i, f"aws-{i}") for i in range(1, 51)])

    code, first = cli.json(store, "move", "store", "--to", "gcp", "--env", "local", "--yes")
    assert code == 0, first
    assert first["source_kept"] and first["finished"]
    assert objects(gcp_files) == objects(aws_files) and rows(gcp_db) == rows(aws_db)

    # Live on gcp now: the target's own writes.
    (gcp_files / "g-new").write_bytes(b"written on gcp after cut-over")
    (gcp_files / "obj-3").unlink()
    (gcp_files / "obj-4").write_bytes(b"rewritten on gcp")
    with sqlite3.connect(gcp_db) as conn:
        conn.executemany("INSERT INTO items VALUES (?, ?)", [(i, f"gcp-{i}") for i in range(51, 61)])
        conn.execute("UPDATE items SET v = 'changed on gcp' WHERE id = 1")
    expected_files, expected_rows = objects(gcp_files), rows(gcp_db)

    code, back = cli.json(store, "move", "store", "--to", "aws", "--env", "local", "--yes")
    assert code == 0, back
    rollback = [c for c in back["preflight"]["checks"] if c["step"] == "record"]
    assert rollback and "rollback onto the source copy" in rollback[0]["detail"]
    carried = next(c for c in back["copies"] if c["resource"] == "store.files" and c["phase"] == "copy")
    assert carried["copy"]["copied"] == 2 and carried["deleted"] == ["obj-3"], carried  # only what changed
    assert carried["verify"]["ok"] and carried["verify"]["extra"] == []
    assert objects(aws_files) == expected_files and rows(aws_db) == expected_rows
    assert objects(gcp_files) == expected_files, "the gcp copy is kept (protected environment)"
    assert '"store"' not in (store / "envs" / "local.toml").read_text(), "back on the default: no placement line"

    # Live on aws again: more writes, then move to gcp once more (onto the copy the rollback kept).
    (aws_files / "a-new").write_bytes(b"written on aws after the rollback")
    (aws_files / "obj-5").unlink()
    with sqlite3.connect(aws_db) as conn:
        conn.executemany("INSERT INTO items VALUES (?, ?)", [(i, f"aws-{i}") for i in range(61, 71)])
    expected_files, expected_rows = objects(aws_files), rows(aws_db)

    code, again = cli.json(store, "move", "store", "--to", "gcp", "--env", "local", "--yes")
    assert code == 0, again
    assert objects(gcp_files) == expected_files and rows(gcp_db) == expected_rows
    database = next(d for d in again["databases"] if d["phase"] == "copy")
    assert database["verified"] and database["tables"]["items"]["source_rows"] == 70
    assert database["tables"]["items"]["source_checksum"] == database["tables"]["items"]["target_checksum"]

    code, removed = cli.json(store, "move", "store", "--to", "gcp", "--env", "local", "--remove-source", "--yes")
    assert code == 0, removed
    assert removed["source_removed"] and not aws_files.exists() and not aws_db.exists()
    assert objects(gcp_files) == expected_files and rows(gcp_db) == expected_rows
    code, plan = cli.json(store, "plan", "--env", "local")
    assert code == 0 and not plan["changes_present"] and plan["unfinished_move"] is None, plan


# ------------------------------------------------------------------------------- a second checkout, S3 backend

def s3_env(endpoint: str, cloud_root: str) -> str:
    """An environment whose state is in S3 (moto) and whose clouds are local stand-ins under `cloud_root`; its
    state bucket and lock table are the test's own (the moto server is shared by the module's tests)."""
    own = hashlib.sha256(cloud_root.encode()).hexdigest()[:8]
    return f'''
name_prefix = "acme"
default_cloud = "aws"

[clouds.aws]
stand_in = "local"

[clouds.gcp]
stand_in = "local"

[clouds.local]
root = "{cloud_root}"

[state]
backend = "s3"
bucket = "acme-moves-state-{own}"
lock_table = "acme-moves-locks-{own}"
region = "us-east-1"
endpoint = "{endpoint}"
'''


def checkout(dest: Path, endpoint: str, cloud_root: str) -> Path:
    project = make_project(dest, services=["web"])
    (project / "envs" / "s3.toml").write_text(s3_env(endpoint, cloud_root))
    return project


def killed_move(project: Path, tf_binary: Path, tmp_path: Path, after: int, *args: str) -> None:
    """Run a move until its copy has settled `after` objects, then SIGKILL it."""
    hold = tmp_path / f"pause-{after}"
    hold.touch()
    proc = spawn(project, tf_binary, "move", *args, "--env", "s3", "--yes", "--workers", "1",
                 env={"PLATFORM_MOVE_PAUSE_AFTER": str(after), "PLATFORM_MOVE_PAUSE_FILE": str(hold)})
    wait_for_path(Path(f"{hold}.entered"), proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()


def test_a_move_is_seen_resumed_and_aborted_from_a_second_checkout(cli: Cli, tf_binary: Path, tmp_path: Path,
                                                                   moto_server: str) -> None:
    shared = str(tmp_path / "cloud")
    one = checkout(tmp_path / "one", moto_server, shared)
    two = checkout(tmp_path / "two", moto_server, shared)
    assert cli(one, "bootstrap", "--env", "s3").exit_code == 0
    assert cli(one, "apply", "--env", "s3", "--auto-approve").exit_code == 0
    site = Path(shared) / "s3" / "aws" / "buckets" / "acme-s3-web-site"
    for i in range(40):
        (site / f"page-{i}.html").write_bytes(os.urandom(200))
    before = objects(site)

    killed_move(one, tf_binary, tmp_path, 10, "web", "--to", "gcp")
    assert '"web" = "gcp"' in (one / "envs" / "s3.toml").read_text()

    # The second checkout never ran the move and its file says nothing about web: it sees the move first.
    result = cli(two, "plan", "--env", "s3", "--json")
    assert result.exit_code == 0, result.stderr
    assert "move of web from aws to gcp is unfinished (phase copy" in " ".join(result.stderr.split())
    plan = json.loads(result.stdout)
    assert plan["unfinished_move"]["phase"] == "copy" and plan["unfinished_move"]["abort"] == \
        "platform move --abort --env s3"
    assert plan["data_loss"] == [] and not plan["changes_present"], "the move's twins are kept, nothing destroyed"
    applied = cli(two, "apply", "--env", "s3", "--auto-approve", "--allow-data-loss")
    assert applied.exit_code == 0 and objects(site) == before

    killed_move(two, tf_binary, tmp_path, 20, "--resume")
    assert '"web" = "gcp"' in (two / "envs" / "s3.toml").read_text(), "the resume put the move's line in two"
    twin = Path(shared) / "s3" / "gcp" / "buckets" / "acme-s3-web-site"
    assert 20 <= len(objects(twin)) < 40

    code, aborted = cli.json(two, "move", "--abort", "--env", "s3", "--yes")
    assert code == 0, aborted
    assert aborted["aborted"] and not twin.exists() and objects(site) == before
    assert '"web"' not in (two / "envs" / "s3.toml").read_text()
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1",
                      config=Config(s3={"addressing_style": "path"}))
    bucket = re.search(r'bucket = "([^"]+)"', (two / "envs" / "s3.toml").read_text())
    assert bucket is not None
    record = json.loads(s3.get_object(Bucket=bucket.group(1), Key="platform/s3/_platform/moves.json")["Body"].read())
    assert [m["phase"] for m in record["moves"]] == ["aborted"] and record["moves"][0]["running"] is None
    result = cli(one, "plan", "--env", "s3")  # the first checkout still has the line the move wrote
    assert "does not place web where its last move left it" in " ".join(result.stderr.split())


# ------------------------------------------------------------- deletion protection, destroy preflight, ephemeral

def test_deletion_protection_destroy_preflight_and_ephemeral_environments(cli: Cli, tmp_path: Path) -> None:
    project = make_project(tmp_path / "estate", services=["auth"])
    env = project / "envs" / "local.toml"
    # the model's default (deletion protection on); only auth here, so no placement line for web either
    env.write_text(env.read_text().replace("deletion_protection = false", "").replace('"web" = "gcp"\n', ""))
    assert cli(project, "apply", "--env", "local", "--auto-approve").exit_code == 0
    before = state_files(project)

    refused = cli(project, "destroy", "--env", "local", "--allow-data-loss", "--auto-approve")
    text = " ".join(refused.stderr.split())
    assert refused.exit_code == 2, refused.stdout + refused.stderr
    assert "refused before destroying anything" in text and "localcloud_database.users (auth.users)" in text
    assert "ephemeral = true" in text
    assert state_files(project) == before, "fault: the destroy used to remove half the estate first"

    code, moved = cli.json(project, "move", "auth", "--to", "gcp", "--env", "local", "--yes")
    assert code == 0, moved  # fault: the move stopped at its last step on the source's deletion protection
    assert moved["source_removed"]
    assert not (cloud_dir(project, "aws") / "databases" / "acme-local-auth-users.sqlite3").exists()
    gcp_state = json.loads(state_files(project)["local-auth-gcp.tfstate"])
    users = next(r for r in gcp_state["resources"] if r["type"] == "localcloud_database")
    assert users["instances"][0]["attributes"]["deletion_protection"] is True, "only the removed copy lost it"

    env.write_text("ephemeral = true\n" + env.read_text())
    assert cli(project, "apply", "--env", "local", "--auto-approve").exit_code == 0
    result = cli(project, "destroy", "--env", "local", "--allow-data-loss", "--auto-approve")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert all(not found for found in state_resources(project).values()), state_resources(project)


# ----------------------------------------------------------------------------- stale locks, orphaned providers

def test_a_killed_runs_lock_is_named_and_released_only_when_no_run_is_alive(cli: Cli, tf_binary: Path,
                                                                            tmp_path: Path, moto_server: str,
                                                                            hold_file: Path) -> None:
    project = checkout(tmp_path / "one", moto_server, str(tmp_path / "cloud"))
    assert cli(project, "bootstrap", "--env", "s3").exit_code == 0
    hold_file.write_text("")
    # Terraform starts the local cloud's provider itself here (no reattach): a provider `platform` started stops
    # within half a second of `platform`'s death (its parent watchdog), and its Terraform with it, so whether the
    # unlock below still saw Terraform running was a race. A Terraform whose provider is its own child lives on.
    proc = spawn(project, tf_binary, "apply", "--env", "s3", "--auto-approve",
                 env={HOLD_ENV: str(hold_file), "PLATFORM_PROVIDER_REATTACH": "0"})
    wait_for_path(Path(f"{hold_file}.entered"), proc)
    terraform = [p for p in psutil.Process(proc.pid).children(recursive=True) if p.name() == "terraform"]
    assert terraform
    proc.send_signal(signal.SIGKILL)  # the platform process dies; its Terraform still applies (held)
    proc.communicate()

    refused = cli(project, "unlock", "--env", "s3", "s3-web-aws")
    assert refused.exit_code == 1 and "Terraform is still running in it" in " ".join(refused.stdout.split())

    for tf in terraform:  # a lost CI runner: Terraform dies too, without releasing its DynamoDB lock
        tf.send_signal(signal.SIGKILL)
    hold_file.unlink()
    wait_until(lambda: not orphaned_providers(tmp_path), "provider processes to stop once their Terraform is gone")

    code, plan = cli.json(project, "plan", "--env", "s3")
    assert code == 1
    web = next(s for s in plan["stacks"] if s["name"] == "s3-web-aws")
    assert web["status"] == "locked" and "release the lock with `platform unlock --env s3 s3-web-aws`" in web["error"]
    released = cli(project, "unlock", "--env", "s3", "s3-web-aws")
    assert released.exit_code == 0 and "released" in released.stdout, released.stdout + released.stderr
    again = cli(project, "unlock", "--env", "s3", "s3-web-aws")
    assert again.exit_code == 0 and "not locked" in again.stdout
    assert cli(project, "apply", "--env", "s3", "--auto-approve").exit_code == 0
