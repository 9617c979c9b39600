"""Terraform state on AWS: the S3 backend block of every stack, and `platform bootstrap` of its bucket + lock table.

Terraform cannot create its own backend, so bootstrap does it once per environment with boto3 (imported
lazily: `pip install platform-sdk[aws]`). Every step is idempotent: a second run reports "exists" (settings
that protect state, versioning and encryption, are re-asserted every time all the same).
"""

from __future__ import annotations

import json
import threading
from typing import Any

from platform_sdk.errors import PlatformError
from platform_sdk.providers.aws.config import S3State
from platform_sdk.providers.base import Step

# Terraform's words when the state bucket or the lock table is missing.
BACKEND_MISSING = ("NoSuchBucket", "S3 bucket does not exist", "ResourceNotFoundException")


def state_key(state: S3State, env_name: str, stack_name: str) -> str:
    return f"{state.key_prefix}/{env_name}/{stack_name}.tfstate"


def backend(stack: Any, state: S3State, env_name: str, stack_name: str) -> None:
    """`<key_prefix>/<env>/<stack>.tfstate` in the bucket, locked in the DynamoDB table, encrypted."""
    from platform_sdk.cdk import engine

    extra: dict[str, Any] = {}
    if state.endpoint:
        extra = dict(endpoint=state.endpoint, dynamodb_endpoint=state.endpoint, iam_endpoint=state.endpoint,
                     sts_endpoint=state.endpoint, force_path_style=True, skip_credentials_validation=True,
                     skip_metadata_api_check=True, skip_region_validation=True)
    engine.S3Backend(stack, bucket=state.bucket, key=state_key(state, env_name, stack_name),
                     region=state.region, dynamodb_table=state.lock_table, encrypt=True, **extra)


class S3Document:
    """A JSON document next to the state objects, `<key_prefix>/<env>/_platform/<name>.json` in the state bucket
    (encrypted like the state), locked with an item in the state's DynamoDB lock table the way Terraform locks a
    state: `LockID = <bucket>/<key>`, put only if absent (`attribute_not_exists`), `Info` = the holder's JSON.
    Uses the credentials Terraform's S3 backend uses (the default boto3 chain), at the backend's endpoint.
    (platform_sdk.state_documents; DynamoDB conditional writes:
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html)
    """

    def __init__(self, state: S3State, env_name: str, name: str) -> None:
        self.state = state
        self.key = f"{state.key_prefix}/{env_name}/_platform/{name}.json"
        self.lock_id = f"{state.bucket}/{self.key}"
        self._clients: tuple[Any, Any] | None = None

    def _aws(self) -> tuple[Any, Any]:
        if self._clients is None:
            self._clients = _aws_clients(self.state)
        return self._clients

    def describe(self) -> str:
        return f"s3://{self.state.bucket}/{self.key}"

    def read(self) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            return self._aws()[0].get_object(Bucket=self.state.bucket, Key=self.key)["Body"].read()  # type: ignore[no-any-return]
        except ClientError as err:
            if _error_code(err) in ("NoSuchKey", "404", "NotFound"):
                return None
            raise

    def write(self, data: bytes) -> None:
        self._aws()[0].put_object(Bucket=self.state.bucket, Key=self.key, Body=data, ContentType="application/json",
                                  ServerSideEncryption="AES256")

    def acquire(self, holder: dict[str, Any]) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        dynamodb = self._aws()[1]
        try:
            dynamodb.put_item(TableName=self.state.lock_table,
                              Item={"LockID": {"S": self.lock_id}, "Info": {"S": json.dumps(holder, sort_keys=True)}},
                              ConditionExpression="attribute_not_exists(LockID)")
            return None
        except ClientError as err:
            if _error_code(err) != "ConditionalCheckFailedException":
                raise
        item = dynamodb.get_item(TableName=self.state.lock_table, Key={"LockID": {"S": self.lock_id}},
                                 ConsistentRead=True).get("Item")
        if item is None:
            return {"host": "?", "pid": 0, "command": "unknown (released meanwhile)"}
        try:
            found = json.loads(item.get("Info", {}).get("S", "{}"))
        except ValueError:
            found = {}
        return {**found, "_raw": item.get("Info", {}).get("S", "")} if isinstance(found, dict) else {}

    def _delete(self, holder: dict[str, Any]) -> None:
        from botocore.exceptions import ClientError

        raw = holder.get("_raw") or json.dumps({k: v for k, v in holder.items() if k != "_raw"}, sort_keys=True)
        try:
            self._aws()[1].delete_item(TableName=self.state.lock_table, Key={"LockID": {"S": self.lock_id}},
                                       ConditionExpression="Info = :info",
                                       ExpressionAttributeValues={":info": {"S": raw}})
        except ClientError as err:
            if _error_code(err) != "ConditionalCheckFailedException":
                raise  # otherwise someone else holds it now: theirs to release

    def release(self, holder: dict[str, Any]) -> None:
        self._delete(holder)

    def force_release(self, holder: dict[str, Any]) -> None:
        self._delete(holder)


class S3Records:
    """Stack records (platform_sdk.terraform.records) as objects next to the state objects:
    `<key_prefix>/<env>/<stack>.platform.json` in the state bucket, at the backend's endpoint, encrypted.

    Uses the credentials Terraform's S3 backend uses (the default boto3 chain).
    """

    SUFFIX = ".platform.json"

    def __init__(self, state: S3State, env_name: str) -> None:
        self.state = state
        self.env_name = env_name
        self._client: Any = None
        self._lock = threading.Lock()  # boto3 creates clients thread-unsafely; records are read in parallel

    def key(self, stack: str) -> str:
        return state_key(self.state, self.env_name, stack).removesuffix(".tfstate") + self.SUFFIX

    def _s3(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = _aws_clients(self.state)[0]
            return self._client

    def read(self, stack: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            return self._s3().get_object(Bucket=self.state.bucket, Key=self.key(stack))["Body"].read()  # type: ignore[no-any-return]
        except ClientError as err:
            if _error_code(err) in ("NoSuchKey", "404", "NotFound"):
                return None
            raise

    def write(self, stack: str, data: bytes) -> None:
        self._s3().put_object(Bucket=self.state.bucket, Key=self.key(stack), Body=data,
                              ContentType="application/json", ServerSideEncryption="AES256")

    def describe(self, stack: str) -> str:
        return f"s3://{self.state.bucket}/{self.key(stack)}"


def bootstrap(state: S3State) -> list[Step]:
    """The state bucket and the lock table."""
    return _s3(state)


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
