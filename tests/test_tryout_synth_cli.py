"""Faults a second tryout of the day's changes found, each checked through the real `platform` command on a project
`platform init` made:

- A project directory the command cannot write in (read-only, a full disk, a file `.platform` or `cdktf.out` where
  the command makes a folder) ended every synthesizing command with a Python traceback: it is one message naming
  the path and what the file system said, exit code 1.
- `platform logs --since` a time with an offset (`...+09:00`) was shown with its own wall-clock time labelled UTC
  ("since 2026-12-01 05:00:00 UTC" for 20:00 UTC), in the refusal of a future time too.
- CDKTF's own validation refusing a construct a `terraform()` hatch added (an import block on Terraform 1.0.3) ended
  in a traceback of the engine: it is one message with CDKTF's finding, exit code 2, nothing written.
- The synthesized `cdktf.out/<env>` was readable by its owner only (0700, `tempfile.mkdtemp`'s mode): it gets the
  mode of any folder the user makes (the umask's).
- `platform status --synth`, and `platform logs` before any synthesis, synthesized without the environment's lock:
  under a running `platform apply` they replaced `cdktf.out/<env>` while its Terraform worked in it. Like `synth`
  and `graph`, they now refuse then (exit 1), naming the holder.
- With COLUMNS=0 (no width given) every command printed nothing at all, to a pipe or a terminal: rich took it for a
  width of 0. It gives no width now: unwrapped to a pipe, the terminal's own on a terminal.
- A reader closing stderr early (`platform plan 2>&1 | head -1`) failed every stack whose progress line could not be
  printed, sent stdout to /dev/null (the plan was lost) and ended with exit code 1: rich's console on stderr did so.
  Now what goes to stderr then goes nowhere, the command does its work and ends with exit code 141.
"""

from __future__ import annotations

import os
import pty
import re
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from platform_sdk.terraform.locks import workspace_lock

PLATFORM_BIN = Path(sys.executable).parent / "platform"
TERRAFORM_1_0 = Path(__file__).resolve().parents[1] / ".platform" / "bin" / "terraform"


def platform(project: Path, *argv: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if name not in ("COLUMNS", "PLATFORM_PROJECT")}
    if path is not None:
        env["PATH"] = path
    return subprocess.run([str(PLATFORM_BIN), *argv], cwd=project, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=300)


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    made = platform(tmp_path, "init", "proj")
    assert made.returncode == 0, made.stderr
    return tmp_path / "proj"


@pytest.mark.parametrize(("in_the_way", "named"), [(".platform", ".platform/locks"), ("cdktf.out", "cdktf.out")])
def test_a_file_where_platform_makes_a_folder_is_one_message(project: Path, in_the_way: str, named: str) -> None:
    (project / in_the_way).write_text("")
    run = platform(project, "synth", "--env", "local")
    assert run.returncode == 1, run.stderr
    error = flat(run.stderr)
    assert "Traceback" not in run.stderr and error.count("error:") == 1, run.stderr
    assert f"error: {project / named}: a file is in the way of a folder on this path" in error, run.stderr
    assert not (project / "cdktf.out").is_dir()


def test_logs_since_a_time_with_an_offset_is_shown_in_utc(project: Path) -> None:
    tokyo = timezone(timedelta(hours=9))
    past = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
    run = platform(project, "logs", "hello.api", "--env", "local", "--since", past.astimezone(tokyo).isoformat())
    assert run.returncode == 0, run.stderr
    assert f"no log lines from hello.api since {past:%Y-%m-%d %H:%M:%S} UTC" in run.stderr, run.stderr
    future = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    run = platform(project, "logs", "hello.api", "--env", "local", "--since", future.astimezone(tokyo).isoformat())
    assert run.returncode == 2, run.stderr
    assert f"--since: is in the future ({future:%Y-%m-%d %H:%M:%S} UTC;" in flat(run.stderr), run.stderr


HATCH = '''from platform_sdk import Bucket, Service
import cdktf

service = Service("raw", owner="me")
service.add(Bucket("files"))


def build(tf):
    imported = cdktf.TerraformResource(tf.ctx.stack, "imp", terraform_resource_type="localcloud_bucket")
    imported.import_from("existing")


service.terraform("local", build)
'''


def test_cdktf_refusing_a_hatch_construct_is_one_message(project: Path) -> None:
    (project / "services" / "raw.py").write_text(HATCH)
    run = platform(project, "synth", "--env", "local", path=f"{TERRAFORM_1_0.parent}{os.pathsep}{os.environ['PATH']}")
    assert run.returncode == 2, run.stderr
    error = flat(run.stderr)
    assert "Traceback" not in run.stderr and error.count("error:") == 1, run.stderr
    assert "error: terraform: CDKTF's validation refused a construct: [local-raw-local/imp] " in error, run.stderr
    # CDKTF names the binary it asked: PLATFORM_TERRAFORM's path when that is set (platform_sdk.cdk.node)
    assert "terraform version 1.0.3 is lower than the required version >=1.5" in error, run.stderr
    assert not (project / "cdktf.out").exists(), "nothing may be written on bad input"


def test_the_output_folder_has_the_umasks_mode(project: Path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    run = platform(project, "synth", "--env", "local")
    assert run.returncode == 0, run.stderr
    assert stat.S_IMODE((project / "cdktf.out" / "local").stat().st_mode) == 0o777 & ~umask


@pytest.mark.parametrize("argv", [["status", "--synth"], ["logs", "hello.api"]])
def test_a_synthesis_under_a_running_apply_is_refused(project: Path, argv: list[str]) -> None:
    """The lock held as `platform apply` holds it, around the whole run; nothing synthesized yet (what makes `logs`
    synthesize)."""
    with workspace_lock(project / ".platform", "local", "apply"):
        run = platform(project, *argv, "--env", "local")
    assert run.returncode == 1, run.stderr
    assert "environment local is locked by `platform apply`" in flat(run.stderr), run.stderr
    assert not (project / "cdktf.out").exists(), "the running apply's output must stay as it is"


def test_columns_0_to_a_pipe_is_no_width(project: Path) -> None:
    env = {**{name: value for name, value in os.environ.items() if name != "PLATFORM_PROJECT"}, "COLUMNS": "0"}
    run = subprocess.run([str(PLATFORM_BIN), "envs"], cwd=project, env=env, stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "┃ environment ┃ default cloud ┃ placement ┃ state ┃ protected ┃" in run.stdout, run.stdout


def test_columns_0_on_a_terminal_is_the_terminals_width(project: Path) -> None:
    env = {**{name: value for name, value in os.environ.items() if name != "PLATFORM_PROJECT"}, "COLUMNS": "0",
           "NO_COLOR": "1"}
    leader, follower = pty.openpty()
    try:
        run = subprocess.run([str(PLATFORM_BIN), "envs"], cwd=project, env=env, stdin=follower, stdout=follower,
                             stderr=subprocess.PIPE, text=True, timeout=300)
        os.close(follower)
        written = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's other end is closed: all is read
                break
            if not chunk:
                break
            written += chunk
    finally:
        os.close(leader)
    assert run.returncode == 0, run.stderr
    assert "environment" in written.decode(), written


def test_a_reader_closing_stderr_early_fails_nothing(project: Path) -> None:
    """`platform plan > plan.txt 2> >(head -1)`: the progress lines' reader reads the first and goes."""
    env = {name: value for name, value in os.environ.items() if name not in ("COLUMNS", "PLATFORM_PROJECT")}
    with subprocess.Popen([str(PLATFORM_BIN), "plan", "--env", "local"], cwd=project, env=env,
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as run:
        assert run.stdout is not None and run.stderr is not None
        assert run.stderr.readline() == "plan local-hello-local: init\n"
        run.stderr.close()
        stdout = run.stdout.read()
        code = run.wait(timeout=300)
    assert code == 141, stdout
    assert "Summary: 2 to create, 0 to update, 0 to replace, 0 to destroy in 1 stack(s)" in stdout, stdout


def test_a_split_with_the_local_cloud_itself_says_how_to_rehearse_one(project: Path) -> None:
    """A `platform init` project places everything on the local cloud itself, which takes part in no cross-cloud
    access (nor a move): the refusal said only "place both on the same cloud", and a tester concluded an init project
    can never rehearse a move. It now says how: stand-ins."""
    (project / "services" / "y.py").write_text(
        "from platform_sdk import Bucket, Function, Service, http\n"
        'service = Service("y", owner="t")\n'
        'files = service.add(Bucket("files"))\n'
        'service.add(Function("api", handler="api.handle", source="functions/hello", triggers=[http()]))'
        ".reads(files)\n")
    env = project / "envs" / "local.toml"
    env.write_text(env.read_text().replace('default_cloud = "local"\n',
                                           'default_cloud = "local"\n\n[placement]\n"y.files" = "aws"\n')
                   + '\n[clouds.aws]\nstand_in = "local"\n')
    done = platform(project, "synth", "--env", "local")
    assert done.returncode == 2, done.stderr
    assert "cross-cloud bucket access from local to aws is not supported" in flat(done.stderr)
    assert 'place them on stand-ins, `[clouds.aws] stand_in = "local"`' in flat(done.stderr)
