"""Function packages keep the execute bits of the user's files (issue 14.6) and stay byte-for-byte deterministic."""

from __future__ import annotations

import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from platform_sdk.localcloud.function import _replace_code
from platform_sdk.model import Function, Service, http
from platform_sdk.synth.assets import build_package

SCRIPT = b"#!/bin/sh\necho converted \"$1\"\n"


def _function(source: Path) -> Function:
    service = Service("media")
    return service.add(Function("convert", handler="handler.handle", source=source, triggers=[http()]))


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "code"
    (root / "bin").mkdir(parents=True)
    (root / "handler.py").write_text("def handle(request):\n    return None\n")
    (root / "bin" / "convert").write_bytes(SCRIPT)
    (root / "bin" / "convert").chmod(0o755)
    (root / "bin" / "table.txt").write_text("not a program\n")
    (root / "bin" / "table.txt").chmod(0o640)
    return root


def _modes(path: Path) -> dict[str, int]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: info.external_attr >> 16 for info in archive.infolist()}


def test_executable_files_keep_0755_and_others_get_0644(source: Path, tmp_path: Path) -> None:
    package = build_package(_function(source), "aws", tmp_path / "build")
    modes = _modes(package.path)
    assert modes["bin/convert"] == 0o755
    assert modes["handler.py"] == 0o644
    assert modes["bin/table.txt"] == 0o644  # not executable on disk: the usual mode, whatever else it had
    assert {mode for name, mode in modes.items() if name != "bin/convert"} == {0o644}  # runtime, entry module too


def test_two_builds_are_byte_identical_and_a_mode_change_is_a_new_package(source: Path, tmp_path: Path) -> None:
    first = build_package(_function(source), "aws", tmp_path / "one")
    os.utime(source / "bin" / "convert", (1_000_000_000, 1_000_000_000))  # mtimes never reach the zip
    second = build_package(_function(source), "aws", tmp_path / "two")
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.sha256 == second.sha256

    (source / "bin" / "convert").chmod(0o644)  # same bytes, no longer executable: the cached zip must not be reused
    third = build_package(_function(source), "aws", tmp_path / "two")
    assert third.sha256 != first.sha256
    assert _modes(third.path)["bin/convert"] == 0o644


def test_the_local_cloud_deploys_executables_that_run(source: Path, tmp_path: Path) -> None:
    package = build_package(_function(source), "local", tmp_path / "build")
    code = _replace_code(tmp_path / "deployed", package.path)
    assert os.access(code / "bin" / "convert", os.X_OK)
    assert not os.access(code / "handler.py", os.X_OK)
    done = subprocess.run([str(code / "bin" / "convert"), "cat.png"], capture_output=True, text=True, check=True)
    assert done.stdout == "converted cat.png\n"
