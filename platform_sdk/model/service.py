"""A service: the unit an app team owns and an environment places on a cloud."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

from platform_sdk.model.resources import (
    Bucket,
    Cdn,
    Database,
    Function,
    Resource,
    _caller_location,
    check_name,
)

R = TypeVar("R", bound=Resource)


class Service:
    """A named group of resources. Declare it at module level in `services/*.py`."""

    def __init__(self, name: str, owner: str | None = None, description: str = "") -> None:
        self.declared_in, self.declared_line = _caller_location()
        self.name = check_name("service", name, self.declared_in, self.declared_line)
        self.owner = owner
        self.description = description
        self._resources: dict[str, Resource] = {}

    def add(self, resource: R) -> R:
        """Add a resource (or a module's resources) to this service and return it."""
        if hasattr(resource, "add_to"):
            resource.add_to(self)  # a module: it adds its own parts
            return resource
        if not isinstance(resource, Resource):
            raise TypeError(f"Service.add expects a resource, got {resource!r}")
        if resource.name in self._resources:
            raise resource.error(
                f"two resources named {resource.name!r} in service {self.name!r}", key="name", value=resource.name
            )
        resource.service = self
        self._resources[resource.name] = resource
        return resource

    def __iter__(self) -> Iterator[Resource]:
        return iter(self._resources.values())

    def get(self, name: str) -> Resource | None:
        return self._resources.get(name)

    @property
    def resources(self) -> list[Resource]:
        return list(self._resources.values())

    def of(self, kind: type[R]) -> list[R]:
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
    def cdns(self) -> list[Cdn]:
        return self.of(Cdn)

    def __repr__(self) -> str:
        return f"Service({self.name!r}, {len(self._resources)} resources)"
