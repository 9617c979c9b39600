"""`platform move` of a CDN whose domain's DNS zone is outside the target cloud (`dns_zone = "external"`), end to end
through the `platform` CLI, real Terraform and the local cloud (stand-ins for aws and gcp, as docs/domains.md has
them): the target needs a certificate and records of its own, which a move does not request before its cut-over yet,
so the move is refused before it changes anything (exit 2), naming the CDN, the domain and the records it needs; the
source keeps serving the domain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.shared_caches import share_caches
from tests.terraform_fixtures import (  # noqa: F401 - the *_fixture imports register fixtures
    Cli,
    cli_fixture,
    state_files,
    tf_binary_fixture,
)

pytestmark = pytest.mark.e2e

SERVICE = '''
from platform_sdk import Bucket, Cdn, Service

service = Service("web", owner="web-team")
site = service.add(Bucket("site"))
service.add(Cdn("cdn", origin=site, domain="shop.example.com"))
'''
LOCAL_ENV = '''
name_prefix = "acme"
default_cloud = "aws"

[clouds.local]
root = ".platform/localcloud"

[clouds.aws]
stand_in = "local"

[clouds.gcp]
stand_in = "local"
dns_zone = "external"

[placement]

[state]
backend = "local"
path = ".platform/state"
'''


def make(root: Path) -> Path:
    (root / "services").mkdir(parents=True)
    (root / "services" / "web.py").write_text(SERVICE)
    (root / "envs").mkdir()
    (root / "envs" / "local.toml").write_text(LOCAL_ENV)
    return share_caches(root)


def routes(project: Path) -> dict[str, dict[str, object]]:
    """The local cloud's records of the CDN routes, by stand-in cloud (what each stand-in deployed)."""
    found = (project / ".platform" / "localcloud" / "local").rglob("acme-local-web-cdn.json")
    return {path.relative_to(project / ".platform" / "localcloud" / "local").parts[0]: json.loads(path.read_text())
            for path in found}


def test_a_move_to_a_cloud_whose_zone_is_external_is_refused_before_anything_changes(
        tmp_path: Path, cli: Cli) -> None:
    project = make(tmp_path / "estate")
    applied = cli(project, "apply", "--env", "local", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert {cloud: r.get("domain") for cloud, r in routes(project).items()} == {"aws": "shop.example.com"}
    env_file = project / "envs" / "local.toml"
    before_env, before_state = env_file.read_text(), state_files(project)

    code, dry = cli.json(project, "move", "web", "--to", "gcp", "--env", "local", "--dry-run")
    assert code == 2, dry
    (check,) = [c for c in dry["preflight"]["checks"] if not c["ok"]]
    assert check["step"] == "domain: web.cdn"
    assert "CDN web.cdn serves shop.example.com from a DNS zone outside gcp" in check["detail"]
    assert "certificate validation record and its record to the CDN on gcp" in check["detail"]
    assert "keep web on aws for now; or take shop.example.com off the CDN (domain= of the CDN at " in check["fix"]
    assert "services/web.py:6)" in check["fix"], check["fix"]

    refused = cli(project, "move", "web", "--to", "gcp", "--env", "local", "--yes")
    assert refused.exit_code == 2, refused.output
    said = " ".join(refused.stderr.split())
    assert "the move of web to gcp would fail (1 problem); nothing was changed" in said
    assert "domain: web.cdn: CDN web.cdn serves shop.example.com" in said and 'dns_zone = "external"' in said

    # nothing changed: no move recorded, the placement and every state as they were, the source serves the domain
    assert env_file.read_text() == before_env
    assert state_files(project) == before_state
    assert not (project / ".platform" / "state" / "local" / "_platform" / "moves.json").exists()
    assert {cloud: r.get("domain") for cloud, r in routes(project).items()} == {"aws": "shop.example.com"}


OTHER = '''
from platform_sdk import Bucket, Service

service = Service("files", owner="web-team")
service.add(Bucket("uploads"))
'''


def test_a_move_leaves_a_domain_that_waits_for_its_records_in_its_first_phase(tmp_path: Path, cli: Cli) -> None:
    """Another service's domain whose records do not resolve yet stays in its first phase through the move's steps,
    as `platform apply` leaves it (the same check): the move goes ahead and changes nothing of it."""
    from tests.dns_server import FakeDns

    project = make(tmp_path / "estate")
    (project / "services" / "files.py").write_text(OTHER)
    env_file = project / "envs" / "local.toml"
    env_file.write_text(env_file.read_text().replace('[clouds.aws]\nstand_in = "local"\n',
                                                     '[clouds.aws]\nstand_in = "local"\ndns_zone = "external"\n'))
    with FakeDns() as server:
        resolver = {"PLATFORM_DNS_RESOLVER": server.address}
        code, first = cli.json(project, "apply", "--env", "local", "--auto-approve", env=resolver)
        assert code == 0 and first["dns"]["stopped"] == "dns-records-to-create", first
        web = {n: s for n, s in state_files(project).items() if "web" in n}

        code, moved = cli.json(project, "move", "files", "--to", "gcp", "--env", "local", "--yes", env=resolver)
        assert code == 0, [c for c in moved.get("preflight", {}).get("checks", []) if not c["ok"]] or moved
        assert moved["finished"] and moved["source_removed"]
        assert {n: s for n, s in state_files(project).items() if "web" in n} == web
        assert {cloud: r.get("domain") for cloud, r in routes(project).items()} == {"aws": None}
        code, after = cli.json(project, "apply", "--env", "local", "--auto-approve", env=resolver)
        assert code == 0 and after["dns"]["stopped"] == "dns-records-missing", after


def test_a_rehearsal_says_before_the_move_that_the_rehearsed_environment_would_refuse_it(
        tmp_path: Path, cli: Cli) -> None:
    """A local environment rehearsing prod, whose gcp zone is external: the local move would go ahead (its own zone
    is not external; a rehearsal reports, it does not refuse) and its preflight says prod would refuse it."""
    project = make(tmp_path / "estate")
    env_file = project / "envs" / "local.toml"
    env_file.write_text(env_file.read_text().replace('dns_zone = "external"\n', "")
                        .replace('default_cloud = "aws"\n', 'default_cloud = "aws"\nrehearses = "prod"\n'))
    (project / "envs" / "prod.toml").write_text(
        'name_prefix = "acme"\ndefault_cloud = "aws"\n[clouds.aws]\nregion = "eu-west-1"\naccount = "111111111111"\n'
        '[clouds.gcp]\nproject = "acme-prod-123"\nregion = "europe-west1"\ndns_zone = "external"\n')
    applied = cli(project, "apply", "--env", "local", "--auto-approve")
    assert applied.exit_code == 0, applied.output

    code, dry = cli.json(project, "move", "web", "--to", "gcp", "--env", "local", "--dry-run")
    assert code == 0, dry
    (note,) = [c for c in dry["preflight"]["checks"] if c["step"] == "rehearsal of prod: web.cdn"]
    assert note["ok"], note
    assert "this move would be refused there: CDN web.cdn serves shop.example.com from a DNS zone outside gcp" in \
        note["detail"] and "prod.toml" in note["detail"]
