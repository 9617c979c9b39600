"""Cloud Functions (2nd gen): `FunctionServiceClient.get_function` per function, over REST.

Drift: the GCP compiler names each package object `<service>/<function>/<sha256>.zip` and points the
function's `build_config.source.storage_source.object` at it, so the deployed package hash is read from
that object name (or from `source_provenance`, what the last build actually used).

Endpoint: the public API with Application Default Credentials, or `PLATFORM_GCP_FUNCTIONS_ENDPOINT`
(e.g. `http://127.0.0.1:9099` for a local fake; plain-http endpoints use anonymous credentials).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

from platform_sdk.providers.base import NOT_FOUND, UNKNOWN, FunctionRef, FunctionStatus, unresolved
from platform_sdk.providers.gcp.config import gcp_config

ENDPOINT_ENV = "PLATFORM_GCP_FUNCTIONS_ENDPOINT"
PACKAGE_OBJECT = re.compile(r"(?:^|/)([0-9a-fA-F]{64})\.zip$")


def functions_client(endpoint: str | None = None, credentials: Any = None) -> Any:
    """A REST FunctionServiceClient; an http:// endpoint (a local fake) gets anonymous credentials."""
    from google.cloud.functions_v2 import FunctionServiceClient

    endpoint = endpoint or os.environ.get(ENDPOINT_ENV) or None
    if endpoint is None:
        return FunctionServiceClient(transport="rest", credentials=credentials)
    if credentials is None and endpoint.startswith("http://"):
        from google.auth.credentials import AnonymousCredentials

        credentials = AnonymousCredentials()
    return FunctionServiceClient(transport="rest", credentials=credentials,
                                 client_options={"api_endpoint": endpoint})


def package_hash(object_name: str | None) -> str | None:
    """The sha256 in a package object name `<service>/<function>/<sha256>.zip`."""
    match = PACKAGE_OBJECT.search(object_name or "")
    return match.group(1).lower() if match else None


def resource_name(ref: FunctionRef) -> str:
    return f"projects/{ref.project}/locations/{ref.region}/functions/{ref.name}"


def function_status(client: Any, ref: FunctionRef) -> FunctionStatus:
    """One GetFunction call; NotFound when Cloud Functions has no such function."""
    from google.api_core import exceptions as api_exceptions

    if unresolved(ref.name) or not ref.project or not ref.region:
        return FunctionStatus.of(ref, UNKNOWN, detail=f"cannot name the function yet: {resource_name(ref)}")
    try:
        fn = client.get_function(name=resource_name(ref))
    except api_exceptions.NotFound:
        return FunctionStatus.of(ref, NOT_FOUND, detail="not deployed")
    except Exception as err:  # noqa: BLE001 - auth, transport or API errors: report, keep going
        return FunctionStatus.of(ref, UNKNOWN, detail=f"Cloud Functions GetFunction failed: {err}")
    build = fn.build_config
    provenance = build.source_provenance.resolved_storage_source.object_ if build.source_provenance else ""
    deployed = package_hash(provenance) or package_hash(build.source.storage_source.object_)
    state = type(fn).State(fn.state).name.capitalize() if fn.state else UNKNOWN
    messages = "; ".join(m.message for m in fn.state_messages if m.message)
    return FunctionStatus.of(
        ref, state, url=fn.url or fn.service_config.uri or None, runtime=build.runtime or None, code_hash=deployed,
        last_update=fn.update_time.isoformat() if fn.update_time else None,
        detail=messages or (None if deployed else "source object name carries no package hash"),
    )


def checks(env: Any, refs: list[FunctionRef], client: Any = None) -> list[Callable[[], FunctionStatus]]:
    """One callable per function (run in parallel by the caller)."""
    if client is None:
        try:
            client = functions_client()
        except Exception as err:  # noqa: BLE001 - e.g. no Application Default Credentials
            detail = f"no Cloud Functions client: {err}"
            return [lambda ref=ref: FunctionStatus.of(ref, UNKNOWN, detail=detail) for ref in refs]
    gcp = gcp_config(env)
    fixed = [ref if ref.project else FunctionRef(**{**ref.__dict__, "project": gcp.project if gcp else None})
             for ref in refs]
    return [lambda ref=ref: function_status(client, ref) for ref in fixed]
