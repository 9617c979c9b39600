"""Business metrics on AWS: one CloudWatch embedded metric format (EMF) line on stdout per value.

Lambda writes stdout to the function's log group; CloudWatch Logs recognises the `_aws` member and creates the
metric (namespace `<name_prefix>/<env>`, dimension sets `[service]` and `[service, <declared dimensions>]`), so a
metric costs no API call and no IAM permission beyond the log group's, which every function has.
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
"""

from __future__ import annotations

import json
import sys
from typing import Any

from platform_sdk.runtime.metrics import MetricRecord

SERVICE_DIMENSION = "service"
"""The dimension every business metric carries (the service's dashboard reads the metric by it)."""


def emf(record: MetricRecord) -> dict[str, Any]:
    """The EMF document of one value."""
    dimension_sets = [[SERVICE_DIMENSION]]
    if record.dimensions:
        dimension_sets.append([SERVICE_DIMENSION, *sorted(record.dimensions)])
    return {
        "_aws": {"Timestamp": record.timestamp_ms, "CloudWatchMetrics": [{
            "Namespace": record.namespace, "Dimensions": dimension_sets,
            "Metrics": [{"Name": record.name, "Unit": record.unit}],
        }]},
        **record.dimensions,
        SERVICE_DIMENSION: record.service,
        record.name: record.value,
        "function": record.function,
        "requestId": record.request_id,
    }


def emit(record: MetricRecord) -> None:
    sys.stdout.write(json.dumps(emf(record), separators=(",", ":")) + "\n")
    sys.stdout.flush()
