"""The conformance analysis alone at 1x, 5x and 10x an estate: CPU time per run and a fingerprint of its results.

Why: `bench_synth.py --growth` times the whole `platform synth`, where the analysis is one part among many; this
times `conformance.examine` on an already synthesized environment (in this process, a fresh `tfjson.Estate` per
run, as synthesis makes one), so its growth with the estate is visible on its own. The fingerprint (SHA-256 of
every finding and every piece of evidence, sorted) proves a faster analysis gives the same answers: compare it
before and after a change.

Estates (`--estate`):
- `bench`: `_synth_estate.py`'s project (per service 8 buckets, 7 functions reading one and writing the next),
  10 services = 1,020 resources on AWS (`--cloud gcp`: on GCP);
- `wide`: copies of `tools/wide_estate.py`'s services (buckets, a database, functions with HTTP, bucket and
  schedule triggers, CDNs), one copy per `--stacks` unit of 4 services, on `--cloud aws`, `gcp` or `mixed` (the
  wide-mixed placement: federation both ways).

Figures are CPU time (`time.process_time`) of this process: on a shared machine wall time swings with other
work, CPU time much less. Run:

    .venv/bin/python bench/bench_conformance.py                         # bench estate on AWS, x1/x5/x10
    .venv/bin/python bench/bench_conformance.py --estate wide --cloud gcp --stacks 5
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import _synth_estate  # noqa: E402

from platform_sdk.conformance import examine  # noqa: E402
from platform_sdk.envs import load_environment  # noqa: E402
from platform_sdk.loader import load_services  # noqa: E402
from platform_sdk.project import Project  # noqa: E402
from platform_sdk.synth.app import synthesize  # noqa: E402

WORK_DIR = ROOT / ".platform" / "bench-conformance"
CLOUDS = {
    "aws": '[clouds.aws]\naccount = "111111111111"\nregion = "eu-west-1"\n',
    "gcp": '[clouds.gcp]\nproject = "acme-bench-123"\nregion = "europe-west1"\n',
}
STATE = '\n[state]\nbackend = "local"\npath = ".platform/state"\n'
# tools/wide_estate.py's wide-mixed placement, per copy of its services.
MIXED = ('"api{n}" = "gcp"\n"api{n}.ingest" = "aws"\n"edge{n}.gateway" = "gcp"\n"store{n}.orders" = "gcp"\n'
         '"media{n}.thumbs" = "gcp"\n')


def write_bench(root: Path, units: int, cloud: str) -> Path:
    project = _synth_estate.write_project(root, units, 8, 7)
    default = "gcp" if cloud == "gcp" else "aws"
    (project / "envs" / f"{_synth_estate.ENV_NAME}.toml").write_text(
        f'name_prefix = "acme"\ndefault_cloud = "{default}"\n' + CLOUDS[default] + STATE)
    return project


def write_wide(root: Path, units: int, cloud: str) -> Path:
    sys.path.insert(0, str(ROOT / "tools"))
    import wide_estate  # noqa: PLC0415

    project = wide_estate.write_project(root)
    (project / "services" / "wide.py").unlink()
    placement = ""
    for n in range(units):
        text = wide_estate.SERVICES
        for service in ("store", "api", "edge", "media"):
            text = text.replace(f'Service("{service}"', f'Service("{service}{n}"')
        text = text.replace('domain="www.example.com"', f'domain="www{n}.example.com"')
        (project / "services" / f"wide{n:03d}.py").write_text(text)
        placement += MIXED.format(n=n)
    default = "gcp" if cloud == "gcp" else "aws"
    head = f'name_prefix = "acme"\ndefault_cloud = "{default}"\n'
    if cloud == "mixed":
        env = head + CLOUDS["aws"] + CLOUDS["gcp"] + "\n[placement]\n" + placement + STATE
    elif cloud == "gcp":
        env = head + CLOUDS["gcp"] + '\n[placement]\n' + "".join(f'"edge{n}" = "gcp"\n' for n in range(units)) + STATE
    else:
        env = head + CLOUDS["aws"] + STATE
    (project / "envs" / f"{_synth_estate.ENV_NAME}.toml").write_text(env)
    return project


def fingerprint(analysis: Any) -> str:
    """SHA-256 of the analysis' findings, evidence and unverified functions, each sorted."""
    data = {"findings": sorted(json.dumps(vars(f), sort_keys=True) for f in analysis.findings),
            "evidence": sorted(json.dumps([e.need, e.what, [str(loc) for loc in e.locations]])
                               for e in analysis.evidence),
            "unverified": sorted(analysis.unverified)}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def measure(project: Path, repeat: int) -> dict[str, Any]:
    env = load_environment(project / "envs" / f"{_synth_estate.ENV_NAME}.toml")
    services = load_services(project / "services")
    synth = synthesize(Project(project), env, services, conformance=False)
    resources = sum(len(instances) for name in synth.stacks
                    for path in [synth.outdir / "stacks" / name / "cdk.tf.json"] if path.is_file()
                    for instances in (json.loads(path.read_text()).get("resource") or {}).values())
    runs, prints, sizes = [], set(), set()
    for _ in range(repeat):
        start = time.process_time()
        analysis = examine(synth.outdir, synth.placements, synth.stacks)
        runs.append(time.process_time() - start)
        prints.add(fingerprint(analysis))
        sizes.add((len(analysis.findings), len(analysis.evidence)))
    if len(prints) != 1:
        raise SystemExit(f"the analysis gave different results on the same estate: {sorted(prints)}")
    findings, evidence = sizes.pop()
    return {"resources": resources, "cpu_s": runs, "cpu_median_s": statistics.median(runs),
            "findings": findings, "evidence": evidence, "fingerprint": prints.pop()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--estate", choices=["bench", "wide"], default="bench")
    parser.add_argument("--cloud", choices=["aws", "gcp", "mixed"], default="aws")
    parser.add_argument("--stacks", type=int, default=10, help="services (bench) or copies (wide) at 1x (default 10)")
    parser.add_argument("--scales", default="1,5,10", help="multiples of --stacks (default 1,5,10)")
    parser.add_argument("--repeat", type=int, default=3, help="analyses per scale (default 3)")
    args = parser.parse_args()
    if args.estate == "bench" and args.cloud == "mixed":
        parser.error("--cloud mixed needs --estate wide")
    write = write_bench if args.estate == "bench" else write_wide
    print(f"conformance analysis alone, {args.estate} estate on {args.cloud}; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}; CPU time of this process", flush=True)
    points = []
    for scale in (int(s) for s in args.scales.split(",")):
        project = write(WORK_DIR / f"{args.estate}-{args.cloud}-x{scale}", args.stacks * scale, args.cloud)
        point = measure(project, args.repeat)
        point["scale"] = scale
        point["load"] = os.getloadavg()[0]
        points.append(point)
        print(f"  x{scale:<3} {point['resources']:>6} resources: cpu median {point['cpu_median_s']:7.3f} s "
              f"(min {min(point['cpu_s']):.3f}, max {max(point['cpu_s']):.3f}); {point['findings']} findings, "
              f"{point['evidence']} evidence, fingerprint {point['fingerprint']}; load {point['load']:.1f}",
              flush=True)
    for low, high in zip(points, points[1:], strict=False):
        per_k = 1000 / (high["resources"] - low["resources"])
        print(f"  {low['resources']}->{high['resources']}: {(high['cpu_median_s'] - low['cpu_median_s']) * per_k:.3f} "
              "s CPU per 1,000 resources")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"conformance-{args.estate}-{args.cloud}.json").write_text(json.dumps(
        {"date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "argv": sys.argv[1:], "points": points},
        indent=2) + "\n")


if __name__ == "__main__":
    main()
