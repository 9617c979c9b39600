"""Create what Terraform's state backend needs before the first plan: bucket + lock table, or a directory.

Terraform cannot create its own backend, so `platform bootstrap --env NAME` does it once per environment
with the cloud SDKs. Every step is idempotent: a second run changes nothing and reports "exists" (settings
that protect state, such as versioning and encryption, are re-asserted every time all the same).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platform_sdk.envs import Environment, GcsState, LocalState, S3State
from platform_sdk.errors import PlatformError


@dataclass
class Step:
    """One thing bootstrap made sure of."""

    kind: str  # "directory", "s3 bucket", "dynamodb table", "gcs bucket"
    name: str
    status: str  # "created" or "exists"
    detail: str = ""

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name, "status": self.status, "detail": self.detail}


def bootstrap(project_root: Path, env: Environment) -> list[Step]:
    """Make sure the environment's state backend exists; returns what was created and what existed."""
    state = env.state
    if isinstance(state, LocalState):
        return [_local(project_root, env.name, state)]
    if isinstance(state, S3State):
        return _s3(state)
    if isinstance(state, GcsState):
        return [_gcs(state, env)]
    raise PlatformError(f"unknown state backend {state!r}")  # pragma: no cover - the model has no others


def _local(project_root: Path, env_name: str, state: LocalState) -> Step:
    path = project_root / state.path / env_name
    existed = path.is_dir()
    path.mkdir(parents=True, exist_ok=True)
    return Step("directory", str(path), "exists" if existed else "created")


# ------------------------------------------------------------------------------------------------------ AWS

def _aws_clients(state: S3State) -> tuple[Any, Any]:
    import boto3
    from botocore.config import Config

    kwargs: dict[str, Any] = {"region_name": state.region}
    if state.endpoint:
        kwargs["endpoint_url"] = state.endpoint
    s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}), **kwargs)
    dynamodb = boto3.client("dynamodb", **kwargs)
    return s3, dynamodb


def _error_code(err: Exception) -> str:
    return str(getattr(err, "response", {}).get("Error", {}).get("Code", ""))


def _s3(state: S3State) -> list[Step]:
    from botocore.exceptions import BotoCoreError, ClientError

    s3, dynamodb = _aws_clients(state)
    where = f" at {state.endpoint}" if state.endpoint else f" in {state.region}"
    try:
        return [_s3_bucket(s3, state), _lock_table(dynamodb, state)]
    except (ClientError, BotoCoreError) as err:
        raise PlatformError(f"bootstrapping the S3 state backend{where} failed: {err}", key="state") from None


def _s3_bucket(s3: Any, state: S3State) -> Step:
    """A private, versioned, encrypted bucket with every kind of public access blocked."""
    from botocore.exceptions import ClientError

    bucket = state.bucket
    try:
        s3.head_bucket(Bucket=bucket)
        status = "exists"
    except ClientError as err:
        if _error_code(err) not in ("404", "NoSuchBucket", "NotFound"):
            raise
        args: dict[str, Any] = {"Bucket": bucket}
        if state.region != "us-east-1":
            args["CreateBucketConfiguration"] = {"LocationConstraint": state.region}
        s3.create_bucket(**args)
        status = "created"
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]})
    return Step("s3 bucket", bucket, status, "private, versioned, encrypted (AES256), public access blocked")


def _lock_table(dynamodb: Any, state: S3State) -> Step:
    """The DynamoDB table Terraform's S3 backend locks with: hash key `LockID` (string), on-demand billing."""
    from botocore.exceptions import ClientError

    table = state.lock_table
    try:
        described = dynamodb.describe_table(TableName=table)["Table"]
    except ClientError as err:
        if _error_code(err) != "ResourceNotFoundException":
            raise
    else:
        keys = {k["AttributeName"]: k["KeyType"] for k in described.get("KeySchema", [])}
        if keys != {"LockID": "HASH"}:
            raise PlatformError(f"DynamoDB table {table} exists but its key is {keys}, not LockID (HASH): "
                                "Terraform cannot lock with it", key="state.lock_table", value=table)
        return Step("dynamodb table", table, "exists", "hash key LockID (S)")
    dynamodb.create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
    )
    dynamodb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return Step("dynamodb table", table, "created", "hash key LockID (S), on-demand billing")


# ------------------------------------------------------------------------------------------------------ GCP

def _gcs(state: GcsState, env: Environment) -> Step:
    """A GCS bucket with object versioning and uniform bucket-level access (no per-object ACLs)."""
    import os

    from google.api_core import exceptions as gexc
    from google.auth import exceptions as auth_exc
    from google.cloud import storage

    project = env.clouds.gcp.project if env.clouds.gcp else None
    try:
        if os.environ.get("STORAGE_EMULATOR_HOST"):
            from google.auth.credentials import AnonymousCredentials

            client = storage.Client(project=project or "local", credentials=AnonymousCredentials())
        else:
            client = storage.Client(project=project)
        bucket = client.lookup_bucket(state.bucket)
        status = "exists"
        if bucket is None:
            bucket = client.bucket(state.bucket)
            bucket.versioning_enabled = True
            bucket.iam_configuration.uniform_bucket_level_access_enabled = True
            location = env.clouds.gcp.region if env.clouds.gcp else None
            bucket = client.create_bucket(bucket, location=location)
            status = "created"
        if not bucket.versioning_enabled or not bucket.iam_configuration.uniform_bucket_level_access_enabled:
            bucket.versioning_enabled = True
            bucket.iam_configuration.uniform_bucket_level_access_enabled = True
            bucket.patch()
    except (gexc.GoogleAPIError, auth_exc.GoogleAuthError) as err:
        raise PlatformError(f"bootstrapping the GCS state bucket failed: {err}", key="state.bucket",
                            value=state.bucket) from None
    return Step("gcs bucket", state.bucket, status, "versioning on, uniform bucket-level access")
