"""What one local cloud provider start costs, and what one `platform apply --env local` of the example estate runs.

Why this exists: Terraform starts the local cloud provider (a Python process) for every plan, show and apply, two
or three times for some, so its start is paid dozens of times per `platform apply` and thousands of times per test
suite (issue 9; docs/testing.md), until `platform` started one per stack and operation for Terraform to reattach
to (terraform/attach.py). This script measures

* **one provider start** (default, `--starts N`, 1 warm-up + N): the launcher run the way Terraform runs it (the
  magic cookie, the mirror's launcher, `terraform_env`); CPU of the provider process (user + system, from
  /proc/<pid>/stat, 10 ms ticks) when its handshake line arrives, after it served a first call over gRPC
  (GetProviderSchema, TLS with the handshake's certificate), and for the whole process after SIGTERM
  (`os.wait4`, exact), with the wall times to handshake and first call;
* **one `platform apply --env local --auto-approve`** of the example estate (`--applies N`): each run on a fresh
  copy of the repository's `services/`, `envs/` and `cdktf.json` with a fresh local cloud; Terraform and the
  provider's interpreter are wrapped so each Terraform command (its CPU including its children) and each
  provider process (its CPU) is counted, whether Terraform started it or `platform` did for Terraform to reattach
  to (`terraform/attach.py`; the interpreter `platform` starts providers with is pointed at a wrapper that
  forwards SIGTERM and records the provider's CPU: its own start, ~10 ms each, is in the tree's CPU only). CPU
  and wall of the whole `platform` process tree. The database server the apply starts is stopped and deleted
  afterwards. `--tree DIR` runs `platform` from another checkout (say the commit before a change, for a
  before/after in one sitting); `--managed` sets PLATFORM_PROVIDER_REATTACH=0 (Terraform starts every provider).

It prints medians (min-max) and the load average at start and end. Not a test: nothing is asserted.

Run:  .venv/bin/python bench/bench_provider.py [--starts 9] [--applies 3]
Terraform: $PLATFORM_TERRAFORM, else <repo>/.platform/bin/terraform (`scripts/install_terraform.sh`).
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
TICK = os.sysconf("SC_CLK_TCK")


def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of a running process (10 ms resolution)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def provider_start(work: Path) -> tuple[float, float, float, float, float]:
    """(CPU at handshake, CPU after the first call, CPU of the whole process, wall to handshake, wall to call)."""
    import grpc
    from tf.gen import tfplugin_pb2 as pb
    from tf.gen import tfplugin_pb2_grpc as rpc

    from platform_sdk.localcloud import mirror, plugin
    from platform_sdk.terraform.binary import terraform_env

    env = terraform_env(work, cache_dir=work / "cache")
    env[plugin.MAGIC_COOKIE_KEY] = plugin.MAGIC_COOKIE_VALUE
    env["PLUGIN_PROTOCOL_VERSIONS"] = "5,6"
    launcher = next(mirror.ensure_mirror(work / "cache").rglob(mirror.EXECUTABLE_NAME))
    start = time.perf_counter()
    proc = subprocess.Popen([str(launcher)], env=env, stdout=subprocess.PIPE, text=True, cwd=work)
    assert proc.stdout is not None
    fields = proc.stdout.readline().strip().split("|")
    wall_handshake, cpu_handshake = time.perf_counter() - start, _cpu_of(proc.pid)
    der = base64.b64decode(fields[5] + "=" * (-len(fields[5]) % 4))
    pem = b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(der) + b"-----END CERTIFICATE-----\n"
    with grpc.secure_channel(f"unix://{fields[3]}", grpc.ssl_channel_credentials(root_certificates=pem),
                             options=[("grpc.ssl_target_name_override", "localhost")]) as channel:
        rpc.ProviderStub(channel).GetProviderSchema(pb.GetProviderSchema.Request())
        wall_call, cpu_call = time.perf_counter() - start, _cpu_of(proc.pid)
    proc.terminate()
    _, _, usage = os.wait4(proc.pid, 0)
    return cpu_handshake, cpu_call, usage.ru_utime + usage.ru_stime, wall_handshake, wall_call


WRAP_TERRAFORM = """#!/bin/sh
echo "$1" >> "{log}/commands"
PLATFORM_LOCALCLOUD_PYTHON="{log}/python" exec /usr/bin/time -a -o "{log}/terraform-cpu" -f "%U %S $1" "{tf}" "$@"
"""
WRAP_PYTHON = """#!/bin/sh
exec /usr/bin/time -a -o "{log}/provider-cpu" -f "%U %S" "{python}" "$@"
"""
# The providers `platform` starts get SIGTERM to stop, which /usr/bin/time would not pass on: a Python wrapper does.
WRAP_ATTACHED = """#!{python} -S
import os, signal, subprocess, sys
child = subprocess.Popen([{python!r}, *sys.argv[1:]])
signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
_, status, usage = os.wait4(child.pid, 0)
with open({log!r} + "/provider-cpu", "a") as out:
    out.write(f"{{usage.ru_utime}} {{usage.ru_stime}} attached\\n")
sys.exit(os.waitstatus_to_exitcode(status))
"""
# `platform` runs with its providers' interpreter pointed at the wrapper (terraform_env sets it to sys.executable).
BOOT = """import sys
from platform_sdk.terraform import binary
wrapper, sys.argv = sys.argv[1], ["platform", *sys.argv[2:]]
plain = binary.terraform_env
binary.terraform_env = lambda *a, **k: {**plain(*a, **k), "PLATFORM_LOCALCLOUD_PYTHON": wrapper}
from platform_sdk.cli import app
sys.exit(app())
"""


def apply_once(tf: Path, run_dir: Path, tree: Path = REPO, managed: bool = False) -> dict[str, object]:
    """One `platform apply --env local --auto-approve` on a fresh copy of the example estate, `platform_sdk`
    imported from `tree`."""
    project, log = run_dir / "project", run_dir / "log"
    log.mkdir(parents=True)
    project.mkdir()
    for name in ("services", "envs"):
        shutil.copytree(REPO / name, project / name)
    shutil.copy(REPO / "cdktf.json", project)
    (project / ".venv").symlink_to(REPO / ".venv")
    (log / "terraform").write_text(WRAP_TERRAFORM.format(log=log, tf=tf))
    (log / "python").write_text(WRAP_PYTHON.format(log=log, python=sys.executable))
    (log / "attached").write_text(WRAP_ATTACHED.format(log=str(log), python=sys.executable))
    for wrapper in ("terraform", "python", "attached"):
        (log / wrapper).chmod(0o755)
    env = {**os.environ, "PLATFORM_TERRAFORM": str(log / "terraform"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(tree), os.environ.get("PYTHONPATH")]))}
    if managed:
        env["PLATFORM_PROVIDER_REATTACH"] = "0"
    before, start = os.times(), time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-c", BOOT, str(log / "attached"), "apply", "--env", "local",
                               "--auto-approve"], cwd=project, env=env, capture_output=True, text=True)
        wall, after = time.perf_counter() - start, os.times()
    finally:
        # `auth.users` runs on a PostgreSQL server of this project's local cloud (its data outside the project, as
        # root): stop and delete it, or every run would leave one running
        from platform_sdk.localcloud import dbserver

        for server in dbserver.servers_under(project):
            server.remove()
    if proc.returncode != 0:
        sys.exit(f"platform apply exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    commands = (log / "commands").read_text().split()
    lines = [line.split() for line in (log / "provider-cpu").read_text().splitlines() if line and line[0].isdigit()]
    providers = [float(fields[0]) + float(fields[1]) for fields in lines]
    attached = sum(1 for fields in lines if fields[2:] == ["attached"])
    terraform = [sum(map(float, line.split()[:2])) for line in (log / "terraform-cpu").read_text().splitlines()
                 if line and line[0].isdigit()]
    return {"wall": wall, "cpu": (after.children_user - before.children_user)
            + (after.children_system - before.children_system), "commands": Counter(commands),
            "provider_starts": len(providers), "attached_starts": attached, "provider_cpu": sum(providers),
            "terraform_cpu": sum(terraform)}


def _spread(values: list[float], unit: str = " s") -> str:
    return f"{statistics.median(values):.3f}{unit} ({min(values):.3f}-{max(values):.3f})"


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=9, help="provider starts to measure (0: none)")
    parser.add_argument("--applies", type=int, default=3, help="`platform apply` runs to measure (0: none)")
    parser.add_argument("--tree", type=Path, default=REPO, help="checkout whose platform_sdk runs the applies")
    parser.add_argument("--managed", action="store_true", help="PLATFORM_PROVIDER_REATTACH=0 for the applies")
    args = parser.parse_args()
    tf = Path(os.environ.get("PLATFORM_TERRAFORM") or REPO / ".platform" / "bin" / "terraform")
    print(f"load average at start: {_load()}; {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-provider-") as tmp:
        if args.starts:
            work = Path(tmp) / "starts"
            work.mkdir()
            provider_start(work)  # warm-up: makes the handshake certificate, fills the page cache
            runs = [provider_start(work) for _ in range(args.starts)]
            print(f"one provider start, {args.starts} runs, medians (min-max):")
            labels = ["CPU to handshake", "CPU to first call served", "CPU of the whole process",
                      "wall to handshake", "wall to first call served"]
            for i, label in enumerate(labels):
                print(f"  {label:26s} {_spread([run[i] for run in runs])}")
        if args.applies:
            applies = [apply_once(tf, Path(tmp) / f"apply-{n}", args.tree.resolve(), args.managed)
                       for n in range(args.applies)]
            first = applies[0]
            commands = first["commands"]
            assert isinstance(commands, Counter)
            print(f"platform apply --env local of the example estate, {args.applies} runs, medians (min-max), "
                  f"platform_sdk from {args.tree}{' (PLATFORM_PROVIDER_REATTACH=0)' if args.managed else ''}:")
            kinds = ", ".join(f"{count} {command}" for command, count in commands.items())
            print(f"  Terraform commands: {sum(commands.values())} ({kinds}); "
                  f"provider processes: {first['provider_starts']} ({first['attached_starts']} started by platform "
                  "for Terraform to reattach to)")
            for key, label in [("cpu", "CPU of the process tree"), ("wall", "wall"),
                               ("terraform_cpu", "CPU of Terraform (and providers it starts)"),
                               ("provider_cpu", "CPU of the provider processes")]:
                print(f"  {label:36s} {_spread([float(str(run[key])) for run in applies])}")
    print(f"load average at end: {_load()}")


if __name__ == "__main__":
    main()
