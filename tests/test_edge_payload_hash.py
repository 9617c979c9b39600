"""The Lambda@Edge origin-request function in front of a function URL origin (issue 14.1): it sets the body's
SHA-256 in x-amz-content-sha256 before CloudFront's origin access control signs the request, as Lambda requires
for POST and PUT. Events follow the documented origin-request shape (CloudFront "include body")."""

from __future__ import annotations

import base64
import copy
import hashlib
import zipfile
from pathlib import Path
from typing import Any

from platform_sdk.providers.aws import edge, payload_hash

EVENT: dict[str, Any] = {"Records": [{"cf": {
    "config": {"distributionDomainName": "d111111abcdef8.cloudfront.net", "distributionId": "EDFDVBD6EXAMPLE",
               "eventType": "origin-request", "requestId": "4TyzHTaYWb1GX1qTfsHhEqV6HUDd_BzoBZnwfnvQc_1oF26ClkoUSEQ=="},
    "request": {
        "clientIp": "203.0.113.178",
        "method": "POST",
        "uri": "/feedback",
        "querystring": "",
        "headers": {"host": [{"key": "Host", "value": "abc.lambda-url.eu-west-1.on.aws"}],
                    "content-type": [{"key": "Content-Type", "value": "application/json"}]},
        "origin": {"custom": {"domainName": "abc.lambda-url.eu-west-1.on.aws", "port": 443, "protocol": "https",
                              "path": "", "sslProtocols": ["TLSv1.2"], "readTimeout": 30, "keepaliveTimeout": 5,
                              "customHeaders": {}}},
        "body": {"inputTruncated": False, "action": "read-only", "encoding": "base64", "data": ""},
    },
}}]}


def _event(body: bytes, truncated: bool = False, method: str = "POST") -> dict[str, Any]:
    event = copy.deepcopy(EVENT)
    request = event["Records"][0]["cf"]["request"]
    request["method"] = method
    request["body"].update(data=base64.b64encode(body).decode(), inputTruncated=truncated)
    return event


def test_the_body_hash_is_set_on_the_origin_request() -> None:
    body = '{"stars": 5, "text": "grüße"}'.encode()
    request = payload_hash.handler(_event(body))
    assert request["headers"]["x-amz-content-sha256"] == [
        {"key": "x-amz-content-sha256", "value": hashlib.sha256(body).hexdigest()}]
    assert request["headers"]["host"] == EVENT["Records"][0]["cf"]["request"]["headers"]["host"]  # untouched
    assert request["uri"] == "/feedback" and request["method"] == "POST"


def test_a_viewer_supplied_hash_is_replaced_and_a_get_gets_the_empty_hash() -> None:
    event = _event(b"real body")
    event["Records"][0]["cf"]["request"]["headers"]["x-amz-content-sha256"] = [
        {"key": "X-Amz-Content-Sha256", "value": "UNSIGNED-PAYLOAD"}]
    assert payload_hash.handler(event)["headers"]["x-amz-content-sha256"][0]["value"] == \
        hashlib.sha256(b"real body").hexdigest()
    get = copy.deepcopy(EVENT)
    request = get["Records"][0]["cf"]["request"]
    request["method"] = "GET"
    del request["body"]
    assert payload_hash.handler(get)["headers"]["x-amz-content-sha256"][0]["value"] == hashlib.sha256(b"").hexdigest()


def test_a_text_encoded_body_is_hashed_as_utf8() -> None:
    event = _event(b"")
    event["Records"][0]["cf"]["request"]["body"].update(encoding="text", data="a=1&b=2")
    assert payload_hash.handler(event)["headers"]["x-amz-content-sha256"][0]["value"] == \
        hashlib.sha256(b"a=1&b=2").hexdigest()


def test_a_truncated_body_is_answered_413_not_signed_wrongly() -> None:
    response = payload_hash.handler(_event(b"x" * 1024, truncated=True))
    assert response["status"] == "413" and "1 MB" in response["body"]
    assert response["headers"]["content-type"] == [{"key": "Content-Type", "value": "text/plain"}]


def test_the_package_is_the_module_alone_and_byte_identical(tmp_path: Path) -> None:
    first, digest = edge.package(tmp_path / "one")
    second, again = edge.package(tmp_path / "two")
    assert first.read_bytes() == second.read_bytes() and digest == again
    with zipfile.ZipFile(first) as archive:
        (info,) = archive.infolist()
        assert info.filename == "payload_hash.py" and info.external_attr >> 16 == 0o644
        assert archive.read(info) == Path(payload_hash.__file__).read_bytes()
