"""`platform move` of a CDN whose domain's DNS zone is outside the target cloud (`dns_zone = "external"`), end to end
through the `platform` CLI, real Terraform, the local cloud (stand-ins for aws and gcp, as docs/domains.md has them)
and a DNS resolver on 127.0.0.1 (tests/dns_server.py): the target needs a certificate and records of its own, so the
move builds a twin of the CDN there after the copy and pauses twice (the validation records to create; then the
switch of the domain's own record), while the source serves the domain until the last run cuts over."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests import test_dns_two_phase as two_phase
from tests.terraform_fixtures import (  # noqa: F401 - the *_fixture imports register fixtures
    Cli,
    cli_fixture,
    state_files,
    state_resources,
    tf_binary_fixture,
)

pytestmark = pytest.mark.e2e

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
    """The two-phase tests' `web` service, served on aws; gcp's zone external."""
    return two_phase.make(root, LOCAL_ENV)


def with_external_zone_on_aws(project: Path) -> None:
    """The source cloud's zone external too."""
    env_file = project / "envs" / "local.toml"
    env_file.write_text(env_file.read_text().replace('[clouds.aws]\nstand_in = "local"\n',
                                                     '[clouds.aws]\nstand_in = "local"\ndns_zone = "external"\n'))


def routes(project: Path) -> dict[str, dict[str, object]]:
    """The local cloud's records of the CDN routes, by stand-in cloud (what each stand-in deployed)."""
    found = (project / ".platform" / "localcloud" / "local").rglob("acme-local-web-cdn.json")
    return {path.relative_to(project / ".platform" / "localcloud" / "local").parts[0]: json.loads(path.read_text())
            for path in found}


def served(project: Path) -> dict[str, object]:
    """Which stand-in's CDN route serves which domain (None: the route is there, without its domain)."""
    return {cloud: r.get("domain") for cloud, r in routes(project).items()}


def test_a_move_to_a_cloud_whose_zone_is_external_pauses_for_the_records_while_the_source_serves(
        tmp_path: Path, cli: Cli) -> None:
    from tests.dns_server import FakeDns

    project = make(tmp_path / "estate")
    applied = cli(project, "apply", "--env", "local", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert served(project) == {"aws": "shop.example.com"}
    with FakeDns() as server:
        resolver = {"PLATFORM_DNS_RESOLVER": server.address}
        code, dry = cli.json(project, "move", "web", "--to", "gcp", "--env", "local", "--dry-run", env=resolver)
        assert code == 0, [c for c in dry["preflight"]["checks"] if not c["ok"]]
        (check,) = [c for c in dry["preflight"]["checks"] if c["step"] == "domain: web.cdn"]
        assert "after the copy the move builds its twin on gcp (certificate requested) and pauses" in check["detail"]

        # run 1: copy, the twin's certificate requested on gcp, the validation record printed; the source serves
        code, first = cli.json(project, "move", "web", "--to", "gcp", "--env", "local", "--yes", env=resolver)
        assert code == 0, first
        assert first["paused"] == "validation" and not first["finished"] and not first["source_removed"]
        assert first["dns"]["stopped"] == "dns-records-to-create"
        (domain,) = first["dns"]["domains"]
        assert (domain["cdn"], domain["domain"], domain["cloud"], domain["state"]) == (
            "web.cdn", "shop.example.com", "gcp", "new")
        (validation, own) = domain["records"]
        assert (validation["name"], validation["type"], validation["serving"]) == (
            "_acme-challenge.shop.example.com", "TXT", False)
        assert (own["name"], own["type"], own["value"], own["serving"]) == (
            "shop.example.com", "CNAME", "gcp.localhost", True)
        assert served(project) == {"aws": "shop.example.com", "gcp": None}
        text = cli(project, "move", "--resume", "--env", "local", env=resolver).stdout
        assert "Create these records in the zone of shop.example.com" in text, text
        assert f"_acme-challenge.shop.example.com TXT {validation['value']}" in text
        assert "gcp.localhost" not in text  # the serving record is not switched before gcp serves the domain
        assert "move paused: resume it with `platform move --resume --env local`" in text

        # an apply meanwhile keeps the twin as the move left it
        code, between = cli.json(project, "apply", "--env", "local", "--auto-approve", env=resolver)
        assert code == 0, between
        assert served(project) == {"aws": "shop.example.com", "gcp": None}

        # run 2: the validation record resolves: the domain attached on gcp too, what the source got meanwhile
        # copied to the twin it serves from; the switch of its record is asked
        server.add(validation["name"], validation["type"], validation["value"])
        site = project / ".platform" / "localcloud" / "local"
        (site / "aws" / "buckets" / "acme-local-web-site" / "index.html").write_text("written after the copy")
        code, second = cli.json(project, "move", "--resume", "--env", "local", env=resolver)
        assert code == 0, second
        assert second["paused"] == "serving" and second["dns"]["stopped"] == "dns-records-to-create"
        assert [(r["name"], r["resolves"]) for r in second["dns"]["domains"][0]["records"]] == [
            ("_acme-challenge.shop.example.com", True), ("shop.example.com", False)]
        assert served(project) == {"aws": "shop.example.com", "gcp": "shop.example.com"}
        assert (site / "gcp" / "buckets" / "acme-local-web-site" / "index.html").read_text() == "written after the copy"
        code, again = cli.json(project, "move", "--resume", "--env", "local", env=resolver)
        assert code == 0 and again["paused"] == "serving" and again["dns"]["stopped"] == "dns-records-missing"
        text = " ".join(cli(project, "move", "--resume", "--env", "local", env=resolver).stdout.split())
        assert "switch the serving record now (replace the record of shop.example.com in its zone by this one)" in \
            text and "shop.example.com CNAME gcp.localhost" in text, text
        assert served(project) == {"aws": "shop.example.com", "gcp": "shop.example.com"}

        # run 3: the serving record is switched to gcp: cut-over, the source removed
        server.add(own["name"], own["type"], own["value"])
        code, done = cli.json(project, "move", "--resume", "--env", "local", "--yes", env=resolver)
        assert code == 0, done
        assert done["finished"] and done["source_removed"] and not done["paused"]
        assert served(project) == {"gcp": "shop.example.com"}

    # the next apply finds the domain complete on gcp (nothing to look up: the resolver is gone) and keeps it served
    code, after = cli.json(project, "apply", "--env", "local", "--auto-approve")
    assert code == 0, after
    assert [(d["state"], d["stack"]) for d in after["dns"]["domains"]] == [("complete", "local-web-gcp")]
    assert served(project) == {"gcp": "shop.example.com"}


def _dns_rows(where: list[dict[str, object]]) -> list[tuple[object, ...]]:
    """(cloud, record, dns status, the status said after the record) of each DNS row of "Where things live"."""
    return [(str(r["cloud"]).split()[0], r["record"], r["dns"], str(r["url"]).split("  ")[-1])
            for r in where if r["kind"] == "dns"]


def _cdn_rows(where: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [(str(r["cloud"]).split()[0], r.get("domain"), r.get("domain_served"), r.get("copy"))
            for r in where if r["kind"] == "cdn"]


def test_where_things_live_during_the_move_s_dns_pauses_says_each_record_as_the_lookup_finds_it(
        tmp_path: Path, cli: Cli) -> None:
    """Found by a new user: at the first pause the listing said to create the serving record the move says not to
    change yet (switching it early moves the traffic), and at the second it said "(in place)" of that record while the
    resolver answered NXDOMAIN (its status came from the twin's phase). `apply` and `outputs` (text and --json) say
    what the lookup finds, with the move's pause."""
    from tests.dns_server import FakeDns

    project = make(tmp_path / "estate")
    assert cli(project, "apply", "--env", "local", "--auto-approve").exit_code == 0
    with FakeDns() as server:
        resolver = {"PLATFORM_DNS_RESOLVER": server.address}
        code, first = cli.json(project, "move", "web", "--to", "gcp", "--env", "local", "--yes", env=resolver)
        assert code == 0 and first["paused"] == "validation", first
        (validation, own) = first["dns"]["domains"][0]["records"]
        token = validation["value"]

        # pause 1: the validation record to create, the serving record not to switch yet
        code, applied = cli.json(project, "apply", "--env", "local", "--auto-approve", env=resolver)
        assert code == 0, applied
        assert _dns_rows(applied["where"]) == [
            ("gcp", f"_acme-challenge.shop.example.com TXT {token}", "to-create", "(create it in the zone)"),
            ("gcp", "shop.example.com CNAME gcp.localhost", "switch-later", "(switch it at the move's next pause)")]
        paused_for = "target twin (move paused for the validation records of shop.example.com to create)"
        assert _cdn_rows(applied["where"]) == [("aws", "shop.example.com", True, None),
                                               ("gcp", "shop.example.com", False, paused_for)]
        code, listed = cli.json(project, "outputs", "--env", "local", env=resolver)
        assert code == 0 and listed["where"] == applied["where"], listed
        text = " ".join(cli(project, "apply", "--env", "local", "--auto-approve", env=resolver).stdout.split())
        assert "shop.example.com CNAME gcp.localhost (create it in the zone)" not in text, text
        assert "shop.example.com CNAME gcp.localhost (switch it at the move's next pause)" in text
        assert ("waiting for DNS: web.cdn on gcp (the move's twin) on shop.example.com: 2 of 2 record(s) do not "
                "resolve yet") in text, text
        assert "not the record of shop.example.com itself yet: the move asks for its switch at its next pause" in text
        assert "(serves shop.example.com) aws (local stand-in)" in text and "copy in progress" not in text
        text = " ".join(cli(project, "outputs", "--env", "local", env=resolver).stdout.split())
        assert "shop.example.com CNAME gcp.localhost (switch it at the move's next pause)" in text, text
        text = " ".join(cli(project, "plan", "--env", "local", env=resolver).stdout.split())
        assert "web.cdn: 2 DNS record(s) of shop.example.com do not resolve yet" in text, text
        assert "gcp.localhost" not in text and "not the record of shop.example.com itself yet" in text

        # pause 2: the validation record resolves, the serving record does not (NXDOMAIN): to switch now
        server.add(validation["name"], validation["type"], token)
        code, second = cli.json(project, "move", "--resume", "--env", "local", env=resolver)
        assert code == 0 and second["paused"] == "serving", second
        code, applied = cli.json(project, "apply", "--env", "local", "--auto-approve", env=resolver)
        assert code == 0, applied
        switch = "(switch it now: it replaces the record of shop.example.com in the zone)"
        assert _dns_rows(applied["where"]) == [
            ("gcp", f"_acme-challenge.shop.example.com TXT {token}", "in-place", "(in place)"),
            ("gcp", "shop.example.com CNAME gcp.localhost", "to-create", switch)]
        paused_for = "target twin (move paused for the switch of the record of shop.example.com to it)"
        assert _cdn_rows(applied["where"]) == [("aws", "shop.example.com", True, None),
                                               ("gcp", "shop.example.com", True, paused_for)]
        code, listed = cli.json(project, "outputs", "--env", "local", env=resolver)
        assert code == 0 and listed["where"] == applied["where"], listed
        text = " ".join(cli(project, "outputs", "--env", "local", env=resolver).stdout.split())
        assert f"shop.example.com CNAME gcp.localhost {switch}" in text and "gcp.localhost (in place)" not in text
        text = " ".join(cli(project, "apply", "--env", "local", "--auto-approve", env=resolver).stdout.split())
        assert ("waiting for DNS: web.cdn on gcp (the move's twin) serves shop.example.com; switch its record now "
                "(replace the record of shop.example.com in its zone by this one), then resume the move "
                "(`platform move --resume --env local`): shop.example.com CNAME gcp.localhost") in text, text

        # switched: in place, and the move cuts over
        server.add(own["name"], own["type"], own["value"])
        code, listed = cli.json(project, "outputs", "--env", "local", env=resolver)
        assert code == 0 and [s for _, _, s, _ in _dns_rows(listed["where"])] == ["in-place", "in-place"], listed
        code, done = cli.json(project, "move", "--resume", "--env", "local", "--yes", env=resolver)
        assert code == 0 and done["finished"], done
    code, listed = cli.json(project, "outputs", "--env", "local")
    assert code == 0 and _cdn_rows(listed["where"]) == [("gcp", "shop.example.com", True, None)], listed
    assert [s for _, _, s, _ in _dns_rows(listed["where"])] == ["in-place", "in-place"]


def test_a_move_aborted_at_its_first_dns_pause_leaves_the_source_as_it_was(tmp_path: Path, cli: Cli) -> None:
    from tests.dns_server import FakeDns

    project = make(tmp_path / "estate")
    applied = cli(project, "apply", "--env", "local", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    env_file = project / "envs" / "local.toml"
    before_env, before_source = env_file.read_text(), state_files(project)["local-web-aws.tfstate"]
    with FakeDns() as server:
        resolver = {"PLATFORM_DNS_RESOLVER": server.address}
        code, first = cli.json(project, "move", "web", "--to", "gcp", "--env", "local", "--yes", env=resolver)
        assert code == 0 and first["paused"] == "validation", first
        assert served(project) == {"aws": "shop.example.com", "gcp": None}

        code, aborted = cli.json(project, "move", "--abort", "--env", "local", "--yes", env=resolver)
        assert code == 0 and aborted["aborted"], aborted
    assert served(project) == {"aws": "shop.example.com"}
    assert env_file.read_text() == before_env
    assert state_files(project)["local-web-aws.tfstate"] == before_source
    assert state_resources(project).get("local-web-gcp.tfstate", []) == []
    moves = json.loads((project / ".platform" / "state" / "local" / "_platform" / "moves.json").read_text())
    assert [m["phase"] for m in moves["moves"]] == ["aborted"]


def test_a_move_between_two_external_zones_asks_for_the_target_s_own_records(tmp_path: Path, cli: Cli) -> None:
    """Both clouds' zones external, the domain served on aws with its records in place: the records gcp asks for
    are its own (another validation token, the serving record to gcp), so the move pauses until they resolve and
    the source's records, already there, let nothing through early."""
    from tests.dns_server import FakeDns

    project = make(tmp_path / "estate")
    with_external_zone_on_aws(project)
    with FakeDns() as server:
        resolver = {"PLATFORM_DNS_RESOLVER": server.address}
        code, first = cli.json(project, "apply", "--env", "local", "--auto-approve", env=resolver)
        assert code == 0, first
        source_records = {(r["name"], r["type"], r["value"]) for r in first["dns"]["domains"][0]["records"]}
        for name, kind, value in source_records:
            server.add(name, kind, value)
        code, served_on_aws = cli.json(project, "apply", "--env", "local", "--auto-approve", env=resolver)
        assert code == 0 and served(project) == {"aws": "shop.example.com"}, served_on_aws

        code, moved = cli.json(project, "move", "web", "--to", "gcp", "--env", "local", "--yes", env=resolver)
        assert code == 0 and moved["paused"] == "validation", moved
        target_records = {(r["name"], r["type"], r["value"]) for r in moved["dns"]["domains"][0]["records"]}
        assert not target_records & source_records and {n for n, _, _ in target_records} == {
            n for n, _, _ in source_records}
        assert served(project) == {"aws": "shop.example.com", "gcp": None}

        (validation,) = [r for r in moved["dns"]["domains"][0]["records"] if not r["serving"]]
        server.add(validation["name"], validation["type"], validation["value"])
        code, attached = cli.json(project, "move", "--resume", "--env", "local", env=resolver)
        assert code == 0 and attached["paused"] == "serving", attached
        assert served(project) == {"aws": "shop.example.com", "gcp": "shop.example.com"}

        server.records[("shop.example.com", "CNAME")] = ["gcp.localhost."]  # the serving record switched to gcp
        code, done = cli.json(project, "move", "--resume", "--env", "local", "--yes", env=resolver)
        assert code == 0 and done["finished"], done
        assert served(project) == {"gcp": "shop.example.com"}


WITH_API = '''
from platform_sdk import Bucket, Cdn, Function, Service, http

service = Service("web", owner="web-team")
site = service.add(Bucket("site"))
api = service.add(Function("api", handler="handler.handle", source="code", triggers=[http()]))
service.add(Cdn("cdn", routes={"/api/*": api, "/*": site}, domain="shop.example.com"))
'''


def test_a_cdn_with_a_function_origin_is_still_refused_before_anything_changes(tmp_path: Path, cli: Cli) -> None:
    """A function gets no twin before the cut-over, so no twin of the CDN can be built in front of it: refused."""
    project = make(tmp_path / "estate")
    (project / "services" / "web.py").write_text(WITH_API)
    (project / "services" / "code").mkdir()
    (project / "services" / "code" / "handler.py").write_text("def handle(event, context):\n    return 'ok'\n")
    code, dry = cli.json(project, "move", "web", "--to", "gcp", "--env", "local", "--dry-run")
    assert code == 2, dry
    (check,) = [c for c in dry["preflight"]["checks"] if not c["ok"]]
    assert check["step"] == "domain: web.cdn"
    assert "web.api get no twin (only moved buckets do)" in check["detail"], check["detail"]
    assert "take shop.example.com off the CDN (domain= of the CDN at " in check["fix"]
    assert not (project / ".platform" / "state" / "local" / "_platform" / "moves.json").exists()


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
    with_external_zone_on_aws(project)
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


def _rehearsed_move_note(tmp_path: Path, cli: Cli, aws_zone: str, gcp_zone: str) -> tuple[Path, dict[str, Any]]:
    """The example's local environment rehearsing a prod with these zones (its own aws zone not external), applied;
    the dry run of moving web to gcp; its check `rehearsal of prod: web.cdn`."""
    project = make(tmp_path / "estate")
    env_file = project / "envs" / "local.toml"
    env_file.write_text(env_file.read_text().replace('dns_zone = "external"\n', "")
                        .replace('default_cloud = "aws"\n', 'default_cloud = "aws"\nrehearses = "prod"\n'))
    (project / "envs" / "prod.toml").write_text(
        'name_prefix = "acme"\ndefault_cloud = "aws"\n[clouds.aws]\nregion = "eu-west-1"\naccount = "111111111111"\n'
        f'{aws_zone}[clouds.gcp]\nproject = "acme-prod-123"\nregion = "europe-west1"\n{gcp_zone}')
    applied = cli(project, "apply", "--env", "local", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    code, dry = cli.json(project, "move", "web", "--to", "gcp", "--env", "local", "--dry-run")
    assert code == 0, dry
    (note,) = [c for c in dry["preflight"]["checks"] if c["step"] == "rehearsal of prod: web.cdn"]
    return project, note


def test_a_rehearsal_says_before_the_move_that_the_rehearsed_environment_would_pause_it_for_dns(
        tmp_path: Path, cli: Cli) -> None:
    """A local environment rehearsing prod, whose gcp zone is external: the local move would go through at once (its
    own zone is not external) and its preflight says prod's would pause for the DNS records of gcp."""
    project, note = _rehearsed_move_note(tmp_path, cli, aws_zone="", gcp_zone='dns_zone = "external"\n')
    assert note["ok"], note
    assert "there this move would pause for DNS records: CDN web.cdn serves shop.example.com from a DNS zone " \
        "outside gcp" in note["detail"] and "prod.toml" in note["detail"]


def test_a_rehearsal_reports_that_the_rehearsed_environment_would_refuse_the_move_for_its_zone(
        tmp_path: Path, cli: Cli) -> None:
    """prod names a Route 53 zone on aws and no dns_zone on gcp: moving web's CDN there would be refused in prod (its
    domain's record would go on pointing at the removed CDN). The rehearsal's preflight said nothing about it and the
    local move went ahead silently; it now reports it, in the dry run's checks and in the plain move's output."""
    project, note = _rehearsed_move_note(tmp_path, cli, aws_zone='dns_zone = "Z0123456789ABCDEFGHIJ"\n', gcp_zone="")
    assert note["ok"] and note["detail"].startswith("this move would be refused there: CDN web.cdn serves "), note
    assert "[clouds.gcp] in " in note["detail"] and "prod.toml names no dns_zone" in note["detail"]
    moved = cli(project, "move", "web", "--to", "gcp", "--env", "local", "--yes")
    assert moved.exit_code == 0, moved.output
    assert "rehearsal of prod: web.cdn: this move would be refused there" in " ".join(moved.stdout.split())
