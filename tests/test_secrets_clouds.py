"""Secrets on the clouds' own APIs: set, rotate, list and read through moto's Secrets Manager and through a local
fake of GCP Secret Manager driven by the real `google-cloud-secret-manager` client; `platform apply`'s refusal
decided through those APIs; and the generated IAM policy enforced by moto (GetSecretValue on exactly the granted
secret, nothing else).

No AWS or Google Terraform provider can be downloaded here, so the containers Terraform would create are made
with the same API calls (CreateSecret) before the CLI is used; everything after that is the product's own path.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from platform_sdk.envs import load_environment
from platform_sdk.errors import PlatformError
from platform_sdk.loader import load_services
from platform_sdk.project import Project
from platform_sdk.runtime import secret
from platform_sdk.runtime import secrets as runtime_secrets
from platform_sdk.runtime.secrets import SecretContainerMissingError, open_secret
from platform_sdk.secrets import deploy
from tests.conformance_estates import CLOUDS, synth, write_project
from tests.fake_secretmanager import FakeSecretManager
from tests.test_conformance_moto import denied, moto_enforcing, set_auth  # noqa: F401 - the enforcing moto fixture

STAGE = 'name_prefix = "acme"\n'  # every environment file names its prefix

CANARY = "canary-5d2e8b70-do-not-print"
ESTATE = '''
from platform_sdk import Function, Secret, Service, schedule


svc = Service("svc", owner="team")
api_key = svc.add(Secret("api-key"))
signer = svc.add(Secret("signer", generate=True, length=20))
svc.add(Function("caller", handler="handler.handle", source="code",
                 triggers=[schedule("0 2 * * *")])).reads(api_key).reads(signer)
svc.add(Secret("unused"))
'''


class Cli:
    def __init__(self, project: Path, env: str) -> None:
        self.runner, self.project, self.env = CliRunner(), project, env

    def __call__(self, *args: str, input: str | None = None) -> Result:
        from platform_sdk.cli import app

        return self.runner.invoke(app, ["secret", *args, "--env", self.env, "--project", str(self.project)],
                                  input=input, catch_exceptions=False)

    def states(self) -> dict[str, str]:
        listed = self("list", "--json")
        assert listed.exit_code == 0, listed.output
        return {s["secret"]: s["state"] for s in json.loads(listed.stdout)["secrets"]}


def _clean_runtime_cache() -> None:
    runtime_secrets._values.clear()
    runtime_secrets._clients.clear()


def _as_function(monkeypatch: pytest.MonkeyPatch, environment: dict[str, str]) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    _clean_runtime_cache()


def _life(cli: Cli, project: Project, env_name: str, create: Any, url_of: dict[str, str],
          monkeypatch: pytest.MonkeyPatch) -> None:
    """The same story on every cloud: containers, refusal, set, read, generate, rotate, list."""
    env = load_environment(project.envs_dir / f"{env_name}.toml")
    services = load_services(project.services_dir)
    assert cli.states() == {"svc.api-key": "not created", "svc.signer": "not created", "svc.unused": "not created"}
    rotate_early = cli("rotate", "svc.signer")
    assert rotate_early.exit_code == 2 and f"`platform apply --env {env_name}` creates it" in rotate_early.stderr
    for name in ("api-key", "signer", "unused"):
        create(name)  # what Terraform's apply of the containers does
    assert cli.states() == {"svc.api-key": "no value", "svc.signer": "no value", "svc.unused": "no value"}

    states = deploy.states(project, env, services)
    with pytest.raises(PlatformError) as refused:
        deploy.refuse_unreadable(states, env_name)
    assert f"svc.api-key (read by svc.caller): set it with `platform secret set svc.api-key --env {env_name}`" \
        in str(refused.value)
    assert "svc.signer" not in str(refused.value) and "svc.unused" not in str(refused.value)

    stored = cli("set", "svc.api-key", input=CANARY)
    assert stored.exit_code == 0 and CANARY not in stored.output, stored.output
    assert deploy.generate_missing(deploy.states(project, env, services), ["svc-stack-not-applied"]) == []
    stack = next(s.ref.stack for s in states)
    assert deploy.generate_missing(deploy.states(project, env, services), [stack]) == ["svc.signer"]
    deploy.refuse_unreadable(deploy.states(project, env, services), env_name)  # nothing missing any more
    assert cli.states() == {"svc.api-key": "set", "svc.signer": "set", "svc.unused": "no value"}

    _as_function(monkeypatch, {"PLATFORM_SECRET_API_KEY": url_of["api-key"], "PLATFORM_SECRET_SIGNER": url_of["signer"],
                               "PLATFORM_GRANTS": "secret:api-key:read,secret:signer:read",
                               "PLATFORM_SERVICE": "svc", "PLATFORM_FUNCTION": "caller", "PLATFORM_ENV": env_name})
    assert secret("api-key") == CANARY
    first = secret("signer")
    assert len(first) == 20 and first.isalnum()
    rotated = cli("rotate", "svc.signer")
    assert rotated.exit_code == 0, rotated.output
    assert secret("signer") == first, "cached until the TTL: the cloud tells no version cheaply"
    assert secret("signer", max_age=0) != first
    assert cli("set", "svc.api-key", input="second\n").exit_code == 0
    assert secret("api-key", max_age=0) == "second"


# -- AWS Secrets Manager (moto) --------------------------------------------------------------------------------
@pytest.fixture
def aws_project(tmp_path: Path, moto_server: str) -> Iterator[Project]:
    env = (STAGE + 'default_cloud = "aws"\n' + CLOUDS).replace('region = "eu-west-1"', f'region = "eu-west-1"\n'
                                                       f'endpoint = "{moto_server}"')
    yield write_project(tmp_path / "estate", {"svc.py": ESTATE}, {"awsmoto": env})


def test_set_rotate_list_and_read_on_aws_secrets_manager(aws_project: Project, moto_server: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    client = boto3.client("secretsmanager", endpoint_url=moto_server, region_name="eu-west-1")
    synthesized = synth(aws_project, "awsmoto")
    doc = json.loads((synthesized.outdir / "stacks" / "awsmoto-svc-aws" / "cdk.tf.json").read_text())
    variables = doc["resource"]["aws_lambda_function"]["caller_function"]["environment"]["variables"]
    url_of = {name: variables[f"PLATFORM_SECRET_{name.upper().replace('-', '_')}"] for name in ("api-key", "signer")}
    assert url_of["api-key"] == f"secretsmanager://acme-awsmoto-svc-api-key?region=eu-west-1&endpoint=" \
                                f"{moto_server.replace(':', '%3A').replace('/', '%2F')}"
    _life(Cli(aws_project.root, "awsmoto"), aws_project, "awsmoto",
          lambda name: client.create_secret(Name=f"acme-awsmoto-svc-{name}"), url_of, monkeypatch)
    versions = client.list_secret_version_ids(SecretId="acme-awsmoto-svc-api-key")["Versions"]
    assert len(versions) == 2, "each set is a new version (AWSCURRENT moves), never a Terraform change"
    assert client.get_secret_value(SecretId="acme-awsmoto-svc-api-key")["SecretString"] == "second"


def test_aws_writes_to_a_missing_container_are_refused(moto_server: str) -> None:
    url = f"secretsmanager://never-created?region=eu-west-1&endpoint={moto_server}"
    assert open_secret(url).read() is None and not open_secret(url).exists() and not open_secret(url).has_value()
    with pytest.raises(SecretContainerMissingError, match="run `platform apply` first"):
        open_secret(url).write(CANARY)


# -- GCP Secret Manager (a local fake of the REST API, the real client) --------------------------------------------
@pytest.fixture
def fake_gcp(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSecretManager]:
    fake = FakeSecretManager()
    with fake.running() as url:
        monkeypatch.setenv("PLATFORM_SECRETMANAGER_ENDPOINT", url)
        yield fake


def test_set_rotate_list_and_read_on_gcp_secret_manager(tmp_path: Path, fake_gcp: FakeSecretManager,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import secretmanager

    project = write_project(tmp_path / "estate", {"svc.py": ESTATE},
                            {"gcpfake": STAGE + 'default_cloud = "gcp"\n' + CLOUDS})
    client = secretmanager.SecretManagerServiceClient(
        credentials=AnonymousCredentials(), transport="rest",
        client_options={"api_endpoint": os.environ["PLATFORM_SECRETMANAGER_ENDPOINT"]})

    def create(name: str) -> None:
        client.create_secret(parent="projects/acme-conf-123", secret_id=f"acme-gcpfake-svc-{name}",
                             secret={"replication": {"automatic": {}}})

    synthesized = synth(project, "gcpfake")
    doc = json.loads((synthesized.outdir / "stacks" / "gcpfake-svc-gcp" / "cdk.tf.json").read_text())
    variables = doc["resource"]["google_cloudfunctions2_function"]["caller"]["service_config"]["environment_variables"]
    url_of = {name: variables[f"PLATFORM_SECRET_{name.upper().replace('-', '_')}"] for name in ("api-key", "signer")}
    assert url_of["api-key"] == "secretmanager://acme-conf-123/acme-gcpfake-svc-api-key"
    _life(Cli(project.root, "gcpfake"), project, "gcpfake", create, url_of, monkeypatch)
    assert fake_gcp.payloads().count(b"second") == 1
    assert any(r.startswith("access projects/acme-conf-123/secrets/acme-gcpfake-svc-api-key/versions/latest")
               for r in fake_gcp.requests), fake_gcp.requests
    assert not any(CANARY in r for r in fake_gcp.requests)


def test_a_disabled_latest_version_reads_as_no_value(fake_gcp: FakeSecretManager) -> None:
    from platform_sdk.providers.gcp.runtime.secrets import SecretManagerSecret

    sm = SecretManagerSecret("secretmanager://p-123456/s")
    sm.client.create_secret(parent="projects/p-123456", secret_id="s", secret={"replication": {"automatic": {}}})
    assert sm.exists() and not sm.has_value() and sm.read() is None
    version = sm.write(CANARY)
    assert sm.has_value() and sm.read() is not None and sm.read().version == version  # type: ignore[union-attr]
    sm.client.disable_secret_version(name=f"projects/p-123456/secrets/s/versions/{version}")
    assert not sm.has_value() and sm.read() is None
    with pytest.raises(SecretContainerMissingError):
        SecretManagerSecret("secretmanager://p-123456/missing").write(CANARY)


# -- the generated policy, enforced by moto ------------------------------------------------------------------------
def test_the_generated_policy_allows_reading_and_nothing_else(tmp_path: Path, moto_enforcing: str,  # noqa: F811
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Moto authorizes Secrets Manager calls against the resource "*" (its Secrets Manager responses do not name the
    secret to the authorizer: moto/core/responses.py `call_action`), so it can judge the actions of the generated
    policy but not its ARN scoping: the statements' resources are widened to "*" for moto. That each statement
    names exactly the granted secret's ARN is proved by the conformance analysis (test_secrets_conformance.py:
    a statement on another secret does not count) and asserted on the JSON here."""
    import boto3

    project = write_project(tmp_path / "estate", {"svc.py": ESTATE},
                            {"aws": STAGE + 'default_cloud = "aws"\n' + CLOUDS})
    synthesized = synth(project, "aws")
    doc = json.loads((synthesized.outdir / "stacks" / "aws-svc-aws" / "cdk.tf.json").read_text())
    set_auth(moto_enforcing, float("inf"))
    admin = {"endpoint_url": moto_enforcing, "region_name": "eu-west-1", "aws_access_key_id": "admin",
             "aws_secret_access_key": "admin"}
    sm, iam = boto3.client("secretsmanager", **admin), boto3.client("iam", **admin)
    arns = {}
    for name in ("api-key", "signer", "unused"):
        arns[name] = sm.create_secret(Name=f"acme-aws-svc-{name}", SecretString=f"{CANARY}-{name}")["ARN"]
    policy = json.loads(doc["resource"]["aws_iam_role_policy"]["caller_policy"]["policy"])
    statements = [s for s in policy["Statement"] if s["Sid"] != "OwnLogGroup"]  # logs: nothing here writes any
    assert sorted(s["Resource"] for s in statements) == [f"${{aws_secretsmanager_secret.{name}_secret.arn}}"
                                                         for name in ("api-key", "signer")]
    assert {a for s in statements for a in s["Action"]} == {"secretsmanager:GetSecretValue"}
    statements = [{**s, "Resource": "*"} for s in statements]
    iam.create_user(UserName="caller")
    iam.put_user_policy(UserName="caller", PolicyName="generated",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    key = iam.create_access_key(UserName="caller")["AccessKey"]
    variables = doc["resource"]["aws_lambda_function"]["caller_function"]["environment"]["variables"]
    environment = {k: v for k, v in variables.items() if k.startswith("PLATFORM_")}
    for name in ("PLATFORM_SECRET_API_KEY", "PLATFORM_SECRET_SIGNER"):
        environment[name] += f"&endpoint={moto_enforcing}"
    _as_function(monkeypatch, {**environment, "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
                               "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"], "AWS_REGION": "eu-west-1",
                               "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull})
    for name in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    set_auth(moto_enforcing, 0)
    try:
        assert secret("api-key") == f"{CANARY}-api-key" and secret("signer") == f"{CANARY}-signer"
        own = boto3.session.Session().client("secretsmanager", endpoint_url=moto_enforcing, region_name="eu-west-1")
        assert denied(lambda: own.put_secret_value(SecretId=arns["api-key"], SecretString="x")), "read, not write"
        assert denied(lambda: own.describe_secret(SecretId=arns["api-key"]))
        assert denied(lambda: own.list_secrets())
        assert denied(lambda: own.delete_secret(SecretId=arns["unused"]))
    finally:
        set_auth(moto_enforcing, float("inf"))
