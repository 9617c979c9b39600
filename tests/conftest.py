"""Shared fixtures: a throwaway copy of the example estate, the emulators (tests/emulators.py), the caches every
throwaway project shares (tests/shared_caches.py), and the CI rule that a skipped test is a failure."""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import shared_caches
from tests.markers import SERVERS, unmarked_servers, uses_a_server
from tests.shared_caches import SharedCaches, share_caches

REPO = Path(__file__).resolve().parent.parent

pytest_plugins = ["tests.emulators"]


def in_ci() -> bool:
    """CI sets CI=true; there every test must run (.ci/run installs every server and tool they need)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C behaves as in a terminal even when pytest starts with SIGINT ignored (a background job of a script:
    Python then leaves it ignored, and children inherit that): the tests that interrupt `platform` or Terraform
    would otherwise send a signal nobody receives and hang until their timeout."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


TERRAFORM_FIXTURES = frozenset({"tf_binary"})
"""A test that asks for the real Terraform binary (directly, or through `cli`, `applied_estate`, ...) runs it."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that runs real Terraform is end to end (marker `e2e`), whether or not its module says so, and every
    test with a fixture that starts a real server or emulator is marked `servers` (tests/markers.py): `make
    test-fast` (unit and synthesis tests) leaves both out without each new test having to be marked by hand."""
    for item in items:
        if TERRAFORM_FIXTURES & set(getattr(item, "fixturenames", ())) and item.get_closest_marker("e2e") is None:
            item.add_marker(pytest.mark.e2e)
        if uses_a_server(item) and item.get_closest_marker(SERVERS) is None:
            item.add_marker(SERVERS)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    """In CI a skip is a failure, whatever skipped (a fixture missing a server, an import, a marker); a test that
    started a server without the `servers` marker fails (tests/markers.py)."""
    report: pytest.TestReport = yield
    servers = unmarked_servers(item) if report.when == "call" and not report.skipped else []
    if servers:
        report.outcome = "failed"
        report.longrepr = (f"{item.nodeid} used {', '.join(servers)}, which starts a server, but is not marked "
                           f"`{SERVERS}`: mark it (its parameter: tests.markers.backends) so `make test-fast` leaves "
                           "it out")
    if in_ci() and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        report.outcome = "failed"
        report.longrepr = (f"skipped in CI (CI=true), where every test must run: {reason}\n"
                           ".ci/run installs what the tests need; install it there rather than skip.")
    return report


@pytest.fixture(scope="session", autouse=True)
def session_caches(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedCaches]:
    """Wheel cache and package store shared by every project the session's tests build (tests/shared_caches.py).

    The store lives beside the xdist workers' base temp dirs, so all workers of one run share it. Projects a test
    builds in process are prepared when their `cache_dir` is first asked for; estate copies when they are made.
    """
    from platform_sdk.project import Project

    base = tmp_path_factory.getbasetemp()
    store = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "package-store"
    caches = SharedCaches(store)
    original = Project.cache_dir

    def cache_dir(project: Project) -> Path:
        caches.share(project.root)
        return original.fget(project)  # type: ignore[misc]

    shared_caches.ACTIVE = caches
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Project, "cache_dir", property(cache_dir))
        yield caches
    shared_caches.ACTIVE = None


@pytest.fixture(autouse=True)
def harvest_packages(session_caches: SharedCaches) -> Iterator[None]:
    """After each test, the packages it built go into the session's store for the projects made after it."""
    yield
    session_caches.harvest()


@pytest.fixture(scope="session", autouse=True)
def no_local_database_server_outlives_the_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Local cloud applies start PostgreSQL/MariaDB servers (platform_sdk.localcloud.dbserver); fixtures remove
    theirs, and whatever is left under the session's temporary directory is removed here."""
    yield
    from platform_sdk.localcloud.dbserver import servers_under

    for server in servers_under(tmp_path_factory.getbasetemp()):
        server.remove()


def copy_estate(dest: Path) -> Path:
    """Copy services/ and envs/ (the example estate) into `dest`, so a test may edit them freely."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO / "services", dest / "services", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "envs", dest / "envs")
    return share_caches(dest)


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    """A private copy of the example estate; returns its root."""
    return copy_estate(tmp_path / "estate")


@pytest.fixture
def write_env(estate: Path) -> Callable[[str, str], Path]:
    """Write `envs/NAME.toml` in the estate copy."""
    def write(name: str, text: str) -> Path:
        path = estate / "envs" / f"{name}.toml"
        path.write_text(text)
        return path
    return write
