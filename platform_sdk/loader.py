"""Load the estate: run every `services/*.py` and collect the Service objects they declare."""

from __future__ import annotations

import ast
import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType

from platform_sdk.errors import ModelError, PlatformError, did_you_mean, warn
from platform_sdk.handlers import import_failure, module_names, parse, resource_calls
from platform_sdk.model import Function, ObjectCreatedTrigger, Resource, Service
from platform_sdk.model.base import caller_location, declarations

_loaded: dict[Path, ModuleType] = {}
_loading: set[Path] = set()
_services_dir: list[Path] = []


def sibling(name: str) -> ModuleType:
    """Another service file of the estate being loaded (`services/<name>.py`), as a module: how one service file uses
    another's resources, e.g. in services/notifications.py `auth = sibling("auth")` then `auth.api.sends(outbox)`.
    Each file is executed once per load, whichever asks first.

    Raises:
        PlatformError: called outside a load, or no such service file (naming the calling line, the service files
            there are and the closest name).
    """
    file, line = caller_location()
    if not _services_dir:
        raise PlatformError("sibling() works only in a service file while the estate is loaded", file=file, line=line,
                            value=name)
    files = _service_files(_services_dir[-1])
    path = (_services_dir[-1] / f"{name}.py").resolve() if isinstance(name, str) else None
    if path is None or path.parent != _services_dir[-1] or path not in files:
        stems = [p.stem for p in files]
        raise PlatformError(f"sibling() names no service file in {_services_dir[-1].name}/"
                            f"{did_you_mean(name, stems)} (service files: {', '.join(stems) or 'none'})",
                            file=file, line=line, value=name)
    if path not in _loaded:
        _load_file(path)
    return _loaded[path]


def _service_files(services_dir: Path) -> list[Path]:
    """The service files of `services_dir`: its `*.py` but those starting with `_` (helpers), resolved, sorted."""
    return [path.resolve() for path in sorted(services_dir.glob("*.py")) if not path.name.startswith("_")]


def _shown(path: Path) -> str:
    """`services/alpha.py`: a service file (or the directory) as the user knows it, for messages."""
    return f"{path.parent.name}/{path.name}"


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
        raise PlatformError(_undefined_name(err) or f"{type(err).__name__}: {err}", file=path, line=line,
                            hint=_partial_hint(err)) from None
    finally:
        _loading.discard(path)
        sys.modules.pop(module_name, None)
    return [value for value in vars(module).values() if isinstance(value, Service)]


def _undefined_name(err: Exception) -> str | None:
    """For a name asked of a sibling() module that does not define it: what the file defines instead, in the
    user's words (the module's own name is internal)."""
    if not isinstance(err, AttributeError) or not isinstance(err.name, str):
        return None
    paths = {id(module): path for path, module in _loaded.items()}
    obj = getattr(err, "obj", None)
    path = paths.get(id(obj))
    if path is None or not isinstance(obj, ModuleType):
        return None
    defined = _defined_names(obj)
    yet = " yet" if path in _loading else ""
    return (f"{_shown(path)} defines no {err.name!r}{yet}{did_you_mean(err.name, defined)} "
            f"(it defines: {', '.join(defined) or 'nothing'})")


def _defined_names(module: ModuleType) -> list[str]:
    """The public names a service file defines itself, in definition order: not what it imports (modules,
    and classes or functions of other modules)."""
    names = []
    for name, value in vars(module).items():
        if name.startswith("_") or isinstance(value, ModuleType):
            continue
        if (isinstance(value, type) or callable(value)) and getattr(value, "__module__", None) != module.__name__ \
                and not isinstance(value, (Resource, Service)):
            continue
        names.append(name)
    return names


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
        with declarations() as declared:
            loaded = [(path, _load_file(path)) for path in _service_files(services_dir)]
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
    check_declarations(declared, result)
    return result


def check_declarations(declared: list[Resource | Service], services: list[Service]) -> None:
    """Every resource the service files declared was added to a service, and every service they declared is bound
    at the top level of a service file: otherwise it would be dropped silently, grants and all.

    Checked once every file has run, so a resource made by a helper function, a module or another file and added
    later is fine; a module never added is reported at its own line (its parts were never added). Refused rather
    than warned about: a declaration has no effect until it is added, so nothing that works is lost, and a resource
    added only under a condition (a flag read at load time) is declared under that condition too.

    Raises:
        ModelError: naming the line that declared the first such resource or service.
    """
    found = {id(service) for service in services}
    for part in declared:
        if isinstance(part, Service):
            if id(part) not in found:
                raise ModelError("service declared but not bound to a name at the top level of a service file, so "
                                 "nothing deploys it: assign it, e.g. `service = Service(...)`",
                                 file=part.declared_in, line=part.declared_line, key=f"Service({part.name!r})")
        elif part.service is None:
            grants = [f"{grant.access} {grant.target.address}" for grant in part.grants] if isinstance(part, Function) \
                else []
            raise ModelError("declared but never added to a service: add it with service.add(...) (one added only "
                             "under a condition is declared under that condition too), or delete it",
                             file=part.declared_in, line=part.declared_line,
                             key=f"{type(part).__name__}({part.name!r})",
                             hint=f"its grants would not be deployed: {', '.join(grants)}" if grants else None)


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
        check_handler(fn, module_file)
        for grant in fn.grants:
            if grant.target.service is None:
                raise grant.error("granted resource was never added to a service", value=grant.target.name)
        for trigger in fn.triggers:
            if isinstance(trigger, ObjectCreatedTrigger) and trigger.bucket.service is None:
                raise fn.error("trigger bucket was never added to a service", "triggers", trigger.bucket.name)


def check_handler(fn: Function, module_file: Path) -> None:
    """The handler's module must import and define the handler's function, checked by reading the code with the
    grammar of the function's runtime (user code never runs here; `platform_sdk.handlers` says what is followed).

    Raises:
        ModelError: at the file and line of the code that cannot be imported (the handler module, a package
            `__init__.py` on its path, or a module of the source directory it imports unconditionally: it does not
            parse, imports a name its module does not define, or imports from above the source directory), with the
            Function's declaration in the hint; or at the Function's declaration, key `handler` and its value,
            when the module defines no such top-level name (with the closest defined name).
    What reading cannot settle is announced as not verified (a PlatformWarning), not refused: a module that binds
    names dynamically (star imports, `globals()`, a module `__getattr__`), and code that does not parse with this
    Python when the runtime's Python is newer (it may be that version's syntax).
    """
    python = _runtime_version(fn.runtime)
    relative = module_file.relative_to(fn.source_dir)
    failure = import_failure(fn.source_dir, fn.handler_module, python)
    if failure is not None and failure.certain:
        raise ModelError(f"handler {fn.handler!r} of {fn.address} cannot be imported: "
                         f"{_in_source(fn, failure.file)} {failure.message}", file=failure.file, line=failure.line,
                         hint=f"the function is declared at {fn.declared_in}:{fn.declared_line}")
    if failure is not None:
        this = f"{sys.version_info[0]}.{sys.version_info[1]}"
        warn(f"handler {fn.handler!r} of {fn.address} could not be verified: {_in_source(fn, failure.file)} does "
             f"not parse with Python {this} (SyntaxError{f' at line {failure.line}' if failure.line else ''}), "
             f"which may be syntax of its runtime {fn.runtime}", fn.declared_in, fn.declared_line)
    try:
        tree = parse(module_file, python)
        found = module_names(module_file, python, tree)
    except (SyntaxError, ValueError):
        return  # announced above
    _check_resource_calls(fn, module_file, tree)
    symbol = fn.handler.rsplit(".", 1)[1]
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


def _check_resource_calls(fn: Function, module_file: Path, tree: ast.Module) -> None:
    """Announce (a PlatformWarning at the call) each `bucket("name")`-like call of the handler module whose resource
    the function is not granted: it raises GrantError when it runs (`platform_sdk.handlers.resource_calls`), e.g.
    after a rename the code still uses the old name. A warning, not a refusal: the call may never run."""
    granted: dict[str, set[str]] = {}
    for grant in fn.grants:
        granted.setdefault(grant.target.kind, set()).add(grant.target.name)
    for call in resource_calls(tree):
        names = granted.get(call.kind, set())
        if call.name in names:
            continue
        have = f"its {call.kind} grants: {', '.join(sorted(names))}" if names else f"it is granted no {call.kind}"
        warn(f"{_in_source(fn, module_file.resolve())} calls {call.kind}({call.name!r}), which {fn.address} is not "
             f"granted{did_you_mean(call.name, sorted(names))} ({have}): the call raises GrantError when it runs. "
             f"Grant it where the function is declared ({fn.declared_in}:{fn.declared_line}), or use the resource's "
             "current name after a rename", str(module_file), call.line)


def _runtime_version(runtime: str) -> tuple[int, int]:
    """"python3.11" -> (3, 11): the Python whose grammar the function's code is read with."""
    major, minor = runtime.removeprefix("python").split(".")
    return int(major), int(minor)


def _in_source(fn: Function, file: Path) -> str:
    """`api.py`, `lib/db.py`: a file of the function's source directory as the user knows it there."""
    try:
        return str(file.relative_to(fn.source_dir.resolve()))
    except ValueError:
        return str(file)
