"""Business metrics: what a service's code counts or measures (`metric("thumbnails_served").add(1)` at runtime).

A service declares each metric its code emits, so synthesis can build what reads it before any code runs (a
log-based metric on GCP, a dashboard widget everywhere) and the runtime can refuse a name nobody declared, with the
line to add, like a missing grant:

    served = service.metric("thumbnails_served", unit="Count", dimensions=["width"])
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from platform_sdk.errors import ModelError

METRIC_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
"""Metric and dimension names: lowercase letters, digits and '_', starting with a letter, at most 63 characters
(valid as a CloudWatch metric name, a Cloud Logging label key and a JSON key alike)."""
UNITS = ("Count", "Milliseconds", "Seconds", "Bytes", "Percent", "None")
"""Units a metric may have: a subset of CloudWatch's units that every cloud can express
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDatum.html)."""
MAX_DIMENSIONS = 9
"""Dimensions per metric: CloudWatch allows 30, a Cloud Logging log-based metric 10 labels, one of which the
platform uses for the function."""


@dataclass(frozen=True)
class Metric:
    """One business metric of a service.

    Attributes:
        name: `METRIC_NAME` (e.g. `"thumbnails_served"`). Raises `ModelError` (key `name`) otherwise.
        unit: One of `UNITS`. Default `"Count"`. Raises `ModelError` (key `unit`) otherwise.
        dimensions: Names (`METRIC_NAME`) of the dimensions code attaches to each value, at most `MAX_DIMENSIONS`,
            no repeats, e.g. `("width",)`. Default `()`. Code may leave a dimension out, never add an undeclared one.
            Raises `ModelError` (key `dimensions`) otherwise.
        description: Free text for dashboards. Default `""`.
        declared_in, declared_line: where it was declared (set by `Service.metric`).
    """

    name: str
    unit: str = "Count"
    dimensions: tuple[str, ...] = ()
    description: str = ""
    declared_in: str | None = field(default=None, compare=False, repr=False)
    declared_line: int | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        def fail(message: str, key: str, value: object) -> ModelError:
            return ModelError(message, file=self.declared_in, line=self.declared_line, key=key, value=value)

        if not isinstance(self.name, str) or not METRIC_NAME.match(self.name):
            raise fail("a metric name is lowercase letters, digits and '_', starting with a letter (at most 63)",
                       "name", self.name)
        if self.unit not in UNITS:
            raise fail(f"unit must be one of {', '.join(UNITS)}", "unit", self.unit)
        dimensions: object = self.dimensions  # checked as the object a caller passed, not as its annotation
        if isinstance(dimensions, str) or not isinstance(dimensions, (list, tuple)):
            raise fail("dimensions must be a list of names, like [\"width\"]", "dimensions", self.dimensions)
        object.__setattr__(self, "dimensions", tuple(self.dimensions))
        for name in self.dimensions:
            if not isinstance(name, str) or not METRIC_NAME.match(name):
                raise fail("a dimension name is lowercase letters, digits and '_', starting with a letter",
                           "dimensions", name)
        if len(set(self.dimensions)) != len(self.dimensions) or len(self.dimensions) > MAX_DIMENSIONS:
            raise fail(f"dimensions must be distinct, at most {MAX_DIMENSIONS}", "dimensions", list(self.dimensions))
        if not isinstance(self.description, str):
            raise fail("description must be a string", "description", self.description)
