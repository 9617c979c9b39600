"""Strict environment files (issue 17): every key known, typed and in range, or one message naming the file, the
key and the value, exit 2 and nothing written.

The fuzz test generates its cases from the validating models themselves (the generic Environment, every plug-in's
`[clouds.<name>]` section, every `[state]` backend, a waiver), so a key added later is fuzzed too.
"""

from __future__ import annotations

import datetime
import json
import re
import types
import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from platform_sdk import providers
from platform_sdk.cli import app
from platform_sdk.envs import Alerts, Budget, Environment, LocalState, Waiver, load_environment
from platform_sdk.errors import EnvironmentError_
from platform_sdk.providers.aws.regions import AWS_REGIONS

runner = CliRunner()

BASE = 'name_prefix = "acme"\ndefault_cloud = "aws"\n'
SECTIONS = {
    "aws": 'region = "eu-west-1"\n',
    "gcp": 'project = "acme-dev-123"\nregion = "europe-west1"\n',
    "local": "",
}
STATE = {
    "local": 'backend = "local"\n',
    "s3": 'backend = "s3"\nbucket = "acme-tfstate"\nlock_table = "acme-locks"\nregion = "eu-west-1"\n',
    "gcs": 'backend = "gcs"\nbucket = "acme-tfstate"\n',
}
WAIVER = 'rule = "function.limits"\nresource = "web.api"\nreason = "a long enough reason"\nexpires = 2099-01-01\n'
TABLES = {  # the generic sub-tables, fuzzed through their own models: (model, valid body)
    "alerts": (Alerts, 'email = ["oncall@example.com"]\nwebhook = ["https://hooks.example.com/a"]\n'),
    "budget": (Budget, 'monthly = 500\ncurrency = "USD"\nalerts_at = [50, 80, 100]\n'),
}


def env_text(top: str = "", clouds: dict[str, str] | None = None, state: str = STATE["local"],
             waiver: str | None = None, tables: dict[str, str] | None = None) -> str:
    text = BASE + top
    for name, body in {"aws": SECTIONS["aws"], **(clouds or {})}.items():
        text += f"\n[clouds.{name}]\n{body}"
    text += f"\n[state]\n{state}"
    for name, body in (tables or {}).items():
        text += f"\n[{name}]\n{body}"
    if waiver is not None:
        text += f"\n[[waivers]]\n{waiver}"
    return text


def refused(path: Path, text: str) -> EnvironmentError_:
    path.write_text(text)
    with pytest.raises(EnvironmentError_) as err:
        load_environment(path)
    assert str(path) in str(err.value)
    return err.value


def test_the_base_files_of_the_fuzz_load(tmp_path: Path) -> None:
    path = tmp_path / "qa.toml"
    for backend, state in STATE.items():
        path.write_text(env_text(clouds=SECTIONS, state=state, waiver=WAIVER,
                                 tables={name: body for name, (_, body) in TABLES.items()}))
        assert load_environment(path).state.backend == backend


# -- fuzz: every key of every validating model, with values of the wrong type --------------------------------------

def _types(annotation: Any) -> set[type]:
    """The Python types a field's annotation accepts (through Annotated, unions and generics)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _types(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return set().union(*(_types(a) for a in typing.get_args(annotation)))
    if origin is typing.Literal:
        return {type(a) for a in typing.get_args(annotation)}
    if origin is not None:
        return {origin}
    return {annotation} if isinstance(annotation, type) else {object}


CANDIDATES: list[object] = [12345, "text", True, 1.5, [1, 2], {"x": 1}, datetime.date(2030, 1, 1)]


def nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model of a field holding a table of its own (`[clouds.aws.network]`), None for a plain value."""
    found = [t for t in _types(annotation) if issubclass(t, BaseModel)]
    return found[0] if found else None


def wrong_values(annotation: Any) -> list[object]:
    accepted = _types(annotation)
    if object in accepted:
        return []
    if nested_model(annotation) is not None:
        accepted = accepted | {dict}  # a table; its own keys are fuzzed through the nested model
    wrong = []
    for value in CANDIDATES:
        kind = type(value)
        fits = kind in accepted or (kind is bool and bool in accepted) or (kind is int and int in accepted
                                                                           and kind is not bool)
        if kind is bool and bool not in accepted:
            fits = False
        if not fits:
            wrong.append(value)
    return wrong


def toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    return str(value)


def fuzz_cases() -> list[tuple[str, str, str, object]]:
    """(model, file text, expected key, value) for every field of every environment-file model."""
    cases: list[tuple[str, str, str, object]] = []

    def fields(model: type[BaseModel]) -> list[tuple[str, Any]]:
        return [(name, f.annotation) for name, f in model.model_fields.items() if not f.exclude]

    for name, annotation in fields(Environment):
        if name in ("clouds", "state", "waivers", "name", *TABLES):
            continue  # sections fuzzed through their own models below; `name` comes from the file name
        for value in wrong_values(annotation):
            text = env_text().replace(BASE, "", 1)
            top = {"name_prefix": 'name_prefix = "acme"\n', "default_cloud": 'default_cloud = "aws"\n'}
            lines = "".join(v for k, v in top.items() if k != name)
            cases.append(("Environment", f"{name} = {toml(value)}\n{lines}{text}", name, value))
    for cloud, plugin in providers.plugins().items():
        for name, annotation in fields(plugin.config):
            for value in wrong_values(annotation):
                body = re.sub(rf"(?m)^{name} = .*\n", "", SECTIONS[cloud]) + f"{name} = {toml(value)}\n"
                cases.append((plugin.config.__name__, env_text(clouds={cloud: body}), f"clouds.{cloud}.{name}",
                              value))
            nested = nested_model(annotation)
            for inner, inner_annotation in fields(nested) if nested is not None else []:
                for value in wrong_values(inner_annotation):
                    body = SECTIONS[cloud] + f"{name} = {{ {inner} = {toml(value)} }}\n"
                    cases.append((nested.__name__, env_text(clouds={cloud: body}), f"clouds.{cloud}.{name}.{inner}",
                                  value))
    backends: dict[str, type[BaseModel]] = {"local": LocalState}
    for plugin in providers.plugins().values():
        backends.update(plugin.state_backends)
    for backend, model in backends.items():
        for name, annotation in fields(model):
            if name == "backend":
                continue
            for value in wrong_values(annotation):
                body = re.sub(rf"(?m)^{name} = .*\n", "", STATE[backend]) + f"{name} = {toml(value)}\n"
                cases.append((model.__name__, env_text(clouds=SECTIONS, state=body), f"state.{name}", value))
    for name, annotation in fields(Waiver):
        for value in wrong_values(annotation):
            body = re.sub(rf"(?m)^{name} = .*\n", "", WAIVER) + f"{name} = {toml(value)}\n"
            cases.append(("Waiver", env_text(waiver=body), f"waivers.0.{name}", value))
    for table, (model, valid) in TABLES.items():
        for name, annotation in fields(model):
            for value in wrong_values(annotation):
                body = re.sub(rf"(?m)^{name} = .*\n", "", valid) + f"{name} = {toml(value)}\n"
                cases.append((model.__name__, env_text(tables={table: body}), f"{table}.{name}", value))
            if typing.get_origin(annotation) is list:  # a list of the wrong item type
                body = re.sub(rf"(?m)^{name} = .*\n", "", valid) + f"{name} = [true]\n"
                cases.append((model.__name__, env_text(tables={table: body}), f"{table}.{name}.0", [True]))
    return cases


CASES = fuzz_cases()


def test_the_fuzz_covers_every_key_of_every_model() -> None:
    covered = {(model, key.rsplit(".", 1)[-1]) for model, _, key, _ in CASES}
    models: list[type[BaseModel]] = [Environment, LocalState, Waiver, *(model for model, _ in TABLES.values()),
                                     *(p.config for p in providers.plugins().values()),
                                     *(m for p in providers.plugins().values() for m in p.state_backends.values())]
    models += [nested for p in providers.plugins().values() for f in p.config.model_fields.values()
               if (nested := nested_model(f.annotation)) is not None]
    skipped = {"clouds", "state", "waivers", "name", "backend", *TABLES}
    for model in models:
        for name, field in model.model_fields.items():
            if not field.exclude and name not in skipped:
                assert (model.__name__, name) in covered, f"{model.__name__}.{name} is not fuzzed"


@pytest.mark.parametrize(("model", "text", "key", "value"), CASES,
                         ids=[f"{m}.{k}={v!r}" for m, _, k, v in CASES])
def test_a_wrong_type_names_the_file_key_and_value(tmp_path: Path, model: str, text: str, key: str,
                                                   value: object) -> None:
    err = refused(tmp_path / "qa.toml", text)
    assert err.key == key, str(err)


# -- the faults of issue 17 -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "key", "needle"), [
    (env_text().replace(BASE, 'default_cloud = "aws"\n'), "name_prefix", "name_prefix is required"),
    (env_text().replace('region = "eu-west-1"\n', "", 1), "clouds.aws", "region is required"),
    (env_text().replace('region = "eu-west-1"', 'region = "eu-west-9"', 1), "clouds.aws.region",
     "unknown AWS Region (did you mean 'eu-west-"),
    (env_text(clouds={"gcp": 'project = "acme-dev-123"\nregion = "europe-wst1"\n'}), "clouds.gcp.region",
     "did you mean 'europe-west1'?"),
    (env_text(clouds={"gcp": 'project = "acme-dev-123"\n'}), "clouds.gcp", "region is required"),
    (env_text(state=STATE["s3"].replace('region = "eu-west-1"\n', "")), "state.region", "required"),
    (env_text(state=STATE["s3"].replace("eu-west-1", "eu-west-9")), "state.region", "unknown AWS Region"),
    (env_text(clouds={"local": "gateway_port = 70000\n"}), "clouds.local.gateway_port", "less than or equal"),
    (env_text(clouds={"local": "gateway_port = 0\n"}), "clouds.local.gateway_port", "greater than or equal"),
    (env_text(clouds={"aws": 'regon = "eu-west-1"\n'}), "clouds.aws.regon", "did you mean 'region'?"),
    (env_text(top="protcted = true\n"), "protcted", "did you mean 'protected'?"),
    (env_text(state=STATE["s3"] + 'lock_tabel = "x"\n'), "state.lock_tabel", "did you mean 'lock_table'?"),
    (env_text(state='backend = "s4"\n'), "state.backend", "did you mean 's3'?"),
    (env_text() + '\n[sizes.database.small]\naws_instance_clas = "db.t4g.medium"\n',
     "sizes.database.small.aws_instance_clas", "did you mean 'aws_instance_class'?"),
    (env_text() + '\n[sizes.database.smal]\naws_instance_class = "db.t4g.medium"\n', "sizes.database.smal",
     "did you mean 'small'?"),
    (env_text() + '\n[sizes.databse.small]\naws_instance_class = "db.t4g.medium"\n', "sizes.databse",
     "did you mean 'database'?"),
    (env_text() + '\n[sizes.database.small]\naws_instance_class = "t4g.medium"\n',
     "sizes.database.small.aws_instance_class", "must be an RDS instance class like db.t4g.micro"),
    (env_text() + '\n[overrides.web]\nmemory = 512\n', 'overrides."web"', "'service.resource'"),
    # a top-level key written after a [table] header belongs to that table: named there, not "missing" at the top
    ("[alerts]\nemail = [\"a@example.com\"]\n" + env_text().replace(BASE, 'name_prefix = "acme"\n'
                                                                 'default_cloud = "aws"\n'),
     "alerts.name_prefix", "`name_prefix` is a top-level key, but TOML reads every key after a [table] header"),
    (env_text(clouds={"local": "gateway_port = 8790\nprotected = true\n"}), "clouds.local.protected",
     "unknown key in [clouds.local]: `protected` is a top-level key"),
    (env_text(state=STATE["s3"] + "protected = true\n"), "state.protected",
     "unknown key in [state]: `protected` is a top-level key"),
])
def test_each_fault_is_one_message(tmp_path: Path, text: str, key: str, needle: str) -> None:
    err = refused(tmp_path / "prod.toml", text)
    assert err.key == key and needle in str(err), str(err)


def test_the_aws_region_list_holds_every_region_botocore_knows() -> None:
    botocore = pytest.importorskip("botocore.loaders")
    endpoints = botocore.Loader().load_data("endpoints")
    known = {region for partition in endpoints["partitions"] if partition["partition"] in ("aws", "aws-cn",
                                                                                           "aws-us-gov")
             for region in partition["regions"]}
    assert known <= set(AWS_REGIONS), sorted(known - set(AWS_REGIONS))


# -- through the CLI: exit 2, nothing written --------------------------------------------------------------------

def synth(estate: Path, env: str) -> tuple[int, str]:
    result = runner.invoke(app, ["synth", "--env", env, "--project", str(estate)])
    return result.exit_code, re.sub(r"\s+", " ", result.output)


@pytest.mark.parametrize(("env", "old", "new", "needles"), [
    ("prod", 'name_prefix = "acme"', "", ("prod.toml", "name_prefix is required")),
    ("prod", 'account = "333333333333"\nregion = "eu-west-1"', 'account = "333333333333"',
     ("prod.toml", "clouds.aws", "region is required")),
    ("dev", 'region = "eu-west-1"\n\n[clouds.gcp]', 'region = "eu-west-9"\n\n[clouds.gcp]',
     ("dev.toml", "clouds.aws.region", "eu-west-9", "did you mean")),
    ("local", "gateway_port = 8790", "gateway_port = 70000", ("local.toml", "clouds.local.gateway_port", "70000")),
    ("prod", "aws_instance_class", "aws_instance_clas", ("prod.toml", "sizes.database.small.aws_instance_clas",
                                                         "did you mean 'aws_instance_class'?")),
    # checked against the estate after the file loaded: the line is found from the key all the same
    ("local", '"web" = "gcp"', '"web" = "gcp"\n"nosuch" = "aws"', ("local.toml:20: placement.nosuch",
                                                                 "placement names no service")),
    ("local", "deletion_protection = false", 'deletion_protection = "nah"',
     ('local.toml:38: overrides."auth.users".deletion_protection', "must be True or False")),
])
def test_the_cli_refuses_with_exit_2_and_writes_nothing(estate: Path, env: str, old: str, new: str,
                                                        needles: tuple[str, ...]) -> None:
    path = estate / "envs" / f"{env}.toml"
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new, 1))
    code, out = synth(estate, env)
    assert code == 2, out
    for needle in needles:
        assert needle in out, out
    assert not (estate / "cdktf.out").exists()


@pytest.mark.parametrize(("rule", "resource", "key", "needle"), [
    ("function.limit", "web.api", "waivers.0.rule", "did you mean 'function.limits'?"),
    ("function.limits", "web.apii", "waivers.0.resource", "did you mean 'web.api'?"),
    ("function.limits", "shop.*", "waivers.0.resource", "names nothing of the estate"),
    ("tags.required", "local-wbe-gcp/*", "waivers.0.resource", "did you mean 'local-web-gcp'?"),
])
def test_waivers_that_match_no_rule_or_nothing_of_the_estate_are_refused(estate: Path, rule: str, resource: str,
                                                                         key: str, needle: str) -> None:
    path = estate / "envs" / "local.toml"
    path.write_text(path.read_text() + f'\n[[waivers]]\nrule = "{rule}"\nresource = "{resource}"\n'
                    'reason = "kept while the migration runs"\nexpires = 2099-01-01\n')
    code, out = synth(estate, "local")
    assert code == 2 and "local.toml" in out and key in out and needle in out, out
    assert not (estate / "cdktf.out").exists()


def test_waivers_by_glob_alias_and_stack_address_are_accepted(estate: Path) -> None:
    path = estate / "envs" / "local.toml"
    for rule, resource in (("function.*", "thumbnails.*"), ("tags.required", "local-web-gcp/*"),
                           ("region.allowed", "clouds.aws")):
        path.write_text(path.read_text() + f'\n[[waivers]]\nrule = "{rule}"\nresource = "{resource}"\n'
                        'reason = "kept while the migration runs"\nexpires = 2099-01-01\n')
    code, out = synth(estate, "local")
    assert code == 0, out


def test_every_size_key_a_plugin_reads_refuses_a_wrong_type(tmp_path: Path) -> None:
    """Generated from the plug-ins' `size_settings`."""
    cases = 0
    for plugin in providers.plugins().values():
        for kind, settings in plugin.size_settings.items():
            for setting in settings:
                for value in wrong_values(setting.type):
                    err = refused(tmp_path / "prod.toml",
                                  env_text() + f"\n[sizes.{kind}.small]\n{setting.key} = {toml(value)}\n")
                    assert err.key == f"sizes.{kind}.small.{setting.key}", str(err)
                    cases += 1
    assert cases >= 4
