"""Cloud Functions (gen2, functions-framework) entry adapter.

The signature is chosen from the package's `_platform_function.json`: a function with an
object_created trigger is registered with `functions_framework.cloud_event` (a gen2 function has a
single event trigger), every other function with `functions_framework.http`.

- HTTP: flask Request -> HttpRequest; HttpResponse -> (body, status, headers).
- Cloud Scheduler arrives as HTTP POST. It is recognised (only when the function has a schedule
  trigger) by a `user-agent` containing `Google-Cloud-Scheduler` or a JSON body
  `{"platform_schedule": "<cron>"}` -- or always, when the function has no http trigger -- and becomes a
  ScheduleTick (time from the
  `X-CloudScheduler-ScheduleTime` header, else the body's "time", else now).
- Storage: `google.cloud.storage.object.v1.finalized` CloudEvents -> ObjectCreated. Events are kept
  only if they match `PLATFORM_TRIGGER_FILTERS` (JSON list of {"bucket","prefix","suffix"}), or, when
  that is unset, the package's own object_created triggers: Eventarc filters on bucket only.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from platform_sdk.runtime.adapters.common import Entry, caller_dir, new_request_id, parse_time
from platform_sdk.runtime.events import HttpRequest, ObjectCreated, ScheduleTick

FINALIZED = "google.cloud.storage.object.v1.finalized"


def _request_id(headers: Any) -> str:
    trace = headers.get("X-Cloud-Trace-Context") or ""
    return headers.get("Function-Execution-Id") or trace.split("/", 1)[0] or new_request_id()


def http_request(request: Any) -> HttpRequest:
    """HttpRequest from a flask/werkzeug Request."""
    return HttpRequest(
        method=request.method,
        path=request.path or "/",
        query={key: request.args.get(key, "") for key in request.args},
        headers={key.lower(): value for key, value in request.headers.items()},
        body=request.get_data(cache=True) or b"",
    )


def scheduler_call(entry: Entry, request: HttpRequest) -> ScheduleTick | None:
    """A ScheduleTick when this HTTP call is a Cloud Scheduler run of the function's schedule, else None."""
    if not entry.triggers_of("schedule") and entry.metadata:
        return None
    body: Any = None
    if request.body[:1] == b"{":
        try:
            body = request.json()
        except ValueError:
            body = None
    body = body if isinstance(body, dict) else {}
    from_scheduler = "google-cloud-scheduler" in request.headers.get("user-agent", "").lower()
    schedule_only = bool(entry.triggers_of("schedule")) and not entry.triggers_of("http")
    if not (from_scheduler or schedule_only or "platform_schedule" in body):
        return None
    when = request.headers.get("x-cloudscheduler-scheduletime") or body.get("time")
    return ScheduleTick(time=parse_time(when), schedule=entry.schedule_name(body.get("platform_schedule")))


def object_created(entry: Entry, data: dict[str, Any]) -> tuple[ObjectCreated, str]:
    """(ObjectCreated, physical bucket) from a storage object's JSON (size arrives as a string)."""
    physical = str(data["bucket"])
    event = ObjectCreated(bucket=entry.neutral_bucket(physical), key=str(data["name"]),
                          size=int(data.get("size") or 0), content_type=data.get("contentType"))
    return event, physical


def make_entry(handler_path: str, *, base_dir: str | Path | None = None) -> Callable[[Any], Any]:
    """A functions-framework target named `handler` for the neutral handler at `handler_path`."""
    entry = Entry(handler_path, Path(base_dir) if base_dir else caller_dir(sys._getframe(1)), "gcp")

    if entry.triggers_of("object_created"):

        def handler(cloud_event: Any) -> None:
            request_id = str(cloud_event["id"]) if cloud_event.get("id") else new_request_id()
            event_type = cloud_event["type"]
            if event_type != FINALIZED:
                entry.ignored("object_created", request_id, f"event type {event_type}")
                return
            data = cloud_event.data
            if isinstance(data, (bytes, str)):
                data = json.loads(data)
            created, physical = object_created(entry, data)
            if not entry.object_wanted(created, physical, use_metadata=True):
                entry.ignored("object_created", request_id, f"{physical}/{created.key} matches no trigger filter")
                return
            entry.run_event(created, request_id)

        return _register(handler, "cloud_event")

    def handler(request: Any) -> Any:  # type: ignore[no-redef]
        request_id = _request_id(request.headers)
        neutral = http_request(request)
        tick = scheduler_call(entry, neutral)
        if tick is not None:
            try:
                entry.run_event(tick, request_id)
            except Exception:  # logged by run_event; a 500 makes Cloud Scheduler retry per its policy
                return json.dumps({"error": "internal error", "request_id": request_id}), 500, {
                    "content-type": "application/json", "x-request-id": request_id}
            return json.dumps({"ok": True}), 200, {"content-type": "application/json"}
        status, headers, data = entry.run_http(neutral, request_id).encode()
        return data, status, headers

    return _register(handler, "http")


def _register(function: Callable[..., Any], kind: str) -> Callable[..., Any]:
    """Register the signature with functions-framework (always present on Cloud Functions)."""
    try:
        import functions_framework
    except ImportError:  # running outside the framework (e.g. a unit test calling the function directly)
        return function
    registered: Callable[..., Any] = getattr(functions_framework, kind)(function)
    return registered
