"""Which stacks a plan runs Terraform for (terraform/changes.py) and how records are kept (records.py, ledger.py),
decided without Terraform. tests/test_plan_changes.py runs the same rules through real Terraform."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from platform_sdk.terraform.changes import decide, moving_stacks
from platform_sdk.terraform.ledger import Ledger
from platform_sdk.terraform.records import (
    APPLIED,
    CHANGES_PENDING,
    DRIFTED,
    FAILED,
    Applied,
    LocalRecords,
    MemoryRecords,
    StackRecord,
    fingerprint,
    outputs_digest,
)

DEPS = {"store": [], "api": ["store"], "edge": ["api"]}
PRINTS = {"store": "f-store", "api": "f-api", "edge": "f-edge"}


def applied(stack: str, fp: str, outputs: str = "o", upstream: dict[str, str | None] | None = None,
            status: str = APPLIED) -> StackRecord:
    return StackRecord(stack, status, applied=Applied("2026-11-30T09:00:00Z", fp, outputs, upstream or {}))


def settled_records() -> dict[str, StackRecord | None]:
    return {"store": applied("store", "f-store", "o-store"),
            "api": applied("api", "f-api", "o-api", {"store": "o-store"}),
            "edge": applied("edge", "f-edge", "o-edge", {"api": "o-api"})}


def reasons(records: dict[str, StackRecord | None], prints: dict[str, str] = PRINTS, **kwargs: object) -> dict:
    return {n: (d.plan, d.reason) for n, d in decide(list(prints), DEPS, prints, records, **kwargs).items()}


def test_nothing_changed_plans_nothing() -> None:
    result = decide(list(PRINTS), DEPS, PRINTS, settled_records())
    assert not any(d.plan for d in result.values())
    assert result["api"].reason == "unchanged since 2026-11-30T09:00:00Z (not refreshed)"
    assert result["api"].since == "2026-11-30T09:00:00Z"


def test_a_changed_configuration_is_planned_and_only_it() -> None:
    got = reasons(settled_records(), {**PRINTS, "api": "f-api-2"})
    assert got == {"store": (False, got["store"][1]), "api": (True, "its configuration changed"),
                   "edge": (False, got["edge"][1])}


@pytest.mark.parametrize(("record", "why"), [
    (None, "no record of an apply"),
    (applied("api", "f-api", status=CHANGES_PENDING), "a plan with changes was not applied"),
    (applied("api", "f-api", status=FAILED), "the last run failed"),
    (applied("api", "f-api", status="drifted"), "drift was found"),
    (StackRecord("api", "destroyed"), "it was destroyed"),
    (StackRecord.loads(b"{not json", "api"), "its record could not be read (JSONDecodeError: "),
])
def test_a_stack_without_a_clean_apply_is_never_skipped(record: StackRecord | None, why: str) -> None:
    records = settled_records()
    records["api"] = record
    plan, reason = reasons(records)["api"]
    assert plan and reason.startswith(why)


def test_an_upstream_output_change_plans_the_consumer_and_only_the_direct_one() -> None:
    records = settled_records()
    records["store"] = applied("store", "f-store", "o-store-2")  # applied elsewhere with new outputs
    got = reasons(records)
    assert got["api"] == (True, "the outputs of store changed")
    assert not got["edge"][0]  # edge waits for api at run time (runner), not here


def test_a_new_dependency_and_a_missing_producer_record_plan_the_consumer() -> None:
    records = settled_records()
    records["edge"] = applied("edge", "f-edge", "o-edge", {})
    assert reasons(records)["edge"] == (True, "it reads api now")
    records = settled_records()
    records["store"] = None
    assert reasons(records)["api"] == (True, "the outputs of store changed")


def test_all_and_unfinished_moves_plan_regardless() -> None:
    assert all(plan for plan, _ in reasons(settled_records(), plan_all=True).values())
    got = reasons(settled_records(), moving={"edge"})
    assert got["edge"] == (True, "an unfinished move") and not got["api"][0]
    moves = [{"selector": "web.site", "phase": "copy"}, {"selector": "auth", "phase": "done"}]
    assert moving_stacks(moves, {"e-web-aws": "web", "e-web-gcp": "web", "e-auth-aws": "auth"}) == {
        "e-web-aws", "e-web-gcp"}


def test_records_round_trip_and_unknown_formats_read_as_unreadable() -> None:
    record = StackRecord("s", APPLIED, applied=Applied("t", "f", "o", {"p": "q"}, {"url": "http://x"}))
    again = StackRecord.loads(record.dumps(), "s")
    assert again.to_json() == record.to_json()
    assert json.loads(record.dumps())["format"] == 1
    assert StackRecord.loads(json.dumps({"format": 99, "status": "applied"}).encode(), "s").status == "unreadable"


def test_a_backend_that_cannot_be_read_plans_every_stack() -> None:
    class Unreachable(MemoryRecords):
        def read(self, stack: str) -> bytes | None:
            raise ConnectionError("no route to host")

    book = Ledger(Unreachable(), PRINTS, DEPS)
    book.load()
    assert {n: d.reason for n, d in book.decide().items()} == dict.fromkeys(
        PRINTS, "its record could not be read (ConnectionError: no route to host)")


def test_local_records_sit_next_to_the_state_files(tmp_path: Path) -> None:
    store = LocalRecords(tmp_path / "state" / "local")
    assert store.read("local-web-gcp") is None
    store.write("local-web-gcp", b"{}")
    assert (tmp_path / "state" / "local" / "local-web-gcp.platform.json").read_bytes() == b"{}"
    assert not list((tmp_path / "state" / "local").glob("*.tfstate")), "a record is never a state file"


def test_fingerprint_covers_configuration_and_inputs(tmp_path: Path) -> None:
    (tmp_path / "cdk.tf.json").write_text('{"resource": {}}')
    base = fingerprint(tmp_path)
    assert fingerprint(tmp_path, {"site": "abc"}) != base
    assert fingerprint(tmp_path, {"site": "abc"}) == fingerprint(tmp_path, {"site": "abc"})
    (tmp_path / "cdk.tf.json").write_text('{"resource": {"x": {}}}')
    assert fingerprint(tmp_path) != base


def test_outputs_digest_reads_terraform_output_json_and_plain_values() -> None:
    assert outputs_digest({"a": {"sensitive": True, "type": "string", "value": "x"}}) == outputs_digest({"a": "x"})
    assert outputs_digest({"a": "x"}) != outputs_digest({"a": "y"})


# -- the ledger: what is written after each outcome ------------------------------------------------------------
def ledger(records: dict[str, StackRecord | None]) -> tuple[Ledger, MemoryRecords]:
    store = MemoryRecords({n: r.dumps() for n, r in records.items() if r is not None})
    book = Ledger(store, PRINTS, DEPS)
    book.load()
    return book, store


def stored(store: MemoryRecords, name: str) -> StackRecord:
    return StackRecord.loads(store.data[name], name)


def test_an_apply_records_fingerprint_outputs_values_and_the_upstream_it_read() -> None:
    book, store = ledger({"store": applied("store", "f-store", "o-store")})
    raw = {"url": {"sensitive": False, "value": "http://x"}, "secret": {"sensitive": True, "value": "s"}}
    book.settled("api", raw, lambda: None)
    record = stored(store, "api")
    assert record.status == APPLIED and record.applied is not None
    assert record.applied.fingerprint == "f-api" and record.applied.outputs == outputs_digest(raw)
    assert record.applied.upstream == {"store": "o-store"}
    assert record.applied.values == {"url": "http://x"}, "sensitive values stay out of records"
    assert book.outputs_changed("api", "edge")


def test_a_plan_without_changes_reuses_the_recorded_outputs_and_writes_only_when_something_differs() -> None:
    book, store = ledger(settled_records())
    before = dict(store.data)
    book.settled("api", None, lambda: pytest.fail("outputs must not be read again"))  # type: ignore[arg-type]
    assert store.data == before, "an identical record is not rewritten"
    book.fingerprints["api"] = "f-api-2"
    book.settled("api", None, lambda: pytest.fail("outputs must not be read again"))  # type: ignore[arg-type]
    assert stored(store, "api").applied.fingerprint == "f-api-2"  # type: ignore[union-attr]
    fresh, fresh_store = ledger({})
    fresh.settled("store", None, lambda: {"u": {"value": 1}})
    assert stored(fresh_store, "store").applied.outputs == outputs_digest({"u": 1})  # type: ignore[union-attr]


def test_pending_failed_and_destroyed_keep_or_drop_the_last_apply() -> None:
    book, store = ledger(settled_records())
    book.pending("api")
    assert stored(store, "api").status == CHANGES_PENDING and stored(store, "api").applied is not None
    book.failed("edge", "apply failed")
    assert (stored(store, "edge").status, stored(store, "edge").detail) == (FAILED, "apply failed")
    book.destroyed("store")
    assert stored(store, "store").applied is None


def test_drift_found_without_reading_the_records_first_keeps_the_last_apply() -> None:
    """`platform drift` refreshes every stack without deciding which to plan (no `load()`): a drifted stack's record
    kept its status only and lost its last apply (`"applied": null`), so its consumers read as "the outputs of X
    changed" and were planned on every later run until it was applied again."""
    store = MemoryRecords({n: r.dumps() for n, r in settled_records().items() if r is not None})
    book = Ledger(store, PRINTS, DEPS)
    book.drifted("api")
    record = stored(store, "api")
    assert record.status == DRIFTED and record.applied is not None and record.applied.outputs == "o-api"
    book.drifted("new")  # a stack without a record: a record of its status alone
    assert stored(store, "new").status == DRIFTED and stored(store, "new").applied is None


def test_a_record_that_cannot_be_written_is_a_warning_not_a_failure() -> None:
    class Broken(MemoryRecords):
        def write(self, stack: str, data: bytes) -> None:
            raise OSError("backend unreachable")

    book = Ledger(Broken(), PRINTS, DEPS)
    book.load()
    book.pending("api")
    assert book.warnings == ["could not write the record of api to memory:api: OSError: backend unreachable"]


def test_declared_inputs_change_the_fingerprint(tmp_path: Path) -> None:
    """A compiler's `ctx.input_files` (a folder Terraform uploads by path) plans the stack when the files change."""
    from platform_sdk.envs import Environment
    from platform_sdk.model import Service
    from platform_sdk.profile import Profile
    from platform_sdk.providers.base import StackContext

    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<h1>v1</h1>")
    ctx = StackContext(Environment(name="dev", name_prefix="acme"), Service("web"), "local", "local", None,
                       "dev-web-local", tmp_path, Profile())
    ctx.input_files("site", site)
    first = dict(ctx.inputs)
    (site / "index.html").write_text("<h1>v2</h1>")
    ctx.input_files("site", site)
    assert ctx.inputs != first
    (tmp_path / "cdk.tf.json").write_text("{}")
    assert fingerprint(tmp_path, first) != fingerprint(tmp_path, ctx.inputs)
