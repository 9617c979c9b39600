"""Keyless access to a granted bucket on another cloud: what is neutral about it.

Synthesis injects `PLATFORM_BUCKET_<NAME>` URLs. A bucket on the function's own cloud is a plain `<scheme>://name`
(the function's own identity reaches it). A bucket on another cloud carries, in the URL's query, how to federate:
`web_identity=<plug-in name of the cloud the function runs on>` plus what the bucket's cloud needs (a role to
assume, a workload identity audience, a region). The bucket's plug-in turns that into credentials
(`platform_sdk.providers.<cloud>.runtime.federation`); when it needs an OpenID Connect ID token proving who the
function is, it asks the function's own plug-in through `id_token` below, whose runtime `identity` module knows
how a workload on that cloud gets one.

Standard library only: imported inside deployed functions.
"""

from __future__ import annotations

import os
import re
from typing import Protocol, cast
from urllib.parse import parse_qs, urlparse

from platform_sdk import contract
from platform_sdk.runtime import plugins

WEB_IDENTITY = "web_identity"
"""The URL query key naming the plug-in of the cloud whose workload identity is presented."""


class FederationError(RuntimeError):
    """A federated bucket URL could not be turned into credentials (malformed URL, metadata server, token exchange)."""


class IdentityModule(Protocol):
    """What a plug-in runtime's `identity` module offers."""

    def id_token(self, audience: str) -> str: ...


def federation_params(url: str) -> dict[str, str]:
    """The URL's query as a dict (first value of each key); empty for a plain bucket URL."""
    query = urlparse(url).query
    return {key: values[0] for key, values in parse_qs(query, keep_blank_values=True).items()}


def is_federated(url: str) -> bool:
    """True when the URL says how to federate (it has a `web_identity` parameter)."""
    return WEB_IDENTITY in federation_params(url)


def session_name() -> str:
    """A name for a federated session naming the function: `service.function`, only [\\w+=,.@-], 2 to 64 characters."""
    service = os.environ.get(contract.SERVICE, "")
    function = os.environ.get(contract.FUNCTION, "")
    name = ".".join(part for part in (service, function) if part) or "platform-function"
    name = re.sub(r"[^\w+=,.@-]", "-", name)[:64]
    return name if len(name) >= 2 else f"{name}-fn"


def id_token(source: str, audience: str) -> str:
    """An OpenID Connect ID token for `audience`, proving the identity of this function on the cloud of plug-in
    `source` (the URL's `web_identity`).

    Raises:
        FederationError: that plug-in's runtime is not here, cannot issue ID tokens, or the token request failed.
    """
    try:
        module = cast(IdentityModule, plugins.load(source, "identity"))
    except plugins.PluginNotFoundError as exc:
        raise FederationError(f"web_identity={source}: {exc}") from None
    return module.id_token(audience)
