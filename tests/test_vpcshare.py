"""Two environments of one project in one AWS VPC (issue 13's class: shared prerequisites built twice).

Each environment's AWS base stack builds the S3 gateway endpoint of its VPC (and, with `nat = "create"`, a NAT
gateway for its subnets). Two environments in the same account, Region and VPC (dev and staging in the default VPC
of one account) would each build them: the second apply fails on the real cloud (one route per prefix list in a
route table; one route table per subnet) while synthesis said nothing. Now synthesizing either is refused as bad
input, exit 2, naming both files and `clouds.aws.network`, with nothing written; environments that cannot collide
(other account, Region or VPC, the endpoint declared existing, disjoint NAT subnets, unknown account) synthesize.
Through the real CLI (`platform synth`) and the real synthesis.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from platform_sdk.cli import app
from platform_sdk.envs import load_environment
from platform_sdk.errors import EnvironmentError_
from platform_sdk.loader import load_services
from platform_sdk.project import Project
from platform_sdk.providers.aws.network import check_shared_vpc, shared_builds
from tests.conformance_estates import write_project

runner = CliRunner()

FILES = '''
from platform_sdk import Bucket, Database, Function, Service

grades = Service("grades", owner="exam-team")
db = grades.add(Database("db", deletion_protection=False))
sheets = grades.add(Bucket("sheets"))
grades.add(Function("api", handler="handler.handle", source="code")).uses(db).reads_writes(sheets)
'''
NO_FILES = FILES.replace(".reads_writes(sheets)", "")


def env(prefix: str, account: str | None = "111111111111", region: str = "eu-west-1", network: str = "") -> str:
    account_line = f'account = "{account}"\n' if account else ""
    return (f'name_prefix = "{prefix}"\ndefault_cloud = "aws"\n\n[clouds.aws]\n{account_line}region = "{region}"\n'
            f'{network}\n[state]\nbackend = "local"\npath = ".platform/state"\n')


VPC = ('\n[clouds.aws.network]\nvpc_id = "vpc-0a1b2c3d4e5f67890"\n'
       'subnet_ids = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"]\n')
NAT = 'nat = "create"\nnat_subnet_id = "subnet-0ccccccccccccccc3"\n'
OTHER_SUBNETS = VPC.replace("0aaaaaaaaaaaaaaa1", "0ddddddddddddddd4").replace("0bbbbbbbbbbbbbbb2", "0eeeeeeeeeeeeee5")


def cli_synth(estate: Path, name: str) -> tuple[int, str]:
    result = runner.invoke(app, ["synth", "--env", name, "--project", str(estate)])
    return result.exit_code, re.sub(r"\s+", " ", result.output)


def project(tmp_path: Path, envs: dict[str, str], services: str = FILES) -> Project:
    return write_project(tmp_path / "estate", {"grades.py": services}, envs)


def check(proj: Project, name: str) -> None:
    """The AWS plug-in's check for `name` against the project's other environment files (no synthesis)."""
    envs = {path.stem: load_environment(path) for path in sorted(proj.envs_dir.glob("*.toml"))}
    services = load_services(proj.services_dir)
    check_shared_vpc(envs[name], services, [e for n, e in envs.items() if n != name])


def test_two_environments_in_the_default_vpc_of_one_account_are_refused_naming_both(tmp_path: Path) -> None:
    proj = project(tmp_path, {"dev": env("dev"), "staging": env("stg")})
    for name, other in (("dev", "staging"), ("staging", "dev")):
        code, output = cli_synth(proj.root, name)
        assert code == 2, output
        assert f"envs/{name}.toml:4: clouds.aws.network:" in output, output  # the line of [clouds.aws]
        assert f"envs/{other}.toml" in output and "S3 gateway endpoint" in output, output
        assert "default VPC of account 111111111111 in eu-west-1" in output, output
        assert 'hint: declare it existing in one of the two files, under [clouds.aws.network]: endpoints = ["s3"]' \
            in output, output
        assert not proj.env_outdir(name).exists()  # nothing written


def test_one_declaring_the_endpoint_existing_lets_both_synthesize(tmp_path: Path) -> None:
    existing = '\n[clouds.aws.network]\nendpoints = ["s3"]\n'
    proj = project(tmp_path, {"dev": env("dev"), "staging": env("stg", network=existing)})
    for name in ("dev", "staging"):
        code, output = cli_synth(proj.root, name)
        assert code == 0, output
        assert (proj.env_outdir(name) / "stacks").is_dir()
    dev = (proj.env_outdir("dev") / "stacks" / "dev-base-aws" / "cdk.tf.json").read_text()
    assert '"s3_gateway"' in dev  # dev builds it; staging trusts it
    staging = (proj.env_outdir("staging") / "stacks" / "staging-base-aws" / "cdk.tf.json").read_text()
    assert '"s3_gateway"' not in staging


@pytest.mark.parametrize("staging", [
    env("stg", account="222222222222"),  # another account
    env("stg", region="eu-central-1"),  # another Region
    env("stg", network=VPC),  # a named VPC is not the default one
    env("stg", account=None),  # unknown account: cannot be compared (documented)
])
def test_environments_that_cannot_collide_are_fine(tmp_path: Path, staging: str) -> None:
    proj = project(tmp_path, {"dev": env("dev"), "staging": staging})
    check(proj, "dev")
    check(proj, "staging")


def test_through_the_cli_an_environment_in_another_account_synthesizes(tmp_path: Path) -> None:
    proj = project(tmp_path, {"dev": env("dev"), "staging": env("stg", account="222222222222")})
    code, output = cli_synth(proj.root, "dev")
    assert code == 0, output


def test_a_stand_in_or_no_vpc_function_builds_nothing_to_collide_with(tmp_path: Path) -> None:
    stand_in = env("loc").replace('region = "eu-west-1"\n', 'stand_in = "local"\n')
    stand_in += '\n[clouds.local]\n'
    proj = project(tmp_path, {"dev": env("dev"), "local": stand_in, "staging": env("stg")}, services=NO_FILES)
    check(proj, "dev")  # no bucket grant in the VPC: no S3 gateway (interface endpoints may be many per VPC)
    loaded = load_environment(proj.envs_dir / "local.toml")
    assert shared_builds(loaded, load_services(proj.services_dir)) is None


def test_two_nat_gateways_for_the_same_subnets_are_refused(tmp_path: Path) -> None:
    proj = project(tmp_path, {"dev": env("dev", network=VPC + NAT), "staging": env("stg", network=VPC + NAT)},
                   services=NO_FILES)
    with pytest.raises(EnvironmentError_) as refused:
        check(proj, "dev")
    message = str(refused.value)
    assert refused.value.key == "clouds.aws.network" and str(refused.value.file).endswith("envs/dev.toml")
    assert "NAT gateway for subnets subnet-0aaaaaaaaaaaaaaa1, subnet-0bbbbbbbbbbbbbbb2" in message
    assert "envs/staging.toml" in message and "VPC vpc-0a1b2c3d4e5f67890" in message
    assert "the S3 gateway endpoint and a NAT gateway" not in message  # no bucket grant: no S3 gateway
    assert 'nat = "existing"' in message


def test_nat_gateways_for_different_subnets_each_route_their_own_s3_gateway(tmp_path: Path) -> None:
    proj = project(tmp_path, {"dev": env("dev", network=VPC + NAT),
                              "staging": env("stg", network=OTHER_SUBNETS + NAT)})
    check(proj, "dev")  # each S3 gateway endpoint is routed from its own NAT route table
    only_dev_nat = project(tmp_path / "2", {"dev": env("dev", network=VPC + NAT), "staging": env("stg", network=VPC)})
    with pytest.raises(EnvironmentError_, match="S3 gateway endpoint"):
        check(only_dev_nat, "staging")  # staging routes every route table of the VPC, dev's NAT table included


def test_an_environment_file_that_does_not_load_is_skipped_with_a_warning(tmp_path: Path) -> None:
    proj = project(tmp_path, {"dev": env("dev"), "staging": env("stg") + "\nnot toml ["})
    code, output = cli_synth(proj.root, "dev")
    assert code == 0, output
    assert "envs/staging.toml" in output and "not compared with environment dev" in output, output


def test_two_nat_gateways_for_the_same_subnets_with_s3_name_both_and_both_settings(tmp_path: Path) -> None:
    proj = project(tmp_path, {"dev": env("dev", network=VPC + NAT), "staging": env("stg", network=VPC + NAT)})
    with pytest.raises(EnvironmentError_) as refused:
        check(proj, "staging")
    message = str(refused.value)
    assert "environment staging builds the S3 gateway endpoint and a NAT gateway for subnets" in message
    assert "and so does environment dev" in message and 'endpoints = ["s3"], nat = "existing"' in message


def check_all(proj: Project, name: str) -> None:
    """The AWS plug-in's whole check of `name` against the project's other environment files."""
    from platform_sdk import providers

    envs = {path.stem: load_environment(path) for path in sorted(proj.envs_dir.glob("*.toml"))}
    providers.plugins()["aws"].check_environments(envs[name], load_services(proj.services_dir),
                                                  [e for n, e in envs.items() if n != name])


def test_two_environments_creating_one_public_zone_in_one_account_are_refused(tmp_path: Path) -> None:
    """Route 53 accepts a second public hosted zone of a name; every lookup of it by name (the stacks' DNS records)
    then matches two and fails. Two environments of one account creating `dev.example.com` were both accepted."""
    zone = '[clouds.aws.dns_zone]\ncreate = "dev.example.com"\n'
    site = ('from platform_sdk import Bucket, Service\n\nservice = Service("site", owner="t")\n'
            'service.add(Bucket("files"))\n')
    proj = project(tmp_path, {"dev": env("dev") + zone, "qa": env("qa") + zone}, services=site)
    with pytest.raises(EnvironmentError_) as refused:
        check_all(proj, "qa")
    message = str(refused.value)
    assert refused.value.key == "clouds.aws.dns_zone" and "envs/qa.toml" in message and "envs/dev.toml" in message
    assert "creates the public hosted zone dev.example.com in account 111111111111, and so does environment dev" \
        in message
    code, output = cli_synth(proj.root, "qa")
    assert code == 2 and "dns_zone" in output, output
    # another account, or one naming the zone by id instead: accepted
    check_all(project(tmp_path / "2", {"dev": env("dev") + zone, "qa": env("qa", account="222222222222") + zone},
                  services=site), "qa")
    by_id = '[clouds.aws.dns_zone]\nid = "Z0123456789ABCDEFGHIJ"\nname = "dev.example.com"\n'
    check_all(project(tmp_path / "3", {"dev": env("dev") + zone, "qa": env("qa") + by_id}, services=site), "qa")
