"""A tiny authoritative DNS server on 127.0.0.1 for tests (UDP, built with dnspython): answers the records a test
adds, NXDOMAIN for every other name. `PLATFORM_DNS_RESOLVER=127.0.0.1:<port>` points the CLI's lookups at it, so
no test asks a public resolver."""

from __future__ import annotations

import socket
import threading
from typing import Any

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


class FakeDns:
    """`add(name, type, value)` then ask it; `queries` lists every (name, type) asked, in order."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], list[str]] = {}
        self.queries: list[tuple[str, str]] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._stopped = threading.Event()

    @property
    def address(self) -> str:
        """What `PLATFORM_DNS_RESOLVER` takes: `127.0.0.1:<port>`."""
        return f"127.0.0.1:{self.port}"

    def add(self, name: str, record_type: str, value: str) -> None:
        text = f'"{value}"' if record_type == "TXT" else value
        if record_type == "CNAME" and not text.endswith("."):
            text += "."  # the platform prints a CNAME's target without its root dot, as the clouds do
        self.records.setdefault((name.rstrip(".").lower(), record_type), []).append(text)

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stopped.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            query = dns.message.from_wire(data)
            question = query.question[0]
            name, record_type = question.name.to_text().rstrip(".").lower(), dns.rdatatype.to_text(question.rdtype)
            self.queries.append((name, record_type))
            response: Any = dns.message.make_response(query)
            found = self.records.get((name, record_type))
            if found:
                response.answer.append(dns.rrset.from_text(question.name, 60, "IN", record_type, *found))
            elif not any(key[0] == name for key in self.records):
                response.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(response.to_wire(), peer)

    def __enter__(self) -> FakeDns:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
        self.sock.close()
