"""Plan only what changed, through real Terraform on the local cloud: nothing changed runs no Terraform at all, an
edited function plans only its stack, a producer applied with new outputs re-plans its consumer, `--all` plans
everything, and `platform drift` finds changes made outside Terraform and makes the next plan include them.

Terraform is wrapped by a script that logs every invocation (working directory and arguments), so the tests see
exactly which stacks Terraform ran for.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.terraform_fixtures import Cli, Logged, tf_binary_fixture  # noqa: F401 - registers the tf_binary fixture

pytestmark = pytest.mark.e2e

SERVICES = '''\
from platform_sdk import Bucket, Function, Service, http

store = Service("store", owner="data-team")
data = store.add(Bucket("data"))

api = Service("api", owner="api-team")
reader = api.add(Function("reader", handler="app.handle", source="functions/api", triggers=[http()]))
reader.reads(data)

web = Service("web", owner="web-team")
web.add(Function("page", handler="app.handle", source="functions/web", triggers=[http()]))
'''
HANDLER = "def handle(request):\n    return {'status': 200, 'body': 'v1'}\n"
# The platform team's naming convention: store's names take a suffix from the environment (a rename of one
# service's resources that leaves every other stack's configuration as it was).
PROFILE = '''\
import os

from platform_sdk.profile import Profile


def naming(env, service, resource):
    suffix = os.environ.get("STORE_SUFFIX", "") if service == "store" else ""
    return f"acme-{env.name}-{service}-{resource}{suffix}"


PROFILE = Profile(name="changes", naming=naming)
'''
ENV = '''name_prefix = "acme"
default_cloud = "local"
profile = "platform/profile.py:PROFILE"

[clouds.local]
root = ".platform/localcloud"
gateway_port = 8791

[state]
backend = "local"
path = ".platform/state"
'''
STORE, API, WEB = "local-store-local", "local-api-local", "local-web-local"


def make_project(root: Path) -> Path:
    for service in ("api", "web"):
        (root / "services" / "functions" / service).mkdir(parents=True)
        (root / "services" / "functions" / service / "app.py").write_text(HANDLER)
    (root / "services" / "estate.py").write_text(SERVICES)
    (root / "envs").mkdir()
    (root / "envs" / "local.toml").write_text(ENV)
    (root / "platform").mkdir()
    (root / "platform" / "profile.py").write_text(PROFILE)
    return root


def stacks(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in report["stacks"]}


@pytest.fixture
def setup(tmp_path: Path, tf_binary: Path) -> tuple[Path, Cli, Logged]:
    logged = Logged(tmp_path, tf_binary)
    return make_project(tmp_path / "estate"), Cli(logged.script), logged


def test_plans_run_terraform_only_for_what_changed(setup: tuple[Path, Cli, Logged]) -> None:
    project, cli, terraform = setup
    code, first = cli.json(project, "apply", "--env", "local", "--auto-approve")
    assert code == 0, first
    assert {s["status"] for s in first["stacks"]} == {"applied"}
    records = project / ".platform" / "state" / "local"
    assert sorted(p.name for p in records.glob("*.platform.json")) == [f"{s}.platform.json" for s in (API, STORE, WEB)]
    record = json.loads((records / f"{API}.platform.json").read_text())
    assert record["status"] == "applied" and list(record["applied"]["upstream"]) == [STORE]
    terraform.runs()

    # Nothing changed: no Terraform run at all, every stack listed as unchanged (not refreshed).
    code, report = cli.json(project, "plan", "--env", "local", "--detailed-exitcode")
    assert code == 0, report
    assert terraform.runs() == []
    assert {s["status"] for s in report["stacks"]} == {"unchanged"}
    assert stacks(report)[API]["unchanged_since"] == record["applied"]["at"]
    human = cli(project, "plan", "--env", "local")
    assert f"{API}: unchanged since {record['applied']['at']} (not refreshed)" in human.stdout
    terraform.runs()

    # One function's code edited: only its stack is planned.
    (project / "services" / "functions" / "web" / "app.py").write_text(HANDLER.replace("v1", "v2"))
    code, report = cli.json(project, "plan", "--env", "local", "--detailed-exitcode")
    assert code == 2, report
    assert {stack for stack, _ in terraform.runs()} == {WEB}
    assert stacks(report)[WEB]["status"] == "changes"
    assert stacks(report)[WEB]["planned_because"] == "its configuration changed"
    assert stacks(report)[WEB]["changes"]["update"] == ["localcloud_function.page"]
    assert stacks(report)[API]["status"] == stacks(report)[STORE]["status"] == "unchanged"
    # The plan with changes was saved, not applied: the next plan plans it again (never skipped).
    assert json.loads((records / f"{WEB}.platform.json").read_text())["status"] == "changes-pending"
    code, report = cli.json(project, "apply", "--env", "local", "--auto-approve")
    assert code == 0 and stacks(report)[WEB]["status"] == "applied"
    assert {stack for stack, _ in terraform.runs()} == {WEB}
    assert cli(project, "plan", "--env", "local", "--detailed-exitcode").exit_code == 0
    assert terraform.runs() == []

    # A producer renamed: it is planned, its consumer waits for it, and is planned after its outputs changed.
    env = {"STORE_SUFFIX": "-v2"}
    code, report = cli.json(project, "plan", "--env", "local", env=env)
    assert stacks(report)[STORE]["status"] == "changes"
    assert stacks(report)[API]["status"] == "waiting" and stacks(report)[API]["waiting_on"] == [STORE]
    assert stacks(report)[WEB]["status"] == "unchanged"
    assert {stack for stack, _ in terraform.runs()} == {STORE}
    api_config = (project / "cdktf.out" / "local" / "stacks" / API / "cdk.tf.json").read_text()
    code, report = cli.json(project, "apply", "--env", "local", "--auto-approve", "--allow-data-loss", env=env)
    assert code == 0, report
    assert (project / "cdktf.out" / "local" / "stacks" / API / "cdk.tf.json").read_text() == api_config, \
        "the consumer's configuration did not change: only its producer's outputs did"
    second_wave = stacks(report["waves"][1])
    assert second_wave[API]["planned_because"] == f"the outputs of {STORE} changed"
    assert second_wave[API]["changes"]["update"] == ["localcloud_function.reader"]
    assert stacks(report)[API]["status"] == "applied" and stacks(report)[WEB]["status"] == "unchanged"
    assert {stack for stack, _ in terraform.runs()} == {STORE, API}
    terraform.runs()

    # --all plans every stack; none needs `terraform init` again (providers, lock file and backend unchanged).
    code, report = cli.json(project, "plan", "--env", "local", "--all", env=env)
    assert code == 0 and {s["status"] for s in report["stacks"]} == {"no-changes"}
    assert {s["planned_because"] for s in report["stacks"]} == {"--all"}
    runs = terraform.runs()
    assert {stack for stack, _ in runs} == {STORE, API, WEB}
    assert sorted(command for _, command in runs) == ["plan"] * 3 + ["show"] * 3


def test_init_runs_only_when_what_it_depends_on_changed(setup: tuple[Path, Cli, Logged]) -> None:
    project, cli, terraform = setup
    assert cli(project, "apply", "--env", "local", "--auto-approve").exit_code == 0
    data = project / ".platform" / "terraform" / "local"
    assert (data / WEB / ".terraform.lock.hcl").is_file() and (data / WEB / "data" / "providers").is_dir()
    terraform.runs()
    assert cli(project, "plan", "--env", "local", "--all").exit_code == 0
    assert "init" not in {command for _, command in terraform.runs()}

    # The provider constraint changes (here: the stamp of the last init no longer matches): init runs again.
    stamp = data / WEB / "init.json"
    stamp.write_text(json.dumps({"stamp": "something else"}))
    assert cli(project, "plan", "--env", "local", "--all").exit_code == 0
    assert [(stack, command) for stack, command in terraform.runs() if command == "init"] == [(WEB, "init")]

    # Terraform's data went missing behind the stamp's back (a cleaned cache): the plan inits and retries.
    shutil.rmtree(data / API / "data")
    (data / API / "data").mkdir()
    code, report = cli.json(project, "plan", "--env", "local", "--all")
    assert code == 0, report
    assert [command for stack, command in terraform.runs() if stack == API] == ["plan", "init", "plan", "show"]


def test_drift_refreshes_every_stack_and_the_next_plan_includes_the_drifted_one(
        setup: tuple[Path, Cli, Logged]) -> None:
    project, cli, terraform = setup
    assert cli(project, "apply", "--env", "local", "--auto-approve").exit_code == 0
    terraform.runs()
    code, report = cli.json(project, "drift", "--env", "local")
    assert code == 0 and report["drifted"] == []
    assert sorted(stack for stack, command in terraform.runs() if command == "plan") == sorted([API, STORE, WEB])

    bucket = project / ".platform" / "localcloud" / "local" / "local" / "buckets" / "acme-local-store-data"
    assert bucket.is_dir()
    shutil.rmtree(bucket)  # changed outside Terraform
    code, report = cli.json(project, "drift", "--env", "local")
    assert code == 2 and report["drifted"] == [STORE]
    assert stacks(report)[STORE]["drift"] == [{"address": "localcloud_bucket.data", "change": "deleted"}]
    human = cli(project, "drift", "--env", "local")
    assert "localcloud_bucket.data was deleted outside Terraform" in human.stdout and human.exit_code == 2
    terraform.runs()

    code, report = cli.json(project, "plan", "--env", "local")
    assert stacks(report)[STORE]["planned_because"] == "drift was found"
    assert stacks(report)[STORE]["changes"]["create"] == ["localcloud_bucket.data"]
    # store's plan re-creates the bucket under the same name: the outputs api reads stay as they are, and drift
    # kept store's record of its last apply, so api is unchanged (not planned, not waiting for store's apply)
    assert stacks(report)[API]["status"] == "unchanged" and stacks(report)[API]["waiting_on"] == []
    assert {stack for stack, _ in terraform.runs()} == {STORE}
    assert os.environ.get("STORE_SUFFIX") is None


def test_changes_made_outside_terraform_that_need_no_change_are_recorded_by_the_next_apply(
        setup: tuple[Path, Cli, Logged]) -> None:
    """A state behind the real objects, which already match the configuration (an apply killed after the provider
    made a change but before Terraform recorded it): `platform drift` reports it, the next plan has nothing to
    change, and the apply records the real values in the state (as `terraform apply` does), so drift stops
    reporting it. Before, the plan said "no changes", nothing was applied, and drift reported it for good."""
    project, cli, _ = setup
    assert cli(project, "apply", "--env", "local", "--auto-approve").exit_code == 0
    state_file = project / ".platform" / "state" / "local" / f"{API}.tfstate"
    state = json.loads(state_file.read_text())
    [function] = [r for r in state["resources"] if r["type"] == "localcloud_function"]
    real_hash = function["instances"][0]["attributes"]["code_hash"]
    function["instances"][0]["attributes"]["code_hash"] = "0" * 64  # what the state said before the kill
    state_file.write_text(json.dumps(state))

    code, found = cli.json(project, "drift", "--env", "local")
    assert code == 2 and found["drifted"] == [API], found
    code, report = cli.json(project, "plan", "--env", "local")
    api = stacks(report)[API]
    assert api["status"] == "changes" and api["drift"] == [{"address": "localcloud_function.reader",
                                                           "change": "changed"}], api
    assert not any(api["changes"].values()), "nothing to change on the real objects"
    assert "1 change(s) made outside Terraform to record in the state" in cli(project, "plan", "--env",
                                                                              "local").stdout
    result = cli(project, "apply", "--env", "local", "--auto-approve")
    assert result.exit_code == 0, result.output
    assert "state records what changed outside Terraform" in result.stdout
    recorded = json.loads(state_file.read_text())
    [function] = [r for r in recorded["resources"] if r["type"] == "localcloud_function"]
    assert function["instances"][0]["attributes"]["code_hash"] == real_hash
    code, found = cli.json(project, "drift", "--env", "local")
    assert code == 0 and found["drifted"] == [], found
    assert cli(project, "plan", "--env", "local", "--all", "--detailed-exitcode").exit_code == 0
