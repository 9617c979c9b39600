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
- Pub/Sub push (a queue's subscription, or the calls topic of a function other functions `send` to): a POST whose
  JSON body is `{"message": {"data", "attributes", "messageId", ...}, "subscription"}` -> QueueMessage (or, with the
  attribute `platform-call`, FunctionCall). 2xx acknowledges; a handler that raises answers 500, so Pub/Sub retries
  and, after the subscription's max delivery attempts, dead-letters. `deliveryAttempt` is the attempt.
  https://cloud.google.com/pubsub/docs/push#receive_push
- Platform calls (`x-platform-call: invoke` with `{"payload", "caller", "call_id"}`) -> FunctionCall; the answer is
  the handler's return value as JSON. Only accepted on a function without a public http() trigger (the compiler
  refuses the mix), so Cloud Run's invoker IAM has authenticated the caller.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from platform_sdk.runtime.adapters.common import Entry, caller_dir, new_request_id, parse_time
from platform_sdk.runtime.events import FunctionCall, HttpRequest, ObjectCreated, QueueMessage, ScheduleTick
from platform_sdk.runtime.functions import CALL_HEADER
from platform_sdk.runtime.queues import ID_ATTRIBUTE

CALL_ATTRIBUTE = "platform-call"
"""Pub/Sub attribute marking a message on a function's calls topic (`function(name).send(payload)`)."""

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
        platform = platform_delivery(entry, neutral, request_id)
        if platform is not None:
            return platform
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


def _json(value: Any, status: int = 200, request_id: str = "") -> tuple[str, int, dict[str, str]]:
    return json.dumps(value), status, {"content-type": "application/json", "x-request-id": request_id}


def push_envelope(request: HttpRequest) -> dict[str, Any] | None:
    """The Pub/Sub push envelope of a request, None when it is not one."""
    if request.method != "POST" or not request.body.startswith(b"{"):
        return None
    try:
        body = json.loads(request.body)
    except ValueError:
        return None
    if isinstance(body, dict) and isinstance(body.get("message"), dict) and "subscription" in body:
        return body
    return None


def platform_delivery(entry: Entry, request: HttpRequest, request_id: str) -> Any:
    """A queue message, a sent call or an invoke, answered here; None for an ordinary HTTP request."""
    import base64

    public = any(t.get("public") == "true" for t in entry.triggers_of("http"))  # jwt too: Cloud Run lets it in
    if request.header(CALL_HEADER) == "invoke" and not public:
        call = request.json() or {}
        try:
            result = entry.run_call(FunctionCall(payload=call.get("payload"), caller=str(call.get("caller") or ""),
                                                 id=str(call.get("call_id") or request_id)), request_id)
        except Exception:
            return _json({"error": "the function failed", "request_id": request_id}, 500, request_id)
        return _json(result, 200, request_id)
    envelope = None if public else push_envelope(request)  # a public URL is not authenticated by Cloud Run
    if envelope is None:
        return None
    message = envelope["message"]
    attributes = {str(k): str(v) for k, v in (message.get("attributes") or {}).items()}
    data = base64.b64decode(message.get("data") or "")
    neutral_id = attributes.pop(ID_ATTRIBUTE, None) or str(message.get("messageId") or request_id)
    if attributes.pop(CALL_ATTRIBUTE, None) is not None:
        call = json.loads(data or b"{}")
        try:
            entry.run_call(FunctionCall(payload=call.get("payload"), caller=str(call.get("caller") or ""),
                                        id=neutral_id), request_id)
        except Exception:
            return _json({"error": "the function failed", "request_id": request_id}, 500, request_id)
        return _json({"ok": True}, 200, request_id)
    subscription = str(envelope.get("subscription") or "").rsplit("/", 1)[-1]
    queued = QueueMessage(id=neutral_id, body=data, queue=entry.neutral_queue(subscription), attributes=attributes,
                          attempt=int(envelope.get("deliveryAttempt") or message.get("deliveryAttempt") or 1))
    failed = entry.run_messages([queued], request_id)
    if failed:
        return _json({"error": "the handler failed; Pub/Sub delivers the message again", "request_id": request_id},
                     500, request_id)
    return _json({"ok": True}, 200, request_id)
