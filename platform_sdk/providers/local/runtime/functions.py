"""`LocalFunction`: calls to a local cloud function (`localfn://<physical name>`) through the `platform dev` gateway.

Every local function runs with `PLATFORM_LOCAL_IDENTITY`, a token the gateway minted for it (signed with the
gateway's own key, see `platform_sdk.localcloud.dev.identity`), and `PLATFORM_LOCAL_GATEWAY`, the gateway's URL.
A call presents the token as `Authorization: Bearer <token>`; the gateway admits it only when the callee granted
the caller `invokes` (403 otherwise, 401 without a valid token), exactly as the clouds' IAM would. Standard
library only.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote, urlparse

from platform_sdk import contract
from platform_sdk.runtime.functions import CALL_HEADER, CallError, CallResponse, encode_payload

SCHEME = "localfn"
TIMEOUT_SECONDS = 900.0
"""Longest wait for a local call, in seconds (the callee's own timeout is enforced by the gateway)."""


class LocalFunction:
    """One local callee."""

    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        if parsed.scheme != SCHEME or not parsed.netloc:
            raise ValueError(f"not a local function URL: {url!r} (expected {SCHEME}://<function name>)")
        self.url = url
        self.name = parsed.netloc

    def __repr__(self) -> str:
        return f"LocalFunction({self.url!r})"

    def _gateway(self) -> str:
        base = os.environ.get(contract.LOCAL_GATEWAY)
        if not base:
            raise CallError(f"{contract.LOCAL_GATEWAY} is not set: local functions call each other through "
                            "`platform dev`")
        return base.rstrip("/")

    def _headers(self) -> dict[str, str]:
        token = os.environ.get(contract.LOCAL_IDENTITY, "")
        headers = {"user-agent": "platform-sdk-local-call"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        return headers

    def _send(self, method: str, url: str, body: bytes, headers: dict[str, str]) -> CallResponse:
        request = urllib.request.Request(url, data=body if method not in ("GET", "HEAD") else None, method=method,
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 - loopback
                return CallResponse(response.status, {k.lower(): v for k, v in response.headers.items()},
                                    response.read())
        except urllib.error.HTTPError as error:
            return CallResponse(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())
        except urllib.error.URLError as error:
            raise CallError(f"function {self.name}: the local gateway at {self._gateway()} is unreachable: "
                            f"{error.reason}") from None

    def _call(self, mode: str, payload: Any) -> dict[str, Any]:
        headers = {**self._headers(), "content-type": "application/json", CALL_HEADER: mode}
        url = f"{self._gateway()}/_platform/{mode}/{quote(self.name, safe='')}"
        response = self._send("POST", url, encode_payload(payload), headers)
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if response.status >= 400:
            reason = answer.get("error") if isinstance(answer, dict) else None
            raise CallError(f"function {self.name} refused or failed the call (HTTP {response.status}): "
                            f"{reason or response.text[:200]}", response.status)
        return answer if isinstance(answer, dict) else {}

    def invoke(self, payload: Any) -> Any:
        return self._call("invoke", payload).get("result")

    def send(self, payload: Any) -> str:
        return str(self._call("send", payload).get("call_id", ""))

    def request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> CallResponse:
        url = f"{self._gateway()}/fn/{quote(self.name, safe='')}{path}"
        return self._send(method, url, body, {**headers, **self._headers()})


def open_function(url: str) -> LocalFunction:
    """The plug-in hook `platform_sdk.runtime.functions.open_function` calls for `localfn://` URLs."""
    return LocalFunction(url)
