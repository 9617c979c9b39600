"""The two-phase apply of CDN domains in a DNS zone outside the cloud (`[clouds.<cloud>] dns_zone = "external"`).

Before `platform plan/apply` synthesizes, each such domain is in one of four states, read from its stack's record
of its last apply (next to the state, so every machine agrees) and, when needed, from DNS:

- `new`: never applied: this apply builds its first phase (the certificate is requested, nothing waits for it),
  then stops with exit 0, printing the records to create (`--json`: `dns.domains[].records`).
- `waiting`: the first phase is applied, some records do not resolve yet: the domain stays in its first phase (its
  stack unchanged), every other stack applies, and the apply says which records are missing (exit 0).
- `resolved`: the first phase is applied and every record resolves: this apply completes (the CDN with its
  certificate and domain).
- `complete`: applied complete before (its stack's output `cdn_<name>_dns_phase`): nothing to check (but for a
  move's twin, whose serving record is switched at the move's last pause: its records are still looked up).

A phase belongs to its domain: the applied records (`cdn_<name>_dns_records`) must include one named the CDN's
current domain, else (the domain changed) the domain is `new` again and starts at its first phase.

A move of such a CDN to a cloud whose zone is external builds a twin of the CDN on the target before its cut-over
(`copies`: the move record's copies, move/record.py `retained`), with the same states on the target's stack; the
twin's phase two needs its validation records only, since the domain's own record (the serving record: a CNAME or A
record named the domain) is the traffic switch, made once the twin serves the domain.

Synthesis builds `new` and `waiting` domains in their first phase (`Environment.with_domains_waiting`), so the plan
shows exactly what the apply does. Records are looked up with dnspython through the system's resolver, or the one
`PLATFORM_DNS_RESOLVER` names (`host` or `host:port`; the tests point it at a resolver on 127.0.0.1).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from platform_sdk.errors import PlatformError
from platform_sdk.model import Cdn
from platform_sdk.providers.domains import EXTERNAL, PHASE_COMPLETE

RESOLVER_VARIABLE = "PLATFORM_DNS_RESOLVER"
IN_PLACE, TO_CREATE, SWITCH_LATER = "in-place", "to-create", "switch-later"
"""Where a record of a domain stands (`record_status`; `where[].dns` of `--json`): it resolves (or its domain was
completed), it is to create in the zone, or it is a move's serving record not to switch before the move asks."""
LIFETIME_S = 3.0
"""How long one lookup may take, retries included (seconds)."""


@dataclass
class DomainState:
    """One CDN domain in an external zone, and where its two-phase apply stands."""

    cdn: str  # service.name
    domain: str
    stack: str
    state: str = "new"  # new | waiting | resolved | complete
    records: list[dict[str, Any]] = field(default_factory=list)  # {name, type, value, resolves}
    cloud: str = ""  # the cloud label it is built on
    twin: bool = False  # a move's twin of the CDN on its target, before the cut-over

    @property
    def key(self) -> str | tuple[str, str]:
        """What `Environment.with_domains_waiting` takes: the domain, or (domain, cloud) for a twin."""
        return (self.domain, self.cloud) if self.twin else self.domain

    @property
    def ready(self) -> bool:
        return self.state in ("resolved", "complete")

    @property
    def missing(self) -> list[dict[str, Any]]:
        return [r for r in self.records if not r.get("resolves")]

    @property
    def blocking(self) -> list[dict[str, Any]]:
        """The missing records its next phase waits for: all of them, but the serving record for a twin."""
        return [r for r in self.missing if not (self.twin and serving(r, self.domain))]

    def to_json(self) -> dict[str, Any]:
        return {"cdn": self.cdn, "domain": self.domain, "stack": self.stack, "state": self.state,
                "records": self.records}

    def record_status(self, line: str, switch_asked: bool) -> str:
        """Where the record `line` ("name TYPE value", `record_lines`) stands, from this check's lookup: IN_PLACE
        when it resolves (or the domain is complete: an apply completed it once every record resolved, and later
        applies look nothing up); SWITCH_LATER for a twin's serving record the move has not asked to switch yet
        (`switch_asked`: the move paused for it), since switching it moves the traffic; else TO_CREATE."""
        if self.state == "complete" and not self.twin:
            return IN_PLACE
        if line in record_lines([r for r in self.records if r.get("resolves")]):
            return IN_PLACE
        name = line.split(" ", 1)[0]
        if self.twin and serving({"name": name}, self.domain) and not switch_asked:
            return SWITCH_LATER
        return TO_CREATE


@dataclass
class DnsCheck:
    """Every external-zone domain of the environment (empty: nothing two-phase)."""

    domains: list[DomainState] = field(default_factory=list)

    @property
    def waiting(self) -> list[DomainState]:
        return [d for d in self.domains if d.state == "waiting"]

    @property
    def new(self) -> list[DomainState]:
        return [d for d in self.domains if d.state == "new"]

    @property
    def not_ready(self) -> set[str | tuple[str, str]]:
        """What synthesis builds in its first phase (`Environment.with_domains_waiting`)."""
        return {d.key for d in self.domains if not d.ready}

    def to_json(self) -> dict[str, Any]:
        return {"domains": [d.to_json() for d in self.domains]}


def _external(env: Any, cloud: str) -> bool:
    section = env.clouds.get(cloud)
    return getattr(section, "dns_zone", None) == EXTERNAL


def external_domains(env: Any, services: list[Any], zones: Any = None) -> list[DomainState]:
    """Every CDN with a domain (the environment's override, else the code's) placed on a cloud whose zone is
    external. `zones`: the environment whose `[clouds]` say so (a rehearsal: the rehearsed one), else `env`."""
    from platform_sdk.synth.placement import stack_name

    zones = zones or env
    found = []
    for service in services:
        for cdn in service.of(Cdn):
            domain = zones.override(cdn.address, "domain", cdn.domain)
            cloud = env.cloud_of(service.name, cdn.name)
            if domain and _external(zones, cloud):
                found.append(DomainState(cdn.address, str(domain), stack_name(env, service.name, cloud), cloud=cloud))
    return found


def twin_domains(env: Any, services: list[Any], copies: dict[str, str]) -> list[DomainState]:
    """The CDN twins a move builds on its target before its cut-over (`copies`: address -> cloud, besides the
    placement), with a domain on a cloud whose zone is external."""
    from platform_sdk.synth.placement import stack_name

    found = []
    for service in services:
        for cdn in service.of(Cdn):
            cloud = copies.get(cdn.address)
            domain = env.override(cdn.address, "domain", cdn.domain)
            if cloud and cloud != env.cloud_of(service.name, cdn.name) and domain and _external(env, cloud):
                found.append(DomainState(cdn.address, str(domain), stack_name(env, service.name, cloud), cloud=cloud,
                                         twin=True))
    return found


class ResolverError(PlatformError):
    """The resolver `PLATFORM_DNS_RESOLVER` names is malformed, or a resolver did not answer (exit 2, nothing
    changed): not the same as records that do not resolve yet."""


def _resolver_address(named: str) -> tuple[list[str], int]:
    """`host`, `host:port`, `[v6]:port` or a bare IPv6 address -> (addresses, port); a host name is resolved here
    (dnspython takes addresses only).

    Raises:
        ResolverError: (key PLATFORM_DNS_RESOLVER) the port is not 1-65535, or the host does not resolve.
    """
    import ipaddress
    import socket

    host, port = named.strip(), "53"
    if host.startswith("["):
        host, _, rest = host[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else (rest or "53")
    elif host.count(":") == 1:
        host, port = host.split(":")
    if not port.isdigit() or not 1 <= int(port) <= 65535 or not host:
        raise ResolverError("not a resolver: give host or host:port (port 1-65535)", key=RESOLVER_VARIABLE,
                            value=named)
    try:
        ipaddress.ip_address(host)
        return [host], int(port)
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, int(port), type=socket.SOCK_DGRAM)
    except (OSError, UnicodeError):
        raise ResolverError(f"the resolver's host {host} does not resolve", key=RESOLVER_VARIABLE,
                            value=named) from None
    return list(dict.fromkeys(str(info[4][0]) for info in found)), int(port)


def resolver() -> Any:
    """dnspython's resolver: the system's, or the one `PLATFORM_DNS_RESOLVER` names (`host` or `host:port`, a host
    name or an address).

    Raises:
        ResolverError: a malformed `PLATFORM_DNS_RESOLVER`, or its host does not resolve.
    """
    import dns.resolver

    named = os.environ.get(RESOLVER_VARIABLE)
    if not named:
        found = dns.resolver.Resolver()
    else:
        found = dns.resolver.Resolver(configure=False)
        found.nameservers, found.port = _resolver_address(named)
    found.lifetime = LIFETIME_S
    return found


def _norm(text: str) -> str:
    return text.strip().strip('"').rstrip(".").lower()


def _described(lookup: Any) -> str:
    named = os.environ.get(RESOLVER_VARIABLE)
    if named:
        return f"{named} ({RESOLVER_VARIABLE})"
    return ", ".join(str(n) for n in getattr(lookup, "nameservers", [])) or "the system's"


def resolves(lookup: Any, record: dict[str, Any]) -> bool:
    """Whether `record` ({name, type, value}) is in DNS: a lookup of its name and type answers its value.

    Raises:
        ResolverError: the resolver did not answer (timeout, or no server gave an answer): that says nothing of the
            record.
    """
    import dns.exception
    import dns.resolver

    try:
        answer = lookup.resolve(str(record["name"]), str(record["type"]), raise_on_no_answer=False)
    except (dns.exception.Timeout, dns.resolver.NoNameservers):
        raise ResolverError(f"resolver {_described(lookup)} did not answer (looking up {record['name']} "
                            f"{record['type']}): nothing was checked or changed; try again, or name a resolver that "
                            "answers", key=RESOLVER_VARIABLE if os.environ.get(RESOLVER_VARIABLE) else None) from None
    except dns.exception.DNSException:
        return False
    return _norm(str(record["value"])) in {_norm(r.to_text()) for r in answer}


def serving(record: dict[str, Any], domain: str) -> bool:
    """Whether `record` is the domain's own record (its CNAME or A record to the CDN), not a validation record."""
    return _norm(str(record.get("name", ""))) == _norm(domain)


def applied_for(records: Any, domain: str) -> bool:
    """Whether the applied records (the output `cdn_<name>_dns_records` of the last apply) are those of `domain`:
    one of them is named the domain (its A/CNAME record). A phase belongs to its domain: records of another domain
    (the CDN's domain changed since) leave the current one at its first phase."""
    if not isinstance(records, list):
        return False
    return any(isinstance(r, dict) and _norm(str(r.get("name", ""))) == _norm(domain) for r in records)


def check(project: Any, env: Any, services: list[Any], lookup: Any = None,
          copies: dict[str, str] | None = None) -> DnsCheck:
    """Where each external-zone domain stands (see the module docstring), with the CDN twins of `copies` (address ->
    cloud: a move's, before its cut-over); DNS is asked only for applied first phases, and for twins (also complete:
    their serving record is switched last)."""
    domains = external_domains(env, services) + twin_domains(env, services, copies or {})
    if not domains:
        return DnsCheck()
    from platform_sdk.terraform.records import StackRecord, record_store

    store = record_store(project.root, env)
    for state in domains:
        data = store.read(state.stack)
        applied = StackRecord.loads(data, state.stack).applied if data is not None else None
        values = applied.values if applied is not None else {}
        short = state.cdn.split(".", 1)[1].replace("-", "_")
        records = values.get(f"cdn_{short}_dns_records")
        if not applied_for(records, state.domain):
            continue  # new: its first phase is still to apply (never applied, or applied for another domain)
        complete = values.get(f"cdn_{short}_dns_phase") == PHASE_COMPLETE
        if complete and not state.twin:
            state.state = "complete"
            continue
        # a twin's records are looked up also once it serves the domain: its serving record is the move's switch
        lookup = lookup or resolver()
        state.records = [{"name": r.get("name"), "type": r.get("type"), "value": r.get("value"),
                          "resolves": resolves(lookup, r)} for r in records if isinstance(r, dict)]
        state.state = "complete" if complete else "waiting" if state.blocking else "resolved"
    return DnsCheck(domains)


def requested_records(check: DnsCheck, outputs: Any) -> None:
    """After a first-phase apply: each new domain's records to create, from its stack's outputs."""
    for state in check.new:
        short = state.cdn.split(".", 1)[1].replace("-", "_")
        records = outputs(state.stack).get(f"cdn_{short}_dns_records")
        if isinstance(records, list):
            state.records = [{"name": r.get("name"), "type": r.get("type"), "value": r.get("value"),
                              "resolves": False} for r in records if isinstance(r, dict)]


def zones(results: list[Any]) -> list[dict[str, Any]]:
    """The zones base stacks own or read (their `dns_zone_name_servers` output): name and name servers."""
    found = []
    for result in results:
        servers = result.outputs.get("dns_zone_name_servers")
        if isinstance(servers, list) and servers:
            found.append({"stack": result.name, "zone": str(result.outputs.get("dns_zone_name", "")).rstrip("."),
                          "name_servers": [str(s) for s in servers]})
    return found


def record_lines(records: list[dict[str, Any]]) -> list[str]:
    """`name TYPE value` per record ({name, type, value}: `DomainState.records`, `.missing`, `.blocking`)."""
    return [f"{r['name']} {r['type']} {r['value']}" for r in records]


def rehearsal_notes(local: Any, rehearsed_name: str, services: list[Any]) -> list[str]:
    """A rehearsal (a local environment with `rehearses`): the rehearsed environment's CDN domains in an external
    zone, with this placement, whose apply would stop for DNS records (the local cloud serves every domain at once)."""
    from pathlib import Path

    from platform_sdk.envs import environment_path, load_environment

    try:
        rehearsed = load_environment(environment_path(Path(local.file).parent, rehearsed_name))
    except Exception:  # noqa: BLE001 - the rehearsal itself reports an unreadable rehearsed environment
        return []
    return [f"CDN {d.cdn} serves {d.domain} from a DNS zone outside its cloud (dns_zone = \"external\" in "
            f"{rehearsed_name}): {rehearsed_name}'s first apply would request the certificate and stop, printing the "
            "DNS records to create; the next apply completes once they resolve"
            for d in external_domains(local, services, zones=rehearsed)]


def probe_resolver(env: Any, services: list[Any], names: list[str]) -> tuple[str, str | None, str] | None:
    """Whether the resolver `PLATFORM_DNS_RESOLVER` names answers, asked about the first of `names` and the
    environment's domains in external zones (`platform move`'s preflight, move.preflight.DnsProbe): None when the
    variable is unset or there is nothing to look up, else (its value, why it fails or None, the name asked)."""
    named = os.environ.get(RESOLVER_VARIABLE)
    if not named:
        return None
    names = names + [d.domain for d in external_domains(env, services)]
    if not names:
        return None
    try:
        resolves(resolver(), {"name": names[0], "type": "CNAME", "value": ""})
    except ResolverError as err:
        return named, str(err).split("\n")[0], names[0]
    return named, None, names[0]
