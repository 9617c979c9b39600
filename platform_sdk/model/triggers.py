"""What makes a function run: an HTTP request (open, IAM-authenticated or JWT-authenticated), a schedule, an object
landing in a bucket, or a message on a queue."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from platform_sdk.errors import ModelError
from platform_sdk.model.base import caller_location
from platform_sdk.model.bucket import Bucket
from platform_sdk.model.queue import Queue

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
    # imported here: croniter's import runs `file` on the interpreter (platform.architecture()), ~20 ms that
    # every `platform` command paid, schedules or not
    from croniter import CroniterError, croniter

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


_LOOPBACK = re.compile(r"^http://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(/|$)")
BATCH_SIZE = (1, 10)
"""Inclusive range of `queue_message(batch_size=...)`: SQS hands a function at most 10 messages without a batching
window; GCP and the local cloud deliver one message per call whatever it says (see `QueueMessageTrigger`)."""


@dataclass(eq=False)
class Jwt:
    """Bearer tokens an HTTP trigger accepts: JSON Web Tokens signed by `issuer`, verified in the function's entry
    adapter (PyJWT) the same way on every cloud. Made by `jwt()`.

    Attributes:
        issuer: Required. The `iss` the tokens must carry, an `https://` URL (e.g. `"https://login.example.com"`).
            Raises `ModelError` (key `http.auth.issuer`) otherwise.
        audience: Required. The `aud` the tokens must carry (this API's identifier), a non-empty string. Raises
            `ModelError` (key `http.auth.audience`) otherwise.
        jwks_url: Where the issuer publishes its signing keys (JWKS). Default `None`: `<issuer>/.well-known/jwks.json`.
            Must be `https://` (a loopback `http://127.0.0.1` URL is accepted for development). Fetched when a token
            names a key not seen yet, and cached. Raises `ModelError` (key `http.auth.jwks_url`) otherwise.
        algorithms: Accepted signature algorithms. Default `("RS256",)`; asymmetric ones only (RS*, PS*, ES*, EdDSA):
            a shared secret would let anyone who verifies also sign. Raises `ModelError` (key `http.auth.algorithms`).
    """

    issuer: str
    audience: str
    jwks_url: str | None = None
    algorithms: tuple[str, ...] = ("RS256",)

    def __post_init__(self) -> None:
        if not isinstance(self.issuer, str) or not (self.issuer.startswith("https://") or _LOOPBACK.match(self.issuer)):
            raise _error("issuer must be an https:// URL", "http.auth.issuer", self.issuer)
        if not isinstance(self.audience, str) or not self.audience:
            raise _error("audience must be a non-empty string", "http.auth.audience", self.audience)
        url = self.jwks_url
        if url is not None and (not isinstance(url, str) or not (url.startswith("https://") or _LOOPBACK.match(url))):
            raise _error("jwks_url must be an https:// URL (or http://127.0.0.1 for development)", "http.auth.jwks_url",
                         url)
        allowed = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
        algorithms = tuple(self.algorithms) if isinstance(self.algorithms, (list, tuple)) else ()
        if not algorithms or any(a not in allowed for a in algorithms):
            raise _error(f"algorithms must be a non-empty list from {', '.join(allowed)}", "http.auth.algorithms",
                         self.algorithms)
        self.algorithms = algorithms

    @property
    def keys_url(self) -> str:
        """`jwks_url`, else `<issuer>/.well-known/jwks.json`."""
        return self.jwks_url or self.issuer.rstrip("/") + "/.well-known/jwks.json"

    def to_json(self) -> dict[str, object]:
        return {"issuer": self.issuer, "audience": self.audience, "jwks_url": self.keys_url,
                "algorithms": list(self.algorithms)}


HttpAuth = Literal["iam"] | Jwt | None


@dataclass(eq=False)
class HttpTrigger:
    """Serve the function over HTTPS at a URL the cloud assigns. Made by `http()`.

    Attributes:
        public: Anyone may reach the URL. Default `True`; `False` is `auth="iam"`. Raises `ModelError` (key
            `http.public`) unless a bool.
        auth: Who may call. Default `None` (with `public=True`): anyone. `"iam"`: only callers the cloud's identity
            admits: functions granted `caller.invokes(fn)` and the principals the environment file names per cloud
            (`[overrides."svc.fn"] invokers`); AWS function URL `AWS_IAM`, Cloud Run invoker IAM, the local gateway's
            signed function identities; anything else gets 401 (no identity) or 403 (not granted). `jwt(...)`: bearer
            tokens verified in the entry adapter against the issuer's keys (401 without a valid token), identical on
            every cloud; the verified claims reach the handler as `HttpRequest.claims`. Raises `ModelError` (key
            `http.auth`) otherwise, or for `jwt(...)` with `public=False`.
    """

    public: bool = True
    auth: HttpAuth = None

    def __post_init__(self) -> None:
        if not isinstance(self.public, bool):
            raise _error("public must be True or False", "http.public", self.public)
        if self.auth is not None and self.auth != "iam" and not isinstance(self.auth, Jwt):
            raise _error('auth must be "iam" or jwt(issuer=..., audience=...)', "http.auth", self.auth)
        if isinstance(self.auth, Jwt) and not self.public:
            raise _error("jwt() auth needs a URL the caller can reach without a cloud identity: drop public=False",
                         "http.auth", "jwt")
        if self.auth == "iam":
            self.public = False
        elif not self.public:
            self.auth = "iam"

    @property
    def iam(self) -> bool:
        """True when only cloud identities (granted functions, named principals) may call."""
        return self.auth == "iam"

    @property
    def jwt(self) -> Jwt | None:
        return self.auth if isinstance(self.auth, Jwt) else None


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


@dataclass(eq=False)
class QueueMessageTrigger:
    """Run the function for the messages of a queue. Made by `queue_message()`.

    A handler that raises fails its message, which is delivered again later; after the queue's `max_attempts`
    the message goes to the dead-letter queue. With several messages per call, only the failed ones are retried
    (SQS partial batch responses; the others deliver one message per call).

    Attributes:
        queue: Required. The `Queue`. Raises `ModelError` (key `queue_message`) otherwise.
        batch_size: Most messages per call, a whole number from 1 to 10. Default 1. AWS hands the function up to
            this many at once (one handler call each); GCP (Pub/Sub push) and the local cloud deliver one message per
            call whatever it says. Raises `ModelError` (key `queue_message.batch_size`) otherwise.
    """

    queue: Queue
    batch_size: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.queue, Queue):
            raise _error("queue_message() reads a Queue", "queue_message", _describe(self.queue))
        low, high = BATCH_SIZE
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or not \
                low <= self.batch_size <= high:
            raise _error(f"batch_size must be a whole number from {low} to {high}", "queue_message.batch_size",
                         self.batch_size)


Trigger = HttpTrigger | ScheduleTrigger | ObjectCreatedTrigger | QueueMessageTrigger
TRIGGER_TYPES = (HttpTrigger, ScheduleTrigger, ObjectCreatedTrigger, QueueMessageTrigger)


def _describe(value: object) -> object:
    """A resource as `Kind('name')` in messages, anything else as itself."""
    name = getattr(value, "name", None)
    return f"{type(value).__name__}({name!r})" if isinstance(name, str) else value


def http(public: bool = True, auth: HttpAuth = None) -> HttpTrigger:
    """An HTTP trigger: `Function(..., triggers=[http()])`, `http(auth="iam")`, `http(auth=jwt(...))`. See
    `HttpTrigger`."""
    return HttpTrigger(public=public, auth=auth)


def jwt(issuer: str, audience: str, jwks_url: str | None = None, algorithms: tuple[str, ...] = ("RS256",)) -> Jwt:
    """Bearer-token auth for `http(auth=jwt(issuer=..., audience=...))`. See `Jwt`."""
    return Jwt(issuer, audience, jwks_url, tuple(algorithms))


def schedule(cron: str) -> ScheduleTrigger:
    """A cron trigger (five fields, UTC), e.g. `schedule("0 3 * * *")`. See `ScheduleTrigger`.

    Raises:
        ModelError: a field is out of range or the expression does not have five fields, naming the line.
    """
    return ScheduleTrigger(cron)


def object_created(bucket: Bucket, prefix: str = "", suffix: str = "") -> ObjectCreatedTrigger:
    """An object-created trigger on `bucket`, optionally filtered by key prefix/suffix. See `ObjectCreatedTrigger`."""
    return ObjectCreatedTrigger(bucket, prefix, suffix)


def queue_message(queue: Queue, batch_size: int = 1) -> QueueMessageTrigger:
    """A queue trigger: run the function for each message of `queue`. See `QueueMessageTrigger`."""
    return QueueMessageTrigger(queue, batch_size)
