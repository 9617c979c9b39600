"""`CloudFunction`: calls to a Cloud Functions (gen2) function (`gcf://<name>?url=<https URL>&calls=<project>/<topic>`)
with the caller's own service account: `invoke` and `request` are HTTPS requests to the function's URL carrying a
Google ID token whose audience is that URL (from the metadata server; Cloud Run checks the caller holds
`roles/run.invoker` on the service), `send` publishes to the function's calls topic, which a push subscription
delivers at least once ("on GCP through a queue the platform creates").
https://cloud.google.com/run/docs/authenticating/service-to-service

A caller on AWS gets `...&wif_audience=<provider audience>&web_identity=aws&service_account=<email>`: its ID token
comes from generateIdToken for that service account, authorised by its federated token
(`federation.federated_id_token`), and `send` publishes to the calls topic with the federated token itself.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
import uuid
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

from platform_sdk import contract
from platform_sdk.providers.gcp.runtime.identity import google_id_token
from platform_sdk.providers.gcp.runtime.queues import PubSubTopic
from platform_sdk.runtime.federation import WEB_IDENTITY
from platform_sdk.runtime.functions import CALL_HEADER, CALLER_HEADER, CallError, CallResponse, encode_payload

CALL_ATTRIBUTE = "platform-call"  # the name the GCP adapter recognises
TIMEOUT_SECONDS = 3600.0


def caller_name() -> str:
    return ".".join(p for p in (os.environ.get(contract.SERVICE, ""), os.environ.get(contract.FUNCTION, "")) if p)


class CloudFunction:
    """One Cloud Functions callee."""

    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        params = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        if parsed.scheme != "gcf" or not parsed.netloc or not params.get("url"):
            raise ValueError(f"not a Cloud Functions URL: {url!r} (expected gcf://<name>?url=<https URL>&calls=...)")
        self.url = url
        self.name = parsed.netloc
        self.https_url = params["url"]
        self.calls = params.get("calls", "")
        self.federation = {k: params[k] for k in ("wif_audience", WEB_IDENTITY) if params.get(k)}

    def __repr__(self) -> str:
        return f"CloudFunction({self.name!r})"

    def id_token(self) -> str:
        """An ID token whose audience is the function's URL: the metadata server's on GCP, generateIdToken for the
        impersonated service account from another cloud."""
        if self.federation:
            from platform_sdk.providers.gcp.runtime.federation import federated_id_token

            return federated_id_token(self.url, self.https_url)
        return google_id_token(self.https_url)

    def _send(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> CallResponse:
        token = self.id_token()
        request = urllib.request.Request(self.https_url.rstrip("/") + path, method=method,
                                         data=body if method not in ("GET", "HEAD") else None,
                                         headers={**headers, "authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 - https
                return CallResponse(response.status, {k.lower(): v for k, v in response.headers.items()},
                                    response.read())
        except urllib.error.HTTPError as error:
            return CallResponse(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())
        except urllib.error.URLError as error:
            raise CallError(f"function {self.name}: {self.https_url} is unreachable: {error.reason}") from None

    def invoke(self, payload: Any) -> Any:
        body = encode_payload({"payload": payload, "caller": caller_name(), "call_id": uuid.uuid4().hex})
        response = self._send("POST", "/", body, {"content-type": "application/json", CALL_HEADER: "invoke",
                                                  CALLER_HEADER: caller_name()})
        if response.status >= 400:
            raise CallError(f"function {self.name} failed or refused the call (HTTP {response.status}): "
                            f"{response.text[:300]}", response.status)
        return json.loads(response.body or b"null")

    def send(self, payload: Any) -> str:
        if not self.calls:
            raise CallError(f"function {self.name} has no calls topic to send to")
        project, _, topic = self.calls.partition("/")
        body = encode_payload({"payload": payload, "caller": caller_name()})
        query = f"?{urlencode(self.federation)}" if self.federation else ""
        return PubSubTopic(f"pubsub://{project}/{topic}{query}").send(body, {CALL_ATTRIBUTE: "send"})

    def request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> CallResponse:
        return self._send(method, path, body, headers)


def open_function(url: str) -> CloudFunction:
    """The plug-in hook `platform_sdk.runtime.functions.open_function` calls for `gcf://` URLs."""
    return CloudFunction(url)
