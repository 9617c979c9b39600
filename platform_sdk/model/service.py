"""A service: the unit an app team owns and an environment places on a cloud."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, overload, runtime_checkable

from platform_sdk.errors import ModelError
from platform_sdk.model.base import Resource, caller_location, check_name, record_declaration
from platform_sdk.model.bucket import Bucket
from platform_sdk.model.cdn import Cdn
from platform_sdk.model.database import Database
from platform_sdk.model.function import Function
from platform_sdk.model.metrics import Metric
from platform_sdk.model.queue import Queue
from platform_sdk.model.secret import Secret


@runtime_checkable
class Composite(Protocol):
    """Anything that adds its own parts to a service, like a module (`platform_sdk.modules.Module`)."""

    def add_to(self, service: Service) -> None:
        """Add every part to `service`."""


@dataclass(eq=False)
class Hatch:
    """Raw Terraform a service adds for one cloud (`Service.terraform`): `build(tf)` is called at synthesis with the
    cloud's hatch builder (`tf.resource(type, id, attrs)`, `tf.ref(resource, attribute)`)."""

    cloud: str
    build: Callable[[Any], None]
    declared_in: str | None
    declared_line: int | None

    @property
    def where(self) -> str:
        """`file:line` of the `service.terraform(...)` call, for messages."""
        return f"{self.declared_in}:{self.declared_line}" if self.declared_in else "service.terraform(...)"


R = TypeVar("R", bound=Resource)
C = TypeVar("C", bound=Composite)


class Service:
    """A named group of resources. Declare it at module level in `services/*.py`.

    Args:
        name: The neutral service name (1-40 lowercase letters, digits and '-', starting with a letter); it
            prefixes every physical name and is the placement key in environment files. Raises `ModelError`
            (key `name`) otherwise.
        owner: The owning team, e.g. `"media-team"` (tagged on every resource; guardrails may require it).
            Default `None`.
        description: Free text. Default `""`.
    """

    def __init__(self, name: str, owner: str | None = None, description: str = "") -> None:
        self.declared_in, self.declared_line = caller_location()
        self.name = check_name("service", name, self.declared_in, self.declared_line)
        self.owner = owner
        self.description = description
        self._resources: dict[str, Resource] = {}
        self._metrics: dict[str, Metric] = {}
        self.hatches: list[Hatch] = []
        record_declaration(self)

    @overload
    def add(self, part: R) -> R: ...

    @overload
    def add(self, part: C) -> C: ...

    def add(self, part: Resource | Composite) -> Resource | Composite:
        """Add a resource, or a module (which adds its parts), to this service and return it unchanged.

        Raises:
            ModelError: another resource of this service has the same name (pointing at the second
                declaration), or `part` is neither a resource nor a module.
        """
        if isinstance(part, Resource):
            if part.name in self._resources:
                raise part.error(f"two resources named {part.name!r} in service {self.name!r}", key="name",
                                 value=part.name)
            part.service = self
            self._resources[part.name] = part
            return part
        if isinstance(part, Composite):
            part.add_to(self)
            return part
        file, line = caller_location()  # type: ignore[unreachable]  # callers without a type checker get here
        raise ModelError("Service.add takes a resource (Bucket, Function, ...) or a module", file=file, line=line,
                         key=f"{self.name}.add", value=part)

    def metric(self, name: str, unit: str = "Count", dimensions: list[str] | tuple[str, ...] = (),
               description: str = "") -> Metric:
        """Declare a business metric the service's code emits (`metric(name).add(value, dimensions={...})` at
        runtime, which refuses undeclared names). Returns the `Metric` (see it for names, units and dimensions).

        Raises:
            ModelError: an invalid name, unit or dimension list (see `Metric`), or a second metric with this name.
        """
        file, line = caller_location()
        declared = Metric(name, unit, tuple(dimensions) if isinstance(dimensions, list) else dimensions,
                          description, declared_in=file, declared_line=line)
        if declared.name in self._metrics:
            raise ModelError(f"two metrics named {name!r} in service {self.name!r}", file=file, line=line,
                             key=f"{self.name}.metric", value=name)
        self._metrics[declared.name] = declared
        return declared

    @property
    def metrics(self) -> list[Metric]:
        """The declared business metrics, in declaration order."""
        return list(self._metrics.values())

    def terraform(self, cloud: str, build: Callable[[Any], None]) -> Service:
        """An escape hatch: raw Terraform resources for `cloud` (a cloud name like `"aws"`), added to this service's
        stack on that cloud. `build(tf)` runs at synthesis: `tf.resource(type, id, attributes)` adds a resource,
        `tf.data(type, id, attributes)` a data source, `tf.ref(resource, "arn")` is a neutral resource's attribute
        as a plain Terraform reference (`${aws_s3_bucket.x.arn}`). Types the cloud's vendored schema knows are
        schema-checked; others are announced as unchecked. The service can then live only on `cloud`: placing or
        moving it elsewhere is refused, naming this line.

        Raises:
            ModelError: `cloud` is not a non-empty string or `build` is not callable (key `terraform`).
        """
        file, line = caller_location()
        if not isinstance(cloud, str) or not cloud:
            raise ModelError("terraform() takes the name of a cloud (as in [clouds.<name>])", file=file, line=line,
                             key="terraform", value=cloud)
        if not callable(build):
            raise ModelError("terraform() takes a callable receiving the hatch builder (tf.resource(...))",
                             file=file, line=line, key="terraform", value=build)
        self.hatches.append(Hatch(cloud, build, file, line))
        return self

    def __iter__(self) -> Iterator[Resource]:
        return iter(self._resources.values())

    def get(self, name: str) -> Resource | None:
        """The resource named `name`, or None."""
        return self._resources.get(name)

    @property
    def resources(self) -> list[Resource]:
        """Every resource, in the order they were added."""
        return list(self._resources.values())

    def of(self, kind: type[R]) -> list[R]:
        """The resources of one kind, in the order they were added: `service.of(Bucket)`."""
        return [r for r in self._resources.values() if isinstance(r, kind)]

    @property
    def functions(self) -> list[Function]:
        return self.of(Function)

    @property
    def buckets(self) -> list[Bucket]:
        return self.of(Bucket)

    @property
    def databases(self) -> list[Database]:
        return self.of(Database)

    @property
    def secrets(self) -> list[Secret]:
        return self.of(Secret)

    @property
    def queues(self) -> list[Queue]:
        return self.of(Queue)

    @property
    def cdns(self) -> list[Cdn]:
        return self.of(Cdn)

    def __repr__(self) -> str:
        return f"Service({self.name!r}, {len(self._resources)} resources)"
