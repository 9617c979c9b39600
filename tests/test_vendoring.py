"""Dependency vendoring with the real pip against the configured package index (PyPI)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from platform_sdk.errors import PlatformWarning
from platform_sdk.providers.aws.packaging import lambda_platforms
from platform_sdk.synth import vendoring
from platform_sdk.synth.vendoring import VendoringError, python_version, vendor_requirements
from tests.conftest import REPO


def function_dir(tmp_path: Path, requirements: str | None) -> Path:
    source = tmp_path / "fn"
    source.mkdir()
    (source / "handler.py").write_text("import six\n\ndef handle(request):\n    return six.text_type('ok')\n")
    if requirements is not None:
        (source / "requirements.txt").write_text(requirements)
    return source


def test_aws_vendors_wheels_and_reuses_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = function_dir(tmp_path, "six==1.16.0\n")
    cache = tmp_path / "cache"
    entries = vendor_requirements(source, "aws", "python3.11", cache)
    assert entries["six.py"].startswith(b'# Copyright (c) 2010-20')
    assert b"__version__ = \"1.16.0\"" in entries["six.py"]
    assert "six-1.16.0.dist-info/METADATA" in entries
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in entries)
    assert vendoring.cached_wheels(source, "aws", "python3.11", cache) == ["six-1.16.0-py2.py3-none-any.whl"]

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("pip must not run when the cache has the answer")

    monkeypatch.setattr(vendoring, "_pip_download", no_network)
    assert vendor_requirements(source, "aws", "python3.11", cache) == entries
    (source / "requirements.txt").write_text("six==1.16.0\n# changed\n")
    with pytest.raises(AssertionError, match="pip must not run"):
        vendor_requirements(source, "aws", "python3.11", cache)  # a new requirements.txt is a new cache key


def test_vendored_entries_make_a_deterministic_importable_package(tmp_path: Path) -> None:
    from platform_sdk.model import Function, http
    from platform_sdk.synth.assets import build_package

    source = function_dir(tmp_path, "six==1.16.0\n")
    fn = Function("vendored", handler="handler.handle", source=source, triggers=[http()])
    cache = tmp_path / "cache"
    first = build_package(fn, "aws", tmp_path / "a", extra=vendor_requirements(source, "aws", fn.runtime, cache))
    second = build_package(fn, "aws", tmp_path / "b", extra=vendor_requirements(source, "aws", fn.runtime, cache))
    assert first.sha256 == second.sha256
    with zipfile.ZipFile(first.path) as archive:
        names = set(archive.namelist())
    assert {"six.py", "handler.py", "_platform_entry.py", "requirements.txt"} <= names


@pytest.mark.parametrize("target", ["gcp", "local"])
def test_gcp_and_local_vendor_nothing(tmp_path: Path, target: str) -> None:
    source = function_dir(tmp_path, "six==1.16.0\n")
    assert vendor_requirements(source, target, "python3.11", tmp_path / "cache") == {}
    assert not (tmp_path / "cache").exists()


def test_local_announces_a_requirement_its_environment_does_not_have(tmp_path: Path) -> None:
    """The local cloud installs nothing (its functions run in this Python environment): a requirement whose project
    is not installed here fails at import there, and is announced at its line; another installed version is not
    (an exact pin for a cloud's runtime need not be the local version), nor options or a false marker."""
    source = function_dir(tmp_path, "# pins\nsix==0.0.1\nno-such-project-for-platform-tests>=1 ; python_version >= '3'"
                                    "\nnot-here-either ; python_version < '3'\n-r other.txt\n")
    with pytest.warns(PlatformWarning) as caught:
        assert vendor_requirements(source, "local", "python3.11", tmp_path / "cache") == {}
    assert [(w.filename, w.lineno) for w in caught] == [(str(source / "requirements.txt"), 3)]
    message = str(caught[0].message)
    assert message.startswith("no-such-project-for-platform-tests>=1 ; python_version >= '3' is not installed in the "
                              "Python environment local functions run in") and "installs nothing" in message


def test_no_requirements_no_entries(tmp_path: Path) -> None:
    assert vendor_requirements(function_dir(tmp_path, None), "aws", "python3.11", tmp_path / "cache") == {}


def test_functions_without_requirements_never_import_packaging(tmp_path: Path) -> None:
    """`packaging.requirements` costs ~20 ms of CPU to import and serves only a requirements.txt the local cloud
    reads (`missing_requirements`); a synthesis whose functions have none (the bench estate's 70) never imports it."""
    source = function_dir(tmp_path, None)
    script = (f"import sys\nfrom platform_sdk.synth.vendoring import vendor_requirements\n"
              f"for target in ('aws', 'gcp', 'local'):\n"
              f"    vendor_requirements({str(source)!r}, target, 'python3.11', {str(tmp_path / 'cache')!r})\n"
              f"print('packaging' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False"]


def test_failed_download_names_the_requirements_file_and_pip_message(tmp_path: Path) -> None:
    """The message points at the line naming the requirement pip could not resolve (tryout seedA fault 12)."""
    source = function_dir(tmp_path, "# pins\nsix==1.16.0\nPyJWT==0.0.0.dev999 ; python_version >= '3'\n")
    with pytest.raises(VendoringError) as info:
        vendor_requirements(source, "aws", "python3.11", tmp_path / "cache")
    message = str(info.value)
    assert f"{source / 'requirements.txt'}:3: could not download" in message
    assert "python3.11" in message
    assert "PyJWT==0.0.0.dev999" in message or "No matching distribution" in message
    assert list((tmp_path / "cache").iterdir()) == []  # nothing half-written is left to be reused


def test_dependency_shadowing_user_code_is_refused(tmp_path: Path) -> None:
    source = function_dir(tmp_path, "six==1.16.0\n")
    (source / "six.py").write_text("# the user's own six\n")
    with pytest.raises(VendoringError, match="six.py, which is also a file of the function's code"):
        vendor_requirements(source, "aws", "python3.11", tmp_path / "cache")


def test_platform_tags_follow_the_lambda_operating_system() -> None:
    al2 = lambda_platforms("3.11")  # Amazon Linux 2: glibc 2.26
    assert al2[0] == "manylinux_2_26_x86_64" and "manylinux2014_x86_64" in al2
    assert "manylinux_2_28_x86_64" not in al2
    al2023 = lambda_platforms("3.12")  # Amazon Linux 2023: glibc 2.34
    assert al2023[0] == "manylinux_2_28_x86_64" and "manylinux_2_17_x86_64" in al2023
    assert lambda_platforms("3.12", "aarch64")[0] == "manylinux_2_28_aarch64"
    assert python_version("python3.12") == "3.12" and python_version("3.10") == "3.10"
    with pytest.raises(VendoringError):
        python_version("nodejs20.x")


def test_runtime_requirements_follow_target_and_grants() -> None:
    assert vendoring.runtime_requirements("aws", set()) == []
    assert vendoring.runtime_requirements("aws", {"bucket"}) == []  # the Lambda runtime ships boto3
    assert vendoring.runtime_requirements("aws", {"database", "database:postgres", "bucket"}) == ["pg8000>=1.31,<2"]
    assert vendoring.runtime_requirements("aws", {"database", "database:mysql"}) == ["pymysql>=1.1,<2"]
    gcp = vendoring.runtime_requirements("gcp", {"bucket", "database", "database:postgres"})
    assert gcp[0].startswith("functions-framework") and any(r.startswith("google-cloud-storage") for r in gcp)
    assert any(r.startswith("cloud-sql-python-connector") for r in gcp)
    assert vendoring.runtime_requirements("local", {"bucket", "database"}) == []


def test_aws_function_with_a_database_gets_pg8000(tmp_path: Path) -> None:
    from platform_sdk.model import Database, Function, http

    source = tmp_path / "fn"
    source.mkdir()
    (source / "handler.py").write_text("def handle(request):\n    return None\n")
    fn = Function("api", handler="handler.handle", source=source, triggers=[http()])
    fn.uses(Database("users"))
    entries = vendoring.vendor_function(fn, "aws", tmp_path / "cache")
    assert {"pg8000/__init__.py", "scramp/__init__.py", "asn1crypto/__init__.py", "dateutil/__init__.py"} <= set(
        entries)
    assert not any(name.startswith("boto3/") for name in entries)


def test_aws_function_with_a_mysql_database_gets_pymysql_and_not_pg8000(tmp_path: Path) -> None:
    from platform_sdk.model import Database, Function, http

    source = tmp_path / "fn"
    source.mkdir()
    (source / "handler.py").write_text("def handle(request):\n    return None\n")
    fn = Function("api", handler="handler.handle", source=source, triggers=[http()])
    fn.uses(Database("users", engine="mysql"))
    entries = vendoring.vendor_function(fn, "aws", tmp_path / "cache")
    assert "pymysql/__init__.py" in entries
    assert not any(name.startswith("pg8000/") for name in entries)


def test_gcp_requirements_get_the_runtime_appended_and_user_pins_win(tmp_path: Path) -> None:
    from platform_sdk.model import Bucket, Database, Function, http

    source = function_dir(tmp_path, "six==1.16.0\ngoogle_cloud_storage==2.18.2  # my pin\n")
    fn = Function("api", handler="handler.handle", source=source, triggers=[http()])
    fn.reads(Bucket("site")).uses(Database("users"))
    entries = vendoring.vendor_function(fn, "gcp", tmp_path / "cache")
    assert set(entries) == {"requirements.txt"}
    lines = entries["requirements.txt"].decode().splitlines()
    assert lines[:2] == ["six==1.16.0", "google_cloud_storage==2.18.2  # my pin"]
    assert not any(line.startswith("google-cloud-storage") for line in lines)
    added = lines[3:]
    assert [line.split(">=")[0] for line in added] == ["functions-framework", "cloud-sql-python-connector", "pg8000"]
    assert vendoring.vendor_function(fn, "local", tmp_path / "cache") == {}
