"""Bucket copy throughput: platform_sdk.move.copy_bucket vs rclone, on the same emulators and objects.

Not a test. Starts moto and gcp-storage-emulator as their own processes (so neither tool shares a
GIL with them), seeds one deterministic object set, then for each scenario copies it into a fresh
destination bucket with each tool in turn (alternating, --repeat times), checks every run with
verify_bucket, and prints MB/s and objects/s (median run) plus a JSON file.

    .venv/bin/python bench/bench_copy.py [--objects 200] [--workers 8] [--repeat 3] [--out FILE]

Needs rclone on PATH (Debian: apt-get install -y rclone); without it only our engine is measured.
Emulators are single-process Python servers: the absolute figures measure them as much as the
copiers; the comparison between tools on the same emulator is the point.
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
import time
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python bench/bench_copy.py` puts only bench/ on sys.path

from platform_sdk.move import Journal, copy_bucket, verify_bucket  # noqa: E402
from platform_sdk.providers.aws.runtime.buckets import S3Bucket  # noqa: E402
from platform_sdk.providers.gcp.runtime.buckets import GcsBucket  # noqa: E402
from platform_sdk.providers.local.runtime.buckets import LocalBucket  # noqa: E402
from platform_sdk.runtime.buckets import BucketClient  # noqa: E402
from tests.emulators import FAKE_AWS_ENV, make_object_set, seed_bucket, start_gcs, start_moto  # noqa: E402


@dataclass
class Run:
    seconds: float
    cpu_seconds: float
    ok: bool
    note: str = ""


@dataclass
class Result:
    scenario: str
    tool: str
    objects: int
    bytes: int
    runs: list[Run] = field(default_factory=list)

    @property
    def median_s(self) -> float:
        good = [r.seconds for r in self.runs if r.ok]
        return statistics.median(good) if good else float("nan")

    def to_dict(self) -> dict[str, Any]:
        med = self.median_s
        return {
            "scenario": self.scenario,
            "tool": self.tool,
            "objects": self.objects,
            "bytes": self.bytes,
            "median_seconds": round(med, 3),
            "mb_per_s": round(self.bytes / 1e6 / med, 2) if med == med else None,
            "objects_per_s": round(self.objects / med, 1) if med == med else None,
            "all_runs_verified": all(r.ok for r in self.runs),
            "runs": [vars(r) for r in self.runs],
        }


def rclone_env(s3_url: str, gcs_url: str) -> dict[str, str]:
    """Remotes from env vars only: s3src/s3dst on moto, gcsdst on the GCS emulator (anonymous)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RCLONE_")}
    # rclone's AWS SDK refuses AWS_CA_BUNDLE with its own transport ("LoadCustomCABundleError").
    env.pop("AWS_CA_BUNDLE", None)
    env["RCLONE_CONFIG"] = os.devnull
    for remote in ("S3SRC", "S3DST"):
        env.update(
            {
                f"RCLONE_CONFIG_{remote}_TYPE": "s3",
                f"RCLONE_CONFIG_{remote}_PROVIDER": "Other",
                f"RCLONE_CONFIG_{remote}_ENDPOINT": s3_url,
                f"RCLONE_CONFIG_{remote}_ACCESS_KEY_ID": FAKE_AWS_ENV["AWS_ACCESS_KEY_ID"],
                f"RCLONE_CONFIG_{remote}_SECRET_ACCESS_KEY": FAKE_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
                f"RCLONE_CONFIG_{remote}_REGION": "us-east-1",
                f"RCLONE_CONFIG_{remote}_FORCE_PATH_STYLE": "true",
                f"RCLONE_CONFIG_{remote}_NO_CHECK_BUCKET": "true",
            }
        )
    env.update(
        {
            "RCLONE_CONFIG_GCSDST_TYPE": "google cloud storage",
            "RCLONE_CONFIG_GCSDST_ANONYMOUS": "true",
            "RCLONE_CONFIG_GCSDST_ENDPOINT": f"{gcs_url}/storage/v1/",
            "RCLONE_CONFIG_GCSDST_NO_CHECK_BUCKET": "true",
            "RCLONE_CONFIG_GCSDST_BUCKET_POLICY_ONLY": "true",
        }
    )
    return env


def rclone_path(bucket: BucketClient, role: str) -> str:
    if isinstance(bucket, LocalBucket):
        return str(bucket.root)
    if isinstance(bucket, GcsBucket):
        return f"gcsdst:{bucket.name}"
    return f"s3{role}:{bucket.name}"


def run_ours(src: BucketClient, dst: BucketClient, workers: int, tmp: Path) -> tuple[float, float, str]:
    cpu0 = time.process_time()
    with Journal(tmp / f"journal-{uuid.uuid4().hex}.sqlite", src.url, dst.url) as journal:
        t0 = time.perf_counter()
        report = copy_bucket(src, dst, journal, workers=workers)
        seconds = time.perf_counter() - t0
    note = "" if report.ok else f"{len(report.failed)} failed: {report.failed[:3]}"
    return seconds, time.process_time() - cpu0, note


def run_rclone(
    src: BucketClient, dst: BucketClient, workers: int, env: dict[str, str]
) -> tuple[float, float, str]:
    cmd = [
        "rclone", "copy", rclone_path(src, "src"), rclone_path(dst, "dst"),
        "--transfers", str(workers), "--checkers", str(workers),
        "--disable", "Copy",  # never a server-side copy: stream the bytes like our engine does
        "--stats", "0", "--retries", "1", "--low-level-retries", "3",
    ]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    note = "" if proc.returncode == 0 else f"rclone exit {proc.returncode}: {proc.stderr.strip()[-400:]}"
    return seconds, cpu, note


def reset(dst: BucketClient, gcs_url: str, workers: int) -> None:
    """Give every run the same emulator state: both emulators slow down as they hold more data.

    The GCS emulator soft-deletes (keeps a copy and its metadata) and rewrites its whole metadata
    index on each write, so deleting objects would not help: wipe it instead (it only holds
    destination buckets here). moto hard-deletes in unversioned buckets.
    """
    if isinstance(dst, GcsBucket):
        with urllib.request.urlopen(f"{gcs_url}/wipe?keep-buckets=true") as resp:
            resp.read()
        return
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(dst.delete, [info.key for info in dst.list()]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=200)
    parser.add_argument("--large-share", type=float, default=0.12, help="share of 1..5 MiB objects")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scenarios", default="s3->gcs,s3->s3,local->s3")
    parser.add_argument("--out", type=Path, default=ROOT / ".platform" / "bench" / "bench_copy.json")
    args = parser.parse_args()

    rclone = shutil.which("rclone")
    rclone_version = (
        subprocess.run([rclone, "version"], capture_output=True, text=True).stdout.splitlines()[0]
        if rclone
        else None
    )
    specs = make_object_set(args.objects, large_share=args.large_share)
    total = sum(s.size for s in specs)
    empty = sum(1 for s in specs if s.size == 0)
    print(f"object set: {len(specs)} objects, {total / 1e6:.1f} MB, {empty} empty")
    results: list[Result] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-copy-") as tmpdir,
        start_moto(subprocess_mode=True) as s3_url,
        start_gcs(subprocess_mode=True) as gcs_url,
    ):
        tmp = Path(tmpdir)
        env = rclone_env(s3_url, gcs_url)
        t0 = time.perf_counter()
        s3_src = S3Bucket(f"bench-src-{uuid.uuid4().hex[:8]}", endpoint_url=s3_url)
        s3_src.create()
        seed_bucket(s3_src, specs)
        local_src = LocalBucket(tmp / "local-src")
        local_src.create()
        seed_bucket(local_src, specs)
        print(f"seeded in {time.perf_counter() - t0:.1f}s; moto {s3_url}, gcs emulator {gcs_url}")

        sources: dict[str, BucketClient] = {"s3": s3_src, "local": local_src}
        makers: dict[str, Callable[[str], BucketClient]] = {
            "s3": lambda n: S3Bucket(n, endpoint_url=s3_url),
            "gcs": lambda n: GcsBucket(n, emulator_host=gcs_url),
        }
        tools = ["platform_sdk"] + (["rclone"] if rclone else [])
        for scenario in args.scenarios.split(","):
            src_kind, dst_kind = scenario.split("->")
            src = sources[src_kind]
            by_tool = {tool: Result(scenario, tool, len(specs), total) for tool in tools}
            for rep in range(args.repeat):
                order = tools if rep % 2 == 0 else list(reversed(tools))  # alternate who goes first
                for tool in order:
                    dst = makers[dst_kind](f"bench-{tool[:6].replace('_', '')}-{uuid.uuid4().hex[:8]}")
                    dst.create()
                    if tool == "platform_sdk":
                        seconds, cpu, note = run_ours(src, dst, args.workers, tmp)
                    else:
                        seconds, cpu, note = run_rclone(src, dst, args.workers, env)
                    verify = verify_bucket(src, dst, workers=args.workers)
                    if not verify.ok:
                        note = (note + f"; verify: {len(verify.missing)} missing, "
                                f"{len(verify.mismatched)} mismatched").strip("; ")  # fmt: skip
                    by_tool[tool].runs.append(Run(round(seconds, 3), round(cpu, 3), verify.ok, note))
                    reset(dst, gcs_url, args.workers)
                    print(f"  {scenario:10} {tool:13} run {rep + 1}: {seconds:6.2f}s"
                          f" cpu {cpu:6.2f}s verified={verify.ok} {note}")  # fmt: skip
            results.extend(by_tool.values())

    header = f"{'scenario':12} {'tool':13} {'median s':>9} {'MB/s':>8} {'objects/s':>10} {'verified':>9}"
    print("\n" + header + "\n" + "-" * len(header))
    for res in results:
        d = res.to_dict()
        print(
            f"{res.scenario:12} {res.tool:13} {d['median_seconds']:9.2f} {d['mb_per_s'] or 0:8.2f}"
            f" {d['objects_per_s'] or 0:10.1f} {str(d['all_runs_verified']):>9}"
        )
    out = {
        "benchmark": "bucket copy",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "rclone": rclone_version,
        "workers": args.workers,
        "repeat": args.repeat,
        "dataset": {"objects": len(specs), "bytes": total, "max_object_bytes": max(s.size for s in specs)},
        "results": [r.to_dict() for r in results],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0 if all(r.runs and all(run.ok for run in r.runs) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
