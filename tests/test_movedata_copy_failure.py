"""A copy that fails after it drained a queue into its twin says where the messages wait and how to get them back
(a new user's tryout, fault 2: "the source is untouched" while 72 messages sat in the twin).

Through the real MoveExecutor with real local queues and SQLite databases: the queue is drained, then the database
copy is refused (its target holds a table the move did not put there); the error names the messages waiting in the
twin and both ways forward.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from platform_sdk.envs import load_environment
from platform_sdk.errors import PlatformError
from platform_sdk.move.orchestrator import MoveExecutor, MoveHooks
from platform_sdk.move.record import MoveRecords
from platform_sdk.project import Project
from platform_sdk.runtime.queues import open_queue


def test_a_failed_copy_names_the_messages_waiting_in_the_twin(estate: Path, tmp_path: Path) -> None:
    source_queue, target_queue = tmp_path / "queues" / "src", tmp_path / "queues" / "dst"
    source_queue.mkdir(parents=True)
    target_queue.mkdir(parents=True)
    for i in range(4):
        open_queue(source_queue.as_uri()).send(f"welcome {i}".encode())
    source_db, target_db = tmp_path / "src.sqlite3", tmp_path / "dst.sqlite3"
    with sqlite3.connect(source_db) as conn:
        conn.execute("CREATE TABLE users (email TEXT PRIMARY KEY)")
    with sqlite3.connect(target_db) as conn:
        conn.execute("CREATE TABLE strangers (id INTEGER PRIMARY KEY)")  # not the move's: never overwritten
    move = {
        "id": "notify->gcp@1", "env": "local", "selector": "notify", "target": "gcp", "phase": "copy",
        "sources": {"notify.email": "aws", "notify.db": "aws"}, "stateful": ["notify.email", "notify.db"],
        "kinds": {"notify.email": "queue", "notify.db": "database"},
        "urls": {"notify.email": {"source": source_queue.as_uri(), "target": target_queue.as_uri()},
                 "notify.db": {"source": f"sqlite:///{source_db}", "target": f"sqlite:///{target_db}"}},
        "old_value": None, "new_value": "gcp", "report": {"phases": [], "results": []}, "shared": {},
    }

    def no_apply(*args: object) -> dict[str, object]:
        raise AssertionError("nothing is applied in the copy phase")

    project = Project(estate)
    records = MoveRecords(project, load_environment(estate / "envs" / "local.toml"))
    executor = MoveExecutor(project, records, move, MoveHooks(apply=no_apply, confirm=lambda question: False))
    with pytest.raises(PlatformError, match="did not put there") as err:
        executor.run(keep_source=True)
    assert open_queue(target_queue.as_uri()).counts().total == 4, "the copy drained the queue into the twin"
    hint = str(err.value.hint)
    assert "4 message(s) of notify.email wait in the target twin on gcp" in hint, hint
    assert "platform move --abort --env local` returns them to the source" in hint, hint
