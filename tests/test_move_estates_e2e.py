"""`platform move` never breaks an estate it cannot finish, end to end through the `platform` CLI, real Terraform, the
local cloud (stand-ins for aws and gcp) and a DNS resolver on 127.0.0.1 (tests/dns_server.py): `--dry-run` writes
nothing whatever state a move is in; a kept source is compared with the target again before it is removed; a paused
move refuses a changed domain; a CDN with a domain does not move to a cloud without a `dns_zone` when its source has
one; a bad `PLATFORM_DNS_RESOLVER` is refused by the preflight, and a later DNS failure says the move is unfinished."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.terraform_fixtures import (  # noqa: F401 - the *_fixture imports register fixtures
    Cli,
    cli_fixture,
    state_files,
    tf_binary_fixture,
)
from tests.test_move_dns_e2e import LOCAL_ENV, make, served

pytestmark = pytest.mark.e2e


def snapshot(project: Path) -> dict[str, Any]:
    """Everything a move may change: its record, the environment file, every state, the routes, the buckets."""
    moves = project / ".platform" / "state" / "local" / "_platform" / "moves.json"
    cloud = project / ".platform" / "localcloud" / "local"
    return {"moves": moves.read_text() if moves.exists() else None,
            "env": (project / "envs" / "local.toml").read_text(), "states": state_files(project),
            "served": served(project),
            "buckets": sorted(str(p.relative_to(cloud)) for p in cloud.glob("*/buckets/*/*"))}


def bucket(project: Path, cloud: str) -> Path:
    return project / ".platform" / "localcloud" / "local" / cloud / "buckets" / "acme-local-web-site"


def paused_move(project: Path, cli: Cli, resolver: dict[str, str]) -> dict[str, Any]:
    applied = cli(project, "apply", "--env", "local", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    code, first = cli.json(project, "move", "web", "--to", "gcp", "--env", "local", "--yes", env=resolver)
    assert code == 0 and first["paused"] == "validation", first
    return first


def test_dry_run_of_a_paused_move_writes_nothing_even_once_its_records_resolve(tmp_path: Path, cli: Cli) -> None:
    from tests.dns_server import FakeDns

    project = make(tmp_path / "estate")
    with FakeDns() as server:
        resolver = {"PLATFORM_DNS_RESOLVER": server.address}
        first = paused_move(project, cli, resolver)
        assert first["placement"].endswith('local.toml: "web" = "gcp"'), first["placement"]
        records = first["dns"]["domains"][0]["records"]
        (validation,) = [r for r in records if not r["serving"]]

        # a resume before the records resolve says what is still missing, record by record
        text = " ".join(cli(project, "move", "--resume", "--env", "local", env=resolver).stdout.split())
        assert "still waiting for DNS for shop.example.com on gcp: 1 of the 1 record(s)" in text, text
        assert f"{validation['name']} TXT {validation['value']} (does not resolve yet)" in text, text
        server.records[(validation["name"], "TXT")] = ['"a-stale-token"']
        text = " ".join(cli(project, "move", "--resume", "--env", "local", env=resolver).stdout.split())
        assert f"(resolves to a-stale-token, expected {validation['value']})" in text, text
        del server.records[(validation["name"], "TXT")]
        code, again = cli.json(project, "move", "--resume", "--env", "local", env=resolver)
        assert code == 0 and again["placement"].endswith('"web" = "gcp" (already)'), again["placement"]

        # the unfinished move's arguments: the wrong one named, with its value
        wrong = cli(project, "move", "--resume", "--to", "gcpp", "--env", "local", env=resolver)
        assert wrong.exit_code == 2 and "--to: the unfinished move is of web to gcp, not gcpp (did you mean " \
            "'gcp'?) (got 'gcpp')" in " ".join(wrong.stderr.split()), wrong.stderr
        named = cli(project, "move", "web", "--resume", "--env", "local", env=resolver)  # its own selector: fine
        assert named.exit_code == 0 and "resuming the move of web to gcp" in named.stdout, named.output
        before = snapshot(project)
        dry = cli(project, "move", "web", "--to", "gcp", "--env", "local", "--dry-run", env=resolver)
        assert dry.exit_code == 0, dry.output
        text = " ".join(dry.stdout.split())
        assert "resuming" not in text and "the move of web to gcp is unfinished (phase dns" in text, text
        assert "`platform move --resume --env local` finishes it" in text and "nothing was changed" in text, text
        assert snapshot(project) == before

        for record in records:  # every record resolves: a resume would attach the domain, then cut over
            server.add(record["name"], record["type"], record["value"])
        for extra in ((), ("--keep-source",), ("--remove-source", "--yes")):
            code, data = cli.json(project, "move", "web", "--to", "gcp", "--env", "local", "--dry-run", *extra,
                                  env=resolver)
            assert code == 0 and data["dry_run"] and data["unfinished"]["phase"] == "dns", data
            assert snapshot(project) == before, extra
        assert served(project) == {"aws": "shop.example.com", "gcp": None}

        # a DNS failure once the move has begun says it is unfinished and how to go on
        broken = cli(project, "move", "--resume", "--env", "local", env={"PLATFORM_DNS_RESOLVER": "127.0.0.1:99999"})
        assert broken.exit_code == 2, broken.output
        err = " ".join(broken.stderr.split())
        assert "PLATFORM_DNS_RESOLVER" in err and "the move of web to gcp is unfinished (phase dns)" in err, err
        assert "resume with `platform move --resume --env local`" in err, err


def test_a_paused_move_refuses_a_changed_domain_of_the_cdn_it_moves(tmp_path: Path, cli: Cli) -> None:
    from tests.dns_server import FakeDns

    project = make(tmp_path / "estate")
    with FakeDns() as server:
        resolver = {"PLATFORM_DNS_RESOLVER": server.address}
        first = paused_move(project, cli, resolver)
        for record in first["dns"]["domains"][0]["records"]:
            server.add(record["name"], record["type"], record["value"])
        env_file = project / "envs" / "local.toml"
        env_file.write_text(env_file.read_text() + '\n[overrides."web.cdn"]\ndomain = "shop2.example.com"\n')
        before = snapshot(project)
        resumed = cli(project, "move", "--resume", "--env", "local", "--yes", env=resolver)
        assert resumed.exit_code == 2, resumed.output
        err = " ".join(resumed.stderr.split())
        assert "web.cdn" in err and "shop.example.com" in err and "shop2.example.com" in err, err
        assert f'the line overrides."web.cdn".domain of {env_file}' in err, err
        assert "platform move --abort --env local" in err, err
        assert snapshot(project) == before
        assert served(project) == {"aws": "shop.example.com", "gcp": None}


NO_ZONES = LOCAL_ENV.replace('dns_zone = "external"\n', "")  # neither cloud names a zone


def test_removing_a_kept_source_compares_it_with_the_target_again(tmp_path: Path, cli: Cli) -> None:
    from tests import test_dns_two_phase as two_phase

    project = two_phase.make(tmp_path / "estate", NO_ZONES)
    applied = cli(project, "apply", "--env", "local", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    (bucket(project, "aws") / "index.html").write_text("home")
    code, moved = cli.json(project, "move", "web", "--to", "gcp", "--env", "local", "--keep-source", "--yes")
    assert code == 0 and moved["finished"] and moved["source_kept"], moved

    (bucket(project, "aws") / "late.txt").write_text("written to the kept source")
    before = snapshot(project)
    for extra in (("--dry-run",), ("--yes",)):
        refused = cli(project, "move", "web", "--to", "gcp", "--env", "local", "--remove-source", *extra)
        assert refused.exit_code == 2, refused.output
        err = " ".join(refused.stderr.split())
        assert "web.site on aws holds 1 objects the target on gcp lacks" in err and "late.txt" in err, err
        assert "--allow-data-loss" in err, err
        assert snapshot(project) == before
    assert (bucket(project, "aws") / "late.txt").read_text() == "written to the kept source"

    # copied over: the source holds nothing the target lacks, and the table says what was verified now
    (bucket(project, "gcp") / "late.txt").write_text("written to the kept source")
    dry = cli(project, "move", "web", "--to", "gcp", "--env", "local", "--remove-source", "--dry-run")
    assert dry.exit_code == 0 and "2/2 now" in dry.stdout and "nothing was changed" in dry.stdout, dry.output
    assert snapshot(project)["buckets"] == before["buckets"] + ["gcp/buckets/acme-local-web-site/late.txt"]
    code, removed = cli.json(project, "move", "web", "--to", "gcp", "--env", "local", "--remove-source", "--yes")
    assert code == 0 and removed["source_removed"], removed
    (recheck,) = [r for r in removed["copies"] if r["phase"] == "recheck"]
    assert (recheck["verify"]["matched"], recheck["verify"]["source_objects"]) == (2, 2), recheck
    assert removed["placement"].endswith('"web" = "gcp" (already)'), removed["placement"]
    assert not bucket(project, "aws").exists()
    assert (bucket(project, "gcp") / "late.txt").exists()


def test_a_cdn_whose_source_zone_holds_its_records_does_not_move_to_a_cloud_without_a_zone(
        tmp_path: Path, cli: Cli) -> None:
    from tests.dns_server import FakeDns

    project = two_phase_project(tmp_path)
    with FakeDns() as server:
        resolver = {"PLATFORM_DNS_RESOLVER": server.address}
        code, first = cli.json(project, "apply", "--env", "local", "--auto-approve", env=resolver)
        assert code == 0, first
        for record in first["dns"]["domains"][0]["records"]:
            server.add(record["name"], record["type"], record["value"])
        code, done = cli.json(project, "apply", "--env", "local", "--auto-approve", env=resolver)
        assert code == 0 and served(project) == {"aws": "shop.example.com"}, done
        before = snapshot(project)
        for extra in (("--dry-run",), ("--yes",)):
            refused = cli(project, "move", "web", "--to", "gcp", "--env", "local", *extra, env=resolver)
            assert refused.exit_code == 2, refused.output
            text = " ".join(refused.output.split())
            assert "domain: web.cdn" in text and "shop.example.com" in text, text
            assert '[clouds.gcp] dns_zone = "external"' in text, text
            assert snapshot(project) == before


def two_phase_project(tmp_path: Path) -> Path:
    """web on aws, whose zone is external (the records in the loopback resolver); gcp without a dns_zone."""
    from tests import test_dns_two_phase as two_phase

    env = NO_ZONES.replace('[clouds.aws]\nstand_in = "local"\n', '[clouds.aws]\nstand_in = "local"\n'
                           'dns_zone = "external"\n')
    return two_phase.make(tmp_path / "estate", env)


@pytest.mark.parametrize("named, said", [("127.0.0.1:99999", "not a resolver"), ("127.0.0.1:9", "did not answer")])
def test_a_bad_resolver_is_refused_before_the_move_changes_anything(tmp_path: Path, cli: Cli, named: str,
                                                                    said: str) -> None:
    project = make(tmp_path / "estate")
    applied = cli(project, "apply", "--env", "local", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    before = snapshot(project)
    moved = cli(project, "move", "web", "--to", "gcp", "--env", "local", "--yes",
                env={"PLATFORM_DNS_RESOLVER": named})
    assert moved.exit_code == 2, moved.output
    text = " ".join(moved.output.split())
    assert "DNS resolver" in text and "PLATFORM_DNS_RESOLVER" in text and said in text, text
    assert snapshot(project) == before
    assert json.loads(json.dumps(before["served"])) == {"aws": "shop.example.com"}


@pytest.mark.parametrize("args, said, meant", [
    (["web", "--to", "gcpp"], "--to gcpp: unknown cloud (clouds: ", "gcp"),
    (["web.cdnn", "--to", "gcp"], "error: SERVICE.RESOURCE: service 'web' has no resource 'cdnn' (resources: ",
     "cdn"),
])
def test_a_typo_in_the_arguments_is_named_with_a_suggestion(tmp_path: Path, cli: Cli, args: list[str],
                                                            said: str, meant: str) -> None:
    project = make(tmp_path / "estate")
    result = cli(project, "move", *args, "--env", "local", "--dry-run")
    assert result.exit_code == 2, result.output
    text = " ".join((result.stdout + result.stderr).split())
    assert said in text and f"(did you mean {meant!r}?)" in text, text
