"""`platform logs` on GCP: Cloud Logging `entries.list` (google-cloud-logging, REST) for each function's Cloud Run
service (`resource.type = "cloud_run_revision"`, `resource.labels.service_name = <function name>`).

One request (and its pages) per project asks for all the chosen functions at once: `entries.list` has a quota of one
request a second per project (https://cloud.google.com/logging/quotas), which `platform logs --follow` polling one
request per function would soon exceed. Pages of 1,000 entries, the API's largest `pageSize` (its default is 50).

Request ids: the runtime's structured lines carry `request_id` (metric lines) or `request_id=` (its invocation line);
otherwise the entry's `labels.execution_id`, which Cloud Run functions set per invocation, else its trace id.
Message: a text payload as it is; a JSON payload's `message` when it has nothing else (but `severity`), otherwise
the payload as compact JSON; a request log entry (only `httpRequest`) as `METHOD URL STATUS LATENCY`.
https://cloud.google.com/logging/docs/reference/v2/rest/v2/entries/list, https://cloud.google.com/run/docs/logging

Endpoint: the public API with Application Default Credentials, or `PLATFORM_GCP_LOGGING_ENDPOINT` (a local fake in
tests; a plain-http endpoint gets anonymous credentials). Reading needs `logging.logEntries.list` on the project
(role `roles/logging.viewer`, https://cloud.google.com/logging/docs/access-control); without it, or without
credentials, `fetch` raises a PlatformError naming the functions and what to grant or set.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from typing import Any

from platform_sdk.errors import PlatformError
from platform_sdk.providers.base import FunctionRef, LogEntry, unresolved
from platform_sdk.providers.gcp.config import gcp_config

ENDPOINT_ENV = "PLATFORM_GCP_LOGGING_ENDPOINT"
OWN_ID = re.compile(r"request_id=([0-9A-Za-z#-]{6,})")
PAGE_SIZE = 1000
"""entries.list's largest `pageSize`: "If the value is negative or exceeds 1000, the request is rejected." """
ROLE = "roles/logging.viewer"


def logging_client(project: str | None, endpoint: str | None = None) -> Any:
    """A google-cloud-logging Client over REST; an http:// endpoint (a local fake) gets anonymous credentials.

    Raises:
        google.auth.exceptions.DefaultCredentialsError: no Application Default Credentials (public endpoint).
    """
    from google.cloud import logging as cloud_logging

    endpoint = endpoint or os.environ.get(ENDPOINT_ENV) or None
    if endpoint is None:
        return cloud_logging.Client(project=project, _use_grpc=False)
    from google.auth.credentials import AnonymousCredentials

    return cloud_logging.Client(project=project, credentials=AnonymousCredentials(), _use_grpc=False,
                                client_options={"api_endpoint": endpoint})


def _quoted(value: str) -> str:
    return json.dumps(value)  # a Logging query string literal: double quotes, backslash escapes


def log_filter(refs: list[FunctionRef], since: datetime) -> str:
    """The Logging query for the Cloud Run services of `refs` at or after `since`
    (https://cloud.google.com/logging/docs/view/logging-query-language)."""
    names = sorted({ref.name for ref in refs})
    services = _quoted(names[0]) if len(names) == 1 else "(" + " OR ".join(_quoted(n) for n in names) + ")"
    stamp = since.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return (f'resource.type = "cloud_run_revision" AND resource.labels.service_name = {services} AND '
            f'timestamp >= "{stamp}"')


def _message(entry: Any) -> str:
    payload = entry.payload
    if isinstance(payload, dict):
        text = payload.get("message")
        if isinstance(text, str) and set(payload) <= {"message", "severity"}:
            return text
        return json.dumps(payload, sort_keys=True, separators=(",", ":"))
    if payload is None and entry.http_request:
        http = entry.http_request
        parts = (http.get("requestMethod"), http.get("requestUrl"), http.get("status"), http.get("latency"))
        return " ".join(str(part) for part in parts if part not in (None, ""))
    return "" if payload is None else str(payload).rstrip("\n")


def _request_id(entry: Any, message: str) -> str | None:
    payload = entry.payload
    if isinstance(payload, dict) and isinstance(payload.get("request_id"), str):
        return str(payload["request_id"])
    match = OWN_ID.search(message) if payload is not None else None  # not in a request log entry's URL
    if match:
        return match.group(1)
    labels = entry.labels or {}
    if labels.get("execution_id"):
        return str(labels["execution_id"])
    trace = entry.trace or ""
    return trace.rsplit("/", 1)[-1] or None


def _service_name(entry: Any) -> str | None:
    resource = entry.resource
    labels = getattr(resource, "labels", None) or {}
    return labels.get("service_name")


def _error(refs: list[FunctionRef], env: Any, project: str | None, err: Exception) -> PlatformError | None:
    """A clear message for missing credentials or a missing permission; None for anything else."""
    from google.api_core import exceptions as api_exceptions
    from google.auth.exceptions import DefaultCredentialsError

    functions = ", ".join(ref.address for ref in refs)
    if isinstance(err, DefaultCredentialsError):
        return PlatformError(f"cannot read the logs of {functions} on GCP: no Google credentials (run `gcloud auth "
                             "application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a service "
                             "account key file)", key="--env", value=getattr(env, "name", None))
    if isinstance(err, (api_exceptions.Forbidden, api_exceptions.Unauthorized)):
        return PlatformError(f"cannot read the logs of {functions} on GCP: permission denied on project {project}; "
                             f"grant the caller {ROLE} (logging.logEntries.list) on project {project}", key="--env",
                             value=getattr(env, "name", None))
    return None


def fetch(env: Any, refs: list[FunctionRef], since: datetime, client: Any = None) -> list[LogEntry]:
    """Every function's entries at or after `since` (all pages), oldest first; one request per project.

    Raises:
        PlatformError: (key `--env`) google-cloud-logging is not installed, no project is known, there are no
            credentials, or the caller may not list the project's log entries (what to grant).
    """
    gcp = gcp_config(env)
    projects: dict[str | None, list[FunctionRef]] = {}
    for ref in refs:
        if not unresolved(ref.name):
            projects.setdefault(ref.project or (gcp.project if gcp else None), []).append(ref)
    if not projects:
        return []
    try:
        from google.cloud.logging import ASCENDING
    except ImportError:
        raise PlatformError("reading logs on GCP needs google-cloud-logging: pip install 'platform-sdk[gcp]'",
                            key="--env", value=getattr(env, "name", None)) from None
    found: list[LogEntry] = []
    for project, chosen in projects.items():
        try:
            listing = client or logging_client(project)
            project = project or listing.project
            by_name = {ref.name: ref for ref in chosen}
            for entry in listing.list_entries(resource_names=[f"projects/{project}"], filter_=log_filter(chosen, since),
                                              order_by=ASCENDING, page_size=PAGE_SIZE):
                ref = by_name.get(_service_name(entry) or "")
                if ref is None:
                    continue
                message = _message(entry)
                when = entry.timestamp or datetime.now(UTC)
                found.append(LogEntry(when.astimezone(UTC), ref.address, _request_id(entry, message), message))
        except Exception as err:
            clear = _error(chosen, env, project, err)
            if clear is None:
                raise
            raise clear from None
    return sorted(found, key=lambda e: e.time)
