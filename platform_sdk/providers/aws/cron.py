"""Five-field cron (`m h dom mon dow`, the neutral form) -> EventBridge's six-field `cron(m h dom mon dow year)`.

Differences handled: EventBridge wants exactly one of day-of-month / day-of-week to be `?`, numbers days of the
week 1-7 from Sunday (classic cron: 0-7, both 0 and 7 are Sunday), and writes increments as `start/step`.
"""

from __future__ import annotations

import re

_FIELD = re.compile(r"^[0-9A-Za-z*,/-]+$")
_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


class CronError(ValueError):
    """The expression cannot be expressed as an EventBridge schedule."""


def _steps(field: str, first: str) -> str:
    """`*/15` -> `0/15` (EventBridge needs a start value for increments)."""
    return ",".join(f"{first}/{part[2:]}" if part.startswith("*/") else part for part in field.split(","))


def _day(value: str) -> int:
    if value.upper() in _DAY_NAMES:
        return _DAY_NAMES.index(value.upper()) + 1
    if not value.isdigit() or not 0 <= int(value) <= 7:
        raise CronError(f"day of week {value!r} is not 0-7 or SUN-SAT")
    return int(value) % 7 + 1


def _day_of_week(field: str) -> str:
    """Renumber days of the week; a range ending on Sunday (`5-7`) wraps to `6-7,1`."""
    parts = []
    for part in field.split(","):
        if part.startswith("*"):
            parts.append(_steps(part, "1"))
            continue
        span, _, step = part.partition("/")
        start, _, end = span.partition("-")
        first = _day(start)
        if not end:
            parts.append(f"{first}/{step}" if step else str(first))
            continue
        last = _day(end)
        if last >= first:
            parts.append(f"{first}-{last}" + (f"/{step}" if step else ""))
        elif last == 1 and not step:  # ends on Sunday: 7 -> 1
            parts.append(f"{first}-7,1")
        else:
            raise CronError(f"day-of-week range {part!r} cannot be written for EventBridge")
    return ",".join(parts)


def to_eventbridge(expression: str) -> str:
    """`0 3 * * *` -> `cron(0 3 * * ? *)`; raises CronError when EventBridge cannot express it."""
    fields = expression.split()
    if len(fields) != 5:
        raise CronError(f"{expression!r} is not a five-field cron expression")
    for field in fields:
        if not _FIELD.match(field):
            raise CronError(f"field {field!r} of {expression!r} has characters cron does not use")
    minute, hour, dom, month, dow = fields
    if dom not in ("*", "?") and dow not in ("*", "?"):
        raise CronError(f"{expression!r} restricts both day of month and day of week; EventBridge allows one")
    if dow in ("*", "?"):
        dom, dow = _steps(dom if dom != "?" else "*", "1"), "?"
    else:
        dom, dow = "?", _day_of_week(dow)
    return f"cron({_steps(minute, '0')} {_steps(hour, '0')} {dom} {_steps(month, '1')} {dow} *)"
