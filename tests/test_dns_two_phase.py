"""The two-phase first apply of a CDN domain in a DNS zone outside the cloud (`dns_zone = "external"`), end to end:
the `platform` CLI through real Terraform on the local cloud, whose stand-in for a cloud with an external zone asks
for the same records (providers/local/domains.py), and DNS answered by a resolver on 127.0.0.1 (tests/dns_server.py,
`PLATFORM_DNS_RESOLVER`): the first apply requests and stops (exit 0) printing the records, the next stops changing
nothing of the domain while they do not resolve (every other stack applies), and completes once they do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.dns_server import FakeDns
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
dns_zone = "external"

[state]
backend = "local"
path = ".platform/state"
'''


def make(root: Path, env: str = LOCAL_ENV) -> Path:
    """A project with the `web` service (a bucket behind a CDN on shop.example.com) and `envs/local.toml` = env."""
    (root / "services").mkdir(parents=True)
    (root / "services" / "web.py").write_text(SERVICE)
    (root / "envs").mkdir()
    (root / "envs" / "local.toml").write_text(env)
    return share_caches(root)


def route(project: Path) -> dict[str, object]:
    """The local cloud's record of the CDN route (what the stand-in deployed)."""
    (path,) = (project / ".platform" / "localcloud" / "local").rglob("acme-local-web-cdn.json")
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def test_the_first_apply_stops_after_the_request_and_the_next_completes_once_the_records_resolve(
        tmp_path: Path, cli: Cli) -> None:
    project = make(tmp_path / "estate")
    with FakeDns() as server:
        resolver = {"PLATFORM_DNS_RESOLVER": server.address}

        # phase 1: the request, the records to create, exit 0; the route serves without its domain meanwhile
        code, first = cli.json(project, "apply", "--env", "local", "--auto-approve", env=resolver)
        assert code == 0, first
        assert first["dns"]["stopped"] == "dns-records-to-create"
        (domain,) = first["dns"]["domains"]
        assert (domain["cdn"], domain["domain"], domain["state"]) == ("web.cdn", "shop.example.com", "new")
        records = [(r["name"], r["type"], r["value"]) for r in domain["records"]]
        assert [(n, t) for n, t, _ in records] == [("_acme-challenge.shop.example.com", "TXT"),
                                                   ("shop.example.com", "CNAME")]
        assert records[1][2] == "aws.localhost" and len(records[0][2]) == 32
        assert route(project).get("domain") is None
        assert server.queries == []  # nothing to look up before the first phase is applied
        text = cli(project, "apply", "--env", "local", "--auto-approve", env=resolver).stdout
        assert "waiting for DNS" in text and f"_acme-challenge.shop.example.com TXT {records[0][2]}" in text

        # records missing: the apply says which and leaves the domain in its first phase, changing nothing of it
        before = state_files(project)
        server.add("shop.example.com", "CNAME", "aws.localhost")
        code, waiting = cli.json(project, "apply", "--env", "local", "--auto-approve", env=resolver)
        assert code == 0, waiting
        assert waiting["dns"]["stopped"] == "dns-records-missing" and "stopped" not in waiting
        (domain,) = waiting["dns"]["domains"]
        assert domain["state"] == "waiting"
        assert [(r["name"], r["resolves"]) for r in domain["records"]] == [
            ("_acme-challenge.shop.example.com", False), ("shop.example.com", True)]
        assert state_files(project) == before and route(project).get("domain") is None
        plan = cli(project, "plan", "--env", "local", env=resolver).stdout
        assert "1 DNS record(s) of shop.example.com do not resolve yet: the apply leaves it in its first phase" in plan

        # every record resolves: the apply completes (the route now serves the domain)
        server.add("_acme-challenge.shop.example.com", "TXT", records[0][2])
        code, done = cli.json(project, "apply", "--env", "local", "--auto-approve", env=resolver)
        assert code == 0, done
        assert done["dns"]["stopped"] is None and done["dns"]["domains"][0]["state"] == "resolved"
        assert route(project)["domain"] == "shop.example.com"
        asked = len(server.queries)

    # completed: later applies look nothing up (the resolver is gone) and change nothing
    code, again = cli.json(project, "apply", "--env", "local", "--auto-approve", env=resolver)
    assert code == 0, again
    assert again["dns"]["domains"][0]["state"] == "complete" and asked == len(server.queries)
    assert route(project)["domain"] == "shop.example.com"


def test_a_rehearsal_of_an_environment_with_an_external_zone_says_its_apply_would_stop(
        tmp_path: Path, cli: Cli) -> None:
    project = make(tmp_path / "estate")
    env = project / "envs" / "local.toml"
    env.write_text(env.read_text().replace('dns_zone = "external"\n', "").replace(
        'default_cloud = "aws"\n', 'default_cloud = "aws"\nrehearses = "prod"\n'))
    (project / "envs" / "prod.toml").write_text(
        'name_prefix = "acme"\ndefault_cloud = "aws"\n[clouds.aws]\nregion = "eu-west-1"\n'
        'account = "111111111111"\ndns_zone = "external"\n')
    result = cli(project, "apply", "--env", "local", "--auto-approve")
    assert result.exit_code == 0, result.output
    assert ("rehearsal of prod: CDN web.cdn serves shop.example.com from a DNS zone outside its cloud"
            in " ".join(result.output.split()))
    assert route(project)["domain"] == "shop.example.com"  # the local zone is not external: served at once


def test_records_resolve_only_with_the_value_asked_for_and_zones_list_their_name_servers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from platform_sdk.commands import dns_phase
    from platform_sdk.terraform.report import StackResult

    with FakeDns() as server:
        server.add("_x1.shop.example.com", "CNAME", "_y2.acm-validations.aws.")
        server.add("shop.example.com", "A", "203.0.113.7")
        monkeypatch.setenv(dns_phase.RESOLVER_VARIABLE, server.address)
        lookup = dns_phase.resolver()
        assert lookup.nameservers == ["127.0.0.1"] and lookup.port == server.port
        # ACM writes names and values with the trailing dot, CloudFront's domain comes without: both compare equal
        assert dns_phase.resolves(lookup, {"name": "_x1.shop.example.com.", "type": "CNAME",
                                           "value": "_Y2.acm-validations.aws"})
        assert not dns_phase.resolves(lookup, {"name": "_x1.shop.example.com.", "type": "CNAME",
                                               "value": "_other.acm-validations.aws."})
        assert not dns_phase.resolves(lookup, {"name": "shop.example.com", "type": "A", "value": "203.0.113.8"})
        assert not dns_phase.resolves(lookup, {"name": "www.example.com", "type": "A", "value": "203.0.113.7"})
    base = StackResult("dev-base-aws", "base", "aws", "aws", outputs={
        "dns_zone_name": "dev.example.com.", "dns_zone_name_servers": ["ns-1.awsdns-01.org", "ns-2.awsdns-02.net"]})
    web = StackResult("dev-web-aws", "web", "aws", "aws", outputs={"cdn_cdn_url": "https://d1.cloudfront.net"})
    assert dns_phase.zones([base, web]) == [{"stack": "dev-base-aws", "zone": "dev.example.com",
                                              "name_servers": ["ns-1.awsdns-01.org", "ns-2.awsdns-02.net"]}]
