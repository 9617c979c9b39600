"""AWS Lambda entry adapter: Lambda event shapes in, neutral events to the handler, Lambda responses out.

Understood events:
- HTTP: Lambda function URLs and API Gateway HTTP APIs (payload format 2.0), and API Gateway REST
  proxy events (1.0). The response is `{"statusCode", "headers", "body", "isBase64Encoded"}`, with
  base64 for non-text bodies.
- S3 notifications (`Records[].eventSource == "aws:s3"`, `ObjectCreated:*`): one handler call per
  record, keys URL-decoded, the physical bucket mapped back to its neutral name. EventBridge
  "Object Created" events from S3 are accepted too.
- EventBridge scheduled events (`detail-type: "Scheduled Event"`, `source: aws.events`) -> ScheduleTick.
  The rule event does not carry the cron expression, so it is taken from the package's only schedule
  trigger, or from `platform_schedule` when the rule's input transformer sends
  `{"platform_schedule": "<cron>", "time": <aws.events.event.ingestion-time or time>}`.
- SQS batches from an event source mapping (`Records[].eventSource == "aws:sqs"`) -> one QueueMessage per record;
  the answer is a partial batch response, `{"batchItemFailures": [{"itemIdentifier": <messageId>}]}` naming the
  records whose handler raised (the mapping has `ReportBatchItemFailures`), so only those are retried and, after the
  queue's maxReceiveCount, dead-lettered. https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
- Platform calls (`{"platform_call": {"payload", "caller", "call_id"}}`, sent by another function's Invoke) ->
  FunctionCall; the handler's return value is the Invoke response.
"""

from __future__ import annotations

import base64
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, unquote_plus

from platform_sdk.runtime.adapters.common import Entry, caller_dir, new_request_id, parse_time
from platform_sdk.runtime.events import (
    FunctionCall,
    HttpRequest,
    HttpResponse,
    ObjectCreated,
    QueueMessage,
    ScheduleTick,
    is_text_type,
)
from platform_sdk.runtime.queues import ID_ATTRIBUTE

PACKAGE_ROOT_ENV = "LAMBDA_TASK_ROOT"
"""Where Lambda unpacks the function package (the package root when the entry module has no file)."""


def _first_values(pairs: list[tuple[str, str]]) -> dict[str, str]:
    query: dict[str, str] = {}
    for key, value in pairs:
        query.setdefault(key, value)
    return query


def _body(event: dict[str, Any]) -> bytes:
    body = event.get("body")
    if body is None:
        return b""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body)
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def http_request(event: dict[str, Any]) -> HttpRequest:
    """HttpRequest from a payload 2.0 (function URL / HTTP API) or 1.0 (REST API proxy) event."""
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    if event.get("version") == "2.0" or "rawPath" in event:
        http = event["requestContext"]["http"]
        if event.get("cookies") and "cookie" not in headers:
            headers["cookie"] = "; ".join(event["cookies"])
        return HttpRequest(
            method=http["method"],
            path=http.get("path") or unquote(event.get("rawPath") or "/"),
            query=_first_values(parse_qsl(event.get("rawQueryString") or "", keep_blank_values=True)),
            headers=headers,
            body=_body(event),
        )
    multi = event.get("multiValueQueryStringParameters") or {}
    query = {k: v[0] for k, v in multi.items() if v} or dict(event.get("queryStringParameters") or {})
    return HttpRequest(method=event["httpMethod"], path=event.get("path") or "/", query=query,
                       headers=headers, body=_body(event))


def http_response(response: HttpResponse, payload_v2: bool) -> dict[str, Any]:
    """The Lambda proxy response; text bodies travel as strings, everything else as base64."""
    status, headers, data = response.encode()
    result: dict[str, Any] = {"statusCode": status, "headers": headers}
    if payload_v2 and "set-cookie" in headers:
        result["cookies"] = [headers.pop("set-cookie")]
    text: str | None = None
    if is_text_type(headers.get("content-type")) or not data:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
    if text is not None:
        result.update(body=text, isBase64Encoded=False)
    else:
        result.update(body=base64.b64encode(data).decode("ascii"), isBase64Encoded=True)
    return result


def classify(event: Any) -> str:
    """Which kind of Lambda event this is: http | s3 | s3_eventbridge | schedule | sqs | call | unknown."""
    if not isinstance(event, dict):
        return "unknown"
    if "platform_call" in event and isinstance(event["platform_call"], dict):
        return "call"
    if "requestContext" in event and ("http" in event["requestContext"] or "httpMethod" in event):
        return "http"
    records = event.get("Records")
    if isinstance(records, list) and records and all(r.get("eventSource") == "aws:s3" for r in records):
        return "s3"
    if isinstance(records, list) and records and all(r.get("eventSource") == "aws:sqs" for r in records):
        return "sqs"
    if event.get("source") == "aws.s3" and event.get("detail-type") == "Object Created":
        return "s3_eventbridge"
    if "platform_schedule" in event or (
        event.get("source") == "aws.events" and event.get("detail-type") == "Scheduled Event"
    ):
        return "schedule"
    return "unknown"


def make_entry(handler_path: str, *, base_dir: str | Path | None = None) -> Callable[[Any, Any], Any]:
    """The Lambda handler `handler(event, context)` for the neutral handler at `handler_path`."""
    entry = Entry(handler_path, Path(base_dir) if base_dir else caller_dir(sys._getframe(1), PACKAGE_ROOT_ENV), "aws")

    def handler(event: Any, context: Any = None) -> Any:
        request_id = getattr(context, "aws_request_id", None) or new_request_id()
        kind = classify(event)
        if kind == "http":
            response = entry.run_http(http_request(event), request_id)
            return http_response(response, payload_v2=event.get("version") == "2.0" or "rawPath" in event)
        if kind in ("s3", "s3_eventbridge"):
            return _objects(entry, event, kind, request_id)
        if kind == "sqs":
            return _messages(entry, event, request_id)
        if kind == "call":
            call = event["platform_call"]
            return entry.run_call(FunctionCall(payload=call.get("payload"), caller=str(call.get("caller") or ""),
                                               id=str(call.get("call_id") or request_id)), request_id)
        if kind == "schedule":
            tick = ScheduleTick(time=parse_time(event.get("time")),
                                schedule=entry.schedule_name(event.get("platform_schedule")))
            entry.run_event(tick, request_id)
            return {"handled": 1}
        keys = sorted(event)[:8] if isinstance(event, dict) else type(event).__name__
        raise ValueError(f"{entry.identity}: unrecognised Lambda event (keys: {keys}); expected a function URL / "
                         "API Gateway request, an S3 ObjectCreated notification, an EventBridge schedule, an SQS batch "
                         "or a platform call")

    return handler


def _objects(entry: Entry, event: dict[str, Any], kind: str, request_id: str) -> dict[str, int]:
    """One handler call per created object; other S3 event names are ignored."""
    items: list[tuple[str, str, int]] = []
    if kind == "s3_eventbridge":
        detail = event.get("detail") or {}
        items.append((detail["bucket"]["name"], detail["object"]["key"], int(detail["object"].get("size") or 0)))
    else:
        for record in event["Records"]:
            if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
                entry.ignored("object_created", request_id, f"event {record.get('eventName')}")
                continue
            s3 = record["s3"]
            items.append((s3["bucket"]["name"], unquote_plus(s3["object"]["key"]), int(s3["object"].get("size") or 0)))
    handled = 0
    for index, (physical, key, size) in enumerate(items):
        rid = request_id if len(items) == 1 else f"{request_id}#{index}"
        created = ObjectCreated(bucket=entry.neutral_bucket(physical), key=key, size=size, content_type=None)
        if not entry.object_wanted(created, physical, use_metadata=False):
            entry.ignored("object_created", rid, f"{physical}/{key} matches no trigger filter")
            continue
        entry.run_event(created, rid)
        handled += 1
    return {"handled": handled}


def _messages(entry: Entry, event: dict[str, Any], request_id: str) -> dict[str, list[dict[str, str]]]:
    """One handler call per SQS record; the records whose handler raised, as a partial batch response."""
    messages: list[QueueMessage] = []
    sqs_ids: dict[str, str] = {}
    for record in event["Records"]:
        raw = record.get("messageAttributes") or {}
        attributes = {str(k): str(v.get("stringValue", "")) for k, v in raw.items()}
        neutral_id = attributes.pop(ID_ATTRIBUTE, None) or str(record["messageId"])
        sqs_ids[neutral_id] = str(record["messageId"])
        queue = entry.neutral_queue(str(record.get("eventSourceARN", "")).rsplit(":", 1)[-1])
        attempt = int((record.get("attributes") or {}).get("ApproximateReceiveCount") or 1)
        messages.append(QueueMessage(id=neutral_id, body=str(record.get("body") or "").encode("utf-8"), queue=queue,
                                     attributes=attributes, attempt=attempt))
    failed = entry.run_messages(messages, request_id)
    return {"batchItemFailures": [{"itemIdentifier": sqs_ids[i]} for i in failed]}
