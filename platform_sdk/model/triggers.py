"""What makes a function run: an HTTP request, a schedule, or an object landing in a bucket."""

from __future__ import annotations

from dataclasses import dataclass

from croniter import CroniterError, croniter

from platform_sdk.errors import ModelError
from platform_sdk.model.base import caller_location
from platform_sdk.model.bucket import Bucket

CRON_FIELDS = (
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day of month", "1-31"),
    ("month", "1-12 or JAN-DEC"),
    ("day of week", "0-6 or SUN-SAT"),
)
"""The five fields of a cron expression, in order, with the values each accepts (besides `*`, lists `1,5`,
ranges `1-5` and steps `*/15`)."""


def _error(message: str, key: str, value: object) -> ModelError:
    file, line = caller_location()
    return ModelError(message, file=file, line=line, key=key, value=value)


def _parses(expression: str) -> bool:
    try:
        croniter.expand(expression)
    except (CroniterError, ValueError, KeyError, IndexError):
        return False
    return True


def cron_problem(cron: object) -> str | None:
    """Why `cron` is not a five-field cron expression croniter accepts (naming the field), or None if it is."""
    if not isinstance(cron, str) or len(cron.split()) != 5:
        return "schedule must be a five-field cron expression like '0 3 * * *' (minute hour day month weekday)"
    fields = cron.split()
    for index, (label, allowed) in enumerate(CRON_FIELDS):
        probe = ["*"] * len(CRON_FIELDS)
        probe[index] = fields[index]
        if not _parses(" ".join(probe)):
            return f"the {label} field {fields[index]!r} is out of range or malformed (use {allowed})"
    if not _parses(cron):
        return "schedule is not a valid cron expression"
    return None


@dataclass(eq=False)
class HttpTrigger:
    """Serve the function over HTTPS at a URL the cloud assigns. Made by `http()`.

    Attributes:
        public: Anyone may call the URL. Default `True`; `False` requires the caller to authenticate with
            the cloud's identity. Raises `ModelError` (key `http.public`) unless a bool.
    """

    public: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.public, bool):
            raise _error("public must be True or False", "http.public", self.public)


@dataclass(eq=False)
class ScheduleTrigger:
    """Run the function on a five-field cron schedule, in UTC. Made by `schedule()`.

    Attributes:
        cron: Required. `minute hour day-of-month month day-of-week`, e.g. `"0 3 * * *"` (03:00 UTC daily);
            each field within its range (`CRON_FIELDS`), checked with croniter. Raises `ModelError` (key
            `schedule`) naming the field that is out of range; a cloud plug-in refuses what its scheduler
            cannot express.
    """

    cron: str

    def __post_init__(self) -> None:
        problem = cron_problem(self.cron)
        if problem:
            raise _error(problem, "schedule", self.cron)


@dataclass(eq=False)
class ObjectCreatedTrigger:
    """Run the function when an object lands in a bucket. Made by `object_created()`.

    Attributes:
        bucket: Required. The `Bucket` to watch. Raises `ModelError` (key `object_created`) otherwise.
        prefix: Only keys starting with this. Default `""`: every key. Raises `ModelError` (key
            `object_created.prefix`) unless a string.
        suffix: Only keys ending with this, like `".jpg"`. Default `""`: every key. Raises `ModelError` (key
            `object_created.suffix`) unless a string.
    """

    bucket: Bucket
    prefix: str = ""
    suffix: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.bucket, Bucket):
            raise _error("object_created() watches a Bucket", "object_created", _describe(self.bucket))
        for key in ("prefix", "suffix"):
            if not isinstance(getattr(self, key), str):
                raise _error(f"{key} must be a string", f"object_created.{key}", getattr(self, key))


Trigger = HttpTrigger | ScheduleTrigger | ObjectCreatedTrigger
TRIGGER_TYPES = (HttpTrigger, ScheduleTrigger, ObjectCreatedTrigger)


def _describe(value: object) -> object:
    """A resource as `Kind('name')` in messages, anything else as itself."""
    name = getattr(value, "name", None)
    return f"{type(value).__name__}({name!r})" if isinstance(name, str) else value


def http(public: bool = True) -> HttpTrigger:
    """An HTTP trigger: `Function(..., triggers=[http()])`. See `HttpTrigger`."""
    return HttpTrigger(public=public)


def schedule(cron: str) -> ScheduleTrigger:
    """A cron trigger (five fields, UTC), e.g. `schedule("0 3 * * *")`. See `ScheduleTrigger`.

    Raises:
        ModelError: a field is out of range or the expression does not have five fields, naming the line.
    """
    return ScheduleTrigger(cron)


def object_created(bucket: Bucket, prefix: str = "", suffix: str = "") -> ObjectCreatedTrigger:
    """An object-created trigger on `bucket`, optionally filtered by key prefix/suffix. See `ObjectCreatedTrigger`."""
    return ObjectCreatedTrigger(bucket, prefix, suffix)
