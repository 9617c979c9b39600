"""RDS PostgreSQL from a Lambda: the password comes from Secrets Manager; connections use TLS by default.

The URL synthesis injects: `postgres://<user>@<host>:<port>/<db>?secret=<Secrets Manager ARN>&cloud=aws`. The
secret is RDS's managed master-user secret, JSON {"username", "password", ...} (RDS User Guide, "Password management
with Amazon RDS and AWS Secrets Manager": https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html).

Override (tests only): `PLATFORM_SECRETSMANAGER_ENDPOINT`. boto3 is imported only when a secret is fetched.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from platform_sdk.runtime.database import Credentials, no_debug_logs, parse_secret

TCP_SSLMODE = "require"
"""RDS accepts TLS on every instance: encrypt by default (sslmode=verify-full with the RDS CA bundle verifies too)."""

ENDPOINT_ENV = "PLATFORM_SECRETSMANAGER_ENDPOINT"


def fetch_credentials(secret: str, params: Mapping[str, str]) -> Credentials:
    """The user and password in the Secrets Manager secret `secret` (an ARN; its region is used when it has one)."""
    import boto3  # lazily: only functions that connect pay for it

    parts = secret.split(":")
    region = parts[3] if len(parts) > 6 and parts[0] == "arn" else None
    with no_debug_logs("botocore", "boto3", "urllib3"):
        client = boto3.client("secretsmanager", region_name=region or None,
                              endpoint_url=os.environ.get(ENDPOINT_ENV) or None)
        return parse_secret(str(client.get_secret_value(SecretId=secret)["SecretString"]))
