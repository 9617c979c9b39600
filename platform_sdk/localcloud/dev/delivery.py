"""Queue delivery for `platform dev`: every function's `queue_message` triggers, polled from their SQLite stores.

`QueueDelivery.run` looks at every (function, queue) pair every `POLL_SECONDS`; when the pair is idle it takes up to
`batch_size` messages (invisible for the function's timeout plus a margin) and hands them to `deliver`, which runs
the function and answers which failed. Delivered messages are deleted; failed ones come back after a backoff
(`retry_delay`: `RETRY_BASE_SECONDS` doubling per attempt, at most `RETRY_MAX_SECONDS`), and once a message has used
its queue's `max_attempts` the store moves it to the dead-letter queue. A crash or timeout fails the whole batch.
At least once, as on the clouds: a gateway stopped mid-delivery redelivers those messages after their visibility.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol, cast

from platform_sdk.localcloud.registry import FunctionEntry, QueueTrigger, Registry
from platform_sdk.runtime.queues import QueuedMessage, open_queue

log = logging.getLogger("platform.dev")
POLL_SECONDS = 0.1
RETRY_BASE_SECONDS = 0.5
RETRY_MAX_SECONDS = 30.0
VISIBILITY_MARGIN_SECONDS = 5


class LocalStore(Protocol):
    """The local queue store's operations delivery needs (`platform_sdk.providers.local.runtime.queues.LocalQueue`)."""

    def receive(self, max_messages: int = 10, visibility_seconds: int = 30,
                dead_letter: bool = False) -> list[QueuedMessage]: ...

    def delete(self, message: QueuedMessage, dead_letter: bool = False) -> None: ...

    def release(self, message: QueuedMessage, delay_seconds: float) -> None: ...

    def exists(self) -> bool: ...


def retry_delay(attempt: int, base: float = RETRY_BASE_SECONDS) -> float:
    """Seconds before a message that failed its `attempt`-th delivery is delivered again."""
    return float(min(base * 2 ** max(attempt - 1, 0), RETRY_MAX_SECONDS))


Deliver = Callable[[FunctionEntry, QueueTrigger, list[QueuedMessage]], list[str] | None]
"""Run the function on a batch: the ids that failed, or None when the whole batch failed (crash, timeout)."""


class QueueDelivery:
    """Polls every queue trigger of the registry and delivers batches through `submit(deliver, ...)`."""

    def __init__(self, registry: Registry, deliver: Deliver, submit: Callable[..., None],
                 retry_base: float = RETRY_BASE_SECONDS) -> None:
        self.registry = registry
        self.deliver = deliver
        self.submit = submit
        self.retry_base = retry_base
        self._busy: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def _store(self, url: str) -> LocalStore:
        return cast(LocalStore, open_queue(url))

    def poll_once(self) -> int:
        """Start a delivery for every idle pair with messages waiting; returns how many started."""
        started = 0
        for entry in self.registry.functions():
            for trigger in entry.queues:
                key = (entry.name, trigger.queue)
                with self._lock:
                    if key in self._busy:
                        continue
                try:
                    store = self._store(trigger.url)
                    if not store.exists():
                        continue
                    messages = store.receive(trigger.batch_size, int(entry.timeout) + VISIBILITY_MARGIN_SECONDS)
                except Exception as exc:  # a store being created or destroyed: try again next time
                    log.warning("queue %s of fn=%s: %s", trigger.queue, entry.name, exc)
                    continue
                if not messages:
                    continue
                with self._lock:
                    self._busy.add(key)
                self.submit(self._run, entry, trigger, store, messages)
                started += 1
        return started

    def _run(self, entry: FunctionEntry, trigger: QueueTrigger, store: LocalStore,
             messages: list[QueuedMessage]) -> None:
        try:
            failed = self.deliver(entry, trigger, messages)
            failed_ids = {m.id for m in messages} if failed is None else set(failed)
            for message in messages:
                if message.id in failed_ids:
                    store.release(message, retry_delay(message.attempt, self.retry_base))
                else:
                    store.delete(message)
        finally:
            with self._lock:
                self._busy.discard((entry.name, trigger.queue))

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.poll_once()
            except Exception as exc:  # never let the delivery thread die
                log.error("queue delivery: %r", exc)
            stop.wait(POLL_SECONDS)


def message_json(message: QueuedMessage) -> dict[str, Any]:
    """A message as the local adapter's `queue` event carries it."""
    import base64

    return {"id": message.id, "body_base64": base64.b64encode(message.body).decode("ascii"),
            "attributes": message.attributes, "attempt": message.attempt}
