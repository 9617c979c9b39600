"""Local function identities: how local functions prove who they are to the gateway, as cloud IAM would.

The gateway holds a random key for its lifetime and mints, for every function worker it starts, a token
`<function physical name>.<HMAC-SHA256 of the name under the key>` (in the worker's `PLATFORM_LOCAL_IDENTITY`). A
call to another function or to an `http(auth="iam")` trigger presents it as `Authorization: Bearer <token>`; the
gateway recomputes the HMAC (constant-time compare) and admits the caller only when the callee's registry entry
lists it among its invokers (what `caller.invokes(callee)` compiled). No token or a forged one: 401; a valid token
of a function not granted: 403. Tokens never leave the machine and die with the gateway (a restart makes a new key).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


class LocalIdentities:
    """Mints and verifies the gateway's function identity tokens."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    def _mac(self, name: str) -> str:
        return hmac.new(self._key, name.encode("utf-8"), hashlib.sha256).hexdigest()

    def mint(self, function_name: str) -> str:
        """The token of the function with this physical name."""
        return f"{function_name}.{self._mac(function_name)}"

    def verify(self, token: str) -> str | None:
        """The function a token was minted for, or None when it was not minted by this gateway."""
        name, _, mac = token.rpartition(".")
        if not name or not mac or not hmac.compare_digest(mac, self._mac(name)):
            return None
        return name

    def caller(self, headers: dict[str, str]) -> str | None:
        """The verified caller of a request (`Authorization: Bearer <token>`, lower-case header names), or None."""
        scheme, _, token = headers.get("authorization", "").partition(" ")
        return self.verify(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
