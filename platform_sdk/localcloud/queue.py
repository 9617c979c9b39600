"""`localcloud_queue`: a queue as a directory holding one SQLite file of messages, delivered by `platform dev`.

Layout: `<root>/queues/<name>/queue.sqlite` (the store of `platform_sdk.providers.local.runtime.queues`, opened here
through the neutral `open_queue`, so one module owns the format). `max_attempts` and `retention_days` are written
into the store on create and update. Destroying a queue that holds messages (dead-lettered ones included) is
refused unless force_destroy is set or data loss was allowed (`platform apply --allow-data-loss`).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from tf.utils import Diagnostics

from platform_sdk.localcloud import switches
from platform_sdk.localcloud.base import (
    BOOL,
    NUMBER,
    STRING,
    LocalResource,
    State,
    as_int,
    check_positive,
    computed,
    optional,
    required,
)

if TYPE_CHECKING:
    from platform_sdk.runtime.queues import QueueCounts

DAY_SECONDS = 86400


class ManagedQueue(Protocol):
    """What the local queue store offers beyond the neutral client: its settings."""

    def configure(self, max_attempts: int, retention_seconds: int) -> None: ...

    def counts(self) -> QueueCounts: ...


class Queue(LocalResource):
    """A local queue; refuses to be destroyed while it holds messages (unless forced)."""

    type_suffix = "queue"
    attributes = [
        computed("id", STRING, "Same as name."),
        required("name", STRING, "Queue name (a directory name under <root>/queues).", replace=True),
        optional("max_attempts", NUMBER, "Deliveries before a message is dead-lettered.", default=5),
        optional("retention_days", NUMBER, "Days a message is kept.", default=4),
        optional("force_destroy", BOOL, "Allow destroying the queue while it holds messages.", default=False),
        computed("path", STRING, "Absolute directory of the queue.", replace=True),
        computed("url", STRING, "file:// URL of the queue directory (what functions are told)."),
    ]

    def validate(self, diags: Diagnostics, config: State) -> None:
        super().validate(diags, config)
        check_positive(diags, config, "max_attempts")
        check_positive(diags, config, "retention_days")

    def computed_values(self, state: State) -> State:
        return self.directory_values(state, "queues")

    def _store(self, state: State) -> ManagedQueue:
        from platform_sdk.runtime.queues import open_queue  # not at the top: see base.py's docstring

        return cast(ManagedQueue, open_queue(Path(state["path"]).as_uri()))

    def _configure(self, state: State) -> State:
        Path(state["path"]).mkdir(parents=True, exist_ok=True)
        self._store(state).configure(int(as_int(state.get("max_attempts") or 5)),
                                     int(as_int(state.get("retention_days") or 4)) * DAY_SECONDS)
        return state

    def create(self, diags: Diagnostics, planned: State) -> State | None:
        state = self.finish(planned)
        if Path(state["path"]).is_dir():
            diags.add_warning(f"Queue {state['name']} already existed and was adopted", "Its messages were kept.")
        return self._configure(state)

    def read(self, diags: Diagnostics, current: State) -> State | None:
        path = Path(current.get("path") or self.computed_values(current)["path"])
        return dict(current) if path.is_dir() else None

    def update(self, diags: Diagnostics, prior: State, planned: State) -> State | None:
        return self._configure(self.finish(planned))

    def delete(self, diags: Diagnostics, prior: State) -> None:
        path = Path(prior["path"])
        held: Any = 0
        if path.is_dir():
            held = self._store(prior).counts().total
        if held and not prior.get("force_destroy") and not switches.data_loss_allowed():
            diags.add_error(
                f"Queue {prior['name']} holds {held} message(s); refusing to destroy it",
                f"{path} was kept. Drain it, destroy it with data loss allowed (platform destroy --allow-data-loss), "
                "or set force_destroy = true, apply, and destroy again.",
            )
            return
        shutil.rmtree(path, ignore_errors=True)
