"""How a workload on GCP proves who it is to another cloud: its service account's ID token, from the metadata server.

`id_token(audience)` asks `http://<metadata host>/computeMetadata/v1/instance/service-accounts/default/identity
?audience=<audience>&format=full` with the header `Metadata-Flavor: Google`, never through a proxy (Compute Engine
docs, "Verify the identity of instances": https://cloud.google.com/compute/docs/instances/verifying-instance-identity;
the same server runs beside Cloud Functions and Cloud Run). The token is a Google-signed JWT whose `aud` is the
audience asked for and whose `azp` and `sub` are the service account's unique id.

Override (tests only): `GCE_METADATA_HOST`, the metadata server's host[:port] (the variable google-auth honours).
Standard library only.
"""

from __future__ import annotations

import os
import urllib.request
from urllib.parse import urlencode

from platform_sdk.runtime.federation import FederationError

METADATA_HOST_ENV = "GCE_METADATA_HOST"
DEFAULT_METADATA_HOST = "metadata.google.internal"
IDENTITY_PATH = "/computeMetadata/v1/instance/service-accounts/default/identity"
METADATA_TIMEOUT = 5.0
"""Seconds to wait for the metadata server."""


def google_id_token(audience: str, *, host: str | None = None, timeout: float = METADATA_TIMEOUT) -> str:
    """The running service account's ID token for `audience`, from the metadata server at `host`.

    Raises:
        FederationError: the server is unreachable, does not answer as a GCP metadata server, or sends no token.
    """
    host = host or os.environ.get(METADATA_HOST_ENV) or DEFAULT_METADATA_HOST
    url = f"http://{host}{IDENTITY_PATH}?{urlencode({'audience': audience, 'format': 'full'})}"
    request = urllib.request.Request(url, headers={"Metadata-Flavor": "Google"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            if response.headers.get("Metadata-Flavor") != "Google":
                raise FederationError(f"{host} did not answer as a GCP metadata server (no Metadata-Flavor header)")
            token = response.read().decode("utf-8").strip()
    except OSError as exc:
        raise FederationError(f"could not get an ID token from the metadata server at {host}: {exc}") from exc
    if not token:
        raise FederationError(f"the metadata server at {host} returned an empty ID token")
    return str(token)


def id_token(audience: str) -> str:
    """The plug-in hook `platform_sdk.runtime.federation.id_token` calls: `google_id_token(audience)`."""
    return google_id_token(audience)
