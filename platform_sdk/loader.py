"""Load the estate: run every `services/*.py` and collect the Service objects they declare."""

from __future__ import annotations

import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType

from platform_sdk.errors import ModelError, PlatformError, did_you_mean, warn
from platform_sdk.handlers import module_names
from platform_sdk.model import Function, ObjectCreatedTrigger, Service

_loaded: dict[Path, ModuleType] = {}
_loading: set[Path] = set()
_services_dir: list[Path] = []


def sibling(name: str) -> ModuleType:
    """Another service file of the estate being loaded (`services/<name>.py`), as a module: how one service file uses
    another's resources, e.g. in services/notifications.py `auth = sibling("auth")` then `auth.api.sends(outbox)`.
    Each file is executed once per load, whichever asks first.

    Raises:
        PlatformError: called outside a load, or no such service file.
    """
    if not _services_dir:
        raise PlatformError("sibling() works only in a service file while the estate is loaded", value=name)
    path = (_services_dir[-1] / f"{name}.py").resolve()
    if not path.is_file():
        raise PlatformError("sibling() names no service file", file=path, value=name)
    if path not in _loaded:
        _load_file(path)
    return _loaded[path]


def _load_file(path: Path) -> list[Service]:
    path = path.resolve()
    if path in _loaded:
        return [value for value in vars(_loaded[path]).values() if isinstance(value, Service)]
    module_name = f"_platform_services.{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise PlatformError("cannot load service file", file=path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    # Registered before it runs, as Python does for imports: two files that ask for each other with sibling() get
    # each other's module as declared so far, not an endless recursion.
    _loaded[path] = module
    _loading.add(path)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as err:
        _loaded.pop(path, None)
        raise PlatformError(f"syntax error: {err.msg}", file=path, line=err.lineno) from None
    except PlatformError:
        _loaded.pop(path, None)
        raise
    except Exception as err:  # a user's code failed: point at the user's line, not ours
        _loaded.pop(path, None)
        frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename == str(path)]
        line = frames[-1].lineno if frames else None
        raise PlatformError(f"{type(err).__name__}: {err}", file=path, line=line, hint=_partial_hint(err)) from None
    finally:
        _loading.discard(path)
        sys.modules.pop(module_name, None)
    return [value for value in vars(module).values() if isinstance(value, Service)]


def _partial_hint(err: Exception) -> str | None:
    """For a name asked of a service file still being loaded (two files asking for each other with sibling()):
    what to do about it."""
    if not isinstance(err, AttributeError):
        return None
    loading = {id(_loaded[p]): p for p in _loading if p in _loaded}
    other = loading.get(id(getattr(err, "obj", None)))
    if other is None:
        return None
    return (f"{other.name} is still being loaded (it called sibling() before declaring {err.name!r}): in "
            f"{other.name}, declare {err.name!r} before its sibling() call, or declare the link in one of the two "
            "files only")


def load_services(services_dir: Path) -> list[Service]:
    """Every Service declared in `services_dir/*.py`, sorted by name, validated as a whole."""
    if not services_dir.is_dir():
        raise PlatformError("services directory not found", file=services_dir)
    services: dict[str, Service] = {}
    _services_dir.append(services_dir.resolve())
    try:
        paths = [path for path in sorted(services_dir.glob("*.py")) if not path.name.startswith("_")]
        loaded = [(path, _load_file(path)) for path in paths]
    finally:
        _services_dir.pop()
        if not _services_dir:
            _loaded.clear()
    for path, found in loaded:
        for service in found:
            other = services.get(service.name)
            if other is not None and other is not service:
                raise ModelError(
                    f"two services named {service.name!r} (the other is in {other.declared_in})",
                    file=path, line=service.declared_line, key="Service", value=service.name,
                )
            services[service.name] = service
    result = [services[name] for name in sorted(services)]
    for service in result:
        validate_service(service)
    return result


def validate_service(service: Service) -> None:
    """Checks that need the whole service: handler files exist, references point inside the estate."""
    for fn in service.functions:
        module_file = fn.source_dir / (fn.handler_module.replace(".", "/") + ".py")
        if not fn.source_dir.is_dir():
            raise fn.error("function source directory not found", "source", str(fn.source_dir))
        if not module_file.is_file():
            raise fn.error(
                f"handler file {module_file.relative_to(fn.source_dir)} not found in {fn.source_dir}",
                "handler", fn.handler,
            )
        check_handler_symbol(fn, module_file)
        for grant in fn.grants:
            if grant.target.service is None:
                raise grant.error("granted resource was never added to a service", value=grant.target.name)
        for trigger in fn.triggers:
            if isinstance(trigger, ObjectCreatedTrigger) and trigger.bucket.service is None:
                raise fn.error("trigger bucket was never added to a service", "triggers", trigger.bucket.name)


def check_handler_symbol(fn: Function, module_file: Path) -> None:
    """The handler's function must be defined in its module, checked by parsing it (user code never runs here).

    Raises:
        ModelError: naming the file and line of the Function declaration, key `handler` and its value, when the
            module defines no such top-level name (with the closest defined name).
    A module whose names cannot be known by reading it (star imports, `globals()`, a module `__getattr__`, a
    syntax this Python cannot parse) is announced as not verified (a PlatformWarning), not refused.
    """
    symbol = fn.handler.rsplit(".", 1)[1]
    relative = module_file.relative_to(fn.source_dir)
    try:
        found = module_names(module_file)
    except (SyntaxError, ValueError) as err:
        line = getattr(err, "lineno", None)
        warn(f"handler {fn.handler!r} of {fn.address} could not be verified: {relative} does not parse "
             f"({err.__class__.__name__}{f' at line {line}' if line else ''})", fn.declared_in, fn.declared_line)
        return
    if symbol in found.names:
        return
    if found.dynamic:
        warn(f"handler {fn.handler!r} of {fn.address} could not be verified: {relative} defines no top-level "
             f"{symbol!r} that reading it can see, and binds names dynamically ({'; '.join(found.dynamic)})",
             fn.declared_in, fn.declared_line)
        return
    callables = sorted(name for name in found.names if not name.startswith("_"))
    raise fn.error(
        f"handler function {symbol!r} is not defined in {relative} (in {fn.source_dir})"
        f"{did_you_mean(symbol, callables)}", "handler", fn.handler,
    )
