"""A tiny fake of the Cloud Functions v2 REST API (GetFunction only), on 127.0.0.1, for `platform status` tests.

The real `google-cloud-functions` client talks to it over REST (`transport="rest"`, an `http://` api_endpoint
and anonymous credentials), so request paths, JSON field names and error mapping are exercised for real.
Functions are shaped like what the API returns for a gen2 function deployed from a storage object.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fake_api import LocalFake

# The client asks for `$alt=json;enum-encoding=int`; the real API then sends enums as numbers.
ENUMS = {
    ("state",): {"STATE_UNSPECIFIED": 0, "ACTIVE": 1, "FAILED": 2, "DEPLOYING": 3, "DELETING": 4, "UNKNOWN": 5},
    ("environment",): {"ENVIRONMENT_UNSPECIFIED": 0, "GEN_1": 1, "GEN_2": 2},
    ("buildConfig", "dockerRegistry"): {"DOCKER_REGISTRY_UNSPECIFIED": 0, "CONTAINER_REGISTRY": 1,
                                        "ARTIFACT_REGISTRY": 2},
    ("serviceConfig", "ingressSettings"): {"INGRESS_SETTINGS_UNSPECIFIED": 0, "ALLOW_ALL": 1,
                                           "ALLOW_INTERNAL_ONLY": 2, "ALLOW_INTERNAL_AND_GCLB": 3},
}


def int_enums(fn: dict[str, Any]) -> dict[str, Any]:
    """The same Function with enum fields as numbers."""
    out = json.loads(json.dumps(fn))
    for path, values in ENUMS.items():
        holder = out
        for key in path[:-1]:
            holder = holder.get(key, {})
        if isinstance(holder.get(path[-1]), str):
            holder[path[-1]] = values[holder[path[-1]]]
    return out


def function_json(project: str, location: str, name: str, source_object: str, *, state: str = "ACTIVE",
                  runtime: str = "python311", bucket: str = "acme-src", update_time: str = "2026-11-27T09:00:00.123Z",
                  project_number: str = "123456789012") -> dict[str, Any]:
    """A realistic v2 Function resource (camelCase, as the REST API sends it)."""
    service = f"projects/{project}/locations/{location}/services/{name}"
    compute_sa = f"{project_number}-compute@developer.gserviceaccount.com"
    uri = f"https://{name}-abc123xyz-ew.a.run.app"
    return {
        "name": f"projects/{project}/locations/{location}/functions/{name}",
        "description": "fake",
        "buildConfig": {
            "build": f"projects/{project_number}/locations/{location}/builds/0f0e0d0c-1111-2222-3333-444455556666",
            "runtime": runtime,
            "entryPoint": "handler",
            "source": {"storageSource": {"bucket": bucket, "object": source_object}},
            "sourceProvenance": {"resolvedStorageSource": {"bucket": bucket, "object": source_object,
                                                           "generation": "1764233000123456"}},
            "dockerRegistry": "ARTIFACT_REGISTRY",
            "dockerRepository": f"projects/{project}/locations/{location}/repositories/gcf-artifacts",
            "serviceAccount": f"projects/{project}/serviceAccounts/{compute_sa}",
        },
        "serviceConfig": {
            "service": service,
            "timeoutSeconds": 30,
            "environmentVariables": {"LOG_EXECUTION_ID": "true"},
            "maxInstanceCount": 100,
            "ingressSettings": "ALLOW_ALL",
            "uri": uri,
            "serviceAccountEmail": f"{name[:20]}@{project}.iam.gserviceaccount.com",
            "availableMemory": "256Mi",
            "allTrafficOnLatestRevision": True,
            "revision": f"{name}-00001-abc",
            "maxInstanceRequestConcurrency": 1,
            "availableCpu": "0.1666",
        },
        "state": state,
        "updateTime": update_time,
        "createTime": "2026-11-20T08:00:00.000Z",
        "labels": {"managed-by": "platform-sdk"},
        "environment": "GEN_2",
        "url": f"https://{location}-{project}.cloudfunctions.net/{name}",
        "satisfiesPzs": False,
    }


class FakeCloudFunctions(LocalFake):
    """Holds functions by full resource name; serve with `running()`."""

    def __init__(self) -> None:
        self.functions: dict[str, dict[str, Any]] = {}
        self.requests: list[str] = []

    def add(self, project: str, location: str, name: str, source_object: str, **kwargs: Any) -> dict[str, Any]:
        fn = function_json(project, location, name, source_object, **kwargs)
        self.functions[fn["name"]] = fn
        return fn

    def app(self) -> Starlette:
        async def get_function(request: Request) -> JSONResponse:
            p = request.path_params
            name = f"projects/{p['project']}/locations/{p['location']}/functions/{p['function']}"
            self.requests.append(name)
            fn = self.functions.get(name)
            if fn is None:
                return JSONResponse({"error": {"code": 404, "message": f"Resource '{name}' was not found",
                                               "status": "NOT_FOUND"}}, status_code=404)
            wants_int = "enum-encoding=int" in request.query_params.get("$alt", "")
            return JSONResponse(int_enums(fn) if wants_int else fn)

        return Starlette(routes=[Route("/v2/projects/{project}/locations/{location}/functions/{function}",
                                       get_function, methods=["GET"])])
