"""The move's parts without Terraform: placement lines, flags, the record's rules, bucket passes, partial uploads,
trigger firing in the local gateway's watcher. Real buckets (directories, moto S3), no mocks of what is tested.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
import watchfiles
from botocore.config import Config

from platform_sdk.envs import load_environment
from platform_sdk.localcloud.base import write_json
from platform_sdk.localcloud.dev.watcher import Watcher
from platform_sdk.localcloud.registry import CloudRoot, Registry
from platform_sdk.move import record as rec
from platform_sdk.move.buckets import sync_bucket
from platform_sdk.move.copy import copy_bucket
from platform_sdk.move.journal import Journal
from platform_sdk.move.placement_file import placement_value, set_placement
from platform_sdk.providers.aws.runtime.buckets import S3Bucket
from platform_sdk.providers.local.runtime.buckets import LocalBucket
from tests.terraform_fixtures import Cli, cli_fixture, make_project, tf_binary_fixture  # noqa: F401

# ----------------------------------------------------------------------------------------------- placement lines

ENV = '''# comment kept
name_prefix = "acme"
default_cloud = "aws"

[clouds.aws]
stand_in = "local"

[clouds.gcp]
stand_in = "local"

[placement]
"web" = "gcp"   # the web app
"web.site" = "aws"
'''


def test_a_move_back_to_what_the_key_resolves_to_removes_its_line(tmp_path: Path) -> None:
    path = tmp_path / "local.toml"
    path.write_text(ENV)
    env = load_environment(path)
    assert placement_value(env, "thumbnails", "aws") is None  # the default cloud: no line needed
    assert placement_value(env, "thumbnails", "gcp") == "gcp"
    assert placement_value(env, "web.site", "gcp") is None  # the service's own line says gcp
    assert placement_value(env, "web.site", "aws") == "aws"
    set_placement(path, "thumbnails", "gcp")
    assert '"thumbnails" = "gcp"' in path.read_text()
    set_placement(path, "thumbnails", None)
    set_placement(path, "web.site", None)
    assert path.read_text() == ENV.replace('"web.site" = "aws"\n', ""), "only the two lines changed"
    assert load_environment(path).placement == {"web": "gcp"}


@pytest.mark.parametrize("args, message", [
    (["thumbnails", "--to", "gcp", "--keep-source", "--remove-source"], "contradict"),
    (["--abort", "--to", "gcp"], "--abort undoes"),
    (["--abort", "--remove-source"], "--abort undoes"),
    (["thumbnails", "--to", "gcp", "--keep-target"], "--keep-target only goes with --abort"),
    (["--resume", "--dry-run"], "has no unfinished move to resume"),  # with one it says what --resume would do
    (["thumbnails"], "give what to move and where"),
])
def test_conflicting_flags_exit_2_and_change_nothing(cli: Cli, tmp_path: Path, args: list[str], message: str) -> None:
    project = make_project(tmp_path / "p", services=["web"])
    before = (project / "envs" / "local.toml").read_text()
    files = sorted(project.rglob("*"))  # make_project may link the shared wheel cache into .platform
    result = cli(project, "move", *args, "--env", "local")
    assert result.exit_code == 2, result.stdout + result.stderr
    assert message in " ".join(result.stderr.split())
    assert (project / "envs" / "local.toml").read_text() == before
    assert sorted(project.rglob("*")) == files, "nothing written"


@pytest.mark.parametrize("args, message", [
    (["nosuch", "--to", "mars"], "SERVICE: no service named 'nosuch' (services: web) (got 'nosuch')"),
    (["webb", "--to", "mars"], "SERVICE: no service named 'webb' (services: web) (did you mean 'web'?)"),
    (["web.sitte", "--to", "gcp", "--keep-source"],
     "SERVICE.RESOURCE: service 'web' has no resource 'sitte' (resources: "),
])
def test_an_unknown_selector_is_named_before_the_target(cli: Cli, tmp_path: Path, args: list[str],
                                                        message: str) -> None:
    """`move nosuch --to aws` (no [clouds.aws]) named only the target's problem, and the unknown service only once the
    target was right (trial s31): what to move is checked first, one message, exit 2, nothing written."""
    project = make_project(tmp_path / "p", services=["web"])
    files = sorted(project.rglob("*"))
    result = cli(project, "move", *args, "--env", "local")
    text = " ".join(result.stderr.split())
    assert result.exit_code == 2, result.stdout + result.stderr
    assert message in text and text.count("error:") == 1, text
    assert "cloud" not in text and result.stdout == "", "the target is not judged before what moves is known"
    assert sorted(project.rglob("*")) == files, "nothing written"


# ------------------------------------------------------------------------------------------------ record rules

def _move(phase: str, **extra: Any) -> dict[str, Any]:
    return {"id": "m1", "env": "prod", "selector": "thumbnails", "target": "gcp", "phase": phase,
            "stateful": ["thumbnails.originals"], "sources": {"thumbnails.originals": "aws"}, "old_value": None,
            "new_value": "gcp", **extra}


@pytest.mark.parametrize("phase, extra, copies, pin", [
    ("target", {}, {"thumbnails.originals": "gcp"}, None),
    ("copy", {}, {"thumbnails.originals": "gcp"}, None),
    ("dns", {}, {"thumbnails.originals": "gcp"}, None),
    ("dns", {"domains": {"thumbnails.cdn": "img.example.com"}},
     {"thumbnails.originals": "gcp", "thumbnails.cdn": "gcp"}, None),
    ("rewire", {"domains": {"thumbnails.cdn": "img.example.com"}}, {"thumbnails.originals": "aws"}, "gcp"),
    ("verify", {}, {"thumbnails.originals": "aws"}, "gcp"),
    ("done", {"source_kept": True}, {"thumbnails.originals": "aws"}, "file"),
    ("done", {"source_kept": False}, {}, "file"),
    ("aborting", {}, {"thumbnails.originals": "gcp"}, None),
    ("aborted", {"target_kept": True}, {"thumbnails.originals": "gcp"}, "file"),
    ("aborted", {"target_kept": False}, {}, "file"),
])
def test_what_synthesis_keeps_and_places_in_each_phase(tmp_path: Path, phase: str, extra: dict[str, Any],
                                                        copies: dict[str, str], pin: str | None) -> None:
    path = tmp_path / "prod.toml"
    path.write_text(ENV.replace("[placement]", '[placement]\n"thumbnails" = "gcp"'))
    env = load_environment(path)
    move = _move(phase, **extra)
    assert rec.retained(move) == copies
    effective = rec.effective_environment(env, [move])
    expected = env.placement.get("thumbnails") if pin == "file" else pin
    assert effective.placement.get("thumbnails") == expected
    assert (rec.unfinished([move]) is None) == (phase in ("done", "aborted"))


# ---------------------------------------------------------------------------------------------- bucket passes

def _fill(bucket: LocalBucket, objects: dict[str, bytes]) -> None:
    for key, data in objects.items():
        bucket.put(key, data)


def _contents(bucket: LocalBucket) -> dict[str, bytes]:
    return {info.key: bucket.get(info.key) for info in bucket.list()}


def test_before_cut_over_the_twin_becomes_an_exact_mirror(tmp_path: Path) -> None:
    src, dst = LocalBucket(tmp_path / "src"), LocalBucket(tmp_path / "dst")
    _fill(src, {f"k{i}": f"v{i}".encode() for i in range(10)})
    journal = tmp_path / "j.sqlite3"
    first = sync_bucket("s.b", "copy", src.url, dst.url, journal, cutover=False)
    assert first.copy.copied == 10 and first.verify.ok
    src.delete("k3")  # deleted from the source while the move runs (fault: it came back in the target)
    src.put("k4", b"changed")
    src.put("k10", b"new")
    dst.put("stray", b"in the twin only")
    second = sync_bucket("s.b", "copy", src.url, dst.url, journal, cutover=False)
    assert second.deleted == ["k3", "stray"]
    assert second.copy.copied == 2 and second.copy.skipped_already_verified == 8
    assert _contents(dst) == _contents(src)
    assert second.verify.ok and second.verify.source_objects == second.verify.target_objects == 10


def test_after_cut_over_the_final_sync_carries_source_changes_and_keeps_target_writes(tmp_path: Path) -> None:
    src, dst = LocalBucket(tmp_path / "src"), LocalBucket(tmp_path / "dst")
    _fill(src, {f"k{i}": f"v{i}".encode() for i in range(8)})
    journal = tmp_path / "j.sqlite3"
    sync_bucket("s.b", "copy", src.url, dst.url, journal, cutover=False)
    # between the copy and the cut-over, the source app changes things (processed on the source side)
    src.delete("k1")
    src.put("k2", b"changed in the source before cut-over")
    src.put("late", b"written to the source before cut-over")
    # after the cut-over, the target app writes: these are the target's, never overwritten or deleted
    dst.put("k5", b"rewritten on the target after cut-over")
    dst.put("fresh", b"new on the target")
    dst.delete("k6")
    final = sync_bucket("s.b", "verify", src.url, dst.url, journal, cutover=True)
    assert final.deleted == ["k1"]
    got = _contents(dst)
    assert got["k2"] == b"changed in the source before cut-over" and got["late"].startswith(b"written")
    assert got["k5"] == b"rewritten on the target after cut-over" and got["fresh"] == b"new on the target"
    assert "k6" not in got and "k1" not in got
    check = final.verify
    assert check.ok, check.to_json()
    assert (check.new_on_target, check.rewritten_on_target, check.deleted_on_target) == (["fresh"], ["k5"], ["k6"])
    # the old final sync (a copy with the journal) overwrote the target's k5 with the source's and brought k6 back
    assert sorted(final.copy.kept) == ["k5", "k6"]


def test_verification_fails_on_a_difference_nobody_explains(tmp_path: Path) -> None:
    src, dst = LocalBucket(tmp_path / "src"), LocalBucket(tmp_path / "dst")
    _fill(src, {"a": b"1", "b": b"2"})
    journal = tmp_path / "j.sqlite3"
    sync_bucket("s.b", "copy", src.url, dst.url, journal, cutover=False)
    from platform_sdk.move.buckets import verify_two_way

    with Journal(journal, src.url, dst.url) as j:
        src.delete("a")  # deleted in the source; the target still holds the move's copy of it
        check = verify_two_way(src, dst, j.entries(), cutover=True)
    assert not check.ok and check.extra == ["a"], check.to_json()


def test_an_identical_object_is_journaled_not_copied(tmp_path: Path) -> None:
    src, dst = LocalBucket(tmp_path / "src"), LocalBucket(tmp_path / "dst")
    _fill(src, {"a": b"same", "b": b"other"})
    _fill(dst, {"a": b"same", "b": b"older"})
    with Journal(tmp_path / "j.sqlite3", src.url, dst.url) as journal:  # e.g. a resume on another machine
        report = copy_bucket(src, dst, journal)
    assert (report.copied, report.already_identical) == (1, 1)
    assert dst.get("b") == b"other"


# ---------------------------------------------------------------------------------------------- partial uploads

def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_partial_uploads_of_a_killed_writer_are_removed_and_a_live_ones_kept(tmp_path: Path) -> None:
    src, dst = LocalBucket(tmp_path / "src"), LocalBucket(tmp_path / "dst")
    _fill(src, {"a": b"1"})
    tmp = dst.root / ".platform-tmp"
    tmp.mkdir(parents=True)
    dead = tmp / f"{_dead_pid()}.0123abcd.part"
    dead.write_bytes(b"half an object")
    live = tmp / f"{os.getpid()}.4567ef.part"
    live.write_bytes(b"a write in progress")
    legacy_old, legacy_new = tmp / "89ab.part", tmp / "cdef.part"
    legacy_old.write_bytes(b"x")
    legacy_new.write_bytes(b"y")
    os.utime(legacy_old, (0, 0))
    assert [i.key for i in dst.list()] == [], "partial objects are never listed"
    with Journal(tmp_path / "j.sqlite3", src.url, dst.url) as journal:
        report = copy_bucket(src, dst, journal)
    assert report.partial_removed == 2
    assert sorted(p.name for p in tmp.iterdir()) == sorted([live.name, legacy_new.name])


def test_s3_partial_uploads_older_than_a_copy_are_aborted(moto_server: str) -> None:
    """(moto reports every upload as started in 2010, so only the abort of an old one is exercised here.)"""
    client = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1",
                          config=Config(s3={"addressing_style": "path"}))
    client.create_bucket(Bucket="partials")
    client.create_multipart_upload(Bucket="partials", Key="big.bin")
    bucket = S3Bucket("partials", endpoint_url=moto_server, client=client)
    assert bucket.clean_partial() == 1
    assert client.list_multipart_uploads(Bucket="partials").get("Uploads", []) == []


# ----------------------------------------------------------------------------------------------- triggers

def _function(root: Path, name: str, bucket: str) -> None:
    fn = root / "functions" / name
    (fn / "code").mkdir(parents=True, exist_ok=True)
    write_json(fn / "function.json", {"name": name, "handler": "h.h", "runtime": "python3.11",
                                      "code_dir": str(fn / "code"), "code_hash": "x", "package_hash": "x",
                                      "triggers": json.dumps({"object_created": [{"bucket": bucket}]}),
                                      "updated_at": "now", "url": ""})


class Fired:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def __call__(self, entry: Any, event: dict[str, Any], detail: str) -> None:
        self.events.append((entry.cloud, event["bucket"], event["key"]))


def _watcher(tmp_path: Path) -> tuple[Watcher, Fired, dict[str, Path]]:
    roots = {label: tmp_path / label for label in ("aws", "gcp")}
    for path in roots.values():
        (path / "buckets" / "inbox").mkdir(parents=True)
    fired = Fired()
    registry = Registry([CloudRoot(label, path) for label, path in roots.items()])
    return Watcher(registry, registry.roots, lambda: None, fired), fired, roots


def _land(watcher: Watcher, root: Path, key: str, data: bytes) -> None:
    LocalBucket(root / "buckets" / "inbox").put(key, data)
    watcher.handle_changes([(watchfiles.Change.added, str(root / "buckets" / "inbox" / key))])


def test_a_copy_into_the_twin_on_another_cloud_fires_nothing(tmp_path: Path) -> None:
    watcher, fired, roots = _watcher(tmp_path)
    _function(roots["aws"], "resize", "inbox")  # before cut-over: the function and its bucket on aws
    _land(watcher, roots["aws"], "a.jpg", b"uploaded")
    _land(watcher, roots["gcp"], "a.jpg", b"uploaded")  # the move copies it into the gcp twin (same name)
    assert fired.events == [("aws", "inbox", "a.jpg")], "fault: the twin's copy fired the aws function again"


def test_after_cut_over_carried_objects_fire_nothing_and_new_ones_fire_once(tmp_path: Path) -> None:
    watcher, fired, roots = _watcher(tmp_path)
    _function(roots["aws"], "resize", "inbox")
    _land(watcher, roots["aws"], "early.jpg", b"processed on aws")
    _land(watcher, roots["aws"], "late.jpg", b"written to aws just before cut-over")
    (roots["aws"] / "functions").rename(tmp_path / "moved")
    (tmp_path / "moved").rename(roots["gcp"] / "functions")  # cut-over: the function now lives on gcp
    watcher.registry = Registry(watcher.roots)
    _land(watcher, roots["gcp"], "late.jpg", b"written to aws just before cut-over")  # the final sync, any copier
    _land(watcher, roots["gcp"], "new.jpg", b"uploaded to gcp after cut-over")
    _land(watcher, roots["gcp"], "early.jpg", b"processed on aws")  # a second copier pass: still nothing
    assert fired.events == [("aws", "inbox", "early.jpg"), ("aws", "inbox", "late.jpg"), ("gcp", "inbox", "new.jpg")]
    # moving back copies new.jpg onto the kept aws copy: the same bytes as gcp's, so nothing fires there either
    _function(roots["aws"], "resize-back", "inbox")
    _land(watcher, roots["aws"], "new.jpg", b"uploaded to gcp after cut-over")
    assert len(fired.events) == 3


def test_a_copy_kept_where_the_resource_is_placed_again_is_the_resource_itself(tmp_path: Path) -> None:
    """A placement edited back onto the cloud holding a move's kept source copy synthesizes (one bucket there),
    instead of declaring the copy and the resource twice in one stack (found by a new user's tryout)."""
    from platform_sdk.envs import find_environment
    from platform_sdk.loader import load_services
    from platform_sdk.project import Project
    from platform_sdk.synth.app import synthesize

    project = Project(make_project(tmp_path / "p"))
    env = find_environment(project.envs_dir, "local")
    services = load_services(project.services_dir)
    result = synthesize(project, env, services, extra_copies={"thumbnails.originals": "aws"})  # placed on aws too
    doc = json.loads((result.outdir / "stacks" / "local-thumbnails-aws" / "cdk.tf.json").read_text())
    names = [b["name"] for b in doc["resource"]["localcloud_bucket"].values()]
    assert names.count("acme-local-thumbnails-originals") == 1, names
    kept = synthesize(project, env, services, extra_copies={"thumbnails.originals": "gcp"})  # a real other copy
    assert "local-thumbnails-gcp" in kept.stacks


def test_the_move_table_sums_what_every_pass_copied_and_deleted() -> None:
    """The copy before cut-over and the final sync both count: a table of the last pass alone said "0 copied"
    after a move that copied two objects and deleted one (found by a new user's tryout)."""
    from rich.console import Console

    from platform_sdk.commands.move import _final_table

    def bucket_pass(phase: str, copied: int, deleted: list[str], size: int) -> dict[str, Any]:
        verify = {"new_on_target": [], "rewritten_on_target": [], "deleted_on_target": [], "matched": 63,
                  "source_objects": 63, "target_objects": 63}
        return {"resource": "thumbnails.originals", "kind": "bucket", "phase": phase, "deleted": deleted,
                "copy": {"copied": copied, "skipped_already_verified": 61 if phase == "copy" else 0,
                         "already_identical": 0 if phase == "copy" else 63, "bytes_copied": size,
                         "bytes_skipped": 0},
                "verify": verify}

    report = {"copies": [bucket_pass("copy", 2, ["obj1.dat"], 2_000_000), bucket_pass("verify", 0, [], 0)],
              "databases": [], "secrets": [], "data": []}
    console = Console(width=200, record=True)
    console.print(_final_table(report))
    row = next(line for line in console.export_text().splitlines() if line.startswith("thumbnails.originals"))
    assert row.split()[:6] == ["thumbnails.originals", "bucket", "2", "63", "1", "63/63"], row


def test_destroy_during_a_move_past_cut_over_names_only_what_its_phase_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    """`platform destroy` refused during an unfinished move said "finish it (resume) or undo it (abort)" in every
    phase; past the cut-over `--abort` is refused, so the advice led to another refusal. It names the move's next
    steps (`record.next_steps`): at the cleanup, resume, or resume keeping the source."""
    from types import SimpleNamespace

    from platform_sdk.commands import deploy
    from platform_sdk.errors import PlatformError

    move = {"selector": "web", "target": "gcp", "env": "local", "phase": "cleanup", "sources": {"web.site": "aws"},
            "stateful": ["web.site"]}
    monkeypatch.setattr(deploy, "_protected", lambda s: [])
    session = SimpleNamespace(moves=[move], env=SimpleNamespace(name="local"))
    with pytest.raises(PlatformError) as refused:
        deploy._destroy_preflight(session, allow_data_loss=True)
    message = " ".join(str(refused.value).split())
    assert "platform move --resume --env local --keep-source" in message and "--abort" not in message
