"""`platform test` and the app teams' pytest plugin (platform_sdk/testing), through real parts.

The example estate's own app tests (services/tests) run through `platform test` in a separate process, against a
throwaway copy applied with real Terraform to the local cloud and served by the `platform dev` gateway: they all
pass, none is skipped, and the estate's own local environment stays unapplied. A failing app test fails the
command (the plugin cannot silently pass), with messages that say what was awaited and what the function did.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from platform_sdk.commands.apptest import PLUGIN
from platform_sdk.testing.scope import function_environment
from tests.terraform_fixtures import make_project, tf_binary_fixture  # noqa: F401 - registers the fixture

REPO = Path(__file__).resolve().parent.parent


def platform_test(project: Path, terraform: Path, *pytest_args: str) -> subprocess.CompletedProcess[str]:
    """`platform test --project P -- ARGS` in its own process (pytest inside pytest would share modules)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PLATFORM_"))}
    env.update(PLATFORM_TERRAFORM=str(terraform), PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "platform_sdk.cli", "test", "--project", str(project), "--",
                           "-p", "no:cacheprovider", f"--basetemp={project.parent / 'basetemp'}", *pytest_args],
                          cwd=project, env=env, capture_output=True, text=True, timeout=540, check=False)


def app_tests(folder: Path) -> int:
    return sum(len(re.findall(r"^def test_", path.read_text(), re.M)) for path in folder.glob("test_*.py"))


@pytest.mark.e2e
def test_the_example_services_own_tests_pass_through_platform_test(tmp_path: Path, tf_binary: Path) -> None:
    project = make_project(tmp_path / "estate")
    shutil.move(project / "services" / "tests", project / "tests")  # the default place: the project's tests/
    expected = app_tests(project / "tests")
    assert expected >= 15

    result = platform_test(project, tf_binary, "-q", f"--junitxml={tmp_path / 'report.xml'}")

    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    suite = ET.parse(tmp_path / "report.xml").getroot().find("testsuite")
    assert suite is not None
    counts = {k: int(suite.get(k, "0")) for k in ("tests", "failures", "errors", "skipped")}
    assert counts == {"tests": expected, "failures": 0, "errors": 0, "skipped": 0}, result.stdout[-3000:]
    # the throwaway copy was applied, not the project: its own local environment has no state and no cloud
    assert not (project / ".platform" / "state").exists() and not (project / ".platform" / "localcloud").exists()
    # and the throwaway environment's database servers (auth's PostgreSQL) went with it
    from platform_sdk.localcloud.dbserver import servers_under

    assert servers_under(tmp_path / "basetemp") == []


FAILING = '''
import pytest

def test_resize_reads_its_thumbnails(platform):
    platform.as_function("thumbnails.resize").bucket("thumbs").get("128/cat.jpg")

def test_a_text_upload_makes_a_thumbnail(platform):
    platform.upload("thumbnails.originals", "notes.txt", b"not an image")
    platform.wait_for_invocation("thumbnails.resize", timeout=3)

def test_a_broken_upload_is_resized(platform):
    platform.upload("thumbnails.originals", "broken.jpg", b"not a jpeg")
    platform.wait_for_invocation("thumbnails.resize")
'''


KEYS_SERVICE = """from platform_sdk import Function, Secret, Service, http

service = Service("keys", owner="test-team", description="a secret set by hand, read by a function")
api_key = service.add(Secret("api-key"))
reader = service.add(Function("reader", handler="reader.handle", source="functions/keys", triggers=[http()]))
reader.reads(api_key)
"""
KEYS_HANDLER = """from platform_sdk.runtime import HttpRequest, HttpResponse, secret


def handle(request: HttpRequest) -> HttpResponse:
    return HttpResponse(200, {"length": len(secret("api-key"))})
"""
SECRETS_CONFTEST = """import pytest


@pytest.fixture(scope="session")
def platform_secrets():
    return {"keys.api-key": "s3cret-for-tests"}
"""
SECRET_TEST = """

def test_the_secret_has_the_value_the_tests_gave_it(platform):
    assert platform.as_function("keys.reader").secret("api-key") == "s3cret-for-tests"
    assert platform.http("keys.reader").json() == {"length": 16}
"""


@pytest.mark.e2e
def test_failing_app_tests_fail_the_command_with_clear_messages(tmp_path: Path, tf_binary: Path) -> None:
    project = make_project(tmp_path / "estate", services=["thumbnails"])
    local = project / "envs" / "local.toml"
    local.write_text(local.read_text().replace('"web" = "gcp"\n', ""))  # web is not in this copy
    # a secret that is not generated: apply refuses without a value, which the app's conftest gives it
    (project / "services" / "keys.py").write_text(KEYS_SERVICE)
    (project / "services" / "functions" / "keys").mkdir()
    (project / "services" / "functions" / "keys" / "reader.py").write_text(KEYS_HANDLER)
    (project / "tests").mkdir()
    (project / "tests" / "conftest.py").write_text(SECRETS_CONFTEST)
    (project / "tests" / "test_broken.py").write_text(FAILING + SECRET_TEST)

    result = platform_test(project, tf_binary, "-q", "-p", "no:randomly")

    out = re.sub(r"\s+", " ", result.stdout)
    assert result.returncode == 1, result.stdout[-6000:] + result.stderr[-3000:]
    assert "3 failed, 1 passed" in out
    assert "s3cret-for-tests" not in result.stderr
    # a grant the function lacks: the runtime's own GrantError, as in the cloud
    assert "GrantError: function thumbnails.resize may not call get() on bucket 'thumbs'" in out
    # a trigger that fires nothing: the wait says what it waited for, how long, and that nothing ran
    assert "gave up after 3s waiting for an invocation of thumbnails.resize" in out and "(none ran" in out
    # a handler that raises: the wait fails at once with the function's error
    assert "thumbnails.resize failed (object_created)" in out and "UnidentifiedImageError" in out


@pytest.mark.e2e
def test_a_secret_set_by_hand_without_a_test_value_names_the_fixture_that_gives_one(tmp_path: Path,
                                                                                     tf_binary: Path) -> None:
    """A hand-set secret has a value in the developer's environment, never in the throwaway copy. The failure used
    to repeat the apply's own advice (`platform secret set ... --env local`), already followed: it now names the
    `platform_secrets` fixture, with the secret's address, and no test runs."""
    project = make_project(tmp_path / "estate", services=["thumbnails"])
    local = project / "envs" / "local.toml"
    local.write_text(local.read_text().replace('"web" = "gcp"\n', ""))
    (project / "services" / "keys.py").write_text(KEYS_SERVICE)
    (project / "services" / "functions" / "keys").mkdir()
    (project / "services" / "functions" / "keys" / "reader.py").write_text(KEYS_HANDLER)
    (project / "tests").mkdir()
    (project / "tests" / "test_keys.py").write_text(SECRET_TEST)

    result = platform_test(project, tf_binary, "-q", "-p", "no:randomly")

    out = re.sub(r"\s+", " ", result.stdout + result.stderr)
    assert result.returncode != 0, out[-3000:]
    assert "secret(s) keys.api-key read by your functions have no value in the throwaway test environment" in out
    assert 'def platform_secrets(): return {"keys.api-key": "a test value"}' in out
    assert "1 passed" not in out


def test_platform_test_refuses_a_project_without_tests(tmp_path: Path, tf_binary: Path) -> None:
    project = make_project(tmp_path / "estate", services=["web"])
    result = platform_test(project, tf_binary, "-q")
    assert result.returncode == 2
    assert "no tests/ folder" in result.stderr and "PYTEST ARGS" in result.stderr
    assert not (project / ".platform" / "state").exists()
    named = platform_test(project, tf_binary, "tests/test_nothing_here.py")  # a path given, but not there
    assert named.returncode == 2
    assert "no such test file" in named.stderr and "tests/test_nothing_here.py" in named.stderr, named.stderr
    assert not (project / ".platform" / "state").exists()


def test_the_plugin_is_installed_as_a_pytest11_entry_point_named_like_its_module() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["pytest11"] == {PLUGIN: PLUGIN}  # `-p PLUGIN` and autoload: one registration
    module = __import__(PLUGIN, fromlist=["platform"])
    assert callable(module.pytest_addoption) and hasattr(module, "platform")


PLUGIN_TEST = """
def test_the_plugin_is_registered_once(pytestconfig):
    manager = pytestconfig.pluginmanager
    names = [name for name, plugin in manager.list_name_plugin() if getattr(plugin, "__name__", "") == "{plugin}"]
    assert names == ["{plugin}"]
    assert pytestconfig.getoption("--platform-env") == "local"
""".replace("{plugin}", PLUGIN)


def test_an_installed_entry_point_and_platform_test_load_the_plugin_once(tmp_path: Path, tf_binary: Path) -> None:
    """As after `pip install platform-sdk`: a distribution on the path declares the pytest11 entry point. Plain
    pytest loads the plugin from it, and `platform test` (which also passes -p) does not load it a second time."""
    site = tmp_path / "site"
    dist = site / "platform_sdk_entry_point-0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: platform-sdk-entry-point\nVersion: 0\n")
    (dist / "entry_points.txt").write_text(f"[pytest11]\n{PLUGIN} = {PLUGIN}\n")
    project = make_project(tmp_path / "estate", services=["web"])
    (project / "tests").mkdir()
    (project / "tests" / "test_plugin.py").write_text(PLUGIN_TEST)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PLATFORM_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(site)])

    plain = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=project,
                           env=env, capture_output=True, text=True, timeout=300, check=False)
    assert plain.returncode == 0, plain.stdout[-3000:] + plain.stderr[-2000:]
    result = subprocess.run([sys.executable, "-m", "platform_sdk.cli", "test", "--project", str(project), "--", "-q",
                             "-p", "no:cacheprovider"], cwd=project, env=env, capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "1 passed" in result.stdout


def test_a_function_environment_is_put_back_after_each_call(monkeypatch: pytest.MonkeyPatch) -> None:
    from platform_sdk.runtime import GrantError, bucket

    monkeypatch.setenv("PLATFORM_TERRAFORM", "/opt/terraform")
    monkeypatch.delenv("PLATFORM_GRANTS", raising=False)
    with function_environment({"PLATFORM_FUNCTION": "resize", "PLATFORM_GRANTS": "bucket:thumbs:write"}):
        assert os.environ["PLATFORM_GRANTS"] == "bucket:thumbs:write"
        assert "PLATFORM_TERRAFORM" not in os.environ
        with pytest.raises(GrantError, match="function resize has no grant on bucket 'thumbs'"):
            bucket("thumbs")  # granted, but no PLATFORM_BUCKET_THUMBS URL: refused like a missing grant
    assert os.environ["PLATFORM_TERRAFORM"] == "/opt/terraform" and "PLATFORM_GRANTS" not in os.environ
    assert "PLATFORM_FUNCTION" not in os.environ or os.environ.get("PLATFORM_FUNCTION") != "resize"
