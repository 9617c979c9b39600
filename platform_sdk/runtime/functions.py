"""Function-to-function calls: `function(name).invoke(payload)` (waits for the result), `.send(payload)` (hands it over,
at least once) and `.request(method, path, ...)` (an HTTP request to the callee's `http(auth="iam")` trigger, signed
with this function's identity).

Synthesis injects `PLATFORM_FUNCTION_<NAME>` for every function this one `invokes`: a URL whose scheme picks the
plug-in runtime (each plug-in's runtime `__init__` declares `FUNCTION_SCHEMES`; its `functions` module offers
`open_function(url) -> FunctionClient`). On one cloud a call goes through that cloud's own invoke API and IAM;
across clouds through the callee's HTTPS endpoint with a federated identity token (the URL's query says how, as
for buckets). Never a shared key. Standard library only.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol, cast
from urllib.parse import urlparse

from platform_sdk import contract
from platform_sdk.runtime import plugins
from platform_sdk.runtime.resources import GrantError, deny, function_identity, grants

CALL_HEADER = "x-platform-call"
"""Marks an HTTPS request that carries a platform call (`invoke` or `send`) rather than a user's HTTP request; the
entry adapter then hands the handler a `FunctionCall`."""
CALLER_HEADER = "x-platform-caller"
"""The calling function's `service.function` (informational: the cloud's identity check is what admits it)."""


class CallError(RuntimeError):
    """The callee failed, timed out or refused the call (the message says which, and the status when HTTP)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class CallResponse:
    """The answer to `request(...)`: status, lower-case headers, body bytes."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (undecodable bytes replaced, so this never raises)."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON (an empty body is None); raises ValueError if it is not JSON."""
        return json.loads(self.body or b"null")


class FunctionClient(Protocol):
    """One callee on one cloud (`open_function(url)`)."""

    url: str

    def invoke(self, payload: Any) -> Any:
        """Call and wait; the callee's return value. Raises CallError when it fails."""

    def send(self, payload: Any) -> str:
        """Hand the payload over to run later (at least once); returns the call's id."""

    def request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> CallResponse:
        """An HTTP request to the callee's HTTP trigger, signed with this function's identity."""


class FunctionModule(Protocol):
    """What a plug-in runtime's `functions` module offers."""

    def open_function(self, url: str) -> FunctionClient: ...


def open_function(url: str) -> FunctionClient:
    """A client for the function at `url`, from the plug-in runtime serving its scheme.

    Raises:
        ValueError: no plug-in runtime here serves the URL's scheme.
    """
    scheme = urlparse(url).scheme
    owner = plugins.function_schemes().get(scheme)
    if owner is None:
        known = ", ".join(f"{s}://" for s in sorted(plugins.function_schemes())) or "none"
        raise ValueError(f"no function client for {scheme}:// URLs (available: {known})")
    return cast(FunctionModule, plugins.load(owner, "functions")).open_function(url)


def encode_payload(payload: Any) -> bytes:
    """The call's JSON payload.

    Raises:
        ValueError: the payload is not JSON-serialisable.
    """
    try:
        return json.dumps(payload, separators=(",", ":")).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"a call's payload must be JSON-serialisable: {exc}") from None


class GrantedFunction:
    """A function this one may call (`caller.invokes(callee)`)."""

    def __init__(self, name: str, client: FunctionClient) -> None:
        self.name = name
        self.raw = client

    def __repr__(self) -> str:
        return f"GrantedFunction({self.name!r}, {self.raw.url!r})"

    def invoke(self, payload: Any = None) -> Any:
        """Call the function and return its result (JSON values).

        Raises:
            ValueError: `payload` is not JSON-serialisable.
            CallError: the callee raised, timed out or refused.
            DeniedError: a rehearsal found that the rehearsed cloud would refuse the call (contract.DENY).
        """
        encode_payload(payload)
        deny("function.invoke", self.name)
        return self.raw.invoke(payload)

    def send(self, payload: Any = None) -> str:
        """Hand the function `payload` to run later, at least once; returns the call id (its `FunctionCall.id`).

        Raises:
            ValueError: `payload` is not JSON-serialisable.
            CallError: the cloud refused to take it.
            DeniedError: a rehearsal found that the rehearsed cloud would refuse the call (contract.DENY).
        """
        encode_payload(payload)
        deny("function.send", self.name)
        return self.raw.send(payload)

    def request(self, method: str = "GET", path: str = "/", body: bytes | str | dict[str, Any] | list[Any] = b"",
                headers: dict[str, str] | None = None) -> CallResponse:
        """An HTTP request to the function's `http()` trigger, signed with this function's identity (what an
        `http(auth="iam")` trigger admits). dict/list bodies travel as JSON.

        Raises:
            CallError: the request could not be sent (an HTTP error status is a response, not an error).
            DeniedError: a rehearsal found that the rehearsed cloud would refuse the call (contract.DENY).
        """
        deny("function.invoke", self.name)  # the grant's invoke covers its signed requests
        sent_headers = {k.lower(): v for k, v in (headers or {}).items()}
        if isinstance(body, (dict, list)):
            data = json.dumps(body, separators=(",", ":")).encode()
            sent_headers.setdefault("content-type", "application/json")
        else:
            data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        return self.raw.request(method.upper(), path if path.startswith("/") else f"/{path}", data, sent_headers)


_clients: dict[str, GrantedFunction] = {}
_lock = threading.Lock()


def function(name: str) -> GrantedFunction:
    """The granted function `name` (neutral name): `function("worker").invoke({"id": 1})`.

    Raises:
        GrantError: this function holds no `invokes` grant on it (the message names the line to add).
    """
    var = contract.resource_var("function", name)
    url = os.environ.get(var)
    if not url or "invoke" not in grants().get(("function", name), set()):
        fn = os.environ.get(contract.FUNCTION) or "fn"
        why = f"{var} is not set" if not url else f"{contract.GRANTS} has no function:{name} entry"
        raise GrantError(f"function {function_identity()} has no grant on function {name!r} ({why}). In the service "
                         f"file, add `{fn}.invokes(callee)` (callee = the Function named {name!r}); then deploy again.")
    with _lock:
        client = _clients.get(url)
        if client is None:
            client = _clients[url] = GrantedFunction(name, open_function(url))
    return client
