"""Ctrl-C during any phase of a move, the cleanup included, ends with exit 130 and the resume hint, never a
traceback. Through real parts: the `platform` CLI as a separate process in its own process group (a terminal's
Ctrl-C reaches every process of the group: the CLI, the CDKTF node process, Terraform), the example estate on the
local cloud, real Terraform; the interrupted move then resumes to the end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from tests.terraform_fixtures import (  # noqa: F401 - fixtures
    PLATFORM_BIN,
    Cli,
    applied_estate_fixture,
    cli_fixture,
    tf_binary_fixture,
)

pytestmark = pytest.mark.e2e


def _terraform_applying(pid: int) -> bool:
    """Whether a `terraform apply` runs among the descendants of process `pid`."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return False
    for child in children:
        with contextlib.suppress(psutil.Error):
            command = child.cmdline()
            if command and Path(command[0]).name == "terraform" and "apply" in command:
                return True
    return False


@pytest.mark.parametrize("when", ["synthesis", "terraform"])
def test_ctrl_c_during_cleanup_exits_130_with_the_resume_hint(cli: Cli, applied_estate: Callable[[], Path],
                                                              tf_binary: Path, when: str) -> None:
    """`when`: right as the cleanup begins (its synthesis), or once its `terraform apply` runs (a fixed delay of
    1.5 s was this before; the cleanup got fast enough to end within it, and the test then raced)."""
    import time

    project = applied_estate()
    env = {**os.environ, "PLATFORM_TERRAFORM": str(tf_binary)}
    env.pop("PLATFORM_PROJECT", None)
    proc = subprocess.Popen([str(PLATFORM_BIN), "move", "--project", str(project), "thumbnails", "--to", "gcp",
                             "--env", "local", "--yes"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    seen = []
    assert proc.stdout is not None
    for line in iter(proc.stdout.readline, ""):
        seen.append(line)
        if "[5/5] cleanup" in line:
            break
    else:
        raise AssertionError(f"the move ended ({proc.wait()}) before its cleanup:\n{''.join(seen)}")
    if when == "terraform":
        deadline = time.monotonic() + 120
        while not _terraform_applying(proc.pid):
            assert proc.poll() is None, f"the move ended before its cleanup ran Terraform:\n{''.join(seen)}"
            assert time.monotonic() < deadline, "the cleanup never ran terraform apply"
            time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    out, err = proc.communicate()
    assert proc.returncode == 130, "".join(seen) + out + err
    assert "Traceback" not in out + err, err
    assert "platform move --resume --env local" in err, err

    code, report = cli.json(project, "move", "--resume", "--env", "local", "--yes")
    assert code == 0, report
    assert report["source_removed"]
