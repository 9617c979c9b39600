"""A neutral index over one synthesized environment: every stack's Terraform JSON, with `${...}` references
resolved to the block that produces them, across stacks.

Why: analyses of the emitted configuration (the conformance analysis, rehearsal stand-ins) must compare what one
block says about another — a policy's `Resource` and a bucket's ARN, a rule's security group and a function's —
while CDKTF writes those as expressions, and across stacks as `terraform_remote_state` outputs. This module knows
Terraform's and CDKTF's JSON shapes and nothing about any cloud: a cloud plug-in may add `derive` rules that give
an attribute's literal value from the block's own arguments (an S3 bucket's ARN from its name), so a literal
and a reference to the same thing compare equal.

Shapes (cdk.tf.json, Terraform JSON syntax):
- `resource.<type>.<name>` and `data.<type>.<name>`: blocks; `output.<name>.value`; `provider.<name>`.
- A value may be an expression `"${aws_s3_bucket.files_bucket.arn}"` or a template with several
  (`"${aws_s3_bucket.files_bucket.arn}/*"`); expressions may call functions
  (`"${element(split(\"/\", aws_lambda_function_url.api_url.function_url), 2)}"`).
- Cross-stack (CDKTF): the consumer reads `data.terraform_remote_state.cross-stack-reference-input-<producer>
  .outputs.<output>` and the producer declares `output.<output>.value = "${<block>.<attribute>}"`.

Canonical form: `canonical(stack, text)` replaces every reference by `${<stack>:<address>.<attribute>}` of the
block that produces it (following remote state to the producer), or by the derived literal when the plug-in's
rules give one. Two values mean the same thing when their canonical forms are equal.

A `Location` names one node of a stack document (and, for a JSON document held in a string, such as an IAM
policy, a node inside it); `remove` deletes it, which is how tests take one piece of evidence away.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

REMOTE_STATE = "terraform_remote_state"
CROSS_STACK_INPUT = "cross-stack-reference-input-"  # CDKTF's id of the consumer's remote state of <producer>
PathPart = str | int
T = TypeVar("T")
# A reference inside an expression: `[data.]<type>.<name>` then attribute steps (`.x`, `[0]`, `.0`).
_REFERENCE = re.compile(
    r"(?<![\w.\-\"])((?:data\.)?[a-z][a-z0-9]*_[a-z0-9_]+\.[A-Za-z_][\w\-]*)((?:\.[\w\-]+|\[\d+\])*)")
_REMOTE = re.compile(r"^data\.terraform_remote_state\.([\w\-]+)\.outputs\.([\w\-]+)$")


class StackLike(Protocol):
    """What the index needs of a stack's record (`platform_sdk.synth.app.StackInfo` has it)."""

    name: str
    cloud: str
    target: str
    owners: dict[str, str]


@dataclass(frozen=True)
class StackRecord:
    """A stack as `cdktf.out/<env>/platform.json` records it (the fields the index reads)."""

    name: str
    cloud: str
    target: str
    owners: dict[str, str]
    dependencies: tuple[str, ...] = ()


def stacks_from_metadata(outdir: Path) -> dict[str, StackRecord]:
    """The stacks of an already synthesized environment, from `<outdir>/platform.json` (written by synthesis).

    Raises FileNotFoundError when nothing was synthesized into `outdir`.
    """
    metadata = json.loads((outdir / "platform.json").read_text())
    return {name: StackRecord(name, info["cloud"], info["target"], dict(info.get("owners", {})),
                              tuple(info.get("dependencies", ())))
            for name, info in sorted(metadata.get("stacks", {}).items())}


@dataclass(frozen=True)
class Location:
    """One node of a stack document: `path` inside cdk.tf.json, `inner` inside the JSON held by that string."""

    stack: str
    path: tuple[PathPart, ...]
    inner: tuple[PathPart, ...] = ()

    def __str__(self) -> str:
        def dotted(parts: tuple[PathPart, ...]) -> str:
            return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts).lstrip(".")
        text = f"{self.stack}:{dotted(self.path)}"
        return f"{text}#{dotted(self.inner)}" if self.inner else text


@dataclass(frozen=True)
class Block:
    """One resource or data source of one stack."""

    stack: str
    mode: str  # "resource" | "data"
    type: str
    name: str
    body: Mapping[str, Any] = field(compare=False, repr=False)

    @property
    def address(self) -> str:
        """Terraform's address: `aws_s3_bucket.files_bucket` or `data.aws_vpc.default_vpc`."""
        prefix = "data." if self.mode == "data" else ""
        return f"{prefix}{self.type}.{self.name}"

    def at(self, *path: PathPart, inner: tuple[PathPart, ...] = ()) -> Location:
        """The location of this block (no `path`) or of a node inside it."""
        return Location(self.stack, (self.mode, self.type, self.name, *path), inner)

    def __str__(self) -> str:
        return f"{self.stack}:{self.address}"


@dataclass(frozen=True)
class Ref:
    """A resolved reference: the producing block and the attribute read from it (`arn`, `service_config.0.uri`)."""

    block: Block
    attribute: str

    def __str__(self) -> str:
        return f"{self.block}.{self.attribute}"


# (block, attribute, estate) -> the attribute's value built from the block's own arguments, or None.
Derive = Callable[[Block, str, "Estate"], str | None]


def expressions(text: str) -> Iterator[tuple[int, int, str]]:
    """Every `${...}` of a string as (start, end, inner text); braces inside strings of the expression count."""
    i = 0
    while True:
        start = text.find("${", i)
        if start < 0:
            return
        depth, j, quoted = 0, start + 1, False
        while j < len(text):
            c = text[j]
            if quoted:
                if c == "\\":
                    j += 1
                elif c == '"':
                    quoted = False
            elif c == '"':
                quoted = True
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        if j >= len(text):
            return  # unbalanced: not an expression Terraform would accept either
        yield start, j + 1, text[start + 2:j]
        i = j + 1


@functools.lru_cache(maxsize=65536)
def _single_reference(value: str) -> str | None:
    """Estate.single_reference of a string starting with `${` and ending with `}` (pure, so cached)."""
    spans = list(expressions(value))
    if len(spans) != 1 or spans[0][0] != 0 or spans[0][1] != len(value):
        return None
    inner = spans[0][2].strip()
    return inner if _REFERENCE.fullmatch(inner) or _REMOTE.match(inner) else None


def _attribute(steps: str) -> str:
    """`.master_user_secret[0].secret_arn` -> `master_user_secret.0.secret_arn` (one spelling for comparisons)."""
    return re.sub(r"\[(\d+)\]", r".\1", steps).lstrip(".")


class Estate:
    """Every stack of one synthesized environment, indexed by block; references resolved across stacks."""

    def __init__(self, documents: Mapping[str, Mapping[str, Any]], stacks: Mapping[str, StackLike] | None = None,
                 derive: Derive | None = None) -> None:
        self.documents = documents
        self.stacks = dict(stacks or {})
        self._derive = derive
        self._canonical: dict[tuple[str, str], str] = {}  # (stack, text) -> canonical text
        # The documents never change once indexed, so what a string refers to is worked out once per stack: the
        # analyses ask the same questions of the same policies and ARNs for every function (see `refs`).
        self._resolved: dict[tuple[str, str], Ref | str | None] = {}  # (stack, reference) -> resolve()
        self._refs: dict[tuple[str, str], tuple[Ref, ...]] = {}  # (stack, text) -> refs() of a string
        self._ref: dict[tuple[str, str], Ref | None] = {}  # (stack, text) -> ref() of a string
        self._referenced: dict[tuple[str, str], frozenset[Block]] = {}  # (stack, text) -> blocks refs() names
        self._owners: dict[str, list[Block]] | None = None  # neutral address -> its blocks (owned_by), on first use
        self._lookups: dict[Hashable, Any] = {}  # key -> a table built once (lookup): cleared with the derive rules
        self._blocks: dict[tuple[str, str], Block] = {}
        self._by_type: dict[str, list[Block]] = {}
        for stack, doc in sorted(documents.items()):
            for mode in ("resource", "data"):
                for tf_type, instances in sorted((doc.get(mode) or {}).items()):
                    for name, body in sorted((instances or {}).items()):
                        block = Block(stack, mode, tf_type, name, body)
                        self._blocks[(stack, block.address)] = block
                        self._by_type.setdefault(tf_type, []).append(block)

    @classmethod
    def load(cls, outdir: Path, stacks: Mapping[str, StackLike], derive: Derive | None = None) -> Estate:
        """Read `<outdir>/stacks/<name>/cdk.tf.json` of every stack (tombstones included: they hold nothing)."""
        documents = {}
        for name in stacks:
            path = outdir / "stacks" / name / "cdk.tf.json"
            if path.is_file():
                documents[name] = json.loads(path.read_text())
        return cls(documents, stacks, derive)

    @property
    def derive(self) -> Derive | None:
        return self._derive

    @derive.setter
    def derive(self, rules: Derive | None) -> None:
        self._derive = rules
        self._canonical.clear()
        self._resolved.clear()  # a cross-stack output that is not one reference resolves to canonical text
        self._refs.clear()
        self._ref.clear()
        self._referenced.clear()
        self._lookups.clear()

    # -- lookups built once per estate ------------------------------------------------------------------------------
    def lookup(self, key: Hashable, build: Callable[[], T]) -> T:
        """The table `build()` returns, built on the first call with `key` and kept with this estate.

        Why: an analysis asks the same question of every block of a type for every function (which policies name
        this role, which configurations name this bucket); scanning the estate for each is quadratic, so it builds
        the answer for all blocks once. A table may depend on the documents and the derive rules only (both
        fixed for this estate; setting `derive` clears every table), never on one analysis' inputs. Keys are
        tuples naming their owner first (`("aws", "role_policies")`); a new Estate starts with none.
        """
        try:
            return self._lookups[key]  # type: ignore[no-any-return]
        except KeyError:
            table = self._lookups[key] = build()
            return table

    def referencing(self, tf_type: str, attribute: str, block: Block) -> list[Block]:
        """Every block of `tf_type` whose argument `attribute` refers to `block` (any attribute of it), in
        `blocks(tf_type)` order: what filtering `blocks(tf_type)` with `references_block(b.stack,
        b.body.get(attribute), block)` gives, from a table built once per (type, attribute)."""
        def build() -> dict[Block, list[Block]]:
            table: dict[Block, list[Block]] = {}
            for candidate in self._by_type.get(tf_type, ()):
                for referenced in dict.fromkeys(ref.block for ref in self.refs(candidate.stack,
                                                                              candidate.body.get(attribute))):
                    table.setdefault(referenced, []).append(candidate)
            return table
        return list(self.lookup(("referencing", tf_type, attribute), build).get(block, ()))

    def referenced_by(self, stack: str, value: Any, tf_type: str) -> list[Block]:
        """Every block of `tf_type` that `value` (read in `stack`) refers to, in `blocks(tf_type)` order: what
        filtering `blocks(tf_type)` with `references_block(stack, value, b)` gives, without visiting every block."""
        positions = self.lookup(("positions", tf_type),
                                lambda: {block: i for i, block in enumerate(self._by_type.get(tf_type, ()))})
        found = {positions[ref.block]: ref.block for ref in self.refs(stack, value) if ref.block in positions}
        return [found[position] for position in sorted(found)]

    def where(self, tf_type: str, attribute: str, *values: str, default: Any = None) -> list[Block]:
        """Every block of `tf_type` whose argument `attribute` (`default` when absent) has one of `values` as its
        canonical text (`canonical(b.stack, b.body.get(attribute, default))`), in `blocks(tf_type)` order, from a
        table built once per (type, attribute, default)."""
        def build() -> dict[str, list[tuple[int, Block]]]:
            table: dict[str, list[tuple[int, Block]]] = {}
            for position, candidate in enumerate(self._by_type.get(tf_type, ())):
                text = self.canonical(candidate.stack, candidate.body.get(attribute, default))
                table.setdefault(text, []).append((position, candidate))
            return table
        table = self.lookup(("where", tf_type, attribute, json.dumps(default)), build)
        if len(values) == 1:
            return [candidate for _, candidate in table.get(values[0], ())]
        found = {position: candidate for value in dict.fromkeys(values) for position, candidate in table.get(value, ())}
        return [found[position] for position in sorted(found)]

    # -- blocks ---------------------------------------------------------------------------------------------------
    def blocks(self, tf_type: str, stack: str | None = None) -> list[Block]:
        """Every block of a type (resources and data sources share the type namespace only by name)."""
        found = self._by_type.get(tf_type, [])
        if stack is None:
            return list(found)
        return [b for b in found if b.stack == stack]

    def block(self, stack: str, address: str) -> Block | None:
        return self._blocks.get((stack, address))

    def owned_by(self, neutral_address: str, tf_type: str | None = None) -> list[Block]:
        """The blocks synthesis recorded as implementing one neutral resource (StackInfo.owners)."""
        if self._owners is None:
            self._owners = {}
            for stack, info in sorted(self.stacks.items()):
                for address, owner in sorted(info.owners.items()):
                    block = self.block(stack, address)
                    if block is not None:
                        self._owners.setdefault(owner, []).append(block)
        return [b for b in self._owners.get(neutral_address, ()) if tf_type is None or b.type == tf_type]

    def depends_on(self, stack: str, other: str) -> bool:
        """Whether `stack` is applied after `other`: it depends on it, directly or through other stacks (the
        stacks' `dependencies`, as CDKTF wired them; a record without them depends on nothing)."""
        seen: set[str] = set()
        todo = [stack]
        while todo:
            current = todo.pop()
            for dependency in getattr(self.stacks.get(current), "dependencies", ()) or ():
                if dependency == other:
                    return True
                if dependency not in seen:
                    seen.add(dependency)
                    todo.append(dependency)
        return False

    def target_of(self, stack: str) -> str:
        info = self.stacks.get(stack)
        return info.target if info is not None else ""

    def provider(self, stack: str, name: str) -> Mapping[str, Any]:
        """The stack's default (unaliased) provider block `name`, {} when it has none."""
        configs = (self.documents.get(stack, {}).get("provider") or {}).get(name)
        if isinstance(configs, Mapping):
            configs = [configs]
        for config in configs or []:
            if "alias" not in config:
                return config
        return {}

    # -- references -------------------------------------------------------------------------------------------
    def _producer(self, stack: str, remote: str, output: str) -> tuple[str, Any] | None:
        """(producer stack, output value) of `data.terraform_remote_state.<remote>.outputs.<output>`."""
        producer = remote[len(CROSS_STACK_INPUT):] if remote.startswith(CROSS_STACK_INPUT) else None
        if producer is None or producer not in self.documents:
            return None
        value = (self.documents[producer].get("output") or {}).get(output, {}).get("value")
        return (producer, value) if value is not None else None

    def resolve(self, stack: str, reference: str, depth: int = 0) -> Ref | str | None:
        """One reference (`aws_s3_bucket.x.arn`, `data.terraform_remote_state.i.outputs.o`) -> the producing block
        and attribute; a cross-stack output that is not a single reference -> its canonical text; None = unknown."""
        if depth:
            return self._resolve(stack, reference, depth)
        key = (stack, reference)
        if key not in self._resolved:
            self._resolved[key] = self._resolve(stack, reference, 0)
        return self._resolved[key]

    def _resolve(self, stack: str, reference: str, depth: int) -> Ref | str | None:
        remote = _REMOTE.match(reference)
        if remote:
            produced = self._producer(stack, remote.group(1), remote.group(2))
            if produced is None or depth > 8:
                return None
            producer, value = produced
            inner = self.single_reference(value)
            if inner is not None:
                return self.resolve(producer, inner, depth + 1)
            return self.canonical(producer, value) if isinstance(value, str) else None
        match = _REFERENCE.fullmatch(reference)
        if match is None:
            return None
        block = self.block(stack, match.group(1))
        if block is None:
            return None
        return Ref(block, _attribute(match.group(2)))

    @staticmethod
    def single_reference(value: Any) -> str | None:
        """The reference when `value` is exactly one `${reference}` (no function call, no surrounding text)."""
        if not isinstance(value, str) or not value.startswith("${") or not value.endswith("}"):
            return None
        return _single_reference(value)

    def ref(self, stack: str, value: Any) -> Ref | None:
        """The producing block of a value that is exactly one reference; None otherwise."""
        if isinstance(value, str):
            key = (stack, value)
            if key not in self._ref:
                self._ref[key] = self._ref_of(stack, value)
            return self._ref[key]
        return self._ref_of(stack, value)

    def _ref_of(self, stack: str, value: Any) -> Ref | None:
        reference = self.single_reference(value)
        if reference is None:
            return None
        found = self.resolve(stack, reference)
        return found if isinstance(found, Ref) else None

    def refs(self, stack: str, value: Any) -> list[Ref]:
        """Every reference anywhere in a value (strings, lists, objects, and JSON documents inside strings)."""
        found: list[Ref] = []
        if isinstance(value, str):
            if "${" not in value:
                return found
            key = (stack, value)
            cached = self._refs.get(key)
            if cached is None:
                cached = self._refs[key] = tuple(
                    resolved for _, _, inner in expressions(value) for match in _REFERENCE.finditer(inner)
                    if isinstance(resolved := self.resolve(stack, match.group(0)), Ref))
            found += cached
        elif isinstance(value, Mapping):
            for item in value.values():
                found += self.refs(stack, item)
        elif isinstance(value, list):
            for item in value:
                found += self.refs(stack, item)
        return found

    def _token(self, ref: Ref, depth: int) -> str:
        if self.derive is not None and depth < 8:
            derived = self.derive(ref.block, ref.attribute, self)
            if derived is not None:
                return self.canonical(ref.block.stack, derived, depth + 1)
        return f"${{{ref.block.stack}:{ref.block.address}.{ref.attribute}}}"

    def canonical(self, stack: str, value: Any, depth: int = 0) -> str:
        """`value` as text with every reference replaced by its producer's token or derived literal."""
        if not isinstance(value, str):
            return json.dumps(value, sort_keys=True)
        if "${" not in value:
            return value
        cached = self._canonical.get((stack, value))
        if cached is None:
            cached = self._canonical[(stack, value)] = self._canonical_text(stack, value, depth)
        return cached

    def _canonical_text(self, stack: str, value: str, depth: int) -> str:
        out: list[str] = []
        last = 0
        for start, end, inner in expressions(value):
            out.append(value[last:start])
            last = end
            reference = self.single_reference(value[start:end])
            if reference is not None:
                resolved = self.resolve(stack, reference)
                if isinstance(resolved, Ref):
                    out.append(self._token(resolved, depth))
                elif isinstance(resolved, str):
                    out.append(resolved)
                else:
                    out.append(value[start:end])
                continue

            def replace(match: re.Match[str]) -> str:
                resolved = self.resolve(stack, match.group(0))
                if isinstance(resolved, Ref):
                    return f"{resolved.block.stack}:{resolved.block.address}.{resolved.attribute}"
                return match.group(0)
            out.append("${" + _REFERENCE.sub(replace, inner) + "}")
        out.append(value[last:])
        return "".join(out)

    @staticmethod
    def display(text: str) -> str:
        """Canonical text for people: `${stack:aws_db_instance.db.master_user_secret.0.secret_arn}` ->
        `aws_db_instance.db.master_user_secret.0.secret_arn`."""
        return re.sub(r"\$\{[^:{}]+:([^{}]+)\}", r"\1", text)

    def token(self, block: Block, attribute: str) -> str:
        """The canonical text of a reference to `block.attribute` (what `canonical` turns such a reference into)."""
        return self._token(Ref(block, attribute), 0)

    def same(self, stack: str, value: Any, block: Block, attribute: str) -> bool:
        """Whether `value` (read in `stack`) means `block.attribute`."""
        return self.canonical(stack, value) == self.token(block, attribute)

    def references_block(self, stack: str, value: Any, block: Block) -> bool:
        """Whether anything in `value` refers to `block` (any attribute)."""
        if isinstance(value, str):
            key = (stack, value)
            referenced = self._referenced.get(key)
            if referenced is None:
                referenced = self._referenced[key] = frozenset(ref.block for ref in self.refs(stack, value))
            return block in referenced
        return any(ref.block == block for ref in self.refs(stack, value))


# -- JSON documents inside strings -------------------------------------------------------------------------------
def json_document(value: Any) -> Any:
    """The JSON document held in a string (an IAM policy), or None when it is not one."""
    if not isinstance(value, str):
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return None


def node(document: Any, path: tuple[PathPart, ...]) -> Any:
    for part in path:
        document = document[part]
    return document


def remove(documents: Mapping[str, Any], location: Location) -> dict[str, Any]:
    """A deep copy of the stack documents without the node at `location` (list items are taken out, object keys
    deleted). Raises KeyError/IndexError when the location does not exist."""
    changed = copy.deepcopy(dict(documents))
    doc = changed[location.stack]
    if not location.inner:
        parent = node(doc, location.path[:-1])
        del parent[location.path[-1]]
        return changed
    holder = node(doc, location.path[:-1])
    inner_doc = json.loads(holder[location.path[-1]])
    parent = node(inner_doc, location.inner[:-1])
    del parent[location.inner[-1]]
    holder[location.path[-1]] = json.dumps(inner_doc, sort_keys=True, separators=(",", ":"))
    return changed
