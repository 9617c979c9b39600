"""A new cloud is one folder: the test-only cloud in tests/fourthcloud/ (buckets only, its own Terraform provider)
is registered here and goes through the same placement, synthesis and real Terraform as the built-in clouds.

Nothing outside tests/fourthcloud/ knows it: the environment file names it, the registry finds it.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from platform_sdk import providers
from tests.fourthcloud.plugin import PLUGIN
from tests.terraform_fixtures import Cli, tf_binary_fixture  # noqa: F401 - registers tf_binary

SERVICES = {
    "files.py": '''
from platform_sdk import Bucket, Service

service = Service("files", owner="test-team")
docs = service.add(Bucket("docs", versioning=True))
scratch = service.add(Bucket("scratch"))
''',
    "api.py": '''
from platform_sdk import Function, Service, http

service = Service("api", owner="test-team")
service.add(Function("hello", handler="hello.handle", source="functions/api", triggers=[http()]))
''',
    "functions/api/hello.py": "def handle(request):\n    return {'hello': 'nimbus'}\n",
}
ENV = '''name_prefix = "acme"\ndefault_cloud = "nimbus"

[clouds.nimbus]
root = ".platform/nimbus"

[placement]
"api" = "local"

[state]
backend = "local"
'''


@pytest.fixture
def nimbus() -> Iterator[None]:
    providers.register(PLUGIN)
    yield
    providers.unregister(PLUGIN.name)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "estate"
    for name, text in SERVICES.items():
        path = root / "services" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.lstrip())
    (root / "envs").mkdir()
    (root / "envs" / "mixed.toml").write_text(ENV)
    return root


@pytest.fixture
def cli(tf_binary: Path) -> Cli:
    return Cli(tf_binary)


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_an_unregistered_cloud_is_unknown(project: Path, cli: Cli) -> None:
    result = cli(project, "synth", "--env", "mixed")
    assert result.exit_code == 2
    assert "mixed.toml" in result.stderr and "clouds.nimbus" in result.stderr and "unknown cloud" in result.stderr


def test_placement_refuses_the_kinds_nimbus_lacks(project: Path, cli: Cli, nimbus: None) -> None:
    env = project / "envs" / "mixed.toml"
    env.write_text(env.read_text().replace('"api" = "local"', '"api" = "nimbus"'))
    result = cli(project, "synth", "--env", "mixed")
    message = flat(result.stderr)
    assert result.exit_code == 2, message
    assert "mixed.toml" in message and "placement.api" in message and "(got 'nimbus')" in message, message
    assert "function api.hello cannot be placed on nimbus: nimbus has no functions (it implements: bucket)" in message
    assert not (project / "cdktf.out").exists(), "nothing may be written on bad input"


def test_its_stacks_synthesize_beside_the_local_cloud(project: Path, cli: Cli, nimbus: None) -> None:
    result = cli(project, "synth", "--env", "mixed")
    assert result.exit_code == 0, result.stdout + result.stderr
    doc = json.loads((project / "cdktf.out" / "mixed" / "stacks" / "mixed-files-nimbus" / "cdk.tf.json").read_text())
    assert set(doc["resource"]) == {"nimbus_bucket"}
    assert doc["resource"]["nimbus_bucket"]["docs"]["name"] == "acme-mixed-files-docs"
    assert doc["resource"]["nimbus_bucket"]["docs"]["versioning"] is True
    assert doc["terraform"]["required_providers"]["nimbus"]["source"] == "platform.local/tests/nimbus"
    assert doc["provider"]["nimbus"][0]["root"].endswith(".platform/nimbus/mixed")
    assert "local" in doc["terraform"]["backend"]
    meta = json.loads((project / "cdktf.out" / "mixed" / "platform.json").read_text())
    assert meta["stacks"]["mixed-files-nimbus"]["stateful"] == ["files.docs", "files.scratch"]
    assert meta["stacks"]["mixed-api-local"]["cloud"] == "local"


def test_its_buckets_apply_and_destroy_through_real_terraform(project: Path, cli: Cli, nimbus: None) -> None:
    buckets = project / ".platform" / "nimbus" / "mixed"
    result = cli(project, "apply", "--env", "mixed", "--auto-approve")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert sorted(p.name for p in buckets.iterdir()) == ["acme-mixed-files-docs", "acme-mixed-files-scratch"]
    assert json.loads((buckets / "acme-mixed-files-docs" / ".nimbus.json").read_text()) == {"versioning": True}

    result = cli(project, "plan", "--env", "mixed", "--detailed-exitcode")
    assert result.exit_code == 0, result.stdout + result.stderr  # applied: no changes

    shutil.rmtree(buckets / "acme-mixed-files-scratch")  # removed outside Terraform: the provider reads it as gone
    code, report = cli.json(project, "plan", "--env", "mixed", "--all")  # unchanged stacks are refreshed only so
    stack = next(s for s in report["stacks"] if s["name"] == "mixed-files-nimbus")
    assert stack["changes"]["create"] == ["nimbus_bucket.scratch"], stack
    result = cli(project, "apply", "--env", "mixed", "--auto-approve")
    assert result.exit_code == 0 and (buckets / "acme-mixed-files-scratch").is_dir(), result.stdout + result.stderr

    result = cli(project, "destroy", "--env", "mixed", "--auto-approve")
    assert result.exit_code == 1 and "nimbus_bucket.docs" in flat(result.stderr), result.stdout + result.stderr
    assert (buckets / "acme-mixed-files-docs").is_dir(), "a stateful type of the plug-in: destroy refused"

    result = cli(project, "destroy", "--env", "mixed", "--auto-approve", "--allow-data-loss")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert not any(buckets.iterdir())
