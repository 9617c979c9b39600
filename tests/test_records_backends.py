"""Stack records next to the state in remote backends: an S3 object beside the state key (moto in server mode, on
127.0.0.1) and a GCS object beside the state prefix (the GCS emulator), read by every checkout, so a second
machine skips what the first applied.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from platform_sdk.envs import load_environment
from platform_sdk.providers.aws.config import S3State
from platform_sdk.providers.aws.state import S3Records
from platform_sdk.providers.gcp.config import GcsState
from platform_sdk.providers.gcp.state import GcsRecords
from platform_sdk.terraform.records import APPLIED, StackRecord, record_store
from tests.emulators import gcs_emulator, moto_server  # noqa: F401 - fixtures
from tests.terraform_fixtures import Cli, Logged, make_project, tf_binary_fixture  # noqa: F401 - fixtures

BUCKET = "acme-tfstate-records"
TABLE = "acme-tf-locks-records"


@pytest.fixture
def s3(moto_server: str) -> Any:  # noqa: F811 - the fixture imported above
    client = boto3.client("s3", config=Config(s3={"addressing_style": "path"}), endpoint_url=moto_server,
                          region_name="us-east-1")
    if BUCKET not in [b["Name"] for b in client.list_buckets()["Buckets"]]:
        client.create_bucket(Bucket=BUCKET)
    return client


def test_s3_records_are_objects_next_to_the_state_key(s3: Any, moto_server: str) -> None:  # noqa: F811
    state = S3State(backend="s3", bucket=BUCKET, lock_table=TABLE, region="us-east-1", endpoint=moto_server)
    store = S3Records(state, "prod")
    assert store.read("prod-web-aws") is None
    store.write("prod-web-aws", StackRecord("prod-web-aws", APPLIED).dumps())
    assert store.key("prod-web-aws") == "platform/prod/prod-web-aws.platform.json"
    assert store.describe("prod-web-aws") == f"s3://{BUCKET}/platform/prod/prod-web-aws.platform.json"
    head = s3.head_object(Bucket=BUCKET, Key="platform/prod/prod-web-aws.platform.json")
    assert head["ServerSideEncryption"] == "AES256" and head["ContentType"] == "application/json"
    assert StackRecord.loads(store.read("prod-web-aws") or b"", "prod-web-aws").status == APPLIED


def test_gcs_records_are_objects_next_to_the_state_prefix(gcs_emulator: str) -> None:  # noqa: F811
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    storage.Client(project="local", credentials=AnonymousCredentials()).create_bucket("acme-tfstate-gcs")
    store = GcsRecords(GcsState(backend="gcs", bucket="acme-tfstate-gcs", prefix="platform"), "staging", None)
    assert store.read("staging-web-gcp") is None
    store.write("staging-web-gcp", b'{"format": 1}')
    assert store.name("staging-web-gcp") == "platform/staging/staging-web-gcp.platform.json"
    assert store.read("staging-web-gcp") == b'{"format": 1}'
    assert store.describe("staging-web-gcp") == "gs://acme-tfstate-gcs/platform/staging/staging-web-gcp.platform.json"


def test_the_environment_picks_the_record_store_of_its_backend(tmp_path: Path) -> None:
    env_file = tmp_path / "envs" / "e.toml"
    env_file.parent.mkdir()
    env_file.write_text('name_prefix = "acme"\ndefault_cloud = "aws"\n[clouds.aws]\nregion = "eu-west-1"\n'
                        '[state]\nbackend = "s3"\nbucket = "b"\nlock_table = "t"\nregion = "eu-west-1"\n')
    assert isinstance(record_store(tmp_path, load_environment(env_file)), S3Records)


def s3_env(endpoint: str, cloud_root: str) -> str:
    return f'''name_prefix = "acme"
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


def test_a_second_checkout_skips_what_the_first_applied(s3: Any, moto_server: str, tmp_path: Path,  # noqa: F811
                                                        tf_binary: Path) -> None:
    shared_cloud = str(tmp_path / "cloud")
    checkouts = []
    for name in ("one", "two"):
        project = make_project(tmp_path / name, services=["web"])
        (project / "envs" / "s3.toml").write_text(s3_env(moto_server, shared_cloud))
        checkouts.append(project)
    first, second = checkouts
    logged = Logged(tmp_path, tf_binary)
    cli = Cli(logged.script)
    assert cli(first, "bootstrap", "--env", "s3").exit_code == 0
    code, report = cli.json(first, "apply", "--env", "s3", "--auto-approve")
    assert code == 0, report
    record = json.loads(s3.get_object(Bucket=BUCKET, Key="platform/s3/s3-web-aws.platform.json")["Body"].read())
    assert record["status"] == "applied"
    assert record["applied"]["values"]["function_api_url"] == "http://127.0.0.1:8790/fn/acme-s3-web-api"
    logged.runs()

    # The other checkout (another machine, a CI job) reads the record from S3: nothing to plan.
    code, report = cli.json(second, "plan", "--env", "s3", "--detailed-exitcode")
    assert code == 0, report
    assert [s["status"] for s in report["stacks"]] == ["unchanged"]
    assert logged.runs() == []

    # It edits the function: that stack is planned, against the same state.
    api = second / "services" / "functions" / "web" / "api.py"
    api.write_text(api.read_text() + "\n# edited\n")
    code, report = cli.json(second, "plan", "--env", "s3", "--detailed-exitcode")
    assert code == 2 and report["stacks"][0]["planned_because"] == "its configuration changed"
    assert report["stacks"][0]["changes"]["update"] == ["localcloud_function.api"]
    record = json.loads(s3.get_object(Bucket=BUCKET, Key="platform/s3/s3-web-aws.platform.json")["Body"].read())
    assert record["status"] == "changes-pending"
    # ... and the first checkout, unchanged itself, now plans it too: a saved plan was not applied.
    code, report = cli.json(first, "plan", "--env", "s3")
    assert report["stacks"][0]["planned_because"] == "a plan with changes was not applied"
    assert report["stacks"][0]["status"] == "no-changes"
