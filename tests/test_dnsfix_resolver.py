"""`PLATFORM_DNS_RESOLVER` (docs/domains.md): a host name or an address, with or without a port; a malformed value
exits 2 naming the variable, and a resolver that does not answer is reported as such (exit 2, nothing changed), never
as records that do not resolve yet. DNS on 127.0.0.1 only (tests/dns_server.py)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from platform_sdk.commands import dns_phase
from tests.dns_server import FakeDns
from tests.terraform_fixtures import (  # noqa: F401 - the *_fixture imports register fixtures
    Cli,
    cli_fixture,
    state_files,
    tf_binary_fixture,
)
from tests.test_dns_two_phase import make


def test_a_host_name_is_resolved_and_malformed_values_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeDns() as server:
        server.add("shop.example.com", "A", "203.0.113.7")
        monkeypatch.setenv(dns_phase.RESOLVER_VARIABLE, f"localhost:{server.port}")
        lookup = dns_phase.resolver()
        assert "127.0.0.1" in lookup.nameservers and lookup.port == server.port
        assert dns_phase.resolves(lookup, {"name": "shop.example.com", "type": "A", "value": "203.0.113.7"})
    monkeypatch.setenv(dns_phase.RESOLVER_VARIABLE, "[::1]:5353")
    assert (dns_phase.resolver().nameservers, dns_phase.resolver().port) == (["::1"], 5353)
    for bad in ("127.0.0.1:99999", "127.0.0.1:dns", ":53", "localhost:"):
        monkeypatch.setenv(dns_phase.RESOLVER_VARIABLE, bad)
        with pytest.raises(dns_phase.ResolverError) as err:
            dns_phase.resolver()
        assert dns_phase.RESOLVER_VARIABLE in str(err.value) and repr(bad) in str(err.value)


@pytest.mark.e2e
def test_a_resolver_that_does_not_answer_is_not_records_missing(tmp_path: Path, cli: Cli) -> None:
    project = make(tmp_path / "estate")
    with FakeDns() as server:
        code, first = cli.json(project, "apply", "--env", "local", "--auto-approve",
                               env={"PLATFORM_DNS_RESOLVER": server.address})
        assert code == 0, first
    before = state_files(project)
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # bound, never answers
    silent.bind(("127.0.0.1", 0))
    try:
        dead = f"127.0.0.1:{silent.getsockname()[1]}"
        result = cli(project, "apply", "--env", "local", "--auto-approve", env={"PLATFORM_DNS_RESOLVER": dead})
        text = " ".join(result.output.split())
        assert result.exit_code == 2, text
        assert f"resolver {dead} (PLATFORM_DNS_RESOLVER) did not answer" in text and "Traceback" not in text
        assert "do not resolve yet" not in text and state_files(project) == before
    finally:
        silent.close()
    result = cli(project, "apply", "--env", "local", "--auto-approve",
                 env={"PLATFORM_DNS_RESOLVER": "localhost:99999"})
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and "PLATFORM_DNS_RESOLVER" in text and "'localhost:99999'" in text, text
