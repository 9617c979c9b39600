"""`SecretManagerSecret`: a GCP Secret Manager secret (`secretmanager://<project>/<secret id>[?...]`).

Reads use AccessSecretVersion on `versions/latest` (the one permission `roles/secretmanager.secretAccessor`
gives); writes use AddSecretVersion; `exists` and `has_value` use GetSecret and ListSecretVersions (enabled
versions only), so the CLI can tell whether a secret has a value without reading it.
https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets.versions/access

The project comes from the URL; an empty one (the environment file names none) is the credentials' project
(`google.auth.default()`). A function on AWS carries `wif_audience=...&web_identity=aws` and exchanges its AWS
identity for a Google token (federation.py: no key files). Override (tests and emulators only):
`PLATFORM_SECRETMANAGER_ENDPOINT`, a plain-HTTP endpoint used with anonymous credentials over REST.
google-cloud-secret-manager is imported when the secret is first used; its loggers are held at INFO around calls.
"""

from __future__ import annotations

import os
import threading
from typing import Any
from urllib.parse import urlparse

from platform_sdk.runtime.database import no_debug_logs
from platform_sdk.runtime.federation import WEB_IDENTITY, federation_params
from platform_sdk.runtime.secrets import SecretContainerMissingError, SecretValue

ENDPOINT_ENV = "PLATFORM_SECRETMANAGER_ENDPOINT"
LOGGERS = ("google", "urllib3", "grpc")


class SecretManagerSecret:
    """One secret of GCP Secret Manager."""

    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        secret_id = parsed.path.strip("/")
        if parsed.scheme != "secretmanager" or not secret_id or "/" in secret_id:
            raise ValueError(f"not a Secret Manager URL: {url!r} (expected secretmanager://<project>/<secret id>)")
        self.url = url
        self.secret_id = secret_id
        self.params = federation_params(url)
        self._project = parsed.netloc or None
        self._client: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SecretManagerSecret({self.url!r})"

    @property
    def project(self) -> str:
        if self._project is None:
            import google.auth

            _, project = google.auth.default()
            if not project:
                raise ValueError(f"secret {self.secret_id!r}: no project in its URL and none in the credentials")
            self._project = str(project)
        return self._project

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                from google.cloud import secretmanager

                endpoint = os.environ.get(ENDPOINT_ENV)
                if endpoint:  # tests / emulators: plain HTTP, no credentials
                    from google.auth.credentials import AnonymousCredentials

                    self._client = secretmanager.SecretManagerServiceClient(
                        credentials=AnonymousCredentials(), transport="rest",
                        client_options={"api_endpoint": endpoint})
                elif self.params.get(WEB_IDENTITY) and self.params.get("wif_audience"):
                    from platform_sdk.providers.gcp.runtime.federation import gcp_credentials

                    credentials = gcp_credentials(self.params["wif_audience"])
                    self._client = secretmanager.SecretManagerServiceClient(credentials=credentials)
                else:
                    self._client = secretmanager.SecretManagerServiceClient()
            return self._client

    def _path(self) -> str:
        """`projects/<project>/secrets/<secret id>`."""
        return f"projects/{self.project}/secrets/{self.secret_id}"

    def read(self) -> SecretValue | None:
        from google.api_core import exceptions

        try:
            with no_debug_logs(*LOGGERS):
                response = self.client.access_secret_version(name=f"{self._path()}/versions/latest")
        except (exceptions.NotFound, exceptions.FailedPrecondition):
            return None  # no such secret, no version yet, or the latest version is disabled
        version = str(response.name).rsplit("/", 1)[-1]
        return SecretValue(bytes(response.payload.data).decode("utf-8"), version)

    def current_version(self) -> str | None:
        return None  # an API call, not a cheap check: rely on the TTL

    def write(self, value: str) -> str:
        from google.api_core import exceptions

        try:
            with no_debug_logs(*LOGGERS):
                version = self.client.add_secret_version(parent=self._path(),
                                                         payload={"data": value.encode("utf-8")})
        except exceptions.NotFound:
            raise SecretContainerMissingError(f"Secret Manager has no secret {self._path()} (Terraform creates it: "
                                              "run `platform apply` first)") from None
        return str(version.name).rsplit("/", 1)[-1]

    def exists(self) -> bool:
        from google.api_core import exceptions

        try:
            with no_debug_logs(*LOGGERS):
                self.client.get_secret(name=self._path())
        except exceptions.NotFound:
            return False
        return True

    def has_value(self) -> bool:
        from google.api_core import exceptions

        try:
            with no_debug_logs(*LOGGERS):
                versions = self.client.list_secret_versions(request={"parent": self._path(),
                                                                     "filter": "state:ENABLED"})
                return any(True for _ in versions)
        except exceptions.NotFound:
            return False


def open_secret(url: str) -> SecretManagerSecret:
    """The plug-in hook `platform_sdk.runtime.secrets.open_secret` calls for `secretmanager://` URLs."""
    return SecretManagerSecret(url)
