"""Can a function's handler module be imported, and does it define the handler? Answered by reading the code,
never by running it.

Loading the estate must not execute user code (it may need the cloud's libraries, secrets or a network), so modules
are parsed with `ast`, with the grammar of the function's runtime (`feature_version`):

- `module_names`: a module's top-level bindings: `def`, `async def`, `class`, assignments, `import` / `from ...
  import`, and the same inside top-level `if`, `try`, `with` and `for` blocks (conditional definitions). A module
  that binds names in ways a parser cannot follow (`from x import *`, a module `__getattr__`, `globals()`,
  `setattr`, `exec`, `global` in a function) cannot be verified: the caller says so instead of refusing it.
- `import_failure`: why importing the handler module certainly fails, as the runtime imports it (the function's
  source directory first on `sys.path`): the module, a package `__init__.py` on its dotted path, or a module of the
  source directory it imports unconditionally (a plain statement of the module's body, followed from module to
  module) does not parse; such an import names a module of the source directory that does not define the name; or
  a relative import reaches above the source directory. Imports under `if`, `try`, `with` or inside functions are
  not followed (they may never run, or run under another Python), nor are modules outside the source directory
  (the function's requirements) or named like one of the standard library (the runtime may have imported it
  already).
- `resource_calls`: the calls of the runtime's accessors (`bucket("notes")`, `queue(...)`, `database(...)`,
  `secret(...)`, `function(...)` of `platform_sdk.runtime`) with a literal name, which raise GrantError when the
  function is not granted that resource (a typo, or the old name after a rename).
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

DYNAMIC_CALLS = frozenset({"globals", "setattr", "exec", "vars", "locals", "__import__"})


@dataclass
class ModuleNames:
    """The names a module binds at top level, and why that list may be incomplete (empty: it is complete)."""

    names: set[str] = field(default_factory=set)
    dynamic: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ImportFailure:
    """Why importing a handler module fails: `file` (in the source directory) at `line` (None: the whole file)
    says `message`. `certain` is False when only a Python newer than this one could tell (the runtime's grammar is
    newer than the one parsing here), so the failure may not happen there."""

    file: Path
    line: int | None
    message: str
    certain: bool = True


def _bind_target(target: ast.expr, names: set[str]) -> None:
    if isinstance(target, ast.Name):
        names.add(target.id)
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            _bind_target(element, names)
    elif isinstance(target, ast.Starred):
        _bind_target(target.value, names)


def _collect(statements: list[ast.stmt], found: ModuleNames) -> None:
    for node in statements:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.names.add(node.name)
            if node.name == "__getattr__":
                found.dynamic.append(f"a module __getattr__ (line {node.lineno})")
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                _bind_target(target, found.names)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            _bind_target(node.target, found.names)
        elif isinstance(node, ast.Import):
            found.names.update(alias.asname or alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name == "*":
                    found.dynamic.append(f"from {'.' * node.level}{node.module or ''} import * (line {node.lineno})")
                else:
                    found.names.add(alias.asname or alias.name)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            _bind_target(node.target, found.names)
            _collect(node.body + node.orelse, found)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                if item.optional_vars is not None:
                    _bind_target(item.optional_vars, found.names)
            _collect(node.body, found)
        elif isinstance(node, (ast.If, ast.While)):
            _collect(node.body + node.orelse, found)
        elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            _collect(node.body + node.orelse + node.finalbody, found)  # type: ignore[attr-defined]
            for handler in node.handlers:  # type: ignore[attr-defined]
                if handler.name:
                    found.names.add(handler.name)
                _collect(handler.body, found)


def _dynamic_uses(tree: ast.Module) -> list[str]:
    reasons = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in DYNAMIC_CALLS:
            reasons.append(f"{node.func.id}() (line {node.lineno})")
        elif isinstance(node, ast.Global):
            reasons.append(f"global {', '.join(node.names)} (line {node.lineno})")
    return reasons


def parse(path: Path, python: tuple[int, int] | None = None) -> ast.Module:
    """`path` parsed with the grammar of Python `python` (major, minor; default and at most: this Python's).

    Raises:
        SyntaxError: the module does not parse with that grammar (its `lineno` says where; a file that is not
            UTF-8 or holds a NUL byte is one too).
        ValueError: it holds a NUL byte (Pythons before 3.12 raise this instead of a SyntaxError).
        OSError: it cannot be read.
    """
    grammar = min(python or sys.version_info[:2], sys.version_info[:2])
    return ast.parse(path.read_bytes(), filename=str(path), feature_version=grammar)


def module_names(path: Path, python: tuple[int, int] | None = None, tree: ast.Module | None = None) -> ModuleNames:
    """The top-level names `path` binds (read with Python `python`'s grammar; `tree`: `path` already parsed).

    Raises:
        SyntaxError, ValueError, OSError: as `parse`.
    """
    tree = tree or parse(path, python)
    found = ModuleNames()
    _collect(tree.body, found)
    found.dynamic += _dynamic_uses(tree)
    return found


class _Importer:
    """Follows one handler module's unconditional imports through its source directory (see the module's doc)."""

    def __init__(self, source_dir: Path, python: tuple[int, int]) -> None:
        self.root = source_dir
        self.python = python
        self.certain = python <= sys.version_info[:2]
        self.trees: dict[Path, ast.Module] = {}
        self.imported: set[str] = set()

    def file_of(self, module: str) -> Path | None:
        """The file that runs when `module` (dotted) is imported from the source directory: `a/b.py` or
        `a/b/__init__.py`; None for a namespace package (a directory alone) or a module found elsewhere."""
        base = self.root.joinpath(*module.split("."))
        for candidate in (base.with_name(base.name + ".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
        return None

    def is_local(self, module: str) -> bool:
        """Does `module` come from the source directory (which is first on `sys.path`)? Never for a module of the
        standard library: the runtime may have imported it before the handler (a same-named file is not read)."""
        name = module.split(".")[0]
        top = self.root / name
        return name not in sys.stdlib_module_names and (top.with_name(name + ".py").is_file() or top.is_dir())

    def is_submodule(self, package: str, name: str) -> bool:
        """Is `name` a module or package inside the local package `package` (`from package import name`)?"""
        base = self.root.joinpath(*package.split("."), name)
        return base.with_name(name + ".py").is_file() or base.is_dir()

    def load(self, module: str) -> ImportFailure | None:
        """Import `module` (dotted, local): each package on its path, then the module itself."""
        parts = module.split(".")
        for depth in range(1, len(parts) + 1):
            name = ".".join(parts[:depth])
            if name in self.imported:
                continue
            self.imported.add(name)
            path = self.file_of(name)
            if path is None:
                continue
            failure = self.run(name, path)
            if failure:
                return failure
        return None

    def read(self, path: Path) -> ast.Module | ImportFailure:
        if path not in self.trees:
            try:
                self.trees[path] = parse(path, self.python)
            except SyntaxError as err:
                grammar = f"Python {self.python[0]}.{self.python[1]}"
                return ImportFailure(path, err.lineno, f"does not parse with {grammar}: {err.msg}", self.certain)
            except ValueError as err:
                return ImportFailure(path, None, f"does not parse: {err}")
            except OSError as err:
                return ImportFailure(path, None, f"cannot be read: {err.strerror or err}")
        return self.trees[path]

    def run(self, module: str, path: Path) -> ImportFailure | None:
        """What executing `path` (module `module`) imports before anything else in it can run."""
        tree = self.read(path)
        if isinstance(tree, ImportFailure):
            return tree
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in tree.body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    failure = self.load(alias.name) if self.is_local(alias.name) else None
                    if failure:
                        return failure
            elif isinstance(node, ast.ImportFrom):
                failure = self.import_from(node, path, package)
                if failure:
                    return failure
        return None

    def import_from(self, node: ast.ImportFrom, path: Path, package: str) -> ImportFailure | None:
        if node.level:
            parts = package.split(".") if package else []
            if node.level > len(parts):
                return ImportFailure(path, node.lineno, "imports from above the function's source directory "
                                     f"(`from {'.' * node.level}{node.module or ''} import ...`), which the runtime "
                                     "imports as a top-level module: use an absolute import")
            base = ".".join(parts[:len(parts) - node.level + 1])
            target = ".".join(part for part in (base, node.module) if part)
        else:
            target = node.module or ""
        if not target or not self.is_local(target):
            return None
        failure = self.load(target)
        if failure:
            return failure
        file = self.file_of(target)
        for alias in node.names:
            if alias.name == "*":
                continue
            if self.is_submodule(target, alias.name):
                failure = self.load(f"{target}.{alias.name}")
                if failure:
                    return failure
                continue
            if file is None:
                continue
            tree = self.trees[file]
            found = module_names(file, tree=tree)
            if alias.name not in found.names and not found.dynamic:
                shown = file.relative_to(self.root)
                return ImportFailure(path, node.lineno, f"imports {alias.name!r} from {target}, which {shown} does "
                                     "not define")
        return None


def import_failure(source_dir: Path, module: str, python: tuple[int, int]) -> ImportFailure | None:
    """Why importing `module` (dotted, e.g. "api" or "pkg.api") from `source_dir` with Python `python` (major,
    minor: the function's runtime) fails, found by reading (see the module's doc); None when reading finds no reason.
    """
    return _Importer(source_dir.resolve(), python).load(module)


RUNTIME_MODULE = "platform_sdk.runtime"
ACCESSORS = frozenset({"bucket", "queue", "database", "secret", "function"})
"""`platform_sdk.runtime`'s functions that open a granted resource by its neutral name (the name is the grant's
kind: `bucket` -> a granted Bucket)."""


@dataclass(frozen=True)
class ResourceCall:
    """`kind("name")` at `line` of a module: a granted resource opened by a literal name."""

    kind: str
    name: str
    line: int


def resource_calls(tree: ast.Module) -> list[ResourceCall]:
    """The module's calls of the runtime's accessors with a literal name, in line order: `bucket("notes")` after
    `from platform_sdk.runtime import bucket` (any alias), `runtime.bucket("notes")` after `from platform_sdk import
    runtime` or `import platform_sdk.runtime as runtime`, anywhere in the module. A name that is not a literal
    (a variable, an f-string) is not followed."""
    direct: dict[str, str] = {}  # local name -> accessor
    modules: set[str] = set()  # local names of platform_sdk.runtime
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            for alias in node.names:
                if node.module == RUNTIME_MODULE and alias.name in ACCESSORS:
                    direct[alias.asname or alias.name] = alias.name
                elif node.module == "platform_sdk" and alias.name == "runtime":
                    modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == RUNTIME_MODULE and alias.asname:
                    modules.add(alias.asname)
    found: list[ResourceCall] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in direct:
            found.append(ResourceCall(direct[func.id], first.value, node.lineno))
        elif isinstance(func, ast.Attribute) and func.attr in ACCESSORS and isinstance(func.value, ast.Name) \
                and func.value.id in modules:
            found.append(ResourceCall(func.attr, first.value, node.lineno))
    return sorted(found, key=lambda call: call.line)
