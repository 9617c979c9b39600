"""Every refusal about a grant names the line of the grant statement itself, in the file where it was written.

A grant may be made in another service file than the one that declared its function (`sibling("a").fa.invokes(fb)`
in b.py); found by a new user's tryout: a cycle of `invokes` named the function's declaration in a.py instead of
the grant in b.py that closed the cycle. Each case runs `platform synth` through the CLI: exit 2, one message,
nothing written.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from platform_sdk.cli import app
from tests.conformance_estates import write_project

A = '''\
from platform_sdk import Function, Service, http

alpha = Service("alpha", owner="team")
fa = alpha.add(Function("fa", handler="handler.handle", source="code", triggers=[http()]))
'''
CYCLE = '''\
from platform_sdk import Function, Service, http
from platform_sdk.loader import sibling

alpha = sibling("a")
beta = Service("beta", owner="team")
fb = beta.add(Function("fb", handler="handler.handle", source="code", triggers=[http()]))
alpha.fa.invokes(fb)
fb.invokes(alpha.fa)
'''
ENVS = {
    "local": 'name_prefix = "acme"\ndefault_cloud = "local"\n[clouds.local]\nroot = ".platform/localcloud"\n',
    "aws": 'name_prefix = "acme"\ndefault_cloud = "aws"\n[clouds.aws]\naccount = "111111111111"\n'
           'region = "eu-west-1"\n',
    "gcp": 'name_prefix = "acme"\ndefault_cloud = "gcp"\n[clouds.gcp]\nproject = "acme-dev-123"\n'
           'region = "europe-west1"\n',
    "split": 'name_prefix = "acme"\ndefault_cloud = "aws"\n[clouds.aws]\naccount = "111111111111"\n'
             'region = "eu-west-1"\n[clouds.gcp]\nproject = "acme-dev-123"\nregion = "europe-west1"\n'
             '[placement]\n"beta" = "gcp"\n',
}


def _refused(root: Path, env: str) -> str:
    result = CliRunner().invoke(app, ["synth", "--env", env, "--project", str(root)])
    output = re.sub(r"\s+", " ", result.output)
    assert result.exit_code == 2, result.output
    assert output.count("error:") == 1 and "Traceback" not in output, output
    assert not (root / "cdktf.out").exists()
    return output


def _line(text: str, statement: str) -> int:
    return text.splitlines().index(statement) + 1


def test_an_invoke_cycle_names_the_grant_that_closed_it_in_the_file_that_made_it(tmp_path: Path) -> None:
    """On the local cloud the two stacks are wired by known names, so the cycle is between the functions
    themselves (a caller's configuration names its callee's)."""
    project = write_project(tmp_path / "p", {"a.py": A, "b.py": CYCLE}, ENVS)
    output = _refused(project.root, "local")
    b = project.services_dir / "b.py"
    closing, other = _line(CYCLE, "fb.invokes(alpha.fa)"), _line(CYCLE, "alpha.fa.invokes(fb)")
    assert f"error: {b}:{closing}: beta.fb.invokes: functions invoke each other in a cycle" in output, output
    assert f"beta.fb invokes(alpha.fa) ({b}:{closing})" in output and f"alpha.fa invokes(beta.fb) ({b}:{other})" \
        in output, output
    assert "a.py" not in output, output


@pytest.mark.parametrize("env", ["aws", "gcp"])
def test_a_cycle_between_stacks_names_the_grant_that_closed_it(tmp_path: Path, env: str) -> None:
    """Where a function cannot be named before apply, the two stacks need each other: the message points at the
    grant made last, not at the first link the search happened to meet."""
    project = write_project(tmp_path / "p", {"a.py": A, "b.py": CYCLE}, ENVS)
    output = _refused(project.root, env)
    b = project.services_dir / "b.py"
    closing, other = _line(CYCLE, "fb.invokes(alpha.fa)"), _line(CYCLE, "alpha.fa.invokes(fb)")
    assert f"error: {b}:{closing}: a cycle between stacks" in output, output
    assert f"beta.fb invokes(alpha.fa) ({b}:{closing})" in output and f"alpha.fa invokes(beta.fb) ({b}:{other})" \
        in output, output


LOOSE = '''\
from platform_sdk import Bucket
from platform_sdk.loader import sibling

alpha = sibling("a")
alpha.fa.reads(Bucket("loose"))
'''


def test_a_grant_on_a_resource_of_no_service_names_the_grant_line(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", {"a.py": A, "b.py": LOOSE}, ENVS)
    output = _refused(project.root, "aws")
    line = _line(LOOSE, 'alpha.fa.reads(Bucket("loose"))')
    assert f"error: {project.services_dir / 'b.py'}:{line}: alpha.fa.reads: granted resource was never added to " \
           "a service (got 'loose')" in output, output


DATABASE = '''\
from platform_sdk import Database, Service
from platform_sdk.loader import sibling

alpha = sibling("a")
beta = Service("beta", owner="team")
db = beta.add(Database("db"))
alpha.fa.uses(db)
'''


def test_a_placement_that_breaks_a_grant_names_the_grant_as_well(tmp_path: Path) -> None:
    """The placement is what the environment file says (its key is the location); the grant it breaks is named
    with its own line, in the file that made it."""
    project = write_project(tmp_path / "p", {"a.py": A, "b.py": DATABASE}, ENVS)
    output = _refused(project.root, "split")
    line = _line(DATABASE, "alpha.fa.uses(db)")
    assert "split.toml" in output and "a database is reachable only from functions on its own cloud's network" \
        in output, output
    assert f"the grant: alpha.fa uses(beta.db) ({project.services_dir / 'b.py'}:{line})" in output, output


VPC = '''\
from platform_sdk import Bucket, Database, Service
from platform_sdk.loader import sibling

alpha = sibling("a")
db = alpha.alpha.add(Database("db", deletion_protection=False))
beta = Service("beta", owner="team")
files = beta.add(Bucket("files"))
alpha.fa.uses(db)
alpha.fa.reads(files)
'''


def test_a_vpc_function_without_a_nat_names_the_grant_that_needs_the_internet(tmp_path: Path) -> None:
    """The refusal is the environment's (`clouds.aws.network.nat`); its hint names the grant across clouds with the
    line that made it."""
    project = write_project(tmp_path / "p", {"a.py": A, "b.py": VPC}, ENVS)
    output = _refused(project.root, "split")
    line = _line(VPC, "alpha.fa.reads(files)")
    # the key is not set (no NAT is the default): the line is of the table it would go in, [clouds.aws]
    table = _line(ENVS["split"], "[clouds.aws]")
    assert f"split.toml:{table}: clouds.aws.network.nat: function alpha.fa connects to database alpha.db" in output, \
        output
    assert f"(grant: alpha.fa -> beta.files; made at {project.services_dir / 'b.py'}:{line})" in output, output
