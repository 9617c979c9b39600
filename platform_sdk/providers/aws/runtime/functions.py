"""`LambdaFunction`: calls to a Lambda function (`lambda://<name>?region=...[&url=<function URL>]`) with the caller's
own execution role (a caller on GCP: `&role_arn=...&web_identity=gcp`, the role it assumes with its Google ID token):
the Invoke API for `invoke` (RequestResponse) and `send` (Event: Lambda queues it and retries
twice), and, for an `http(auth="iam")` callee, an HTTPS request to its function URL signed with SigV4 (service
`lambda`). https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html, https://docs.aws.amazon.com/lambda/latest/
dg/urls-auth.html. A call's payload reaches the callee as `{"platform_call": {"payload", "caller", "call_id"}}`,
which the Lambda adapter turns into a `FunctionCall`. boto3/botocore load on first use.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.request
import uuid
from typing import Any
from urllib.parse import parse_qs, urlparse

from platform_sdk import contract
from platform_sdk.runtime.functions import CallError, CallResponse, encode_payload

ENDPOINT_ENV = "PLATFORM_LAMBDA_ENDPOINT"
CALL_KEY = "platform_call"
TIMEOUT_SECONDS = 900.0


def caller_name() -> str:
    return ".".join(p for p in (os.environ.get(contract.SERVICE, ""), os.environ.get(contract.FUNCTION, "")) if p)


def call_event(payload: Any, call_id: str) -> dict[str, Any]:
    """The event a platform call sends the callee."""
    return {CALL_KEY: {"payload": payload, "caller": caller_name(), "call_id": call_id}}


class LambdaFunction:
    """One Lambda callee, called with this function's own credentials."""

    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        if parsed.scheme != "lambda" or not parsed.netloc:
            raise ValueError(f"not a Lambda URL: {url!r} (expected lambda://<function name>?region=...)")
        params = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        self.url = url
        self.name = parsed.netloc
        self.region = params.get("region") or os.environ.get("AWS_REGION") or "us-east-1"
        self.endpoint = params.get("endpoint") or os.environ.get(ENDPOINT_ENV) or None
        self.function_url = params.get("url", "")
        self._client: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LambdaFunction({self.name!r}, region={self.region!r})"

    def session(self) -> Any:
        """This function's own credentials, or (a caller on another cloud) the federated role's: never a key."""
        import boto3

        params = {k: v[0] for k, v in parse_qs(urlparse(self.url).query).items()}
        if params.get("role_arn") and params.get("web_identity"):
            from platform_sdk.providers.aws.runtime.federation import aws_session

            return aws_session(params["role_arn"], self.region, params["web_identity"])
        return boto3.session.Session()

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self.session().client("lambda", region_name=self.region, endpoint_url=self.endpoint)
            return self._client

    def invoke(self, payload: Any) -> Any:
        body = encode_payload(call_event(payload, uuid.uuid4().hex))
        response = self.client.invoke(FunctionName=self.name, InvocationType="RequestResponse", Payload=body)
        data = response["Payload"].read()
        if response.get("FunctionError"):
            raise CallError(f"function {self.name} failed: {data.decode('utf-8', 'replace')[:500]}")
        return json.loads(data or b"null")

    def send(self, payload: Any) -> str:
        call_id = uuid.uuid4().hex
        response = self.client.invoke(FunctionName=self.name, InvocationType="Event",
                                      Payload=encode_payload(call_event(payload, call_id)))
        if int(response.get("StatusCode", 202)) != 202:
            raise CallError(f"Lambda did not accept the call to {self.name} (status {response.get('StatusCode')})")
        return call_id

    def signed_request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> urllib.request.Request:
        """The function-URL request, signed with SigV4 for service `lambda` with this function's credentials."""
        if not self.function_url:
            raise CallError(f"function {self.name} has no http(auth=\"iam\") trigger to send requests to")
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        url = self.function_url.rstrip("/") + path
        credentials = self.session().get_credentials()
        if credentials is None:
            raise CallError("no AWS credentials to sign the request with")
        request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
        SigV4Auth(credentials.get_frozen_credentials(), "lambda", self.region).add_auth(request)
        prepared = request.prepare()
        return urllib.request.Request(prepared.url, data=body if method not in ("GET", "HEAD") else None,
                                      method=method, headers=dict(prepared.headers))

    def request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> CallResponse:
        signed = self.signed_request(method, path, body, headers)
        try:
            with urllib.request.urlopen(signed, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 - https
                return CallResponse(response.status, {k.lower(): v for k, v in response.headers.items()},
                                    response.read())
        except urllib.error.HTTPError as error:
            return CallResponse(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())
        except urllib.error.URLError as error:
            raise CallError(f"function {self.name}: {self.function_url} is unreachable: {error.reason}") from None


def open_function(url: str) -> LambdaFunction:
    """The plug-in hook `platform_sdk.runtime.functions.open_function` calls for `lambda://` URLs."""
    return LambdaFunction(url)
