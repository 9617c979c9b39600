"""Provider-neutral resources. Nothing here knows about any cloud: the providers decide what each becomes."""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from platform_sdk.errors import ModelError

if TYPE_CHECKING:
    from platform_sdk.model.service import Service

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$|^[a-z]$")
RUNTIMES = ("python3.10", "python3.11", "python3.12")
DB_ENGINES = ("postgres", "mysql")
DB_SIZES = ("small", "medium", "large")


def _caller_location() -> tuple[str | None, int | None]:
    """The first stack frame outside platform_sdk: where the user declared the resource (for error messages)."""
    frame = inspect.currentframe()
    while frame is not None:
        filename = frame.f_code.co_filename
        # skip dataclass-generated __init__ and frozen importlib frames, and our own package
        if not filename.startswith("<") and not filename.startswith(_PACKAGE_DIR):
            return filename, frame.f_lineno
        frame = frame.f_back
    return None, None


_PACKAGE_DIR = str(Path(__file__).resolve().parent.parent) + "/"


def check_name(kind: str, name: object, file: str | None = None, line: int | None = None) -> str:
    """Neutral names are DNS-like so that every cloud can derive a valid physical name from them."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ModelError(
            f"invalid {kind} name: use 1-40 lowercase letters, digits and '-', starting with a letter",
            file=file,
            line=line,
            key="name",
            value=name,
        )
    return name


@dataclass(eq=False)
class Resource:
    """Common part of every neutral resource: a name unique within its service."""

    kind: ClassVar[str] = "resource"
    name: str
    service: Service | None = field(default=None, init=False, repr=False)
    declared_in: str | None = field(default=None, init=False, repr=False)
    declared_line: int | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.declared_in, self.declared_line = _caller_location()
        check_name(self.kind, self.name, self.declared_in, self.declared_line)

    @property
    def address(self) -> str:
        """`service.resource`: the key environments use for placement."""
        service = self.service.name if self.service else "?"
        return f"{service}.{self.name}"

    def error(self, message: str, key: str | None = None, value: object = None, hint: str | None = None) -> ModelError:
        """An error pointing at the line that declared this resource."""
        return ModelError(
            message, file=self.declared_in, line=self.declared_line, key=key or self.address, value=value, hint=hint
        )


@dataclass(eq=False)
class Cors:
    """Cross-origin rules for a bucket served to browsers."""

    origins: list[str]
    methods: list[str] = field(default_factory=lambda: ["GET", "HEAD"])
    max_age_seconds: int = 3600


@dataclass(eq=False)
class Bucket(Resource):
    """Object storage. Private and encrypted unless `public_read=True` is asked for explicitly."""

    kind: ClassVar[str] = "bucket"
    versioning: bool = False
    expire_days: int | None = None
    cors: Cors | None = None
    public_read: bool = False
    force_destroy: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.expire_days is not None and (not isinstance(self.expire_days, int) or self.expire_days < 1):
            raise self.error("expire_days must be a positive whole number of days", "expire_days", self.expire_days)
        if self.cors is not None:
            bad = [m for m in self.cors.methods if m not in ("GET", "HEAD", "PUT", "POST", "DELETE")]
            if bad:
                raise self.error("unsupported CORS method", "cors.methods", bad[0])


@dataclass(eq=False)
class Database(Resource):
    """A managed relational database. Deletion protection and backups are on unless turned off."""

    kind: ClassVar[str] = "database"
    engine: Literal["postgres", "mysql"] = "postgres"
    size: Literal["small", "medium", "large"] = "small"
    storage_gb: int = 20
    backups: bool = True
    high_availability: bool = False
    deletion_protection: bool = True
    database_name: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.engine not in DB_ENGINES:
            raise self.error(f"engine must be one of {', '.join(DB_ENGINES)}", "engine", self.engine)
        if self.size not in DB_SIZES:
            raise self.error(f"size must be one of {', '.join(DB_SIZES)}", "size", self.size)
        if not isinstance(self.storage_gb, int) or not 10 <= self.storage_gb <= 16384:
            raise self.error("storage_gb must be a whole number from 10 to 16384", "storage_gb", self.storage_gb)
        self.database_name = self.database_name or self.name.replace("-", "_")


@dataclass(eq=False)
class HttpTrigger:
    """Serve the function over HTTPS at a URL the cloud assigns."""

    public: bool = True


@dataclass(eq=False)
class ScheduleTrigger:
    """Run the function on a five-field cron schedule (UTC)."""

    cron: str

    def __post_init__(self) -> None:
        if not isinstance(self.cron, str) or len(self.cron.split()) != 5:
            file, line = _caller_location()
            raise ModelError("schedule must be a five-field cron expression", file=file, line=line,
                             key="schedule", value=self.cron)


@dataclass(eq=False)
class ObjectCreatedTrigger:
    """Run the function when an object lands in a bucket (optionally filtered by key prefix/suffix)."""

    bucket: Bucket
    prefix: str = ""
    suffix: str = ""


Trigger = HttpTrigger | ScheduleTrigger | ObjectCreatedTrigger


def http(public: bool = True) -> HttpTrigger:
    """HTTP trigger."""
    return HttpTrigger(public=public)


def schedule(cron: str) -> ScheduleTrigger:
    """Cron trigger, e.g. `schedule("0 3 * * *")`."""
    return ScheduleTrigger(cron)


def object_created(bucket: Bucket, prefix: str = "", suffix: str = "") -> ObjectCreatedTrigger:
    """Object-created trigger on a bucket."""
    return ObjectCreatedTrigger(bucket, prefix, suffix)


@dataclass(eq=False)
class Grant:
    """A function's access to another resource. Drives least-privilege IAM and injected connection details."""

    function: Function
    target: Bucket | Database
    access: Literal["read", "write", "readwrite", "connect"]


@dataclass(eq=False)
class Function(Resource):
    """A function: user code (a directory with a handler module) plus its triggers and grants."""

    kind: ClassVar[str] = "function"
    handler: str = ""
    source: str | Path = ""
    runtime: str = "python3.11"
    memory: int = 256
    timeout: int = 30
    environment: dict[str, str] = field(default_factory=dict)
    triggers: list[Trigger] = field(default_factory=list)
    grants: list[Grant] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.handler, str) or not re.match(r"^[A-Za-z_][\w.]*\.[A-Za-z_]\w*$", self.handler):
            raise self.error("handler must look like 'module.function'", "handler", self.handler)
        if self.runtime not in RUNTIMES:
            raise self.error(f"runtime must be one of {', '.join(RUNTIMES)}", "runtime", self.runtime)
        if not isinstance(self.memory, int) or not 128 <= self.memory <= 10240:
            raise self.error("memory must be a whole number of MB from 128 to 10240", "memory", self.memory)
        if not isinstance(self.timeout, int) or not 1 <= self.timeout <= 900:
            raise self.error("timeout must be a whole number of seconds from 1 to 900", "timeout", self.timeout)
        for key, value in self.environment.items():
            if not re.match(r"^[A-Z_][A-Z0-9_]*$", key) or key.startswith("PLATFORM_"):
                raise self.error("environment names are UPPER_SNAKE_CASE and may not start with PLATFORM_",
                                 "environment", key)
            if not isinstance(value, str):
                raise self.error("environment values must be strings", f"environment.{key}", value)
        base = Path(self.declared_in).parent if self.declared_in else Path.cwd()
        self.source = (base / self.source).resolve() if self.source else base.resolve()

    @property
    def source_dir(self) -> Path:
        """Absolute directory holding the function's code."""
        return Path(self.source)

    @property
    def handler_module(self) -> str:
        return self.handler.rsplit(".", 1)[0]

    def _grant(self, target: Bucket | Database, access: Literal["read", "write", "readwrite", "connect"]) -> Function:
        self.grants.append(Grant(self, target, access))
        return self

    def reads(self, bucket: Bucket) -> Function:
        """Allow reading and listing objects of `bucket`."""
        return self._grant(bucket, "read")

    def writes(self, bucket: Bucket) -> Function:
        """Allow writing and deleting objects of `bucket` (not reading)."""
        return self._grant(bucket, "write")

    def reads_writes(self, bucket: Bucket) -> Function:
        """Allow reading, listing, writing and deleting objects of `bucket`."""
        return self._grant(bucket, "readwrite")

    def uses(self, database: Database) -> Function:
        """Allow connecting to `database`; its connection details are injected."""
        return self._grant(database, "connect")

    def trigger_of(self, kind: type) -> list:
        return [t for t in self.triggers if isinstance(t, kind)]


@dataclass(eq=False)
class Cdn(Resource):
    """A content delivery network in front of a bucket (static files) or a function's HTTP trigger."""

    kind: ClassVar[str] = "cdn"
    origin: Bucket | Function | None = None
    domain: str | None = None
    default_root_object: str = "index.html"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.origin, (Bucket, Function)):
            raise self.error("origin must be a Bucket or a Function with an HTTP trigger", "origin", self.origin)
        if isinstance(self.origin, Function) and not self.origin.trigger_of(HttpTrigger):
            raise self.error("a function used as CDN origin needs an http() trigger", "origin", self.origin.name)
        if self.domain is not None and not re.match(r"^(?=.{4,253}$)([a-z0-9-]{1,63}\.)+[a-z]{2,63}$", self.domain):
            raise self.error("domain must be a lowercase DNS name like 'img.example.com'", "domain", self.domain)
