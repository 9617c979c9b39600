"""Alarms: the thresholds at which a resource's alarms fire. Every function and CDN has alarms by default.

Where a threshold comes from, the first that sets it winning:

1. the environment file: `[overrides."service.resource".alarms]` (`errors = 5`), merged key by key into the
   declaration (platform_sdk.synth.overrides);
2. the declaration: `Function(..., alarms=Alarms(errors=5, p95_duration=2000))`;
3. the platform team's profile: `Profile(alarms=Alarms(period=600))`;
4. the built-in defaults (`DEFAULTS`, and 80 % of the function's timeout for `p95_duration`).

Which alarms a kind has is the per-kind table `ALARM_KEYS`: a new kind (a `Queue`) adds its keys there, its
fields here, and one alarm builder per cloud plug-in (the plug-ins' `alarms.py` tables, keyed by kind).
Each alarm notifies the environment's alert channel (`[alerts]` in the environment file).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from platform_sdk.model.base import ErrorFactory, is_whole

ALARM_KEYS: dict[str, tuple[str, ...]] = {
    "function": ("errors", "throttles", "p95_duration"),
    "cdn": ("error_rate_5xx",),
    "queue": ("oldest_message_age", "dead_letters"),
}
"""Kind -> the alarms every resource of that kind gets (a key of `Alarms` each): the per-kind hook a new kind
extends, with its fields in `Alarms` and one alarm builder per cloud plug-in."""

GENERAL_KEYS = ("enabled", "period")
"""Keys of `Alarms` that apply to every kind."""

P95_SHARE_OF_TIMEOUT = 0.8
"""Default `p95_duration`: this share of the function's timeout (a p95 that close to the timeout means some
invocations are being cut off)."""


@dataclass(frozen=True)
class Alarms:
    """Alarm thresholds of one resource (`Function(alarms=...)`, `Cdn(alarms=...)`, `Profile(alarms=...)`).

    Every setting defaults to `None`: not set here, so the next source decides (environment file > declaration >
    profile > built-in default, see the module docstring). A threshold of `0` turns that one alarm off. An alarm
    fires when its metric reaches the threshold within one `period`.

    Attributes:
        enabled: `False` turns every alarm of the resource off. Built-in default `True`.
        errors: Function invocations that failed (an exception, a 5xx), per period, that raise the alarm: a whole
            number >= 0. Built-in default 1.
        throttles: Function invocations refused for lack of capacity (AWS throttles, GCP 429 responses), per
            period: a whole number >= 0. Built-in default 1.
        p95_duration: The 95th percentile of a function's duration, in milliseconds, above which the alarm fires:
            a whole number >= 0. Built-in default 80 % of the function's `timeout`.
        error_rate_5xx: A CDN's share of responses with a 5xx status, in percent (0 to 100, may be fractional)
            above which the alarm fires. Built-in default 5.
        oldest_message_age: The age in seconds of a queue's oldest unconsumed message at which the alarm fires
            (consumers failing or falling behind): a whole number >= 0. Built-in default 900.
        dead_letters: Messages waiting in a queue's dead-letter queue (failed `max_attempts` times) at which the
            alarm fires: a whole number >= 0. Built-in default 1.
        period: The evaluation window in seconds: a whole number of minutes from 60 to 86400. Built-in default 300.

    Raises:
        ModelError: (key `alarms.<setting>`, from the kind that holds it) a value of the wrong type or out of range,
            or a setting the kind has no alarm for (`error_rate_5xx` on a function, `errors` on a queue).
    """

    enabled: bool | None = None
    errors: int | None = None
    throttles: int | None = None
    p95_duration: int | None = None
    error_rate_5xx: float | None = None
    oldest_message_age: int | None = None
    dead_letters: int | None = None
    period: int | None = None

    def check(self, kind: str, error: ErrorFactory) -> None:
        """Raise `error(message, "alarms.<key>", value)` for the first invalid setting of a `kind` resource."""
        allowed = (*GENERAL_KEYS, *ALARM_KEYS.get(kind, ()))
        for key, value in self.set_values().items():
            where = f"alarms.{key}"
            if key not in allowed:
                own = ", ".join(ALARM_KEYS.get(kind, ())) or "none"
                owners = [k for k, keys in ALARM_KEYS.items() if key in keys]
                plural = " and ".join({"cdn": "CDNs"}.get(o, o + "s") for o in owners)
                raise error(f"{key} is an alarm of {plural}; a {kind}'s alarms are: "
                            f"{own} (and {', '.join(GENERAL_KEYS)})", where, value)
            if key == "enabled":
                if not isinstance(value, bool):
                    raise error("alarms.enabled must be true or false", where, value)
            elif key == "period":
                if not is_whole(value) or not 60 <= value <= 86400 or value % 60:
                    raise error("alarms.period must be a whole number of minutes in seconds, from 60 to 86400",
                                where, value)
            elif key == "error_rate_5xx":
                number = isinstance(value, (int, float)) and not isinstance(value, bool)
                if not number or not math.isfinite(value) or not 0 <= value <= 100:
                    raise error("alarms.error_rate_5xx must be a percentage from 0 to 100", where, value)
            elif not is_whole(value) or value < 0:
                unit = {"p95_duration": "milliseconds", "oldest_message_age": "seconds",
                        "dead_letters": "a count of messages"}.get(key, "a count per period")
                raise error(f"alarms.{key} must be a whole number >= 0 ({unit}; 0 turns the alarm off)", where, value)

    def set_values(self) -> dict[str, Any]:
        """The settings given here (not None), in field order."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    def over(self, base: Alarms | None) -> Alarms:
        """These settings, and `base`'s where these are not set."""
        if base is None:
            return self
        return Alarms(**{**base.set_values(), **self.set_values()})


DEFAULTS = Alarms(enabled=True, errors=1, throttles=1, error_rate_5xx=5.0, oldest_message_age=900, dead_letters=1,
                  period=300)
"""The built-in defaults (`p95_duration` is derived from the timeout)."""


@dataclass(frozen=True)
class AlarmThreshold:
    """One alarm to build: which (a key of `Alarms`), the threshold, and the period in seconds."""

    key: str
    threshold: float
    period: int


def alarm_thresholds(kind: str, declared: Alarms | None, profile: Alarms | None = None,
                     timeout_s: int | None = None) -> list[AlarmThreshold]:
    """The alarms a `kind` resource gets, in `ALARM_KEYS` order: declared settings over the profile's over the
    built-in defaults; none when `enabled` is false; a threshold of 0 leaves that alarm out.

    `timeout_s`: the function's timeout, for the default `p95_duration` (80 % of it, in milliseconds).
    """
    effective = (declared or Alarms()).over(profile).over(DEFAULTS)
    if not effective.enabled:
        return []
    period = int(effective.period or 300)
    found = []
    for key in ALARM_KEYS.get(kind, ()):
        value = getattr(effective, key)
        if value is None and key == "p95_duration" and timeout_s:
            value = int(timeout_s * 1000 * P95_SHARE_OF_TIMEOUT)
        if value:
            found.append(AlarmThreshold(key, float(value), period))
    return found
