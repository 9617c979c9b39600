"""Does a function's handler module define the handler? Answered by reading the module, never by running it.

Loading the estate must not execute user code (it may need the cloud's libraries, secrets or a network), so the
module is parsed with `ast` and its top-level bindings are collected: `def`, `async def`, `class`, assignments,
`import` / `from ... import`, and the same inside top-level `if`, `try`, `with` and `for` blocks (conditional
definitions). A module that binds names in ways a parser cannot follow (`from x import *`, a module
`__getattr__`, `globals()`, `setattr`, `exec`, `global` in a function) cannot be verified: the caller says so
instead of refusing it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

DYNAMIC_CALLS = frozenset({"globals", "setattr", "exec", "vars", "locals", "__import__"})


@dataclass
class ModuleNames:
    """The names a module binds at top level, and why that list may be incomplete (empty: it is complete)."""

    names: set[str] = field(default_factory=set)
    dynamic: list[str] = field(default_factory=list)


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


def module_names(path: Path) -> ModuleNames:
    """The top-level names `path` binds.

    Raises:
        SyntaxError: the module does not parse with this Python (its `lineno` says where).
        OSError: it cannot be read.
    """
    tree = ast.parse(path.read_bytes(), filename=str(path))
    found = ModuleNames()
    _collect(tree.body, found)
    found.dynamic += _dynamic_uses(tree)
    return found
