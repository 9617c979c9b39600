"""Engine parity: the example environments synthesize to the same Terraform JSON under `cdktf` and its maintained
fork `cdktn` (PLATFORM_CDK_ENGINE, platform_sdk/cdk/engine.py), except the engine's own version metadata.

Each engine runs in its own subprocess (the engine is chosen once, at import) on its own copy of the example
estate. Compared, file by file: every stack's `cdk.tf.json` and `manifest.json` with only `//.metadata.version`
and the manifest's `version` removed, and every function package's sha256 (nothing else is normalized).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, in_ci
from tools.golden import ENVS

pytestmark = pytest.mark.xdist_group("engine-parity")

SCRIPT = r"""
import json, sys, tempfile
from pathlib import Path
from platform_sdk.cdk import engine
from platform_sdk.envs import find_environment
from platform_sdk.loader import load_services
from platform_sdk.profile import load_profile
from platform_sdk.project import Project
from platform_sdk.synth.app import synthesize
from tools.golden import ENVS, estate_copy

found = {"engine": engine.cdk.__name__, "envs": {}}
with tempfile.TemporaryDirectory(prefix="platform-parity-") as tmp:
    project = Project(estate_copy(Path(tmp) / "estate"))
    services = load_services(project.services_dir)
    for name in ENVS:
        env = find_environment(project.envs_dir, name)
        result = synthesize(project, env, services, profile=load_profile(project, env))
        files = {}
        for path in sorted(result.outdir.rglob("*.json")):
            if path.name in ("cdk.tf.json", "manifest.json"):
                files[path.relative_to(result.outdir).as_posix()] = json.loads(path.read_text())
        packages = {f"{key}:{p.target}": p.sha256 for key, p in sorted(result.packages.items())}
        found["envs"][name] = {"files": files, "packages": packages}
Path(sys.argv[1]).write_text(json.dumps(found))
"""


def _installed(engine: str) -> bool:
    from importlib.util import find_spec

    return find_spec(engine) is not None


def _synthesize(engine: str, out: Path) -> dict[str, Any]:
    env = {**os.environ, "PLATFORM_CDK_ENGINE": engine, "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(out)], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, f"synthesis under {engine} failed:\n{run.stderr[-4000:]}"
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def _versions(doc: dict[str, Any]) -> dict[str, Any]:
    """Remove and return the engine's version metadata (the only part allowed to differ)."""
    found = {}
    meta = doc.get("//", {}).get("metadata", {})
    if "version" in meta:
        found["metadata.version"] = meta.pop("version")
    if "version" in doc:
        found["version"] = doc.pop("version")
    return found


def test_cdktf_and_cdktn_synthesize_the_same_terraform(tmp_path: Path) -> None:
    if not _installed("cdktn"):
        reason = "cdktn is not installed (pip install -e '.[test]' installs it)"
        if in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    results = {engine: _synthesize(engine, tmp_path / f"{engine}.json") for engine in ("cdktf", "cdktn")}
    assert results["cdktf"]["engine"] == "cdktf" and results["cdktn"]["engine"] == "cdktn", \
        "PLATFORM_CDK_ENGINE did not select the engine"
    versions: dict[str, set[str]] = {"cdktf": set(), "cdktn": set()}
    for name in ENVS:
        old, new = results["cdktf"]["envs"][name], results["cdktn"]["envs"][name]
        assert old["files"].keys() == new["files"].keys(), name
        assert len([k for k in old["files"] if k.endswith("cdk.tf.json")]) >= 3, f"{name}: too few stacks to prove"
        for rel in old["files"]:
            for engine, doc in (("cdktf", old["files"][rel]), ("cdktn", new["files"][rel])):
                versions[engine].update(map(str, _versions(doc).values()))
            assert old["files"][rel] == new["files"][rel], f"{name}: {rel} differs between cdktf and cdktn"
        assert old["packages"] == new["packages"], f"{name}: function packages differ"
    # The stripped metadata was there and does tell the engines apart: the comparison above is not vacuous.
    assert versions["cdktf"] and versions["cdktn"] and versions["cdktf"] != versions["cdktn"], versions
