"""The generated IAM policy, evaluated by an emulator: moto in server mode with IAM enforcement runs the runtime's
real bucket calls with credentials limited to exactly the policy synthesis emitted for a function.

The policy comes from the synthesized JSON (the function role's inline policy), with its Terraform references
resolved to the concrete ARNs the conformance index derives (statements naming something only known after
apply, such as the log group, are left out: they concern nothing this test calls). Moto enforces a user's
policies once `/moto-api/reset-auth` sets the count of unauthenticated calls to 0
(https://docs.getmoto.org/en/latest/docs/iam.html). The granted operations succeed; an operation outside the
grant, made with the unchecked client (`.raw`, past the runtime's own grant check), is denied by IAM.

Not evaluated here: presigned URLs (moto's enforcement reads only the Authorization header and fails on a
query-string signature); the analysis checks them as the signer's own action.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from platform_sdk.conformance import index
from platform_sdk.runtime import resources
from platform_sdk.tfjson import json_document
from tests.conformance_estates import Synthesized, matrix
from tests.emulators import free_port, wait_http
from tests.markers import starts_server

CLEAN_ENV = {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
             "AWS_EC2_METADATA_DISABLED": "true", "AWS_DEFAULT_REGION": "eu-west-1", "AWS_REGION": "eu-west-1"}


@pytest.fixture(scope="module")
@starts_server
def moto_enforcing() -> Iterator[str]:
    """A moto server of our own (its auth switch is process-wide), enforcing IAM after `enforce()`."""
    port = free_port()
    env = {**os.environ, **CLEAN_ENV, "AWS_ACCESS_KEY_ID": "admin", "AWS_SECRET_ACCESS_KEY": "admin"}
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/moto-api/")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def set_auth(url: str, unauthenticated_calls: float) -> None:
    request = urllib.request.Request(f"{url}/moto-api/reset-auth", data=str(unauthenticated_calls).encode(),
                                     headers={"Content-Type": "text/plain"}, method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass


def generated_policy(synthesized: Synthesized, function: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The function role's inline policies as one document with concrete ARNs, and its environment variables."""
    estate = index(synthesized.documents(), synthesized.stacks)
    (lam,) = estate.owned_by(function, "aws_lambda_function")
    role = estate.ref(lam.stack, lam.body["role"])
    assert role is not None
    statements = []
    for policy in estate.blocks("aws_iam_role_policy"):
        if estate.ref(policy.stack, policy.body["role"]) is None or \
                estate.ref(policy.stack, policy.body["role"]).block != role.block:  # type: ignore[union-attr]
            continue
        for statement in json_document(policy.body["policy"])["Statement"]:
            resources_ = [estate.canonical(policy.stack, r) for r in
                          (statement["Resource"] if isinstance(statement["Resource"], list)
                           else [statement["Resource"]])]
            if any("${" in r for r in resources_):
                continue  # known only after apply (the log group's ARN): nothing here calls it
            statements.append({**statement, "Resource": resources_})
    environment = {k: estate.canonical(lam.stack, v) for k, v in lam.body["environment"]["variables"].items()}
    return {"Version": "2012-10-17", "Statement": statements}, environment


@pytest.fixture
def as_function(moto_enforcing: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run as one function of the aws matrix: its buckets exist, its environment is set, its credentials are an
    IAM user holding exactly its generated policy, and moto enforces IAM."""
    import boto3

    synthesized = matrix("aws")
    set_auth(moto_enforcing, float("inf"))
    admin = {"endpoint_url": moto_enforcing, "region_name": "eu-west-1", "aws_access_key_id": "admin",
             "aws_secret_access_key": "admin"}
    s3 = boto3.client("s3", **admin)
    iam = boto3.client("iam", **admin)

    def become(function: str, seed: dict[str, bytes] | None = None) -> dict[str, Any]:
        set_auth(moto_enforcing, float("inf"))
        policy, environment = generated_policy(synthesized, function)
        buckets = sorted({v.removeprefix("s3://") for k, v in environment.items() if k.startswith("PLATFORM_BUCKET_")})
        for name in buckets:
            if name not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
                s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        for key, data in (seed or {}).items():
            s3.put_object(Bucket=buckets[0], Key=key, Body=data)
        user = function.replace(".", "-")
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName="generated", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        for name, value in {**CLEAN_ENV, **environment, "PLATFORM_S3_ENDPOINT": moto_enforcing,
                            "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
                            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}.items():
            monkeypatch.setenv(name, value)
        for name in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setattr(resources, "_cache", {})
        set_auth(moto_enforcing, 0)  # from now on every call is authenticated and authorized
        return policy

    yield become
    set_auth(moto_enforcing, float("inf"))


def denied(call: Any) -> bool:
    from botocore.exceptions import ClientError

    try:
        call()
    except ClientError as err:
        return err.response["Error"]["Code"] in ("AccessDenied", "403")
    return False


def test_a_readwrite_grant_does_everything_with_exactly_its_policy(as_function: Any) -> None:
    policy = as_function("app.both")
    assert {a for s in policy["Statement"] for a in s["Action"]} == {
        "s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject"}
    files = resources.bucket("rw")
    files.put("a/one.txt", b"first")
    files.put("a/one.txt", b"second")  # overwrite
    assert files.get("a/one.txt") == b"second"
    assert files.stat("a/one.txt") is not None and files.stat("a/missing.txt") is None  # head, 404 not 403
    assert [info.key for info in files.list("a/")] == ["a/one.txt"]
    files.delete("a/one.txt")
    assert files.stat("a/one.txt") is None
    import boto3

    # a fresh session: boto3's default session keeps the first credentials it resolved in this process
    other = boto3.session.Session().client("s3", endpoint_url=os.environ["PLATFORM_S3_ENDPOINT"],
                                           region_name="eu-west-1")
    assert denied(lambda: other.create_bucket(Bucket="not-granted",
                                              CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}))
    assert denied(lambda: other.list_objects_v2(Bucket="acme-aws-app-r"))  # another function's bucket


def test_a_read_grant_reads_and_is_denied_writes(as_function: Any) -> None:
    as_function("app.reader", seed={"page.html": b"<h1>hi</h1>"})
    site = resources.bucket("r")
    assert site.get("page.html") == b"<h1>hi</h1>"
    assert site.exists("page.html") and not site.exists("nothing.html")
    assert [info.key for info in site.list()] == ["page.html"]
    with pytest.raises(resources.GrantError):
        site.put("x", b"x")  # the runtime's own check, before any call
    assert denied(lambda: site.raw.put("x", b"x"))  # and IAM, past it
    assert denied(lambda: site.raw.delete("page.html"))


def test_a_write_grant_writes_and_is_denied_reads(as_function: Any) -> None:
    as_function("app.writer")
    outbox = resources.bucket("w")
    outbox.put("mail/1.eml", b"one")
    outbox.put("mail/1.eml", b"two")
    outbox.delete("mail/1.eml")
    assert denied(lambda: outbox.raw.get("mail/1.eml"))
    assert denied(lambda: list(outbox.raw.list("mail/")))
