"""`platform logs`: what one service's (or one function's) deployed functions logged, from each cloud's own log
service (CloudWatch Logs, Cloud Logging, the local cloud's function logs), with request ids; `follow` polls.

Which functions, and where they live, comes from the synthesized stacks (`function_refs`), like `platform status`;
each cloud's plug-in reads its logs (`CloudPlugin.fetch_logs`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from platform_sdk import providers
from platform_sdk.errors import PlatformError, did_you_mean
from platform_sdk.providers.base import FunctionRef, LogEntry
from platform_sdk.status import function_refs, function_types

DURATION = re.compile(r"^(\d+)([smhd])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """`1h`, `30m`, `2d`, `45s` ago, or an RFC 3339 time (`2026-11-30T08:00:00Z`), as aware UTC.

    Raises:
        PlatformError: (key `--since`) anything else.
    """
    now = now or datetime.now(UTC)
    match = DURATION.match(value.strip())
    if match:
        return now - timedelta(**{UNITS[match.group(2)]: int(match.group(1))})
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise PlatformError("--since takes a duration like 30m, 1h or 2d, or a time like 2026-11-30T08:00:00Z",
                            key="--since", value=value) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def select(refs: list[FunctionRef], target: str) -> list[FunctionRef]:
    """The functions `SERVICE` or `SERVICE.FUNCTION` names.

    Raises:
        PlatformError: (key `SERVICE[.FUNCTION]`) it names no function, with the known ones.
    """
    service, _, function = target.partition(".")
    chosen = [r for r in refs if r.service == service and (not function or r.function == function)]
    if not chosen:
        known = sorted({r.service for r in refs} | {r.address for r in refs})
        raise PlatformError(f"no function of the environment is {target!r}{did_you_mean(target, known)} "
                            f"(functions: {', '.join(sorted(r.address for r in refs)) or 'none'})",
                            key="SERVICE[.FUNCTION]", value=target)
    return chosen


def fetch(project_root: Path, env: Any, refs: list[FunctionRef], since: datetime,
          clients: Mapping[str, Any] | None = None) -> list[LogEntry]:
    """Every chosen function's entries since `since`, each cloud asked through its plug-in, oldest first."""
    types = function_types()
    by_plugin: dict[str, list[FunctionRef]] = {}
    for ref in refs:
        by_plugin.setdefault(types[ref.resource.split(".", 1)[0]][0], []).append(ref)
    found: list[LogEntry] = []
    for name, chosen in sorted(by_plugin.items()):
        try:
            found += providers.plugin(name).fetch_logs(project_root, env, chosen, since,
                                                       client=(clients or {}).get(name))
        except PlatformError:
            raise
        except Exception as err:  # noqa: BLE001 - credentials, network, API errors: one clear message
            raise PlatformError(f"cannot read the logs of {', '.join(r.address for r in chosen)} on {name}: "
                                f"{type(err).__name__}: {err}", key="--env", value=env.name) from None
    return sorted(found, key=lambda e: (e.time, e.function))


def follow(project_root: Path, env: Any, refs: list[FunctionRef], since: datetime, *, poll_s: float = 2.0,
           clients: Mapping[str, Any] | None = None, stop: Callable[[], bool] = lambda: False) -> Iterator[LogEntry]:
    """Entries since `since`, then new ones as they arrive (polling every `poll_s` seconds) until `stop()`; an
    entry seen once is never repeated (clouds return the last second again when asked from it)."""
    seen: set[tuple[str, str, str | None, str]] = set()
    cursor = since
    while True:
        for entry in fetch(project_root, env, refs, cursor, clients):
            key = (entry.time.isoformat(), entry.function, entry.request_id, entry.message)
            if key not in seen:
                seen.add(key)
                yield entry
            cursor = max(cursor, entry.time - timedelta(seconds=1))
        if stop():
            return
        time.sleep(poll_s)


def load_refs(outdir: Path) -> list[FunctionRef]:
    return function_refs(outdir)
