"""A new user's first minutes, from a wheel of this repository (issue 17): in a fresh virtualenv, in a directory
outside the repository, `platform init`, `platform apply --env local`, then the example function called through
`platform dev` on a free port.

The wheel is built with `pip wheel . --no-deps`; its dependencies come from the package index (pip's cache makes
a second run fast). Nothing of this checkout is importable by the new virtualenv: it runs the installed wheel.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.terraform_fixtures import tf_binary_fixture  # noqa: F401 - registers the tf_binary fixture

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.e2e


def run(args: list[str | Path], cwd: Path, env: dict[str, str], timeout: float = 900,
        stdin: int | None = subprocess.DEVNULL) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, stdin=stdin, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, args))}: exit {done.returncode}\n{done.stdout[-4000:]}\n" \
                                 f"{done.stderr[-4000:]}"
    return done


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def request(url: str, data: bytes | None = None) -> tuple[int, dict[str, object]]:
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    with urllib.request.urlopen(req, timeout=30) as response:  # noqa: S310 - 127.0.0.1 only
        return response.status, json.loads(response.read())


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with this repository's wheel installed (and its dependencies)."""
    base = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PLATFORM_PROJECT", "VIRTUAL_ENV")}
    run([sys.executable, "-m", "pip", "wheel", REPO, "--no-deps", "-q", "-w", base / "dist"], base, env)
    (wheel,) = (base / "dist").glob("platform_sdk-*.whl")
    run([sys.executable, "-m", "venv", base / "venv"], base, env)
    run([base / "venv" / "bin" / "python", "-m", "pip", "install", "-q", "--prefer-binary", wheel], base, env,
        timeout=1800)
    return base / "venv"


def test_init_apply_and_call_the_example_through_platform_dev(venv: Path, tmp_path: Path, tf_binary: Path) -> None:
    project = tmp_path / "My Shop"
    project.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PLATFORM_PROJECT", "VIRTUAL_ENV")}
    env |= {"PLATFORM_TERRAFORM": str(tf_binary), "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"}
    platform = venv / "bin" / "platform"

    where = run([venv / "bin" / "python", "-c", "import platform_sdk; print(platform_sdk.__file__)"], project, env)
    assert where.stdout.startswith(str(venv)), f"the wheel is not what runs: {where.stdout}"

    init = run([platform, "init"], project, env)  # not interactive: the prefix is derived and announced
    prefix = re.search(r"name_prefix = '([a-z0-9-]+)' \(derived from the directory name", init.stdout)
    assert prefix and prefix.group(1).startswith("my-shop-"), init.stdout
    assert f'name_prefix = "{prefix.group(1)}"' in (project / "envs" / "local.toml").read_text()

    run([platform, "apply", "--env", "local", "--auto-approve"], project, env)

    port = free_port()
    dev = subprocess.Popen([str(platform), "dev", "--env", "local", "--port", str(port)], cwd=project, env=env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/fn/{prefix.group(1)}-local-hello-api"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                status, body = request(url)
                break
            except OSError as err:
                if dev.poll() is not None or time.monotonic() > deadline:
                    dev.terminate()
                    output = dev.communicate(timeout=20)[0]
                    raise AssertionError(f"platform dev did not serve {url}: {output}") from err
                time.sleep(0.5)
        assert (status, body["greeting"]) == (200, "hello"), body
        status, body = request(url, b"first note")
        assert status == 201 and body["bytes"] == len(b"first note"), body
        buckets = project / ".platform" / "localcloud" / "local" / "local" / "buckets"
        bucket = buckets / f"{prefix.group(1)}-local-hello-notes"
        assert (bucket / str(body["saved"])).read_bytes() == b"first note"
    finally:
        dev.terminate()
        try:
            dev.wait(timeout=20)
        except subprocess.TimeoutExpired:
            dev.kill()
