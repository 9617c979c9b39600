"""jsii's kernel started directly (platform_sdk/cdk/kernel.py): one Node process, its output still reaches the user,
and a kernel that dies is a clear error, not a hang. Each case runs the real engine in its own interpreter (the
kernel is one per process and some cases kill it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.conftest import REPO


def _python(script: str, tmp_path: Path, **environ: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if name != "JSII_RUNTIME"}
    env = {**env, "PYTHONPATH": str(REPO), **environ}
    return subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)


def test_the_engine_runs_one_node_process_and_synthesizes(tmp_path: Path) -> None:
    result = _python("""
import json, psutil
from platform_sdk.cdk import engine, kernel
app = engine.App(outdir="out")
stack = engine.TerraformStack(app, "one")
engine.LocalBackend(stack, path="one.tfstate")
app.synth()
print(json.dumps([p.cmdline() for p in psutil.Process().children(recursive=True)]))
""", tmp_path)
    assert result.returncode == 0, result.stderr
    processes = json.loads(result.stdout.splitlines()[-1])
    assert len(processes) == 1, processes
    assert processes[0][-1].endswith("lib/program.js") and "--preserve-symlinks" in processes[0], processes
    assert json.loads((tmp_path / "out" / "stacks" / "one" / "cdk.tf.json").read_text())["terraform"]["backend"]


def test_node_options_reach_the_kernel(tmp_path: Path) -> None:
    result = _python("""
import psutil
from platform_sdk.cdk import engine
(node,) = psutil.Process().children()
print(node.environ().get("NODE_OPTIONS"))
""", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["--max-semi-space-size=2", "--jitless"]


def test_what_the_kernel_writes_reaches_stdout_and_stderr(tmp_path: Path) -> None:
    hello = tmp_path / "hello.js"
    hello.write_text('console.log("kernel says hello on stdout"); console.error("kernel says hello on stderr");\n')
    result = _python("""
from platform_sdk.cdk import engine
engine.App(outdir="out")  # the kernel still answers
print("python done")
""", tmp_path, NODE_OPTIONS=f"--require {hello}")
    assert result.returncode == 0, result.stderr
    assert "kernel says hello on stdout" in result.stdout
    assert "kernel says hello on stderr" in result.stderr
    assert "python done" in result.stdout
    assert "{\"stderr\"" not in result.stderr  # decoded, not the relay's JSON lines


def test_a_kernel_that_dies_is_a_clear_error(tmp_path: Path) -> None:
    result = _python("""
import os, signal, psutil
from platform_sdk.cdk import engine, kernel
(node,) = psutil.Process().children()
os.kill(node.pid, signal.SIGKILL)
try:
    engine.App(outdir="out")
except kernel.KernelExited as error:
    print("error:", error)
""", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "jsii kernel (node, pid" in result.stdout and "killed by signal 9" in result.stdout, result.stdout
    assert "Traceback" not in result.stderr, result.stderr  # jsii's stop at exit is quiet about the dead kernel


@pytest.mark.parametrize("environ", [{"JSII_RUNTIME": "relay"}, {}])
def test_jsii_starts_as_it_always_did_where_not_supported(tmp_path: Path, environ: dict[str, str]) -> None:
    """With the user's own runtime script, or jsii's relay no longer starting the kernel as the module expects,
    `install` leaves jsii alone: its relay runs, two Node processes."""
    setup = ("os.environ['JSII_RUNTIME'] = relay()" if environ else "kernel._RELAY_STDIO = 'something else'")
    result = _python(f"""
import os, psutil
from importlib import resources
from pathlib import Path
from jsii._embedded import jsii as embedded
from platform_sdk.cdk import kernel

def relay():
    for name, path in embedded.EMBEDDED_FILES.items():
        (Path("runtime") / path).parent.mkdir(parents=True, exist_ok=True)
        (Path("runtime") / path).write_bytes(resources.files(embedded).joinpath(name).read_bytes())
    return str(Path("runtime", embedded.EMBEDDED_FILES[embedded.ENTRYPOINT]).resolve())

{setup}
from platform_sdk.cdk import engine
print(len(psutil.Process().children(recursive=True)))
""", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "2"


def test_the_engine_starts_without_unittest_mock_and_typeguard_still_skips_mocks(tmp_path: Path) -> None:
    """platform_sdk/cdk/typeguard_import.py: typeguard imported with a stand-in `unittest.mock` that answers its one
    question (`isinstance(value, Mock)`) as the real class does, once the real module is imported."""
    result = _python("""
import sys
from platform_sdk.cdk import engine
import typeguard
print(sorted(m for m in sys.modules if m.split(".")[0] in ("asyncio", "ssl") or m == "unittest.mock"))
try:
    typeguard.check_type("argument", "text", int)
except TypeError:
    print("a wrong type is refused")
from unittest.mock import Mock
typeguard.check_type("argument", Mock(), int)
print("a mock passes", isinstance(Mock(), typeguard.Mock), isinstance(object(), typeguard.Mock))
""", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["[]", "a wrong type is refused", "a mock passes True False"]


def test_a_prestarted_kernel_is_the_one_jsii_uses(tmp_path: Path) -> None:
    """`kernel.prestart()` (the `platform` script, before anything else) starts Node without importing jsii; the
    engine's import adopts that process: still one Node process, the same one, and it synthesizes."""
    result = _python("""
import json, sys, psutil
from platform_sdk.cdk import kernel
kernel.prestart()
before = [p.pid for p in psutil.Process().children(recursive=True)]
assert "jsii" not in sys.modules
from platform_sdk.cdk import engine
after = [p.pid for p in psutil.Process().children(recursive=True)]
app = engine.App(outdir="out")
engine.LocalBackend(engine.TerraformStack(app, "one"), path="one.tfstate")
app.synth()
print(json.dumps([before, after]))
""", tmp_path)
    assert result.returncode == 0, result.stderr
    before, after = json.loads(result.stdout.splitlines()[-1])
    assert len(before) == 1 and after == before
    assert (tmp_path / "out" / "stacks" / "one" / "cdk.tf.json").is_file()


def test_a_prestarted_kernel_never_used_is_stopped_quietly(tmp_path: Path) -> None:
    result = _python("""
from platform_sdk.cdk import kernel
kernel.prestart()
print(kernel._early.pid, kernel._early.directory.name)
""", tmp_path)
    assert result.returncode == 0, result.stderr
    pid, directory = result.stdout.split()
    assert result.stderr == ""
    assert not Path(directory).exists()
    assert not psutil.pid_exists(int(pid)) or psutil.Process(int(pid)).status() == psutil.STATUS_ZOMBIE


def test_nothing_is_prestarted_with_the_users_own_runtime(tmp_path: Path) -> None:
    result = _python("""
from platform_sdk.cdk import kernel
kernel.prestart()
print(kernel._early)
""", tmp_path, JSII_RUNTIME="/nonexistent/jsii-runtime.js")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["None"]
