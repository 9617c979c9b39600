"""Shared fixtures: a throwaway copy of the example estate, and the emulators (tests/emulators.py)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytest_plugins = ["tests.emulators"]


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
    return dest


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
