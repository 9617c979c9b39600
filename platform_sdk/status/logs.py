"""`platform logs`: what one service's (or one function's) deployed functions logged, from each cloud's own log
service (CloudWatch Logs, Cloud Logging, the local cloud's function logs), with request ids; `follow` polls.

Which functions, and where they live, comes from the synthesized stacks (`function_refs`), like `platform status`;
each cloud's plug-in reads its logs (`CloudPlugin.fetch_logs`). A function a move carried from another cloud
(`platform move`, finished or not: the move record's `sources` and `cutover_at`) also has its history there: the
source cloud's log service is read for the time before the cut-over, with the function as it was named there (the
same naming convention on the source placement); every line says which cloud it came from.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
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
    """`1h`, `30m`, `2d`, `45s` ago, or an RFC 3339 time (`2026-11-30T08:00:00Z`; a time without an offset, or a
    date alone, is UTC), as aware UTC.

    Raises:
        PlatformError: (key `--since`) anything else, or a duration reaching before year 1.
    """
    now = now or datetime.now(UTC)
    match = DURATION.match(value.strip())
    try:
        if match:
            return now - timedelta(**{UNITS[match.group(2)]: int(match.group(1))})
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        problem = "is too far back" if match else "is neither a duration nor a time"
        raise PlatformError(f"{problem}: give a duration like 30m, 1h or 2d, or a time like 2026-11-30T08:00:00Z",
                            key="--since", value=value) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def select(refs: list[FunctionRef], target: str) -> list[FunctionRef]:
    """The functions `SERVICE` or `SERVICE.FUNCTION` names.

    Raises:
        PlatformError: (key `SERVICE[.FUNCTION]`) it names no function, with the known ones.
    """
    service, dot, function = target.partition(".")
    chosen = [r for r in refs if r.service == service and (not function or r.function == function)]
    if not chosen or (dot and not function):
        known = sorted({r.service for r in refs} | {r.address for r in refs})
        raise PlatformError(f"no function of the environment is {target!r}{did_you_mean(target, known)} "
                            f"(functions: {', '.join(sorted(r.address for r in refs)) or 'none'})",
                            key="SERVICE[.FUNCTION]", value=target)
    return chosen


@dataclass(frozen=True)
class Earlier:
    """A moved function as it lived on its source cloud: `ref` (named and placed there), read from `start` (when it
    had last arrived there: the cut-over of an earlier move to that cloud; None: it began there) until `until`."""

    ref: FunctionRef
    until: datetime
    start: datetime | None = None


@dataclass(frozen=True)
class CloudLogEntry(LogEntry):
    """A log entry with the cloud (placement label) whose log service returned it."""

    cloud: str = ""

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "cloud": self.cloud}


def _parse_time(value: Any) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def earlier_refs(refs: list[FunctionRef], moves: list[dict[str, Any]], env: Any) -> list[Earlier]:
    """For each chosen function a move carried to its cloud past the cut-over (`cutover_at` set), the same function
    on the move's source cloud: its physical name is the one the naming convention gives on any placement (the
    synthesized name), its Terraform type the source plug-in's (`env.target_of`: a stand-in's plug-in). A function
    moved back and forth has one window per stay on the source cloud: from its arrival there (an earlier move's
    cut-over) to its departure, so a line is read once, and lines the old cloud logged while it lived elsewhere are
    not its history."""
    found: list[Earlier] = []
    for move in moves:
        until = _parse_time(move.get("cutover_at")) if move.get("cutover_at") else None
        if until is None:
            continue
        for ref in refs:
            source = (move.get("sources") or {}).get(ref.address)
            if source is None or source == ref.cloud or move.get("target") != ref.cloud:
                continue
            arrivals = [at for m in moves if m.get("target") == source and ref.address in (m.get("sources") or {})
                        and (at := _parse_time(m.get("cutover_at") or "")) is not None and at < until]
            target = env.target_of(source)
            function_type = providers.plugin(target).function_type
            if function_type is None:
                continue
            resource = f"{function_type[0]}.{ref.resource.split('.', 1)[-1]}"
            region, project = (ref.region, ref.project) if target == ref.target else (None, None)
            found.append(Earlier(dataclasses.replace(ref, cloud=source, target=target, resource=resource,
                                                     stack="", region=region, project=project), until,
                                 max(arrivals, default=None)))
    return found


def _read(project_root: Path, env: Any, refs: list[FunctionRef], since: datetime,
          clients: Mapping[str, Any] | None) -> list[CloudLogEntry]:
    """Each plug-in asked once per cloud label, every entry labelled with that cloud."""
    types = function_types()
    groups: dict[tuple[str, str], list[FunctionRef]] = {}
    for ref in refs:
        groups.setdefault((types[ref.resource.split(".", 1)[0]][0], ref.cloud), []).append(ref)
    found: list[CloudLogEntry] = []
    for (name, cloud), chosen in sorted(groups.items()):
        try:
            entries = providers.plugin(name).fetch_logs(project_root, env, chosen, since,
                                                        client=(clients or {}).get(name))
        except PlatformError:
            raise
        except Exception as err:  # noqa: BLE001 - credentials, network, API errors: one clear message
            raise PlatformError(f"cannot read the logs of {', '.join(r.address for r in chosen)} on {cloud}: "
                                f"{type(err).__name__}: {err}", key="--env", value=env.name) from None
        found += [CloudLogEntry(e.time, e.function, e.request_id, e.message, cloud) for e in entries]
    return found


def fetch(project_root: Path, env: Any, refs: list[FunctionRef], since: datetime,
          clients: Mapping[str, Any] | None = None, earlier: list[Earlier] | None = None,
          notes: list[str] | None = None) -> list[CloudLogEntry]:
    """Every chosen function's entries since `since`, each cloud asked through its plug-in, oldest first.

    `earlier` (`earlier_refs`): moved functions on their source cloud, read before their cut-over; when that cloud's
    logs cannot be read, one line saying so goes to `notes` (the command never fails for them).
    Raises PlatformError when the functions' current cloud cannot be read.
    """
    found = _read(project_root, env, refs, since, clients)
    read: dict[FunctionRef, list[CloudLogEntry] | PlatformError] = {}  # each source cloud's function read once
    for item in earlier or []:
        if item.until <= since:
            continue
        if item.ref not in read:
            try:
                read[item.ref] = _read(project_root, env, [item.ref], since, clients)
            except PlatformError as err:
                read[item.ref] = err
        lines = read[item.ref]
        if isinstance(lines, PlatformError):
            if notes is not None:
                notes.append(f"the logs of {item.ref.address} on {item.ref.cloud} before it moved "
                             f"({item.until:%Y-%m-%d %H:%M:%S} UTC) could not be read: {lines.message}")
            continue
        before = [e for e in lines if e.time < item.until and (item.start is None or e.time >= item.start)]
        if not before and notes is not None:
            notes.append(f"no log lines of {item.ref.address} on {item.ref.cloud} from before it moved "
                         f"({item.until:%Y-%m-%d %H:%M:%S} UTC) since {since:%Y-%m-%d %H:%M:%S} UTC: it logged "
                         "nothing there then, or that log service no longer keeps them")
        found += before
    return sorted(found, key=lambda e: (e.time, e.function))


Located = tuple[list[FunctionRef], list[Earlier]]
"""Where the chosen functions live now, and their history on other clouds (`earlier_refs`)."""


def follow(project_root: Path, env: Any, refs: list[FunctionRef], since: datetime, *, poll_s: float = 2.0,
           clients: Mapping[str, Any] | None = None, stop: Callable[[], bool] = lambda: False,
           earlier: list[Earlier] | None = None, notes: list[str] | None = None,
           locate: Callable[[], Located] | None = None) -> Iterator[LogEntry]:
    """Entries since `since`, then new ones as they arrive (polling every `poll_s` seconds) until `stop()`; an
    entry seen once is never repeated (clouds return the last second again when asked from it).

    An entry is known by its time, function, cloud and text, counted: the same text twice in one millisecond is two
    lines; its request id is not part of it (on AWS it comes from the invocation's START line, which a later poll
    may no longer reach). `locate`, asked before every poll after the first, says where the functions live now: a
    function `platform move` carries to another cloud meanwhile is followed there (while the move rewrites what
    `locate` reads, it may fail: the poll keeps the functions where they were)."""
    seen: Counter[tuple[str, str, str, str]] = Counter()
    cursor = since
    first = True
    while True:
        if locate is not None and not first:
            with contextlib.suppress(PlatformError, OSError, ValueError):
                refs, earlier = locate()
        first = False
        batch: Counter[tuple[str, str, str, str]] = Counter()
        for entry in fetch(project_root, env, refs, cursor, clients, earlier, notes):
            key = (entry.time.isoformat(), entry.function, entry.cloud, entry.message)
            batch[key] += 1
            if batch[key] > seen[key]:
                seen[key] = batch[key]
                yield entry
            cursor = max(cursor, entry.time - timedelta(seconds=1))
        if stop():
            return
        time.sleep(poll_s)


def load_refs(outdir: Path) -> list[FunctionRef]:
    return function_refs(outdir)
