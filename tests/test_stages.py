"""A new project and a new stage in one command each (issue 17): `platform init`, `platform env new`.

In-process through the CLI; `tests/test_init_e2e.py` does the same from a wheel in a fresh virtualenv, with a
real apply and a request through `platform dev`.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from platform_sdk.cli import app
from platform_sdk.envs import NAME_PREFIX_PATTERN, load_environment
from platform_sdk.stages import derive_name_prefix

runner = CliRunner()


def cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, re.sub(r"\s+", " ", result.output)


def test_a_derived_prefix_is_valid_and_differs_per_call(tmp_path: Path) -> None:
    for name in ("Shop Front", "9lives", "a" * 40, "---", "ünïcode"):
        (tmp_path / name).mkdir()
        prefixes = {derive_name_prefix(tmp_path / name) for _ in range(20)}
        assert all(re.match(NAME_PREFIX_PATTERN, p) for p in prefixes), prefixes
        assert len(prefixes) > 15, "the random part keeps projects with one directory name apart"
    assert derive_name_prefix(tmp_path / "Shop Front").startswith("shop-front-")


def test_init_writes_a_project_with_an_explicit_prefix(tmp_path: Path) -> None:
    root = tmp_path / "Acme Shop"
    code, out = cli("init", str(root))
    assert code == 0, out
    assert {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} == {
        "services/hello.py", "services/functions/hello/api.py", "envs/local.toml", ".gitignore"}
    env = load_environment(root / "envs" / "local.toml")
    assert env.name_prefix.startswith("acme-shop-") and f"name_prefix = '{env.name_prefix}'" in out
    assert "derived from the directory name" in out
    assert "cdktf.out/" in (root / ".gitignore").read_text()


def test_init_takes_the_prefix_from_the_option_and_refuses_a_bad_one(tmp_path: Path) -> None:
    code, out = cli("init", str(tmp_path / "a"), "--name-prefix", "shop-eu")
    assert code == 0 and load_environment(tmp_path / "a" / "envs" / "local.toml").name_prefix == "shop-eu", out
    code, out = cli("init", str(tmp_path / "b"), "--name-prefix", "Shop_EU")
    assert code == 2 and "--name-prefix" in out and "'Shop_EU'" in out, out
    assert not (tmp_path / "b" / "envs").exists()


def test_init_refuses_a_directory_that_holds_a_project(estate: Path) -> None:
    before = (estate / "envs" / "local.toml").read_text()
    code, out = cli("init", str(estate))
    assert code == 2 and "already holds a project" in out, out
    assert (estate / "envs" / "local.toml").read_text() == before and not (estate / "services" / "hello.py").exists()


def test_init_keeps_an_existing_gitignore(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("node_modules/\n.platform/\n")
    assert cli("init", str(tmp_path))[0] == 0
    assert (tmp_path / ".gitignore").read_text().splitlines() == ["node_modules/", ".platform/", "cdktf.out/",
                                                                  "__pycache__/", "*.pyc"]


def test_the_new_project_synthesizes(tmp_path: Path) -> None:
    assert cli("init", str(tmp_path), "--name-prefix", "hello-t")[0] == 0
    code, out = cli("synth", "--env", "local", "--project", str(tmp_path))
    assert code == 0, out
    assert (tmp_path / "cdktf.out" / "local" / "stacks" / "local-hello-local" / "cdk.tf.json").is_file()


# -- platform env new ---------------------------------------------------------------------------------------------

def physical_names(root: Path, env: str) -> set[str]:
    """Every string a synthesized resource of `env` carries at the top level of its body that names something
    (`name`, `bucket`, `function_name`, `role_id`, ...: keys ending in name, id or bucket, literal values only)."""
    found = set()
    for doc in (root / "cdktf.out" / env / "stacks").glob("*/cdk.tf.json"):
        for blocks in json.loads(doc.read_text()).get("resource", {}).values():
            for body in blocks.values():
                found |= {value for key, value in body.items() if isinstance(value, str) and "${" not in value
                          and key.endswith(("name", "_id", "bucket", "identifier", "table"))}
    return found


def test_a_stage_keeps_the_sources_prefix_with_its_own_state_names(estate: Path) -> None:
    code, out = cli("env", "new", "qa", "--from", "dev", "--project", str(estate))
    assert code == 0, out
    qa = load_environment(estate / "envs" / "qa.toml")
    dev = load_environment(estate / "envs" / "dev.toml")
    assert qa.name_prefix == dev.name_prefix == "acme"
    assert "name_prefix = 'acme' (dev's: physical names are acme-qa-<service>-<resource>)" in out, out
    assert "platform bootstrap --env qa" in out
    assert (qa.default_cloud, qa.placement, qa.clouds["aws"].region) == (dev.default_cloud, dev.placement,
                                                                         dev.clouds["aws"].region)
    assert qa.state.bucket == "acme-qa-tfstate" != dev.state.bucket  # type: ignore[attr-defined]
    assert qa.state.lock_table == "acme-qa-tf-locks"  # type: ignore[attr-defined]
    for env in ("qa", "dev"):
        code, out = cli("synth", "--env", env, "--project", str(estate))
        assert code == 0, out
    # one prefix, two stages: the stage's name keeps every physical name apart (buckets, functions, roles, ...)
    mine, theirs = physical_names(estate, "qa"), physical_names(estate, "dev")
    assert any(name.startswith("acme-qa-") for name in mine) and any(n.startswith("acme-dev-") for n in theirs)
    assert not {name for name in mine & theirs if "acme" in name}, mine & theirs


def test_a_stage_keeps_the_sources_values(estate: Path) -> None:
    code, out = cli("env", "new", "preprod", "--from", "prod", "--name-prefix", "acme-pp", "--domain",
                    "web.cdn=shop.preprod.example.com", "--project", str(estate))
    assert code == 0, out
    data = tomllib.loads((estate / "envs" / "preprod.toml").read_text())
    # prod's domain is prod's own: a copy would claim the same CDN alias (global) and fail the second apply
    assert data["overrides"] == {"auth.users": {"high_availability": True},
                                 "web.cdn": {"domain": "shop.preprod.example.com"}}
    assert 'not copied: [overrides."web.cdn"] domain = "shop.example.com"' in " ".join(out.split()), out
    assert data["sizes"]["database"]["small"]["aws_instance_class"] == "db.t4g.medium"
    assert data["name_prefix"] == "acme-pp" and data["protected"] is True


def test_a_protected_stage_is_asked_for_the_domains_it_needs(estate: Path) -> None:
    """A protected stage's GCP CDN without a domain would serve plain HTTP, which placement refuses: `env new`
    names the option that gives it, and writes nothing."""
    code, out = cli("env", "new", "preprod", "--from", "prod", "--project", str(estate))
    assert code == 2 and "envs/preprod.toml" in out and "missing HTTPS" in out, out
    assert "nothing was written: preprod has none of prod's domains; give it its own with --domain web.cdn=" in out
    assert not (estate / "envs" / "preprod.toml").exists()
    code, out = cli("env", "new", "preprod", "--from", "prod", "--domain", "web.cdn", "--project", str(estate))
    assert code == 2 and "--domain" in out and "SERVICE.CDN=NAME" in out, out
    code, out = cli("env", "new", "preprod", "--from", "prod", "--domain", "web.cnd=shop.pp.example.com",
                    "--project", str(estate))
    assert code == 2 and "web.cnd" in out and not (estate / "envs" / "preprod.toml").exists(), out


def test_a_local_stage_onto_a_real_cloud_needs_a_region(estate: Path) -> None:
    code, out = cli("env", "new", "qa", "--from", "local", "--cloud", "aws", "--project", str(estate))
    assert code == 2 and "--region" in out and "no default" in out, out
    assert not (estate / "envs" / "qa.toml").exists()
    code, out = cli("env", "new", "qa", "--from", "local", "--cloud", "aws", "--region", "eu-west-9",
                    "--project", str(estate))
    assert code == 2 and "did you mean" in out, out
    code, out = cli("env", "new", "qa", "--from", "local", "--cloud", "gcp", "--region", "europe-west1",
                    "--project", str(estate))
    assert code == 0, out
    qa = load_environment(estate / "envs" / "qa.toml")
    assert qa.default_cloud == "gcp" and qa.placement == {} and qa.target_of("gcp") == "gcp"
    assert qa.state.backend == "gcs" and qa.state.bucket == "acme-qa-tfstate"  # type: ignore[attr-defined]
    assert set(qa.clouds) == {"gcp"}


@pytest.mark.parametrize(("args", "needle"), [
    (("env", "new", "dev", "--from", "local"), "exists already"),
    (("env", "new", "QA", "--from", "local"), "environment name"),
    (("env", "new", "qa", "--from", "devv"), "did you mean 'dev'?"),
    (("env", "new", "qa", "--from", "dev", "--cloud", "azure"), "unknown cloud"),
    (("env", "new", "qa", "--from", "dev", "--region", "eu-west-1"), "give both"),
    (("env", "new", "qa", "--from", "dev", "--name-prefix", "-x"), "--name-prefix"),
])
def test_env_new_refuses_bad_input_and_writes_nothing(estate: Path, args: tuple[str, ...], needle: str) -> None:
    before = sorted(p.name for p in (estate / "envs").iterdir())
    code, out = cli(*args, "--project", str(estate))
    assert code == 2 and needle in out, out
    assert sorted(p.name for p in (estate / "envs").iterdir()) == before


def test_bootstrap_creates_the_new_stages_backend(tmp_path: Path) -> None:
    """`platform bootstrap --env qa` on a new stage with local state (a real cloud backend is bootstrapped the same
    way; tests/test_s3_backend.py covers S3 against moto)."""
    assert cli("init", str(tmp_path), "--name-prefix", "boot-t")[0] == 0
    assert cli("env", "new", "qa", "--from", "local", "--project", str(tmp_path))[0] == 0
    code, out = cli("bootstrap", "--env", "qa", "--project", str(tmp_path))
    assert code == 0 and "created" in out, out
    assert (tmp_path / ".platform" / "state" / "qa").is_dir()


# -- what a stage copies, references or leaves out ------------------------------------------------------------------

LEDGER = '''from platform_sdk import Bucket, Database, Function, Service

service = Service("ledger", owner="finance-team")
entries = service.add(Database("entries", engine="postgres", high_availability=True))
exports = service.add(Bucket("exports"))
api = service.add(Function("api", handler="api.handle", source="functions/ledger"))
api.uses(entries).writes(exports)  # in the VPC for its database, and reaching S3: the VPC's S3 gateway endpoint
'''


def add_ledger(root: Path) -> None:
    """A function in the VPC (it uses a database) that writes a bucket: its AWS base stack builds the VPC's S3
    gateway endpoint."""
    (root / "services" / "ledger.py").write_text(LEDGER)
    (root / "services" / "functions" / "ledger").mkdir(parents=True)
    (root / "services" / "functions" / "ledger" / "api.py").write_text("def handle(event, context):\n    return {}\n")


def synthesizes(root: Path, *envs: str) -> None:
    for env in envs:
        code, out = cli("synth", "--env", env, "--project", str(root))
        assert code == 0, f"synth --env {env}: {out}"


@pytest.mark.parametrize("source", ["local", "dev", "staging", "prod"])
def test_a_stage_from_each_example_synthesizes_and_keeps_its_source_synthesizing(estate: Path, source: str) -> None:
    add_ledger(estate)
    domain = ("--domain", "web.cdn=shop.x.example.com") if source == "prod" else ()  # protected: HTTPS on GCP
    code, out = cli("env", "new", "x", "--from", source, *domain, "--project", str(estate))
    assert code == 0, out
    synthesizes(estate, "x", source)
    assert not {name for name in physical_names(estate, "x") & physical_names(estate, source) if "acme" in name}


DEV_NETWORK = '''
[clouds.aws.network]
vpc_id = "vpc-0a1b2c3d4e5f67890"
subnet_ids = ["subnet-0a1b2c3d", "subnet-0a1b2c3e"]
nat = "create"
nat_subnet_id = "subnet-0a1b2c3f"
'''


def test_a_stage_references_what_its_source_builds_once_per_account_or_vpc(estate: Path) -> None:
    """dev creates its hosted zone, a NAT gateway for its subnets and the VPC's S3 gateway endpoint: qa in the same
    account and VPC routes through dev's NAT, declares dev's endpoint existing and leaves the zone out (noted in the
    file), so both synthesize; before, both were refused for building the same NAT and endpoint."""
    add_ledger(estate)
    dev = estate / "envs" / "dev.toml"
    dev.write_text(dev.read_text().replace('dns_zone = "Z0DEVEXAMPLE00000000"', 'dns_zone = { create = '
                                           '"dev.example.com" }') + DEV_NETWORK)
    synthesizes(estate, "dev")
    code, out = cli("env", "new", "qa", "--from", "dev", "--project", str(estate))
    assert code == 0, out
    assert 'not copied: [clouds.aws] dns_zone = { create = "dev.example.com" } (dev\'s base stack creates' in out, out
    assert 'changed: [clouds.aws.network] nat = "existing" (was "create": dev\'s base stack builds the NAT' in out, out
    assert 'changed: [clouds.aws.network] endpoints = ["s3"] (was []: dev\'s base stack builds the VPC\'s S3' in out
    text = (estate / "envs" / "qa.toml").read_text()
    qa = tomllib.loads(text)["clouds"]["aws"]
    assert "dns_zone" not in qa and qa["account"] == "111111111111"
    assert qa["network"] == {"vpc_id": "vpc-0a1b2c3d4e5f67890", "subnet_ids": ["subnet-0a1b2c3d", "subnet-0a1b2c3e"],
                             "nat": "existing", "endpoints": ["s3"]}
    assert '#   [clouds.aws] dns_zone = { create = "dev.example.com" }\n' in text  # to add back by hand
    synthesizes(estate, "qa", "dev")


def test_a_stage_in_a_default_vpc_declares_its_sources_endpoint_existing(estate: Path) -> None:
    """seedB: staging from prod, both in prod's account and its default VPC."""
    add_ledger(estate)
    code, out = cli("env", "new", "pp", "--from", "prod", "--domain", "web.cdn=shop.pp.example.com",
                    "--project", str(estate))
    assert code == 0, out
    assert tomllib.loads((estate / "envs" / "pp.toml").read_text())["clouds"]["aws"]["network"] == {
        "endpoints": ["s3"]}
    synthesizes(estate, "pp", "prod")


def test_a_stage_leaves_out_a_managed_zone_its_source_creates(estate: Path) -> None:
    staging = estate / "envs" / "staging.toml"
    staging.write_text(staging.read_text().replace('dns_zone = "acme-staging"',
                                                   'dns_zone = { create = "staging.example.com" }'))
    code, out = cli("env", "new", "qa", "--from", "staging", "--project", str(estate))
    assert code == 0 and 'not copied: [clouds.gcp] dns_zone = { create = "staging.example.com" }' in out, out
    assert "dns_zone" not in tomllib.loads((estate / "envs" / "qa.toml").read_text())["clouds"]["gcp"]
    synthesizes(estate, "qa", "staging")


def test_a_stage_that_would_build_what_another_environment_builds_is_refused(estate: Path) -> None:
    """qa in us-east-1 (its own Region's default VPC) would build the S3 gateway endpoint `east` builds there."""
    add_ledger(estate)
    dev = (estate / "envs" / "dev.toml").read_text()
    (estate / "envs" / "east.toml").write_text(dev.replace('region = "eu-west-1"', 'region = "us-east-1"')
                                               .replace("acme-tfstate-dev", "acme-tfstate-east"))
    code, out = cli("env", "new", "qa", "--from", "dev", "--cloud", "aws", "--region", "us-east-1",
                    "--project", str(estate))
    assert code == 2 and "envs/qa.toml: clouds.aws.network" in out and "and so does environment east" in out, out
    assert not (estate / "envs" / "qa.toml").exists()


def test_stages_made_from_an_init_project_synthesize(tmp_path: Path) -> None:
    """The docs/stages.md path, with a [budget] in local: dev and gdev on real clouds, qa and prod from dev."""
    assert cli("init", str(tmp_path), "--name-prefix", "shop-t")[0] == 0
    with (tmp_path / "envs" / "local.toml").open("a") as local:
        local.write('\n[alerts]\nemail = ["ops@example.com"]\n\n[budget]\nmonthly = 10\n')  # a budget needs a channel
    for args in (("dev", "--from", "local", "--cloud", "aws", "--region", "eu-west-1"), ("qa", "--from", "dev"),
                 ("prod", "--from", "qa"), ("gdev", "--from", "local", "--cloud", "gcp", "--region", "europe-west1")):
        code, out = cli("env", "new", *args, "--project", str(tmp_path))
        assert code == 0, out
    assert 'not copied: [budget] monthly = 10 (on GCP a budget is created in the Cloud Billing account' in out, out
    envs = {name: load_environment(tmp_path / "envs" / f"{name}.toml") for name in ("dev", "qa", "prod", "gdev")}
    assert {env.name_prefix for env in envs.values()} == {"shop-t"}
    assert len({env.state.bucket for env in envs.values()}) == 4  # type: ignore[attr-defined]
    assert envs["dev"].budget is not None and envs["gdev"].budget is None
    synthesizes(tmp_path, "local", "dev", "qa", "prod", "gdev")


def test_a_stage_is_asked_for_its_own_domain_where_it_would_serve_another_stages(estate: Path) -> None:
    """The code's domain is production's: dev overrides it, and qa made from dev (whose override is dev's own) would
    serve production's domain on a real cloud, which the cloud refuses at the second apply."""
    (estate / "services" / "promo.py").write_text(
        'from platform_sdk import Bucket, Cdn, Service\n\nservice = Service("promo", owner="t")\n'
        'files = service.add(Bucket("files"))\nservice.add(Cdn("cdn", origin=files, domain="promo.example.com"))\n')
    for env in ("dev", "staging"):
        with (estate / "envs" / f"{env}.toml").open("a") as file:
            file.write(f'\n[overrides."promo.cdn"]\ndomain = "promo.{env}.example.com"\n')
    code, out = cli("env", "new", "qa", "--from", "dev", "--project", str(estate))
    assert code == 2 and 'envs/qa.toml: overrides."promo.cdn".domain: stage qa would serve promo.example.com' in out
    assert "and so does environment prod" in out and "--domain promo.cdn=<name>" in out, out
    assert not (estate / "envs" / "qa.toml").exists()
    code, out = cli("env", "new", "qa", "--from", "dev", "--domain", "promo.cdn=promo.qa.example.com",
                    "--project", str(estate))
    assert code == 0, out
    synthesizes(estate, "qa")
    # a local stage claims no domain: the gateway serves on 127.0.0.1 whatever the domain
    code, out = cli("env", "new", "rehearsal", "--from", "local", "--project", str(estate))
    assert code == 0, out
