"""A tiny fake of Cloud Logging's `entries.list` REST API, on 127.0.0.1, for `platform logs` tests.

The real `google-cloud-logging` client talks to it over REST (an `http://` api_endpoint and anonymous credentials),
so the request body (`resourceNames`, `filter`, `orderBy`, `pageSize`, `pageToken`), the LogEntry JSON and the error
mapping are exercised for real. https://cloud.google.com/logging/docs/reference/v2/rest/v2/entries/list

The filter is parsed, not trusted: comparisons `FIELD = "v"`, `FIELD = ("a" OR "b")` and `timestamp >= "t"` (or
`>`, `<`, `<=`) joined by AND over `resource.type`, `resource.labels.*`, `labels.*`, `logName` and `timestamp`;
anything else is answered 400 INVALID_ARGUMENT, as a query the fake cannot read would be silently wrong.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fake_api import LocalFake

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
STRING = r'"(?:[^"\\]|\\.)*"'
CLAUSE = re.compile(rf'^([A-Za-z_.]+)\s*(>=|<=|=|>|<)\s*(?:({STRING})|\(((?:\s*{STRING}\s*(?:OR)?)+)\))$')
QUOTED = re.compile(rf"({STRING})")


class BadRequest(Exception):
    """Answered 400 INVALID_ARGUMENT."""


def rfc3339(when: datetime) -> str:
    """As the API writes timestamps: UTC, nanoseconds, `Z`."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def parse_time(text: str) -> datetime:
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", text)
    if not match:
        raise BadRequest(f"invalid timestamp {text!r}")
    fraction = (match.group(2) or "0")[:6].ljust(6, "0")
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    return datetime.fromisoformat(f"{match.group(1)}.{fraction}{zone}")


def field_value(entry: dict[str, Any], path: str) -> Any:
    holder: Any = entry
    for part in path.split("."):
        holder = holder.get(part) if isinstance(holder, dict) else None
    return holder


def parse_filter(text: str) -> Callable[[dict[str, Any]], bool]:
    """A predicate over LogEntry JSON for the subset of the Logging query language described above."""
    tests: list[Callable[[dict[str, Any]], bool]] = []
    for clause in text.split(" AND "):
        match = CLAUSE.match(clause.strip())
        if not match:
            raise BadRequest(f"unsupported filter clause {clause!r}")
        path, op, single, several = match.groups()
        if not (path in ("resource.type", "logName", "timestamp") or path.startswith(("resource.labels.", "labels."))):
            raise BadRequest(f"unsupported field {path!r}")
        values = [json.loads(single)] if single is not None else [json.loads(v) for v in QUOTED.findall(several)]
        if path == "timestamp":
            if len(values) != 1:
                raise BadRequest("a timestamp compares with one value")
            bound = parse_time(values[0])
            compare = {">=": bound.__le__, ">": bound.__lt__, "<=": bound.__ge__, "<": bound.__gt__, "=": bound.__eq__}
            tests.append(lambda e, c=compare[op]: c(parse_time(e["timestamp"])))
        elif op == "=":
            tests.append(lambda e, p=path, vs=tuple(values): field_value(e, p) in vs)
        else:
            raise BadRequest(f"unsupported comparison {op!r} on {path!r}")
    return lambda entry: all(test(entry) for test in tests)


@dataclass
class FakeCloudLogging(LocalFake):
    """Holds LogEntry JSON by project; serve with `running()`. `page_limit` makes pages shorter than asked, as the
    API may; `denied` projects answer 403 PERMISSION_DENIED."""

    entries: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    denied: set[str] = field(default_factory=set)
    page_limit: int | None = None

    def add(self, project: str, service: str, when: datetime, *, text: str | None = None,
            json_payload: dict[str, Any] | None = None, http_request: dict[str, Any] | None = None,
            labels: dict[str, str] | None = None, trace: str | None = None, severity: str = "DEFAULT",
            resource_type: str = "cloud_run_revision", log: str = "run.googleapis.com%2Fstdout") -> dict[str, Any]:
        """One entry as Cloud Run's logging agent writes it."""
        entry: dict[str, Any] = {
            "insertId": hashlib.sha1(f"{project}{service}{when}{len(self.entries.get(project, []))}".encode())
            .hexdigest()[:16],
            "logName": f"projects/{project}/logs/{log}",
            "resource": {"type": resource_type, "labels": {
                "service_name": service, "revision_name": f"{service}-00001-abc", "location": "europe-west1",
                "configuration_name": service, "project_id": project}},
            "timestamp": rfc3339(when), "receiveTimestamp": rfc3339(when), "severity": severity,
        }
        if text is not None:
            entry["textPayload"] = text
        if json_payload is not None:
            entry["jsonPayload"] = json_payload
        if http_request is not None:
            entry["httpRequest"] = http_request
        if labels:
            entry["labels"] = labels
        if trace:
            entry["trace"] = f"projects/{project}/traces/{trace}"
        self.entries.setdefault(project, []).append(entry)
        return entry

    def list_entries(self, body: dict[str, Any]) -> dict[str, Any]:
        names = body.get("resourceNames")
        if not names or not all(isinstance(n, str) and re.match(r"^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]$", n)
                                for n in names):
            raise BadRequest(f"resourceNames must name projects/PROJECT_ID, got {names!r}")
        order = body.get("orderBy", "timestamp asc")
        if order not in ("timestamp asc", "timestamp desc"):
            raise BadRequest(f"orderBy {order!r}")
        size = int(body.get("pageSize") or DEFAULT_PAGE_SIZE)
        if not 0 <= size <= MAX_PAGE_SIZE:  # "If the value is negative or exceeds 1000, the request is rejected."
            raise BadRequest(f"pageSize {size} is not between 0 and {MAX_PAGE_SIZE}")
        size = min(size, self.page_limit or size)
        keep = parse_filter(body["filter"]) if body.get("filter") else (lambda entry: True)
        query = hashlib.sha256(json.dumps([names, body.get("filter"), order]).encode()).hexdigest()[:12]
        start = 0
        if body.get("pageToken"):
            try:
                token = json.loads(base64.urlsafe_b64decode(body["pageToken"]))
            except ValueError:
                raise BadRequest("invalid pageToken") from None
            if token.get("query") != query:
                raise BadRequest("the pageToken belongs to another query")
            start = int(token["offset"])
        chosen = [e for name in names for e in self.entries.get(name.split("/", 1)[1], []) if keep(e)]
        chosen.sort(key=lambda e: parse_time(e["timestamp"]), reverse=order == "timestamp desc")
        page: dict[str, Any] = {}
        if chosen[start:start + size]:
            page["entries"] = chosen[start:start + size]
        if start + size < len(chosen):
            page["nextPageToken"] = base64.urlsafe_b64encode(
                json.dumps({"query": query, "offset": start + size}).encode()).decode()
        return page

    def app(self) -> Starlette:
        async def entries_list(request: Request) -> JSONResponse:
            body = await request.json()
            self.requests.append(body)
            denied = [n for n in body.get("resourceNames") or [] if n.split("/", 1)[-1] in self.denied]
            if denied:
                return JSONResponse({"error": {
                    "code": 403, "status": "PERMISSION_DENIED",
                    "message": f"Permission 'logging.logEntries.list' denied on resource (or it may not exist): "
                               f"{denied[0]}"}}, status_code=403)
            try:
                return JSONResponse(self.list_entries(body))
            except BadRequest as err:
                return JSONResponse({"error": {"code": 400, "message": str(err), "status": "INVALID_ARGUMENT"}},
                                    status_code=400)

        return Starlette(routes=[Route("/v2/entries:list", entries_list, methods=["POST"])])
