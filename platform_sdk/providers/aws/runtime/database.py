"""RDS from a Lambda: each function connects as its own database user with an IAM authentication token; TLS.

The URL synthesis injects a function: `postgres://<user>@<host>:<port>/<db>?auth=iam&region=<region>&cloud=aws`
(`mysql://...` for MySQL). The password is an IAM authentication token: a SigV4-presigned `rds-db:connect` request
the runtime signs locally with the function's role credentials (boto3 `generate_db_auth_token`, no API call, so no
network path is needed for it), valid for 15 minutes, which RDS checks against the role's `rds-db:connect`
permission on `arn:aws:rds-db:<region>:<account>:dbuser:<DbiResourceId>/<user>`. RDS User Guide, "IAM database
authentication": https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.Connecting.html.
IAM authentication requires TLS (TCP_SSLMODE).

The platform's database setup (`dbsetup`) connects as the master user instead, with RDS's managed master-user secret
(`?secret=<Secrets Manager ARN>`, JSON {"username", "password", ...}; "Password management with Amazon RDS and AWS
Secrets Manager": https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html).

Override (tests only): `PLATFORM_SECRETSMANAGER_ENDPOINT`. boto3 is imported only when a database is connected.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from platform_sdk.runtime.database import Credentials, no_debug_logs, parse_secret

TCP_SSLMODE = "require"
"""RDS accepts TLS on every instance, and IAM authentication requires it (sslmode=verify-full with the RDS CA bundle
verifies the server too)."""

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


def iam_auth_token(host: str, port: int, user: str, params: Mapping[str, str]) -> str:
    """An RDS IAM authentication token for `user` at `host:port`, signed with the function's role credentials
    (the URL's `region`, else the Lambda's AWS_REGION)."""
    import boto3

    region = params.get("region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    with no_debug_logs("botocore", "boto3", "urllib3"):
        client = boto3.client("rds", region_name=region)
        return str(client.generate_db_auth_token(DBHostname=host, Port=port, DBUsername=user, Region=region))
