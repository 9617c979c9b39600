"""Where the neutral runtime finds cloud code: the runtime subpackages of the cloud plug-ins.

Nothing under `platform_sdk.runtime` names a cloud. Everything cloud-specific that runs inside a function
(bucket clients, secret stores, identity tokens, entry adapters) lives in a plug-in's runtime package,
`platform_sdk.providers.<name>.runtime` by convention, found here by name:

- its `__init__` (standard library only) may declare `BUCKET_SCHEMES: tuple[str, ...]`, the URL schemes
  whose buckets its `buckets.open_bucket(url, ...)` opens, and `SECRET_SCHEMES`, those of the secrets its
  `secrets.open_secret(url)` opens; `QUEUE_SCHEMES` (its `queues.open_queue(url)`) and `FUNCTION_SCHEMES` (its
  `functions.open_function(url)`);
- its submodules, each optional, by fixed names: `adapter` (the entry adapter, see `runtime.entry`),
  `buckets`, `secrets` (see `runtime.secrets`), `database` (secret store and connection paths, see
  `runtime.database`), `identity` (the workload identity tokens another cloud can trust, see
  `runtime.federation`).

The plug-ins present are the directories `platform_sdk/providers/<name>/runtime/` on disk (a function package
ships only the ones it needs), plus any registered with `register` (a plug-in that lives outside this package,
such as a test suite's own cloud). Standard library only: this module is imported inside deployed functions.
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
from pathlib import Path
from types import ModuleType

PROVIDERS_PACKAGE = "platform_sdk.providers"
RUNTIME_PACKAGE = "runtime"

_registered: dict[str, str] = {}
_schemes: dict[str, dict[str, str]] = {}
_lock = threading.Lock()


class PluginNotFoundError(LookupError):
    """No plug-in runtime of that name (or it lacks the asked-for module); the message names what is present."""


def register(name: str, module: str) -> None:
    """Serve plug-in `name` from the runtime package `module` (dotted name) instead of the convention.

    For plug-ins defined outside `platform_sdk.providers`; registering a name again replaces the module.
    """
    with _lock:
        _registered[name] = module
        _schemes.clear()


def unregister(name: str) -> None:
    """Forget a registered plug-in (a no-op for names only found on disk)."""
    with _lock:
        _registered.pop(name, None)
        _schemes.clear()


def _on_disk() -> list[str]:
    """Plug-in names with a runtime package under `platform_sdk/providers/`, without importing any of them."""
    try:
        spec = importlib.util.find_spec(PROVIDERS_PACKAGE)
    except ModuleNotFoundError:
        return []
    found: set[str] = set()
    for location in (spec.submodule_search_locations or []) if spec else []:
        root = Path(location)
        if root.is_dir():
            found.update(child.name for child in root.iterdir()
                         if child.name.isidentifier() and (child / RUNTIME_PACKAGE / "__init__.py").is_file())
    return sorted(found)


def names() -> list[str]:
    """Every plug-in whose runtime is available in this process, sorted."""
    with _lock:
        registered = set(_registered)
    return sorted(registered | set(_on_disk()))


def module_name(name: str, submodule: str | None = None) -> str:
    """The dotted name of plug-in `name`'s runtime package (or of one of its submodules)."""
    with _lock:
        package = _registered.get(name) or f"{PROVIDERS_PACKAGE}.{name}.{RUNTIME_PACKAGE}"
    return f"{package}.{submodule}" if submodule else package


def load(name: str, submodule: str | None = None) -> ModuleType:
    """Import plug-in `name`'s runtime package, or its `submodule`.

    Raises:
        PluginNotFoundError: no such plug-in runtime here, or it has no such submodule.
    """
    if not name.isidentifier():
        raise PluginNotFoundError(f"{name!r} is not a plug-in name (available: {', '.join(names()) or 'none'})")
    dotted = module_name(name, submodule)
    try:
        return importlib.import_module(dotted)
    except ModuleNotFoundError as exc:
        # Only a missing plug-in module is "not found"; a missing dependency inside one is a real error.
        if exc.name is None or not (dotted == exc.name or dotted.startswith(f"{exc.name}.")):
            raise
        what = f"no {submodule!r} module in the runtime of plug-in {name!r}" if submodule and name in names() \
            else f"no runtime for plug-in {name!r} in this package"
        raise PluginNotFoundError(f"{what} (available: {', '.join(names()) or 'none'})") from None


def bucket_schemes() -> dict[str, str]:
    """URL scheme -> plug-in name, from every available plug-in's `BUCKET_SCHEMES`.

    Raises:
        PluginNotFoundError: two plug-ins claim the same scheme.
    """
    return _schemes_of("BUCKET_SCHEMES", "buckets")


def secret_schemes() -> dict[str, str]:
    """URL scheme -> plug-in name, from every available plug-in's `SECRET_SCHEMES`.

    Raises:
        PluginNotFoundError: two plug-ins claim the same scheme.
    """
    return _schemes_of("SECRET_SCHEMES", "secrets")


def _schemes_of(attribute: str, what: str) -> dict[str, str]:
    with _lock:
        if attribute in _schemes:
            return dict(_schemes[attribute])
    schemes: dict[str, str] = {}
    for name in names():
        declared: tuple[str, ...] = tuple(getattr(load(name), attribute, ()))
        for scheme in declared:
            if scheme in schemes:
                raise PluginNotFoundError(f"plug-ins {schemes[scheme]!r} and {name!r} both serve {scheme}:// {what}")
            schemes[scheme] = name
    with _lock:
        _schemes[attribute] = schemes
    return dict(schemes)


def queue_schemes() -> dict[str, str]:
    """URL scheme -> plug-in name, from every available plug-in's `QUEUE_SCHEMES` (its `queues.open_queue`).

    Raises:
        PluginNotFoundError: two plug-ins claim the same scheme.
    """
    return _schemes_of("QUEUE_SCHEMES", "queues")


def function_schemes() -> dict[str, str]:
    """URL scheme -> plug-in name, from every available plug-in's `FUNCTION_SCHEMES` (its `functions.open_function`).

    Raises:
        PluginNotFoundError: two plug-ins claim the same scheme.
    """
    return _schemes_of("FUNCTION_SCHEMES", "functions")
