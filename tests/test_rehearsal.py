"""Stand-ins as strict as the clouds: a local environment that `rehearses = "prod"` refuses at runtime, with the same
message, every operation prod's clouds would refuse the estate as placed locally.

Units: the `rehearses` key, the PLATFORM_DENY contract and its enforcement by the runtime (the granted bucket's
calls, a database's connect, deliveries in the adapter). End to end through real Terraform and the real local
gateway: an estate that would fail on AWS (its raw Terraform makes the bucket read-only for the function that reads
and writes it: an explicit Deny) applies on --env local, where the hatch is not rehearsed, `platform apply` reports
what would fail on prod, and the function's own `bucket("files").put(...)` fails with the analysis' message; the
same estate without the hatch placed on GCP works.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from platform_sdk import contract
from platform_sdk.envs import find_environment, load_environment
from platform_sdk.errors import EnvironmentError_
from platform_sdk.localcloud.dev import Gateway, roots_for_env
from platform_sdk.runtime import bucket, database
from platform_sdk.runtime.adapters.common import Entry
from platform_sdk.runtime.events import HttpRequest, ScheduleTick
from platform_sdk.runtime.resources import DeniedError
from tests.conformance_estates import write_project
from tests.terraform_fixtures import Cli, tf_binary_fixture  # noqa: F401 - registers tf_binary

EXAM = '''
from platform_sdk import Bucket, Database, Function, Service, http

service = Service("exam", owner="exam-team")
db = service.add(Database("db", deletion_protection=False))
files = service.add(Bucket("files"))
api = service.add(Function("api", handler="api.handle", source="code", triggers=[http()]))
api.uses(db).reads_writes(files)
'''
# prod refuses this on AWS: an explicit Deny of the writes wins over the compiler's least-privilege Allow
READ_ONLY = '''

def read_only(tf):
    statement = {"Sid": "ReadOnly", "Effect": "Deny", "Action": ["s3:PutObject", "s3:DeleteObject"],
                 "Resource": tf.ref(files, "arn") + "/*"}
    tf.resource("aws_iam_role_policy", "read_only", {"name": "read-only", "role": "${aws_iam_role.api_role.id}",
                                                     "policy": json.dumps({"Version": "2012-10-17",
                                                                           "Statement": [statement]})})


service.terraform("aws", read_only)
'''
HANDLER = '''
from platform_sdk.runtime import HttpResponse, bucket, database


def handle(request):
    with database("db").connect() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS seen (id INTEGER)")
    try:
        bucket("files").put("report.txt", b"stored")
    except Exception as err:
        return HttpResponse(409, {"error": str(err), "type": type(err).__name__})
    return HttpResponse(200, {"stored": bucket("files").get("report.txt").decode()})
'''
LOCAL = '''
name_prefix = "acme"
default_cloud = "aws"
rehearses = "prod"

[clouds.local]
root = ".platform/localcloud"
gateway_port = 8790

[clouds.aws]
stand_in = "local"

[clouds.gcp]
stand_in = "local"

[placement]
{placement}

[state]
backend = "local"
path = ".platform/state"
'''
PROD = '''
name_prefix = "acme"
default_cloud = "aws"

[clouds.aws]
account = "333333333333"
region = "eu-west-1"

[clouds.gcp]
project = "acme-prod-123"
region = "europe-west1"

[state]
backend = "local"
path = ".platform/state"
'''
FINDING = ("exam.api: reads_writes(files) -> bucket.put: missing s3:PutObject on arn:aws:s3:::acme-prod-exam-files/* "
           "for role acme-prod-exam-api: denied by aws_iam_role_policy.read_only statement ReadOnly")


def project(root: Path, placement: str = "", exam: str = EXAM) -> Path:
    return write_project(root, {"exam.py": exam}, {"local": LOCAL.format(placement=placement), "prod": PROD},
                         sources={"code/api.py": HANDLER}).root


# -- the environment key -----------------------------------------------------------------------------------------
def test_rehearses_must_name_another_environment(tmp_path: Path) -> None:
    root = project(tmp_path / "estate")
    local = root / "envs" / "local.toml"
    assert load_environment(local).rehearses == "prod"
    for bad in ("staging", "local"):
        local.write_text(LOCAL.format(placement="").replace('rehearses = "prod"', f'rehearses = "{bad}"'))
        with pytest.raises(EnvironmentError_) as caught:
            load_environment(local)
        assert caught.value.key == "rehearses" and caught.value.value == bad and caught.value.file == local
        assert "environments: prod" in str(caught.value)


# -- the runtime ------------------------------------------------------------------------------------------------------
@pytest.fixture
def granted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    files = tmp_path / "files"
    files.mkdir()
    for key, value in {"PLATFORM_ENV": "local", "PLATFORM_SERVICE": "exam", "PLATFORM_FUNCTION": "api",
                       "PLATFORM_CLOUD": "aws", "PLATFORM_BUCKET_FILES": files.as_uri(),
                       "PLATFORM_DATABASE_DB": f"sqlite:///{tmp_path / 'db.sqlite3'}",
                       "PLATFORM_GRANTS": "bucket:files:readwrite,database:db:connect"}.items():
        monkeypatch.setenv(key, value)
    return files


def deny(monkeypatch: pytest.MonkeyPatch, *items: tuple[str, str]) -> None:
    monkeypatch.setenv(contract.DENY, contract.encode_denials(
        contract.Denial(operation, resource, f"exam.api: {operation} on {resource or 'itself'}: missing X")
        for operation, resource in items))


def test_the_contract_round_trips_and_refuses_malformed_values() -> None:
    denials = [contract.Denial("bucket.put", "files", "m1"), contract.Denial("events.deliver", "", "m2")]
    assert contract.decode_denials(contract.encode_denials(reversed(denials))) == sorted(
        denials, key=lambda d: (d.operation, d.resource))
    assert contract.decode_denials("") == []
    for bad in ("{", '{"operation": "x"}', '[{"operation": "x", "resource": 1, "message": "m"}]'):
        with pytest.raises(ValueError, match="malformed PLATFORM_DENY"):
            contract.decode_denials(bad)


def test_a_denied_operation_raises_the_analysis_message_at_the_call(granted: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    deny(monkeypatch, ("bucket.put", "files"), ("bucket.list", "files"))
    files = bucket("files")
    with pytest.raises(DeniedError) as caught:
        files.put("a.txt", b"x")
    assert str(caught.value).startswith("exam.api: bucket.put on files: missing X (refused here because local "
                                        "rehearses an environment whose clouds would refuse it")
    with pytest.raises(DeniedError):
        list(files.list())
    assert not (granted / "a.txt").exists(), "nothing happened"
    (granted / "b.txt").write_bytes(b"y")
    assert files.get("b.txt") == b"y"  # what the rehearsed cloud allows still works


def test_denied_secret_reads_queue_sends_and_calls_raise_at_the_call(granted: Path, monkeypatch: pytest.MonkeyPatch,
                                                                      tmp_path: Path) -> None:
    """Every granted kind honours a denial (found by a new user's tryout: a rehearsal listed a call, a send and a
    secret read as refused, but the stand-ins ran them)."""
    from platform_sdk.runtime import function, queue, secret
    from platform_sdk.runtime.queues import open_queue

    outbox = tmp_path / "queues" / "outbox"
    for key, value in {"PLATFORM_SECRET_KEY": (tmp_path / "secrets" / "key").as_uri(),
                       "PLATFORM_QUEUE_OUTBOX": outbox.as_uri(),
                       "PLATFORM_FUNCTION_WORKER": "localfn://acme-local-exam-worker",
                       "PLATFORM_GRANTS": "secret:key:read,queue:outbox:send,function:worker:invoke"}.items():
        monkeypatch.setenv(key, value)
    deny(monkeypatch, ("secret.read", "key"), ("queue.send", "outbox"), ("function.invoke", "worker"),
         ("function.send", "worker"))
    with pytest.raises(DeniedError, match="secret.read on key"):
        secret("key")
    with pytest.raises(DeniedError, match="queue.send on outbox"):
        queue("outbox").send("hello")
    with pytest.raises(DeniedError, match="function.invoke on worker"):
        function("worker").invoke({"n": 1})
    with pytest.raises(DeniedError, match="function.send on worker"):
        function("worker").send({"n": 1})
    with pytest.raises(DeniedError, match="function.invoke on worker"):
        function("worker").request("GET", "/")
    assert not outbox.exists() or open_queue(outbox.as_uri()).receive() == [], "nothing was sent"


def test_an_overwrite_can_be_denied_while_a_first_put_is_allowed(granted: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """GCP objectCreator before issue 14.3: a new key may be written, an existing one not replaced."""
    deny(monkeypatch, ("bucket.overwrite", "files"), ("bucket.delete", "files"))
    files = bucket("files")
    files.put("new.txt", b"1")
    with pytest.raises(DeniedError, match="bucket.overwrite on files"):
        files.put("new.txt", b"2")
    with pytest.raises(DeniedError, match="bucket.delete on files"):
        files.delete("new.txt")
    assert (granted / "new.txt").read_bytes() == b"1"


def test_a_denied_federation_denies_everything_on_that_resource(granted: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    deny(monkeypatch, ("federation.token_exchange", "files"))
    with pytest.raises(DeniedError, match="federation.token_exchange on files"):
        bucket("files").exists("a.txt")


def test_a_denied_database_connect_and_deliveries(granted: Path, monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    deny(monkeypatch, ("database.connect", "db"), ("scheduler.invoke", ""), ("cdn.fetch_post", ""))
    db = database("db")  # the handle is fine; the cloud refuses the connection
    with pytest.raises(DeniedError, match="database.connect on db"):
        db.connect()
    (tmp_path / "handler.py").write_text("def handle(event):\n    return {'ran': True}\n")
    entry = Entry("handler.handle", tmp_path, "local")
    with pytest.raises(DeniedError, match="scheduler.invoke on itself"):
        entry.run_event(ScheduleTick(time=None, schedule="0 3 * * *"), "r1")  # type: ignore[arg-type]
    refused = entry.run_http(HttpRequest("POST", "/", {}, {}, b"{}"), "r2")
    assert refused.status == 403 and "cdn.fetch_post on itself" in json.dumps(refused.body)
    assert entry.run_http(HttpRequest("GET", "/", {}, {}, b""), "r3").status == 200


# -- end to end: real Terraform, the real local gateway --------------------------------------------------------------
def call(root: Path) -> requests.Response:
    env = find_environment(root / "envs", "local")
    with Gateway(roots_for_env(root, env)) as gateway:
        return requests.get(f"{gateway.url}/fn/acme-local-exam-api", timeout=60)


def test_a_rehearsal_fails_where_the_rehearsed_cloud_would(tmp_path: Path, tf_binary: Path) -> None:
    root = project(tmp_path / "estate", exam="import json\n" + EXAM + READ_ONLY)
    cli = Cli(tf_binary)
    refused = cli(root, "synth", "--env", "prod")
    assert refused.exit_code == 2 and FINDING in " ".join(refused.stderr.split()), "prod itself refuses it"

    result = cli(root, "apply", "--env", "local", "--auto-approve")
    assert result.exit_code == 0, result.stdout + result.stderr  # the local apply does not fail...
    text = " ".join(result.stdout.split())
    assert "rehearsal of prod: 4 finding(s) there" in text and FINDING in text  # ...it reports what would
    metadata = json.loads((root / "cdktf.out" / "local" / "platform.json").read_text())
    denied = metadata["rehearsal"]["denied"]["exam.api"]
    assert {d["operation"] for d in denied} == {"bucket.put", "bucket.overwrite", "bucket.delete",
                                                 "bucket.signed_url_put"}  # the writes; its reads would work

    response = call(root)
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["type"] == "DeniedError" and body["error"].startswith(FINDING), body  # the same operation and words
    files = root / ".platform" / "localcloud" / "local" / "aws" / "buckets" / "acme-local-exam-files"
    assert not (files / "report.txt").exists()


def test_the_same_estate_placed_where_it_works_works(tmp_path: Path, tf_binary: Path) -> None:
    """On GCP the function needs no VPC: prod would serve it, so the rehearsal lets it through."""
    root = project(tmp_path / "estate", placement='"exam" = "gcp"')
    result = Cli(tf_binary)(root, "apply", "--env", "local", "--auto-approve")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "rehearsal of prod: every operation would work there (its guardrails are checked by `platform synth " \
        "--env prod`)" in " ".join(result.stdout.split())  # not a claim about prod's guardrails
    response = call(root)
    assert response.status_code == 200 and response.json() == {"stored": "stored"}, response.text


# -- packaging: what the rehearsed cloud's synthesis refuses about a function's dependencies ---------------------------
# Tryout seedA fault 12: the local stand-ins run functions in the project's own Python environment, so they deploy a
# requirements.txt no index can resolve; prod's synthesis refuses it (Lambda installs nothing: its wheels are
# vendored), and the rehearsal used to say every operation would work there.
PACKAGED = '''
from platform_sdk import Function, Service, http

service = Service("exam", owner="exam-team")
service.add(Function("api", handler="api.handle", source="code", triggers=[http()]))
'''


def test_a_requirement_the_rehearsed_cloud_cannot_resolve_is_reported(tmp_path: Path, tf_binary: Path) -> None:
    root = write_project(tmp_path / "estate", {"exam.py": PACKAGED},
                         {"local": LOCAL.format(placement=""), "prod": PROD},
                         sources={"code/api.py": "def handle(request):\n    return None\n",
                                  "code/requirements.txt": "# pins\nPyJWT==0.0.0.dev999\n"}).root
    requirements = root / "services" / "code" / "requirements.txt"
    cli = Cli(tf_binary)
    refused = cli(root, "synth", "--env", "prod")
    assert refused.exit_code == 2 and f"{requirements}:2: could not download the dependencies for the AWS Lambda " \
        "runtime python3.11" in " ".join(refused.stderr.split()), refused.stderr

    result = cli(root, "plan", "--env", "local")
    assert result.exit_code == 0, result.stdout + result.stderr  # the stand-ins deploy it...
    text = " ".join(result.stdout.split())
    assert "rehearsal of prod: `platform apply --env prod` would refuse this placement before deploying anything" \
        in text, text  # ...and the rehearsal says prod would not
    assert f"cannot rehearse prod with this placement: {requirements}:2: could not download the dependencies for " \
        "the AWS Lambda runtime python3.11" in text and "every operation would work" not in text

    requirements.write_text("# pins\nsix==1.16.0\n")  # one the Lambda runtime gets a wheel for
    result = cli(root, "plan", "--env", "local")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "rehearsal of prod: every operation would work there" in " ".join(result.stdout.split())
