"""jsii's kernel started directly (platform_sdk/cdk/kernel.py): one Node process, its output still reaches the user,
and a kernel that dies is a clear error, not a hang. Each case runs the real engine in its own interpreter (the
kernel is one per process and some cases kill it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import psutil
import pytest

from tests.conftest import REPO


def _python(script: str, tmp_path: Path, **environ: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if name not in ("JSII_RUNTIME", "TERRAFORM_BINARY_NAME")}
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
import zipfile
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


_LOADED_AT_EXIT = """
const fs = require("fs");
process.on("exit", () => fs.writeFileSync(process.env.LOADED_MODULES_FILE, JSON.stringify(Object.keys(require.cache))));
"""


def _fake_terraform(folder: Path, version: str) -> Path:
    """A `terraform` in `folder` that answers `terraform version` with `version` (what cdktf's validations read)."""
    folder.mkdir(parents=True, exist_ok=True)
    binary = folder / "terraform"
    binary.write_text(f"#!/bin/sh\necho 'Terraform v{version}'\n")
    binary.chmod(0o755)
    return binary


def _loaded_modules(tmp_path: Path, script: str, terraform_version: str,
                    on_path: str | None = None) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run `script` with the kernel reporting, as it exits, every module Node loaded; the Terraform `platform` runs
    (PLATFORM_TERRAFORM) answers `terraform version` with `terraform_version`; `on_path`: a `terraform` of that
    version first on PATH too."""
    probe, loaded = tmp_path / "probe.js", tmp_path / "loaded.json"
    probe.write_text(_LOADED_AT_EXIT)
    binary = _fake_terraform(tmp_path / f"platform-terraform-{terraform_version}", terraform_version)
    path = os.environ["PATH"]
    if on_path is not None:
        path = f"{_fake_terraform(tmp_path / f'path-terraform-{on_path}', on_path).parent}{os.pathsep}{path}"
    result = _python(script, tmp_path, NODE_OPTIONS=f"--require {probe}", LOADED_MODULES_FILE=str(loaded),
                     PLATFORM_TERRAFORM=str(binary), PATH=path)
    return result, json.loads(loaded.read_text()) if loaded.exists() else []


def _uses(modules: list[str], package: str) -> bool:
    return any(f"{os.sep}node_modules{os.sep}{package}{os.sep}" in module for module in modules)


def test_a_synthesis_of_files_never_loads_archiver_or_semver(tmp_path: Path) -> None:
    """cdktf requires both when it loads; the kernel defers them to first use (platform_sdk/cdk/deferred_requires.js):
    ~80 ms of Node's CPU per synthesis that a stack of files and resources never needs."""
    (tmp_path / "package.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    result, modules = _loaded_modules(tmp_path, """
import os
from platform_sdk.cdk import engine
app = engine.App(outdir="out")
stack = engine.TerraformStack(app, "one")
engine.LocalBackend(stack, path="one.tfstate")
engine.TerraformAsset(stack, "package", path=os.path.abspath("package.zip"), type=engine.AssetType.FILE)
app.synth()
""", "1.0.3")
    assert result.returncode == 0, result.stderr
    assert _uses(modules, "cdktf") and _uses(modules, "constructs"), modules  # the probe saw the kernel's modules
    assert not _uses(modules, "archiver") and not _uses(modules, "semver"), [
        m for m in modules if "archiver" in m or "semver" in m]
    assert list((tmp_path / "out" / "stacks" / "one" / "assets" / "package").glob("*/package.zip"))


def test_archive_assets_and_version_validations_still_work_once_deferred(tmp_path: Path) -> None:
    """What the deferred modules are for works as before: an ARCHIVE asset is zipped (cdktf runs its
    `private/fs.js` as a child Node, which loads archiver there), a construct that needs Terraform >= 1.4 is refused
    under 1.3.0 and accepted under 1.6.0 (semver, loaded in the kernel on that first use)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<h1>hello</h1>")
    script = """
import os
from platform_sdk.cdk import engine
app = engine.App(outdir="out")
stack = engine.TerraformStack(app, "one")
engine.LocalBackend(stack, path="one.tfstate")
engine.TerraformAsset(stack, "site", path=os.path.abspath("site"), type=engine.AssetType.ARCHIVE)
engine.cdk.DataResource(stack, "marker", input={"a": "b"})  # terraform_data: cdktf validates Terraform >= 1.4
app.synth()
"""
    refused, _ = _loaded_modules(tmp_path, script, "1.3.0")
    assert refused.returncode != 0
    assert "terraform version 1.3.0 is lower than the required version >=1.4" in refused.stderr, refused.stderr[-2000:]

    accepted, modules = _loaded_modules(tmp_path, script, "1.6.0")
    assert accepted.returncode == 0, accepted.stderr[-2000:]
    assert _uses(modules, "semver") and not _uses(modules, "archiver"), modules  # cdktf zips in a child Node
    [archive] = (tmp_path / "out" / "stacks" / "one" / "assets" / "site").glob("*/archive.zip")
    with zipfile.ZipFile(archive) as zipped:
        assert zipped.read("index.html") == b"<h1>hello</h1>"


def test_cdktfs_version_checks_ask_the_terraform_platform_runs(tmp_path: Path) -> None:
    """CDKTF runs `$TERRAFORM_BINARY_NAME version` (`terraform` on PATH by default); `platform` runs PLATFORM_TERRAFORM:
    a construct needing Terraform >= 1.4 passed CDKTF's check against a newer `terraform` on PATH and then failed the
    plan on the older one platform runs. Now the check asks the one platform runs."""
    (tmp_path / "site").mkdir()
    script = """
from platform_sdk.cdk import engine
app = engine.App(outdir="out")
stack = engine.TerraformStack(app, "one")
engine.LocalBackend(stack, path="one.tfstate")
engine.cdk.DataResource(stack, "marker", input={"a": "b"})
app.synth()
"""
    refused, _ = _loaded_modules(tmp_path, script, "1.3.0", on_path="1.6.0")
    assert refused.returncode != 0
    assert "version 1.3.0 is lower than the required version >=1.4" in refused.stderr, refused.stderr[-2000:]


def test_the_terraform_for_cdktf_reaches_the_kernel_only(tmp_path: Path) -> None:
    """TERRAFORM_BINARY_NAME is set for the kernel alone: left in this process's environment it reached every later
    child (Terraform, a user's tests) and a later engine, which then kept it over its own PLATFORM_TERRAFORM."""
    binary = _fake_terraform(tmp_path / "tf", "1.6.0")
    result = _python("""
import os, psutil
from platform_sdk.cdk import engine
(node,) = psutil.Process().children()
print(node.environ().get("TERRAFORM_BINARY_NAME"), os.environ.get("TERRAFORM_BINARY_NAME"))
""", tmp_path, PLATFORM_TERRAFORM=str(binary))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(binary), "None"]


def _synth_assets(tmp_path: Path, sources: dict[str, Path]) -> subprocess.CompletedProcess[str]:
    lines = "\n".join(f"engine.TerraformAsset(stack, {name!r}, path={str(path)!r}, type=engine.AssetType.FILE)"
                      for name, path in sources.items())
    return _python(f"""
from platform_sdk.cdk import engine
app = engine.App(outdir="out")
stack = engine.TerraformStack(app, "one")
engine.LocalBackend(stack, path="one.tfstate")
{lines}
app.synth()
""", tmp_path)


def _placed(tmp_path: Path, name: str) -> Path:
    [placed] = (tmp_path / "out" / "stacks" / "one" / "assets" / name).glob("*/*")
    return placed


def test_file_assets_are_hard_links_to_the_built_files_and_keep_their_bytes(tmp_path: Path) -> None:
    """cdktf copies each FILE asset into the stack's folder; the kernel makes it a hard link where it can
    (platform_sdk/cdk/asset_links.js): ~35 ms of system CPU per 70 packages on this disk. A package rebuilt later is a
    new file (write_zip renames it into place), so the synthesized output keeps the bytes it was made with."""
    from platform_sdk.synth.assets import write_zip

    built = tmp_path / "build" / "fn.zip"
    write_zip({"app.py": b"v = 1\n"}, built)
    result = _synth_assets(tmp_path, {"package": built})
    assert result.returncode == 0, result.stderr
    placed = _placed(tmp_path, "package")
    assert os.path.samefile(placed, built) and placed.stat().st_nlink == 2
    first = placed.read_bytes()

    write_zip({"app.py": b"v = 2\n"}, built)  # the next build of the package
    assert placed.read_bytes() == first and built.read_bytes() != first
    with zipfile.ZipFile(placed) as zipped:
        assert zipped.read("app.py") == b"v = 1\n"


def test_a_file_asset_that_cannot_be_linked_is_copied_as_cdktf_does(tmp_path: Path) -> None:
    """A symbolic link is followed (copyFileSync reads its target), and a source on another file system (no hard
    link across file systems: EXDEV) is copied; each placed file has the source's bytes."""
    real = tmp_path / "real.zip"
    real.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    (tmp_path / "link.zip").symlink_to(real)
    sources = {"viasymlink": tmp_path / "link.zip"}
    shm = Path("/dev/shm")
    other = None
    if shm.is_dir() and os.access(shm, os.W_OK) and shm.stat().st_dev != tmp_path.stat().st_dev:
        other = shm / f"platform-test-{os.getpid()}.zip"
        other.write_bytes(b"PK\x05\x06" + b"\1" * 18)
        sources["elsewhere"] = other
    try:
        result = _synth_assets(tmp_path, sources)
        assert result.returncode == 0, result.stderr
        placed = _placed(tmp_path, "viasymlink")
        assert not placed.is_symlink() and placed.read_bytes() == real.read_bytes()
        assert placed.stat().st_ino != real.stat().st_ino
        if other is not None:
            copied = _placed(tmp_path, "elsewhere")
            assert copied.read_bytes() == other.read_bytes() and copied.stat().st_nlink == 1
    finally:
        if other is not None:
            other.unlink()
