"""Calls and queue sends across clouds at runtime (issue 19), through the real client libraries, with the URLs real
synthesis injects:

- GCP function -> SQS queue: botocore's AssumeRoleWithWebIdentity (with an ID token from a fake GCP metadata server)
  and SendMessage against moto in server mode with its IAM checks switched on, the role and its policy exactly as
  synthesized: the message arrives, and the same credentials cannot send to another queue.
- AWS function -> Pub/Sub topic, and -> Cloud Functions function (`invoke`, `request`, `send`): google-auth's real
  external_account (AWS) flow against small local fakes of the documented Google endpoints: the STS token exchange
  (https://cloud.google.com/iam/docs/reference/sts/rest/v1/TopLevel/token), the IAM Credentials API's generateIdToken
  (https://cloud.google.com/iam/docs/reference/credentials/rest/v1/projects.serviceAccounts/generateIdToken), Pub/Sub's
  publish (https://cloud.google.com/pubsub/docs/reference/rest/v1/projects.topics/publish), and a "Cloud Run" service
  that admits only a Google ID token for its own URL and the invoker account, then runs the callee through the real
  GCP entry adapter. No emulator exists for these; none of them is reached except on the loopback.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from platform_sdk.localcloud.dev import ServerThread, bind
from platform_sdk.providers.gcp.runtime import federation as gcp_federation
from platform_sdk.runtime import CallError, federation, function, queue
from platform_sdk.runtime import functions as runtime_functions
from platform_sdk.runtime import queues as runtime_queues
from tests.conformance_estates import CLOUDS, synth, write_project
from tests.test_calls_clouds import HANDLERS, FakeRequest
from tests.test_federation import FakeMetadata, fake_jwt, moto_iam_enforced, resolve, serve

pytestmark = pytest.mark.xdist_group("federation")  # moto's IAM switch is server-wide: one worker at a time

MOTO_ACCOUNT = "123456789012"  # moto's default account: the roles are created there
ESTATE = '''
from platform_sdk import Function, Queue, Service, http

front = Service("front", owner="team")
back = Service("back", owner="team")
work = back.add(Function("work", handler="handler.handle", source="code", triggers=[http(auth="iam")]))
jobs = back.add(Queue("jobs"))
notify = back.add(Function("notify", handler="handler.handle", source="code"))
replies = front.add(Queue("replies"))
api = front.add(Function("api", handler="handler.handle", source="code"))
api.invokes(work).sends(jobs)
notify.sends(replies)
'''
ENV = 'name_prefix = "acme"\ndefault_cloud = "aws"\n[placement]\n"back" = "gcp"\n' + CLOUDS.replace(
    "333333333333", MOTO_ACCOUNT)
PROVIDER = (f"projects/987654321098/locations/global/workloadIdentityPools/acme-rt-back-aws/providers/"
            f"aws-{MOTO_ACCOUNT}")
INVOKER = "acme-rt-front-ap-0123abcd@acme-conf-123.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    project = write_project(tmp_path_factory.mktemp("xcloud-runtime") / "estate", {"x.py": ESTATE}, {"rt": ENV})
    return synth(project, "rt", conformance=True).documents()


@pytest.fixture
def function_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """A clean function environment: no PLATFORM_* variables, no cached clients or ID tokens."""
    import os

    for key in list(os.environ):
        if key.startswith("PLATFORM_"):
            monkeypatch.delenv(key)
    runtime_queues._clients.clear()
    runtime_functions._clients.clear()
    gcp_federation._id_tokens.clear()
    return monkeypatch


def applied(value: str, outputs: dict[str, str]) -> str:
    """A URL with its cross-stack references resolved as Terraform would at apply (output name -> value)."""
    def output(match: re.Match[str]) -> str:
        name = match.group(1)
        return next(v for k, v in outputs.items() if k in name)
    return re.sub(r"\$\{data\.terraform_remote_state\.[^}]+\.outputs\.([^}]+)\}", output, value)


# -- GCP function -> SQS ---------------------------------------------------------------------------------------------
def test_a_gcp_function_sends_to_sqs_with_the_federated_role_only(
        moto_server: str, stacks: dict[str, dict[str, Any]], function_env: pytest.MonkeyPatch) -> None:
    import boto3
    from botocore.exceptions import ClientError

    aws = stacks["rt-front-aws"]["resource"]
    admin = {"endpoint_url": moto_server, "region_name": "eu-west-1", "aws_access_key_id": "testing",
             "aws_secret_access_key": "testing"}
    sqs = boto3.client("sqs", **admin)
    name = "acme-rt-front-replies"
    replies = sqs.create_queue(QueueName=name)["QueueUrl"]
    other = sqs.create_queue(QueueName="acme-rt-front-other")["QueueUrl"]
    iam = boto3.client("iam", **admin)
    role = aws["aws_iam_role"]["back__notify__front__replies_federated_role"]
    policy = aws["aws_iam_role_policy"]["back__notify__front__replies_federated_policy"]
    values = {"${aws_sqs_queue.replies_queue.arn}": f"arn:aws:sqs:eu-west-1:{MOTO_ACCOUNT}:{name}"}
    for token in set(re.findall(r"\$\{data\.terraform_remote_state[^}]+\}", role["assume_role_policy"])):
        values[token] = FakeMetadata.unique_id  # the GCP service account's unique id, once applied
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(RoleName=role["name"], AssumeRolePolicyDocument=resolve(role["assume_role_policy"], values))
    iam.put_role_policy(RoleName=role["name"], PolicyName=policy["name"],
                        PolicyDocument=resolve(policy["policy"], values))

    env = stacks["rt-back-gcp"]["resource"]["google_cloudfunctions2_function"]["notify"]["service_config"][
        "environment_variables"]
    FakeMetadata.requests = []
    with serve(FakeMetadata) as metadata, moto_iam_enforced(moto_server):
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            function_env.delenv(key, raising=False)  # a GCP function has no AWS keys at all
        function_env.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        function_env.setenv("AWS_CONFIG_FILE", "/dev/null")
        function_env.setenv("AWS_EC2_METADATA_DISABLED", "true")
        for key in ("PLATFORM_QUEUE_REPLIES", "PLATFORM_GRANTS", "PLATFORM_SERVICE", "PLATFORM_FUNCTION"):
            function_env.setenv(key, env[key])
        function_env.setenv("GCE_METADATA_HOST", metadata)
        function_env.setenv("PLATFORM_STS_ENDPOINT", moto_server)
        function_env.setenv("PLATFORM_SQS_ENDPOINT", moto_server)

        message_id = queue("replies").send('{"order": 7}', attributes={"kind": "shipped"})
        role_arn = env["PLATFORM_QUEUE_REPLIES"].split("role_arn=")[1].split("&")[0]
        assert FakeMetadata.requests == [{
            "path": "/computeMetadata/v1/instance/service-accounts/default/identity",
            "query": {"audience": role_arn, "format": "full"}, "flavor": "Google"}]
        client = queue("replies").raw.client
        assert client._request_signer._credentials.get_frozen_credentials().access_key != "testing"
        with pytest.raises(ClientError) as denied:  # moto's IAM: only SendMessage on the granted queue
            client.send_message(QueueUrl=other, MessageBody="not yours")
        assert denied.value.response["Error"]["Code"] in ("AccessDenied", "AccessDeniedException", "403")

    received = sqs.receive_message(QueueUrl=replies, MessageAttributeNames=["All"])["Messages"]
    assert [m["Body"] for m in received] == ['{"order": 7}']
    attributes = {k: v["StringValue"] for k, v in received[0]["MessageAttributes"].items()}
    assert attributes == {"kind": "shipped", "platform-message-id": message_id}
    assert "Messages" not in sqs.receive_message(QueueUrl=other)


# -- AWS function -> Pub/Sub and Cloud Functions ---------------------------------------------------------------------
class FakeGoogle:
    """Google's token exchange, the IAM Credentials API's generateIdToken, Pub/Sub's publish and one Cloud Run service
    (the callee, run through the real GCP entry adapter), as documented; records what each request carried."""

    def __init__(self, callee: Any) -> None:
        self.callee = callee
        self.url = ""
        self.exchanges: list[dict[str, Any]] = []
        self.id_tokens: list[dict[str, Any]] = []
        self.published: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []

    @staticmethod
    def _bearer(request: Request) -> str:
        return request.headers.get("authorization", "").removeprefix("Bearer ")

    def app(self) -> Starlette:
        async def token(request: Request) -> Response:
            form = dict(urllib.parse.parse_qsl((await request.body()).decode()))
            self.exchanges.append({"form": form, "subject": json.loads(urllib.parse.unquote(form["subject_token"]))})
            return JSONResponse({"access_token": "federated-access-token", "token_type": "Bearer",
                                 "expires_in": 3600,
                                 "issued_token_type": "urn:ietf:params:oauth:token-type:access_token"})

        async def generate_id_token(request: Request) -> Response:
            email = request.path_params["rest"].removesuffix(":generateIdToken")
            body = json.loads(await request.body())
            self.id_tokens.append({"email": email, "body": body, "bearer": self._bearer(request)})
            if self._bearer(request) != "federated-access-token":
                return JSONResponse({"error": {"code": 401}}, status_code=401)
            now = int(time.time())
            claims = {"iss": "https://accounts.google.com", "aud": body["audience"], "azp": "1047", "sub": "1047",
                      "email": email, "email_verified": True, "iat": now, "exp": now + 3600}
            return JSONResponse({"token": fake_jwt(claims)})

        async def publish(request: Request) -> Response:
            self.published.append({"path": request.url.path, "bearer": self._bearer(request),
                                   **json.loads(await request.body())})
            if self._bearer(request) != "federated-access-token":
                return JSONResponse({"error": {"code": 403}}, status_code=403)
            return JSONResponse({"messageIds": ["1"]})

        async def run(request: Request) -> Response:
            """Cloud Run's invoker check: a Google ID token for this URL, of the invoker account (the fake trusts
            the signature; the claims are what Cloud Run compares)."""
            bearer = self._bearer(request)
            try:
                claims = json.loads(base64.urlsafe_b64decode(bearer.split(".")[1] + "=="))
            except (IndexError, ValueError):
                claims = {}
            body = await request.body()
            self.calls.append({"path": request.url.path, "claims": claims, "headers": dict(request.headers)})
            if claims.get("aud") != f"{self.url}/run/work" or claims.get("email") != INVOKER:
                return Response(status_code=403)
            if request.url.path.rstrip("/") != "/run/work":
                return JSONResponse({"path": request.url.path, "body": body.decode()}, status_code=201)
            answer, status, _ = self.callee(FakeRequest(json.loads(body), dict(request.headers)))
            return Response(answer, status_code=status, media_type="application/json")

        return Starlette(routes=[
            Route("/v1/token", token, methods=["POST"]),
            Route("/v1/projects/-/serviceAccounts/{rest:path}", generate_id_token, methods=["POST"]),
            Route("/v1/projects/{p}/topics/{t}", publish, methods=["POST"]),
            Route("/run/{rest:path}", run, methods=["POST", "GET"]),
        ])


@pytest.fixture
def google(tmp_path: Path, function_env: pytest.MonkeyPatch) -> Iterator[FakeGoogle]:
    from platform_sdk.runtime.adapters.common import METADATA_FILE
    from platform_sdk.runtime.entry import adapter_for

    (tmp_path / "callee_work.py").write_text(HANDLERS)
    (tmp_path / METADATA_FILE).write_text(json.dumps({"function": "work", "triggers": [
        {"type": "queue", "queue": "jobs", "batch_size": 1}]}))
    fake = FakeGoogle(adapter_for("gcp").make_entry("callee_work.handle", base_dir=tmp_path))
    server = ServerThread(fake.app(), bind()).start()
    fake.url = server.url.rstrip("/")
    # What Lambda puts in the environment: the execution role's temporary credentials and the region.
    function_env.setenv("AWS_ACCESS_KEY_ID", "ASIALAMBDAEXAMPLE")
    function_env.setenv("AWS_SECRET_ACCESS_KEY", "lambda-secret")
    function_env.setenv("AWS_SESSION_TOKEN", "lambda-session-token")
    function_env.setenv("AWS_REGION", "eu-west-1")
    function_env.setenv("PLATFORM_GCP_STS_URL", f"{fake.url}/v1/token")
    function_env.setenv("PLATFORM_IAMCREDENTIALS_URL", fake.url)
    function_env.setenv("PLATFORM_PUBSUB_ENDPOINT", fake.url)
    function_env.setenv("PLATFORM_SERVICE", "front")
    function_env.setenv("PLATFORM_FUNCTION", "api")
    yield fake
    server.stop()


def lambda_env(stacks: dict[str, dict[str, Any]], fake: FakeGoogle) -> dict[str, str]:
    variables = stacks["rt-front-aws"]["resource"]["aws_lambda_function"]["api_function"]["environment"]["variables"]
    outputs = {"workurl": f"{fake.url}/run/work", "platform_aws": PROVIDER, "invokeremail": INVOKER}
    return {key: applied(value, outputs) for key, value in variables.items()}


def assert_exchanges(fake: FakeGoogle) -> None:
    assert fake.exchanges, "the Lambda's credentials were exchanged"
    for exchange in fake.exchanges:
        form, subject = exchange["form"], exchange["subject"]
        assert form["audience"] == f"//iam.googleapis.com/{PROVIDER}"
        assert form["subject_token_type"] == "urn:ietf:params:aws:token-type:aws4_request"
        headers = {h["key"].lower(): h["value"] for h in subject["headers"]}
        assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=ASIALAMBDAEXAMPLE/")


def test_an_aws_function_publishes_to_pubsub_with_its_federated_token(
        stacks: dict[str, dict[str, Any]], google: FakeGoogle, function_env: pytest.MonkeyPatch) -> None:
    env = lambda_env(stacks, google)
    assert env["PLATFORM_QUEUE_JOBS"] == (f"pubsub://acme-conf-123/acme-rt-back-jobs?wif_audience=//iam.googleapis.com/"
                                          f"{PROVIDER}&web_identity=aws")
    function_env.setenv("PLATFORM_QUEUE_JOBS", env["PLATFORM_QUEUE_JOBS"])
    function_env.setenv("PLATFORM_GRANTS", env["PLATFORM_GRANTS"])
    message_id = queue("jobs").send("resize 7", attributes={"kind": "resize"})
    (sent,) = google.published
    assert sent["path"] == "/v1/projects/acme-conf-123/topics/acme-rt-back-jobs:publish"
    assert sent["bearer"] == "federated-access-token", "published with the federated token, no key, no impersonation"
    (message,) = sent["messages"]
    assert base64.b64decode(message["data"]) == b"resize 7"
    assert message["attributes"] == {"kind": "resize", "platform-message-id": message_id}
    assert_exchanges(google)
    assert google.id_tokens == []


def test_an_aws_function_calls_a_gcp_function_with_an_impersonated_id_token(
        stacks: dict[str, dict[str, Any]], google: FakeGoogle, function_env: pytest.MonkeyPatch) -> None:
    env = lambda_env(stacks, google)
    url = env["PLATFORM_FUNCTION_WORK"]
    assert url == (f"gcf://acme-rt-back-work?url={google.url}/run/work&calls=acme-conf-123/acme-rt-back-work-calls"
                   f"&wif_audience=//iam.googleapis.com/{PROVIDER}&web_identity=aws&service_account={INVOKER}")
    function_env.setenv("PLATFORM_FUNCTION_WORK", url)
    function_env.setenv("PLATFORM_GRANTS", env["PLATFORM_GRANTS"])

    assert function("work").invoke({"n": 1}) == {"echo": {"n": 1}, "caller": "front.api"}
    response = function("work").request("POST", "/render", {"a": 1})
    assert response.status == 201 and response.json() == {"path": "/run/work/render", "body": '{"a":1}'}
    # generateIdToken once (the token is cached until shortly before it expires), for the callee's URL
    (asked,) = google.id_tokens
    assert asked["email"] == INVOKER and asked["bearer"] == "federated-access-token"
    assert asked["body"] == {"audience": f"{google.url}/run/work", "includeEmail": True}
    assert [c["claims"]["aud"] for c in google.calls] == [f"{google.url}/run/work"] * 2
    assert google.calls[0]["headers"]["x-platform-call"] == "invoke"
    assert_exchanges(google)

    call_id = function("work").send({"later": True})
    (sent,) = google.published
    assert sent["path"] == "/v1/projects/acme-conf-123/topics/acme-rt-back-work-calls:publish"
    assert sent["bearer"] == "federated-access-token"
    (message,) = sent["messages"]
    assert json.loads(base64.b64decode(message["data"])) == {"payload": {"later": True}, "caller": "front.api"}
    assert message["attributes"]["platform-call"] == "send" and call_id


def test_a_call_is_refused_without_the_invoker_token(
        stacks: dict[str, dict[str, Any]], google: FakeGoogle, function_env: pytest.MonkeyPatch) -> None:
    """Another account's token (here: another service account named in the URL) is refused by Cloud Run: the call
    raises with its status; a URL without the federation parameters is refused before anything is sent."""
    env = lambda_env(stacks, google)
    function_env.setenv("PLATFORM_FUNCTION_WORK", env["PLATFORM_FUNCTION_WORK"].replace(INVOKER, "x" + INVOKER))
    function_env.setenv("PLATFORM_GRANTS", env["PLATFORM_GRANTS"])
    with pytest.raises(CallError) as refused:
        function("work").invoke(1)
    assert refused.value.status == 403
    with pytest.raises(federation.FederationError, match="service_account"):
        gcp_federation.federated_id_token(f"gcf://w?url={google.url}/run/work&web_identity=aws&wif_audience=a",
                                          "aud")
