"""ScheduledJob: a function that runs on a cron schedule (UTC)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from platform_sdk.model import Function, FunctionSpec, schedule
from platform_sdk.modules.base import FunctionGrants, Module


@dataclass(eq=False, kw_only=True)
class ScheduledJob(FunctionGrants, Module, FunctionSpec):
    """`handler(tick)` in `source`, run on every `cron` expression (five fields, UTC; one or several).

    Part: `function` (named `{name}`). Grant it what it needs: `job.uses(db)`, `job.reads(bucket)`.
    Defaults are a Function's (256 MB, 30 s): raise `timeout` for batch work, up to the profile's limit.

    Attributes:
        handler: Required. `module.function` in `source`, called with the tick. Raises `ModelError` (key
            `handler`) unless it looks like that.
        source: Required. The code's directory, relative to the file declaring the module.
        cron: Required. One five-field cron expression (UTC) or a list of them, like `"0 3 * * *"`. Raises
            `ModelError` (key `cron` when empty, `schedule` naming the field out of range).
        runtime, memory, timeout, environment: the function's settings, see `FunctionSpec` (units, defaults
            and errors).
        function: The `Function` part (not a constructor argument).
    """

    parts: ClassVar[dict[str, str]] = {"function": "{name}"}
    handler: str
    source: str | Path
    cron: str | Sequence[str]
    function: Function = field(init=False, repr=False)

    def build(self) -> None:
        crons = [self.cron] if isinstance(self.cron, str) else list(self.cron or [])
        if not crons:
            raise self.error("cron needs at least one five-field cron expression like '0 3 * * *'", "cron",
                             self.cron)
        self.function = self.add_part("function", Function(
            self.part_name("function"), handler=self.handler, source=self.resolve(self.source),
            triggers=[schedule(c) for c in crons], **FunctionSpec.of(self),
        ))
