"""terraform/attach.py without Terraform: which stacks get an attached provider, for which commands, the reattach
configuration, restarts and stops (with the real local cloud provider process)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from platform_sdk.localcloud import mirror
from platform_sdk.terraform import attach
from platform_sdk.terraform.binary import terraform_env
from platform_sdk.terraform.process import TfRun

LOCALCLOUD = attach.Providers.of_plugins().attachable


def write_stack(directory: Path, provider_blocks: object) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    document = {"terraform": {"required_providers": {"localcloud": {"source": mirror.PROVIDER_SOURCE}}},
                "provider": {"localcloud": provider_blocks}, "resource": {}}
    (directory / "cdk.tf.json").write_text(json.dumps(document))
    return directory


def test_only_the_local_cloud_provider_configured_once_is_attached(tmp_path: Path) -> None:
    assert [p.source for p in LOCALCLOUD] == [mirror.PROVIDER_SOURCE]
    once = write_stack(tmp_path / "once", [{"root": "r"}])
    assert attach.stack_providers(once, LOCALCLOUD) == list(LOCALCLOUD)
    aliased = write_stack(tmp_path / "aliased", [{"root": "a"}, {"root": "b", "alias": "other"}])
    assert attach.stack_providers(aliased, LOCALCLOUD) == []
    other = tmp_path / "aws"
    other.mkdir()
    (other / "cdk.tf.json").write_text(json.dumps(
        {"terraform": {"required_providers": {"aws": {"source": "hashicorp/aws"}}}, "provider": {"aws": [{}]}}))
    assert attach.stack_providers(other, LOCALCLOUD) == []
    assert attach.stack_providers(tmp_path / "missing", LOCALCLOUD) == []


@pytest.mark.parametrize(("env", "enabled"), [
    ({}, False), ({"TF_LOG": "DEBUG"}, True), ({"TF_LOG": "trace"}, True), ({"TF_LOG": "JSON"}, True),
    ({"TF_LOG": "INFO"}, False), ({"TF_LOG": "off"}, False), ({"TF_LOG": "DEBUG", "TF_LOG_PROVIDER": "ERROR"}, False),
    ({"TF_LOG_PROVIDER": "DEBUG"}, True),
])
def test_provider_output_is_logged_when_terraform_would(env: dict[str, str], enabled: bool) -> None:
    assert attach.log_enabled(env) is enabled


def test_a_stack_gets_one_provider_for_the_commands_that_start_one(tmp_path: Path) -> None:
    stack = write_stack(tmp_path / "stack", [{"root": "../cloud"}])
    env = terraform_env(tmp_path, cache_dir=tmp_path / "cache")
    providers = attach.Providers(LOCALCLOUD)
    assert providers.env_for("stack", stack, ["plan"], env) == {}, "outside an operation's scope: Terraform's"
    with providers.scope():
        for command in (["init", "-input=false"], ["output", "-json"], ["state", "list"]):
            assert providers.env_for("stack", stack, command, env) == {}, command
        for off in ("0", "false", "No", " off "):
            assert providers.env_for("stack", stack, ["plan"], {**env, attach.SWITCH_ENV_VAR: off}) == {}, off
        assert providers.env_for("stack", stack, ["plan"], {**env, attach.REATTACH_ENV_VAR: "{}"}) == {}

        extra = providers.env_for("stack", stack, ["plan"], env)
        config = json.loads(extra[attach.REATTACH_ENV_VAR])[mirror.PROVIDER_SOURCE]
        [pid] = providers.running
        assert config == {"Protocol": "grpc", "ProtocolVersion": 6, "Pid": pid, "Test": True,
                          "Addr": {"Network": "unix", "String": config["Addr"]["String"]}}
        assert Path(config["Addr"]["String"]).is_socket()
        assert os.readlink(f"/proc/{pid}/cwd") == str(stack), "a relative root is relative to the stack"
        assert providers.env_for("stack", stack, ["show", "-json"], env) == extra, "the same process again"
        assert providers.env_for("stack", stack, ["apply"], env) == extra

        # Another environment (apply's PLATFORM_ALLOW_DATA_LOSS): another process; a process that died: too.
        changed = providers.env_for("stack", stack, ["apply"], {**env, "PLATFORM_ALLOW_DATA_LOSS": "1"})
        assert changed != extra and providers.running != [pid]
        assert not os.path.exists(f"/proc/{pid}") or _zombie(pid)
        [second] = providers.running
        os.kill(second, 9)
        os.waitpid(second, 0)
        providers.env_for("stack", stack, ["apply"], {**env, "PLATFORM_ALLOW_DATA_LOSS": "1"})
        [third] = providers.running
        assert third != second
        assert providers.started == 3
    assert providers.running == []
    assert not os.path.exists(f"/proc/{third}"), "stopped and reaped when the operation's scope ends"


def _zombie(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"


def test_a_provider_that_cannot_start_leaves_it_to_terraform(tmp_path: Path) -> None:
    stack = write_stack(tmp_path / "stack", [{"root": "r"}])
    env = {**terraform_env(tmp_path, cache_dir=tmp_path / "cache"), mirror.PYTHON_ENV_VAR: "/bin/false"}
    providers = attach.Providers(LOCALCLOUD)
    with providers.scope():
        assert providers.env_for("stack", stack, ["plan"], env) == {}
        assert providers.env_for("stack", stack, ["apply"], env) == {}, "not tried again for every command"
        assert providers.started == 0


def test_provider_output_goes_where_terraform_logs(tmp_path: Path) -> None:
    stack = write_stack(tmp_path / "stack", [{"root": "r"}])
    env = terraform_env(tmp_path, cache_dir=tmp_path / "cache")
    providers = attach.Providers(LOCALCLOUD)
    with providers.scope():
        providers.env_for("stack", stack, ["plan"], env)
        [(_, attached)] = list(providers._running.items())
        os.write(attached.log.fileno(), b"a line on stderr\n")
        run = TfRun(["plan"], 0, "out", "err\n", False)
        assert providers.add_log("stack", run, env) == run, "Terraform's log is off: dropped, as Terraform does"
        os.write(attached.log.fileno(), b"second\n")
        logged = providers.add_log("stack", run, {**env, "TF_LOG": "DEBUG"})
        assert logged.stderr.startswith("err\n")
        assert logged.stderr.endswith(" [DEBUG] provider.terraform-provider-localcloud_v0.1.0: second\n")
        os.write(attached.log.fileno(), b"third\n")
        path = tmp_path / "tf.log"
        assert providers.add_log("stack", run, {**env, "TF_LOG": "DEBUG", "TF_LOG_PATH": str(path)}) == run
        assert path.read_text().endswith("provider.terraform-provider-localcloud_v0.1.0: third\n")
