"""Bearer tokens for `http(auth=jwt(issuer=..., audience=...))`, verified in the entry adapter the same way on every
cloud, with PyJWT (imported when the first token is checked: `pyjwt[crypto]` is added to the requirements of every
function that uses jwt auth).

The issuer's keys (JWKS, `https://`) are fetched when a token names a key id not seen yet and cached per URL for
`JWKS_CACHE_SECONDS`; an unknown key id refreshes them at most every `JWKS_MIN_REFRESH_SECONDS` (a flood of tokens
with made-up key ids costs one fetch). The signature, `iss`, `aud`, `exp` (and `nbf`/`iat` when present) are checked,
with `LEEWAY_SECONDS` of clock skew. Errors never echo the token.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

JWKS_CACHE_SECONDS = 300.0
"""How long fetched signing keys are reused, in seconds."""
JWKS_MIN_REFRESH_SECONDS = 10.0
"""Least time between two fetches of one JWKS, in seconds."""
LEEWAY_SECONDS = 30
"""Clock skew allowed on `exp`, `nbf` and `iat`, in seconds."""


class Unauthorized(Exception):
    """No valid bearer token: the adapter answers 401 with `WWW-Authenticate: Bearer` and this reason."""


@dataclass(frozen=True)
class JwtPolicy:
    """What a trigger accepts (from the package's `_platform_function.json`, written by synthesis)."""

    issuer: str
    audience: str
    jwks_url: str
    algorithms: tuple[str, ...]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JwtPolicy:
        return cls(str(data["issuer"]), str(data["audience"]), str(data["jwks_url"]),
                   tuple(data.get("algorithms") or ("RS256",)))


class _Keys:
    """One JWKS URL's keys by key id, refreshed on an unknown id (rate-limited) and after the cache time."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.keys: dict[str, Any] = {}
        self.fetched = 0.0
        self.lock = threading.Lock()

    def _fetch(self) -> None:
        import jwt

        client = jwt.PyJWKClient(self.url, cache_keys=False, cache_jwk_set=False, timeout=10)
        try:
            found = client.get_signing_keys()
        except jwt.PyJWKClientError as exc:
            raise Unauthorized(f"the issuer's signing keys could not be read from {self.url}: {exc}") from None
        self.keys = {key.key_id or "": key for key in found}
        self.fetched = time.monotonic()

    def key(self, key_id: str) -> Any:
        with self.lock:
            now = time.monotonic()
            stale = now - self.fetched > JWKS_CACHE_SECONDS
            if stale or (key_id not in self.keys and now - self.fetched > JWKS_MIN_REFRESH_SECONDS):
                self._fetch()
            if key_id not in self.keys:
                if not key_id and len(self.keys) == 1:
                    return next(iter(self.keys.values()))
                raise Unauthorized(f"the token's key id {key_id!r} is not one of the issuer's keys")
            return self.keys[key_id]


_keys: dict[str, _Keys] = {}
_keys_lock = threading.Lock()


def bearer(headers: dict[str, str]) -> str:
    """The bearer token of an `Authorization` header (lower-case header names).

    Raises:
        Unauthorized: no `Authorization: Bearer <token>` header.
    """
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("a bearer token is required (Authorization: Bearer <token>)")
    return token.strip()


def verify(headers: dict[str, str], policy: JwtPolicy) -> dict[str, Any]:
    """The verified claims of the request's bearer token.

    Raises:
        Unauthorized: no token, a bad signature, a wrong issuer or audience, expired, or keys unreachable.
    """
    import jwt

    token = bearer(headers)
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise Unauthorized("the bearer token is not a JWT") from None
    if header.get("alg") not in policy.algorithms:
        raise Unauthorized(f"the token's algorithm {header.get('alg')!r} is not accepted "
                           f"({', '.join(policy.algorithms)})")
    with _keys_lock:
        keys = _keys.setdefault(policy.jwks_url, _Keys(policy.jwks_url))
    key = keys.key(str(header.get("kid") or ""))
    try:
        claims: dict[str, Any] = jwt.decode(token, key=key.key, algorithms=list(policy.algorithms),
                                            audience=policy.audience, issuer=policy.issuer, leeway=LEEWAY_SECONDS,
                                            options={"require": ["exp", "iss", "aud"]})
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"the token was refused: {exc}") from None
    return claims
