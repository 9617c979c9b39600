"""Drain a queue into its twin on another cloud: what a move does with a queue's messages.

`drain_queue(source_url, target_url)` moves every message of the source to the target through the clouds' APIs
(`platform_sdk.runtime.queues.open_queue`): waiting messages, messages in flight (handed to a consumer and not yet
acknowledged: the drain waits until they are acknowledged, which removes them, or come back, when they are moved) and
dead-lettered ones (to the target's dead-letter queue, so they stay dead-lettered). Each message is sent to the target
first and only then deleted from the source, with its id kept (`message_id`): a drain interrupted between the two
steps sends it again under the same id, which the local store ignores and handlers de-duplicate on, so the drain adds
no loss and no duplicate of its own. It runs until the source has stayed empty for `quiet_seconds` (producers still
sending to the source during the move are drained too; the move switches them to the target first), or raises when
`timeout_seconds` pass first. Verification is by counts: every message taken from the source was accepted by the
target, and the source reports none left.

The move engine calls it between rewiring producers and consumers and removing the source (issue 15 wires it into
preflight, abort and rollback: `preflight_queue` checks both ends exist before anything moves). The copy pass before
cut-over drains what waits into the twin, which nothing consumes until the cut-over: an abort therefore drains the
twin back into the source before the twin is removed or kept (`QueueMover.give_back`), and the move's cleanup keeps
a source queue that still holds messages (`QueueMover.leftovers`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from platform_sdk.errors import PlatformError
from platform_sdk.runtime.queues import QueueClient, QueueCounts, open_queue

RECEIVE_BATCH = 10
VISIBILITY_SECONDS = 60
"""How long a message the drain received stays invisible to the source's consumers while it is being moved."""


@dataclass
class QueueDrain:
    """What draining one queue did: messages moved (live and dead-lettered), rounds, and the counts it verified."""

    resource: str
    moved: int = 0
    dead_lettered_moved: int = 0
    rounds: int = 0
    waited_for_in_flight: bool = False
    source_after: tuple[int, int, int] = (0, 0, 0)
    verified: bool = False

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def preflight_queue(address: str, source_url: str, target_url: str) -> None:
    """Both queues exist (the target twin was created) before any message moves.

    Raises:
        PlatformError: one side is missing, naming the queue and which side.
    """
    for role, url in (("source", source_url), ("target", target_url)):
        if not open_queue(url).exists():
            raise PlatformError(f"the {role} of queue {address} does not exist; nothing was moved: re-run the move "
                                "(its target step creates the twin)", value=address)


def held(url: str) -> QueueCounts:
    """What one queue holds now (waiting, in flight, dead-lettered)."""
    return open_queue(url).counts()


def _move_batch(source: QueueClient, target: QueueClient, dead_letter: bool) -> int:
    messages = source.receive(RECEIVE_BATCH, VISIBILITY_SECONDS, dead_letter=dead_letter)
    for message in messages:
        target.send(message.body, message.attributes, message_id=message.id, dead_letter=dead_letter)
        source.delete(message, dead_letter=dead_letter)
    return len(messages)


def drain_queue(address: str, source_url: str, target_url: str, *, quiet_seconds: float = 2.0,
                timeout_seconds: float = 900.0, poll_seconds: float = 0.2,
                clock: Callable[[], float] = time.monotonic) -> QueueDrain:
    """Move every message of the source queue to the target queue (see the module docstring).

    Raises:
        PlatformError: the source still holds messages after `timeout_seconds` (nothing is lost: whatever was not
            moved is still in the source), naming the counts.
    """
    source, target = open_queue(source_url), open_queue(target_url)
    report = QueueDrain(address)
    started = clock()
    quiet_since: float | None = None
    while True:
        report.rounds += 1
        moved = _move_batch(source, target, dead_letter=False)
        dead = _move_batch(source, target, dead_letter=True)
        report.moved += moved
        report.dead_lettered_moved += dead
        counts: QueueCounts = source.counts()
        if moved or dead or counts.total:
            quiet_since = None
            report.waited_for_in_flight |= counts.in_flight > 0
        elif quiet_since is None:
            quiet_since = clock()
        elif clock() - quiet_since >= quiet_seconds:
            report.source_after = (counts.visible, counts.in_flight, counts.dead_letter)
            report.verified = counts.total == 0
            return report
        if clock() - started > timeout_seconds:
            raise PlatformError(f"queue {address} still holds {counts.visible} waiting, {counts.in_flight} in-flight "
                                f"and {counts.dead_letter} dead-lettered message(s) after {timeout_seconds:g}s; "
                                f"{report.moved + report.dead_lettered_moved} were moved, none lost: re-run the move",
                                value=address)
        if not (moved or dead):
            time.sleep(poll_seconds)
