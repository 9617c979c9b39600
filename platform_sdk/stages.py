"""New stages: an environment file derived from another one (`platform env new qa --from dev [--cloud aws]`).

A stage is an environment file. A new one copies its source's `name_prefix` (every physical name is
`<name_prefix>-<stage>-<service>-<resource>`, so the stage's name keeps two stages' names apart), placement, sizes,
values (`[overrides]`), alerts, budget and waivers, and its clouds' sections, and gets what must not be shared: its
own state backend names (`<name_prefix>-<stage>-tfstate`: state buckets share the global bucket namespace). Custom
domains are not copied (a CDN alias is global: two stages claiming one fail on the second apply): the new stage has
none until it names its own. What exists once per account, project or network and the source's base stack builds
(a DNS zone, a NAT gateway, a VPC's S3 gateway endpoint) is referenced instead of built a second time, or left out
when it cannot be referenced yet; what the new stage must be given (a GCP billing account for its budget) is left
out too. Each cloud's plug-in decides for its own section (`CloudPlugin.stage_settings`); everything changed or left
out is noted at the top of the new file and printed. `--cloud` puts the whole stage on one cloud, turning a local
stand-in into the real cloud (which then needs a region: there is no default). The result is validated like any
environment file, and checked against the project's other environments for objects both would build
(platform_sdk.synth.environments), before it is written; `platform bootstrap --env NAME` then creates its state
backend.
"""

from __future__ import annotations

import re
import secrets
import shutil
import string
import tempfile
import textwrap
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import ValidationError

from platform_sdk import providers
from platform_sdk.envs import (
    NAME_PREFIX_PATTERN,
    Environment,
    LocalState,
    environment_path,
    list_environments,
    load_environment,
)
from platform_sdk.errors import EnvironmentError_, PlatformError, did_you_mean
from platform_sdk.loader import load_services
from platform_sdk.model import Cdn, Service
from platform_sdk.providers.base import StageNote
from platform_sdk.synth.environments import check_environments
from platform_sdk.synth.placement import resolve_placements

SUFFIX_LENGTH = 4
"""Random characters after the project's name in a derived prefix: 36**4 = 1.7 million prefixes per project name."""


def derive_name_prefix(project_dir: Path) -> str:
    """`<project directory name>-<4 random letters or digits>`, as a valid `name_prefix` (at most 20 characters).

    `/home/ada/Shop Front` -> `shop-front-k3x9` (`platform init`). The random part keeps two projects with the same
    directory name apart in the global bucket namespaces; the stages of one project share it.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", project_dir.resolve().name.lower()).strip("-")
    if not slug or not slug[0].isalpha():
        slug = ("p" + slug)[:15]
    slug = slug[:15].rstrip("-")
    suffix = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(SUFFIX_LENGTH))
    return f"{slug}-{suffix}"


def check_name_prefix(value: str, key: str = "--name-prefix") -> str:
    """`value` if it is a valid `name_prefix`, else an error naming `key`."""
    if not re.match(NAME_PREFIX_PATTERN, value):
        raise PlatformError("a name prefix is 1-20 lowercase letters, digits and '-', starting with a letter",
                            key=key, value=value)
    return value


@dataclass
class NewStage:
    """What `new_stage` wrote: the file, the environment, and where its values came from."""

    path: Path
    env: Environment
    source: str
    name_prefix_given: bool
    """True: from `--name-prefix`; False: the source's."""
    notes: list[StageNote] = field(default_factory=list)
    """Settings of the source changed (`now` set) or left out (`now` None), with why."""


def new_stage(envs_dir: Path, name: str, source: str, *, cloud: str | None = None, region: str | None = None,
              name_prefix: str | None = None, domains: Mapping[str, str] | None = None) -> NewStage:
    """Write `envs/<name>.toml` from `envs/<source>.toml` (see the module docstring); returns what was written.
    `domains`: `"<service>.<cdn>"` -> the stage's own domain of that CDN (`[overrides."<address>"] domain`), which
    a protected stage needs for a CDN on a cloud that serves plain HTTP without one.

    Raises:
        EnvironmentError_: the stage exists, its name is invalid, the source does not exist or is invalid, the
            cloud is unknown, `--region` is missing where the stage needs one or given without `--cloud`, the
            result does not validate, or it would build what another environment builds or serve a domain another
            environment serves. Nothing is written then.
        PlatformError: the project's services do not load (the plug-ins' decisions depend on them), or placement
            refuses the stage (a protected stage's CDN without a domain: the hint names `--domain`).
    """
    path = environment_path(envs_dir, name)
    if path.exists():
        raise EnvironmentError_("this environment exists already: edit it, or choose another name", file=path,
                                key="NAME", value=name)
    if not re.match(r"^[a-z][a-z0-9-]{0,15}$", name):
        raise EnvironmentError_("an environment name is 1-16 lowercase letters, digits and '-', starting with a "
                                "letter", file=path, key="NAME", value=name)
    source_path = environment_path(envs_dir, source)
    if not source_path.is_file():
        known = list_environments(envs_dir)
        raise EnvironmentError_(f"no such environment{did_you_mean(source, known)} (known: "
                                f"{', '.join(known) or 'none'})", file=source_path, key="--from", value=source)
    if region is not None and cloud is None:
        raise PlatformError("--region sets the region of the cloud named by --cloud: give both", key="--region",
                            value=region)
    source_env = load_environment(source_path)  # the source must be valid itself
    if name_prefix is not None:
        check_name_prefix(name_prefix)
    services_dir = envs_dir.parent / "services"
    services = load_services(services_dir) if services_dir.is_dir() else []
    data = tomllib.loads(source_path.read_text())
    data.pop("name", None)
    data["name_prefix"] = name_prefix or source_env.name_prefix
    missing = sorted(address for address, values in (data.get("overrides") or {}).items()
                     if isinstance(values, dict) and "domain" in values and address not in (domains or {}))
    notes = _drop_domains(data, name, domains or {})
    for address, domain in (domains or {}).items():
        data.setdefault("overrides", {}).setdefault(address, {})["domain"] = domain
    if cloud is not None:
        _onto(data, cloud, region, path, f"{data['name_prefix']}-{name}")
    for plugin in providers.plugins().values():
        notes += plugin.stage_settings(name, data, source_env, services)
    _rename_state(data, f"{data['name_prefix']}-{name}")
    text = f"# Stage {name}: made from {source} by `platform env new`; edit freely.\n" + _comments(source, notes) + \
        tomli_w.dumps(data)
    with tempfile.TemporaryDirectory() as scratch:
        for sibling in envs_dir.glob("*.toml"):  # what the stage may refer to (`rehearses`)
            shutil.copyfile(sibling, Path(scratch) / sibling.name)
        trial = Path(scratch) / path.name
        trial.write_text(text)
        try:
            env = load_environment(trial)
        except EnvironmentError_ as err:
            err.file = path
            raise
    env.file = path
    _verify(envs_dir, env, services, source, missing)
    path.write_text(text)
    return NewStage(path, env, source, name_prefix is not None, notes)


def _verify(envs_dir: Path, env: Environment, services: list[Service], source: str, missing: list[str]) -> None:
    """What synthesis would refuse of the new stage `env` beyond its file: what another environment of `envs_dir`
    builds too (platform_sdk.synth.environments) or serves (`_refuse_served_domains`), and what placement refuses
    (a protected stage's CDN without a domain, ...). `missing`: the CDNs whose domain was left out and not given
    (`--domain`), named in the hint of a refusal.

    Raises PlatformError: the first refusal, naming the stage's file."""
    check_environments(envs_dir, env, services)  # the stage's file is not there yet: the others are compared
    _refuse_served_domains(envs_dir, env, services)
    try:
        resolve_placements(env, services, providers.compilers_for(env))  # applies the overrides to `services`
    except PlatformError as err:
        if missing:
            err.hint = (f"nothing was written: {env.name} has none of {source}'s domains; give it its own with "
                        + " ".join(f"--domain {address}=<name>" for address in missing)
                        + (f"; or {err.hint}" if err.hint else ""))
        raise


def _refuse_served_domains(envs_dir: Path, env: Environment, services: list[Service]) -> None:
    """Refuse stage `env` when one of its CDNs would serve a domain another environment of `envs_dir` serves (its
    own `[overrides]` or the code's `domain`; a CDN on the local cloud, which serves on 127.0.0.1 whatever the
    domain, claims none): a domain's certificate and alias belong to one CDN, and the cloud refuses the second at
    apply. The code's domain is usually production's, which a stage without an override of its own would claim.

    Raises EnvironmentError_ naming `env`'s file and `overrides."<cdn>".domain`, with the `--domain` to give."""
    cdns = [cdn for service in services for cdn in service.of(Cdn)]

    def served(stage: Environment) -> dict[str, str]:
        found = {}
        for cdn in cdns:
            domain = stage.override(cdn.address, "domain", cdn.domain)
            target = stage.target_of(stage.cloud_of(cdn.service.name if cdn.service else "", cdn.name))
            if isinstance(domain, str) and domain and not providers.plugin(target).hosts_stand_ins:
                found[cdn.address] = domain.lower().rstrip(".")
        return found

    mine = served(env)
    for other_name in list_environments(envs_dir) if mine else []:
        try:
            other = load_environment(environment_path(envs_dir, other_name))
        except PlatformError:
            continue  # its own synthesis says why; a broken draft is not compared (synth.environments)
        theirs = set(served(other).values())
        for address, domain in mine.items():
            if domain in theirs:
                raise EnvironmentError_(
                    f"stage {env.name} would serve {domain} on CDN {address}, and so does environment {other.name} "
                    f"({other.file}): a domain is served by one CDN (its certificate and alias; the cloud refuses "
                    "the second at apply)", file=env.file, key=f'overrides."{address}".domain', value=domain,
                    hint=f"nothing was written: give {env.name} its own with --domain {address}=<name>")


def describe(note: StageNote) -> str:
    """`[clouds.aws] dns_zone = { create = "dev.example.com" }`: where a note's setting is, with its value (the
    stage's when it changed, else the source's)."""
    value = note.was if note.now is None else note.now
    if not note.table and isinstance(value, dict):
        return f"[{note.key}] " + ", ".join(f"{key} = {toml_value(item)}" for key, item in value.items())
    return (f"[{note.table}] " if note.table else "") + f"{note.key} = {toml_value(value)}"


def toml_value(value: Any) -> str:
    """`value` as a TOML inline value (`"eu-west-1"`, `["s3"]`, `{ create = "dev.example.com" }`)."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{key} = {toml_value(item)}" for key, item in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return tomli_w.dumps({"v": value}).removeprefix("v = ").strip()


def _comments(source: str, notes: list[StageNote]) -> str:
    """The notes as comments at the top of the new file: what was left out (to add back by hand), what changed."""
    lines = []
    for title, chosen in ((f"Not copied from {source}:", [n for n in notes if n.now is None]),
                          (f"Changed from {source}:", [n for n in notes if n.now is not None])):
        if chosen:
            lines.append(f"# {title}")
        for note in chosen:
            was = "" if note.now is None else f"was {toml_value(note.was)}: "
            lines.append(f"#   {describe(note)}")
            lines += textwrap.wrap(was + note.reason, 116, initial_indent="#     ", subsequent_indent="#     ",
                                   break_long_words=False, break_on_hyphens=False)
    return "".join(line + "\n" for line in lines) + ("\n" if lines else "")


def _drop_domains(data: dict[str, Any], name: str, given: Mapping[str, str]) -> list[StageNote]:
    """Remove the source's custom domains from its `[overrides]` (an override left empty goes too); `given`: the
    stage's own, by address (`--domain`)."""
    dropped = []
    overrides = data.get("overrides") or {}
    for address in sorted(overrides):
        values = overrides[address]
        if isinstance(values, dict) and "domain" in values:
            own = f"{name}'s is {given[address]}" if address in given else f"give {name} its own"
            dropped.append(StageNote(f'overrides."{address}"', "domain", values.pop("domain"),
                                     f"a domain belongs to one stage: {own}"))
            if not values:
                del overrides[address]
    if "overrides" in data and not data["overrides"]:
        del data["overrides"]
    return dropped


def _onto(data: dict[str, Any], cloud: str, region: str | None, path: Path, stem: str) -> None:
    """Every workload of the stage on `cloud`, compiled by that cloud itself (not a stand-in)."""
    if cloud not in providers.names():
        raise EnvironmentError_(f"unknown cloud{did_you_mean(cloud, providers.names())} (known: "
                                f"{', '.join(providers.names())})", file=path, key="--cloud", value=cloud)
    sections = data.get("clouds") or {}
    section = {k: v for k, v in dict(sections.get(cloud) or {}).items() if k != "stand_in"}
    if region is not None:
        section["region"] = region
    elif "region" in providers.plugin(cloud).config.model_fields and "region" not in section:
        raise EnvironmentError_(f"the stage needs a region for {cloud} (there is no default): add --region",
                                file=path, key="--region")
    data["default_cloud"] = cloud
    data.pop("placement", None)
    data.pop("rehearses", None)  # the cloud itself compiles this stage: it rehearses nothing
    data["clouds"] = {cloud: section} if section or providers.plugin(cloud).section_required else {}
    if not data["clouds"]:
        data.pop("clouds")
    state = data.get("state") or {}
    owners = [p for p in providers.plugins().values() if state.get("backend") in p.state_backends]
    if not owners or owners[0].name != cloud:  # the source's state lives elsewhere: this cloud's usual backend
        try:
            config = providers.plugin(cloud).config.model_validate(section)
        except ValidationError as err:
            raise EnvironmentError_(err.errors()[0]["msg"], file=path, key="--region", value=region) from None
        fresh = providers.plugin(cloud).stage_state(stem, config, None)
        data["state"] = fresh.model_dump(exclude_none=True) if fresh is not None else \
            LocalState().model_dump()


def _rename_state(data: dict[str, Any], stem: str) -> None:
    """The state backend's global names derived from `<name_prefix>-<stage>` (local state is per environment
    already)."""
    state = data.get("state") or {}
    for plugin in providers.plugins().values():
        model = plugin.state_backends.get(state.get("backend", ""))
        if model is not None:
            section = data.get("clouds", {}).get(plugin.name)
            config = plugin.config.model_validate(section) if section is not None else None
            renamed = plugin.stage_state(stem, config, model.model_validate(state))
            if renamed is not None:
                data["state"] = renamed.model_dump(exclude_none=True)
