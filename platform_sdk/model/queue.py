"""The Queue kind: durable messages between functions, delivered at least once, dead-lettered after `max_attempts`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from platform_sdk.model.alarms import Alarms
from platform_sdk.model.base import Resource, is_whole

RETENTION_DAYS = (1, 14)
"""Inclusive range of `retention_days`: the widest any cloud keeps an unconsumed message (SQS: 14 days). A cloud
that keeps them for less refuses more at placement (Pub/Sub subscriptions: 7 days)."""
MAX_ATTEMPTS = (1, 100)
"""Inclusive range of `max_attempts` (Pub/Sub's dead-letter policy takes 5 to 100; SQS 1 to 1000)."""

OPERATIONS: Mapping[str, tuple[str, ...]] = {"send": ("send",)}
"""Grant access level -> the runtime operations it allows. `fn.sends(queue)` grants "send"."""

OPERATION_DESCRIPTIONS: Mapping[str, str] = {
    "send": "put one message on the queue (runtime: queue(name).send(body, attributes=...))",
}
"""What each operation in `OPERATIONS` does, and the runtime client method that performs it."""


@dataclass(eq=False)
class Queue(Resource):
    """A durable queue: functions granted `fn.sends(queue)` put messages on it, functions triggered by
    `queue_message(queue)` consume them.

    Delivery is at least once on every cloud (SQS, Pub/Sub and the local cloud may all deliver a message twice):
    handlers get the message's `id` to de-duplicate. A message whose handler fails is delivered again; after
    `max_attempts` failed deliveries it moves to the queue's dead-letter queue, where it is kept (not lost) for
    `retention_days`.

    Attributes:
        name: Required. The neutral name, see `Resource`.
        retention_days: How long an unconsumed message (and a dead-lettered one) is kept, whole days from 1 to 14.
            Default 4 (SQS's default). Raises `ModelError` (key `retention_days`) otherwise; GCP refuses more than 7
            (a Pub/Sub subscription keeps unacknowledged messages for at most 7 days).
        max_attempts: Deliveries of one message before it is dead-lettered, a whole number from 1 to 100. Default
            5. Raises `ModelError` (key `max_attempts`) otherwise; GCP refuses fewer than 5 (Pub/Sub's dead-letter
            policy minimum).
        alarms: Thresholds of the queue's alarms (`oldest_message_age` in seconds, `dead_letters` waiting in its
            dead-letter queue), see `Alarms`. Default `Alarms()`: the profile's, else the built-in defaults. Raises
            `ModelError` (key `alarms` or `alarms.<setting>`) unless an `Alarms` with valid queue settings.
        consumers: The functions with a `queue_message(queue)` trigger on it (set by `Function`, not an argument).

    Raises:
        ModelError: on any invalid setting, naming the file and line of the declaration, the key and the value.
    """

    kind: ClassVar[str] = "queue"
    operations: ClassVar[Mapping[str, tuple[str, ...]]] = OPERATIONS
    overridable: ClassVar[tuple[str, ...]] = ("retention_days", "max_attempts", "alarms")
    retention_days: int = 4
    max_attempts: int = 5
    alarms: Alarms = field(default_factory=Alarms)
    consumers: list[Resource] = field(default_factory=list, init=False, repr=False)  # Functions (set by Function)

    def __post_init__(self) -> None:
        super().__post_init__()
        for key, (low, high), unit in (("retention_days", RETENTION_DAYS, " days"),
                                       ("max_attempts", MAX_ATTEMPTS, "")):
            value = getattr(self, key)
            if not is_whole(value) or not low <= value <= high:
                raise self.error(f"{key} must be a whole number from {low} to {high}{unit}", key, value)
        if not isinstance(self.alarms, Alarms):
            raise self.error("alarms must be Alarms(...), like alarms=Alarms(oldest_message_age=600)", "alarms",
                             self.alarms)
        self.alarms.check("queue", self.error)
