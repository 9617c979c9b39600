"""Local-cloud entry adapter: the local gateway calls `handler(event: dict) -> dict` in-process or over a pipe.

Events (all JSON-serialisable, so the gateway may run functions in a subprocess):
- `{"type": "http", "method", "path", "query": {..}, "headers": {..}, "body_base64"}`
  -> `{"status", "headers", "body_base64"}`
- `{"type": "object_created", "bucket": <physical name, directory or file:// URL>, "key", "size",
  "content_type"?}` -> `{"handled": 0|1}`
- `{"type": "schedule", "cron", "time"}` -> `{"handled": 1}`
- `{"type": "queue", "queue": <physical name>, "messages": [{"id", "body_base64", "attributes", "attempt"}]}`
  -> `{"failed": [ids of the messages whose handler raised]}`
- `{"type": "call", "payload", "caller", "call_id"}` -> `{"result": <the handler's return value>}` (a handler that
  raises fails the call: the gateway answers the caller with the error)
Every event may carry a "request_id". An HTTP handler failure is answered with a 500; an event handler
failure is re-raised so the gateway can report it (and retry if it wants to).
"""

from __future__ import annotations

import base64
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from platform_sdk.runtime.adapters.common import Entry, caller_dir, new_request_id, parse_time
from platform_sdk.runtime.events import FunctionCall, HttpRequest, ObjectCreated, QueueMessage, ScheduleTick


def make_entry(handler_path: str, *, base_dir: str | Path | None = None) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The local gateway's entry `handler(event)` for the neutral handler at `handler_path`."""
    entry = Entry(handler_path, Path(base_dir) if base_dir else caller_dir(sys._getframe(1)), "local")

    def handler(event: dict[str, Any]) -> dict[str, Any]:
        request_id = str(event.get("request_id") or new_request_id())
        kind = event.get("type")
        if kind == "http":
            request = HttpRequest(
                method=event.get("method", "GET"),
                path=event.get("path") or "/",
                query={str(k): str(v) for k, v in (event.get("query") or {}).items()},
                headers={str(k): str(v) for k, v in (event.get("headers") or {}).items()},
                body=base64.b64decode(event.get("body_base64") or ""),
            )
            status, headers, data = entry.run_http(request, request_id).encode()
            return {"status": status, "headers": headers, "body_base64": base64.b64encode(data).decode("ascii"),
                    "request_id": request_id}
        if kind == "object_created":
            physical = str(event["bucket"])
            created = ObjectCreated(bucket=entry.neutral_bucket(physical), key=str(event["key"]),
                                    size=int(event.get("size") or 0), content_type=event.get("content_type"))
            if not entry.object_wanted(created, physical, use_metadata=False):
                entry.ignored("object_created", request_id, f"{physical}/{created.key} matches no trigger filter")
                return {"handled": 0, "request_id": request_id}
            entry.run_event(created, request_id)
            return {"handled": 1, "request_id": request_id}
        if kind == "schedule":
            tick = ScheduleTick(time=parse_time(event.get("time")), schedule=entry.schedule_name(event.get("cron")))
            entry.run_event(tick, request_id)
            return {"handled": 1, "request_id": request_id}
        if kind == "queue":
            queue = entry.neutral_queue(str(event.get("queue") or ""))
            messages = [QueueMessage(id=str(m["id"]), body=base64.b64decode(m.get("body_base64") or ""), queue=queue,
                                     attributes={str(k): str(v) for k, v in (m.get("attributes") or {}).items()},
                                     attempt=int(m.get("attempt") or 1))
                        for m in event.get("messages") or []]
            return {"failed": entry.run_messages(messages, request_id), "request_id": request_id}
        if kind == "call":
            call = FunctionCall(payload=event.get("payload"), caller=str(event.get("caller") or ""),
                                id=str(event.get("call_id") or request_id))
            return {"result": entry.run_call(call, request_id), "request_id": request_id}
        raise ValueError(f"{entry.identity}: unknown local event type {kind!r} (http, object_created, schedule, "
                         "queue, call)")

    return handler
