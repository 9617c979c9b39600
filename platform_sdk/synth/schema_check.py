"""Check synthesized CDKTF stacks (`cdk.tf.json`) against the vendored provider schemas.

Why: the SDK emits raw resources without provider bindings, so a misspelt argument, a wrong type or a
missing required block would only surface at `terraform plan` against the real cloud.  The schemas in
cloud plug-ins' `schema_files` (`providers/<cloud>/schemas/*.json`) are extracted from the prebuilt CDKTF
provider packages by `tools/extract_schemas.py`; this module validates every resource, data source and
provider block of a stack against them.

Rules: unknown types and arguments are errors (types of providers we do not vendor are skipped only when
listed in `skip_prefixes`, by default the plug-ins' `unchecked_prefixes`, or `skip_data_sources`); values must
have the schema type, except that a whole Terraform expression string (`"${...}"`) is accepted anywhere;
required arguments and required nested blocks must be present; computed-only attributes must not be set.
Blocks may be given as an object or a list of objects, and `dynamic` blocks are validated against the block
they generate.
"""

from __future__ import annotations

import difflib
import functools
import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platform_sdk import providers

# Terraform/CDKTF meta-arguments and the cdktf metadata key: valid on every resource and data source.
META_ARGUMENTS = frozenset(
    {"depends_on", "count", "for_each", "provider", "lifecycle", "provisioner", "connection", "//"}
)
PROVIDER_META = frozenset({"//"})
NO_META: frozenset[str] = frozenset()
DEFAULT_SKIP_DATA_SOURCES: tuple[str, ...] = ("terraform_remote_state",)


@dataclass(frozen=True)
class SchemaError:
    """One violation, located precisely enough to find the emitting code: stack, address, attribute path."""

    stack: str
    address: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.address}.{self.path}" if self.path else self.address
        return f"{self.stack}: {where}: {self.message}"


class SchemaCheckFailed(Exception):
    """Raised by `assert_valid` so callers can fail synthesis with every error listed at once."""

    def __init__(self, errors: list[SchemaError]) -> None:
        super().__init__(format_errors(errors))
        self.errors = errors


@dataclass(frozen=True)
class Schemas:
    """All vendored provider schemas, indexed the way the checker looks them up."""

    resources: Mapping[str, Mapping[str, Any]]
    data_sources: Mapping[str, Mapping[str, Any]]
    providers: Mapping[str, Mapping[str, Any]]  # provider local name ("aws") -> provider_config schema
    versions: Mapping[str, str]  # provider local name -> Terraform provider version the schema came from


def schema_files() -> tuple[Path, ...]:
    """Every plug-in's vendored provider schemas."""
    files: list[Path] = []
    for plugin in providers.plugins().values():
        home = Path(sys.modules[type(plugin).__module__].__file__ or "").parent
        files += [home / name for name in plugin.schema_files]
    return tuple(files)


def default_skip_prefixes() -> tuple[str, ...]:
    """Terraform type prefixes the plug-ins emit without a vendored schema."""
    return tuple(p for plugin in providers.plugins().values() for p in plugin.unchecked_prefixes)


def load_schemas(schema_dir: Path | None = None) -> Schemas:
    """The schemas in `schema_dir/*.json`, or the plug-ins' schema files (each read once per process)."""
    return _load(tuple(sorted(schema_dir.glob("*.json"))) if schema_dir is not None else schema_files())


@functools.lru_cache(maxsize=4)
def _load(paths: tuple[Path, ...]) -> Schemas:
    resources: dict[str, Any] = {}
    data_sources: dict[str, Any] = {}
    provider_configs: dict[str, Any] = {}
    versions: dict[str, str] = {}
    for path in sorted(paths, key=lambda p: p.name):
        doc = json.loads(path.read_text())
        name = doc["provider"].get("name") or doc["provider"]["source"].rsplit("/", 1)[-1]
        provider_configs[name] = doc["provider_config"]
        versions[name] = doc["provider"]["version"]
        resources.update(doc["resources"])
        data_sources.update(doc["data_sources"])
    return Schemas(resources=resources, data_sources=data_sources, providers=provider_configs, versions=versions)


def is_expression(value: Any) -> bool:
    """A whole-value Terraform expression (`"${...}"`): its type is only known at plan time."""
    return isinstance(value, str) and value.startswith("${") and value.endswith("}")


def _type_problems(value: Any, type_: str, path: str) -> Iterator[tuple[str, str]]:
    """Yield (path, message) for every place `value` does not match the schema type string."""
    if value is None or type_ == "any" or is_expression(value):
        return
    if type_.startswith("list(") or type_.startswith("map("):
        outer, inner = type_.split("(", 1)
        inner = inner[:-1]
        if outer == "list":
            if not isinstance(value, list):
                yield path, f"expected {type_}, got {_describe(value)}"
                return
            for i, item in enumerate(value):
                yield from _type_problems(item, inner, f"{path}[{i}]")
        else:
            if not isinstance(value, dict):
                yield path, f"expected {type_}, got {_describe(value)}"
                return
            for key, item in value.items():
                yield from _type_problems(item, inner, f"{path}[{json.dumps(key)}]")
        return
    ok = {
        "string": isinstance(value, str),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
    }.get(type_, True)
    if not ok:
        yield path, f"expected {type_}, got {_describe(value)}"


def _describe(value: Any) -> str:
    """Short type-and-value description for messages."""
    kind = {bool: "bool", int: "number", float: "number", str: "string", list: "list", dict: "object"}.get(
        type(value), type(value).__name__
    )
    text = json.dumps(value)
    return f"{kind} {text if len(text) <= 40 else text[:37] + '...'}"


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


class _Checker:
    """Walks one stack document and collects errors."""

    def __init__(self, stack: str, schemas: Schemas, skip_prefixes: Iterable[str],
                 skip_data_sources: Iterable[str]) -> None:
        self.stack = stack
        self.schemas = schemas
        self.skip_prefixes = tuple(skip_prefixes)
        self.skip_data_sources = frozenset(skip_data_sources)
        self.errors: list[SchemaError] = []

    def error(self, address: str, path: str, message: str) -> None:
        self.errors.append(SchemaError(self.stack, address, path, message))

    def _skipped(self, tf_type: str) -> bool:
        return any(tf_type.startswith(p) for p in self.skip_prefixes)

    # ---- top level ---------------------------------------------------------------------------------
    def check(self, doc: Mapping[str, Any]) -> list[SchemaError]:
        self._check_instances(doc.get("resource", {}), "", self.schemas.resources, "resource type")
        self._check_instances(doc.get("data", {}), "data.", self.schemas.data_sources, "data source")
        self._check_providers(doc.get("provider", {}))
        return self.errors

    def _check_instances(self, section: Any, prefix: str, known: Mapping[str, Any], what: str) -> None:
        if not isinstance(section, dict):
            self.error(prefix.rstrip(".") or "resource", "", f"expected an object, got {_describe(section)}")
            return
        for tf_type, instances in section.items():
            schema = known.get(tf_type)
            if schema is None:
                if self._skipped(tf_type) or (prefix and tf_type in self.skip_data_sources):
                    continue
                self.error(f"{prefix}{tf_type}", "", f"unknown {what} {tf_type!r} (not in the vendored "
                           "schemas; add it to tools/extract_schemas.py, or to skip_prefixes if its provider "
                           "is not vendored)")
                continue
            if not isinstance(instances, dict):
                message = f"expected an object of instances, got {_describe(instances)}"
                self.error(f"{prefix}{tf_type}", "", message)
                continue
            for name, body in instances.items():
                self._check_body(f"{prefix}{tf_type}.{name}", "", body, schema, meta=META_ARGUMENTS)

    def _check_providers(self, section: Any) -> None:
        if not isinstance(section, dict):
            self.error("provider", "", f"expected an object, got {_describe(section)}")
            return
        for name, configs in section.items():
            schema = self.schemas.providers.get(name)
            if schema is None:
                if self._skipped(f"{name}_"):
                    continue
                self.error(f"provider.{name}", "", f"unknown provider {name!r} (not in the vendored schemas)")
                continue
            items = configs if isinstance(configs, list) else [configs]
            for i, config in enumerate(items):
                address = f"provider.{name}" + (f"[{i}]" if isinstance(configs, list) else "")
                self._check_body(address, "", config, schema, meta=PROVIDER_META)

    # ---- bodies ------------------------------------------------------------------------------------
    def _check_body(self, address: str, path: str, body: Any, schema: Mapping[str, Any], *,
                    meta: frozenset[str]) -> None:
        """Validate one resource body or one nested block instance against its schema."""
        if not isinstance(body, dict):
            if not is_expression(body):
                self.error(address, path, f"expected an object, got {_describe(body)}")
            return
        attributes: Mapping[str, Any] = schema.get("attributes", {})
        blocks: Mapping[str, Any] = schema.get("blocks", {})
        dynamic_blocks: set[str] = set()
        for key, value in body.items():
            if key in attributes:
                type_ = attributes[key]["type"]
                if type_ == "string" and isinstance(value, str):
                    continue  # most arguments: checked without a generator (a third of the check's time)
                for where, message in _type_problems(value, type_, _join(path, key)):
                    self.error(address, where, message)
                continue
            sub = _join(path, key)
            if key in blocks:
                self._check_block(address, sub, value, blocks[key])
            elif key == "dynamic":
                dynamic_blocks = self._check_dynamic(address, sub, value, blocks)
            elif key in meta:
                continue
            elif key in schema.get("computed", ()):
                self.error(address, sub, f"computed-only attribute {key!r} cannot be set")
            else:
                hint = difflib.get_close_matches(key, [*attributes, *blocks], n=1)
                suffix = f" (did you mean {hint[0]!r}?)" if hint else ""
                self.error(address, sub, f"unknown argument {key!r}{suffix}")
        for key, spec in attributes.items():
            if spec.get("required") and body.get(key) is None:
                self.error(address, _join(path, key), f"missing required argument {key!r}")
        for key, spec in blocks.items():
            if spec.get("required") and key not in dynamic_blocks and body.get(key) in (None, []):
                self.error(address, _join(path, key), f"missing required block {key!r}")

    def _check_block(self, address: str, path: str, value: Any, spec: Mapping[str, Any]) -> None:
        """A block may be one object or a list of objects (Terraform JSON accepts both)."""
        if value is None or is_expression(value):
            return
        if isinstance(value, dict):
            self._check_body(address, path, value, spec, meta=NO_META)
            return
        if not isinstance(value, list):
            self.error(address, path, f"expected a block (object or list of objects), got {_describe(value)}")
            return
        if spec.get("nesting") == "single" and len(value) > 1:
            self.error(address, path, f"block allows at most one instance, got {len(value)}")
        for i, item in enumerate(value):
            self._check_body(address, f"{path}[{i}]", item, spec, meta=NO_META)

    def _check_dynamic(self, address: str, path: str, value: Any, blocks: Mapping[str, Any]) -> set[str]:
        """`dynamic: {block: {for_each, iterator?, content}}`: content is checked like the block itself."""
        if not isinstance(value, dict):
            self.error(address, path, f"expected an object of dynamic blocks, got {_describe(value)}")
            return set()
        seen: set[str] = set()
        for name, dyn in value.items():
            sub = _join(path, name)
            if name not in blocks:
                self.error(address, sub, f"dynamic block for unknown block {name!r}")
                continue
            seen.add(name)
            if not isinstance(dyn, dict) or "for_each" not in dyn or "content" not in dyn:
                self.error(address, sub, "dynamic block needs 'for_each' and 'content'")
                continue
            for extra in set(dyn) - {"for_each", "iterator", "content", "labels"}:
                self.error(address, _join(sub, extra), f"unknown dynamic block argument {extra!r}")
            self._check_body(address, _join(sub, "content"), dyn["content"], blocks[name], meta=NO_META)
        return seen


def check_stack(
    stack_json: Mapping[str, Any],
    *,
    stack: str = "stack",
    skip_prefixes: Iterable[str] | None = None,
    skip_data_sources: Iterable[str] = DEFAULT_SKIP_DATA_SOURCES,
    schemas: Schemas | None = None,
) -> list[SchemaError]:
    """Validate one synthesized stack document (`cdk.tf.json` structure); returns every error found."""
    prefixes = default_skip_prefixes() if skip_prefixes is None else skip_prefixes
    checker = _Checker(stack, schemas or load_schemas(), prefixes, skip_data_sources)
    return checker.check(stack_json)


def check_file(path: str | Path, **kwargs: Any) -> list[SchemaError]:
    """Validate a `cdk.tf.json`; the stack name defaults to its directory (cdktf.out/stacks/<name>/)."""
    path = Path(path)
    kwargs.setdefault("stack", path.parent.name or path.name)
    return check_stack(json.loads(path.read_text()), **kwargs)


def check_outdir(outdir: str | Path, **kwargs: Any) -> list[SchemaError]:
    """Validate every stack under a cdktf output directory (`<outdir>/stacks/*/cdk.tf.json`).

    Types an escape hatch added without a vendored schema (`unchecked` in `platform.json`) are skipped in their stack,
    as synthesis announced.
    """
    errors: list[SchemaError] = []
    meta = Path(outdir) / "platform.json"
    stacks = json.loads(meta.read_text()).get("stacks", {}) if meta.is_file() else {}
    base = tuple(kwargs.pop("skip_prefixes", None) or default_skip_prefixes())
    for path in sorted(Path(outdir).glob("stacks/*/cdk.tf.json")):
        unchecked = tuple(stacks.get(path.parent.name, {}).get("unchecked") or ())
        errors.extend(check_file(path, skip_prefixes=base + unchecked, **kwargs))
    return errors


def assert_valid(stack_json: Mapping[str, Any], **kwargs: Any) -> None:
    """Raise `SchemaCheckFailed` listing every error, for callers that must not continue on a bad stack."""
    errors = check_stack(stack_json, **kwargs)
    if errors:
        raise SchemaCheckFailed(errors)


def format_errors(errors: list[SchemaError]) -> str:
    """Human-readable report, one error per line, in the order found."""
    if not errors:
        return "no schema errors"
    noun = "error" if len(errors) == 1 else "errors"
    return "\n".join([f"{len(errors)} schema {noun}:", *(f"  {e}" for e in errors)])
