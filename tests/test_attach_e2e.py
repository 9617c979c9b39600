"""One local cloud provider process per stack and operation, which Terraform reattaches to (terraform/attach.py):
through the CLI, real Terraform and the real provider. Counts the provider processes, checks that none is left
after a failed, an interrupted or a killed apply, and that the provider's errors and log still reach the user."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from platform_sdk.localcloud import mirror
from platform_sdk.providers.base import MirroredProvider
from platform_sdk.terraform import attach
from tests.terraform_fixtures import (  # noqa: F401 - the *_fixture imports register fixtures
    HOLD_ENV,
    Cli,
    cli_fixture,
    cloud_root,
    hold_file_fixture,
    project_fixture,
    spawn,
    state_resources,
    tf_binary_fixture,
    wait_for_line,
    wait_for_path,
)

pytestmark = pytest.mark.e2e

STACKS = ["local-auth-aws", "local-notifications-aws", "local-thumbnails-aws", "local-web-gcp"]


def processes_in(project: Path, marker: str) -> list[int]:
    """Process ids whose command line has `marker` and whose working directory is inside `project`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue  # gone meanwhile, or not ours
        if any(marker in arg for arg in cmdline) and cwd.is_relative_to(project):
            found.append(int(entry.name))
    return found


def providers_in(project: Path) -> list[int]:
    """The local cloud provider processes serving a stack of `project` (their working directory is the stack's)."""
    return processes_in(project, mirror.PROVIDER_MODULE)


@pytest.fixture(name="started")
def started_fixture(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, attach.Attached]]:
    """(stack, provider) for every provider `platform` starts in this process (the real start, observed)."""
    started: list[tuple[str, attach.Attached]] = []
    real = attach.start

    def observed(provider: MirroredProvider, cwd: Path, env: dict[str, str],
                 timeout: float = attach.START_TIMEOUT_S) -> attach.Attached:
        attached = real(provider, cwd, env, timeout)
        started.append((cwd.name, attached))
        return attached

    monkeypatch.setattr(attach, "start", observed)
    return started


def test_one_provider_per_stack_errors_shown_and_none_left(cli: Cli, project: Path, tmp_path: Path,
                                                           started: list[tuple[str, attach.Attached]]) -> None:
    # A plain file where a bucket directory must go: creating the bucket raises inside the provider.
    blocker = cloud_root(project) / "aws" / "buckets" / "acme-local-thumbnails-originals"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("in the way")
    log = tmp_path / "terraform.log"
    code, outcome = cli.json(project, "apply", "--env", "local", "--auto-approve",
                             env={"TF_LOG": "DEBUG", "TF_LOG_PATH": str(log)})
    assert code == 1, outcome
    statuses = {s["name"]: s["status"] for s in outcome["stacks"]}
    assert statuses == {"local-auth-aws": "applied", "local-notifications-aws": "applied",
                        "local-thumbnails-aws": "failed", "local-web-gcp": "applied"}, outcome

    # One provider per stack served its plan, show and apply (two waves: auth after notifications), and
    # Terraform started none itself (before: 24 provider processes for these 4 stacks).
    assert sorted(stack for stack, _ in started) == STACKS
    text = log.read_text()
    assert "starting plugin" not in text
    assert text.count("unmanaged.") > 0
    # Every one was stopped before the command returned, the failed stack's too.
    assert all(provider.process.poll() is not None for _, provider in started)
    assert providers_in(project) == []

    # The provider's error reaches the report as before (its diagnostic), its traceback Terraform's log.
    failed = next(s for s in outcome["stacks"] if s["name"] == "local-thumbnails-aws")
    assert "localcloud: localcloud_bucket: applying failed: FileExistsError" in failed["error"], failed["error"]
    provider_lines = [line for line in text.splitlines()
                      if "[DEBUG] provider.terraform-provider-localcloud_v0.1.0: " in line]
    assert any("Traceback (most recent call last)" in line for line in provider_lines), text[-3000:]
    assert any("FileExistsError" in line for line in provider_lines)

    # The estate converges with Terraform starting its providers itself (as before this change) and then
    # plans no changes through the attached ones: the state does not depend on which process served it.
    blocker.unlink()
    started.clear()
    code, outcome = cli.json(project, "apply", "--env", "local", "--auto-approve",
                             env={attach.SWITCH_ENV_VAR: "0"})
    assert code == 0, outcome
    assert started == []
    assert all(state_resources(project)[f"{s}.tfstate"] for s in STACKS)
    code, report = cli.json(project, "plan", "--env", "local", "--all")
    assert code == 0, report
    assert {s["status"] for s in report["stacks"]} == {"no-changes"}, report
    assert sorted(stack for stack, _ in started) == STACKS
    assert providers_in(project) == []


def test_no_provider_left_after_ctrl_c_or_a_killed_platform(tf_binary: Path, project: Path,
                                                            hold_file: Path) -> None:
    # Ctrl-C mid-apply: Terraform finishes what is in flight and stops; then `platform` stops the providers.
    hold_file.write_text("")
    proc = spawn(project, tf_binary, "apply", "--env", "local", "--auto-approve", env={HOLD_ENV: str(hold_file)})
    seen: list[str] = []
    try:
        wait_for_line(proc, r"local-notifications-aws: apply", seen)
        wait_for_path(Path(f"{hold_file}.entered"), proc)
        assert providers_in(project), "the stacks being applied have their providers"
        proc.send_signal(signal.SIGINT)
        wait_for_line(proc, r"Interrupt received", seen)
    finally:
        hold_file.unlink(missing_ok=True)
        out, err = proc.communicate()
    assert proc.returncode == 130, "".join(seen) + err
    assert providers_in(project) == []

    # `platform` killed mid-apply (SIGKILL: nothing of it runs): its providers notice and stop once the call in
    # flight is done, as a provider Terraform started does when Terraform dies.
    Path(f"{hold_file}.entered").unlink(missing_ok=True)
    hold_file.write_text("")
    proc = spawn(project, tf_binary, "apply", "--env", "local", "--auto-approve", env={HOLD_ENV: str(hold_file)})
    try:
        wait_for_path(Path(f"{hold_file}.entered"), proc)
        assert providers_in(project)
        proc.kill()
        proc.communicate()
        hold_file.unlink()
        deadline = time.monotonic() + 60
        while (providers_in(project) or processes_in(project, "terraform")) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert providers_in(project) == []
    finally:
        hold_file.unlink(missing_ok=True)
        for pid in processes_in(project, "terraform") + providers_in(project):
            os.kill(pid, signal.SIGKILL)


def test_a_relative_terraform_log_path_is_the_users(tf_binary: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Terraform runs in each stack's directory: a relative TF_LOG_PATH names a file where `platform` was started
    (there the providers' lines go too), not one per stack directory."""
    from platform_sdk.terraform.process import Terraform

    stack = tmp_path / "cdktf.out" / "stacks" / "one"
    stack.mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    terraform = Terraform(tf_binary, {**os.environ, "TF_LOG": "TRACE", "TF_LOG_PATH": "terraform.log"})
    assert terraform.run(stack, ["version"]).ok
    assert (tmp_path / "terraform.log").read_text().strip(), "Terraform logged where the user asked"
    assert not (stack / "terraform.log").exists()


def test_a_stale_reattach_variable_of_the_users_is_named_in_the_error(cli: Cli, project: Path) -> None:
    """A TF_REATTACH_PROVIDERS of the user's own (left from a debugging session) naming a provider process that is
    gone: Terraform says "run terraform init", which does not help; the error says what does."""
    import json
    import subprocess

    gone = subprocess.Popen(["true"])
    gone.wait()
    stale = {mirror.PROVIDER_SOURCE: {"Protocol": "grpc", "ProtocolVersion": 6, "Pid": gone.pid, "Test": True,
                                      "Addr": {"Network": "unix", "String": str(project / "gone.sock")}}}
    result = cli(project, "plan", "--env", "local", env={attach.REATTACH_ENV_VAR: json.dumps(stale)})
    assert result.exit_code == 1, result.output
    assert "TF_REATTACH_PROVIDERS is set in your environment and names a provider process that is gone" in \
        result.output.replace("\n", " ")
