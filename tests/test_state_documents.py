"""Documents next to the Terraform state (the move record's home), in each backend: local files, S3 + DynamoDB on a
moto server, GCS on the storage emulator. Every backend: read, write, a lock that names its holder, a dead holder
on this machine taken over, a holder elsewhere refused with the command that releases it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import boto3
import pytest

from platform_sdk.envs import load_environment
from platform_sdk.move.record import MoveRecords
from platform_sdk.project import Project
from platform_sdk.state_documents import DocumentLocked, Holder, LocalDocument, document, locked, read_json, write_json

TABLE = "locks-docs"


def _env(tmp_path: Path, state: str) -> Any:
    path = tmp_path / "envs" / "prod.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent('''
        name_prefix = "acme"
        default_cloud = "aws"
        [clouds.aws]
        stand_in = "local"
        [clouds.gcp]
        stand_in = "local"
    ''') + state)
    return load_environment(path)


def _dead_holder(command: str = "platform move") -> dict[str, Any]:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    holder = Holder.current(command)
    holder.pid, holder.started = proc.pid, 1.0
    return holder.to_json()


@pytest.fixture
def s3_env(tmp_path: Path, moto_server: str) -> Any:
    bucket = f"state-{tmp_path.name.lower().replace('_', '-')[-20:]}"
    env = _env(tmp_path, f'[state]\nbackend = "s3"\nbucket = "{bucket}"\nlock_table = "{TABLE}"\n'
                         f'region = "us-east-1"\nendpoint = "{moto_server}"\n')
    from platform_sdk.providers.aws.state import bootstrap

    bootstrap(env.state)
    return env


def test_local_document_lock_is_held_while_its_process_lives(tmp_path: Path) -> None:
    doc = LocalDocument(tmp_path / "_platform" / "moves.json")
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f'''
        import sys, time
        sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})
        from platform_sdk.state_documents import Holder, LocalDocument
        doc = LocalDocument(__import__("pathlib").Path({str(doc.path)!r}))
        assert doc.acquire(Holder.current("platform apply").to_json()) is None
        print("held", flush=True)
        time.sleep(60)
    ''')], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(DocumentLocked) as refused, locked(doc, "platform move", "platform unlock --env prod",
                                                              wait=0.3):
            pass
        assert f"pid {holder.pid}" in str(refused.value) and "platform apply" in str(refused.value)
    finally:
        holder.kill()
        holder.wait()
    with locked(doc, "platform move", "platform unlock --env prod", wait=0.3):  # the kernel released it
        write_json(doc, {"moves": []})
    assert read_json(doc, None) == {"moves": []}


def test_s3_document_and_its_dynamodb_lock(s3_env: Any, tmp_path: Path, moto_server: str) -> None:
    doc = document(tmp_path, s3_env, "moves")
    assert doc.describe() == f"s3://{s3_env.state.bucket}/platform/prod/_platform/moves.json"
    assert doc.read() is None
    me = Holder.current("platform move").to_json()
    assert doc.acquire(me) is None
    other = document(tmp_path, s3_env, "moves")
    found = other.acquire(Holder.current("platform apply").to_json())
    assert found is not None and found["pid"] == me["pid"] and found["command"] == "platform move"
    other.release(Holder.current("someone else").to_json())  # not the holder: nothing released
    assert other.acquire(Holder.current("x").to_json()) is not None
    doc.write(b'{"moves": []}')
    doc.release(me)
    items = boto3.client("dynamodb", endpoint_url=moto_server, region_name="us-east-1").scan(TableName=TABLE)["Items"]
    assert not [i for i in items if "moves.json" in i["LockID"]["S"]], "released"
    assert doc.read() == b'{"moves": []}'


def test_s3_lock_of_a_dead_run_is_taken_over_and_one_elsewhere_is_refused(s3_env: Any, tmp_path: Path) -> None:
    doc = document(tmp_path, s3_env, "moves")
    assert doc.acquire(_dead_holder()) is None  # a run killed while it held the lock (SIGKILL)
    with locked(doc, "platform move", "platform unlock --env prod") as me:
        write_json(doc, {"moves": [], "by": me.pid})
    assert read_json(doc, None)["by"] == me.pid
    elsewhere = {**Holder.current("platform move").to_json(), "host": "ci-runner-7"}
    assert doc.acquire(elsewhere) is None
    with pytest.raises(DocumentLocked) as refused, locked(doc, "platform move", "platform unlock --env prod",
                                                          wait=0.3):
        pass
    text = str(refused.value)
    assert "on ci-runner-7" in text and "release the lock on ci-runner-7 with `platform unlock --env prod`" in text


def test_move_record_in_s3_is_seen_by_a_second_checkout(s3_env: Any, tmp_path: Path) -> None:
    one, two = Project(tmp_path / "one"), Project(tmp_path / "two")
    with MoveRecords(one, s3_env).change("platform move") as moves:
        moves.append({"id": "m", "env": "prod", "selector": "web", "target": "gcp", "phase": "copy",
                      "stateful": ["web.site"], "sources": {"web.site": "aws"}, "old_value": None,
                      "new_value": "gcp"})
    seen = MoveRecords(two, s3_env).load()
    assert [m["id"] for m in seen] == ["m"]
    assert (tmp_path / "two" / ".platform" / "moves" / "prod.json").is_file(), "the cache synthesis reads"
    assert two.retained_copies("prod") == {"web.site": "gcp"}


def test_gcs_document(tmp_path: Path, gcs_emulator: str) -> None:
    """(The storage emulator does not enforce generation preconditions: read, write and release are what it
    can show; the lock's precondition is Terraform's own GCS locking scheme.)"""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    storage.Client(project="local", credentials=AnonymousCredentials()).create_bucket("gcs-docs")
    env = _env(tmp_path, '[state]\nbackend = "gcs"\nbucket = "gcs-docs"\n')
    doc = document(tmp_path, env, "moves")
    assert doc.describe() == "gs://gcs-docs/platform/prod/_platform/moves.json"
    with locked(doc, "platform move", "platform unlock --env prod"):
        write_json(doc, {"moves": [1]})
    assert read_json(doc, None) == {"moves": [1]}
    lock = storage.Client(project="local", credentials=AnonymousCredentials()).bucket("gcs-docs").blob(
        "platform/prod/_platform/moves.json.lock")
    assert not lock.exists(), "released"
