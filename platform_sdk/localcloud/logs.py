"""The local cloud's function logs: what `platform dev` saw each function print, and one line per invocation.

`<root>/logs/<function>.jsonl`, one JSON object per line: `{"time": RFC 3339 UTC, "function", "request_id",
"kind": "output" | "invocation", "message"}`. The gateway writes them (a function's stderr, its print() output and
business metric lines, tagged with the request id of the invocation running in that worker; the invocation's own
summary line); `platform logs` reads them, like it reads CloudWatch Logs or Cloud Logging for the clouds.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

LOG_DIR = "logs"
_locks: dict[Path, threading.Lock] = {}
_guard = threading.Lock()


@dataclass(frozen=True)
class LogLine:
    """One line of a local function log."""

    time: datetime
    function: str
    request_id: str | None
    kind: str
    message: str

    def to_json(self) -> dict[str, object]:
        return {"time": self.time.isoformat().replace("+00:00", "Z"), "function": self.function,
                "request_id": self.request_id, "kind": self.kind, "message": self.message}


def log_path(root: Path, function: str) -> Path:
    """Where the local cloud rooted at `root` keeps `function`'s log."""
    return root / LOG_DIR / f"{function}.jsonl"


def write(root: Path, function: str, message: str, request_id: str | None = None, kind: str = "output",
          when: datetime | None = None) -> None:
    """Append one line (thread-safe within the gateway; one write call per line)."""
    path = log_path(root, function)
    with _guard:
        lock = _locks.setdefault(path, threading.Lock())
    line = LogLine(when or datetime.now(UTC), function, request_id, kind, message)
    with lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(line.to_json(), separators=(",", ":")) + "\n")


def _parse(text: str) -> LogLine | None:
    try:
        item = json.loads(text)
        when = datetime.fromisoformat(str(item["time"]).replace("Z", "+00:00"))
        return LogLine(when, str(item["function"]), item.get("request_id"), str(item.get("kind", "output")),
                       str(item.get("message", "")))
    except (ValueError, KeyError, TypeError):
        return None  # a line cut by a crash: skipped, never fatal


def read(root: Path, function: str, since: datetime | None = None) -> list[LogLine]:
    """The function's lines at or after `since` (all when None), oldest first."""
    path = log_path(root, function)
    if not path.is_file():
        return []
    lines = (_parse(text) for text in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line is not None and (since is None or line.time >= since)]


def follow(root: Path, function: str, since: datetime | None = None, poll_s: float = 0.5,
           stop: threading.Event | None = None) -> Iterator[LogLine]:
    """Lines at or after `since`, then every new line as it is written, until `stop` is set."""
    path = log_path(root, function)
    offset = 0
    pending = ""
    while stop is None or not stop.is_set():
        if path.is_file():
            with path.open("r", encoding="utf-8") as source:
                source.seek(offset)
                chunk = source.read()
                offset = source.tell()
            pending += chunk
            *complete, pending = pending.split("\n")
            for text in complete:
                line = _parse(text)
                if line is not None and (since is None or line.time >= since):
                    yield line
        if stop is not None:
            stop.wait(poll_s)
        else:
            time.sleep(poll_s)
