"""`platform envs`, `platform synth` and `platform graph` as a user reads them: the text table and listing, a
schema error found in the synthesized stacks (exit 1, one `schema:` line naming the resource and argument), and
another command holding the environment's workspace lock (one error naming the holder, exit 1 as `apply` and `unlock`
give: a refusal, not bad input; nothing written).

Through the real CLI (a separate process where the text layout matters, so the terminal width is the test's) on a
copy of the example estate; synthesis runs the real CDKTF.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from platform_sdk.cli import app
from platform_sdk.project import Project
from platform_sdk.terraform.locks import workspace_lock
from tests.conformance_estates import CLOUDS, write_project
from tests.test_escape_hatch import ESTATE

PLATFORM_BIN = Path(sys.executable).parent / "platform"
runner = CliRunner()


def platform(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`platform <args> --project P` as a separate process with a wide terminal (the tables are not wrapped)."""
    env = {**os.environ, "COLUMNS": "250"}
    env.pop("PLATFORM_PROJECT", None)
    return subprocess.run([str(PLATFORM_BIN), args[0], "--project", str(project), *args[1:]], env=env,
                          capture_output=True, text=True, timeout=600)


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_envs_lists_every_environment_with_its_placement_state_and_local_stand_ins(estate: Path) -> None:
    run = platform(estate, "envs")
    assert run.returncode == 0, run.stderr
    rows = {line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:-1]]
            for line in run.stdout.splitlines() if line.startswith("│")}
    assert set(rows) == {"local", "dev", "staging", "prod"}, run.stdout
    cloud, placement, state, protected = rows["local"]
    assert cloud == "aws" and state == "local" and protected == ""
    assert placement == "web→gcp  (local stand-ins: aws, gcp)", placement
    assert "stand-ins" not in rows["prod"][1] and rows["prod"][3] == "yes", rows["prod"]


def test_envs_outside_any_project_says_so_and_exits_2(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "250"}
    env.pop("PLATFORM_PROJECT", None)
    run = subprocess.run([str(PLATFORM_BIN), "envs"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 2, (run.stdout, run.stderr)
    message = flat(run.stderr)
    assert message.count("error:") == 1 and f"no project there: {tmp_path.resolve()} has no envs/ folder" in message
    assert run.stdout == "", run.stdout  # no empty table


def test_synth_reports_each_schema_error_and_exits_1(tmp_path: Path) -> None:
    env = 'name_prefix = "acme"\ndefault_cloud = "aws"\n' + CLOUDS
    project = write_project(tmp_path / "estate", {"shop.py": ESTATE.format(extra='"no_such_argument": 1,')},
                            {"e": env})
    result = runner.invoke(app, ["synth", "--env", "e", "--project", str(project.root)])
    assert result.exit_code == 1, result.output
    schema = [line for line in result.stderr.splitlines() if line.startswith("schema:")]
    assert len(schema) == 1, result.stderr
    assert "aws_cloudwatch_metric_alarm.backlog" in schema[0] and "no_such_argument" in schema[0], schema
    assert "e-shop-aws" in result.stdout  # the stacks were synthesized (and written) before the check


def test_synth_and_graph_refuse_while_another_command_holds_the_workspace(estate: Path) -> None:
    """Every command that takes the environment's workspace lock refuses alike: exit 1 (a refusal, as `apply` and
    `unlock` exit; `move`, `ci` and `secret set` said 2, the bad-input code), one `error:` line naming the holder."""
    commands = [("local", ["synth"]), ("local", ["graph"]), ("local", ["move", "thumbnails", "--to", "gcp", "--yes"]),
                ("dev", ["ci", "github", "--out", str(estate / "ci-out"), "--install", "pip install -r r.txt"]),
                ("local", ["secret", "set", "auth.jwt-key"])]
    for env, command in commands:
        with workspace_lock(Project(estate).cache_dir, env, "apply"):
            result = runner.invoke(app, [*command, "--env", env, "--project", str(estate)], input="s3cret\n")
        assert result.exit_code == 1, (command, result.output)
        message = flat(result.stderr)
        assert message.count("error:") == 1, message
        assert f"environment {env} is locked by `platform apply`" in message and f"pid {os.getpid()}" in message
        assert "Traceback" not in result.output
        assert not (estate / "cdktf.out").exists(), f"{command} wrote under another command's lock"
        assert not (estate / "ci-out").exists()


def test_graph_lists_each_stack_with_its_resources_shared_prerequisites_and_order(estate: Path) -> None:
    stacks: dict[str, list[str]] = {}
    for env in ("local", "dev"):
        run = platform(estate, "graph", "--env", env)
        assert run.returncode == 0, run.stderr
        for line in run.stdout.splitlines():
            if line and not line.startswith(" "):
                name = line.split()[0]
                stacks[name] = [" ".join(line.split()[1:])]
            elif line.strip():
                stacks[name].append(" ".join(line.split()))
    assert stacks["local-web-gcp"] == ["gcp (local stand-in)", "bucket site", "function api", "cdn cdn"]
    assert stacks["local-auth-aws"][0] == "aws (local stand-in)"
    assert "after local-notifications-aws" in stacks["local-auth-aws"]  # auth grants notifications' function
    assert stacks["dev-base-aws"][0] == "aws" and "shared dns: zone" in stacks["dev-base-aws"]
    assert any(line.startswith("shared vpc-endpoint: ") for line in stacks["dev-base-aws"]), stacks["dev-base-aws"]
    assert stacks["dev-auth-aws"][-2:] == ["after dev-base-aws", "after dev-notifications-aws"]
    assert "bucket originals" in stacks["dev-thumbnails-aws"] and "after dev-base-aws" in stacks["dev-thumbnails-aws"]
    afters = {line.removeprefix("after ") for lines in stacks.values() for line in lines if line.startswith("after ")}
    assert afters <= set(stacks), afters  # every dependency named is a stack of the listing
