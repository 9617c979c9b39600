"""The move checks every database pair (engines, client/server versions) before it copies any data of a phase.

Through the real MoveExecutor with a real local bucket: a move carrying a bucket and a PostgreSQL -> SQLite
database (a cross-engine pair) stops with one message naming both engines, and the bucket is not copied.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from platform_sdk.envs import load_environment
from platform_sdk.errors import PlatformError
from platform_sdk.move.orchestrator import MoveExecutor, MoveHooks
from platform_sdk.move.record import MoveRecords
from platform_sdk.project import Project


def test_cross_engine_database_stops_the_move_before_any_data_is_copied(estate: Path, tmp_path: Path) -> None:
    source_bucket, target_bucket = tmp_path / "src-bucket", tmp_path / "dst-bucket"
    source_bucket.mkdir()
    target_bucket.mkdir()
    (source_bucket / "photo.jpg").write_bytes(b"jpeg")
    move = {
        "id": "thumbnails->gcp@1", "env": "local", "selector": "thumbnails", "target": "gcp", "phase": "copy",
        "sources": {"thumbnails.originals": "aws", "thumbnails.db": "aws"},
        "stateful": ["thumbnails.originals", "thumbnails.db"],
        "kinds": {"thumbnails.originals": "bucket", "thumbnails.db": "database"},
        "urls": {"thumbnails.originals": {"source": source_bucket.as_uri(), "target": target_bucket.as_uri()},
                 "thumbnails.db": {"source": "postgresql://app:s3cret@127.0.0.1:9/users",
                                   "target": f"sqlite:///{tmp_path / 'users.sqlite3'}"}},
        "old_value": None, "new_value": "gcp", "report": {"phases": [], "results": []}, "shared": {},
    }

    def no_apply(*args: object) -> dict[str, object]:
        raise AssertionError("nothing is applied in the copy phase")

    said: list[str] = []
    hooks = MoveHooks(apply=no_apply, confirm=lambda question: False, say=said.append)
    project = Project(estate)
    records = MoveRecords(project, load_environment(estate / "envs" / "local.toml"))
    executor = MoveExecutor(project, records, move, hooks)
    with pytest.raises(PlatformError, match="from PostgreSQL to SQLite is not supported") as err:
        executor.run(keep_source=True)
    assert "s3cret" not in str(err.value)
    assert list(target_bucket.iterdir()) == []  # the bucket before it in the move was not copied
    assert not (tmp_path / "users.sqlite3").exists()
