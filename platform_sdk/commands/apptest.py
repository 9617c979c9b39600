"""`platform test [PYTEST ARGS]`: run an app team's tests with the platform pytest plugin on a throwaway local cloud.

pytest runs in this process with the plugin `platform_sdk.testing.plugin` loaded (also when the `pytest11` entry
point is not installed, e.g. from a source checkout), the project's root as `--platform-project` and pytest's
rootdir, and the environment as `--platform-env`. Arguments after the options go to pytest unchanged
(`platform test -- -k signup -x` to be explicit); without a test path, the project's `tests/` folder runs. The exit
code is pytest's (0 all passed, 1 some failed, 5 none collected, ...).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from platform_sdk.commands._common import ProjectOption, project_at, user_errors
from platform_sdk.errors import PlatformError

PLUGIN = "platform_sdk.testing.plugin"
DEFAULT_TESTS = "tests"
TestEnvOption = Annotated[str, typer.Option("--env", help="The local-cloud environment the tests apply (a file "
                                                          "envs/NAME.toml); the developer's own is not touched.")]


def _names_a_path(arg: str) -> bool:
    """Whether a pytest argument is a test path (`dir`, `file.py`, `file.py::test`) rather than an option or its
    value: it exists on disk or names a test inside a file."""
    return not arg.startswith("-") and (Path(arg.split("::", 1)[0]).exists() or "::" in arg)


@user_errors
def test(ctx: typer.Context, env: TestEnvOption = "local", project: ProjectOption = None) -> None:
    """Run the app team's tests (default: the project's tests/) with the platform pytest plugin: fixture
    `platform` applies the services to a throwaway local cloud. Extra arguments go to pytest."""
    import pytest

    from platform_sdk.envs import find_environment

    root = project_at(project).root
    find_environment(root / "envs", env)  # a missing or invalid environment: one clear message, exit 2
    args = list(ctx.args)
    missing = [arg for arg in args if not arg.startswith("-") and arg.split("::", 1)[0].endswith(".py")
               and not Path(arg.split("::", 1)[0]).exists()]
    if missing:
        raise PlatformError("no such test file", key="PYTEST ARGS", value=missing[0],
                            hint="name a test file or folder that exists, relative to where you run the command")
    if not any(_names_a_path(arg) for arg in args):
        tests = root / DEFAULT_TESTS
        if not tests.is_dir():
            raise PlatformError(f"no {DEFAULT_TESTS}/ folder in {root} and no test path given", key="PYTEST ARGS",
                                value=" ".join(args) or "(none)",
                                hint=f"write tests in {tests} (see docs/testing-apps.md) or name them: "
                                     "platform test path/to/tests")
        args.append(str(tests))
    code = pytest.main(["-p", PLUGIN, f"--rootdir={root}", f"--platform-project={root}", f"--platform-env={env}",
                        *args])
    raise typer.Exit(int(code))


test.context_settings = {"allow_extra_args": True, "ignore_unknown_options": True}  # type: ignore[attr-defined]

COMMANDS = (test,)
