"""Business metrics from function code: `metric("thumbnails_served").add(1, dimensions={"width": "128"})`.

Only metrics the service declares (`service.metric(...)` in its service file, shipped as PLATFORM_METRICS, see
platform_sdk.contract) may be emitted: an undeclared name or dimension raises `MetricError` naming the line to add,
like a missing grant. Every value becomes one log line in the format of the cloud the function runs on, written
by that cloud's plug-in runtime (`platform_sdk.providers.<target>.runtime.metrics.emit(record)`):

- AWS: CloudWatch embedded metric format (EMF), which CloudWatch Logs turns into a metric; no API call, no IAM;
- GCP: a structured JSON log line, which the service's log-based metric (synthesized from the declaration) counts;
- the local cloud: a readable line in `platform dev`'s output and the local function log (`platform logs`).

The line carries the request id of the invocation that emitted it. Standard library only.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import math
import os
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from platform_sdk import contract
from platform_sdk.runtime import plugins
from platform_sdk.runtime.resources import function_identity

_target: str | None = None
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("platform_request_id", default=None)
MAX_DIMENSION_VALUE = 256
"""Characters of one dimension value (CloudWatch allows 1024; long values make useless dashboards)."""


class MetricError(ValueError):
    """Code emitted a metric its service did not declare, a dimension the metric does not have, or a bad value."""


@dataclass(frozen=True)
class MetricRecord:
    """One emitted value, as the plug-in runtimes write it.

    `timestamp_ms`: milliseconds since the epoch. `dimensions`: declared dimension -> value (strings).
    """

    name: str
    unit: str
    value: float
    namespace: str
    env: str
    service: str
    function: str
    request_id: str | None
    timestamp_ms: int
    dimensions: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        """The neutral shape (what a runtime without its own format writes)."""
        return {"platform_metric": self.name, "unit": self.unit, "value": self.value, "namespace": self.namespace,
                "env": self.env, "service": self.service, "function": self.function, "request_id": self.request_id,
                "timestamp_ms": self.timestamp_ms, "dimensions": dict(self.dimensions)}


def bind(target: str) -> None:
    """Emit through plug-in `target`'s runtime from now on (the entry adapter calls this once per process)."""
    global _target
    _target = target


@contextlib.contextmanager
def request(request_id: str) -> Iterator[None]:
    """Metrics emitted inside carry `request_id` (the entry adapter wraps every invocation)."""
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


def current_request_id() -> str | None:
    return _request_id.get()


def declared() -> tuple[str, dict[str, contract.MetricSpec]]:
    """(namespace, name -> spec) from PLATFORM_METRICS."""
    return contract.decode_metrics(os.environ.get(contract.METRICS, ""))


class Metric:
    """A declared metric of this function's service; `add` emits one value."""

    def __init__(self, spec: contract.MetricSpec, namespace: str) -> None:
        self.spec = spec
        self.namespace = namespace

    @property
    def name(self) -> str:
        """The metric's declared name (as in `service.metric(name, ...)`)."""
        return self.spec.name

    def add(self, value: float = 1, dimensions: Mapping[str, str | int] | None = None) -> None:
        """Emit `value` (a finite number, in the metric's declared unit; default 1) with `dimensions` (declared
        dimension -> a string or whole number, at most `MAX_DIMENSION_VALUE` characters; any subset).

        Raises:
            MetricError: a value that is not a finite number, a dimension the metric does not declare, or a
                dimension value that is not a non-empty short string or whole number.
        """
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise MetricError(f"metric {self.name!r}: value must be a finite number, got {value!r}")
        values: dict[str, str] = {}
        for key, raw in (dimensions or {}).items():
            if key not in self.spec.dimensions:
                known = ", ".join(self.spec.dimensions) or "none"
                raise MetricError(f"metric {self.name!r} has no dimension {key!r} (declared: {known}); add it to "
                                  f"dimensions= of service.metric({self.name!r}, ...) in {_service_file()}")
            if isinstance(raw, bool) or not isinstance(raw, (str, int)) or not str(raw) \
                    or len(str(raw)) > MAX_DIMENSION_VALUE:
                raise MetricError(f"metric {self.name!r}: dimension {key!r} must be a non-empty string or whole "
                                  f"number of at most {MAX_DIMENSION_VALUE} characters, got {raw!r}")
            values[key] = str(raw)
        record = MetricRecord(
            name=self.name, unit=self.spec.unit, value=float(value) if isinstance(value, float) else value,
            namespace=self.namespace, env=os.environ.get(contract.ENV, ""),
            service=os.environ.get(contract.SERVICE, ""), function=os.environ.get(contract.FUNCTION, ""),
            request_id=current_request_id(), timestamp_ms=int(time.time() * 1000),
            dimensions=dict(sorted(values.items())),
        )
        _emit(record)


def _service_file() -> str:
    service = os.environ.get(contract.SERVICE)
    return f"the service file that declares service {service!r}" if service else "the service file"


def metric(name: str) -> Metric:
    """The declared metric `name` of this function's service.

    Raises:
        MetricError: the service declares no metric of that name (the message names the line to add).
    """
    namespace, specs = declared()
    spec = specs.get(name)
    if spec is None:
        known = ", ".join(sorted(specs)) or "none"
        raise MetricError(
            f"function {function_identity()} emits metric {name!r}, which its service does not declare (declared: "
            f"{known}). In {_service_file()}, add `service.metric({name!r}, unit=\"Count\")` (with its dimensions); "
            "then deploy again.")
    return Metric(spec, namespace)


def _emit(record: MetricRecord) -> None:
    emitter = None
    if _target is not None:
        try:
            emitter = getattr(plugins.load(_target, "metrics"), "emit", None)
        except plugins.PluginNotFoundError:
            emitter = None
    if emitter is not None:
        emitter(record)
        return
    sys.stdout.write(json.dumps(record.to_json(), separators=(",", ":")) + "\n")
    sys.stdout.flush()
