"""A move of a service in use loses nothing (a new user's tryout, faults 1 and 2), through real parts: the example
estate applied to the local cloud, real Terraform, the local cloud's real PostgreSQL servers, its buckets and queues.

- rows written to the source database during the move, up to the cut-over, all reach the target: the cut-over stops
  the source's writes (refused, never acknowledged) before a last copy, so no acknowledged row stays behind when the
  source is removed;
- the cleanup compares both sides again right before removing the source: an object written to the source after the
  final sync keeps the source (exit 2, naming the object and the way forward);
- an abort after the copy drained a queue into its twin returns those messages to the source queue;
- a bucket written during the copy does not fail its verification; the final sync carries those writes.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from platform_sdk.localcloud import dbserver
from platform_sdk.move.buckets import sync_bucket
from platform_sdk.move.copy import CopyEvent
from platform_sdk.runtime.database import Database
from platform_sdk.runtime.queues import open_queue
from tests.terraform_fixtures import (  # noqa: F401 - fixtures
    Cli,
    applied_estate_fixture,
    cli_fixture,
    spawn,
    tf_binary_fixture,
)

pytestmark = pytest.mark.e2e

ORIGINALS = "acme-local-thumbnails-originals"


@pytest.fixture
def applied(applied_estate: Any) -> Path:
    project: Path = applied_estate()
    return project


def local(project: Path, cloud: str) -> Path:
    return project / ".platform" / "localcloud" / "local" / cloud


def record(project: Path) -> dict[str, Any]:
    moves: list[dict[str, Any]] = json.loads((project / ".platform" / "moves" / "local.json").read_text())["moves"]
    return moves[-1]


def database_url(project: Path, cloud: str) -> str | None:
    """The auth function's database URL on one cloud (its own role), once that cloud runs the function."""
    found = local(project, cloud) / "functions" / "acme-local-auth-api" / "function.json"
    if not found.is_file():
        return None
    return str(json.loads(found.read_text())["environment"]["PLATFORM_DATABASE_USERS"])


class Signups:
    """A function's writes under load: one new connection and one INSERT every few milliseconds, as each invocation
    would do, through the function's own role, on the cloud that runs the function (the target from the cut-over
    on); remembers which were acknowledged (committed) and which refused."""

    def __init__(self, project: Path) -> None:
        self.project = project
        self.acknowledged: list[str] = []
        self.refused = 0
        self.errors: list[str] = []
        self.on_target = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        i = 0
        while not self.stop.is_set():
            i += 1
            email = f"load{i}@example.com"
            target = database_url(self.project, "gcp")
            url = target or database_url(self.project, "aws")
            try:
                assert url is not None
                with Database("users", url).connect() as conn:
                    conn.execute("INSERT INTO users VALUES (?, 's', 'h')", (email,))
                    conn.commit()
            except Exception as err:  # noqa: BLE001 - refused (read only) or the source is gone: not acknowledged
                self.refused += 1
                self.errors.append(str(err))
            else:
                self.acknowledged.append(email)
                self.on_target += target is not None
            time.sleep(0.01)

    def __enter__(self) -> Signups:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


def test_rows_written_while_the_database_moves_all_reach_the_target(cli: Cli, applied: Path) -> None:
    """Fault 1: a row written to the source after the copy was lost, and the source removed (exit 0)."""
    source = dbserver.Server(local(applied, "aws"), "postgres")
    with source.admin("acme-local-auth-users") as conn:
        cursor = conn.cursor()
        cursor.execute("CREATE TABLE users (email TEXT PRIMARY KEY, salt TEXT, hash TEXT)")
        cursor.execute("GRANT ALL ON users TO PUBLIC")
        for i in range(50):
            cursor.execute(f"INSERT INTO users VALUES ('old{i}@example.com', 's', 'h')")
        conn.commit()
    with Signups(applied) as load:
        time.sleep(1)
        code, report = cli.json(applied, "move", "auth", "--to", "gcp", "--env", "local", "--yes")
        time.sleep(0.5)
    assert code == 0, report
    target = dbserver.Server(local(applied, "gcp"), "postgres")
    with target.admin("acme-local-auth-users") as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT email FROM users WHERE email LIKE 'load%'")
        there = {row[0] for row in cursor.fetchall()}
    assert set(load.acknowledged) <= there, f"acknowledged but lost: {sorted(set(load.acknowledged) - there)}"
    first = next(d for d in report["databases"] if d["phase"] == "copy")
    copied_first = first["tables"]["public.users"]["source_rows"] - 50
    assert len(load.acknowledged) > copied_first, load.errors[:3]  # rows written after the first copy: covered
    assert load.refused, "writes to the source are refused from the cut-over on"
    assert load.on_target, "the target took writes after the cut-over"
    last = next(d for d in report["databases"] if d["phase"] == "rewire")
    assert last["writes_stopped"], last
    assert report["source_removed"]


def test_the_cleanup_keeps_a_source_written_after_the_final_sync(cli: Cli, applied: Path, tf_binary: Path) -> None:
    """Fault 1 (the class): whatever happens, a source holding data the target lacks is not removed."""
    src, dst = local(applied, "aws") / "buckets" / ORIGINALS, local(applied, "gcp") / "buckets" / ORIGINALS
    for i in range(5):
        (src / f"img-{i}.jpg").write_bytes(b"x" * (i + 1))
    proc = spawn(applied, tf_binary, "move", "thumbnails", "--to", "gcp", "--env", "local", "--yes",
                 env={"PLATFORM_MOVE_KILL_AFTER": "cleanup"})  # killed once the final sync is verified
    proc.communicate(timeout=600)
    assert record(applied)["phase"] == "cleanup" and (dst / "img-4.jpg").is_file()
    (src / "late.jpg").write_bytes(b"written to the source after the final sync")

    result = cli(applied, "move", "--resume", "--env", "local", "--yes")
    assert result.exit_code == 2, result.stdout + result.stderr
    said = " ".join(result.stderr.split())
    assert "thumbnails.originals on aws holds what the target on gcp lacks" in said and "late.jpg" in said, said
    assert "--remove-source" in said, said
    assert (src / "late.jpg").is_file() and (src / "img-0.jpg").is_file(), "the source is kept"
    moved = record(applied)
    assert moved["phase"] == "done" and moved["source_kept"]

    (dst / "late.jpg").write_bytes((src / "late.jpg").read_bytes())  # carried by hand: now it may go
    result = cli(applied, "move", "thumbnails", "--to", "gcp", "--env", "local", "--remove-source", "--yes")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert not src.exists()


def test_an_abort_returns_the_messages_drained_into_the_twin(cli: Cli, applied: Path, tf_binary: Path) -> None:
    """Fault 2: the copy drained the queue into its twin; `--abort` removed the twin with 72 messages in it."""
    proc = spawn(applied, tf_binary, "move", "notifications", "--to", "gcp", "--env", "local", "--yes",
                 env={"PLATFORM_MOVE_KILL_AFTER": "copy"})  # the twins exist, nothing copied yet
    proc.communicate(timeout=600)
    urls = record(applied)["urls"]["notifications.outbox"]
    source, twin = open_queue(urls["source"]), open_queue(urls["target"])
    for i in range(30):
        source.send(f"welcome {i}".encode())
    proc = spawn(applied, tf_binary, "move", "--resume", "--env", "local", "--yes",
                 env={"PLATFORM_MOVE_KILL_AFTER": "dns"})  # killed once the copy (the drain) is recorded
    proc.communicate(timeout=600)
    assert record(applied)["phase"] == "dns"
    assert twin.counts().total == 30 and source.counts().total == 0, "the copy drained the queue into the twin"

    result = cli(applied, "move", "--abort", "--env", "local", "--yes")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "30 message(s) returned from the twin" in " ".join(result.stdout.split()), result.stdout
    bodies = sorted(m.body.decode() for m in source.receive(10, 30) + source.receive(10, 30) + source.receive(10, 30))
    assert bodies == sorted(f"welcome {i}" for i in range(30))
    assert not twin.exists(), "the twin, empty, was removed"


def test_a_bucket_written_during_the_copy_verifies_and_the_final_sync_carries_it(tmp_path: Path) -> None:
    """Fault 2: an object written to the source during the copy failed its verification, every time."""
    from platform_sdk.providers.local.runtime.buckets import LocalBucket

    src_dir, dst_dir = tmp_path / "src", tmp_path / "dst"
    src_dir.mkdir()
    dst_dir.mkdir()
    for i in range(40):
        (src_dir / f"obj-{i:02d}").write_bytes(f"object {i}".encode() * 50)
    src_url, dst_url = LocalBucket(src_dir).url, LocalBucket(dst_dir).url
    written = []

    def progress(total: int) -> Any:
        def each(event: CopyEvent) -> None:
            if event.done == 5:  # the service writes meanwhile: a new object, a rewrite, a delete
                (src_dir / "new-during-copy").write_bytes(b"new")
                (src_dir / "obj-00").write_bytes(b"rewritten during the copy")
                (src_dir / "obj-39").unlink()
                written.append(event.key)
        return each

    journal = tmp_path / "journal.sqlite3"
    first = sync_bucket("svc.files", "copy", src_url, dst_url, journal, cutover=False, workers=1, progress=progress)
    assert written and first.verify.ok
    assert set(first.verify.written_during_copy) >= {"new-during-copy", "obj-00"}, first.verify
    assert first.verify.matched >= 37

    final = sync_bucket("svc.files", "verify", src_url, dst_url, journal, cutover=True)
    assert final.verify.ok and not final.verify.written_during_copy
    on = {p.name: p.read_bytes() for p in src_dir.iterdir() if not p.name.startswith(".")}
    assert {p.name: p.read_bytes() for p in dst_dir.iterdir() if not p.name.startswith(".")} == on


def test_a_rollback_onto_the_read_only_kept_source_takes_writes_again(cli: Cli, applied: Path) -> None:
    """The cut-over left the kept source read only for the functions; after moving back onto it they write again."""
    source = dbserver.Server(local(applied, "aws"), "postgres")
    with source.admin("acme-local-auth-users") as conn:
        cursor = conn.cursor()
        cursor.execute("CREATE TABLE users (email TEXT PRIMARY KEY, salt TEXT, hash TEXT)")
        cursor.execute("GRANT ALL ON users TO PUBLIC")
        cursor.execute("INSERT INTO users VALUES ('first@example.com', 's', 'h')")
        conn.commit()
    code, report = cli.json(applied, "move", "auth", "--to", "gcp", "--env", "local", "--keep-source", "--yes")
    assert code == 0, report
    url = database_url(applied, "gcp")
    assert url is not None
    with Database("users", url).connect() as conn:
        conn.execute("INSERT INTO users VALUES ('on-gcp@example.com', 's', 'h')")

    code, back = cli.json(applied, "move", "auth", "--to", "aws", "--env", "local", "--yes")
    assert code == 0, back
    url = database_url(applied, "aws")
    assert url is not None
    with Database("users", url).connect() as conn:
        conn.execute("INSERT INTO users VALUES ('back-on-aws@example.com', 's', 'h')")
        rows = conn.query("SELECT email FROM users ORDER BY email")
    assert rows == [("back-on-aws@example.com",), ("first@example.com",), ("on-gcp@example.com",)]
