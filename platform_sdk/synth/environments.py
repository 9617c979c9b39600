"""Environments of one project checked against each other before synthesis builds anything: what two of them would
both build where only one can exist (an S3 gateway endpoint per route table, a NAT per subnet, ...), as each cloud's
plug-in knows it (`CloudPlugin.check_environments`)."""

from __future__ import annotations

from pathlib import Path

from platform_sdk import providers
from platform_sdk.envs import Environment, list_environments, load_environment
from platform_sdk.errors import PlatformError, warn
from platform_sdk.model import Service


def check_environments(envs_dir: Path, env: Environment, services: list[Service]) -> None:
    """Each plug-in's `CloudPlugin.check_environments` for `env` against the other environment files of `envs_dir`,
    loaded with the environment loader. A file that does not load is not compared (a PlatformWarning says so; its
    own synthesis reports why): one broken draft must not block every other environment.

    Raises PlatformError: a plug-in's refusal."""
    others: list[Environment] = []
    for name in list_environments(envs_dir):
        path = envs_dir / f"{name}.toml"
        if name == env.name or path == env.file:
            continue
        try:
            others.append(load_environment(path))
        except PlatformError as err:
            warn(f"{path} is not compared with environment {env.name} for objects both would build: it does not "
                 f"load ({err.message})", file=path)
    for plugin in providers.plugins().values():
        plugin.check_environments(env, services, others)
