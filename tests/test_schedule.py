"""The dependency-wave rules alone: no Terraform, no threads, no subprocess."""

from __future__ import annotations

from platform_sdk.terraform import schedule as s
from platform_sdk.terraform.schedule import Verdict, decide, order, readiness

# web reads from images and auth; images reads from nothing; auth reads from images.
DEPS = {"web": ["images", "auth"], "images": [], "auth": ["images", "elsewhere"]}


def test_order_is_producers_first_and_reverses_for_destroy() -> None:
    assert order(DEPS, destroy=False) == {"web": ["images", "auth"], "images": [], "auth": ["images"]}
    assert order(DEPS, destroy=True) == {"web": [], "images": ["web", "auth"], "auth": ["web"]}


def test_readiness_follows_the_dependency_statuses() -> None:
    assert readiness([], {}) == Verdict(s.READY)
    assert readiness(["a", "b"], {"a": s.APPLIED, "b": s.NO_CHANGES}) == Verdict(s.READY)
    assert readiness(["a", "b"], {"a": s.APPLIED, "b": s.RUNNING}) is None
    assert readiness(["a", "b"], {"a": s.CHANGES, "b": s.WAITING}) == Verdict(s.WAITING, ("a", "b"))
    assert readiness(["a", "b"], {"a": s.CHANGES, "b": s.PENDING}) is None, "undecided beats waiting"
    for broken in (s.FAILED, s.SKIPPED, s.LOCKED, s.INTERRUPTED):
        assert readiness(["a", "b"], {"a": broken, "b": s.PENDING}) == Verdict(s.SKIPPED, ("a",)), broken


def test_decide_starts_what_is_ready_and_cascades_waiting() -> None:
    deps = order(DEPS, destroy=False)
    statuses = dict.fromkeys(DEPS, s.PENDING)
    assert decide(list(DEPS), deps, statuses, slots=4) == [("images", Verdict(s.READY))]
    statuses["images"] = s.CHANGES  # planned with changes: its consumers wait, and theirs in turn
    decided = decide(["web", "auth"], deps, statuses, slots=4)
    assert decided == [("auth", Verdict(s.WAITING, ("images",))), ("web", Verdict(s.WAITING, ("images", "auth")))]


def test_decide_cascades_skips_and_respects_the_slots() -> None:
    deps = {"a": [], "b": [], "c": ["x"], "d": ["c"], "x": []}
    statuses = {**dict.fromkeys(deps, s.PENDING), "x": s.FAILED}
    assert decide(["a", "b", "c", "d"], deps, statuses, slots=1) == [("a", Verdict(s.READY))]
    decided = decide(["c", "d", "a", "b"], deps, statuses, slots=2)
    assert decided == [("c", Verdict(s.SKIPPED, ("x",))), ("d", Verdict(s.SKIPPED, ("c",))),
                       ("a", Verdict(s.READY)), ("b", Verdict(s.READY))]
    assert decide(["a", "b"], None, statuses, slots=0) == []
    assert decide(["a", "b"], None, statuses, slots=5) == [("a", Verdict(s.READY)), ("b", Verdict(s.READY))]


def test_a_producer_whose_pending_changes_leave_what_a_consumer_reads_is_settled_for_it() -> None:
    statuses = {"a": s.CHANGES, "b": s.APPLIED, "w": s.WAITING}
    assert readiness(["a", "b"], statuses, unaffected=["a"]) == Verdict(s.READY)
    assert readiness(["a", "w"], statuses, unaffected=["a", "w"]) == Verdict(s.WAITING, ("w",)), \
        "only pending changes can be unaffected: a waiting producer has no plan yet"
    deps = order(DEPS, destroy=False)
    statuses = {**dict.fromkeys(DEPS, s.PENDING), "images": s.CHANGES}
    # auth reads nothing that images' plan changes; web reads an output of images that changes
    unaffected = {"auth": ["images"], "web": []}
    decided = decide(["web", "auth"], deps, statuses, slots=4, unaffected=lambda name: unaffected[name])
    assert decided == [("auth", Verdict(s.READY))], "web is undecided while auth runs"
    statuses["auth"] = s.CHANGES
    decided = decide(["web"], deps, statuses, slots=4, unaffected=lambda name: unaffected[name])
    assert decided == [("web", Verdict(s.WAITING, ("images", "auth")))]
