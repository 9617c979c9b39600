"""State in S3 with DynamoDB locking, against moto in server mode on 127.0.0.1.

`platform bootstrap` creates the state bucket and the lock table; `platform apply` then keeps a local cloud
stack's state in that bucket, and a second checkout sharing the backend is refused while the first applies,
with the lock holder (from DynamoDB) named.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.emulators import moto_server  # noqa: F401 - fixture
from tests.terraform_fixtures import (  # noqa: F401 - the *_fixture imports register fixtures
    HOLD_ENV,
    Cli,
    cli_fixture,
    hold_file_fixture,
    make_project,
    spawn,
    tf_binary_fixture,
    wait_for_line,
    wait_for_path,
)

pytestmark = pytest.mark.e2e

BUCKET = "acme-tfstate-test"
TABLE = "acme-tf-locks-test"
STATE_KEY = "platform/s3/s3-web-aws.tfstate"


def s3_env(endpoint: str, cloud_root: str = ".platform/localcloud") -> str:
    return f'''
name_prefix = "acme"
default_cloud = "aws"

[clouds.aws]
stand_in = "local"

[clouds.local]
root = "{cloud_root}"

[state]
backend = "s3"
bucket = "{BUCKET}"
lock_table = "{TABLE}"
region = "us-east-1"
endpoint = "{endpoint}"
'''


def checkout(dest: Path, endpoint: str, cloud_root: str) -> Path:
    project = make_project(dest, services=["web"])
    (project / "envs" / "s3.toml").write_text(s3_env(endpoint, cloud_root))
    return project


@pytest.fixture
def aws(moto_server: str) -> dict[str, Any]:  # noqa: F811 - the fixture imported above
    kwargs = {"endpoint_url": moto_server, "region_name": "us-east-1"}
    return {"s3": boto3.client("s3", config=Config(s3={"addressing_style": "path"}), **kwargs),
            "dynamodb": boto3.client("dynamodb", **kwargs), "endpoint": moto_server}


def test_bootstrap_then_apply_with_s3_state_and_dynamodb_locking(cli: Cli, tf_binary: Path, tmp_path: Path,
                                                                 aws: dict[str, Any], hold_file: Path) -> None:
    s3, dynamodb, endpoint = aws["s3"], aws["dynamodb"], aws["endpoint"]
    shared_cloud = str(tmp_path / "cloud")
    first = checkout(tmp_path / "one", endpoint, shared_cloud)
    second = checkout(tmp_path / "two", endpoint, shared_cloud)

    # Before bootstrap, Terraform cannot even initialise the backend; the report says what to do.
    code, report = cli.json(first, "plan", "--env", "s3")
    assert code == 1
    assert "platform bootstrap --env s3" in report["stacks"][0]["error"], report["stacks"][0]["error"]

    code, boot = cli.json(first, "bootstrap", "--env", "s3")
    assert code == 0
    assert [(s["kind"], s["name"], s["status"]) for s in boot["steps"]] == [
        ("s3 bucket", BUCKET, "created"), ("dynamodb table", TABLE, "created")]
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    rules = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert all(block[k] for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"))
    table = dynamodb.describe_table(TableName=TABLE)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "LockID", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "LockID", "AttributeType": "S"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    code, again = cli.json(second, "bootstrap", "--env", "s3")
    assert code == 0 and {s["status"] for s in again["steps"]} == {"exists"}
    assert "exists" in cli(first, "bootstrap", "--env", "s3").stdout

    # First checkout applies, held mid-apply; the second is refused by the DynamoDB lock, holder named.
    hold_file.write_text("")
    proc = spawn(first, tf_binary, "apply", "--env", "s3", "--auto-approve", env={HOLD_ENV: str(hold_file)})
    seen: list[str] = []
    try:
        wait_for_line(proc, r"s3-web-aws: apply", seen)
        wait_for_path(Path(f"{hold_file}.entered"), proc)
        code, report = cli.json(second, "plan", "--env", "s3")
        assert code == 1
        web = next(s for s in report["stacks"] if s["name"] == "s3-web-aws")
        assert web["status"] == "locked"
        assert re.fullmatch(r"stack s3-web-aws is locked by \S+@\S+ since .+ \(apply, lock id [0-9a-f-]+\); if that "
                            r"run is gone \(killed\), release the lock with `platform unlock --env s3 s3-web-aws`",
                            web["error"]), web["error"]
        assert web["lock"]["path"] == f"{BUCKET}/{STATE_KEY}"
    finally:
        hold_file.unlink(missing_ok=True)
        out, err = proc.communicate()
    assert proc.returncode == 0, "".join(seen) + err + out

    state = json.loads(s3.get_object(Bucket=BUCKET, Key=STATE_KEY)["Body"].read())
    assert sorted(f"{r['type']}.{r['name']}" for r in state["resources"] if r["mode"] == "managed") == [
        "localcloud_bucket.site", "localcloud_cdn_route.cdn", "localcloud_function.api"]
    locks = dynamodb.scan(TableName=TABLE)["Items"]
    assert not [i for i in locks if "Info" in i], "the lock must be released after apply"
    # The other checkout sees the same state: nothing to do.
    assert cli(second, "plan", "--env", "s3", "--detailed-exitcode").exit_code == 0
    code, outputs = cli.json(second, "outputs", "--env", "s3")
    assert outputs["stacks"]["s3-web-aws"]["function_api_url"] == "http://127.0.0.1:8790/fn/acme-s3-web-api"
