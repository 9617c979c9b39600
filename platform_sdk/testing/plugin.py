"""The pytest plugin app teams get with platform-sdk (entry point `pytest11` in pyproject.toml).

Fixture `platform` (session scope): the project's services applied to a throwaway local-cloud environment, with
the `platform dev` gateway serving it (see `platform_sdk.testing.local.LocalPlatform`). It is built the first
time a test asks for it, once per test session; tests that do not ask for it cost nothing. However the session
ends (tests pass or fail, the apply fails, Ctrl-C, a fixture raises), its gateway, workers and database servers
stop and the servers' data is deleted.

Fixture `platform_secrets` (session scope, default `{}`): override it in conftest.py to give the secrets your
functions read that are not `generate=True` a value in the throwaway environment: `{"payments.api-key": "test"}`.

Options (also set by `platform test`):
    --platform-project DIR   the project (holds services/ and envs/); default $PLATFORM_PROJECT, else the nearest
                             directory upwards from pytest's rootdir with an envs/ folder.
    --platform-env NAME      the environment to apply, a local-cloud one; default "local".
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from platform_sdk.testing.local import LocalPlatform


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("platform", "platform SDK: app tests on a throwaway local cloud")
    group.addoption("--platform-project", default=None, metavar="DIR",
                    help="project root (services/ and envs/); default $PLATFORM_PROJECT or the nearest with envs/")
    group.addoption("--platform-env", default="local", metavar="NAME",
                    help="environment to apply to the throwaway local cloud (default: local)")


def project_root(config: pytest.Config) -> Path:
    """The project the tests belong to (see the module docstring)."""
    explicit = config.getoption("--platform-project") or os.environ.get("PLATFORM_PROJECT")
    if explicit:
        return Path(explicit).resolve()
    start = Path(config.rootpath).resolve()
    for candidate in (start, *start.parents):
        if (candidate / "envs").is_dir() and (candidate / "services").is_dir():
            return candidate
    return start


@pytest.fixture(scope="session")
def platform_secrets() -> dict[str, str]:
    """{"service.secret": value}: values of the secrets your functions read that are not `generate=True`, set in the
    throwaway environment before it is applied. Override it in your conftest.py (session scope); default none."""
    return {}


@pytest.fixture(scope="session")
def platform(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
             platform_secrets: dict[str, str]) -> Iterator[LocalPlatform]:
    """The project's services applied to a throwaway local cloud and served (see the module docstring).

    Shared by every test of the session: use keys and e-mail addresses of your own per test.
    """
    from platform_sdk.testing.environment import ApplyError
    from platform_sdk.testing.local import LocalPlatform

    project = project_root(request.config)
    env = str(request.config.getoption("--platform-env"))
    failure: ApplyError | None = None
    try:
        with LocalPlatform.start(project, env, tmp_path_factory.mktemp("platform"), platform_secrets) as local:
            yield local
    except ApplyError as err:
        failure = err
    if failure is not None:  # outside the handler: the message alone, not a chained traceback
        pytest.fail(f"the throwaway {env!r} environment of {project} could not be applied:\n{failure}", pytrace=False)
