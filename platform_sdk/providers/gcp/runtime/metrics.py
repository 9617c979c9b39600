"""Business metrics on GCP: one structured JSON log line on stdout per value.

Cloud Run (which runs Cloud Functions gen2) sends stdout to Cloud Logging and parses a JSON line into `jsonPayload`
(https://cloud.google.com/run/docs/logging#writing_structured_logs); the service's log-based metric, synthesized
from its declaration, selects `jsonPayload.platform_metric` and extracts `jsonPayload.value`. Writing to stdout
needs no role on the function's service account: Cloud Run collects container logs itself
(https://cloud.google.com/run/docs/logging).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from platform_sdk.runtime.metrics import MetricRecord


def structured(record: MetricRecord) -> dict[str, Any]:
    """The log entry's JSON payload of one value (`severity` and `message` are Cloud Logging's special fields)."""
    text = f"metric {record.name}={record.value:g}" + "".join(f" {k}={v}" for k, v in record.dimensions.items())
    return {
        "severity": "INFO",
        "message": text,
        "platform_metric": record.name,
        "platform_env": record.env,
        "platform_service": record.service,
        "platform_function": record.function,
        "value": record.value,
        "unit": record.unit,
        "dimensions": dict(record.dimensions),
        "request_id": record.request_id,
    }


def emit(record: MetricRecord) -> None:
    sys.stdout.write(json.dumps(structured(record), separators=(",", ":")) + "\n")
    sys.stdout.flush()
