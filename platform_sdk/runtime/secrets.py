"""Secrets: `secret(name)` reads a granted secret's value inside a function; `open_secret(url)` opens any secret's
container by URL (what `platform secret set`, `rotate`, `list` and moves use).

Synthesis injects `PLATFORM_SECRET_<NAME>`: a URL naming where the value lives, never the value. Its scheme picks
the plug-in runtime that serves it (each plug-in's runtime `__init__` declares `SECRET_SCHEMES`; its `secrets`
module offers `open_secret(url) -> SecretClient`):

    file:///<local cloud root>/secrets/<name>                 the local cloud (a 0600 file)
    secretsmanager://<name>?region=<region>[&...]             AWS Secrets Manager
    secretmanager://<project>/<secret id>[?...]               GCP Secret Manager

A secret on another cloud carries in the URL's query how to federate, exactly like a bucket's
(`platform_sdk.runtime.federation`): no keys anywhere.

Caching and rotation: `secret(name)` keeps the value in the process (warm invocations reuse it). It is read again
from the cloud when it is older than `max_age` seconds (default `SECRET_TTL_SECONDS`, 300), or sooner when the
store can tell cheaply that a new version exists (the local cloud: the file changed). So a rotated value reaches
every running function within `max_age`; code that detects a stale value (a signature that no longer verifies)
may call `secret(name, max_age=0)` once to read the current one.

The value is never logged (SDK debug logging is held at INFO while it travels), never part of an exception
message, and never part of a repr. Standard library only: imported inside deployed functions.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol, cast
from urllib.parse import urlparse

from platform_sdk import contract
from platform_sdk.runtime import plugins
from platform_sdk.runtime.resources import GrantError, deny, function_identity, grants

SECRET_TTL_SECONDS = 300.0
"""How long `secret(name)` reuses a value before reading it again, in seconds."""


class SecretNotSetError(LookupError):
    """The secret's container exists (or was never created) but holds no value in this environment yet.

    The message names the secret and the command that sets it; never a value.
    """


class SecretContainerMissingError(LookupError):
    """A value was written to a secret whose container does not exist (Terraform creates containers)."""


@dataclass(frozen=True)
class SecretValue:
    """One version of a secret's value. `repr()` never shows the value."""

    value: str = field(repr=False)
    version: str


class SecretClient(Protocol):
    """One secret's container on one cloud (`open_secret(url)`)."""

    url: str

    def read(self) -> SecretValue | None:
        """The current value, or None when the secret has none (or its container does not exist)."""

    def current_version(self) -> str | None:
        """The current version when the store tells it cheaply (a stat, not an API call), else None."""

    def write(self, value: str) -> str:
        """Store `value` as the new current version; returns the version.

        Raises:
            SecretContainerMissingError: the container does not exist (run `platform apply` first).
        """

    def exists(self) -> bool:
        """True when the container exists."""

    def has_value(self) -> bool:
        """True when the container holds a current value (checked without reading it, where the cloud allows)."""


class SecretModule(Protocol):
    """What a plug-in runtime's `secrets` module offers."""

    def open_secret(self, url: str) -> SecretClient: ...


def open_secret(url: str) -> SecretClient:
    """A client for the secret at `url`, from the plug-in runtime serving its scheme.

    Raises:
        ValueError: no plug-in runtime here serves the URL's scheme.
    """
    scheme = urlparse(url).scheme
    owner = plugins.secret_schemes().get(scheme)
    if owner is None:
        known = ", ".join(f"{s}://" for s in sorted(plugins.secret_schemes())) or "none"
        raise ValueError(f"no secret client for {scheme}:// URLs (available: {known})")
    module = cast(SecretModule, plugins.load(owner, "secrets"))
    return module.open_secret(url)


# -- inside a function -------------------------------------------------------------------------------------------
@dataclass
class _Cached:
    current: SecretValue
    fetched: float


_clients: dict[str, SecretClient] = {}
_values: dict[str, _Cached] = {}
_lock = threading.Lock()


def _not_granted(name: str) -> GrantError:
    fn = os.environ.get(contract.FUNCTION) or "fn"
    service = os.environ.get(contract.SERVICE)
    where = f"the service file that declares service {service!r}" if service else "the service file"
    var = contract.resource_var("secret", name)
    why = f"{var} is not set" if not os.environ.get(var) else f"{contract.GRANTS} has no secret:{name} entry"
    return GrantError(f"function {function_identity()} has no grant on secret {name!r} ({why}). In {where}, add "
                      f"`fn.reads(secret)` on the Function {fn!r} (secret = the Secret named {name!r}); then deploy "
                      "again.")


def not_set(name: str) -> SecretNotSetError:
    """The error for a secret without a value, naming the command that sets it."""
    service = os.environ.get(contract.SERVICE) or "SERVICE"
    env = os.environ.get(contract.ENV) or "ENV"
    return SecretNotSetError(f"secret {name!r} has no value in environment {env!r} yet: set it with "
                             f"`platform secret set {service}.{name} --env {env}` (a generated secret gets its value "
                             f"from `platform apply`)")


def secret(name: str, max_age: float = SECRET_TTL_SECONDS) -> str:
    """The current value of the granted secret `name` (neutral name), as text.

    Cached in the process for up to `max_age` seconds (see the module docstring); `max_age=0` reads it now.

    Raises:
        GrantError: the function holds no `fn.reads(secret)` grant on it.
        DeniedError: a rehearsal found that the rehearsed cloud would refuse the read (contract.DENY).
        SecretNotSetError: the secret has no value in this environment (the message names the command).
    """
    url = os.environ.get(contract.resource_var("secret", name))
    if not url or "read" not in grants().get(("secret", name), set()):
        raise _not_granted(name)
    deny("secret.read", name)  # a rehearsal: what the rehearsed cloud would refuse
    now = time.monotonic()
    with _lock:
        client = _clients.get(url)
        if client is None:
            client = _clients[url] = open_secret(url)
        cached = _values.get(url)
    if cached is not None and now - cached.fetched < max_age:
        version = client.current_version()
        if version is None or version == cached.current.version:
            return cached.current.value
    current = client.read()
    if current is None:
        with _lock:
            _values.pop(url, None)
        raise not_set(name)
    with _lock:
        _values[url] = _Cached(current, now)
    return current.value
