"""The move's preflight is the whole truth (issue 15, fault 1): a move that would fail later changes nothing now.

Fault 1's estate: `accounts.api` uses a database (so it runs in the VPC) and writes to `notifications.outbox`.
Moving `notifications` to GCP puts the outbox out of the function's reach, which only synthesis with the new
placement finds. The environment is production-shaped: protected, real AWS and GCP sections (never contacted:
every HTTPS proxy points at the loopback's discard port), state in S3 with DynamoDB locking on a moto server.
Before the fix, `--dry-run` said "would move" and the real move edited the environment file, recorded the move
and created the target before failing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.terraform_fixtures import Cli, cli_fixture, tf_binary_fixture  # noqa: F401

SERVICES = '''
from platform_sdk import Bucket, Function, Service, http
from platform_sdk.modules import ServiceWithDatabase

notifications = Service("notifications", owner="messaging")
outbox = notifications.add(Bucket("outbox"))
sender = notifications.add(Function("sender", handler="send.handle", source="functions/notifications",
                                    triggers=[http()]))
sender.reads(outbox)

accounts = Service("accounts", owner="identity")
api = accounts.add(ServiceWithDatabase("api", handler="api.handle", source="functions/accounts"))
api.function.writes(outbox)
'''

PROD = '''# Production-shaped: real clouds, state in S3 (a moto server on the loopback).
name_prefix = "acme"
protected = true
default_cloud = "aws"

[clouds.aws]
account = "333333333333"
region = "eu-west-1"

[clouds.gcp]
project = "acme-prod-123"
region = "europe-west1"

[placement]

[state]
backend = "s3"
bucket = "acme-fault1-state"
lock_table = "acme-fault1-locks"
region = "eu-west-1"
endpoint = "{endpoint}"

[overrides."accounts.api-db"]
high_availability = true

[alerts]  # a protected environment's functions must notify someone (function.production-alarms)
email = ["oncall@example.com"]
'''


@pytest.fixture
def estate(tmp_path: Path, moto_server: str) -> Path:
    root = tmp_path / "estate"
    for sub in ("services/functions/accounts", "services/functions/notifications", "envs"):
        (root / sub).mkdir(parents=True)
    (root / "services" / "estate.py").write_text(SERVICES)
    (root / "services" / "functions" / "accounts" / "api.py").write_text("def handle(request):\n    pass\n")
    (root / "services" / "functions" / "notifications" / "send.py").write_text("def handle(request):\n    pass\n")
    (root / "envs" / "prod.toml").write_text(PROD.format(endpoint=moto_server))
    return root


def _backend(moto_server: str) -> dict[str, Any]:
    kwargs = {"endpoint_url": moto_server, "region_name": "eu-west-1"}
    s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}), **kwargs)
    dynamodb = boto3.client("dynamodb", **kwargs)
    objects = s3.list_objects_v2(Bucket="acme-fault1-state").get("Contents", [])
    return {"objects": sorted((o["Key"], o["ETag"]) for o in objects),
            "locks": dynamodb.scan(TableName="acme-fault1-locks")["Items"]}


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "cdktf.out" not in p.parts and ".platform" not in p.parts}


OFFLINE = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1,localhost"}


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "real"])
def test_fault1_a_move_that_cannot_synthesize_is_refused_and_changes_nothing(cli: Cli, estate: Path, moto_server: str,
                                                                            dry_run: bool) -> None:
    assert cli(estate, "bootstrap", "--env", "prod", env=OFFLINE).exit_code == 0
    before_files, before_backend = _tree(estate), _backend(moto_server)
    args = ["move", "notifications", "--to", "gcp", "--env", "prod", "--yes"] + (["--dry-run"] if dry_run else [])
    result = cli(estate, *args, env=OFFLINE)
    text = " ".join((result.stdout + result.stderr).split())
    assert result.exit_code == 2, text
    assert "would move" not in text
    assert "synthesis of the cut-over" in text, text
    assert "accounts.api" in text and "notifications.outbox" in text, text
    assert "nothing was changed" in text or dry_run
    assert _tree(estate) == before_files, "the environment file and the estate are untouched"
    assert _backend(moto_server) == before_backend, "no move record, no lock left in the state backend"
    assert not (estate / ".platform" / "moves" / "prod.json").exists()
    code, out = cli.json(estate, *args, env=OFFLINE)
    assert code == 2 and not out["preflight"]["ok"]
    failed = [c for c in out["preflight"]["checks"] if not c["ok"]]
    assert [c["step"] for c in failed] == ["synthesis of the cut-over", "synthesis of the end state (source kept)"]
    assert all(c["how"] == "checked" and c["fix"] for c in failed)
    assert json.dumps(out).count("VPC") >= 1


def test_a_dry_run_reports_every_refusal_with_its_fix(cli: Cli, estate: Path, moto_server: str) -> None:
    """Unsupported targets and unknown services are refused by the preflight the same way (exit 2)."""
    assert cli(estate, "bootstrap", "--env", "prod", env=OFFLINE).exit_code == 0
    result = cli(estate, "move", "nosuch", "--to", "gcp", "--env", "prod", "--dry-run", env=OFFLINE)
    assert result.exit_code == 2 and "no service named 'nosuch'" in result.stdout + result.stderr
    unknown = cli(estate, "move", "notifications", "--to", "azure", "--env", "prod", "--dry-run", env=OFFLINE)
    text = " ".join((unknown.stdout + unknown.stderr).split())
    assert unknown.exit_code == 2 and "unknown cloud (clouds: aws, gcp, local)" in text, text
