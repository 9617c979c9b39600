"""`platform logs` on the local cloud: the function logs `platform dev` keeps (`<root>/logs/<function>.jsonl`,
platform_sdk.localcloud.logs), one per cloud label's local root, request ids included."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from platform_sdk.localcloud import logs
from platform_sdk.providers.base import FunctionRef, LogEntry


def fetch(project_root: Path, env: Any, refs: list[FunctionRef], since: datetime) -> list[LogEntry]:
    from platform_sdk.localcloud.roots import local_root

    found = []
    for ref in refs:
        for line in logs.read(local_root(project_root, env, ref.cloud), ref.name, since):
            found.append(LogEntry(line.time, ref.address, line.request_id, line.message))
    return sorted(found, key=lambda e: e.time)
