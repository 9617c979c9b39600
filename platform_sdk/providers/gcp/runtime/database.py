"""Cloud SQL (PostgreSQL, MySQL) from a Cloud Function: the password comes from Secret Manager; the connection
goes through the Cloud SQL unix socket or the Cloud SQL Python Connector.

The URL synthesis injects a function: `postgres://<IAM user>@/<db>?instance=<project:region:instance>&auth=iam&
cloud=gcp` (`mysql://...` for MySQL): the function's own Cloud SQL IAM database user, signed in by the connector with
the function's service account (`enable_iam_auth`, https://cloud.google.com/sql/docs/postgres/iam-logins), no
password anywhere. A URL with `?secret=<secret>` instead reads a password from Secret Manager (a built-in user).
The secret (a Secret Manager id, `projects/P/secrets/S`, or a full version name) holds the password, as plain text
or as {"username", "password"} JSON. Connection, first that applies:
1. the Cloud SQL unix socket `/cloudsql/<instance>/.s.PGSQL.5432` (pg8000 `unix_sock`; MySQL: `/cloudsql/<instance>`
   with PyMySQL), present when the Cloud Run
   service has the instance attached: zero extra packages
   (https://cloud.google.com/sql/docs/postgres/connect-run#connect_to);
2. the Cloud SQL Python Connector (`cloud-sql-python-connector`, IAM-authorised, mTLS). Cloud Functions gen2
   deployed through Terraform cannot attach the instance (the google_cloudfunctions2_function resource has no such
   setting) and the GCP compiler sets `connector_enforcement = REQUIRED`, so on GCP this is the path in practice;
   synthesis adds the connector to the function's requirements.txt when it has a database grant.
A URL with a host (`postgres://user@10.1.2.3:5432/db?...`) connects over TCP (private IP) with TLS by default.

Overrides (tests only): `PLATFORM_SECRETMANAGER_ENDPOINT` (plain HTTP, no credentials), `PLATFORM_CLOUDSQL_SOCKET_DIR`.
google-cloud-*, pg8000 and PyMySQL are imported only when a database is connected.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from platform_sdk.runtime.database import Credentials, DatabaseConfigError, no_debug_logs, parse_secret

if TYPE_CHECKING:
    from platform_sdk.runtime.database import Database

TCP_SSLMODE = "require"
"""Cloud SQL private IP connections: encrypt by default."""

CLOUDSQL_SOCKET_DIR = "/cloudsql"
SOCKET_DIR_ENV = "PLATFORM_CLOUDSQL_SOCKET_DIR"
ENDPOINT_ENV = "PLATFORM_SECRETMANAGER_ENDPOINT"

_connector: Any = None  # google.cloud.sql.connector.Connector, created on first use
_connector_lock = threading.Lock()


def secret_version_name(secret: str, instance: str | None) -> str:
    """The full version name to access: `projects/<project>/secrets/<id>/versions/<version, default latest>`.

    A bare id takes its project from GOOGLE_CLOUD_PROJECT, GCP_PROJECT or the instance's connection name.

    Raises:
        DatabaseConfigError: a bare id and no project to put it in.
    """
    if secret.startswith("projects/"):
        return secret if "/versions/" in secret else f"{secret}/versions/latest"
    project = (os.environ.get("GOOGLE_CLOUD_PROJECT") or os.environ.get("GCP_PROJECT")
               or (instance.split(":")[0] if instance and ":" in instance else None))
    if not project:
        raise DatabaseConfigError(f"secret {secret!r} has no project: use projects/<project>/secrets/<id>")
    return f"projects/{project}/secrets/{secret}/versions/latest"


def fetch_credentials(secret: str, params: Mapping[str, str]) -> Credentials:
    """The password (and user, if JSON) in the Secret Manager secret `secret`."""
    from google.cloud import secretmanager  # lazily: only functions that connect pay for it

    endpoint = os.environ.get(ENDPOINT_ENV)
    if endpoint:  # tests / emulators: plain HTTP, no credentials
        from google.auth.credentials import AnonymousCredentials

        client = secretmanager.SecretManagerServiceClient(
            credentials=AnonymousCredentials(), transport="rest", client_options={"api_endpoint": endpoint})
    else:
        client = secretmanager.SecretManagerServiceClient()
    with no_debug_logs("google", "urllib3", "grpc"):
        response = client.access_secret_version(name=secret_version_name(secret, params.get("instance")))
    return parse_secret(response.payload.data.decode("utf-8"))


def connect_without_host(database: Database, kwargs: dict[str, Any]) -> Any:
    """A connection to the URL's `instance`: its unix socket when attached, else the Cloud SQL connector.

    PostgreSQL (pg8000) listens on `/cloudsql/<instance>/.s.PGSQL.5432`, MySQL (PyMySQL) on `/cloudsql/<instance>`
    (https://cloud.google.com/sql/docs/mysql/connect-run#connect_to). `kwargs` are the driver's keyword arguments
    (user, password, database, ...).

    Raises:
        DatabaseConfigError: no `instance` parameter, or neither the socket nor the connector is available (not
            installed, or no Google credentials for it).
    """
    instance = database.params.get("instance")
    if not instance:
        raise DatabaseConfigError(f"database {database.name!r}: URL has neither a host nor ?instance=")
    socket_dir = Path(os.environ.get(SOCKET_DIR_ENV, CLOUDSQL_SOCKET_DIR))
    mysql = database.engine == "mysql"
    iam = database.params.get("auth") == "iam"
    sock = socket_dir / instance if mysql else socket_dir / instance / f".s.PGSQL.{database.parsed.port or 5432}"
    if sock.exists() and not iam:
        if mysql:
            import pymysql

            return pymysql.connect(unix_socket=str(sock), **kwargs)
        import pg8000.dbapi

        return pg8000.dbapi.connect(unix_sock=str(sock), **kwargs)
    try:
        from google.cloud.sql.connector import Connector
    except ImportError:
        raise DatabaseConfigError(
            f"database {database.name!r}: no Cloud SQL socket at {sock}. Attach the instance {instance!r} to the "
            "function's service (Cloud SQL connection), or add cloud-sql-python-connector to requirements.txt"
        ) from None
    from google.auth.exceptions import DefaultCredentialsError

    global _connector
    with _connector_lock:
        if _connector is None:  # one per process: each Connector runs a background refresh thread
            try:
                _connector = Connector()
            except DefaultCredentialsError:
                raise DatabaseConfigError(
                    f"database {database.name!r}: no Cloud SQL socket at {sock}, and the Cloud SQL connector found "
                    f"no Google credentials to reach {instance!r} with. Attach the instance to the function's "
                    "service (Cloud SQL connection), or run where Application Default Credentials exist"
                ) from None
    if iam:  # an IAM database user: the connector signs in with the function's service account, no password
        return _connector.connect(instance, "pymysql" if mysql else "pg8000", user=kwargs["user"],
                                  db=kwargs["database"], enable_iam_auth=True)
    return _connector.connect(instance, "pymysql" if mysql else "pg8000", user=kwargs["user"],
                              password=kwargs["password"], db=kwargs["database"])
