"""What a plan covers, through the real Terraform binary and the real local-cloud provider:

- a destroy plan shows every stack's destroy at once (producers too, with their DATA LOSS), and the destroy
  still goes consumers first;
- `plan/apply --stack CONSUMER` while its producer, outside the run, has not yet applied an output the consumer
  reads: the consumer is reported as waiting for it (with how to include it), never planned against the missing
  output (Terraform's "Unsupported attribute"), and `apply` refuses it (exit 1) changing nothing.

The estate: `auth`'s function sends to `notify`'s queue and reads `notify`'s bucket (holding an object), so auth
reads notify's outputs through remote state.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.terraform_fixtures import (  # noqa: F401 - registers the tf_binary fixture
    Cli,
    Logged,
    state_files,
    state_resources,
    tf_binary_fixture,
    tree,
)

SERVICES = '''\
from platform_sdk import Bucket, Function, Queue, Service, http

notify = Service("notify", owner="comms-team")
email = notify.add(Queue("email", retention_days=3, max_attempts=5))
inbox = notify.add(Bucket("inbox"))

auth = Service("auth", owner="identity-team")
api = auth.add(Function("api", handler="api.handle", source="functions/auth", triggers=[http()]))
api.sends(email)
api.reads(inbox)
'''
# the producer gains a bucket the consumer reads: an output the producer's state does not have until it is applied
WITH_ARCHIVE = SERVICES + 'archive = notify.add(Bucket("archive"))\napi.reads(archive)\n'
HANDLER = 'def handle(request):\n    return {"status": 200, "body": {"v": 1}}\n'
ENV = '''name_prefix = "local"
default_cloud = "local"

[clouds.local]
root = ".platform/localcloud"
gateway_port = 8793

[state]
backend = "local"
path = ".platform/state"
'''
AUTH, NOTIFY = "local-auth-local", "local-notify-local"
ARCHIVE_URL_SHOWN = "notify.archive's url"


def stacks(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in report["stacks"]}


@pytest.fixture
def applied(tmp_path: Path, tf_binary: Path) -> tuple[Path, Cli, Logged]:
    project = tmp_path / "estate"
    (project / "services" / "functions" / "auth").mkdir(parents=True)
    (project / "services" / "functions" / "auth" / "api.py").write_text(HANDLER)
    (project / "services" / "estate.py").write_text(SERVICES)
    (project / "envs").mkdir()
    (project / "envs" / "local.toml").write_text(ENV)
    terraform = Logged(tmp_path, tf_binary)
    cli = Cli(terraform.script)
    code, report = cli.json(project, "apply", "--env", "local", "--auto-approve")
    assert code == 0, report
    assert {s["status"] for s in report["stacks"]} == {"applied"}
    terraform.runs()
    return project, cli, terraform


def bucket_dir(project: Path, name: str) -> Path:
    found = [p for p in (project / ".platform" / "localcloud").rglob(f"*notify-{name}") if p.is_dir()]
    assert len(found) == 1, found
    return found[0]


# ----------------------------------------------------------------------------------------------------- destroy

@pytest.mark.e2e
def test_a_destroy_plan_shows_and_counts_every_stack_and_the_destroy_goes_consumers_first(
        applied: tuple[Path, Cli, Logged], tmp_path: Path) -> None:
    project, cli, terraform = applied
    (bucket_dir(project, "inbox") / "kept.txt").write_text("data")
    held = state_resources(project)
    everything = sum(len(addresses) for addresses in held.values())
    assert len(held[f"{NOTIFY}.tfstate"]) >= 2 and held[f"{AUTH}.tfstate"], held

    code, report = cli.json(project, "plan", "--env", "local", "--destroy")
    assert code == 0, report
    assert {s["name"]: s["status"] for s in report["stacks"]} == {AUTH: "changes", NOTIFY: "changes"}
    assert report["totals"]["destroy"] == everything
    assert sorted(stacks(report)[NOTIFY]["changes"]["destroy"]) == held[f"{NOTIFY}.tfstate"]
    assert {(d["stack"], d["address"]) for d in report["data_loss"]} == {
        (NOTIFY, "localcloud_bucket.inbox"), (NOTIFY, "localcloud_queue.email")}
    human = cli(project, "plan", "--env", "local", "--destroy")
    assert human.exit_code == 0, human.stderr
    assert "planned after" not in human.stdout
    assert f"localcloud_bucket.inbox in {NOTIFY} will be DESTROYED" in human.stdout
    assert f"{everything} to destroy in 2 stack(s)\n" in human.stdout
    assert {stack for stack, command in terraform.runs() if command == "apply"} == set()

    # the reviewed destroy report is whole too, and is still no plan an `apply --expect` applies
    review = tmp_path / "destroy-local.json"
    reviewed = cli(project, "plan", "--env", "local", "--destroy", "--report", str(review))
    assert reviewed.exit_code == 0 and json.loads(review.read_text())["totals"]["destroy"] == everything
    before = state_files(project)
    expect = cli(project, "apply", "--env", "local", "--auto-approve", "--expect", str(review))
    assert expect.exit_code == 2 and "not a plan of local" in expect.stderr and state_files(project) == before
    terraform.runs()

    before = state_files(project)
    asked = cli(project, "destroy", "--env", "local", "--allow-data-loss", input="no\n")
    assert asked.exit_code == 1 and "Destroy cancelled" in asked.stderr
    assert f"localcloud_bucket.inbox in {NOTIFY} will be DESTROYED" in asked.stdout, "the plan shown before asking"
    assert "planned after" not in asked.stdout and state_files(project) == before
    terraform.runs()

    code, done = cli.json(project, "destroy", "--env", "local", "--auto-approve", "--allow-data-loss")
    assert code == 0, done
    assert len(done["waves"]) == 1 and done["waves"][0]["totals"]["destroy"] == everything
    assert {s["status"] for s in done["stacks"]} == {"applied"}
    runs = terraform.runs()
    applies = [stack for stack, command in runs if command == "apply"]
    assert applies == [AUTH, NOTIFY], "consumers are destroyed before their producers"
    last_plan = max(i for i, (_, command) in enumerate(runs) if command == "plan")
    assert last_plan < runs.index((AUTH, "apply")), "every destroy is planned before any is applied"
    assert state_resources(project) == {f"{AUTH}.tfstate": [], f"{NOTIFY}.tfstate": []}


@pytest.mark.e2e
def test_a_destroy_refused_for_data_loss_names_the_producers_data_and_changes_nothing(
        applied: tuple[Path, Cli, Logged]) -> None:
    project, cli, terraform = applied
    before = state_files(project)
    refused = cli(project, "destroy", "--env", "local", "--auto-approve")
    assert refused.exit_code == 1
    assert f"localcloud_bucket.inbox in {NOTIFY} (destroy)" in refused.stderr
    assert state_files(project) == before
    assert [stack for stack, command in terraform.runs() if command == "apply"] == []


# ----------------------------------------------------------------------------------- --stack of a consumer only

@pytest.mark.e2e
def test_plan_and_apply_of_a_consumer_whose_producer_outside_the_run_lacks_an_output_it_reads(
        applied: tuple[Path, Cli, Logged], tmp_path: Path) -> None:
    project, cli, terraform = applied
    (project / "services" / "estate.py").write_text(WITH_ARCHIVE)
    full = cli(project, "plan", "--env", "local")
    assert full.exit_code == 0, full.stderr
    waits = f"{AUTH}: planned after {NOTIFY} is applied (its output {ARCHIVE_URL_SHOWN} changes)"
    assert waits in full.stdout
    review = tmp_path / "plan-local.json"
    assert cli(project, "plan", "--env", "local", "--report", str(review)).exit_code == 0
    terraform.runs()
    before = state_files(project), tree(project / ".platform" / "localcloud")
    hint = f"--stack {NOTIFY} --stack {AUTH}"

    scoped = cli(project, "plan", "--env", "local", "--stack", AUTH)
    assert scoped.exit_code == 0, scoped.stdout + scoped.stderr
    assert waits in scoped.stdout and hint in scoped.stdout and "without --stack" in scoped.stdout
    assert "Unsupported attribute" not in scoped.stdout + scoped.stderr
    assert cli(project, "plan", "--env", "local", "--stack", AUTH, "--detailed-exitcode").exit_code == 2
    code, data = cli.json(project, "plan", "--env", "local", "--stack", AUTH)
    assert code == 0 and [s["name"] for s in data["stacks"]] == [AUTH]
    assert stacks(data)[AUTH]["status"] == "waiting" and stacks(data)[AUTH]["waiting_on"] == [NOTIFY]
    assert stacks(data)[AUTH]["waiting_outputs"] == {NOTIFY: [ARCHIVE_URL_SHOWN]}
    assert hint in stacks(data)[AUTH]["reason"]
    markdown = cli(project, "plan", "--env", "local", "--stack", AUTH, "--format", "markdown")
    assert markdown.exit_code == 0 and hint in markdown.stdout
    runs = terraform.runs()
    assert (AUTH, "plan") not in runs and (NOTIFY, "plan") not in runs, "neither stack is planned"

    for expect in ([], ["--expect", str(review)]):
        refused = cli(project, "apply", "--env", "local", "--stack", AUTH, "--auto-approve", *expect)
        assert refused.exit_code == 1, refused.stdout + refused.stderr
        assert "Unsupported attribute" not in refused.stdout + refused.stderr
        assert f"error: not applied: {AUTH} is planned after {NOTIFY} is applied" in refused.stderr
        assert hint in refused.stderr
        assert [command for _, command in terraform.runs() if command in ("plan", "apply")] == []
        assert (state_files(project), tree(project / ".platform" / "localcloud")) == before

    # the hint works: with its producer in the run, the consumer is applied after it, as reviewed
    both = cli(project, "apply", "--env", "local", "--stack", NOTIFY, "--stack", AUTH, "--auto-approve",
               "--expect", str(review))
    assert both.exit_code == 0, both.stdout + both.stderr
    assert [stack for stack, command in terraform.runs() if command == "apply"] == [NOTIFY, AUTH]
    assert cli(project, "plan", "--env", "local", "--detailed-exitcode").exit_code == 0


@pytest.mark.e2e
def test_a_consumer_whose_producer_outside_the_run_has_every_output_it_reads_is_planned(
        applied: tuple[Path, Cli, Logged]) -> None:
    """Producers outside the run are read as applied: only a missing output holds the consumer back."""
    project, cli, terraform = applied
    handler = project / "services" / "functions" / "auth" / "api.py"
    handler.write_text(HANDLER.replace('"v": 1', '"v": 2'))
    code, data = cli.json(project, "plan", "--env", "local", "--stack", AUTH)
    assert code == 0, data
    assert stacks(data)[AUTH]["status"] == "changes" and stacks(data)[AUTH]["reason"] is None
    assert stacks(data)[AUTH]["changes"]["update"] == ["localcloud_function.api"]
    assert [command for stack, command in terraform.runs() if stack == NOTIFY] == [], \
        "a producer unchanged since its last apply is neither planned nor read"
