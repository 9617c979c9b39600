"""The cloud plug-in registry: every cloud the SDK can place workloads on, by name.

Built-in clouds are the packages of this directory (`providers/<name>/plugin.py` defines `PLUGIN`); they are
found by listing the directory and imported only when first asked for, so importing this module, or a
plug-in's runtime subpackage, loads no plug-in, no CDK engine and no cloud SDK. Other clouds are added with
`register(plugin)` (a project's or a test's own plug-in).

    plugin("aws").stateful_types          # one cloud
    plugins()                             # every cloud, by name
    register(MyCloudPlugin())             # a new cloud: one package with its plugin.py, then this
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from platform_sdk.envs import Environment
    from platform_sdk.providers.base import CloudPlugin, Compiler

_registered: dict[str, CloudPlugin] = {}
_builtins: dict[str, CloudPlugin] = {}


class UnknownCloud(KeyError):
    """No plug-in has this name."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"unknown cloud {self.name!r} (known: {', '.join(names())})"


def builtin_names() -> list[str]:
    """Names of the built-in clouds: the plug-in packages of this directory (nothing is imported)."""
    return list(_listed_builtins())


@functools.cache
def _listed_builtins() -> tuple[str, ...]:
    """The directory is listed once per process: a synthesis asks for the plug-ins some 40 times."""
    return tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if m.ispkg))


def names() -> list[str]:
    """Every cloud's name, sorted: the built-ins and the registered ones."""
    return sorted({*builtin_names(), *_registered})


def plugin(name: str) -> CloudPlugin:
    """The plug-in called `name`; raises UnknownCloud when there is none."""
    if name in _registered:
        return _registered[name]
    if name not in _builtins:
        if name not in builtin_names():
            raise UnknownCloud(name)
        found = importlib.import_module(f"{__name__}.{name}.plugin").PLUGIN
        if found.name != name:  # pragma: no cover - a packaging mistake, caught by the plug-in tests
            raise RuntimeError(f"providers/{name}/plugin.py defines the plug-in {found.name!r}")
        _builtins[name] = found
    return _builtins[name]


def plugins() -> dict[str, CloudPlugin]:
    """Every plug-in by name, sorted by name."""
    return {name: plugin(name) for name in names()}


def register(new: CloudPlugin) -> CloudPlugin:
    """Add a cloud (or replace a registered one of the same name); returns it. Built-ins cannot be replaced."""
    if new.name in builtin_names():
        raise ValueError(f"{new.name!r} is a built-in cloud")
    _registered[new.name] = new
    return new


def unregister(name: str) -> None:
    """Remove a cloud added with `register` (tests)."""
    _registered.pop(name, None)


def default_cloud() -> str:
    """The cloud an environment uses when it names no `default_cloud`: the built-in plug-in marked `default`."""
    return next(name for name in builtin_names() if plugin(name).default)


def compilers_for(env: Environment) -> Mapping[str, Compiler]:
    """One compiler per cloud plug-in, keyed by name: stacks of a stand-in use their stand-in's compiler.

    Each compiler is made (and its modules imported) when first asked for: an environment on one cloud does not
    import the other clouds' compilers (~0.025 s for GCP's and the local cloud's)."""
    return Compilers(env)


class Compilers(Mapping[str, "Compiler"]):
    """Every cloud's compiler for one environment, by cloud name, each made on first use (`compilers_for`)."""

    def __init__(self, env: Environment) -> None:
        self.env = env
        self._made: dict[str, Compiler] = {}

    def __getitem__(self, name: str) -> Compiler:
        if name not in self._made:
            if name not in names():
                raise KeyError(name)
            self._made[name] = plugin(name).compiler(self.env)
        return self._made[name]

    def __iter__(self) -> Iterator[str]:
        return iter(names())

    def __len__(self) -> int:
        return len(names())
