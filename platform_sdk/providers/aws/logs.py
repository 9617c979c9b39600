"""`platform logs` on AWS: CloudWatch Logs `FilterLogEvents` on each function's log group `/aws/lambda/<name>`.

Request ids: Lambda writes `START RequestId: <id>` before and `END RequestId: <id>` / `REPORT RequestId: <id>` after
each invocation, and one execution environment (one log stream) runs one invocation at a time, so every line of a
stream between START and END belongs to that request. A line that names its own (`requestId` in an EMF metric line,
`request_id=` in the runtime's invocation line, the Python runtime's tab-separated prefix) keeps its own.
https://docs.aws.amazon.com/lambda/latest/dg/python-logging.html
`clouds.aws.endpoint` points boto3 at an AWS-compatible endpoint (moto in tests).

Reading needs `logs:FilterLogEvents` on the log groups
(https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html); without it, or without
credentials, `fetch` raises a PlatformError naming the function and what to grant or set.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from platform_sdk.errors import PlatformError
from platform_sdk.providers.aws.config import aws_config
from platform_sdk.providers.base import FunctionRef, LogEntry, unresolved

LAMBDA_MARK = re.compile(r"^(START|END|REPORT) RequestId: ([0-9a-fA-F-]+)")
OWN_ID = re.compile(r"(?:request_id=|RequestId: )([0-9a-fA-F-]{8,})")
PYTHON_PREFIX = re.compile(r"^\[[A-Z]+\]\t[^\t]+\t([0-9a-fA-F-]{36})\t")


def logs_client(env: Any, region: str | None = None) -> Any:
    import boto3

    aws = aws_config(env)
    return boto3.client("logs", region_name=region or (aws.region if aws else None),
                        endpoint_url=aws.endpoint if aws else None)


def log_group(ref: FunctionRef) -> str:
    """The log group the compiler gives every function (function.py: logging_config.log_group)."""
    return f"/aws/lambda/{ref.name}"


def log_group_arn(env: Any, ref: FunctionRef) -> str:
    """The log group's ARN for an IAM policy (`*` for a region or account the environment does not name)."""
    aws = aws_config(env)
    region = ref.region or (aws.region if aws else None) or "*"
    account = (aws.account if aws else None) or "*"
    return f"arn:aws:logs:{region}:{account}:log-group:{log_group(ref)}:*"


def _own_request_id(message: str) -> str | None:
    if message.startswith("{"):
        try:
            doc = json.loads(message)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and isinstance(doc.get("requestId"), str):
            return str(doc["requestId"])
    match = PYTHON_PREFIX.match(message) or OWN_ID.search(message)
    return match.group(1) if match else None


def entries(events: list[dict[str, Any]], address: str) -> list[LogEntry]:
    """FilterLogEvents events of one log group -> entries with request ids (see the module docstring).

    Events are taken in time order; events of the same millisecond keep the order the API returned them in (each
    stream's own order: an event id is opaque, and not a number that sorts as text)."""
    current: dict[str, str | None] = {}
    found = []
    for event in sorted(events, key=lambda e: int(e.get("timestamp", 0))):
        message = str(event.get("message", "")).rstrip("\n")
        stream = str(event.get("logStreamName", ""))
        mark = LAMBDA_MARK.match(message)
        if mark:
            request_id: str | None = mark.group(2)
            current[stream] = request_id if mark.group(1) == "START" else None
        else:
            request_id = _own_request_id(message) or current.get(stream)
        when = datetime.fromtimestamp(int(event.get("timestamp", 0)) / 1000, UTC)
        found.append(LogEntry(when, address, request_id, message))
    return found


def fetch(env: Any, refs: list[FunctionRef], since: datetime, client: Any = None) -> list[LogEntry]:
    """Every function's events at or after `since` (all pages), oldest first; a missing log group is no events.

    Raises:
        PlatformError: (key `--env`) no AWS credentials, or the caller may not call FilterLogEvents on a function's
            log group: the message names the function, the log group and the permission to grant.
    """
    from botocore.exceptions import ClientError, NoCredentialsError

    clients: dict[str | None, Any] = {}
    found: list[LogEntry] = []
    for ref in refs:
        if unresolved(ref.name):
            continue
        chosen = client or clients.setdefault(ref.region, logs_client(env, ref.region))
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"logGroupName": log_group(ref), "startTime": int(since.timestamp() * 1000)}
        try:
            for page in chosen.get_paginator("filter_log_events").paginate(**kwargs):
                events += page.get("events", [])
        except chosen.exceptions.ResourceNotFoundException:
            continue  # never invoked: Lambda creates no stream before the first call (we create the group)
        except NoCredentialsError:
            raise PlatformError(f"cannot read the logs of {ref.address} on AWS: no AWS credentials (set AWS_PROFILE, "
                                "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)", key="--env",
                                value=getattr(env, "name", None)) from None
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") not in ("AccessDeniedException", "AccessDenied"):
                raise
            raise PlatformError(f"cannot read the logs of {ref.address} on AWS: access denied to log group "
                                f"{log_group(ref)}; grant the caller logs:FilterLogEvents on "
                                f"{log_group_arn(env, ref)}", key="--env",
                                value=getattr(env, "name", None)) from None
        found += entries(events, ref.address)
    return sorted(found, key=lambda e: e.time)
