"""Lambda: `GetFunction` (+ `GetFunctionUrlConfig`) per function; drift compares `CodeSha256`.

Lambda's CodeSha256 is base64 of the raw sha256 of the zip, so it compares exactly with the package's hex
sha256 (the compiler sets `source_code_hash` the same way). `clouds.aws.endpoint` points boto3 at an
AWS-compatible endpoint (moto in tests).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from platform_sdk.providers.aws.config import aws_config
from platform_sdk.providers.base import NOT_FOUND, UNKNOWN, FunctionRef, FunctionStatus, unresolved


def lambda_client(env: Any, region: str | None = None) -> Any:
    import boto3

    aws = aws_config(env)
    return boto3.client("lambda", region_name=region or (aws.region if aws else None),
                        endpoint_url=aws.endpoint if aws else None)


def code_sha256_to_hex(value: str | None) -> str | None:
    """Lambda's base64 CodeSha256 as hex (None if it is not a sha256)."""
    if not value:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 32 else None


def _error_code(err: Exception) -> str:
    response = getattr(err, "response", None) or {}
    return str((response.get("Error") or {}).get("Code") or "")


def function_status(client: Any, ref: FunctionRef) -> FunctionStatus:
    """One GetFunction call; NotFound when Lambda has no such function."""
    from botocore.exceptions import BotoCoreError, ClientError

    if unresolved(ref.name):
        return FunctionStatus.of(ref, UNKNOWN, detail=f"name is only known after apply: {ref.name}")
    try:
        config = client.get_function(FunctionName=ref.name)["Configuration"]
    except ClientError as err:
        if _error_code(err) == "ResourceNotFoundException":
            return FunctionStatus.of(ref, NOT_FOUND, detail="not deployed")
        return FunctionStatus.of(ref, UNKNOWN, detail=f"Lambda GetFunction failed: {err}")
    except BotoCoreError as err:
        return FunctionStatus.of(ref, UNKNOWN, detail=f"Lambda GetFunction failed: {err}")
    try:
        url = client.get_function_url_config(FunctionName=ref.name).get("FunctionUrl")
    except (ClientError, BotoCoreError):
        url = None  # no function URL (not HTTP-triggered), or not allowed to read it: not a status problem
    state = str(config.get("State") or "Active")
    update = config.get("LastUpdateStatus")
    if update and update != "Successful":
        state += f" (last update {update})"
    return FunctionStatus.of(
        ref, state, url=url, runtime=config.get("Runtime"), code_hash=code_sha256_to_hex(config.get("CodeSha256")),
        last_update=str(config.get("LastModified") or "") or None,
        detail=config.get("StateReason") or config.get("LastUpdateStatusReason"),
    )


def checks(env: Any, refs: list[FunctionRef], client: Any = None) -> list[Callable[[], FunctionStatus]]:
    """One callable per function (run in parallel by the caller); one client per region."""
    clients: dict[str | None, Any] = {}
    out: list[Callable[[], FunctionStatus]] = []
    for ref in refs:
        if client is None and ref.region not in clients:
            try:
                clients[ref.region] = lambda_client(env, ref.region)
            except Exception as err:  # noqa: BLE001 - reported per function, the other clouds still answer
                clients[ref.region] = err
        chosen = client if client is not None else clients[ref.region]
        if isinstance(chosen, Exception):
            out.append(lambda ref=ref, err=chosen: FunctionStatus.of(ref, UNKNOWN, detail=f"no Lambda client: {err}"))
        else:
            out.append(lambda ref=ref, c=chosen: function_status(c, ref))
    return out
