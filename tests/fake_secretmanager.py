"""A small fake of the Secret Manager v1 REST API on 127.0.0.1, driven by the real `google-cloud-secret-manager` client.

There is no Secret Manager emulator. The real client talks to this fake over REST (`transport="rest"`, an `http://`
api_endpoint and anonymous credentials; the runtime does exactly that when PLATFORM_SECRETMANAGER_ENDPOINT is set),
so request paths, JSON field names, base64 payloads, enum encoding and error mapping are exercised for real.

Implemented methods (https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets):
CreateSecret (POST /v1/projects/P/secrets?secretId=S), GetSecret, DeleteSecret, AddSecretVersion
(POST .../secrets/S:addVersion), AccessSecretVersion (GET .../versions/V:access, V a number or `latest`, the newest
ENABLED version), ListSecretVersions (GET .../versions, `filter=state:ENABLED`) and DisableSecretVersion.
The payload's CRC32C is returned as the API does (`dataCrc32c`, decimal int64 as a string). Payloads are kept in
memory only; `requests` records each method and resource name, never a payload.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from typing import Any

import google_crc32c
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fake_api import LocalFake

STATES = {"STATE_UNSPECIFIED": 0, "ENABLED": 1, "DISABLED": 2, "DESTROYED": 3}
TIME = "2026-11-30T08:00:00.000000Z"


@dataclass
class _Version:
    number: int
    data: bytes = field(repr=False)
    state: str = "ENABLED"


@dataclass
class _Secret:
    name: str
    labels: dict[str, str]
    versions: list[_Version] = field(default_factory=list)


def _error(code: int, status: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "status": status}}, status_code=code)


class FakeSecretManager(LocalFake):
    """Secrets by full resource name (`projects/P/secrets/S`); serve with `running()`."""

    def __init__(self) -> None:
        self.secrets: dict[str, _Secret] = {}
        self.requests: list[str] = []
        self._lock = threading.Lock()

    def payloads(self) -> list[bytes]:
        """Every stored payload (for tests that look for a value where it must not be)."""
        return [v.data for s in self.secrets.values() for v in s.versions]

    def _version_json(self, secret: _Secret, version: _Version, enum_int: bool) -> dict[str, Any]:
        return {"name": f"{secret.name}/versions/{version.number}", "createTime": TIME,
                "state": STATES[version.state] if enum_int else version.state,
                "replicationStatus": {"automatic": {}}, "etag": f'"{version.number}"'}

    def app(self) -> Starlette:
        def enum_int(request: Request) -> bool:
            return "enum-encoding=int" in request.query_params.get("$alt", "")

        async def secrets(request: Request) -> Response:
            p = request.path_params
            parent = f"projects/{p['project']}"
            if request.method == "POST":
                secret_id = request.query_params.get("secretId", "")
                body = json.loads(await request.body() or b"{}")
                name = f"{parent}/secrets/{secret_id}"
                self.requests.append(f"CreateSecret {name}")
                with self._lock:
                    if name in self.secrets:
                        return _error(409, "ALREADY_EXISTS", f"Secret [{name}] already exists.")
                    self.secrets[name] = _Secret(name, dict(body.get("labels") or {}))
                return JSONResponse({"name": name, "replication": {"automatic": {}}, "createTime": TIME,
                                     "labels": body.get("labels") or {}, "etag": '"1"'})
            return _error(405, "UNIMPLEMENTED", "only CreateSecret is served on this path")

        async def secret(request: Request) -> Response:
            p = request.path_params
            name = f"projects/{p['project']}/secrets/{p['secret']}"
            method = p.get("method")
            self.requests.append(f"{request.method}{':' + method if method else ''} {name}")
            with self._lock:
                found = self.secrets.get(name)
                if found is None:
                    return _error(404, "NOT_FOUND", f"Secret [{name}] not found or has no versions.")
                if method == "addVersion":
                    body = json.loads(await request.body())
                    version = _Version(len(found.versions) + 1, base64.b64decode(body["payload"]["data"]))
                    found.versions.append(version)
                    return JSONResponse(self._version_json(found, version, enum_int(request)))
                if method:
                    return _error(400, "INVALID_ARGUMENT", f"unknown method {method}")
                if request.method == "DELETE":
                    del self.secrets[name]
                    return JSONResponse({})
                return JSONResponse({"name": name, "replication": {"automatic": {}}, "createTime": TIME,
                                     "labels": found.labels, "etag": '"1"'})

        async def versions(request: Request) -> Response:
            p = request.path_params
            name = f"projects/{p['project']}/secrets/{p['secret']}"
            self.requests.append(f"ListSecretVersions {name}")
            with self._lock:
                found = self.secrets.get(name)
                if found is None:
                    return _error(404, "NOT_FOUND", f"Secret [{name}] not found.")
                wanted = request.query_params.get("filter", "")
                listed = [v for v in reversed(found.versions)
                          if not wanted or wanted.replace(" ", "") == f"state:{v.state}"]
                return JSONResponse({"versions": [self._version_json(found, v, enum_int(request)) for v in listed],
                                     "totalSize": len(listed)})

        async def version(request: Request) -> Response:
            p = request.path_params
            secret_name = f"projects/{p['project']}/secrets/{p['secret']}"
            wanted, method = p["version"], p.get("method")
            self.requests.append(f"{method or 'GetSecretVersion'} {secret_name}/versions/{wanted}")
            with self._lock:
                found = self.secrets.get(secret_name)
                enabled = [v for v in found.versions if v.state == "ENABLED"] if found else []
                if wanted == "latest":
                    chosen = enabled[-1] if enabled else None
                else:
                    chosen = next((v for v in (found.versions if found else []) if str(v.number) == wanted), None)
                if found is None or chosen is None:
                    return _error(404, "NOT_FOUND", f"Secret Version [{secret_name}/versions/{wanted}] not found.")
                if method == "disable":
                    chosen.state = "DISABLED"
                    return JSONResponse(self._version_json(found, chosen, enum_int(request)))
                if method != "access":
                    return JSONResponse(self._version_json(found, chosen, enum_int(request)))
                if chosen.state != "ENABLED":
                    return _error(400, "FAILED_PRECONDITION",
                                  f"Secret Version [{secret_name}/versions/{chosen.number}] is in DISABLED state.")
                crc = google_crc32c.value(chosen.data)
                return JSONResponse({"name": f"{secret_name}/versions/{chosen.number}",
                                     "payload": {"data": base64.b64encode(chosen.data).decode(),
                                                 "dataCrc32c": str(crc)}})

        base = "/v1/projects/{project}/secrets"
        return Starlette(routes=[
            Route(base, secrets, methods=["POST", "GET"]),
            Route(base + "/{secret}/versions", versions, methods=["GET"]),
            Route(base + "/{secret}/versions/{version}:{method}", version, methods=["GET", "POST"]),
            Route(base + "/{secret}/versions/{version}", version, methods=["GET"]),
            Route(base + "/{secret}:{method}", secret, methods=["POST"]),
            Route(base + "/{secret}", secret, methods=["GET", "DELETE"]),
        ])
