"""The public API type-checks: services written as the README shows pass `mypy --strict`, mistakes do not."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

BAD_SERVICE = '''\
from platform_sdk import Bucket, Function, Service
from platform_sdk.modules import StaticSite

service = Service("broken")
site = service.add(StaticSite("site"))
site.bucket.versioning = "yes"  # error: add() returned the StaticSite, whose bucket is a Bucket
api = service.add(Function("api", handler="api.handle", memory="512"))  # error: memory is an int
bucket: Bucket = service.add(StaticSite("docs"))  # error: a module added is the module, not a resource
api.uses(site.bucket)  # error: uses() takes a Database
'''
BAD_LINES = {6, 7, 8, 9}


def readme_service() -> str:
    """The first Python block of README.md: the thumbnails service every reader sees first."""
    match = re.search(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    assert match and "Service(" in match.group(1), "README.md no longer starts with a service example"
    return match.group(1)


@pytest.fixture(scope="module")
def mypy_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """One `mypy --strict` run over the README's service, the example estate's services and a broken service.

    Run from the project root, with the project's [tool.mypy] settings, so `platform_sdk` resolves to this
    checkout (an editable install is invisible to mypy) and its `py.typed` applies. Returns file name -> errors.
    """
    root = tmp_path_factory.mktemp("typing")
    readme = root / "readme_thumbnails.py"
    readme.write_text(readme_service())
    bad = root / "bad_service.py"
    bad.write_text(BAD_SERVICE)
    files = [readme, bad, *sorted((REPO / "services").glob("*.py"))]
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(root / "cache"), "--no-error-summary",
         "--show-error-codes", *map(str, files)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode in (0, 1), result.stderr or result.stdout
    report: dict[str, list[str]] = {path.name: [] for path in files}
    for line in result.stdout.splitlines():
        name = Path(line.split(":", 1)[0]).name
        if name in report and ": error:" in line:
            report[name].append(line)
    return report


def test_the_readme_service_type_checks_strictly(mypy_report: dict[str, list[str]]) -> None:
    assert mypy_report["readme_thumbnails.py"] == []


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "services").glob("*.py")))
def test_the_example_services_written_with_modules_type_check(mypy_report: dict[str, list[str]], name: str) -> None:
    assert mypy_report[name] == []


def test_type_errors_in_a_service_are_caught(mypy_report: dict[str, list[str]]) -> None:
    errors = mypy_report["bad_service.py"]
    lines = {int(line.split(":")[1]) for line in errors}
    assert lines == BAD_LINES, "\n".join(errors)


def test_py_typed_ships_with_the_package(tmp_path: Path) -> None:
    """Without `py.typed` in the installed package, type checkers ignore the SDK's annotations."""
    assert (REPO / "platform_sdk" / "py.typed").is_file()
    subprocess.run([sys.executable, "-c", "import setuptools; setuptools.setup()", "-q", "build_py", "--build-lib",
                    str(tmp_path)], cwd=REPO, check=True, capture_output=True, timeout=120)
    assert (tmp_path / "platform_sdk" / "py.typed").is_file()
    assert (tmp_path / "platform_sdk" / "model" / "function.py").is_file()


def test_the_typed_packages_are_mypy_strict_clean() -> None:
    """What `make test` runs: `.venv/bin/mypy` with the [tool.mypy] settings of pyproject.toml."""
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
