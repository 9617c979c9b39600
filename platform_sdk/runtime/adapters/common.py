"""What every cloud adapter shares: lazy handler loading, package metadata, bucket-name mapping,
trigger filters, and one log line per invocation (request id, outcome, duration).

Error policy, the same on every cloud: an HTTP handler that raises is logged with its request id and
answered with a 500 (the client sees the request id, never the traceback); an event handler that
raises is logged and the exception re-raised, so the cloud's retry policy applies.

Rehearsals (PLATFORM_DENY, see platform_sdk.contract): an invocation the rehearsed environment's clouds would not
deliver (its HTTP route, its CDN's GET or POST, its object-created events, its schedule) is refused before the
handler runs: HTTP with a 403 carrying the analysis' message, events by raising DeniedError.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import unquote, urlparse

from platform_sdk.runtime import metrics
from platform_sdk.runtime.auth import JwtPolicy, Unauthorized, verify
from platform_sdk.runtime.events import (
    FunctionCall,
    HttpRequest,
    HttpResponse,
    ObjectCreated,
    QueueMessage,
    ScheduleTick,
)
from platform_sdk.runtime.queues import queue_urls
from platform_sdk.runtime.resources import bucket_urls, denial, deny, function_identity

METADATA_FILE = "_platform_function.json"
log = logging.getLogger("platform.runtime")


class _FallbackHandler(logging.StreamHandler):  # type: ignore[type-arg]  # generic only in typeshed
    """Print to stderr only while nobody configured the root logger (functions-framework, bare Python).

    Where the host installs a root handler (the Lambda runtime, pytest, an app's logging setup) records
    propagate there instead, so every line appears exactly once.
    """

    def emit(self, record: logging.LogRecord) -> None:
        if not logging.getLogger().handlers:
            super().emit(record)


def _configure_logging() -> None:
    """INFO lines must show on every cloud, whatever the host's root logger level is."""
    level = os.environ.get("PLATFORM_LOG_LEVEL", "INFO").upper()
    log.setLevel(level if isinstance(logging.getLevelName(level), int) else "INFO")
    if not any(isinstance(h, _FallbackHandler) for h in log.handlers):
        handler = _FallbackHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        log.addHandler(handler)


_configure_logging()


def caller_dir(frame: FrameType | None, root_env: str | None = None) -> Path:
    """Directory of the module that called make_entry (the package root); when that module has no file, the
    directory in the environment variable `root_env` (where the cloud unpacks packages), else the working directory."""
    filename = frame.f_globals.get("__file__") if frame is not None else None
    if filename:
        return Path(filename).resolve().parent
    return Path((os.environ.get(root_env) if root_env else None) or os.getcwd())


def new_request_id() -> str:
    return uuid.uuid4().hex


UTC = timezone.utc  # noqa: UP017 - functions may run on python3.10, which has no datetime.UTC
_ISO = re.compile(r"^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$", re.I)


def parse_time(value: Any) -> datetime:
    """An RFC 3339 time (Z or offset, any fraction digits) or epoch seconds, as aware UTC; now if missing.

    Written out by hand because python3.10's fromisoformat accepts neither "Z" nor 3-digit fractions.
    """
    if value in (None, ""):
        return datetime.now(UTC)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(float(value), UTC)
    match = _ISO.match(str(value).strip())
    if not match:
        raise ValueError(f"not an RFC 3339 time: {value!r}")
    base, fraction, zone = match.groups()
    zone = "+00:00" if not zone or zone.upper() == "Z" else zone
    if ":" not in zone:
        zone = zone[:3] + ":" + zone[3:]
    text = base + (f".{(fraction + '000000')[:6]}" if fraction else "") + zone
    return datetime.fromisoformat(text.replace(" ", "T")).astimezone(UTC)


class Entry:
    """One function's handler, loaded on first use, plus the neutral trigger list shipped with the package."""

    def __init__(self, handler_path: str, base_dir: Path, cloud: str) -> None:
        module, _, attr = handler_path.rpartition(".")
        if not module or not attr:
            raise ValueError(f"handler must look like 'module.function', got {handler_path!r}")
        self.handler_path = handler_path
        self.module_name = module
        self.attr = attr
        self.base_dir = base_dir
        self.cloud = cloud
        self._handler: Callable[[Any], Any] | None = None
        self._metadata: dict[str, Any] | None = None
        metrics.bind(cloud)  # business metrics go out in this cloud's log format

    # -- loading --------------------------------------------------------------------------------------------
    @property
    def handler(self) -> Callable[[Any], Any]:
        """Import the user's module on first call (keeps cold imports out of package import)."""
        if self._handler is None:
            base = str(self.base_dir)
            if base not in sys.path:
                sys.path.insert(0, base)
            module = importlib.import_module(self.module_name)
            handler = getattr(module, self.attr, None)
            if not callable(handler):
                raise AttributeError(f"handler {self.handler_path!r}: module {self.module_name!r} has no function "
                                     f"{self.attr!r}")
            self._handler = handler
        return self._handler

    @property
    def metadata(self) -> dict[str, Any]:
        """`_platform_function.json` next to the entry module; {} when absent (e.g. hand-written entry)."""
        if self._metadata is None:
            path = self.base_dir / METADATA_FILE
            try:
                self._metadata = json.loads(path.read_text())
            except FileNotFoundError:
                self._metadata = {}
        return self._metadata

    @property
    def triggers(self) -> list[dict[str, Any]]:
        return list(self.metadata.get("triggers") or [])

    def triggers_of(self, kind: str) -> list[dict[str, Any]]:
        return [t for t in self.triggers if t.get("type") == kind]

    @property
    def identity(self) -> str:
        identity = function_identity()
        if identity == "this function" and self.metadata.get("function"):
            service = self.metadata.get("service")
            return f"{service}.{self.metadata['function']}" if service else str(self.metadata["function"])
        return identity

    def schedule_name(self, hint: str | None = None) -> str:
        """The cron expression of a tick: the hint when given, else the function's only schedule."""
        if hint:
            return hint
        crons = [t.get("cron", "") for t in self.triggers_of("schedule")]
        return crons[0] if len(crons) == 1 else ""

    # -- buckets --------------------------------------------------------------------------------------------
    def neutral_bucket(self, physical: str) -> str:
        """Map a cloud bucket name (or local directory name/URL) back to the neutral name code uses."""
        for neutral, url in bucket_urls().items():
            if physical == url:
                return neutral
            parsed = urlparse(url)
            if parsed.scheme != "file" and parsed.netloc == physical:  # <scheme>://<bucket name>
                return neutral
            if parsed.scheme == "file":
                path = unquote(parsed.path).rstrip("/")
                if physical in (path, path.rsplit("/", 1)[-1]):
                    return neutral
        trigger_buckets = sorted({str(t["bucket"]) for t in self.triggers_of("object_created") if t.get("bucket")})
        if len(trigger_buckets) == 1:
            return trigger_buckets[0]
        log.warning("bucket %r is not one of this function's buckets; passing the physical name", physical)
        return physical

    def object_wanted(self, event: ObjectCreated, physical: str, use_metadata: bool) -> bool:
        """Apply PLATFORM_TRIGGER_FILTERS (or, when asked, the package's own triggers) to an object event.

        Filters match a bucket by physical or neutral name and a key by prefix and suffix; with no
        filters at all every event is wanted.
        """
        raw = os.environ.get("PLATFORM_TRIGGER_FILTERS")
        if raw:
            filters = json.loads(raw)
        elif use_metadata and self.triggers_of("object_created"):
            filters = self.triggers_of("object_created")
        else:
            return True
        for f in filters:
            if f.get("bucket") not in (None, "", physical, event.bucket):
                continue
            if event.key.startswith(f.get("prefix") or "") and event.key.endswith(f.get("suffix") or ""):
                return True
        return False

    # -- invocation -----------------------------------------------------------------------------------------
    def _log(self, trigger: str, request_id: str, outcome: str, started: float, extra: str = "") -> None:
        ms = (time.perf_counter() - started) * 1000
        log.info("invocation fn=%s cloud=%s trigger=%s request_id=%s outcome=%s%s duration_ms=%.1f",
                 self.identity, self.cloud, trigger, request_id, outcome, extra, ms)

    def jwt_policy(self) -> JwtPolicy | None:
        """The bearer-token policy of the function's HTTP trigger (`http(auth=jwt(...))`), None when it has none."""
        for trigger in self.triggers_of("http"):
            auth = trigger.get("auth")
            if isinstance(auth, dict):
                return JwtPolicy.from_json(auth)
        return None

    def run_http(self, request: HttpRequest, request_id: str) -> HttpResponse:
        """Call the handler with an HttpRequest; any exception becomes a logged 500 carrying the request id.

        With `http(auth=jwt(...))` the bearer token is verified first: without a valid one the answer is 401 and the
        handler is not called; with one, its claims are `request.claims`.
        """
        started = time.perf_counter()
        fetch = "cdn.fetch_get" if request.method.upper() in ("GET", "HEAD") else "cdn.fetch_post"
        refused = denial("http.invoke") or denial(fetch)
        if refused is not None:  # a rehearsal: the rehearsed cloud would not let this request reach the function
            log.warning("refused fn=%s request_id=%s: %s", self.identity, request_id, refused)
            self._log("http", request_id, "refused", started, " status=403")
            return HttpResponse(403, {"error": refused, "request_id": request_id}, {"x-request-id": request_id})
        policy = self.jwt_policy()
        if policy is not None:
            try:
                request.claims = verify(request.headers, policy)
            except Unauthorized as exc:
                self._log("http", request_id, "unauthorized", started, " status=401")
                return HttpResponse(401, {"error": "unauthorized", "reason": str(exc), "request_id": request_id},
                                    {"www-authenticate": 'Bearer realm="platform"', "x-request-id": request_id})
        try:
            with metrics.request(request_id):
                response = HttpResponse.coerce(self.handler(request))
            response.encode()  # a bad body type is the handler's error: surface it as a 500 here
        except Exception:
            log.exception("handler %s failed: fn=%s request_id=%s %s %s", self.handler_path, self.identity,
                          request_id, request.method, request.path)
            self._log("http", request_id, "error", started, " status=500")
            return HttpResponse(500, {"error": "internal error", "request_id": request_id},
                                {"x-request-id": request_id})
        self._log("http", request_id, "ok", started, f" status={response.status}")
        return response

    def run_event(self, event: ObjectCreated | ScheduleTick, request_id: str) -> None:
        """Call the handler with an event; log and re-raise failures so the cloud retries."""
        trigger = "object_created" if isinstance(event, ObjectCreated) else "schedule"
        started = time.perf_counter()
        detail = (f" bucket={event.bucket} key={event.key!r}" if isinstance(event, ObjectCreated)
                  else f" schedule={event.schedule!r}")
        try:
            deny("events.deliver" if isinstance(event, ObjectCreated) else "scheduler.invoke")
            with metrics.request(request_id):
                self.handler(event)
        except Exception:
            log.exception("handler %s failed: fn=%s request_id=%s%s", self.handler_path, self.identity,
                          request_id, detail)
            self._log(trigger, request_id, "error", started, detail)
            raise
        self._log(trigger, request_id, "ok", started, detail)

    def neutral_queue(self, physical: str) -> str:
        """Map a cloud queue name (or local URL) back to the neutral name code uses."""
        for neutral, url in queue_urls().items():
            if physical == url or physical in url:
                return neutral
        names = sorted({str(t["queue"]) for t in self.triggers_of("queue") if t.get("queue")})
        return names[0] if len(names) == 1 else physical

    def run_messages(self, messages: list[QueueMessage], request_id: str) -> list[str]:
        """Call the handler once per message; returns the ids of the messages whose handler raised (logged), which
        the cloud delivers again (SQS partial batch response, a Pub/Sub nack, the local gateway's retry)."""
        failed: list[str] = []
        for index, message in enumerate(messages):
            rid = request_id if len(messages) == 1 else f"{request_id}#{index}"
            started = time.perf_counter()
            detail = f" queue={message.queue} message_id={message.id} attempt={message.attempt}"
            try:
                self.handler(message)
            except Exception:
                log.exception("handler %s failed: fn=%s request_id=%s%s", self.handler_path, self.identity, rid,
                              detail)
                self._log("queue", rid, "error", started, detail)
                failed.append(message.id)
                continue
            self._log("queue", rid, "ok", started, detail)
        return failed

    def run_call(self, call: FunctionCall, request_id: str) -> Any:
        """Call the handler with a FunctionCall and return its result; failures are logged and re-raised."""
        started = time.perf_counter()
        detail = f" caller={call.caller or '?'} call_id={call.id}"
        try:
            result = self.handler(call)
            json.dumps(result)  # the caller gets JSON: a result that is not is the handler's error
        except Exception:
            log.exception("handler %s failed: fn=%s request_id=%s%s", self.handler_path, self.identity, request_id,
                          detail)
            self._log("call", request_id, "error", started, detail)
            raise
        self._log("call", request_id, "ok", started, detail)
        return result

    def ignored(self, trigger: str, request_id: str, reason: str) -> None:
        """Log an event that was delivered but is not for this function (e.g. outside the key filters)."""
        log.info("invocation fn=%s cloud=%s trigger=%s request_id=%s outcome=ignored reason=%r duration_ms=0.0",
                 self.identity, self.cloud, trigger, request_id, reason)
