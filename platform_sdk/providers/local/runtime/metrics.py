"""Business metrics on the local cloud: one readable line per value on stderr.

`platform dev` shows a function's stderr in its output and keeps it in the local function log, which
`platform logs` reads: `metric thumbnails_served=1 width=128 request_id=...`.
"""

from __future__ import annotations

import sys

from platform_sdk.runtime.metrics import MetricRecord

PREFIX = "metric "
"""How a metric line starts (the local log reader recognises it)."""


def line(record: MetricRecord) -> str:
    dims = "".join(f" {k}={v}" for k, v in record.dimensions.items())
    return f"{PREFIX}{record.name}={record.value:g}{dims} unit={record.unit} request_id={record.request_id or '-'}"


def emit(record: MetricRecord) -> None:
    sys.stderr.write(line(record) + "\n")
    sys.stderr.flush()
