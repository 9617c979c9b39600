"""Runs at the edge, not in the SDK: the Lambda@Edge origin-request handler in front of a function URL origin.

CloudFront's origin access control signs every request to a Lambda function URL (AWS_IAM) with SigV4, and for a
request with a body Lambda accepts the signature only when `x-amz-content-sha256` carries the body's SHA-256:
Lambda does not support unsigned payloads, and CloudFront does not compute the hash itself
(https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-lambda.html).
Browsers do not send that header, so this function sets it on the origin request, before CloudFront signs it,
from the body CloudFront exposes to it (the trigger's "include body" option).

CloudFront exposes at most 1 MB of an origin request's body, base64-encoded, and marks a longer one truncated
(https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-at-edge-function-restrictions.html
#lambda-at-edge-restrictions-request-body): the hash of a truncated body would not match what Lambda receives,
so such a request is answered 413 here instead of a signature error at the origin.
Event shape: https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-event-structure.html

Standard library only; the package holds this one file (`payload_hash.handler`).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

HEADER = "x-amz-content-sha256"
BODY_LIMIT = "1 MB"
ENTRY = "payload_hash.handler"
"""The handler as Lambda names it (module `payload_hash` at the package root): how the compiler deploys it and how
the conformance analysis recognises it."""


def payload_hash(body: dict[str, Any] | None) -> str:
    """Hex SHA-256 of the request body as CloudFront exposes it (`data`, base64 or text; absent: empty)."""
    body = body or {}
    data = body.get("data") or ""
    raw = base64.b64decode(data) if body.get("encoding", "base64") == "base64" else str(data).encode()
    return hashlib.sha256(raw).hexdigest()


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """The origin request with `x-amz-content-sha256` set, or a 413 response for a body over the exposed limit."""
    request: dict[str, Any] = event["Records"][0]["cf"]["request"]
    body = request.get("body")
    if body and body.get("inputTruncated"):
        return {
            "status": "413",
            "statusDescription": "Payload Too Large",
            "headers": {"content-type": [{"key": "Content-Type", "value": "text/plain"}]},
            "body": f"request bodies through this CDN are limited to {BODY_LIMIT}",
        }
    request.setdefault("headers", {})[HEADER] = [{"key": HEADER, "value": payload_hash(body)}]
    return request
