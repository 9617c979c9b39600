"""New stages: an environment file derived from another one (`platform env new qa --from dev [--cloud aws]`).

A stage is an environment file. A new one copies its source's placement, sizes, values (`[overrides]`) and waivers,
and gets what must not be shared: its own `name_prefix` (physical names of buckets are global: two stages or two
projects with one prefix collide) and its own state backend names, derived from that prefix. Custom domains are not
copied either (a CDN alias is global: two stages claiming one fail on the second apply): the new stage has none
until it names its own. `--cloud` puts the
whole stage on one cloud, turning a local stand-in into the real cloud (which then needs a region: there is no
default). The result is validated like any environment file before it is written; `platform bootstrap --env NAME`
then creates its state backend.
"""

from __future__ import annotations

import re
import secrets
import shutil
import string
import tempfile
import tomllib
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

SUFFIX_LENGTH = 4
"""Random characters after the project's name in a derived prefix: 36**4 = 1.7 million prefixes per project name."""


def derive_name_prefix(project_dir: Path) -> str:
    """`<project directory name>-<4 random letters or digits>`, as a valid `name_prefix` (at most 20 characters).

    `/home/ada/Shop Front` -> `shop-front-k3x9`. The random part keeps two projects (or two stages) with the same
    directory name apart in the global bucket namespaces.
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
    name_prefix_derived: bool
    dropped: list[str] = field(default_factory=list)
    """`[overrides."<address>"] domain = "<value>"` lines of the source not copied (domains are the source's own)."""


def new_stage(envs_dir: Path, name: str, source: str, *, cloud: str | None = None, region: str | None = None,
              name_prefix: str | None = None) -> NewStage:
    """Write `envs/<name>.toml` from `envs/<source>.toml` (see the module docstring); returns what was written.

    Raises:
        EnvironmentError_: the stage exists, its name is invalid, the source does not exist or is invalid, the
            cloud is unknown, `--region` is missing where the stage needs one or given without `--cloud`, or the
            result does not validate. Nothing is written then.
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
    load_environment(source_path)  # the source must be valid itself
    data = tomllib.loads(source_path.read_text())
    derived = name_prefix is None
    prefix = derive_name_prefix(envs_dir.parent) if name_prefix is None else check_name_prefix(name_prefix)
    data.pop("name", None)
    data["name_prefix"] = prefix
    dropped = _drop_domains(data)
    if cloud is not None:
        _onto(data, cloud, region, path, prefix)
    _rename_state(data, prefix)
    text = f"# Stage {name}: made from {source} by `platform env new`; edit freely.\n" + tomli_w.dumps(data)
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
    path.write_text(text)
    env.file = path
    return NewStage(path, env, source, derived, dropped)


def _drop_domains(data: dict[str, Any]) -> list[str]:
    """Remove the source's custom domains from its `[overrides]` (an override left empty goes too)."""
    dropped = []
    overrides = data.get("overrides") or {}
    for address in sorted(overrides):
        values = overrides[address]
        if isinstance(values, dict) and "domain" in values:
            dropped.append(f'[overrides."{address}"] domain = "{values.pop("domain")}"')
            if not values:
                del overrides[address]
    if "overrides" in data and not data["overrides"]:
        del data["overrides"]
    return dropped


def _onto(data: dict[str, Any], cloud: str, region: str | None, path: Path, prefix: str) -> None:
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
        fresh = providers.plugin(cloud).stage_state(prefix, config, None)
        data["state"] = fresh.model_dump(exclude_none=True) if fresh is not None else \
            LocalState().model_dump()


def _rename_state(data: dict[str, Any], prefix: str) -> None:
    """The state backend's global names derived from the stage's prefix (local state is per environment already)."""
    state = data.get("state") or {}
    for plugin in providers.plugins().values():
        model = plugin.state_backends.get(state.get("backend", ""))
        if model is not None:
            section = data.get("clouds", {}).get(plugin.name)
            config = plugin.config.model_validate(section) if section is not None else None
            renamed = plugin.stage_state(prefix, config, model.model_validate(state))
            if renamed is not None:
                data["state"] = renamed.model_dump(exclude_none=True)
