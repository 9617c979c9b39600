"""What refreshing a stack of local cloud functions costs, with and without the code signature.

Why this exists: the local cloud provider's function `read` (localcloud/function.py) compares the deployed code with
what it deployed, so code edited in place is drift. It hashed every file of every function on every refresh (every
`platform plan` and `drift`); now it compares a signature of the files from `stat` (recorded at deploy) and hashes
only when that differs. This script deploys `--functions` functions (default 50) through a real Terraform and the
real provider, each from one package of `--files` files of `--kb` KB, then alternates, `--rounds` times:

* **with signature**: `terraform plan -refresh-only` as deployed (the registry entries carry `code_signature`);
* **without**: the same with `code_signature` removed from every entry: the read of a function deployed before the
  change, every file hashed (by today's code, which lists the files with `os.scandir`);
* **before** (with `--before-tree DIR`, a checkout of the commit before the change, e.g. `git archive 9e4a8e9
  platform_sdk | tar -x -C DIR`): the provider run from DIR, every file hashed as it was (`Path.rglob`).

For each it reports the CPU of Terraform's process tree (provider included: `RUSAGE_CHILDREN`) and the wall time,
medians (min-max), plus the read alone in this process (`code_changed` over every function, the same two ways), and
the load average at start and end. Not a test: nothing is asserted.

Run:  .venv/bin/python bench/bench_function_read.py [--functions 50] [--files 4] [--kb 1] [--rounds 5]
                                                    [--before-tree DIR]
Terraform: $PLATFORM_TERRAFORM, else <repo>/.platform/bin/terraform.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import statistics
import subprocess
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def _package(path: Path, files: int, kb: int) -> str:
    """A deterministic zip of `files` Python files of `kb` KB each; its sha256."""
    import hashlib

    rng = random.Random(files * 1000 + kb)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo("main.py", date_time=(1980, 1, 1, 0, 0, 0)),
                    "def handler(event, context):\n    return {'ok': 1}\n")
        for index in range(files - 1):
            body = "".join(f"# {rng.getrandbits(64):016x}\n" for _ in range(kb * 1024 // 19))
            zf.writestr(zipfile.ZipInfo(f"lib/mod{index:04d}.py", date_time=(1980, 1, 1, 0, 0, 0)), body)
    path.write_bytes(buf.getvalue())
    return hashlib.sha256(buf.getvalue()).hexdigest()


def _config(root: Path, count: int, package_hash: str) -> dict[str, object]:
    from platform_sdk.localcloud import mirror

    return {
        "terraform": {"required_providers": {"localcloud": {"source": mirror.PROVIDER_SOURCE,
                                                            "version": mirror.PROVIDER_VERSION}}},
        "provider": {"localcloud": {"root": str(root), "gateway_port": 8799, "databases": "sqlite"}},
        "resource": {"localcloud_function": {
            f"fn{i:03d}": {"name": f"fn{i:03d}", "handler": "main.handler", "runtime": "python3.11",
                           "package": "fn.zip", "package_hash": package_hash} for i in range(count)}},
    }


def _run(terraform: str, work: Path, env: dict[str, str], *args: str) -> tuple[float, float]:
    """(CPU of the process tree, wall) of one Terraform command, which must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([terraform, *args], cwd=work, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"terraform {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    if "refresh-only" in args and "No changes" not in proc.stdout:
        raise SystemExit(f"the refresh found changes:\n{proc.stdout}")
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, wall


def _entries(root: Path) -> list[Path]:
    return sorted((root / "functions").glob("*/function.json"))


def _set_signatures(root: Path, signed: dict[Path, str], keep: bool) -> None:
    for path in _entries(root):
        entry = json.loads(path.read_text())
        if keep:
            entry["code_signature"] = signed[path]
        else:
            entry.pop("code_signature", None)
        path.write_text(json.dumps(entry, indent=2))


def _old_read(tree: Path) -> Callable[[Path, dict[str, Any]], bool]:
    """The read of `tree`'s localcloud/function.py: its `code_digest` compared with the recorded one."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("before_function", tree / "platform_sdk/localcloud/function.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return lambda fn_dir, entry: bool(module.code_digest(fn_dir / "code") != entry["code_digest"])


def _summary(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} s ({min(values):.3f}-{max(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--functions", type=int, default=50)
    parser.add_argument("--files", type=int, default=4, help="files per function package (example's: 3-5)")
    parser.add_argument("--kb", type=int, default=1, help="KB per file")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--before-tree", type=Path, help="a checkout of the commit before the change (its provider)")
    args = parser.parse_args()

    from platform_sdk.localcloud.function import code_changed
    from platform_sdk.terraform.binary import terraform_env

    terraform = os.environ.get("PLATFORM_TERRAFORM") or str(REPO / ".platform" / "bin" / "terraform")
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-fnread-") as tmp:
        work, root = Path(tmp) / "stack", Path(tmp) / "cloud"
        work.mkdir()
        env = terraform_env(work, cache_dir=Path(tmp) / "cache")
        package_hash = _package(work / "fn.zip", args.files, args.kb)
        (work / "main.tf.json").write_text(json.dumps(_config(root, args.functions, package_hash)))
        _run(terraform, work, env, "init", "-no-color", "-input=false")
        _run(terraform, work, env, "apply", "-auto-approve", "-no-color", "-input=false")
        signed = {path: json.loads(path.read_text())["code_signature"] for path in _entries(root)}
        print(f"{args.functions} functions x {args.files} files x {args.kb} KB, {args.rounds} rounds, "
              f"load average at start {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}")
        variants: list[tuple[str, bool, dict[str, str], Callable[[Path, dict[str, Any]], bool]]] = [
            ("with signature", True, env, code_changed), ("without", False, env, code_changed)]
        if args.before_tree is not None:
            variants.append(("before", True, {**env, "PYTHONPATH": str(args.before_tree.resolve())},
                             _old_read(args.before_tree)))
        figures: dict[str, dict[str, list[float]]] = {name: {"cpu": [], "wall": [], "read": []}
                                                      for name, *_ in variants}
        for _ in range(args.rounds):
            for name, keep, run_env, read in variants:
                _set_signatures(root, signed, keep)
                cpu, wall = _run(terraform, work, run_env, "plan", "-refresh-only", "-no-color", "-input=false")
                figures[name]["cpu"].append(cpu)
                figures[name]["wall"].append(wall)
                entries = [(path.parent, json.loads(path.read_text())) for path in _entries(root)]
                start = time.process_time()
                assert not any(read(fn_dir, entry) for fn_dir, entry in entries)
                figures[name]["read"].append(time.process_time() - start)
        for name, found in figures.items():
            print(f"  {name:<14} refresh CPU {_summary(found['cpu'])}  wall {_summary(found['wall'])}  "
                  f"read of every function, CPU in-process {_summary(found['read'])}")
    load_end = os.getloadavg()
    print(f"load average at end {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}")


if __name__ == "__main__":
    main()
