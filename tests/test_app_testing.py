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
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from platform_sdk.commands.apptest import PLUGIN
from platform_sdk.localcloud import dbserver
from platform_sdk.testing import ApplyError, ThrowawayEnvironment
from platform_sdk.testing.scope import function_environment
from tests.terraform_fixtures import (  # noqa: F401 - registers the fixture
    HOLD_ENV,
    make_project,
    tf_binary_fixture,
    wait_for_path,
)

REPO = Path(__file__).resolve().parent.parent


def spawn_platform_test(project: Path, terraform: Path, *pytest_args: str,
                        extra_env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """`platform test --project P -- ARGS` started in its own process (pytest inside pytest would share modules);
    its pytest's temporary folders go to `<project's parent>/basetemp`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PLATFORM_"))}
    env.update(PLATFORM_TERRAFORM=str(terraform), PYTHONPATH=str(REPO), **(extra_env or {}))
    return subprocess.Popen([sys.executable, "-m", "platform_sdk.cli", "test", "--project", str(project), "--",
                             "-p", "no:cacheprovider", f"--basetemp={project.parent / 'basetemp'}", *pytest_args],
                            cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def platform_test(project: Path, terraform: Path, *pytest_args: str,
                  extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`platform test --project P -- ARGS` run to its end (see spawn_platform_test)."""
    with spawn_platform_test(project, terraform, *pytest_args, extra_env=extra_env) as process:
        try:
            stdout, stderr = process.communicate(timeout=540)
        finally:
            process.kill()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def leftovers(basetemp: Path) -> list[str]:
    """What the throwaway environments under `basetemp` left behind: local database servers (their folders under
    the copy, their data directories, under /var/lib/platform-localcloud/<hash> as root) and any process working
    in or for them (database servers, Terraform and its providers, function workers)."""
    found = [f"server folder {path}" for name in dbserver.SERVER_DIRS.values()
             for path in basetemp.rglob(f"databases/{name}")]
    roots = [path for path in basetemp.rglob(".platform/localcloud/*/*") if path.is_dir()]
    bases = {dbserver.Server(root, engine).base for root in roots for engine in dbserver.ENGINES}
    found += [f"data directory {base}" for base in sorted(bases) if base.exists()]
    marks = [str(basetemp), *(str(base) for base in bases)]
    for proc in Path("/proc").glob("[0-9]*"):
        if proc.name == str(os.getpid()):
            continue
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue  # gone meanwhile, or a zombie
        if any(mark in command or cwd.startswith(mark) for mark in marks):
            found.append(f"process {proc.name}: {command.strip()[:200]} (in {cwd})")
    return found


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
    # and the throwaway environment's database server (auth's PostgreSQL) went with it, data directory included
    assert leftovers(tmp_path / "basetemp") == []


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

@pytest.fixture
def broken_fixture(platform):
    raise RuntimeError("a fixture of the app's own fails after the platform started")

def test_with_a_fixture_that_fails(broken_fixture):
    pass
'''


KEYS_SERVICE = """from platform_sdk import Database, Function, Secret, Service, http

service = Service("keys", owner="test-team", description="a secret set by hand, read by a function")
api_key = service.add(Secret("api-key"))
service.add(Database("notes"))  # a PostgreSQL server the throwaway environment starts, and must remove
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
    assert re.search(r"3 failed, 1 passed(, \d+ warnings?)?, 1 error in", out), out[-3000:]
    assert "a fixture of the app's own fails after the platform started" in out
    # failed tests and a failed fixture: the database server and every process went with the environment
    assert leftovers(tmp_path / "basetemp") == []
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


LEDGER_SERVICE = """from platform_sdk import Database, Service

service = Service("ledger", owner="test-team", description="one database on each engine")
service.add(Database("entries"))
service.add(Database("audit", engine="mysql"))
"""
LEDGER_TEST = """
def test_the_environment_is_applied(platform):
    assert platform.root.is_dir()
"""


def ledger_project(tmp_path: Path, service: str = LEDGER_SERVICE) -> Path:
    project = make_project(tmp_path / "estate", services=["web"])
    (project / "services" / "ledger.py").write_text(service)
    (project / "tests").mkdir()
    (project / "tests" / "test_ledger.py").write_text(LEDGER_TEST)
    return project


def copy_states(basetemp: Path) -> str:
    """The throwaway copies' Terraform states, as one text."""
    return "".join(path.read_text() for path in basetemp.rglob(".platform/state/local/*.tfstate"))


@pytest.mark.e2e
def test_a_failed_apply_leaves_no_database_server_and_the_developers_own_runs_on(tmp_path: Path,
                                                                                  tf_binary: Path) -> None:
    """seedB 4: every `platform test` whose apply failed left the copy's PostgreSQL server running, its 70 MB
    data directory in /var/lib/platform-localcloud/<hash>: the cleanup only began once the gateway served. Here
    the copy's apply is held (PLATFORM_LOCALCLOUD_HOLD_FILE) once planned, MariaDB's programs are taken away
    (PLATFORM_LOCALCLOUD_SERVER_PATH), and released: `entries` starts its PostgreSQL server, `audit` fails. A
    server of the developer's own local environment runs meanwhile, and is never touched."""
    project = ledger_project(tmp_path)
    hold = tmp_path / "hold"
    programs = Path(tempfile.mkdtemp(prefix="platform-programs-"))  # as root, the servers' users must reach it
    programs.chmod(0o755)
    found = {**(dbserver.binaries("postgres") or {}), **(dbserver.binaries("mysql") or {})}
    assert len(found) == 5, "PostgreSQL's and MariaDB's server programs are installed here (docs/databases.md)"
    for path in found.values():
        (programs / path.name).symlink_to(path)
    hold.touch()
    own = dbserver.Server(project / ".platform" / "localcloud" / "local" / "aws", "postgres")
    own.ensure_running()
    try:
        with spawn_platform_test(project, tf_binary, "-q", extra_env={dbserver.SERVER_PATH_ENV: str(programs),
                                                                      HOLD_ENV: str(hold)}) as process:
            try:
                wait_for_path(Path(f"{hold}.entered"), process)
                for path in (found["server"], found["install"]):
                    (programs / path.name).unlink()
                hold.unlink()
                stdout, stderr = process.communicate(timeout=540)
            finally:
                process.kill()

        out = re.sub(r"\s+", " ", stdout + stderr)
        assert process.returncode == 1, out[-4000:]
        assert "could not be applied" in out and "MariaDB server programs" in out and "1 passed" not in out
        assert '"entries"' in copy_states(tmp_path / "basetemp"), "the copy's PostgreSQL database was created"
        assert leftovers(tmp_path / "basetemp") == []
        assert own.running() and own.data_dir.is_dir()
    finally:
        own.remove()
        shutil.rmtree(programs)


@pytest.mark.e2e
def test_ctrl_c_during_the_apply_stops_it_and_leaves_no_database_server(tmp_path: Path, tf_binary: Path) -> None:
    """Ctrl-C while the throwaway copy is applied: the copy's `platform apply` is interrupted cleanly (Terraform
    and its providers end) and waited for, then its PostgreSQL server and data directory are removed. Each of the
    local cloud's operations first waits 2 s (PLATFORM_LOCALCLOUD_SLOW_SECONDS), so once the server exists the
    apply still has its database's roles to create when the interrupt arrives."""
    from platform_sdk.localcloud.switches import SLOW_ENV

    project = ledger_project(tmp_path, LEDGER_SERVICE.replace('service.add(Database("audit", engine="mysql"))\n', ""))
    basetemp = tmp_path / "basetemp"
    process = spawn_platform_test(project, tf_binary, "-q", extra_env={SLOW_ENV: "2"})
    try:
        while not any(basetemp.rglob("databases/.postgres/server.json")):
            assert process.poll() is None, process.communicate()
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=300)
    finally:
        process.kill()

    out = re.sub(r"\s+", " ", stdout + stderr)
    assert process.returncode == pytest.ExitCode.INTERRUPTED, out[-4000:]
    assert "KeyboardInterrupt" in out and "1 passed" not in out
    assert leftovers(basetemp) == []


@pytest.mark.parametrize("outside", ["absolute", "../own-localcloud"])
def test_a_local_cloud_root_outside_the_copy_is_refused_before_anything_is_applied(tmp_path: Path,
                                                                                   outside: str) -> None:
    """A root outside the throwaway copy would be the developer's own local cloud (or beside it): the copy would
    apply into it, and its cleanup would not see what it started there. Refused, naming the file, key and root."""
    project = make_project(tmp_path / "estate", services=["web"])
    own = tmp_path / "own-localcloud"
    root = str(own) if outside == "absolute" else outside
    local = project / "envs" / "local.toml"
    local.write_text(local.read_text().replace('root = ".platform/localcloud"', f'root = "{root}"'))
    throwaway = ThrowawayEnvironment(project, "local", tmp_path / "work")

    with pytest.raises(ApplyError) as refused:
        throwaway.prepare()

    message = str(refused.value)
    assert "envs/local.toml: [clouds.local] root" in message and "outside the throwaway copy" in message, message
    assert "own-localcloud" in message
    assert not own.exists() and not (tmp_path / "work" / "own-localcloud").exists()
    assert not (throwaway.root / ".platform" / "state").exists()


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
