"""The neutral event types a function handler receives, whatever cloud calls it.

Handlers take exactly one argument: an `HttpRequest` (and return an `HttpResponse`), an `ObjectCreated`, a
`ScheduleTick`, a `QueueMessage` (raise to have it delivered again) or a `FunctionCall` (return its result).
The per-cloud entry adapters (`platform_sdk.providers.<cloud>.runtime.adapter`) translate
to and from these, so the same handler code runs on AWS Lambda, Cloud Functions and the local cloud. Standard
library only: this module is imported inside every deployed function.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript", "application/x-www-form")
"""Content types whose bodies are text: adapters may send them without base64."""


def is_text_type(content_type: str | None) -> bool:
    """True when a body of this content type is text (so it can travel as a plain string)."""
    if not content_type:
        return False
    base = content_type.split(";", 1)[0].strip().lower()
    return base.startswith(TEXT_TYPES) or base.endswith(("+json", "+xml"))


@dataclass
class HttpRequest:
    """One HTTP request. Header names are lower-case; `query` keeps the first value of a repeated key; `body` is
    the raw bytes (empty without a body); `claims` holds the verified token's claims under `http(auth=jwt(...))`
    (empty otherwise)."""

    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    claims: dict[str, Any] = field(default_factory=dict)
    """The verified claims of the caller's bearer token (`http(auth=jwt(...))`); `{}` otherwise."""

    def __post_init__(self) -> None:
        self.method = self.method.upper()
        self.headers = {k.lower(): v for k, v in self.headers.items()}
        body: object = self.body  # callers may pass text or None despite the annotation: normalise to bytes
        if isinstance(body, str):
            self.body = body.encode("utf-8")
        elif body is None:
            self.body = b""

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (undecodable bytes replaced, so this never raises)."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; raises ValueError (json.JSONDecodeError) if it is not JSON."""
        return json.loads(self.body or b"null")

    def header(self, name: str, default: str | None = None) -> str | None:
        """A header by case-insensitive name."""
        return self.headers.get(name.lower(), default)


@dataclass
class HttpResponse:
    """What an HTTP handler returns. dict/list bodies become JSON; str bodies become UTF-8 text."""

    status: int = 200
    body: bytes | str | dict[str, Any] | list[Any] | None = None
    headers: dict[str, str] | None = None

    def encode(self) -> tuple[int, dict[str, str], bytes]:
        """(status, headers with lower-case names, body bytes), with a content type set when one is implied."""
        headers = {k.lower(): str(v) for k, v in (self.headers or {}).items()}
        body = self.body
        if body is None:
            data = b""
        elif isinstance(body, (dict, list)):
            data = json.dumps(body, separators=(",", ":"), default=str).encode("utf-8")
            headers.setdefault("content-type", "application/json")
        elif isinstance(body, str):
            data = body.encode("utf-8")
            headers.setdefault("content-type", "text/plain; charset=utf-8")
        elif isinstance(body, (bytes, bytearray, memoryview)):
            data = bytes(body)
            headers.setdefault("content-type", "application/octet-stream")
        else:
            raise TypeError(f"HttpResponse body must be bytes, str, dict, list or None, not {type(body).__name__}")
        return int(self.status), headers, data

    @classmethod
    def coerce(cls, value: Any) -> HttpResponse:
        """Accept what handlers commonly return: an HttpResponse, a body (200), or None (204)."""
        if isinstance(value, HttpResponse):
            return value
        if value is None:
            return cls(204)
        if isinstance(value, tuple) and len(value) in (2, 3) and isinstance(value[0], int):
            return cls(*value)
        return cls(200, value)


@dataclass(frozen=True)
class ObjectCreated:
    """An object landed in a bucket. `bucket` is the NEUTRAL name (e.g. "originals"), not the cloud's name;
    `size` is in bytes (0 when the cloud's event does not carry it); `content_type` as stored, if known."""

    bucket: str
    key: str
    size: int = 0
    content_type: str | None = None


@dataclass(frozen=True)
class ScheduleTick:
    """A scheduled run. `time` is the scheduled time (UTC, timezone-aware); `schedule` the cron expression."""

    time: datetime
    schedule: str = ""


@dataclass(frozen=True)
class QueueMessage:
    """One message of a queue (`queue_message(queue)` trigger). `queue` is the NEUTRAL name.

    Delivery is at least once: the same message may arrive twice (a retry after a timeout, a redelivery): `id`
    stays the same across deliveries (and across a queue's move to another cloud), so handlers de-duplicate on it.
    `attempt` counts deliveries, 1 on the first. A handler that raises fails the message: it is delivered again
    later, and after the queue's `max_attempts` moved to its dead-letter queue.
    """

    id: str
    body: bytes
    queue: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    attempt: int = 1

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (undecodable bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; raises ValueError if it is not JSON."""
        return json.loads(self.body or b"null")


@dataclass(frozen=True)
class FunctionCall:
    """A call from another function (`function(name).invoke(payload)` or `.send(payload)`); return the result
    (JSON-serialisable; ignored for `send`). `caller` is the calling function's `service.function`, as the platform
    verified it; `id` identifies the call (a `send` may be delivered twice: de-duplicate on it)."""

    payload: Any
    caller: str = ""
    id: str = ""
