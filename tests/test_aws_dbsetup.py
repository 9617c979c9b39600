"""Issue 13.4 on AWS, through real parts: the platform's database setup handler (what `aws_lambda_invocation` runs
in the VPC) reads the master secret from Secrets Manager (a moto server), connects to a real PostgreSQL with
password authentication as a non-superuser master shaped like RDS's, and creates, renames and drops one function's
IAM-authenticated role exactly as Terraform's create / update / delete invocations ask. The function's runtime
signs an RDS IAM token locally for its own user (no API call)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from platform_sdk.providers.aws.runtime import database as aws_database
from platform_sdk.providers.aws.runtime import dbsetup
from platform_sdk.runtime import dbroles
from tests.emulators import moto_server  # noqa: F401 - fixture
from tests.postgres import postgres_password_server  # noqa: F401 - fixture
from tests.test_dbroles import PgLogin, pg  # noqa: F401 - fixture


@pytest.fixture
def spec(pg: dict[str, Any], moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:  # noqa: F811
    """The invocation input the compiler writes, with the master's password in a Secrets Manager secret."""
    import boto3

    tag, password = pg["tag"], secrets.token_hex(12)
    pg["admin"].cursor().execute(f"ALTER ROLE master_{tag} PASSWORD '{password}'")
    monkeypatch.setenv(aws_database.ENDPOINT_ENV, moto_server)
    client = boto3.client("secretsmanager", region_name="eu-west-1", endpoint_url=moto_server)
    arn = client.create_secret(Name=f"rds!db-{tag}", SecretString=json.dumps(
        {"username": f"master_{tag}", "password": password}))["ARN"]
    server = urlparse(pg["server"])
    yield {"admin_url": f"postgres://master_{tag}@127.0.0.1:{server.port}/{pg['database']}?secret={arn}"
                        "&cloud=aws&sslmode=disable",
           "engine": "postgres", "role": f"fn_{tag}", "database": pg["database"], "owner": False}


def _roles(db: dict[str, Any], pattern: str) -> list[tuple[Any, ...]]:
    return PgLogin(db["master"]).run(f"SELECT rolname FROM pg_roles WHERE rolname LIKE '{pattern}' ORDER BY 1")


def test_the_setup_creates_renames_and_drops_the_function_user(pg: dict[str, Any],  # noqa: F811
                                                                spec: dict[str, Any]) -> None:
    tag = pg["tag"]
    assert dbsetup.handler({**spec, "tf": {"action": "create"}}) == {"role": f"fn_{tag}", "action": "create"}
    check = PgLogin(pg["master"])
    assert _roles(pg, f"fn_{tag}%") == [(f"fn_{tag}",)]
    assert check.run(f"SELECT pg_has_role('fn_{tag}', 'rds_iam', 'MEMBER')") == [(True,)]  # IAM tokens only
    group = dbroles.group_name(pg["database"])
    assert check.run(f"SELECT pg_has_role('fn_{tag}', '{group}', 'MEMBER')") == [(True,)]  # the rows, no DDL
    assert check.run(f"SELECT has_schema_privilege('fn_{tag}', 'public', 'CREATE')") == [(False,)]  # not an owner
    superuser = pg["admin"].cursor()
    superuser.execute(f"SELECT rolpassword IS NULL FROM pg_authid WHERE rolname = 'fn_{tag}'")
    assert [tuple(row) for row in superuser.fetchall()] == [(True,)]  # no password: IAM tokens only
    # the grant's function is renamed: Terraform sends the new input and the previous one
    renamed = {**spec, "role": f"fn2_{tag}"}
    dbsetup.handler({**renamed, "tf": {"action": "update", "prev_input": spec}})
    assert _roles(pg, f"fn%_{tag}") == [(f"fn2_{tag}",)]
    # the function or its grant goes: the user goes, its tables stay
    dbsetup.handler({**renamed, "tf": {"action": "delete", "prev_input": renamed}})
    assert _roles(pg, f"fn%_{tag}") == []


def test_a_function_signs_an_iam_token_for_its_own_user_without_a_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    token = aws_database.iam_auth_token("db.example.internal", 5432, "acme_dev_auth_api", {"region": "eu-west-1"})
    url = urlparse("https://" + token)
    query = parse_qs(url.query)
    assert (url.hostname, url.port) == ("db.example.internal", 5432)
    assert query["Action"] == ["connect"] and query["DBUser"] == ["acme_dev_auth_api"]
    assert query["X-Amz-Credential"][0].split("/")[2:4] == ["eu-west-1", "rds-db"]
