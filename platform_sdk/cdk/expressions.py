"""Terraform expressions built in Python: references to attributes and calls of Terraform functions.

Why: a CDKTF token costs a round trip to Node to create and another to resolve. Our resources are plain Python
objects (`cdk/raw.py`), so their references are too: `resource.ref("arn")` returns a short marker string
(`${@17}`) standing for an `Expression`. Markers survive what compilers do with strings (f-strings, `json.dumps`
of a policy document) and are rendered when a stack is emitted (`cdk/document.py`): as `${aws_s3_bucket.x.arn}`
inside the resource's own stack, as an output of the producing stack read through `terraform_remote_state` in
any other stack (`StackDocument.remote`). The rendering follows CDKTF's byte for byte (tfExpression.ts,
terraform-functions.ts of cdktf 0.21): references, function calls and their argument quoting, `$${` escapes.

`Fn` offers the Terraform functions our compilers use with CDKTF's signatures; any other function is handed to
CDKTF's own `Fn` when no argument holds a marker, and refused with a clear message when one does. `Token`
mirrors `cdktf.Token` for marker strings. Nothing here imports the engine unless CDKTF's `Fn`/`Token` is needed.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from platform_sdk.cdk.document import StackDocument

MARKER = re.compile(r"\$\{@(\d+)\}")
"""A string marker `${@N}` (N indexes `_EXPRESSIONS`)."""
LIST_MARKER = re.compile(r"#\{@(\d+)\}")
"""A list marker `#{@N}`: the only element of a list standing for a list-valued expression."""
CDKTF_TOKEN = re.compile(r"[$#&]\{TfToken\[[a-zA-Z0-9:._-]+\]\}")
"""A token of the engine itself (from a construct of the engine, e.g. one a platform team added)."""

_EXPRESSIONS: dict[int, Expression] = {}
_COUNTER = itertools.count(1)
_ENGINE: Any = None
"""The engine module (cdktf or cdktn), for what is not about our references; set by `platform_sdk.cdk.engine`."""


def use_engine(module: Any) -> None:
    """Called by platform_sdk.cdk.engine when it imports the engine (this module never imports it)."""
    global _ENGINE
    _ENGINE = module


def _engine() -> Any:
    if _ENGINE is None:
        raise RuntimeError("import platform_sdk.cdk.engine first (it loads the CDK engine)")
    return _ENGINE


class Expression:
    """Something rendered as a Terraform expression in the scope of one stack."""

    def render(self, scope: StackDocument) -> str:
        """The expression's text without `${` `}`, as seen from a resource of `scope`."""
        raise NotImplementedError

    def marker(self) -> str:
        """Register the expression and return its string marker `${@N}`."""
        number = next(_COUNTER)
        _EXPRESSIONS[number] = self
        return f"${{@{number}}}"

    def list_marker(self) -> list[str]:
        """The expression as a one-element list `["#{@N}"]` (CDKTF's `Token.asList`)."""
        number = int(MARKER.fullmatch(self.marker()).group(1))  # type: ignore[union-attr]
        return [f"#{{@{number}}}"]


def forget() -> None:
    """Drop every registered expression: called once a whole app has been emitted (markers are spent then)."""
    _EXPRESSIONS.clear()


def expression(number: int) -> Expression:
    try:
        return _EXPRESSIONS[number]
    except KeyError:
        raise ValueError(f"a reference from an earlier synthesis was used (marker ${{@{number}}}): references are "
                         "valid only until the app they were made for is synthesized") from None


class Reference(Expression):
    """`<fqn>.<attribute>` of a block (resource, data source, module) that belongs to one stack's document."""

    def __init__(self, document: StackDocument, fqn: str, attribute: str) -> None:
        self.document = document
        self.fqn = fqn
        self.attribute = attribute

    @property
    def identifier(self) -> str:
        return f"{self.fqn}.{self.attribute}"

    def render(self, scope: StackDocument) -> str:
        if scope is self.document:
            return self.identifier
        return scope.remote(self.document, self.identifier)


class Call(Expression):
    """A Terraform function call, `name(arg, ...)`, its arguments quoted the way CDKTF quotes them."""

    def __init__(self, name: str, args: list[Any]) -> None:
        self.name = name
        self.args = args

    def render(self, scope: StackDocument) -> str:
        return f"{self.name}({', '.join(render_argument(a, scope) for a in self.args)})"


# -- rendering values of attributes ------------------------------------------------------------------------------
def has_markers(value: Any) -> bool:
    """True when a string, list or dict holds a marker anywhere."""
    if isinstance(value, str):
        return "{@" in value and bool(MARKER.search(value) or LIST_MARKER.search(value))
    if isinstance(value, dict):
        return any(has_markers(k) or has_markers(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(has_markers(v) for v in value)
    return False


def resolve(value: Any, scope: StackDocument) -> Any:
    """`value` with every marker rendered for `scope`; None dropped from dicts and lists (as jsii does)."""
    if isinstance(value, str):
        if "{@" not in value:
            return value
        return resolve_string(value, scope)
    if isinstance(value, dict):
        return {resolve(k, scope): resolve(v, scope) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        if len(value) == 1 and isinstance(value[0], str) and (match := LIST_MARKER.fullmatch(value[0])):
            return "${" + expression(int(match.group(1))).render(scope) + "}"
        return [resolve(v, scope) for v in value if v is not None]
    return value


def resolve_string(text: str, scope: StackDocument) -> str:
    if LIST_MARKER.search(text):
        raise ValueError(f"a list reference was used inside a string ({text!r}): use it as a whole list value")
    return MARKER.sub(lambda m: "${" + expression(int(m.group(1))).render(scope) + "}", text)


def _fragments(text: str) -> Iterator[tuple[bool, str]]:
    """(is_marker, text) pieces of a string, markers rendered later."""
    position = 0
    for match in MARKER.finditer(text):
        if match.start() > position:
            yield False, text[position:match.start()]
        yield True, match.group(0)
        position = match.end()
    if position < len(text):
        yield False, text[position:]


def escape(text: str) -> str:
    """CDKTF's escapeString: newlines as `\\n`, `${` as `$${` (quotes and backslashes are left alone)."""
    return text.replace("\n", "\\n").replace("${", "$${")


def _quoted(joined: str) -> str:
    return joined if joined != '"' and joined.startswith('"') and joined.endswith('"') else f'"{joined}"'


def render_argument(arg: Any, scope: StackDocument) -> str:
    """One argument of a function call, as CDKTF's TFExpression.resolveArg renders it."""
    if isinstance(arg, str):
        pieces = list(_fragments(arg))
        markers = [text for is_marker, text in pieces if is_marker]
        if not markers:
            if CDKTF_TOKEN.fullmatch(arg):  # the engine resolves its own token inside our `${...}`, unbraced
                return arg
            if CDKTF_TOKEN.search(arg):
                raise ValueError(f"a string mixing text and a token of the CDK engine ({arg!r}) cannot be an "
                                 "argument of platform_sdk.cdk.expressions.Fn: use the engine's own Fn for it")
            return _quoted(escape(arg))
        if len(pieces) == 1:
            return _render_marker(markers[0], scope)
        joined = "".join("${" + _render_marker(text, scope) + "}" if is_marker else escape(text)
                         for is_marker, text in pieces)
        return _quoted(joined)
    if isinstance(arg, bool):
        return "true" if arg else "false"
    if isinstance(arg, (int, float)):
        return _number(arg)
    if isinstance(arg, (list, tuple)):
        if len(arg) == 1 and isinstance(arg[0], str) and (match := LIST_MARKER.fullmatch(arg[0])):
            return expression(int(match.group(1))).render(scope)
        return "[" + ", ".join(render_argument(a, scope) for a in arg) + "]"
    if isinstance(arg, dict):
        return "{" + ", ".join(f'"{k}" = {render_argument(v, scope)}' for k, v in arg.items()) + "}"
    raise TypeError(f"cannot use {arg!r} as an argument of a Terraform function")


def _render_marker(text: str, scope: StackDocument) -> str:
    match = MARKER.fullmatch(text)
    assert match is not None
    return expression(int(match.group(1))).render(scope)


def _number(value: float) -> str:
    """A number the way JavaScript prints it (2.0 -> "2")."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


# -- Terraform functions -----------------------------------------------------------------------------------------
# Argument kinds, as in cdktf's generated functions: "any", "string", "number", "list" (listOf: list items quoted
# before rendering), "variadic" (the list's items become separate arguments). The result kind decides what a
# call returns: a string marker ("string"/"any") or a one-element list marker ("list").
_FUNCTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "base64encode": (("string",), "string"),
    "coalesce": (("variadic",), "any"),
    "concat": (("variadic",), "any"),
    "element": (("any", "number"), "any"),
    "format": (("string", "variadic"), "string"),
    "formatdate": (("string", "string"), "string"),
    "join": (("string", "variadic_list"), "string"),
    "jsonencode": (("any",), "string"),
    "lookup": (("any", "string", "any"), "any"),
    "lower": (("string",), "string"),
    "md5": (("string",), "string"),
    "merge": (("variadic",), "any"),
    "one": (("any",), "any"),
    "replace": (("string", "string", "string"), "string"),
    "sha256": (("string",), "string"),
    "split": (("string", "string"), "list"),
    "substr": (("string", "number", "number"), "string"),
    "timestamp": ((), "string"),
    "tolist": (("any",), "list"),
    "toset": (("any",), "list"),
    "tostring": (("any",), "string"),
    "trimprefix": (("string", "string"), "string"),
    "trimsuffix": (("string", "string"), "string"),
    "upper": (("string",), "string"),
    "urlencode": (("string",), "string"),
}


def _list_items(value: Any) -> Any:
    """cdktf's listOf(): a plain string item is wrapped in quotes before it is rendered; None items dropped."""
    if not isinstance(value, (list, tuple)):
        return value
    if len(value) == 1 and isinstance(value[0], str) and LIST_MARKER.fullmatch(value[0]):
        return value
    items = []
    for item in value:
        if item is None:
            continue
        if isinstance(item, str) and not (MARKER.fullmatch(item) or LIST_MARKER.fullmatch(item)):
            item = f'"{item}"'
        items.append(item)
    return items


def call(name: str, *args: Any) -> Any:
    """A Terraform function call as a marker (string, or one-element list for list results)."""
    kinds, result = _FUNCTIONS[name]
    if len(args) != len(kinds):
        raise TypeError(f"{name}() takes {len(kinds)} arguments ({len(args)} given)")
    rendered: list[Any] = []
    for kind, arg in zip(kinds, args, strict=True):
        if kind == "variadic":
            rendered.extend(_list_items(arg) if isinstance(arg, (list, tuple)) else [arg])
        elif kind == "variadic_list":  # join(sep, [list]): each list is one argument, its items unquoted
            rendered.extend(item for item in arg if item is not None)
        elif kind == "list":
            rendered.append(_list_items(arg))
        else:
            rendered.append(arg)
    expr = Call(name, rendered)
    return expr.list_marker() if result == "list" else expr.marker()


class _FnMeta(type):
    def __getattr__(cls, name: str) -> Callable[..., Any]:
        def engine_fn(*args: Any) -> Any:
            if any(has_markers(a) for a in args):
                raise NotImplementedError(
                    f"Fn.{name} is not available for platform references yet: add it to _FUNCTIONS in "
                    "platform_sdk/cdk/expressions.py (with the argument kinds of cdktf's generated Fn)")
            return getattr(_engine().Fn, name)(*args)
        return engine_fn


class Fn(metaclass=_FnMeta):
    """Terraform functions over platform references, with cdktf's `Fn` signatures.

    `Fn.join(sep, list)` joins one list (as cdktf's does); every name in `_FUNCTIONS` is a static method;
    other names go to the engine's `Fn` unless an argument holds a platform reference.
    """

    @staticmethod
    def join(separator: str, items: list[Any]) -> str:
        return call("join", separator, [items])  # type: ignore[no-any-return]


def _bind(name: str) -> Callable[..., Any]:
    def fn(*args: Any) -> Any:
        return call(name, *args)
    fn.__name__ = name
    fn.__doc__ = f"`{name}(...)` (https://developer.hashicorp.com/terraform/language/functions/{name})"
    return staticmethod(fn)


for _name in _FUNCTIONS:
    if _name != "join":
        setattr(Fn, _name, _bind(_name))


class Token:
    """`cdktf.Token` for platform references: a marker is already a string (or a list); the rest goes to CDKTF."""

    @staticmethod
    def as_string(value: Any) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, (list, tuple)) and len(value) == 1 and isinstance(value[0], str) and \
                (match := LIST_MARKER.fullmatch(value[0])):
            return f"${{@{match.group(1)}}}"
        return _engine().Token.as_string(value)  # type: ignore[no-any-return]

    @staticmethod
    def as_list(value: Any) -> list[str]:
        if isinstance(value, str) and (match := MARKER.fullmatch(value)):
            return [f"#{{@{match.group(1)}}}"]
        if isinstance(value, list):
            return value
        return _engine().Token.as_list(value)  # type: ignore[no-any-return]

    @staticmethod
    def is_unresolved(value: Any) -> bool:
        if has_markers(value):
            return True
        return bool(_engine().Token.is_unresolved(value))

    def __getattr__(self, name: str) -> Any:  # pragma: no cover - instances are never made
        raise AttributeError(name)
