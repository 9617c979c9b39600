"""One stack's resources, data sources and outputs, handed to the CDK engine as a single construct.

Why: a resource built as a jsii construct costs about five round trips to Node, which cost more than everything
else in synthesis together. Here resources are plain Python objects (`cdk/raw.py`) collected per stack in a
`StackDocument`; when the estate is complete, `finalize()` renders every document once, in Python, into the JSON
CDKTF itself would have produced, and one construct per stack (`_DocumentElement`, a `TerraformElement`) hands it
to the engine: a bounded number of engine calls per stack however many resources it holds. Of a document without
engine tokens the engine gets the outputs and metadata only; its resources and data sources are added to the
stack file the engine wrote, formatted as the engine formats it (`write_documents`, called by `engine.App.synth`).

The engine keeps what it owns: the app, stacks, backends, providers, assets, modules, the manifest, and the wiring
of references between stacks. A reference from stack B to an attribute of stack A becomes what CDKTF emits for it
(app.ts crossStackReference): an output `cross-stack-output-<identifier>` (sensitive) in A, a
`terraform_remote_state` data source `cross-stack-reference-input-<A>` in B made by A's backend
(`TerraformStack.registerIncomingCrossStackReference`), and a dependency B -> A in the manifest
(`TerraformStack.addDependency`): two engine calls per pair of stacks, none per reference.

Rendering follows CDKTF's TerraformResource.toTerraform: attributes, then the meta-arguments (`depends_on`,
`count`, `provider`, `lifecycle`; an unset one removes an attribute of that name, as CDKTF's deepMerge does), then
raw overrides, then `//` metadata (construct path and unique id). The engine writes the file with sorted keys.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from platform_sdk.cdk import expressions

if TYPE_CHECKING:
    from platform_sdk.cdk.raw import Block

ELEMENT_ID = "platform_document"
"""The construct id of the one element per stack that carries the document."""
META_ARGUMENTS = ("depends_on", "count", "provider", "lifecycle", "for_each", "connection", "provisioner")
_DISALLOWED = re.compile(r"[^A-Za-z0-9_-]")
_MAX_ID_LEN = 255

_pending: list[StackDocument] = []
"""Documents not emitted yet, in creation order (every app's stacks, until `finalize()`)."""
WRITTEN_SECTIONS = ("resource", "data")
"""The sections of a document synthesis writes into the engine's stack file itself (`write_documents`)."""
write_directly = True
"""False hands the whole document to the engine (how tests compare both ways byte for byte)."""
_written: list[StackDocument] = []
"""Documents whose resources and data sources `write_documents` adds to their stack file after `app.synth()`."""


def make_unique_id(construct_id: str) -> str:
    """CDKTF's logical id of a construct that sits directly in its stack (private/unique.ts makeUniqueId)."""
    if construct_id == "Default":
        raise ValueError("a construct id 'Default' is hidden from logical ids: choose another id")
    candidate = _DISALLOWED.sub("", construct_id)
    if len(candidate) <= _MAX_ID_LEN:
        return candidate
    digest = hashlib.md5(construct_id.encode(), usedforsecurity=False).hexdigest()[:8].upper()
    return candidate[:240] + "_" + digest


def deep_merge(target: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    """CDKTF's deepMerge (util.ts): dicts merge, lists concatenate, None deletes, anything else replaces."""
    for key, value in source.items():
        if isinstance(value, dict):
            if not isinstance(target.get(key), dict):
                target[key] = {}
            deep_merge(target[key], value)
        elif isinstance(value, list):
            target[key] = [*target[key], *value] if isinstance(target.get(key), list) else value
        elif value is None:
            target.pop(key, None)
        else:
            target[key] = value
    return target


class StackDocument:
    """The resources, data sources and outputs of one stack, as plain Python objects until `finalize()`."""

    def __init__(self, stack: Any, path: str) -> None:
        self.stack = stack
        self.path = path
        self.blocks: list[Block] = []
        self.ids: set[str] = set()
        self.outputs: dict[str, tuple[Any, str | None, bool | None]] = {}
        self.exports: dict[str, str] = {}  # identifier -> output id, for consumers in other stacks
        self.inputs: dict[int, str] = {}  # id(producer document) -> its remote state's logical id
        self.payload: dict[str, Any] | None = None
        self.engine_tokens = False  # the payload holds tokens of the engine itself (a platform team's constructs)
        self.direct: dict[str, Any] | None = None  # WRITTEN_SECTIONS as the engine would write them, see _direct
        self._element: Any = None
        _pending.append(self)

    @classmethod
    def of(cls, scope: Any, path: str | None = None) -> StackDocument:
        """The document of a stack (created on first use); `scope` may also be a document."""
        if isinstance(scope, StackDocument):
            return scope
        document = getattr(scope, "_platform_document", None)
        if document is None:
            document = cls(scope, path if path is not None else scope.node.path)
            scope._platform_document = document
        return document

    # -- building ----------------------------------------------------------------------------------------------
    def claim(self, construct_id: str) -> None:
        """Reserve a construct id, refusing a second one as the engine does (ids are unique in a stack)."""
        if self.payload is not None:
            raise RuntimeError(f"stack {self.path} was already emitted: add resources before the app is synthesized")
        if construct_id in self.ids:
            raise ValueError(f"There is already a Construct with name '{construct_id}' in TerraformStack "
                             f"[{self.path}]")
        self.ids.add(construct_id)
        if self._element is None:
            self._element = _element_class()(self.stack, ELEMENT_ID, self)

    def add(self, block: Block) -> None:
        self.claim(block.construct_id)
        self.blocks.append(block)

    def output(self, construct_id: str, value: Any, description: str | None = None,
               sensitive: bool | None = None) -> None:
        """A `TerraformOutput` of this stack (`value` may hold references of any stack)."""
        self.claim(construct_id)
        self.outputs[construct_id] = (value, description, sensitive)

    def resolve(self, value: Any) -> Any:
        """`value` with our references rendered for this stack, for a construct of the engine in it (a module's
        variables, a platform team's own construct): such constructs cannot read our markers."""
        return expressions.resolve(value, self)

    def module_output(self, module_id: str, output: str) -> str:
        """A reference to output `output` of the module construct `module_id` of this stack."""
        return expressions.Reference(self, f"module.{make_unique_id(module_id)}", output).marker()

    # -- references between stacks -----------------------------------------------------------------------------
    def export(self, identifier: str) -> str:
        """The output id publishing `identifier` (`type.name.attr`) to other stacks, declared on first use."""
        if identifier not in self.exports:
            if self.payload is not None:
                raise RuntimeError(f"stack {self.path} was already emitted: cannot publish {identifier}")
            self.exports[identifier] = make_unique_id(f"cross-stack-output-{identifier}")
        return self.exports[identifier]

    def remote(self, producer: StackDocument, identifier: str) -> str:
        """How this stack reads `identifier` of `producer`: through the producer's output and remote state."""
        output_id = producer.export(identifier)
        key = id(producer)
        if key not in self.inputs:
            # What CDKTF's App.crossStackReference does, minus the output (declared in the producer's document).
            self.stack.add_dependency(producer.stack)
            self.stack.register_incoming_cross_stack_reference(producer.stack)
            self.inputs[key] = make_unique_id(f"cross-stack-reference-input-{producer.path}")
        return f"data.terraform_remote_state.{self.inputs[key]}.outputs.{output_id}"

    # -- emitting ----------------------------------------------------------------------------------------------
    def _render_blocks(self) -> dict[str, Any]:
        payload: dict[str, Any] = {}
        overrides: dict[str, list[str]] = {}
        for block in self.blocks:
            section = payload.setdefault(block.section, {}).setdefault(block.terraform_resource_type, {})
            section[block.friendly_unique_id] = block.render(self)
            if block.raw_overrides:
                overrides.setdefault(block.terraform_resource_type, []).extend(block.raw_overrides)
        if overrides:
            payload["//"] = {"metadata": {"overrides": overrides}}
        return payload

    def _render_outputs(self) -> tuple[dict[str, Any], dict[str, str]]:
        rendered: dict[str, Any] = {}
        ids: dict[str, str] = {}  # construct id -> logical id, for the stack's `//` outputs map
        for construct_id, (value, description, sensitive) in self.outputs.items():
            body = {"value": expressions.resolve(value, self), "description": description, "sensitive": sensitive}
            unique = make_unique_id(construct_id)
            rendered[unique] = {k: v for k, v in body.items() if v is not None}
            ids[construct_id] = unique
        return rendered, ids

    def _finish(self, payload: dict[str, Any], rendered: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
        for identifier, output_id in self.exports.items():
            rendered[output_id] = {"value": f"${{{identifier}}}", "sensitive": True}
            ids[f"cross-stack-output-{identifier}"] = output_id
        if rendered:
            payload["output"] = rendered
            nested: dict[str, Any] = dict(ids)
            for part in reversed(self.path.split("/")):  # as TerraformStack.toTerraform nests them by path
                nested = {part: nested}
            payload.setdefault("//", {})["outputs"] = nested
        return payload


def finalize() -> None:
    """Render every pending document (cross-stack wiring included) and hand each to its stack's element.

    Runs once the estate is built (`EstateBuilder.build`), or at the latest when the engine first asks an element
    for its configuration during `app.synth()`. Markers are spent afterwards (`expressions.forget`).
    """
    documents = list(_pending)
    if not documents:
        return
    payloads = [document._render_blocks() for document in documents]  # may declare exports on any document
    outputs = [document._render_outputs() for document in documents]  # outputs may read other stacks too
    for document, payload, (rendered, ids) in zip(documents, payloads, outputs, strict=True):
        document.payload = document._finish(payload, rendered, ids)
        document.engine_tokens = "TfToken[" in json.dumps(document.payload, default=lambda _: "TfToken[")
    del _pending[:len(documents)]
    expressions.forget()


def abandon() -> None:
    """Forget documents that will never be emitted (their synthesis failed), so the next app starts clean."""
    _pending.clear()
    _written.clear()
    expressions.forget()


# -- writing resources into the engine's stack files ------------------------------------------------------------
# Handing a stack's resources to the engine costs more than everything else it does for the stack: jsii serialises
# the document in Python, Node parses it, CDKTF walks it resolving tokens (there are none) and writes it back out
# (~0.4 s of CPU for 1,000 resources). The engine's part of the file (stack metadata, backend, providers, remote
# state, outputs, anything a platform team's constructs add) does not depend on them, so a document without
# engine tokens gives the engine everything but its resources and data sources, and `write_documents` adds those
# to the file the engine wrote, formatted as the engine formats it: json-stable-stringify with two spaces (sorted
# keys, an empty object or list opened and closed on two lines), values as CDKTF's resolve leaves them (None
# dropped from objects and lists, numbers as JavaScript prints them). A value the Python writer cannot format
# exactly as Node would (a float JavaScript prints with an exponent, an integer beyond 2**53, a key outside the
# Basic Multilingual Plane, which the two languages sort differently, a lone surrogate) sends the whole document
# through the engine instead. tests/test_cdk_document.py compares the files with CDKTF's own, byte for byte.
class _NotPlain(Exception):
    """A value the Python writer would not format exactly as the engine does."""


_EMPTY = {"{}": "\x00{}\x00", "[]": "\x00[]\x00"}
_EMPTY_MARKER = re.compile(r'"\\u0000(\{\}|\[\])\\u0000"')
_NUMBER_MARKER = re.compile(r'"\\u0000n([-+.eE0-9]+)\\u0000"')
_MARKER_TEXT = '"\\u0000'  # how both markers start once written as JSON
_SAFE_INT = 2**53


def _plain(value: Any) -> Any:
    """`value` as CDKTF's resolve would leave it, empty containers as markers (see `_stringify`)."""
    if isinstance(value, str):
        if not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError:
                raise _NotPlain(value) from None
        if "\x00" in value:
            raise _NotPlain(value)
        return value
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str) or "\x00" in key or not key.isascii() and any(ord(c) > 0xFFFF for c in key):
                raise _NotPlain(key)
            if item is not None:
                out[key] = _plain(item)
        return out or _EMPTY["{}"]
    if isinstance(value, list):
        items = [_plain(item) for item in value if item is not None]
        return items or _EMPTY["[]"]
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if abs(value) > _SAFE_INT:
            raise _NotPlain(value)
        return value
    if isinstance(value, float):
        if value.is_integer() and abs(value) <= _SAFE_INT:
            return int(value)
        if 1e-4 <= abs(value) < 1e16:  # both print the shortest digits without an exponent here
            return value
    raise _NotPlain(value)


def _engine_json(text: str) -> Any:
    """A file the engine wrote, parsed so that `_stringify` writes it back unchanged: its fractional numbers kept
    as the engine printed them, its empty containers as markers."""
    def mark(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: mark(item) for key, item in value.items()} or _EMPTY["{}"]
        if isinstance(value, list):
            return [mark(item) for item in value] or _EMPTY["[]"]
        return value
    return mark(json.loads(text, parse_float=lambda number: f"\x00n{number}\x00"))


def _stringify(document: dict[str, Any]) -> str:
    """json-stable-stringify(document, {space: 2}) of a document made of `_plain` and `_engine_json` values."""
    # orjson writes what json.dumps(indent=2, sort_keys=True, ensure_ascii=False) writes, ~20x faster (the
    # standard library's C encoder does not indent): same key order for BMP keys, same escapes, same shortest
    # float digits (tests/test_cdk_document.py compares the two on every golden stack and on edge values).
    text = orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()
    if _MARKER_TEXT not in text:
        return text

    def empty(marker: re.Match[str]) -> str:
        """An empty container as the engine prints it: opened, closed on a line of its own indented as the line
        that opens it."""
        line = text[text.rfind("\n", 0, marker.start()) + 1:marker.start()]
        indent = len(line) - len(line.lstrip(" "))
        return f"{marker[1][0]}\n{' ' * indent}{marker[1][1]}"

    text = _EMPTY_MARKER.sub(empty, text)
    return _NUMBER_MARKER.sub(lambda m: m[1], text)


def _direct(document: StackDocument) -> dict[str, Any] | None:
    """The sections synthesis writes itself, ready for `_stringify`; None: the engine writes the whole document."""
    if not write_directly or document.engine_tokens or document.payload is None:
        return None
    try:
        return {key: _plain(document.payload[key]) for key in WRITTEN_SECTIONS if key in document.payload}
    except _NotPlain:
        return None


def _merge(target: dict[str, Any], source: dict[str, Any], stack: str) -> None:
    """CDKTF's deepMerge of disjoint trees (`_plain` / `_engine_json` values): objects merge, an empty object adds
    nothing to one that is there; two values at one place are a clash the engine never produces for us."""
    for key, value in source.items():
        current = target.get(key)
        if current is None or current == _EMPTY["{}"] and (isinstance(value, dict) or value == current):
            target[key] = value
        elif isinstance(current, dict) and isinstance(value, dict):
            _merge(current, value, stack)
        elif not (isinstance(current, dict) and value == _EMPTY["{}"]):
            raise RuntimeError(f"stack {stack}: {key} is written by the engine and by the document")


def write_documents(outdir: Path) -> None:
    """Add the resources and data sources of every document the engine just synthesized without them to its
    stack file in `outdir` (`App.synth` calls this right after the engine's synthesis).

    Raises RuntimeError when a stack-level raw override of the engine touches those sections (it would have
    applied to them had the engine written them): nothing in the platform does that.
    """
    documents = list(_written)
    _written.clear()
    if not documents:
        return
    manifest = json.loads((outdir / "manifest.json").read_text())
    paths = {entry["constructPath"]: outdir / entry["synthesizedStackPath"] for entry in manifest["stacks"].values()}
    for document in documents:
        path = paths[document.path]
        merged = _engine_json(path.read_text())
        metadata = merged.get("//", {}).get("metadata", {}) if isinstance(merged.get("//"), dict) else {}
        overrides = metadata.get("overrides") if isinstance(metadata, dict) else None
        overridden = set(overrides.get("stack", ())) if isinstance(overrides, dict) else set()
        if overridden & set(WRITTEN_SECTIONS):
            raise RuntimeError(f"stack {document.path} overrides {sorted(overridden)} at the stack level: "
                               "override the resources themselves")
        _merge(merged, document.direct or {}, document.path)
        path.write_text(_stringify(merged))


def unrendered(outdir: Path) -> list[tuple[str, str]]:
    """(stack, marker) for every reference of ours that reached the engine's output unrendered, i.e. was handed
    to an engine construct without `StackDocument.resolve` (empty when all is well)."""
    found = []
    for path in sorted(outdir.glob("stacks/*/cdk.tf.json")):
        text = path.read_text()
        if "{@" in text:
            found += [(path.parent.name, m.group(0)) for m in expressions.MARKER.finditer(text)]
            found += [(path.parent.name, m.group(0)) for m in expressions.LIST_MARKER.finditer(text)]
    return found


_ELEMENT_CLASS: type | None = None


def _finish(outdir: Path) -> None:
    """What the engine's App calls once it has written the stacks (engine.AFTER_SYNTH)."""
    write_documents(outdir)


def _element_class() -> type:
    """The engine construct carrying a document (defined on first use: importing the engine costs 0.3 s)."""
    global _ELEMENT_CLASS
    if _ELEMENT_CLASS is None:
        from platform_sdk.cdk.engine import AFTER_SYNTH, TerraformElement

        if _finish not in AFTER_SYNTH:
            AFTER_SYNTH.append(_finish)

        class _DocumentElement(TerraformElement):  # type: ignore[misc, valid-type]
            """Hands a rendered document to the engine, which calls `to_terraform` back twice per `app.synth()`.

            The first call is the engine's preparing pass (App.synth: every stack's prepareStack, then every
            stack's synthesis), which looks for the engine's own tokens to wire across stacks. A document without
            any has nothing to prepare and answers it with nothing, which saves a transfer and a walk over the
            stack's whole configuration in Node.
            """

            def __init__(self, scope: Any, construct_id: str, document: StackDocument) -> None:
                super().__init__(scope, construct_id)
                self._document = document
                self._calls = 0

            def to_terraform(self) -> Any:
                document = self._document
                if document.payload is None:
                    finalize()
                self._calls += 1
                if self._calls == 1 and not document.engine_tokens:
                    return {}
                if document.direct is None:
                    document.direct = _direct(document)
                if document.direct is None:
                    return document.payload
                if document not in _written:
                    _written.append(document)
                return {k: v for k, v in document.payload.items() if k not in WRITTEN_SECTIONS}

        _ELEMENT_CLASS = _DocumentElement
    return _ELEMENT_CLASS
