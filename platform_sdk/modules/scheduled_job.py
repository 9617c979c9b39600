"""ScheduledJob: a function that runs on a cron schedule (UTC)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from platform_sdk.model import Function, schedule
from platform_sdk.modules.base import FunctionGrants, Module


@dataclass(eq=False, kw_only=True)
class ScheduledJob(FunctionGrants, Module):
    """`handler(tick)` in `source`, run on every `cron` expression (five fields, UTC; one or several).

    Part: `function` (named `{name}`). Grant it what it needs: `job.uses(db)`, `job.reads(bucket)`.
    Defaults are a Function's (256 MB, 30 s): raise `timeout` for batch work, up to the profile's limit.
    """

    parts: ClassVar[dict[str, str]] = {"function": "{name}"}
    handler: str
    source: str | Path
    cron: str | Sequence[str]
    memory: int = 256
    timeout: int = 30
    runtime: str = "python3.11"
    environment: dict[str, str] = field(default_factory=dict)
    function: Function = field(init=False, repr=False)

    def build(self) -> None:
        crons = [self.cron] if isinstance(self.cron, str) else list(self.cron or [])
        if not crons:
            raise self.error("cron needs at least one five-field cron expression like '0 3 * * *'", "cron",
                             self.cron)
        self.function = self.add_part("function", Function(
            self.part_name("function"), handler=self.handler, source=self.resolve(self.source), runtime=self.runtime,
            memory=self.memory, timeout=self.timeout, environment=dict(self.environment),
            triggers=[schedule(c) for c in crons],
        ))
