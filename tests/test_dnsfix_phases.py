"""The two phases of a CDN domain in an external zone belong to the domain, and a domain waiting for its records
blocks nothing else (docs/domains.md), end to end: the `platform` CLI through real Terraform on the local cloud's
stand-in for a cloud with `dns_zone = "external"`, DNS answered by a resolver on 127.0.0.1 (tests/dns_server.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dns_server import FakeDns
from tests.terraform_fixtures import (  # noqa: F401 - the *_fixture imports register fixtures
    Cli,
    cli_fixture,
    state_files,
    tf_binary_fixture,
)
from tests.test_dns_two_phase import make, route

pytestmark = pytest.mark.e2e

FILES = '''
from platform_sdk import Bucket, Service

service = Service("files", owner="files-team")
service.add(Bucket("docs"))
'''


def _records(data: dict) -> list[tuple[str, str, str]]:
    (domain,) = data["dns"]["domains"]
    return [(r["name"], r["type"], r["value"]) for r in domain["records"]]


def test_a_changed_domain_starts_again_at_its_first_phase(tmp_path: Path, cli: Cli) -> None:
    project = make(tmp_path / "estate")
    with FakeDns() as server:
        resolver = {"PLATFORM_DNS_RESOLVER": server.address}
        code, first = cli.json(project, "apply", "--env", "local", "--auto-approve", env=resolver)
        assert code == 0, first
        for name, kind, value in _records(first):
            server.add(name, kind, value)
        code, done = cli.json(project, "apply", "--env", "local", "--auto-approve", env=resolver)
        assert code == 0 and done["dns"]["domains"][0]["state"] == "resolved", done
        assert route(project)["domain"] == "shop.example.com"

        env = project / "envs" / "local.toml"
        env.write_text(env.read_text() + '\n[overrides."web.cdn"]\ndomain = "img2.test.example"\n')
        asked = len(server.queries)
        code, changed = cli.json(project, "apply", "--env", "local", "--auto-approve", env=resolver)
        assert code == 0, changed
        (domain,) = changed["dns"]["domains"]
        assert (domain["domain"], domain["state"]) == ("img2.test.example", "new")
        assert changed["dns"]["stopped"] == "dns-records-to-create"
        assert [r["name"] for r in domain["records"]] == ["_acme-challenge.img2.test.example", "img2.test.example"]
        assert route(project).get("domain") is None  # not served before its records exist
        assert len(server.queries) == asked  # the old domain's records are not what the new one needs

        code, waiting = cli.json(project, "apply", "--env", "local", "--auto-approve", env=resolver)
        assert code == 0 and waiting["dns"]["domains"][0]["state"] == "waiting", waiting


def test_a_domain_waiting_for_its_records_does_not_block_the_other_stacks(tmp_path: Path, cli: Cli) -> None:
    project = make(tmp_path / "estate")
    with FakeDns() as server:
        resolver = {"PLATFORM_DNS_RESOLVER": server.address}
        code, first = cli.json(project, "apply", "--env", "local", "--auto-approve", env=resolver)
        assert code == 0, first
        web = {n: b for n, b in state_files(project).items() if "web" in n}

        (project / "services" / "files.py").write_text(FILES)  # an unrelated change while web.cdn waits
        code, data = cli.json(project, "apply", "--env", "local", "--auto-approve", env=resolver)
        assert code == 0, data  # waiting for DNS is no failure (docs/domains.md: exit codes)
        assert any("files" in n for n in state_files(project)), "the other service was not applied"
        assert {n: b for n, b in state_files(project).items() if "web" in n} == web  # the waiting CDN: no change
        assert route(project).get("domain") is None
        # one shape with the first phase: dns.stopped, every stack, each domain's records with `resolves`
        assert data["dns"]["stopped"] == "dns-records-missing" and "stopped" not in data
        assert {s["service"] for s in data["stacks"]} >= {"files", "web"}
        (domain,) = data["dns"]["domains"]
        assert domain["state"] == "waiting" and not any(r["resolves"] for r in domain["records"])

        text = " ".join(cli(project, "apply", "--env", "local", "--auto-approve", env=resolver).stdout.split())
        assert "waiting for DNS: web.cdn on shop.example.com: 2 of 2 record(s) do not resolve yet" in text
        assert "shop.example.com is not served yet" in text
        assert "Nothing was changed" not in text


def test_where_things_live_says_records_are_in_place_once_the_domain_is_served(tmp_path: Path, cli: Cli) -> None:
    project = make(tmp_path / "estate")
    with FakeDns() as server:
        resolver = {"PLATFORM_DNS_RESOLVER": server.address}
        code, first = cli.json(project, "apply", "--env", "local", "--auto-approve", env=resolver)
        assert code == 0 and all("(create it in the zone)" in r["url"] for r in first["where"] if r["kind"] == "dns")
        name, kind, value = _records(first)[0]
        server.add(name, kind, value)  # the validation record only: the A record is still to create
        code, waiting = cli.json(project, "apply", "--env", "local", "--auto-approve", env=resolver)
        assert code == 0, waiting
        assert [r["url"].split("  ")[-1] for r in waiting["where"] if r["kind"] == "dns"] == [
            "(in place)", "(create it in the zone)"]
        # the same status, machine-readable; the CDN's line says its domain, not served while records are missing
        assert [r["dns"] for r in waiting["where"] if r["kind"] == "dns"] == ["in-place", "to-create"]
        (cdn,) = [r for r in waiting["where"] if r["kind"] == "cdn"]
        assert (cdn["domain"], cdn["domain_served"]) == ("shop.example.com", False)
        text = " ".join(cli(project, "apply", "--env", "local", "--auto-approve", env=resolver).stdout.split())
        assert "(shop.example.com not served yet: its DNS records are to create)" in text, text
        for name, kind, value in _records(first)[1:]:
            server.add(name, kind, value)
        cli(project, "apply", "--env", "local", "--auto-approve", env=resolver)
    code, done = cli.json(project, "apply", "--env", "local", "--auto-approve", env=resolver)
    assert code == 0 and [r["dns"] for r in done["where"] if r["kind"] == "dns"] == ["in-place", "in-place"], done
    assert [(r["domain"], r["domain_served"]) for r in done["where"] if r["kind"] == "cdn"] == [
        ("shop.example.com", True)]
    text = cli(project, "apply", "--env", "local", "--auto-approve", env=resolver).stdout
    assert "Where things live" in text and "(create it in the zone)" not in text
    assert "_acme-challenge.shop.example.com TXT" in text and "(in place)" in text
    assert "(serves shop.example.com)" in text


def test_platform_outputs_says_what_apply_says_of_each_record(tmp_path: Path, cli: Cli) -> None:
    """`platform outputs` lists where things live from the same rows as `platform apply`: a record that resolves is
    "(in place)" in both (it said "(create it in the zone)" for ever, found by a new user's tryout)."""
    project = make(tmp_path / "estate")
    with FakeDns() as server:
        resolver = {"PLATFORM_DNS_RESOLVER": server.address}
        code, first = cli.json(project, "apply", "--env", "local", "--auto-approve", env=resolver)
        assert code == 0, first
        name, kind, value = _records(first)[0]
        server.add(name, kind, value)  # the validation record only: the domain waits for its A record
        code, applied = cli.json(project, "apply", "--env", "local", "--auto-approve", env=resolver)
        assert code == 0, applied
        code, listed = cli.json(project, "outputs", "--env", "local", env=resolver)
        assert code == 0, listed
        assert [r["url"].split("  ")[-1] for r in listed["where"] if r["kind"] == "dns"] == [
            "(in place)", "(create it in the zone)"]
        assert listed["where"] == applied["where"]

        for name, kind, value in _records(first)[1:]:
            server.add(name, kind, value)
        assert cli(project, "apply", "--env", "local", "--auto-approve", env=resolver).exit_code == 0
        text = " ".join(cli(project, "outputs", "--env", "local", env=resolver).stdout.split())
    assert "Where things live in environment local" in text and "(create it in the zone)" not in text
    assert f"{name} {kind} {value} (in place)" in text
