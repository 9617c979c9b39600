"""Write docs/environment-reference.md from the models that validate environment files.

Every key an environment file may hold, with its type, default, unit, what it means and the error a wrong value
raises, taken from the validating code itself:
- the generic keys from `platform_sdk.envs.Environment` (and `Waiver`, `LocalState`);
- each cloud plug-in's `[clouds.<name>]` section (`CloudPlugin.config`), its `[state]` backends
  (`CloudPlugin.state_backends`), its `[sizes]` keys (`CloudPlugin.size_settings`) and its per-resource settings
  (`CloudPlugin.resource_settings`);
- the per-resource settings of each kind (`Kind.overridable`), described by the kind's docstring.

The "error" column is not written by hand: each is the message the validation gives for a sample bad value, so a
change of a message changes the reference. `tests/test_envdocs.py` fails when the committed file is stale.

Usage: `python tools/envdocs.py` (writes the file), `python tools/envdocs.py --check` (exit 1 when stale).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pydantic import BaseModel, ValidationError  # noqa: E402
from pydantic_core import PydanticUndefined  # noqa: E402

from platform_sdk import providers  # noqa: E402
from platform_sdk.envs import Alerts, Budget, Environment, LocalState, Waiver  # noqa: E402
from platform_sdk.errors import ModelError  # noqa: E402
from platform_sdk.model import KINDS, Bucket, Cdn, Database, Function, Queue, Resource  # noqa: E402
from platform_sdk.providers.base import Setting  # noqa: E402

OUTPUT = REPO / "docs" / "environment-reference.md"
SAMPLES: list[object] = ["Not Valid!", -1, 10**6, 12345, "text", True, [1], {"x": 1}]
"""Bad values tried in order; the first one a key refuses gives its documented error."""
UNITS = {r"\bMB\b": "MB", r"\bGiB\b": "GiB", r"\bseconds\b": "seconds", r"\bdays\b": "days", r"\bport\b": "TCP port"}


def cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


TOML_NAMES = {"bool": "boolean", "int": "integer", "str": "string", "float": "float", "date": "date",
              "Path": "path", "CloudConfig": "table", "StateBackend": "table", "Cors": "table (origins, methods, "
              "max_age_seconds)", "Any": "any", "Waiver": "table"}


def type_name(annotation: Any) -> str:
    """The TOML type of an annotation: `string`, `integer (optional)`, `table of string`, `one of 'a', 'b'`."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        names = list(dict.fromkeys(type_name(a) for a in args if a is not type(None)))
        return " or ".join(names) + (" (optional)" if type(None) in args else "")
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin is dict:
        return f"table of {type_name(args[1])}"
    if origin is list:
        return f"array of {type_name(args[0])}"
    name = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    return TOML_NAMES.get(name, name)


def models_in(annotation: Any) -> list[type[BaseModel]]:
    """The models an annotation admits (a table of its own), through unions and `Annotated` (a tagged union)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in models_in(arg)]


def field_type(kind: type[Resource], key: str) -> str:
    """The resolved annotation of a kind's setting (`Size` -> `one of 'small', ...`)."""
    owner = next(k for k in kind.__mro__ if key in k.__dict__.get("__annotations__", {}))
    hints = typing.get_type_hints(owner, localns={"Service": object})
    return type_name(hints[key])


def toml_value(value: object) -> str:
    """A default as it would be written in TOML (`false`, `"index.html"`), `absent` for None."""
    if value is None:
        return "absent"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict) and not value:
        return "{}"
    if isinstance(value, list) and not value:
        return "[]"
    return str(value)


def unit_of(text: str) -> str:
    return next((unit for pattern, unit in UNITS.items() if re.search(pattern, text)), "")


def pydantic_error(model: type[BaseModel], key: str) -> str:
    """The message validating `model` gives for the first sample value `key` refuses."""
    for sample in SAMPLES:
        try:
            model.model_validate({key: sample})
        except ValidationError as err:
            found = [e for e in err.errors() if tuple(e["loc"])[:1] == (key,)]
            if found:
                return f"{found[0]['msg'].removeprefix('Value error, ')} (got {sample!r})"
    return ""


def model_rows(model: type[BaseModel], skip: tuple[str, ...] = ()) -> list[str]:
    rows = ["| key | type | default | unit | meaning | error (for a sample bad value) |", "|---|---|---|---|---|---|"]
    for name, field in model.model_fields.items():
        if field.exclude or name in skip:
            continue
        if field.default_factory is not None:
            default = toml_value(field.default_factory())  # type: ignore[call-arg]
        elif field.default is PydanticUndefined:
            default = "required"
        else:
            default = toml_value(field.default) if not isinstance(field.default, BaseModel) else "local files"
        description = field.description or ""
        rows.append(f"| `{name}` | {cell(type_name(field.annotation))} | {cell(default)} | {unit_of(description)} "
                    f"| {cell(description)} | {cell(pydantic_error(model, name))} |")
    return rows


def setting_rows(settings: list[tuple[str, Setting]], scope: str) -> list[str]:
    rows = [f"| key | {scope} | type | default | unit | meaning | accepts | error (for a sample bad value) |",
            "|---|---|---|---|---|---|---|---|"]
    for owner, setting in settings:
        error = next((f"{p} (got {s!r})" for s in SAMPLES if (p := setting.problem(s))), "")
        meaning = setting.description + (f" Source: {setting.source}" if setting.source else "")
        rows.append(f"| `{setting.key}` | {owner} | {type_name(setting.type)} | {cell(setting.default)} | "
                    f"{setting.unit} | {cell(meaning)} | {cell(setting.describe())} | {cell(error)} |")
    return rows


def attribute_docs(kind: type[Resource]) -> dict[str, str]:
    """`name: text` paragraphs of the "Attributes:" sections of the kind and its specs, joined per attribute."""
    found: dict[str, str] = {}
    for klass in kind.__mro__:
        doc = klass.__dict__.get("__doc__") or ""
        section = doc.split("Attributes:", 1)[1] if "Attributes:" in doc else ""
        section = re.split(r"\n\s*\n\s*(?:Raises|Example)", section)[0]
        for match in re.finditer(r"(?m)^ {8}(\w+): (.*(?:\n {12}.*)*)", section):
            found.setdefault(match.group(1), " ".join(match.group(2).split()))
    return found


SAMPLE_OWNERS: dict[str, Any] = {}


def sample(kind: type[Resource]) -> Resource:
    """A valid resource of `kind` to re-declare with bad values."""
    if not SAMPLE_OWNERS:
        bucket = Bucket("sample")
        SAMPLE_OWNERS.update({"bucket": bucket, "database": Database("sample"),
                              "function": Function("sample", handler="app.handle"),
                              "cdn": Cdn("sample", origin=bucket), "queue": Queue("sample")})
    return SAMPLE_OWNERS[kind.kind]  # type: ignore[no-any-return]


def model_error(kind: type[Resource], key: str) -> str:
    resource = sample(kind)
    for value in SAMPLES:
        try:
            dataclasses.replace(resource, **{key: value})  # type: ignore[type-var]
        except ModelError as err:
            return f"{err.message} (got {value!r})"
    return ""


def kind_rows(kind: type[Resource]) -> list[str]:
    docs = attribute_docs(kind)
    fields = {f.name: f for f in dataclasses.fields(kind)}  # type: ignore[arg-type]
    rows = ["| key | type | default | unit | meaning | error (for a sample bad value) |", "|---|---|---|---|---|---|"]
    for key in kind.overridable:
        field = fields[key]
        default: object = field.default
        if field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        text = docs.get(key, "")
        rows.append(f"| `{key}` | {cell(field_type(kind, key))} | {cell(toml_value(default))} | {unit_of(text)} | "
                    f"{cell(text)} | {cell(model_error(kind, key))} |")
    return rows


def render() -> str:
    plugins = providers.plugins()
    out = [
        "# Environment file reference",
        "",
        "<!-- Generated by tools/envdocs.py from the validating models; do not edit by hand. "
        "tests/test_envdocs.py fails when this file is stale: run `python tools/envdocs.py`. -->",
        "",
        "Every key an environment file (`envs/NAME.toml`) may hold. Anything else is refused: the message names the "
        "file, the key (with the closest valid name) and the value, `platform` exits with code 2 and writes nothing. "
        "The errors below are the messages the validation gives for a sample bad value.",
        "",
        "## Top-level keys",
        "",
        *model_rows(Environment, skip=("name",)),
        "",
        "The environment's name is its file name (`envs/qa.toml` is `qa`): 1-16 lowercase letters, digits and '-'.",
        "",
    ]
    out += ["## Cloud sections: `[clouds.<name>]`", ""]
    for name, plugin in plugins.items():
        required = "required when the cloud is used" if plugin.section_required else "optional"
        out += [f"### `[clouds.{name}]` ({required})", "", (plugin.config.__doc__ or "").strip(), "",
                *model_rows(plugin.config), ""]
        for key, field in plugin.config.model_fields.items():  # tables of their own, e.g. [clouds.aws.network]
            nested = models_in(field.annotation)
            if nested:
                out += [f"#### `[clouds.{name}.{key}]` (optional)", "", inspect.cleandoc(nested[0].__doc__ or ""), "",
                        *model_rows(nested[0]), ""]
    out += ["## State: `[state]`", "", "`backend` picks the section's keys. Default: `backend = \"local\"`.", "",
            "### `backend = \"local\"`", "", *model_rows(LocalState), ""]
    for plugin in plugins.values():
        for backend, model in plugin.state_backends.items():
            out += [f"### `backend = \"{backend}\"` ({plugin.name})", "", (model.__doc__ or "").strip(), "",
                    *model_rows(model), ""]
    out += ["## Guardrail waivers: `[[waivers]]`", "",
            "Each waiver must name a rule of the environment's rule set and something of the estate (globs allowed).",
            "", *model_rows(Waiver), ""]
    for title, model in (("Alert channel: `[alerts]`", Alerts), ("Budget: `[budget]`", Budget)):
        out += [f"## {title}", "", " ".join((model.__doc__ or "").split()), "", *model_rows(model), ""]
    sizes = [(f"`{kind.kind}` ({plugin.name})", s) for kind in KINDS for plugin in plugins.values()
             for s in plugin.size_settings.get(kind.kind, ())]
    out += ["## Size tiers: `[sizes.<kind>.<tier>]`", "",
            "What a size tier (`Database(size=\"small\")`) means on each cloud; tiers: small, medium, large.", "",
            *setting_rows(sizes, "kind (cloud)"), ""]
    out += ["## Per-resource values: `[overrides.\"service.resource\"]`", "",
            "An environment's own value for a setting of one resource, validated exactly as the declaration in code "
            "is (the error column shows the model's message). `environment` merges variable by variable "
            "(`[overrides.\"svc.api\".environment] LOG_LEVEL = \"debug\"`); `cors` is a table with `origins`, "
            "`methods` and `max_age_seconds`; `alarms` merges threshold by threshold "
            "(`[overrides.\"svc.api\".alarms] errors = 5`; keys `enabled`, `errors`, `throttles`, `p95_duration` in "
            "milliseconds, `error_rate_5xx` in percent, `period` in seconds, 0 turns one alarm off: see "
            "platform_sdk.model.alarms and docs/observability.md). See docs/stages.md.", ""]
    for kind in KINDS:
        out += [f"### {kind.__name__} (`{kind.kind}`)", "", *kind_rows(kind), ""]
    extra = [(f"`{kind.kind}` on {plugin.name}", s) for kind in KINDS for plugin in plugins.values()
             for s in plugin.resource_settings.get(kind.kind, ())]
    out += ["### Settings a cloud adds", "",
            "Valid on a resource placed on that cloud (or compiled by it as a stand-in).", "",
            *setting_rows(extra, "kind (cloud)"), ""]
    return "\n".join(out).rstrip() + "\n"


def main() -> int:
    text = render()
    if "--check" in sys.argv[1:]:
        stale = not OUTPUT.is_file() or OUTPUT.read_text() != text
        if stale:
            print(f"{OUTPUT.relative_to(REPO)} is stale: run python tools/envdocs.py", file=sys.stderr)
        return 1 if stale else 0
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
