"""`platform logs` on GCP: Cloud Logging `entries.list` (google-cloud-logging, REST) for each function's Cloud Run
service (`resource.type = "cloud_run_revision"`, `resource.labels.service_name = <function name>`).

Request ids: the runtime's structured lines carry `request_id` (metric lines) or `request_id=` (its invocation line);
otherwise the entry's `labels.execution_id`, which Cloud Run functions set per invocation, else its trace id.
https://cloud.google.com/logging/docs/reference/v2/rest/v2/entries/list, https://cloud.google.com/run/docs/logging

Endpoint: the public API with Application Default Credentials, or `PLATFORM_GCP_LOGGING_ENDPOINT` (a local fake in
tests; a plain-http endpoint gets anonymous credentials).
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from typing import Any

from platform_sdk.providers.base import FunctionRef, LogEntry, unresolved
from platform_sdk.providers.gcp.config import gcp_config

ENDPOINT_ENV = "PLATFORM_GCP_LOGGING_ENDPOINT"
OWN_ID = re.compile(r"request_id=([0-9A-Za-z#-]{6,})")


def logging_client(project: str | None, endpoint: str | None = None) -> Any:
    """A google-cloud-logging Client over REST; an http:// endpoint (a local fake) gets anonymous credentials."""
    from google.cloud import logging as cloud_logging

    endpoint = endpoint or os.environ.get(ENDPOINT_ENV) or None
    if endpoint is None:
        return cloud_logging.Client(project=project, _use_grpc=False)
    from google.auth.credentials import AnonymousCredentials

    return cloud_logging.Client(project=project, credentials=AnonymousCredentials(), _use_grpc=False,
                                client_options={"api_endpoint": endpoint})


def log_filter(ref: FunctionRef, since: datetime) -> str:
    stamp = since.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return (f'resource.type = "cloud_run_revision" AND resource.labels.service_name = "{ref.name}" AND '
            f'timestamp >= "{stamp}"')


def _message(payload: Any) -> str:
    if isinstance(payload, dict):
        text = payload.get("message")
        return str(text) if isinstance(text, str) and set(payload) <= {"message", "severity"} else json.dumps(
            payload, sort_keys=True, separators=(",", ":"))
    return "" if payload is None else str(payload)


def _request_id(entry: Any, message: str) -> str | None:
    payload = entry.payload
    if isinstance(payload, dict) and isinstance(payload.get("request_id"), str):
        return str(payload["request_id"])
    match = OWN_ID.search(message)
    if match:
        return match.group(1)
    labels = entry.labels or {}
    if labels.get("execution_id"):
        return str(labels["execution_id"])
    trace = entry.trace or ""
    return trace.rsplit("/", 1)[-1] or None


def fetch(env: Any, refs: list[FunctionRef], since: datetime, client: Any = None) -> list[LogEntry]:
    gcp = gcp_config(env)
    found: list[LogEntry] = []
    for ref in refs:
        project = ref.project or (gcp.project if gcp else None)
        if unresolved(ref.name) or not project:
            continue
        chosen = client or logging_client(project)
        from google.cloud.logging import ASCENDING

        for entry in chosen.list_entries(resource_names=[f"projects/{project}"], filter_=log_filter(ref, since),
                                         order_by=ASCENDING):
            message = _message(entry.payload)
            when = entry.timestamp or datetime.now(UTC)
            found.append(LogEntry(when.astimezone(UTC), ref.address, _request_id(entry, message), message))
    return sorted(found, key=lambda e: e.time)
