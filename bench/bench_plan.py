"""Plan benchmark: how much running independent stacks in parallel saves on `platform plan`.

Generates a project of N independent services (default 12), each a bucket plus a function reading it on the
local cloud, so every service is one stack with no dependencies; applies it once (plans then normally show no
changes; if the runtime sources change meanwhile, function packages differ and plans show updates, which costs
the same); then, in the same run and
alternating the order to spread drift in machine load, times

* the runner alone (`EnvironmentRunner.plan`: init + plan + show per stack) at the default parallelism and
  at parallelism 1, on one synthesized output;
* the whole CLI (`platform plan --env bench --all`, which also synthesizes) the same two ways, for orientation.

Prints a table and the ratio parallel / serial (goal <= 0.6 on 2 cores) and writes bench/results/plan.json.
Not a test: nothing asserts the goal. Terraform: $PLATFORM_TERRAFORM, else `scripts/install_terraform.sh`.

Run:  .venv/bin/python bench/bench_plan.py [--services 12] [--repeat 3] [--parallelism 4]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
WORK = REPO / ".platform" / "bench-plan"
RESULTS = BENCH_DIR / "results" / "plan.json"
PLATFORM = Path(sys.executable).parent / "platform"
GOAL = 0.6

SERVICE = '''"""Benchmark service {n}: a bucket and a function that reads it."""

from platform_sdk import Bucket, Function, Service, http

service = Service("svc{n:02d}", owner="bench", description="plan benchmark")
data = service.add(Bucket("data"))
api = service.add(Function("api", handler="api.handle", source="functions/bench", triggers=[http()]))
api.reads(data)
'''

FUNCTION = '''"""Benchmark function."""

from platform_sdk.runtime import HttpRequest, HttpResponse


def handle(request: HttpRequest) -> HttpResponse:
    return HttpResponse(200, {"ok": True})
'''

ENV = '''name_prefix = "acme"
default_cloud = "local"

[clouds.local]
root = ".platform/localcloud"

[state]
backend = "local"
path = ".platform/state"
'''


def terraform() -> Path:
    explicit = os.environ.get("PLATFORM_TERRAFORM")
    if explicit:
        return Path(explicit)
    dest = REPO / ".platform" / "bin"
    subprocess.run(["bash", str(REPO / "scripts" / "install_terraform.sh"), str(dest)], check=True)
    return dest / "terraform"


def make_project(services: int) -> Path:
    """A fresh project: N independent services on the local cloud, local state."""
    if WORK.exists():
        shutil.rmtree(WORK)
    (WORK / "services" / "functions" / "bench").mkdir(parents=True)
    (WORK / "envs").mkdir()
    (WORK / "envs" / "bench.toml").write_text(ENV)
    (WORK / "services" / "functions" / "bench" / "api.py").write_text(FUNCTION)
    for n in range(1, services + 1):
        (WORK / "services" / f"svc{n:02d}.py").write_text(SERVICE.format(n=n))
    return WORK


def cli(tf: Path, *args: str) -> float:
    """Run `platform ARGS --project WORK`; returns wall seconds (raises on an unexpected exit code)."""
    env = {**os.environ, "PLATFORM_TERRAFORM": str(tf)}
    start = time.perf_counter()
    proc = subprocess.run([str(PLATFORM), args[0], "--project", str(WORK), *args[1:]], env=env,
                          capture_output=True, text=True)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"platform {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return took


def children_cpu() -> float:
    """CPU seconds used so far by finished child processes (Terraform and, through it, the provider)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def runner_plan(tf: Path, parallelism: int) -> tuple[float, float]:
    """Time EnvironmentRunner.plan() alone on the already synthesized output; returns (wall, child CPU)."""
    from platform_sdk.synth.app import read_metadata
    from platform_sdk.terraform.binary import terraform_env
    from platform_sdk.terraform.process import Terraform
    from platform_sdk.terraform.runner import EnvironmentRunner

    outdir = WORK / "cdktf.out" / "bench"
    runner = EnvironmentRunner(outdir, read_metadata(outdir), Terraform(tf, terraform_env(WORK)),
                               parallelism=parallelism)
    start, cpu = time.perf_counter(), children_cpu()
    results = runner.plan()
    took, cpu = time.perf_counter() - start, children_cpu() - cpu
    bad = [f"{r.name}: {r.status} {r.error or ''}" for r in results if r.status not in ("no-changes", "changes")]
    if bad:
        sys.exit("plan failed:\n" + "\n".join(bad))
    return took, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--parallelism", type=int, default=4, help="the default parallelism to compare")
    args = parser.parse_args()

    tf = terraform()
    make_project(args.services)
    print(f"project: {WORK} ({args.services} services, one stack each, no dependencies)")
    apply_seconds = cli(tf, "apply", "--env", "bench", "--auto-approve")
    print(f"initial apply: {apply_seconds:.1f}s")

    runs: dict[str, list[float]] = {"runner_p": [], "runner_1": [], "cli_p": [], "cli_1": [], "cpu_p": [],
                                    "cpu_1": []}
    for i in range(args.repeat):
        order = [args.parallelism, 1] if i % 2 == 0 else [1, args.parallelism]
        for p in order:
            key = "p" if p != 1 else "1"
            # --all: after the apply every stack is unchanged, and a plan of what changed would run no Terraform
            runs[f"cli_{key}"].append(cli(tf, "plan", "--env", "bench", "--all", "--parallelism", str(p)))
            wall, cpu = runner_plan(tf, p)
            runs[f"runner_{key}"].append(wall)
            runs[f"cpu_{key}"].append(cpu)
            print(f"  run {i + 1}: parallelism {p}: cli {runs[f'cli_{key}'][-1]:.1f}s, "
                  f"runner {runs[f'runner_{key}'][-1]:.1f}s", flush=True)

    med = {k: statistics.median(v) for k, v in runs.items()}
    ratio_runner = med["runner_p"] / med["runner_1"]
    ratio_cli = med["cli_p"] / med["cli_1"]
    load = os.getloadavg()
    print()
    print(f"{'':28}{'parallelism ' + str(args.parallelism):>16}{'parallelism 1':>16}{'ratio':>8}")
    print(f"{'runner plan (median s)':28}{med['runner_p']:>16.1f}{med['runner_1']:>16.1f}{ratio_runner:>8.2f}")
    print(f"{'platform plan CLI (median s)':28}{med['cli_p']:>16.1f}{med['cli_1']:>16.1f}{ratio_cli:>8.2f}")
    print(f"{'runner CPU, all processes':28}{med['cpu_p']:>16.1f}{med['cpu_1']:>16.1f}")
    cores = os.cpu_count() or 1
    floor = max(med["cpu_p"] / cores, med["runner_1"] / args.services) / med["runner_1"]
    print(f"idle-machine floor for the runner ratio (CPU / {cores} cores vs serial wall): {floor:.2f}")
    print(f"goal: ratio <= {GOAL} on 2 cores; this machine: {os.cpu_count()} cores, "
          f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {
        "command": " ".join(sys.argv), "services": args.services, "parallelism": args.parallelism,
        "repeat": args.repeat, "cores": os.cpu_count(), "machine": platform.platform(), "load_average": load,
        "terraform": str(tf), "initial_apply_seconds": apply_seconds, "runs": runs, "median": med,
        "ratio_runner": ratio_runner, "ratio_cli": ratio_cli, "goal": GOAL, "floor": floor,
    }
    RESULTS.write_text(json.dumps(data, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
