"""Schedules of the local cloud's functions: each fires on its cron expression, in UTC (croniter).

`Scheduler.run` sleeps until the next schedule is due (at most SCHEDULER_MAX_SLEEP seconds, so a re-apply is
noticed), calls `fire(entry, cron, scheduled time)` for every due one, and moves it to its next time. Runs missed
while the machine slept are skipped, not replayed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from platform_sdk.localcloud.registry import FunctionEntry

log = logging.getLogger("platform.dev")
SCHEDULER_MAX_SLEEP = 30.0
"""Longest sleep between two looks at the schedule table, in seconds."""


class Scheduler:
    """Fires every function schedule on its cron (UTC). `update` replaces the table after a re-apply."""

    def __init__(self, fire: Callable[[FunctionEntry, str, datetime], None],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.fire = fire
        self.clock = clock
        self._table: dict[tuple[str, str], tuple[FunctionEntry, datetime]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()

    @staticmethod
    def next_time(cron: str, after: datetime) -> datetime:
        from croniter import croniter

        following: datetime = croniter(cron, after).get_next(datetime)
        return following

    def update(self, functions: Iterable[FunctionEntry]) -> None:
        now = self.clock()
        with self._lock:
            table: dict[tuple[str, str], tuple[FunctionEntry, datetime]] = {}
            for entry in functions:
                for cron in entry.schedules:
                    key = (entry.name, cron)
                    if key in self._table:
                        table[key] = (entry, self._table[key][1])
                        continue
                    try:
                        table[key] = (entry, self.next_time(cron, now))
                    except (ValueError, KeyError) as exc:
                        log.error("function %s: cannot schedule %r: %s", entry.name, cron, exc)
            self._table = table
        self._wake.set()

    def schedules(self) -> list[dict[str, str]]:
        with self._lock:
            return [{"function": name, "cron": cron, "next": when.isoformat()}
                    for (name, cron), (_, when) in sorted(self._table.items())]

    def due(self) -> tuple[list[tuple[FunctionEntry, str, datetime]], float]:
        """Schedules due now (their next run moves on) and how long to sleep until the next one."""
        now = self.clock()
        fired: list[tuple[FunctionEntry, str, datetime]] = []
        with self._lock:
            for key, (entry, when) in list(self._table.items()):
                if when <= now:
                    fired.append((entry, key[1], when))
                    # after a long sleep (laptop suspended) skip the missed runs rather than replay them
                    self._table[key] = (entry, self.next_time(key[1], max(when, now)))
            upcoming = [when for _, when in self._table.values()]
        sleep = min([(w - now).total_seconds() for w in upcoming] + [SCHEDULER_MAX_SLEEP])
        return fired, max(sleep, 0.05)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            fired, sleep = self.due()
            for entry, cron, when in fired:
                self.fire(entry, cron, when)
            self._wake.wait(sleep)
            self._wake.clear()

    def wake(self) -> None:
        self._wake.set()
