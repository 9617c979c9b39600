"""Keyless credentials for a granted bucket on another cloud, built from what the platform put in its URL.

Synthesis injects `PLATFORM_BUCKET_<NAME>` URLs; a bucket on the function's own cloud is a plain `s3://name` or
`gs://name` (the function's own identity reaches it). A bucket on the other cloud carries how to federate:

- GCP function -> S3 bucket (AWS web identity federation):

      s3://<bucket>?role_arn=arn:aws:iam::<account>:role/<role>&web_identity=gcp&region=<aws region>

  The function asks the metadata server for a Google ID token of its service account with the role ARN as
  audience (`.../service-accounts/default/identity?audience=<role ARN>&format=full`), then calls STS
  `AssumeRoleWithWebIdentity` (an unsigned call: no AWS keys anywhere) and signs S3 requests with the temporary
  credentials. Why that audience: a service account's ID token carries `azp` = `sub` = the account's unique id
  and `aud` = the requested audience. AWS compares `accounts.google.com:aud` with `azp` (when present) and
  exposes the token's `aud` as `accounts.google.com:oaud`; the role's trust pins both, so the unique id says who,
  and the role ARN as audience makes the token useless for any other relying party.
  Credentials are refreshed by botocore before they expire (STS issues them for an hour; botocore refreshes
  15 minutes ahead, and blocks for a refresh in the last 10).

- AWS function -> GCS bucket (Google workload identity federation):

      gs://<bucket>?wif_audience=<audience>&web_identity=aws
      <audience> = //iam.googleapis.com/projects/<number>/locations/global/workloadIdentityPools/<pool>/
                   providers/<provider>   (one line, no spaces)

  google-auth's `external_account` credentials (AWS flavour) sign a `GetCallerIdentity` request with the
  Lambda's own temporary credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN and
  AWS_REGION, set by Lambda) and exchange it at Google's STS for a federated access token, used on the bucket
  directly (no service account impersonation); google-auth refreshes it when it expires.

Overrides (tests and emulators only): `GCE_METADATA_HOST` (the metadata server's host[:port], the variable
google-auth itself honours), `PLATFORM_STS_ENDPOINT` (else `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`) for AWS STS,
`PLATFORM_GCP_STS_URL` for Google's token exchange.

Only the standard library is imported at module level; boto3 / google-auth load when a URL needs them.
"""

from __future__ import annotations

import os
import re
import urllib.request
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

WEB_IDENTITY = "web_identity"
METADATA_HOST_ENV = "GCE_METADATA_HOST"
DEFAULT_METADATA_HOST = "metadata.google.internal"
IDENTITY_PATH = "/computeMetadata/v1/instance/service-accounts/default/identity"
STS_ENDPOINT_ENVS = ("PLATFORM_STS_ENDPOINT", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL")
GCP_STS_URL_ENV = "PLATFORM_GCP_STS_URL"
GOOGLE_STS_URL = "https://sts.googleapis.com/v1/token"
AWS_SUBJECT_TOKEN_TYPE = "urn:ietf:params:aws:token-type:aws4_request"
AWS_VERIFICATION_URL = "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"
AWS_METADATA = "http://169.254.169.254/latest"  # only used where AWS credentials are not in the environment
GCP_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
SESSION_SECONDS = 3600
METADATA_TIMEOUT = 5.0


class FederationError(RuntimeError):
    """A federated bucket URL could not be turned into credentials (malformed URL, metadata server, STS)."""


def federation_params(url: str) -> dict[str, str]:
    """The URL's query as a dict (first value of each key); empty for a plain bucket URL."""
    query = urlparse(url).query
    return {key: values[0] for key, values in parse_qs(query, keep_blank_values=True).items()}


def is_federated(url: str) -> bool:
    return WEB_IDENTITY in federation_params(url)


def session_name() -> str:
    """An STS session name naming the function: `service.function`, only the characters STS accepts."""
    service = os.environ.get("PLATFORM_SERVICE", "")
    function = os.environ.get("PLATFORM_FUNCTION", "")
    name = ".".join(part for part in (service, function) if part) or "platform-function"
    name = re.sub(r"[^\w+=,.@-]", "-", name)[:64]
    return name if len(name) >= 2 else f"{name}-fn"


# -- GCP function -> S3 -------------------------------------------------------------------------------------------
def google_id_token(audience: str, *, host: str | None = None, timeout: float = METADATA_TIMEOUT) -> str:
    """The running service account's ID token for `audience`, from the metadata server (never through a proxy)."""
    host = host or os.environ.get(METADATA_HOST_ENV) or DEFAULT_METADATA_HOST
    url = f"http://{host}{IDENTITY_PATH}?{urlencode({'audience': audience, 'format': 'full'})}"
    request = urllib.request.Request(url, headers={"Metadata-Flavor": "Google"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            if response.headers.get("Metadata-Flavor") != "Google":
                raise FederationError(f"{host} did not answer as a GCP metadata server (no Metadata-Flavor header)")
            token = response.read().decode("utf-8").strip()
    except OSError as exc:
        raise FederationError(f"could not get an ID token from the metadata server at {host}: {exc}") from exc
    if not token:
        raise FederationError(f"the metadata server at {host} returned an empty ID token")
    return token


def sts_endpoint() -> str | None:
    return next((os.environ[name] for name in STS_ENDPOINT_ENVS if os.environ.get(name)), None)


def assume_role_with_web_identity(role_arn: str, region: str, *, endpoint_url: str | None = None) -> dict[str, Any]:
    """Temporary credentials for `role_arn`, in botocore's refresh format (access_key, secret_key, token,
    expiry_time). The STS call is unsigned: the ID token is the only proof of identity."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    token = google_id_token(role_arn)
    sts = boto3.session.Session().client("sts", region_name=region, endpoint_url=endpoint_url or sts_endpoint(),
                                         config=Config(signature_version=UNSIGNED))
    response = sts.assume_role_with_web_identity(RoleArn=role_arn, RoleSessionName=session_name(),
                                                 WebIdentityToken=token, DurationSeconds=SESSION_SECONDS)
    credentials = response["Credentials"]
    expiry = credentials["Expiration"]
    return {
        "access_key": credentials["AccessKeyId"],
        "secret_key": credentials["SecretAccessKey"],
        "token": credentials["SessionToken"],
        "expiry_time": expiry.isoformat() if hasattr(expiry, "isoformat") else str(expiry),
    }


def aws_session(role_arn: str, region: str, *, endpoint_url: str | None = None) -> Any:
    """A boto3 Session whose credentials come from AssumeRoleWithWebIdentity, fetched on first use and
    refreshed before they expire."""
    import boto3
    import botocore.session
    from botocore.credentials import CredentialProvider, CredentialResolver, DeferredRefreshableCredentials

    def fetch() -> dict[str, Any]:
        return assume_role_with_web_identity(role_arn, region, endpoint_url=endpoint_url)

    class WebIdentityFromMetadata(CredentialProvider):  # type: ignore[misc]
        METHOD = "assume-role-with-web-identity"
        CANONICAL_NAME = "platform-gcp-web-identity"

        def load(self) -> Any:
            return DeferredRefreshableCredentials(refresh_using=fetch, method=self.METHOD)

    core = botocore.session.Session()
    core.register_component("credential_provider", CredentialResolver([WebIdentityFromMetadata()]))
    return boto3.session.Session(botocore_session=core, region_name=region)


def s3_session_for(url: str, *, endpoint_url: str | None = None) -> tuple[Any, str | None]:
    """(boto3 Session, region) for an `s3://...?role_arn=...&web_identity=gcp` URL."""
    params = federation_params(url)
    if params.get(WEB_IDENTITY) != "gcp" or not params.get("role_arn"):
        raise FederationError(f"unsupported federated S3 URL {url!r}: expected role_arn=...&web_identity=gcp")
    region = params.get("region") or os.environ.get("AWS_REGION") or "us-east-1"
    return aws_session(params["role_arn"], region, endpoint_url=endpoint_url), region


# -- AWS function -> GCS ------------------------------------------------------------------------------------------
def external_account_info(audience: str) -> dict[str, Any]:
    """The google-auth `external_account` configuration for an AWS workload (what `gcloud iam
    workload-identity-pools create-cred-config --aws` writes), with no service account impersonation."""
    return {
        "type": "external_account",
        "audience": audience,
        "subject_token_type": AWS_SUBJECT_TOKEN_TYPE,
        "token_url": os.environ.get(GCP_STS_URL_ENV) or GOOGLE_STS_URL,
        "credential_source": {
            "environment_id": "aws1",
            # Used only when AWS_REGION / AWS_ACCESS_KEY_ID... are not in the environment (Lambda sets them).
            "region_url": f"{AWS_METADATA}/meta-data/placement/availability-zone",
            "url": f"{AWS_METADATA}/meta-data/iam/security-credentials",
            "regional_cred_verification_url": AWS_VERIFICATION_URL,
        },
    }


def gcp_credentials(audience: str) -> Any:
    """google-auth credentials exchanging the Lambda's AWS identity for a federated Google access token."""
    from google.auth import aws

    return aws.Credentials.from_info(external_account_info(audience), scopes=list(GCP_SCOPES))


def gcs_credentials_for(url: str) -> Any:
    """Credentials for a `gs://...?wif_audience=...&web_identity=aws` URL."""
    params = federation_params(url)
    if params.get(WEB_IDENTITY) != "aws" or not params.get("wif_audience"):
        raise FederationError(f"unsupported federated GCS URL {url!r}: expected wif_audience=...&web_identity=aws")
    return gcp_credentials(params["wif_audience"])
