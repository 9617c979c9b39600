"""`platform logs` keeps a moved function's history: the lines its source cloud's log service holds from before
the cut-over are read too (through that cloud's plug-in), each line labelled with its cloud; source logs that cannot
be read are said in one line and never fail the command. Through real parts: the example estate moved on the local
cloud by the `platform` CLI with real Terraform, the local cloud's function logs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from platform_sdk.envs import load_environment
from platform_sdk.localcloud import logs
from platform_sdk.localcloud.roots import local_root
from tests.terraform_fixtures import (  # noqa: F401 - fixtures
    Cli,
    applied_estate_fixture,
    cli_fixture,
    tf_binary_fixture,
)

pytestmark = pytest.mark.e2e

FUNCTION = "acme-local-thumbnails-on-demand"


def lines(cli: Cli, project: Path) -> tuple[list[tuple[str, str, str]], str]:
    result = cli(project, "logs", "thumbnails.on-demand", "--env", "local", "--since", "1h", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    found = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return [(e["function"], e["cloud"], e["message"]) for e in found], result.stderr


def test_logs_of_a_moved_function_include_its_history_on_the_source_cloud(cli: Cli,
                                                                           applied_estate: Callable[[], Path]) -> None:
    project = applied_estate()
    env = load_environment(project / "envs" / "local.toml")
    aws, gcp = local_root(project, env, "aws"), local_root(project, env, "gcp")
    logs.write(aws, FUNCTION, "before the move", "r-1", when=datetime.now(UTC) - timedelta(minutes=20))
    assert lines(cli, project)[0] == [("thumbnails.on-demand", "aws", "before the move")]

    code, report = cli.json(project, "move", "thumbnails", "--to", "gcp", "--env", "local", "--yes")
    assert code == 0, report
    logs.write(gcp, FUNCTION, "after the move", "r-2")
    logs.write(aws, FUNCTION, "a stray line on the old cloud after the cut-over", "r-3")
    found, _ = lines(cli, project)
    assert found == [("thumbnails.on-demand", "aws", "before the move"),
                     ("thumbnails.on-demand", "gcp", "after the move")]
    text = cli(project, "logs", "thumbnails.on-demand", "--env", "local", "--since", "1h").stdout
    assert "before the move" in next(line for line in text.splitlines() if " aws " in line)

    logs.log_path(aws, FUNCTION).write_bytes(b"\xff\xfe not text\n")  # the source's logs cannot be read
    found, err = lines(cli, project)
    assert found == [("thumbnails.on-demand", "gcp", "after the move")]
    assert "thumbnails.on-demand on aws before it moved" in err and "could not be read" in err, err
