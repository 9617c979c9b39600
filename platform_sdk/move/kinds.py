"""How each stateful kind's data moves: one `Mover` per kind, the same phases for all of them.

A move asks the mover of every stateful resource it carries, always in this order:

1. `preflight(address, source_url)` before anything changes: can this data be moved from here (engine pairs,
   client tools against the server, the source reachable)? Returns problems, each with its fix.
2. `ready(address, pair)` after the target twin exists, before any data of a pass is copied.
3. `copy(ctx, address, pair, phase)` once before cut-over (`ctx.cutover` False: the target becomes an exact,
   verified copy) and once after it (the final sync: what changed meanwhile; the target's own writes are kept).
   Returns the report entry (JSON); raises PlatformError when the data is not proven to have arrived.
4. `leftovers(ctx, address, pair)` (optional) before a kept source is removed, long after the move: the
   comparison of both sides again, read only. Returns (report entry, what only the source holds: object keys,
   table names). The move's own cleanup asks it too, right before removing the source, and keeps the source when
   anything is found. A queue reports the messages its source still holds; a kind without it (a secret) is not
   compared again: a secret's value written to the source after the final sync is not detected yet.
5. `stop_writes(ctx, address, pair, phase)` (optional) at the cut-over, before the functions switch: the source
   refuses writes, then a last copy carries everything (a database's rows written during the copy).
6. `give_back(address, pair)` (optional) before an abort removes or strands a twin that may hold data of its own
   (a queue drained into it): what it holds goes back to the source first.

Buckets, databases, secrets and queues are registered here; a new stateful kind registers its own mover
with `register`, and a kind without one is refused by the move's preflight ("not supported yet").
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from platform_sdk.errors import PlatformError

RECHECK = "recheck"
"""The phase of a report entry made by `leftovers`: both sides compared again, nothing copied."""

Pair = dict[str, str]
"""{"source": url, "target": url}: where one resource's data lives on each side (from the stacks' outputs)."""


@dataclass
class CopyContext:
    """What a pass gives every mover."""

    env: str
    target: str
    cutover: bool
    journals: Path
    workdir: Path
    workers: int = 8
    progress: Callable[[str, int, str], Callable[[Any], None] | None] | None = None
    """(address, total objects, pass label) -> per-object callback, for progress bars."""
    shared: dict[str, Any] = field(default_factory=dict)
    """State a mover keeps in the move record across machines (e.g. the database copy history)."""


class Mover(Protocol):
    kind: str

    def preflight(self, address: str, source_url: str) -> list[str]: ...

    def ready(self, address: str, pair: Pair) -> None: ...

    def copy(self, ctx: CopyContext, address: str, pair: Pair, phase: str) -> dict[str, Any]: ...


class BucketMover:
    kind = "bucket"

    def preflight(self, address: str, source_url: str) -> list[str]:
        from platform_sdk.runtime.buckets import open_bucket

        try:
            next(iter(open_bucket(source_url).list()), None)
        except Exception as err:  # noqa: BLE001 - any failure to list is the problem reported
            return [f"{address}: cannot list the source bucket {source_url}: {type(err).__name__}: {err}"]
        return []

    def ready(self, address: str, pair: Pair) -> None:
        from platform_sdk.runtime.buckets import open_bucket

        for role in ("source", "target"):
            try:
                next(iter(open_bucket(pair[role]).list()), None)
            except Exception as err:  # noqa: BLE001
                raise PlatformError(f"the {role} bucket of {address} cannot be listed ({err}); nothing was copied: "
                                    "re-run the move", value=address) from None

    def copy(self, ctx: CopyContext, address: str, pair: Pair, phase: str) -> dict[str, Any]:
        from platform_sdk.move.buckets import sync_bucket

        journal = ctx.journals / f"{ctx.env}-{address}-{ctx.target}.sqlite3"
        label = "sync" if ctx.cutover else "copy"

        def progress(total: int) -> Callable[[Any], None] | None:
            return ctx.progress(address, total, label) if ctx.progress else None

        result = sync_bucket(address, phase, pair["source"], pair["target"], journal, cutover=ctx.cutover,
                             workers=ctx.workers, progress=progress)
        return result.to_json()

    def leftovers(self, ctx: CopyContext, address: str, pair: Pair) -> tuple[dict[str, Any], list[str]]:
        """Source objects the target has neither the same bytes of nor deleted or rewritten itself since cut-over
        (as the final sync's verification explains them: move/buckets.py)."""
        from platform_sdk.move.buckets import verify_two_way
        from platform_sdk.move.journal import Journal
        from platform_sdk.runtime.buckets import open_bucket

        src, dst = open_bucket(pair["source"]), open_bucket(pair["target"])
        ctx.journals.mkdir(parents=True, exist_ok=True)
        with Journal(ctx.journals / f"{ctx.env}-{address}-{ctx.target}.sqlite3", src.url, dst.url) as journal:
            check = verify_two_way(src, dst, journal.entries(), cutover=True, workers=ctx.workers)
        return ({"resource": address, "phase": RECHECK, "kind": "bucket", "verify": check.to_json()},
                sorted(check.missing + check.different))


class DatabaseMover:
    kind = "database"
    HISTORY = "database_history"

    def preflight(self, address: str, source_url: str) -> list[str]:
        from platform_sdk.move.database import preflight

        try:  # the target is the same engine and version (both sides compile the model's engine)
            preflight(source_url, source_url)
        except PlatformError as err:
            return [f"{address}: {err.message}" + (f" ({err.hint})" if err.hint else "")]
        return []

    def ready(self, address: str, pair: Pair) -> None:
        """Both sides reachable with tools that can copy between them; the target takes writes (a kept source that
        is a rollback's target was left read only by its own move's cut-over)."""
        from platform_sdk.move.database import preflight, set_writes

        preflight(pair["source"], pair["target"])
        set_writes(pair["target"], allowed=True)

    def stop_writes(self, ctx: CopyContext, address: str, pair: Pair, phase: str) -> dict[str, Any]:
        """At the cut-over, before the functions switch: the source refuses writes from now on, then the final copy
        (the target is still unwired: only this move wrote to it). Returns that copy's report entry, with
        `writes_stopped` (how, or None when the engine cannot: the cleanup's comparison then guards the source)."""
        from platform_sdk.move.database import set_writes

        how = set_writes(pair["source"], allowed=False)
        return {**self.copy(ctx, address, pair, phase), "writes_stopped": how}

    def copy(self, ctx: CopyContext, address: str, pair: Pair, phase: str) -> dict[str, Any]:
        from platform_sdk.move.database import HISTORY_FILE, copy_database

        # The overwrite history travels with the move record, so a resume on another machine knows it too.
        history = ctx.workdir / HISTORY_FILE
        ctx.workdir.mkdir(parents=True, exist_ok=True)
        known = dict(ctx.shared.get(self.HISTORY, {}))
        if known:
            local = json.loads(history.read_text()) if history.is_file() else {}
            history.write_text(json.dumps({**local, **known}, indent=2, sort_keys=True) + "\n")
        try:
            result = copy_database(pair["source"], pair["target"], ctx.workdir)
        finally:
            if history.is_file():
                ctx.shared[self.HISTORY] = json.loads(history.read_text())
        return {"resource": address, "phase": phase, "kind": "database", **result.to_json()}

    def leftovers(self, ctx: CopyContext, address: str, pair: Pair) -> tuple[dict[str, Any], list[str]]:
        """Tables whose rows or checksums differ, unless the source is unchanged since its verified copy."""
        from platform_sdk.move.database import HISTORY_FILE, source_leftovers

        ctx.workdir.mkdir(parents=True, exist_ok=True)
        known = dict(ctx.shared.get(self.HISTORY, {}))
        if known:
            history = ctx.workdir / HISTORY_FILE
            local = json.loads(history.read_text()) if history.is_file() else {}
            history.write_text(json.dumps({**local, **known}, indent=2, sort_keys=True) + "\n")
        tables, differing = source_leftovers(pair["source"], pair["target"], ctx.workdir)
        return ({"resource": address, "phase": RECHECK, "kind": "database",
                 "tables": {name: check.to_json() for name, check in sorted(tables.items())}}, differing)


class SecretMover:
    kind = "secret"

    def preflight(self, address: str, source_url: str) -> list[str]:
        from platform_sdk.runtime.secrets import open_secret

        try:
            if not open_secret(source_url).exists():
                return [f"{address}: its source container {source_url} does not exist"]
        except Exception as err:  # noqa: BLE001
            return [f"{address}: cannot reach its source container: {type(err).__name__}: {err}"]
        return []

    def ready(self, address: str, pair: Pair) -> None:
        from platform_sdk.move.secret import preflight_secrets

        preflight_secrets({address: pair})

    def copy(self, ctx: CopyContext, address: str, pair: Pair, phase: str) -> dict[str, Any]:
        from platform_sdk.move.secret import copy_secret

        return {"kind": "secret", **copy_secret(address, pair["source"], pair["target"], phase).to_json()}


class QueueMover:
    """A queue's messages are drained into its twin (platform_sdk.move.queue): before cut-over what waits, after it
    (producers and consumers rewired) whatever reached the source meanwhile."""

    kind = "queue"

    def preflight(self, address: str, source_url: str) -> list[str]:
        from platform_sdk.runtime.queues import open_queue

        try:
            if not open_queue(source_url).exists():
                return [f"{address}: its source queue {source_url} does not exist"]
        except Exception as err:  # noqa: BLE001 - any failure to reach it is the problem reported
            return [f"{address}: cannot reach its source queue: {type(err).__name__}: {err}"]
        return []

    def ready(self, address: str, pair: Pair) -> None:
        from platform_sdk.move.queue import preflight_queue

        preflight_queue(address, pair["source"], pair["target"])

    def copy(self, ctx: CopyContext, address: str, pair: Pair, phase: str) -> dict[str, Any]:
        from platform_sdk.move.queue import drain_queue

        drained = drain_queue(address, pair["source"], pair["target"])
        return {"resource": address, "phase": phase, "kind": "queue", "queue": drained.to_json()}

    def leftovers(self, ctx: CopyContext, address: str, pair: Pair) -> tuple[dict[str, Any], list[str]]:
        """Messages the source queue holds now (waiting, in flight, dead-lettered): removing it would lose them. The
        entry has phase `cleanup` and a drain's shape (nothing moved; `verified` when the source is empty)."""
        from platform_sdk.move.queue import held

        counts = held(pair["source"])
        only = [f"{n} {what} message(s)" for n, what in ((counts.visible, "waiting"), (counts.in_flight, "in-flight"),
                                                        (counts.dead_letter, "dead-lettered")) if n]
        # the shape of a drain's entry (`QueueDrain`): nothing moved, `verified` when the source holds nothing
        return ({"resource": address, "phase": "cleanup", "kind": "queue",
                 "queue": {"resource": address, "moved": 0, "dead_lettered_moved": 0, "rounds": 0,
                           "waited_for_in_flight": False, "verified": not only,
                           "source_after": [counts.visible, counts.in_flight, counts.dead_letter]}}, only)

    def give_back(self, address: str, pair: Pair) -> dict[str, Any]:
        """Before its twin is removed (an abort): every message the twin holds goes back to the source queue, and
        the twin is proven empty (`move.queue.drain_queue` the other way). Raises PlatformError when it is not."""
        from platform_sdk.move.queue import QueueDrain, drain_queue
        from platform_sdk.runtime.queues import open_queue

        if not open_queue(pair["target"]).exists():  # never created, or removed by an earlier run of this abort
            back = QueueDrain(address, verified=True)
        else:
            back = drain_queue(address, pair["target"], pair["source"], quiet_seconds=0.5)
        return {"resource": address, "phase": "abort", "kind": "queue", "queue": back.to_json()}


MOVERS: dict[str, Mover] = {m.kind: m for m in (BucketMover(), DatabaseMover(), SecretMover(), QueueMover())}


def register(mover: Mover) -> None:
    """Let moves carry a new stateful kind (its data, preflight and verification)."""
    MOVERS[mover.kind] = mover


def mover(kind: str) -> Mover | None:
    return MOVERS.get(kind)
