"""`SecretsManagerSecret`: an AWS Secrets Manager secret (`secretsmanager://<name>?region=<region>[&...]`).

Reads use GetSecretValue (the value and its VersionId), the only action a function's role is granted on the
secret's ARN; writes use PutSecretValue (a new version becomes AWSCURRENT); `exists` and `has_value` use
DescribeSecret, so the CLI can tell whether a secret has a value without reading it.
https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html

URL parameters: `region`; `endpoint` (an AWS-compatible endpoint the environment file names, e.g. an emulator);
`role_arn` + `web_identity=<cloud>` for a function on another cloud (federation.py: no keys). Without `endpoint`,
`PLATFORM_SECRETSMANAGER_ENDPOINT` (the VPC interface endpoint a function in a VPC is given) and botocore's own
`AWS_ENDPOINT_URL_SECRETS_MANAGER` apply. boto3 is imported when the secret is first used; its debug logging
(which prints request and response bodies) is held at INFO around every call.
"""

from __future__ import annotations

import os
import threading
from typing import Any
from urllib.parse import unquote, urlparse

from platform_sdk.runtime.database import no_debug_logs
from platform_sdk.runtime.federation import WEB_IDENTITY, federation_params
from platform_sdk.runtime.secrets import SecretContainerMissingError, SecretValue

ENDPOINT_ENV = "PLATFORM_SECRETSMANAGER_ENDPOINT"
LOGGERS = ("botocore", "boto3", "urllib3")
CURRENT = "AWSCURRENT"


class SecretsManagerSecret:
    """One secret of AWS Secrets Manager, addressed by name."""

    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        if parsed.scheme != "secretsmanager" or not parsed.netloc:
            raise ValueError(f"not a Secrets Manager URL: {url!r} (expected secretsmanager://<name>?region=...)")
        self.url = url
        self.name = unquote(parsed.netloc)
        self.params = federation_params(url)
        self.region = self.params.get("region") or os.environ.get("AWS_REGION") or "us-east-1"
        self._client: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SecretsManagerSecret({self.name!r}, region={self.region!r})"

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                endpoint = self.params.get("endpoint") or os.environ.get(ENDPOINT_ENV) or None
                if self.params.get("role_arn") and self.params.get(WEB_IDENTITY):
                    from platform_sdk.providers.aws.runtime.federation import aws_session

                    session = aws_session(self.params["role_arn"], self.region, self.params[WEB_IDENTITY])
                else:
                    import boto3

                    session = boto3.session.Session()
                self._client = session.client("secretsmanager", region_name=self.region, endpoint_url=endpoint)
            return self._client

    @staticmethod
    def _missing(err: Exception) -> bool:
        code: object = getattr(err, "response", {}).get("Error", {}).get("Code")
        return code == "ResourceNotFoundException"

    def read(self) -> SecretValue | None:
        from botocore.exceptions import ClientError

        try:
            with no_debug_logs(*LOGGERS):
                response = self.client.get_secret_value(SecretId=self.name)
        except ClientError as err:
            if self._missing(err):  # no such secret, or no AWSCURRENT version yet
                return None
            raise
        if "SecretString" not in response:
            raise ValueError(f"secret {self.name!r} holds binary data; platform secrets are text")
        return SecretValue(str(response["SecretString"]), str(response["VersionId"]))

    def current_version(self) -> str | None:
        return None  # an API call, not a cheap check: rely on the TTL

    def write(self, value: str) -> str:
        from botocore.exceptions import ClientError

        try:
            with no_debug_logs(*LOGGERS):
                response = self.client.put_secret_value(SecretId=self.name, SecretString=value)
        except ClientError as err:
            if self._missing(err):
                raise SecretContainerMissingError(f"Secrets Manager has no secret {self.name!r} in {self.region} "
                                                  "(Terraform creates it: run `platform apply` first)") from None
            raise
        return str(response["VersionId"])

    def _describe(self) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            with no_debug_logs(*LOGGERS):
                description: dict[str, Any] = self.client.describe_secret(SecretId=self.name)
                return description
        except ClientError as err:
            if self._missing(err):
                return None
            raise

    def exists(self) -> bool:
        description = self._describe()
        return description is not None and "DeletedDate" not in description  # scheduled for deletion: gone

    def has_value(self) -> bool:
        description = self._describe() or {}
        return any(CURRENT in stages for stages in (description.get("VersionIdsToStages") or {}).values())


def open_secret(url: str) -> SecretsManagerSecret:
    """The plug-in hook `platform_sdk.runtime.secrets.open_secret` calls for `secretsmanager://` URLs."""
    return SecretsManagerSecret(url)
