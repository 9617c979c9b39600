"""Golden files of the example estate: what every environment synthesizes to, kept in `tests/golden/`.

Written before a refactor, they prove it changed no behaviour: `tests/test_golden.py` synthesizes every
example environment again and compares with these files. Run `python tools/golden.py` to bless a change
that is meant to alter the output (the diff of `tests/golden/` then shows exactly what changed).

A second set, `tests/golden-wide/`, covers a generated estate (tools/wide_estate.py) with what the example
estate lacks: references between stacks, functions of Terraform, provider aliases, module backings, federation.

What is recorded, per environment:
- every stack's `cdk.tf.json`, with the engine's version metadata removed and every function package's
  hash replaced by a stable placeholder (`<package:SERVICE.FUNCTION:sha256>`): a package's bytes change
  whenever the shipped runtime changes, which the listing below shows file by file;
- `manifest.json` without the engine version;
- `packages.json`: each package's file listing, first-party files (the function's own code, the shipped
  runtime, the entry module, the metadata) by name with the sha256 of user files; third-party
  dependencies vendored into AWS packages by top-level name only (unpinned runtime dependencies float).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
GOLDEN_DIR = REPO / "tests" / "golden"
ENVS = ("local", "dev", "staging", "prod")
WIDE_GOLDEN_DIR = REPO / "tests" / "golden-wide"
"""Golden files of the generated wide estate (tools/wide_estate.py): cross-stack references, modules, federation."""
METADATA_FILE = "_platform_function.json"
FIRST_PARTY_PREFIXES = ("platform_sdk/", "_platform_", "main.py", "requirements.txt")


def _replace_strings(value: Any, replacements: dict[str, str]) -> Any:
    if isinstance(value, str):
        for old, new in replacements.items():
            if old in value:
                value = value.replace(old, new)
        return value
    if isinstance(value, list):
        return [_replace_strings(v, replacements) for v in value]
    if isinstance(value, dict):
        return {_replace_strings(k, replacements): _replace_strings(v, replacements) for k, v in value.items()}
    return value


def _strip_engine_version(doc: dict[str, Any]) -> dict[str, Any]:
    meta = doc.get("//", {}).get("metadata", {})
    meta.pop("version", None)
    doc.pop("version", None)
    return doc


def package_listing(zip_path: Path, source_dir: Path) -> dict[str, Any]:
    """First-party files by name (user files with their sha256); vendored third-party files per top directory."""
    user_files = {p.relative_to(source_dir).as_posix() for p in source_dir.rglob("*") if p.is_file()}
    files: dict[str, str] = {}
    vendored: set[str] = set()
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            name = info.filename
            if name in user_files or name == METADATA_FILE:
                files[name] = hashlib.sha256(archive.read(name)).hexdigest()
            elif name.startswith(FIRST_PARTY_PREFIXES):
                files[name] = "platform"
            else:  # a vendored distribution: its name, not its version (unpinned runtime deps float)
                vendored.add(re.sub(r"-[^-]+\.dist-info$", ".dist-info", name.split("/", 1)[0]))
    return {"files": dict(sorted(files.items())), "vendored": sorted(vendored)}


def snapshot(env_name: str, workdir: Path, conformance: bool = True) -> dict[str, Any]:
    """Synthesize one environment of a copy of the example estate; return {relative path: content}.
    `conformance=False`: an estate shaped only to exercise the compilers (the wide estate), not to work."""
    from platform_sdk.envs import find_environment
    from platform_sdk.loader import load_services
    from platform_sdk.profile import load_profile
    from platform_sdk.project import Project
    from platform_sdk.synth.app import synthesize

    project = Project(workdir)
    env = find_environment(project.envs_dir, env_name)
    services = load_services(project.services_dir)
    result = synthesize(project, env, services, profile=load_profile(project, env), conformance=conformance)
    out: dict[str, Any] = {}
    replacements: dict[str, str] = {}
    listings: dict[str, Any] = {}
    for key, package in sorted(result.packages.items()):
        label = f"<package:{key}:{package.target}>"
        replacements[package.sha256] = label
        replacements[base64.b64encode(bytes.fromhex(package.sha256)).decode()] = label
        listings[f"{key}:{package.target}"] = package_listing(package.path, package.function.source_dir)
    for stack_dir in sorted((result.outdir / "stacks").iterdir()):
        doc = json.loads((stack_dir / "cdk.tf.json").read_text())
        out[f"stacks/{stack_dir.name}/cdk.tf.json"] = _replace_strings(_strip_engine_version(doc), replacements)
    out["manifest.json"] = _strip_engine_version(json.loads((result.outdir / "manifest.json").read_text()))
    out["packages.json"] = listings
    return out


def estate_copy(dest: Path) -> Path:
    """services/ and envs/ of the example estate in a fresh project, sharing the wheel cache (a pure speed-up)."""
    shutil.copytree(REPO / "services", dest / "services", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "envs", dest / "envs")
    _share_vendor_cache(dest)
    return dest


def snapshots(envs: tuple[str, ...] = ENVS) -> dict[str, dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="platform-golden-") as tmp:
        root = estate_copy(Path(tmp) / "estate")
        return {env: snapshot(env, root) for env in envs}


def _share_vendor_cache(root: Path) -> None:
    shared = Path(os.environ.get("PLATFORM_VENDOR_CACHE", REPO / ".platform" / "vendor"))
    shared.mkdir(parents=True, exist_ok=True)
    (root / ".platform").mkdir(exist_ok=True)
    (root / ".platform" / "vendor").symlink_to(shared, target_is_directory=True)


def wide_snapshots(envs: tuple[str, ...] | None = None) -> dict[str, dict[str, Any]]:
    """Every environment of the generated wide estate (tools/wide_estate.py), synthesized in a fresh copy."""
    from tools import wide_estate

    with tempfile.TemporaryDirectory(prefix="platform-golden-wide-") as tmp:
        root = wide_estate.write_project(Path(tmp) / "estate")
        _share_vendor_cache(root)
        return {env: snapshot(env, root, conformance=False) for env in (envs or tuple(wide_estate.ENVS))}


def dump(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True) + "\n"


def write(golden_dir: Path, snapshots_by_env: dict[str, dict[str, Any]]) -> None:
    for env, files in snapshots_by_env.items():
        target = golden_dir / env
        if target.exists():
            shutil.rmtree(target)
        for rel, content in files.items():
            path = target / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(dump(content))
        print(f"golden: wrote {len(files)} files for {env} into {target.relative_to(REPO)}")


def main() -> int:
    write(GOLDEN_DIR, snapshots())
    write(WIDE_GOLDEN_DIR, wide_snapshots())
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
