"""Python's cyclic garbage collector paused for work whose allocations live to its end (`paused`).

A synthesis allocates hundreds of thousands of objects that all live until it returns or beyond: the modules it
imports, the model, the compiled resources, the stack documents, the stack files the checks parse. With the collector
running, each collection of the youngest generation walked ~50,000 of them and freed almost nothing (a few thousand
objects in a whole `platform synth`; ~0.012-0.02 s of CPU per collection for 1,020 resources), and resumed plainly
after a pause its first collection would walk everything allocated meanwhile at once.

So the collector is paused for the work, and when the outermost pause ends the objects it tracks are moved to the
oldest generation without a collection (`gc.freeze()` then `gc.unfreeze()`: Python's documented way to set aside
objects known to be long-lived). They are walked again only by a full collection, which Python runs once the oldest
generation has grown by a quarter, so a cycle left behind is still freed in a long `apply` or `move`; reference
counting frees everything outside a cycle meanwhile, pause or not.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block (nested pauses: the outermost one resumes it)."""
    if not gc.isenabled():  # an outer pause, or a program that runs without the collector
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        gc.enable()
