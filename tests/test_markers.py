"""The suite's markers: a test that runs real Terraform is end to end (`e2e`), one that needs a real server or emulator
is marked `servers`; `make test-fast` leaves both out."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.markers import backends
from tests.terraform_fixtures import tf_binary_fixture  # noqa: F401 - registers the fixture


def test_a_test_asking_for_terraform_is_marked_end_to_end(request: pytest.FixtureRequest, tf_binary: Path) -> None:
    assert request.node.get_closest_marker("e2e") is not None


def test_a_test_without_terraform_is_not(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("e2e") is None


def test_a_test_using_a_server_fixture_is_marked_servers(request: pytest.FixtureRequest, moto_server: str) -> None:
    assert request.node.get_closest_marker("servers") is not None


def test_a_test_without_one_is_not(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("servers") is None


@pytest.mark.parametrize("kind", backends("local", "s3"))
def test_a_bucket_kind_served_by_a_server_is_marked_and_local_is_not(request: pytest.FixtureRequest, kind: str) -> None:
    assert (request.node.get_closest_marker("servers") is not None) == (kind == "s3")


def test_an_unmarked_test_that_starts_a_server_through_getfixturevalue_fails(tmp_path: Path) -> None:
    """`make test-fast` selects by marker before anything runs, so a test that asks for a server only at run time
    (`request.getfixturevalue`) must carry the marker itself: run without it, it fails and says so."""
    (tmp_path / "conftest.py").write_text("from tests.conftest import pytest_runtest_makereport  # noqa: F401\n")
    (tmp_path / "test_dynamic.py").write_text(DYNAMIC)
    repo = Path(__file__).parent.parent
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:randomly",
         "--rootdir", str(tmp_path), "-c", os.devnull, "-m", "", str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
        env={**os.environ, "PYTHONPATH": str(repo), "CI": ""})
    assert "1 failed, 1 passed" in result.stdout, result.stdout + result.stderr
    assert "test_unmarked used fake_server, which starts a server, but is not marked `servers`" in result.stdout


DYNAMIC = """
import pytest
from tests.markers import starts_server

@pytest.fixture
@starts_server
def fake_server():
    return "http://127.0.0.1:1"

def test_unmarked(request):
    request.getfixturevalue("fake_server")

@pytest.mark.servers
def test_marked(request):
    request.getfixturevalue("fake_server")
"""


def test_every_fixture_that_starts_a_server_says_so() -> None:
    """A fixture whose body starts moto, the GCS emulator, PostgreSQL or MariaDB is marked `@starts_server`."""
    starts = ("start_moto(", "start_gcs(", "ThreadedMotoServer(", "initdb", "mysqld", "create_server(")
    unmarked = []
    for path in sorted(Path(__file__).parent.glob("*.py")):
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.FunctionDef):
                continue
            decorators = [ast.unparse(d) for d in node.decorator_list]
            if not any(d.startswith("pytest.fixture") for d in decorators):
                continue
            body = ast.get_source_segment(source, node) or ""
            if any(call in body for call in starts) and "starts_server" not in decorators:
                unmarked.append(f"{path.name}:{node.lineno} {node.name}")
    assert not unmarked, unmarked
