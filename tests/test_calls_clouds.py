"""The cloud paths of queues and calls, through the real clients and the real entry adapters (issue 19):
- SQS: `queue(name).send` through boto3 against moto, and the Lambda adapter's partial batch response;
- Lambda calls: the real boto3 client against a small fake of the Lambda Invoke API that runs the callee through the
  real Lambda adapter (moto's Lambda invoke needs docker), and the SigV4 signature of a function-URL request;
- GCP: the adapter's Pub/Sub push envelopes (queue messages, sent calls, invoke calls) and `send` through the Pub/Sub
  REST API (a fake on the loopback, driven by the runtime's client).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from platform_sdk.localcloud.dev import ServerThread, bind
from platform_sdk.runtime import functions as runtime_functions
from platform_sdk.runtime import queues as runtime_queues
from platform_sdk.runtime.functions import function
from platform_sdk.runtime.queues import queue

HANDLERS = '''
from platform_sdk.runtime import FunctionCall, QueueMessage

seen = []


def handle(event):
    if isinstance(event, FunctionCall):
        if event.payload == "boom":
            raise RuntimeError("boom")
        return {"echo": event.payload, "caller": event.caller}
    assert isinstance(event, QueueMessage)
    seen.append((event.id, event.attempt, event.queue, event.attributes))
    if event.json().get("fail"):
        raise ValueError("nope")
'''


@pytest.fixture
def code(tmp_path: Path) -> Path:
    (tmp_path / f"calls_{uuid.uuid4().hex[:6]}.py").write_text(HANDLERS)
    return tmp_path


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    runtime_queues._clients.clear()
    runtime_functions._clients.clear()
    monkeypatch.setenv("PLATFORM_SERVICE", "shop")
    monkeypatch.setenv("PLATFORM_FUNCTION", "api")


def entry(target: str, code: Path) -> Any:
    from platform_sdk.runtime.entry import adapter_for

    module = next(code.glob("calls_*.py")).stem
    return adapter_for(target).make_entry(f"{module}.handle", base_dir=code)


# -- AWS -----------------------------------------------------------------------------------------------------------
def test_send_through_sqs_and_a_partial_batch_response(moto_server: str, code: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    sqs = boto3.client("sqs", endpoint_url=moto_server, region_name="eu-west-1")
    name = f"acme-t-shop-outbox-{uuid.uuid4().hex[:6]}"
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    monkeypatch.setenv("PLATFORM_QUEUE_OUTBOX", f"sqs://123456789012/{name}?region=eu-west-1"
                                                f"&endpoint={moto_server}")
    monkeypatch.setenv("PLATFORM_GRANTS", "queue:outbox:send")
    ok = queue("outbox").send(json.dumps({"fail": False}), attributes={"kind": "welcome"})
    bad = queue("outbox").send(b'{"fail": true}')
    received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                   AttributeNames=["All"])["Messages"]
    assert len(received) == 2
    records = [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                "attributes": {"ApproximateReceiveCount": m["Attributes"]["ApproximateReceiveCount"]},
                "messageAttributes": {k: {"stringValue": v["StringValue"], "dataType": "String"}
                                      for k, v in m.get("MessageAttributes", {}).items()},
                "eventSource": "aws:sqs", "eventSourceARN": f"arn:aws:sqs:eu-west-1:123456789012:{name}"}
               for m in received]
    handler = entry("aws", code)
    answer = handler({"Records": records}, None)
    by_id = {m["MessageId"]: json.loads(m["Body"]) for m in received}
    (failed,) = answer["batchItemFailures"]
    assert by_id[failed["itemIdentifier"]] == {"fail": True}, "only the failed record is reported (SQS message id)"
    import sys

    seen = sys.modules[next(code.glob("calls_*.py")).stem].seen
    assert {s[0] for s in seen} == {ok, bad}, "handlers see the neutral id (platform-message-id), not SQS's"
    assert ("welcome" in str(seen)) and all(s[2] == "outbox" for s in seen), "neutral queue name and attributes"


class FakeLambda:
    """The Lambda Invoke API (POST /2015-03-31/functions/<name>/invocations), running the callee through the real
    Lambda adapter; records what each request carried."""

    def __init__(self, handler: Any) -> None:
        self.handler = handler
        self.requests: list[dict[str, Any]] = []

    def app(self) -> Starlette:
        async def invoke(request: Request) -> Response:
            body = json.loads(await request.body())
            kind = request.headers.get("x-amz-invocation-type", "RequestResponse")
            self.requests.append({"name": request.path_params["name"], "type": kind, "event": body,
                                  "auth": request.headers.get("authorization", "")})
            try:
                result = self.handler(body, None)
            except Exception as exc:
                return JSONResponse({"errorMessage": str(exc), "errorType": type(exc).__name__},
                                    headers={"x-amz-function-error": "Unhandled"})
            if kind == "Event":
                return Response(status_code=202)
            return JSONResponse(result)
        return Starlette(routes=[Route("/2015-03-31/functions/{name}/invocations", invoke, methods=["POST"])])


@pytest.fixture
def fake_lambda(code: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLambda]:
    fake = FakeLambda(entry("aws", code))
    server = ServerThread(fake.app(), bind()).start()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("PLATFORM_FUNCTION_WORKER", f"lambda://acme-t-shop-worker?region=eu-west-1"
                                                   f"&endpoint={server.url}&url=https://abc.lambda-url.eu-west-1.on.aws/")
    monkeypatch.setenv("PLATFORM_GRANTS", "function:worker:invoke")
    yield fake
    server.stop()


def test_invoke_and_send_through_the_lambda_invoke_api(fake_lambda: FakeLambda) -> None:
    assert function("worker").invoke({"n": 1}) == {"echo": {"n": 1}, "caller": "shop.api"}
    call_id = function("worker").send("later")
    sync, later = fake_lambda.requests
    assert (sync["name"], sync["type"], later["type"]) == ("acme-t-shop-worker", "RequestResponse", "Event")
    assert later["event"]["platform_call"]["call_id"] == call_id
    assert sync["auth"].startswith("AWS4-HMAC-SHA256") and "/lambda/aws4_request" in sync["auth"], "signed, no key"
    from platform_sdk.runtime import CallError

    with pytest.raises(CallError, match="failed: .*boom"):
        function("worker").invoke("boom")


def test_a_request_to_an_iam_function_url_is_signed_with_sigv4(fake_lambda: FakeLambda) -> None:
    from platform_sdk.providers.aws.runtime.functions import LambdaFunction

    client = function("worker").raw
    assert isinstance(client, LambdaFunction)
    signed = client.signed_request("POST", "/render", b'{"a": 1}', {"content-type": "application/json"})
    assert signed.full_url == "https://abc.lambda-url.eu-west-1.on.aws/render"
    auth = signed.get_header("Authorization")
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=testing/") and "/eu-west-1/lambda/aws4_request" in auth
    assert signed.get_header("X-amz-date") and signed.data == b'{"a": 1}'


def test_a_function_not_granted_is_a_grant_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from platform_sdk.runtime import GrantError

    monkeypatch.setenv("PLATFORM_GRANTS", "")
    with pytest.raises(GrantError, match=r"add `api.invokes\(callee\)`"):
        function("worker")
    with pytest.raises(GrantError, match=r"`fn.sends\(queue\)`"):
        queue("outbox")


# -- GCP -----------------------------------------------------------------------------------------------------------
class FakeRequest:
    """What functions-framework hands the handler (a flask request), as far as the adapter reads it."""

    def __init__(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self.method = "POST"
        self.path = "/"
        self.args: dict[str, str] = {}
        self.headers = {"content-type": "application/json", **(headers or {})}
        self._body = json.dumps(body).encode()

    def get_data(self, *args: Any, **kwargs: Any) -> bytes:
        return self._body


def push(data: bytes, attributes: dict[str, str], attempt: int = 1) -> dict[str, Any]:
    return {"message": {"data": base64.b64encode(data).decode(), "attributes": attributes, "messageId": "m-1"},
            "subscription": "projects/p/subscriptions/acme-t-shop-outbox", "deliveryAttempt": attempt}


def test_gcp_push_envelopes_become_messages_and_calls(code: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from platform_sdk.runtime.adapters.common import METADATA_FILE

    (code / METADATA_FILE).write_text(json.dumps({"function": "worker", "triggers": [
        {"type": "queue", "queue": "outbox", "batch_size": 1}]}))
    monkeypatch.setenv("PLATFORM_QUEUE_OUTBOX", "pubsub://p/acme-t-shop-outbox")
    handler = entry("gcp", code)
    body, status, _ = handler(FakeRequest(push(b'{"fail": false}', {"platform-message-id": "n-1"}, 3)))
    assert status == 200
    body, status, _ = handler(FakeRequest(push(b'{"fail": true}', {})))
    assert status == 500, "a failed message is nacked: Pub/Sub retries, then dead-letters"
    import sys

    seen = sys.modules[next(code.glob("calls_*.py")).stem].seen
    assert seen[0][:3] == ("n-1", 3, "outbox") and seen[1][0] == "m-1"
    call = push(json.dumps({"payload": {"x": 1}, "caller": "shop.api"}).encode(), {"platform-call": "send"})
    assert handler(FakeRequest(call))[1] == 200
    body, status, _ = handler(FakeRequest({"payload": 7, "caller": "shop.api"}, {"x-platform-call": "invoke"}))
    assert status == 200 and json.loads(body) == {"echo": 7, "caller": "shop.api"}


def test_a_public_gcp_function_takes_no_platform_call(code: Path) -> None:
    from platform_sdk.runtime.adapters.common import METADATA_FILE

    (code / METADATA_FILE).write_text(json.dumps({"function": "api", "triggers": [{"type": "http", "public": "true"}]}))
    handler = entry("gcp", code)
    response = handler(FakeRequest({"payload": 7}, {"x-platform-call": "invoke"}))
    assert json.loads(response[0]).get("echo") is None, "Cloud Run authenticated nobody: an ordinary HTTP request"


def test_gcp_send_publishes_through_the_pubsub_rest_api(monkeypatch: pytest.MonkeyPatch) -> None:
    published: list[dict[str, Any]] = []

    async def publish(request: Request) -> JSONResponse:
        published.append({"path": request.url.path, **json.loads(await request.body())})
        return JSONResponse({"messageIds": ["1"]})

    server = ServerThread(Starlette(routes=[Route("/v1/projects/{p}/topics/{t}", publish, methods=["POST"])]),
                          bind()).start()
    try:
        monkeypatch.setenv("PLATFORM_PUBSUB_ENDPOINT", server.url)
        monkeypatch.setenv("PLATFORM_QUEUE_OUTBOX", "pubsub://acme-prod/acme-prod-shop-outbox")
        monkeypatch.setenv("PLATFORM_GRANTS", "queue:outbox:send")
        message_id = queue("outbox").send("hello", attributes={"kind": "welcome"})
    finally:
        server.stop()
    (sent,) = published
    assert sent["path"] == "/v1/projects/acme-prod/topics/acme-prod-shop-outbox:publish"
    (message,) = sent["messages"]
    assert base64.b64decode(message["data"]) == b"hello"
    assert message["attributes"] == {"kind": "welcome", "platform-message-id": message_id}
