"""A consumer stack is planned beside its producer when the producer exists and its pending plan leaves every output
the consumer reads as it is; it waits ("planned after <producer> is applied (its output X changes)") only when the
producer does not exist yet or its plan changes what the consumer reads. Through the real Terraform binary and the
real local-cloud provider: `plan`, `apply`, and the reviewed-plan path of CI (`plan --report`, `apply --expect`).

The estate: `auth`'s function sends to `notify`'s queue, so auth reads notify's queue URL through remote state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from platform_sdk.terraform import reads
from platform_sdk.terraform import report as report_module
from platform_sdk.terraform.report import StackPlan, parse_plan, planned_after
from tests.terraform_fixtures import (  # noqa: F401 - registers the tf_binary fixture
    Cli,
    Logged,
    state_resources,
    tf_binary_fixture,
)

SERVICES = '''\
from platform_sdk import Function, Queue, Service, http

notify = Service("notify", owner="comms-team")
email = notify.add(Queue("email", retention_days=3, max_attempts=5))

auth = Service("auth", owner="identity-team")
api = auth.add(Function("api", handler="api.handle", source="functions/auth", triggers=[http()]))
api.sends(email)
'''
HANDLER = 'def handle(request):\n    return {"status": 200, "body": {"v": 1}}\n'
# notify's physical names take a suffix from the environment: a change of notify that changes the queue's URL
PROFILE = '''\
import os

from platform_sdk.profile import Profile


def naming(env, service, resource):
    suffix = os.environ.get("NOTIFY_SUFFIX", "") if service == "notify" else ""
    return f"local-{env.name}-{service}-{resource}{suffix}"


PROFILE = Profile(name="consumer", naming=naming)
'''
ENV = '''name_prefix = "local"
default_cloud = "local"
profile = "platform/profile.py:PROFILE"

[clouds.local]
root = ".platform/localcloud"
gateway_port = 8792

[state]
backend = "local"
path = ".platform/state"
'''
AUTH, NOTIFY = "local-auth-local", "local-notify-local"
QUEUE_URL = "cross-stack-output-localcloud_queueemailurl"  # the output of notify that auth reads (CDKTF's name)
QUEUE_URL_SHOWN = "notify.email's url"  # how messages name it: the declared resource and its attribute
RENAMED = {"NOTIFY_SUFFIX": "-v2"}


def make_project(root: Path) -> Path:
    (root / "services" / "functions" / "auth").mkdir(parents=True)
    (root / "services" / "functions" / "auth" / "api.py").write_text(HANDLER)
    (root / "services" / "estate.py").write_text(SERVICES)
    (root / "envs").mkdir()
    (root / "envs" / "local.toml").write_text(ENV)
    (root / "platform").mkdir()
    (root / "platform" / "profile.py").write_text(PROFILE)
    return root


def stacks(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in report["stacks"]}


def change_auth(project: Path) -> None:
    """The reproduction's consumer change: the function's code."""
    path = project / "services" / "functions" / "auth" / "api.py"
    path.write_text(path.read_text().replace('"v": 1}', '"v": 99}'))


def change_notify_retention(project: Path) -> None:
    """The reproduction's producer change: the queue's retention, none of the outputs auth reads."""
    path = project / "services" / "estate.py"
    path.write_text(path.read_text().replace("retention_days=3, max_attempts=5", "retention_days=4, max_attempts=5"))


@pytest.fixture
def setup(tmp_path: Path, tf_binary: Path) -> tuple[Path, Cli, Logged]:
    logged = Logged(tmp_path, tf_binary)
    return make_project(tmp_path / "estate"), Cli(logged.script), logged


@pytest.fixture
def applied(setup: tuple[Path, Cli, Logged]) -> tuple[Path, Cli, Logged]:
    project, cli, terraform = setup
    code, report = cli.json(project, "apply", "--env", "local", "--auto-approve")
    assert code == 0, report
    assert {s["status"] for s in report["stacks"]} == {"applied"}
    terraform.runs()
    return setup


def applies(runs: list[tuple[str, str]]) -> list[str]:
    return [stack for stack, command in runs if command == "apply"]


# ------------------------------------------------------------------------------------------- through real parts

@pytest.mark.e2e
def test_consumer_change_is_planned_beside_an_unrelated_producer_change_and_applied(
        applied: tuple[Path, Cli, Logged]) -> None:
    project, cli, terraform = applied
    change_auth(project)
    code, report = cli.json(project, "plan", "--env", "local")
    assert code == 0 and stacks(report)[AUTH]["changes"]["update"] == ["localcloud_function.api"]

    change_notify_retention(project)
    code, report = cli.json(project, "plan", "--env", "local")
    assert code == 0, report
    assert stacks(report)[NOTIFY]["status"] == "changes"
    assert stacks(report)[NOTIFY]["changes"]["update"] == ["localcloud_queue.email"]
    assert stacks(report)[AUTH]["status"] == "changes", "the consumer's own change must stay in the plan"
    assert stacks(report)[AUTH]["changes"]["update"] == ["localcloud_function.api"]
    assert stacks(report)[AUTH]["waiting_on"] == []
    human = cli(project, "plan", "--env", "local")
    assert "planned after" not in human.stdout
    assert f"{AUTH}: 1 to update" in human.stdout and "~ update   localcloud_function.api" in human.stdout
    terraform.runs()

    # apply: one wave, the producer applied before the consumer planned beside it, whose reviewed plan is applied
    code, report = cli.json(project, "apply", "--env", "local", "--auto-approve")
    assert code == 0, report
    assert len(report["waves"]) == 1
    assert stacks(report)[AUTH]["status"] == stacks(report)[NOTIFY]["status"] == "applied"
    assert stacks(report)[AUTH]["replanned"] is None
    runs = terraform.runs()
    assert applies(runs) == [NOTIFY, AUTH]
    assert [stack for stack, command in runs if command == "plan"].count(AUTH) == 1, "planned once, not again"
    code, report = cli.json(project, "plan", "--env", "local", "--detailed-exitcode")
    assert code == 0, report
    assert {s["status"] for s in report["stacks"]} <= {"unchanged", "no-changes"}


@pytest.mark.e2e
def test_a_producer_change_of_an_output_the_consumer_reads_still_makes_it_wait_naming_the_output(
        applied: tuple[Path, Cli, Logged]) -> None:
    project, cli, terraform = applied
    change_auth(project)
    code, report = cli.json(project, "plan", "--env", "local", env=RENAMED)
    assert code == 0, report
    assert stacks(report)[NOTIFY]["status"] == "changes"
    assert stacks(report)[AUTH]["status"] == "waiting" and stacks(report)[AUTH]["waiting_on"] == [NOTIFY]
    assert stacks(report)[AUTH]["waiting_outputs"] == {NOTIFY: [QUEUE_URL_SHOWN]}
    assert AUTH not in {stack for stack, command in terraform.runs() if command == "plan"}
    human = cli(project, "plan", "--env", "local", env=RENAMED)
    assert f"{AUTH}: planned after {NOTIFY} is applied (its output {QUEUE_URL_SHOWN} changes); its own " \
           "configuration changed too: it is planned then" in " ".join(human.stdout.split())  # auth's code edit

    code, report = cli.json(project, "apply", "--env", "local", "--auto-approve", "--allow-data-loss", env=RENAMED)
    assert code == 0, report
    assert len(report["waves"]) == 2 and stacks(report["waves"][1])[AUTH]["status"] == "changes"
    assert stacks(report)[AUTH]["status"] == stacks(report)[NOTIFY]["status"] == "applied"
    assert cli(project, "plan", "--env", "local", "--detailed-exitcode", env=RENAMED).exit_code == 0


@pytest.mark.e2e
def test_a_producer_that_does_not_exist_yet_makes_its_consumer_wait(setup: tuple[Path, Cli, Logged]) -> None:
    project, cli, terraform = setup
    code, report = cli.json(project, "plan", "--env", "local")
    assert code == 0, report
    assert stacks(report)[AUTH]["status"] == "waiting" and stacks(report)[AUTH]["waiting_on"] == [NOTIFY]
    assert stacks(report)[AUTH]["waiting_outputs"] == {}
    assert {stack for stack, command in terraform.runs() if command == "plan"} == {NOTIFY}
    human = cli(project, "plan", "--env", "local")
    assert f"{AUTH}: planned after {NOTIFY} is applied\n" in human.stdout


@pytest.mark.e2e
def test_reviewed_plans_with_the_consumer_beside_its_producer_are_applied_by_expect(
        applied: tuple[Path, Cli, Logged], tmp_path: Path) -> None:
    project, cli, _ = applied
    change_auth(project)
    change_notify_retention(project)
    report = tmp_path / "plan-local.json"
    planned = cli(project, "plan", "--env", "local", "--format", "markdown", "--report", str(report))
    assert planned.exit_code == 0, planned.stderr
    assert "planned after" not in planned.stdout and "! update   localcloud_function.api" in planned.stdout
    # CI: one job per wave, each planning again and comparing with the reviewed report
    first = cli(project, "apply", "--env", "local", "--stack", NOTIFY, "--auto-approve", "--expect", str(report))
    assert first.exit_code == 0, first.stderr
    # the consumer's reviewed plan is now held to: a plan that differs from it is refused, nothing applied
    services = project / "services" / "estate.py"
    services.write_text(SERVICES.replace("retention_days=3", "retention_days=4")
                        + 'from platform_sdk import Bucket\nauth.add(Bucket("extra"))\n')
    stale = cli(project, "apply", "--env", "local", "--stack", AUTH, "--auto-approve", "--expect", str(report))
    assert stale.exit_code == 1 and "now also creates localcloud_bucket.extra" in stale.stderr
    assert "localcloud_function.api" in str(state_resources(project)[f"{AUTH}.tfstate"])
    services.write_text(SERVICES.replace("retention_days=3", "retention_days=4"))
    second = cli(project, "apply", "--env", "local", "--stack", AUTH, "--auto-approve", "--expect", str(report))
    assert second.exit_code == 0, second.stderr
    code, data = cli.json(project, "plan", "--env", "local", "--all")
    assert code == 0 and {s["status"] for s in data["stacks"]} == {"no-changes"}, data


@pytest.mark.e2e
def test_a_consumer_waiting_in_the_review_is_planned_fresh_by_expect(applied: tuple[Path, Cli, Logged],
                                                                     tmp_path: Path) -> None:
    project, cli, _ = applied
    change_auth(project)
    report = tmp_path / "plan-local.json"
    planned = cli(project, "plan", "--env", "local", "--format", "markdown", "--report", str(report), env=RENAMED)
    assert planned.exit_code == 0, planned.stderr
    assert f"planned after {NOTIFY} is applied (its output {QUEUE_URL_SHOWN} changes)" in planned.stdout
    done = cli(project, "apply", "--env", "local", "--auto-approve", "--allow-data-loss", "--expect", str(report),
               env=RENAMED)
    assert done.exit_code == 0, done.stderr
    assert cli(project, "plan", "--env", "local", "--detailed-exitcode", env=RENAMED).exit_code == 0


@pytest.mark.e2e
def test_a_consumer_whose_read_output_changed_when_its_producer_was_applied_is_planned_again(
        applied: tuple[Path, Cli, Logged], monkeypatch: pytest.MonkeyPatch) -> None:
    """The safety net: a consumer planned beside its producer is never applied with outputs that are no longer
    current. Here the producer's plan remembers another value of the output than its state held (as if the
    consumer had been planned with that value); everything else is the real runner, Terraform and local cloud:
    the consumer's plan is discarded, it is planned again in the next wave, and the apply says so."""
    project, cli, terraform = applied
    change_auth(project)
    change_notify_retention(project)
    parse = report_module.parse_plan

    def remembering_an_older_value(doc: dict[str, Any], destroy: bool = False) -> StackPlan:
        plan = parse(doc, destroy)
        if QUEUE_URL in plan.prior_outputs:
            plan.prior_outputs[QUEUE_URL] = "file:///an/older/queue"
        return plan

    monkeypatch.setattr(report_module, "parse_plan", remembering_an_older_value)
    done = cli(project, "apply", "--env", "local", "--auto-approve")
    assert done.exit_code == 0, done.stderr
    assert f"planned again: {NOTIFY}'s output {QUEUE_URL_SHOWN} changed when it was applied" in done.stdout
    assert "(wave 2)" in done.stdout
    runs = terraform.runs()
    assert applies(runs) == [NOTIFY, AUTH]
    assert [stack for stack, command in runs if command == "plan"].count(AUTH) == 2
    monkeypatch.undo()
    assert cli(project, "plan", "--env", "local", "--detailed-exitcode").exit_code == 0


@pytest.mark.e2e
def test_an_apply_of_the_producer_alone_names_the_consumer_it_left_with_old_values(
        applied: tuple[Path, Cli, Logged]) -> None:
    """`apply --stack notify` with the queue renamed: auth, left out, still holds the old queue's URL; the apply
    says so and how to apply it. Once auth is applied too, nothing is said."""
    project, cli, _ = applied
    estate = project / "services" / "estate.py"  # a new queue of notify: new outputs, none of them read by auth
    estate.write_text(estate.read_text() + 'spare = notify.add(Queue("spare"))\n')
    unrelated = cli(project, "apply", "--env", "local", "--stack", NOTIFY, "--auto-approve")
    assert unrelated.exit_code == 0 and "still has the old values" not in unrelated.stderr, unrelated.stderr
    alone = cli(project, "apply", "--env", "local", "--stack", NOTIFY, "--auto-approve", "--allow-data-loss",
                env=RENAMED)
    assert alone.exit_code == 0, alone.stdout + alone.stderr
    said = " ".join(alone.stderr.split())
    assert (f"note: {AUTH} reads outputs of {NOTIFY} that changed with this apply and still has the old values: "
            f"apply it too (platform apply --env local --stack {AUTH})") in said, said
    both = cli(project, "apply", "--env", "local", "--stack", AUTH, "--auto-approve", env=RENAMED)
    assert both.exit_code == 0 and "still has the old values" not in both.stderr, both.stderr
    again = cli(project, "apply", "--env", "local", "--stack", NOTIFY, "--auto-approve", env=RENAMED)
    assert again.exit_code == 0 and "still has the old values" not in again.stderr, again.stderr


# ---------------------------------------------------------------------------------------------------- pure parts

def test_outputs_read_from_remote_state_references() -> None:
    document = {"resource": {"localcloud_function": {"api": {"environment": {
        "A": "${data.terraform_remote_state.cross-stack-reference-input-local-notify-local.outputs.out-a}",
        "B": "${element(data.terraform_remote_state.cross-stack-reference-input-local-web-gcp.outputs.b_1, 0)}"}}}},
        "data": {"terraform_remote_state": {"cross-stack-reference-input-local-notify-local": {"backend": "local"}}}}
    assert reads.outputs_read(document) == {"local-notify-local": {"out-a"}, "local-web-gcp": {"b_1"}}
    whole = {"locals": {"x": "${data.terraform_remote_state.cross-stack-reference-input-p.outputs}"}}
    assert reads.outputs_read(whole) == {"p": reads.EVERY}
    assert reads.changing({"a"}, {"a": "no-op", "b": "update"}) == []
    assert reads.changing({"a", "c"}, {"a": "unknown", "b": "update"}) == ["a", "c"]
    assert reads.changing(reads.EVERY, {"a": "no-op", "b": "update"}) == ["b"]


def test_outputs_are_named_by_the_declared_resource_they_carry(tmp_path: Path) -> None:
    """`cross-stack-output-localcloud_queueemailurl` says nothing to whoever declared `notify.email`."""
    import json

    (tmp_path / "cdk.tf.json").write_text(json.dumps({"output": {
        "cross-stack-output-localcloud_queueemailurl": {"value": "${localcloud_queue.email.url}", "sensitive": True},
        "other": {"value": "${localcloud_bucket.raw.name}"},
        "joined": {"value": "${join(\",\", [localcloud_queue.email.url])}"}}}))
    owners = {"localcloud_queue.email": "notify.email"}
    assert reads.described(tmp_path, ["cross-stack-output-localcloud_queueemailurl", "other", "joined", "gone"],
                           owners) == ["notify.email's url", "localcloud_bucket.raw's name", "joined", "gone"]
    assert reads.described(tmp_path / "missing", ["x"], owners) == ["x"]


def test_output_actions_from_terraform_1_0_3_plan_json() -> None:
    # the shape `terraform show -json` of Terraform 1.0.3 gives: every root output, unchanged ones as no-op
    doc = {"prior_state": {"values": {"outputs": {"a": {"value": "a-1"}}, "root_module": {}}},
           "output_changes": {
               "a": {"actions": ["no-op"], "before": "a-1", "after": "a-1", "after_unknown": False},
               "b": {"actions": ["update"], "before": "b-1", "after": None, "after_unknown": True},
               "c": {"actions": ["create"], "before": None, "after": "c", "after_unknown": False},
               "d": {"actions": ["delete"], "before": "d", "after": None, "after_unknown": False}}}
    plan = parse_plan(doc)
    assert plan.exists
    assert plan.output_actions == {"a": "no-op", "b": "unknown", "c": "create", "d": "delete"}
    assert plan.prior_outputs == {"a": "a-1", "b": "b-1", "d": "d"}
    assert plan.output_changes == ["b", "c", "d"]
    # never applied: Terraform 1.0.3 still fills the prior state's outputs (with the planned values)
    assert not parse_plan({"prior_state": {"values": {"outputs": {"c": {"value": "c"}}}},
                           "output_changes": {"c": doc["output_changes"]["c"]}}).exists
    assert StackPlan().output_actions == {}


def test_planned_after_names_the_outputs_that_change() -> None:
    assert planned_after(["p"], {}, "plan") == "planned after p is applied"
    assert planned_after(["p"], {"p": ["x"]}, "apply") == "planned after p is applied (its output x changes)"
    assert planned_after(["p"], {"p": ["x"]}, "plan", "its configuration changed") == \
        "planned after p is applied (its output x changes); its own configuration changed too: it is planned then"
    assert planned_after(["p"], {}, "plan", "the outputs of p changed") == "planned after p is applied"
    assert planned_after(["p", "q"], {"p": ["x", "y"]}, "plan") == \
        "planned after p, q is applied (p's outputs x, y change)"
