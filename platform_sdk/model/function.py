"""The Function kind: user code, what makes it run (triggers), and what it may touch (grants)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import ClassVar, Literal, Self, TypeVar

from platform_sdk.errors import ModelError
from platform_sdk.model.alarms import Alarms
from platform_sdk.model.base import ErrorFactory, Resource, Spec, caller_location, is_whole
from platform_sdk.model.bucket import Bucket
from platform_sdk.model.database import Database
from platform_sdk.model.queue import Queue
from platform_sdk.model.secret import Secret
from platform_sdk.model.triggers import TRIGGER_TYPES, QueueMessageTrigger, Trigger

HANDLER_PATTERN = re.compile(r"^[A-Za-z_][\w.]*\.[A-Za-z_]\w*$")
"""`module.function` (the module may be dotted: `pkg.module.function`)."""
RUNTIME_PATTERN = re.compile(r"^python3\.\d{1,2}$")
"""`python3.X`. Which versions a cloud runs is the cloud plug-in's check."""
ENV_NAME_PATTERN = re.compile(r"^[A-Z_][A-Z0-9_]*$")
RESERVED_ENV_PREFIX = "PLATFORM_"
"""Variables the platform injects start with this (see `platform_sdk.contract`); user variables may not."""

Access = Literal["read", "write", "readwrite", "connect", "send", "invoke"]
"""A grant's access level: a key of the target kind's `operations`."""

GRANT_METHODS: dict[str, str] = {"read": "reads", "write": "writes", "readwrite": "reads_writes", "connect": "uses",
                                 "send": "sends", "invoke": "invokes"}
"""Access level -> the Function method that grants it."""

OPERATIONS: Mapping[str, tuple[str, ...]] = {"invoke": ("invoke", "send")}
"""Grant access level -> the runtime operations it allows on another function. `caller.invokes(worker)` grants
"invoke": `function(name).invoke(payload)` (synchronous, returns the result) and `.send(payload)` (asynchronous)."""

OPERATION_DESCRIPTIONS: Mapping[str, str] = {
    "invoke": "call the function and wait for its result (runtime: function(name).invoke(payload))",
    "send": "hand the function a payload to run later, at least once (runtime: function(name).send(payload))",
}
"""What each operation in `OPERATIONS` does, and the runtime client method that performs it."""

T = TypeVar("T")
_GRANTS_MADE = itertools.count()


@dataclass(eq=False)
class Grant:
    """A function's access to another resource. Drives least-privilege IAM and the injected connection details.

    Made by `fn.reads(bucket_or_secret)`, `fn.writes(bucket)`, `fn.reads_writes(bucket)`, `fn.uses(database)`,
    `fn.sends(queue)` and `fn.invokes(function)`.

    Attributes:
        function: The function that holds the grant.
        target: The bucket, database, secret, queue or function it may access.
        access: The access level, a key of the target kind's `operations` ("read", "write", "readwrite" on a
            Bucket; "connect" on a Database; "read" on a Secret; "send" on a Queue; "invoke" on a Function).
        declared_in: The file of the line that made the grant (for error messages); set automatically.
        declared_line: That line; set automatically.
        made: Rises with every grant made in the process: which of several grants was made last, whatever files
            they were made in (see `last_made`).
    """

    function: Function
    target: Bucket | Database | Secret | Queue | Function
    access: Access
    declared_in: str | None = field(default=None, init=False, repr=False)
    declared_line: int | None = field(default=None, init=False, repr=False)
    made: int = field(default_factory=lambda: next(_GRANTS_MADE), init=False, repr=False)

    def __post_init__(self) -> None:
        self.declared_in, self.declared_line = caller_location()

    @property
    def operations(self) -> tuple[str, ...]:
        """The runtime operations this grant allows (the target kind's `OPERATIONS[access]`)."""
        return type(self.target).operations[self.access]

    @property
    def label(self) -> str:
        """The grant as written, by addresses: `invoices.api reads(orders.files)`."""
        return f"{self.function.address} {GRANT_METHODS[self.access]}({self.target.address})"

    @property
    def location(self) -> tuple[str | None, int | None]:
        """(file, line) of the statement that made the grant, which may be another service file than the one that
        declared the function (`sibling()`); the function's declaration when the grant's is unknown."""
        if self.declared_in is not None:
            return self.declared_in, self.declared_line
        return self.function.declared_in, self.function.declared_line

    def __str__(self) -> str:
        """`label` and `location`: `invoices.api reads(orders.files) (/p/services/shop.py:12)`."""
        file, line = self.location
        return f"{self.label} ({file}:{line})" if file else self.label

    def error(self, message: str, key: str | None = None, value: object = None, hint: str | None = None) -> ModelError:
        """An error pointing at the line that made this grant (`location`); key defaults to
        `<function address>.<method>`, e.g. `invoices.api.reads`."""
        file, line = self.location
        key = key or f"{self.function.address}.{GRANT_METHODS[self.access]}"
        return ModelError(message, file=file, line=line, key=key, value=value, hint=hint)


def last_made(grants: Iterable[Grant]) -> Grant:
    """Of `grants` (at least one), the one made last: of grants that form a cycle, the one that closed it, which
    error messages point at.

    Raises:
        ValueError: `grants` is empty.
    """
    return max(grants, key=lambda grant: grant.made)


@dataclass(eq=False, kw_only=True)
class FunctionSpec(Spec):
    """How a `Function` runs (keyword-only settings). Modules that create functions subclass this spec.

    Attributes:
        runtime: The language runtime, `"python3.X"`. Default `"python3.11"`. Raises `ModelError` (key
            `runtime`) for anything else; each cloud plug-in refuses a version it does not run.
        memory: Memory in MB, a positive whole number. Default 256. Raises `ModelError` (key `memory`)
            otherwise; each cloud plug-in checks its own range on the deployed value (overrides included).
        timeout: Longest run in seconds, a positive whole number. Default 30. Raises `ModelError` (key
            `timeout`) otherwise; each cloud plug-in checks its own maximum on the deployed value.
        environment: Environment variables, `{"NAME": "value"}`: names UPPER_SNAKE_CASE, not starting with
            `PLATFORM_` (reserved for what the platform injects), values strings. Default `{}`. Raises
            `ModelError` (key `environment` or `environment.NAME`) otherwise.
        alarms: Thresholds of the function's alarms (errors, throttles, p95 duration), see `Alarms`. Default
            `Alarms()`: on, every threshold from the profile or the built-in defaults. Raises `ModelError` (key
            `alarms` or `alarms.<setting>`) unless an `Alarms` with valid function settings.
        internet: The function's code calls hosts on the public internet itself (a third-party API, a webhook),
            not only the resources it is granted. Default `False`. Raises `ModelError` (key `internet`) unless a
            bool. A cloud plug-in refuses it where the function could not reach the internet: on AWS a function
            that runs in the VPC (it uses a database) needs a NAT gateway (`[clouds.aws.network] nat`). A local
            environment that rehearses such a cloud cuts the function off from the internet as that cloud would.
    """

    runtime: str = "python3.11"
    memory: int = 256
    timeout: int = 30
    environment: dict[str, str] = field(default_factory=dict)
    alarms: Alarms = field(default_factory=Alarms)
    internet: bool = False

    def check_spec(self, error: ErrorFactory) -> None:
        """Raise `error(message, key, value)` for the first invalid setting."""
        if not isinstance(self.runtime, str) or not RUNTIME_PATTERN.match(self.runtime):
            raise error("runtime must look like 'python3.11'", "runtime", self.runtime)
        if not is_whole(self.memory) or self.memory < 1:
            raise error("memory must be a positive whole number of MB", "memory", self.memory)
        if not is_whole(self.timeout) or self.timeout < 1:
            raise error("timeout must be a positive whole number of seconds", "timeout", self.timeout)
        if not isinstance(self.environment, dict):
            raise error("environment must be a dict of names to strings", "environment", self.environment)
        for key, value in self.environment.items():
            if not isinstance(key, str) or not ENV_NAME_PATTERN.match(key) or key.startswith(RESERVED_ENV_PREFIX):
                raise error(f"environment names are UPPER_SNAKE_CASE and may not start with {RESERVED_ENV_PREFIX}",
                            "environment", key)
            if not isinstance(value, str):
                raise error("environment values must be strings", f"environment.{key}", value)
        if not isinstance(self.alarms, Alarms):
            raise error("alarms must be Alarms(...), like alarms=Alarms(errors=5)", "alarms", self.alarms)
        self.alarms.check("function", error)
        if not isinstance(self.internet, bool):
            raise error("internet must be True or False", "internet", self.internet)


@dataclass(eq=False)
class Function(Resource, FunctionSpec):
    """A function: user code (a directory with a handler module), its triggers and its grants.

    Attributes:
        name: Required. The neutral name, see `Resource`.
        handler: Required. `module.function` in `source`, e.g. `"resize.on_upload"`. Raises `ModelError` (key
            `handler`) unless it looks like that; loading the estate refuses a module file that is missing.
        source: The directory holding the code, relative to the file that declares the function (a string or
            a Path). Default: that file's directory. Resolved to an absolute path.
        triggers: What runs the function: a list of `http()`, `schedule(cron)`, `object_created(bucket)` and
            `queue_message(queue)`. Default `[]` (invoked only by the platform, or by functions granted
            `invokes`). Raises `ModelError` (key `triggers`) unless a list of those.
        runtime, memory, timeout, environment, alarms, internet: keyword-only settings, see `FunctionSpec` (units,
            defaults and errors).
        grants: The grants made with `reads`, `writes`, `reads_writes`, `uses`, `sends` and `invokes` (not a
            constructor argument), in the order they were made.

    Raises:
        ModelError: on any invalid setting, naming the file and line of the declaration, the key and the value.
    """

    kind: ClassVar[str] = "function"
    operations: ClassVar[Mapping[str, tuple[str, ...]]] = OPERATIONS
    overridable: ClassVar[tuple[str, ...]] = tuple(f.name for f in fields(FunctionSpec))
    handler: str = ""
    source: str | Path = ""
    triggers: list[Trigger] = field(default_factory=list)
    grants: list[Grant] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.handler, str) or not HANDLER_PATTERN.match(self.handler):
            raise self.error("handler must look like 'module.function'", "handler", self.handler)
        if not isinstance(self.source, (str, Path)):
            raise self.error("source must be a directory path", "source", self.source)
        self.check_spec(self.error)
        if not isinstance(self.triggers, list):
            raise self.error("triggers must be a list, like triggers=[http()]", "triggers", self.triggers)
        for trigger in self.triggers:
            if not isinstance(trigger, TRIGGER_TYPES):
                raise self.error("a trigger is http(), schedule(cron), object_created(bucket) or "
                                 "queue_message(queue)", "triggers", trigger)
            if isinstance(trigger, QueueMessageTrigger) and self not in trigger.queue.consumers:
                trigger.queue.consumers.append(self)
        base = Path(self.declared_in).parent if self.declared_in else Path.cwd()
        self.source = (base / self.source).resolve() if self.source else base.resolve()

    @property
    def source_dir(self) -> Path:
        """Absolute directory holding the function's code."""
        return Path(self.source)

    @property
    def handler_module(self) -> str:
        """The module part of `handler` (`resize` for `resize.on_upload`)."""
        return self.handler.rsplit(".", 1)[0]

    def trigger_of(self, kind: type[T]) -> list[T]:
        """The triggers of one type, in declaration order: `fn.trigger_of(HttpTrigger)`."""
        return [t for t in self.triggers if isinstance(t, kind)]

    # -- grants ---------------------------------------------------------------------------------------------------
    def reads(self, target: Bucket | Secret) -> Self:
        """Allow reading a bucket (`bucket.OPERATIONS["read"]`: get, head, list, signed_url) or a secret
        (`secret.OPERATIONS["read"]`: its value through `secret(name)` at runtime).

        Raises:
            ModelError: `target` is neither a Bucket nor a Secret, naming the line of this call.
        """
        return self._grant(target, "read")

    def writes(self, bucket: Bucket) -> Self:
        """Allow writing `bucket`: `bucket.OPERATIONS["write"]` (put, overwrite, delete, signed_url), not reading.

        Raises:
            ModelError: `bucket` is not a Bucket, naming the line of this call.
        """
        return self._grant(bucket, "write")

    def reads_writes(self, bucket: Bucket) -> Self:
        """Allow reading and writing `bucket`: `bucket.OPERATIONS["readwrite"]`.

        Raises:
            ModelError: `bucket` is not a Bucket, naming the line of this call.
        """
        return self._grant(bucket, "readwrite")

    def uses(self, database: Database) -> Self:
        """Allow connecting to `database` (`database.OPERATIONS["connect"]`); its connection details are injected.

        Raises:
            ModelError: `database` is not a Database, naming the line of this call.
        """
        return self._grant(database, "connect")

    def sends(self, queue: Queue) -> Self:
        """Allow putting messages on `queue` (`queue.OPERATIONS["send"]`: `queue(name).send(...)` at runtime).

        Raises:
            ModelError: `queue` is not a Queue, naming the line of this call.
        """
        return self._grant(queue, "send")

    def invokes(self, function: Function) -> Self:
        """Allow calling `function` (`function.OPERATIONS["invoke"]`): `function(name).invoke(payload)` waits for its
        result, `.send(payload)` hands it over to run later. On one cloud through its own invoke API and IAM; across
        clouds through the callee's HTTPS endpoint with a federated identity token, never a shared key. A callee with
        `http(auth="iam")` admits this function.

        Raises:
            ModelError: `function` is not a Function, or is this function itself, naming the line of this call.
        """
        if function is self:
            file, line = caller_location()
            raise ModelError("a function cannot be granted invokes() on itself", file=file, line=line,
                             key=f"{self.name}.invokes", value=self.name)
        return self._grant(function, "invoke")

    def _grant(self, target: object, access: Access) -> Self:
        if not isinstance(target, GRANTABLE) or access not in type(target).operations:
            raise self._grant_error(target, access)
        self.grants.append(Grant(self, target, access))  # type: ignore[arg-type]
        return self

    def _grant_error(self, target: object, access: Access) -> ModelError:
        method = GRANT_METHODS[access]
        takes = " or ".join(kind.__name__ for kind in GRANTABLE if access in kind.operations)
        name = getattr(target, "name", None)
        if isinstance(target, Resource):
            fits = [f"{GRANT_METHODS[a]}()" for a in type(target).operations]
            what = f"a {type(target).__name__}"
            hint = (f"grant a {type(target).__name__} with {' or '.join(fits)}" if fits
                    else f"nothing can be granted on a {type(target).__name__}")
        else:
            what, hint = f"a {type(target).__name__}", None
        file, line = caller_location()
        return ModelError(f"{method}() takes a {takes}, not {what}", file=file, line=line,
                          key=f"{self.name}.{method}", value=name if isinstance(name, str) else target, hint=hint)


GRANTABLE: tuple[type[Resource], ...] = (Bucket, Database, Secret, Queue, Function)
"""The kinds a function can be granted access to."""
