"""Workload identity federation takes a `google.subject` (the caller's assumed-role ARN) of at most 127 bytes: an
AWS function whose names make it longer is refused at synthesis, exit 2, and the message names the line of the grant
(found by a new user's tryout: it named no file)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from platform_sdk.cli import app
from tests.conformance_estates import write_project

SERVICES = {"x.py": '''
from platform_sdk import Bucket, Function, Service, http

long = Service("a-service-with-a-long-name", owner="team")
files = long.add(Bucket("files"))
fn = long.add(Function("a-function-with-a-long-nam", handler="handler.handle", source="code",
                       triggers=[http()]))
fn.reads(files)
'''}
ENV = '''
name_prefix = "acme"
default_cloud = "aws"

[clouds.aws]
account = "333333333333"
region = "eu-west-1"

[clouds.gcp]
project = "acme-prod-123"
region = "europe-west1"

[placement]
"a-service-with-a-long-name.files" = "gcp"

[state]
backend = "local"
path = ".platform/state"
'''


def test_a_subject_too_long_for_federation_names_the_grant_line(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", SERVICES, {"prod": ENV})
    result = CliRunner().invoke(app, ["synth", "--env", "prod", "--project", str(project.root)])
    out = " ".join(result.output.split())
    assert result.exit_code == 2, out
    line = SERVICES["x.py"].splitlines().index("fn.reads(files)") + 1
    assert f"x.py:{line}:" in out and "workload identity federation takes at most 127" in out, out
    assert not (project.root / "cdktf.out" / "prod").exists()
