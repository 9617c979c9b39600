"""platform_sdk.synth.collector: the cyclic garbage collector paused for a synthesis, and resumed."""

from __future__ import annotations

import gc
import weakref

import pytest

from platform_sdk.synth import collector


def test_paused_disables_the_collector_and_resumes_it() -> None:
    assert gc.isenabled()
    with collector.paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_nested_pause_leaves_resuming_to_the_outermost() -> None:
    with collector.paused():
        with collector.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner pause did not resume it
    assert gc.isenabled()


def test_the_collector_resumes_after_an_error() -> None:
    with pytest.raises(RuntimeError), collector.paused():
        raise RuntimeError("synthesis failed")
    assert gc.isenabled()


def test_a_program_without_the_collector_keeps_it_off() -> None:
    gc.disable()
    try:
        with collector.paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_survivors_are_set_aside_unscanned_and_cycles_are_still_freed() -> None:
    class Node:
        pass

    with collector.paused():
        node = Node()
        node.self = node  # type: ignore[attr-defined]  # a cycle only the collector can free
        young_before = gc.get_count()[0]
    assert young_before > 0
    assert gc.get_count()[0] < young_before  # moved out of the youngest generation without a collection
    assert gc.get_freeze_count() == 0  # nothing left frozen
    ref = weakref.ref(node)
    del node
    gc.collect()
    assert ref() is None
