"""A function on AWS reaches a Cloud Storage bucket, a secret, a Pub/Sub topic or a Cloud Functions function with Google
workload identity federation: no key files.

The URL synthesis injects (a topic: `pubsub://<project>/<topic>?...`, a secret `secretmanager://...?...`):

    gs://<bucket>?wif_audience=<audience>&web_identity=aws
    <audience> = //iam.googleapis.com/projects/<number>/locations/global/workloadIdentityPools/<pool>/
                 providers/<provider>   (one line, no spaces)

google-auth's `external_account` credentials (AWS flavour, what `gcloud iam workload-identity-pools
create-cred-config --aws` writes: https://cloud.google.com/iam/docs/workload-identity-federation-with-other-clouds)
sign a `GetCallerIdentity` request with the Lambda's own temporary credentials (AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN and AWS_REGION, set by Lambda) and exchange it at Google's STS for a
federated access token, used on the bucket directly (no service account impersonation); google-auth refreshes it
when it expires. Workload identity federation also trusts OIDC providers; only the AWS source is wired here.

Calling a function (`gcf://...&service_account=<email>`): Cloud Run admits only a Google-signed ID token, so
`federated_id_token` asks the IAM Service Account Credentials API for one, authorised by the federated token
(`POST https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/<email>:generateIdToken` with
`{"audience": <callee URL>, "includeEmail": true}` -> `{"token": ...}`; the principal set holds
roles/iam.workloadIdentityUser on that account:
https://cloud.google.com/iam/docs/reference/credentials/rest/v1/projects.serviceAccounts/generateIdToken).

Overrides (tests only): `PLATFORM_GCP_STS_URL` for Google's token exchange, `PLATFORM_IAMCREDENTIALS_URL` for the
IAM Service Account Credentials API's base URL.
Only the standard library is imported at module level; google-auth loads when a URL needs it.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from typing import Any
from urllib.parse import quote

from platform_sdk.runtime.federation import WEB_IDENTITY, FederationError, federation_params

GCP_STS_URL_ENV = "PLATFORM_GCP_STS_URL"
GOOGLE_STS_URL = "https://sts.googleapis.com/v1/token"
IAMCREDENTIALS_URL_ENV = "PLATFORM_IAMCREDENTIALS_URL"
IAMCREDENTIALS_URL = "https://iamcredentials.googleapis.com"
ID_TOKEN_MARGIN_SECONDS = 300
"""An ID token is fetched again this long before it expires (Google issues them for an hour)."""
AWS_SUBJECT_TOKEN_TYPE = "urn:ietf:params:aws:token-type:aws4_request"
AWS_VERIFICATION_URL = "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"
AWS_METADATA = "http://169.254.169.254/latest"  # only used where AWS credentials are not in the environment
GCP_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
SOURCES = ("aws",)
"""The `web_identity` values this plug-in federates from."""


def external_account_info(audience: str) -> dict[str, Any]:
    """The google-auth `external_account` configuration for an AWS workload, with no service account impersonation."""
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
    """Credentials for a `gs://...?wif_audience=...&web_identity=aws` URL (any federated URL of this plug-in).

    Raises:
        FederationError: the URL lacks wif_audience, or names a web identity this plug-in cannot federate from.
    """
    params = federation_params(url)
    if params.get(WEB_IDENTITY) not in SOURCES or not params.get("wif_audience"):
        raise FederationError(f"unsupported federated GCP URL {url!r}: expected wif_audience=...&web_identity=aws")
    return gcp_credentials(params["wif_audience"])


_id_tokens: dict[tuple[str, str, str], tuple[str, float]] = {}
_id_tokens_lock = threading.Lock()


def _expiry(token: str) -> float:
    """The `exp` claim of a JWT (seconds since the epoch), read without verifying it (the token is ours to present,
    not to trust); an unreadable token counts as expiring now, so it is used once and fetched again."""
    try:
        payload = token.split(".")[1]
        return float(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["exp"])
    except (IndexError, KeyError, TypeError, ValueError):
        return time.time()


def federated_id_token(url: str, audience: str) -> str:
    """A Google-signed ID token for `audience` (the callee's URL), of the service account a `gcf://...&wif_audience=
    ...&web_identity=aws&service_account=<email>` URL names, from generateIdToken authorised by the federated token;
    cached until ID_TOKEN_MARGIN_SECONDS before it expires.

    Raises:
        FederationError: the URL lacks the federation parameters, or the IAM Credentials API refused or failed.
    """
    params = federation_params(url)
    email = params.get("service_account", "")
    if params.get(WEB_IDENTITY) not in SOURCES or not params.get("wif_audience") or not email:
        raise FederationError(f"unsupported federated function URL {url!r}: expected wif_audience=...&"
                              "web_identity=aws&service_account=<email>")
    key = (params["wif_audience"], email, audience)
    with _id_tokens_lock:
        cached = _id_tokens.get(key)
        if cached is not None and cached[1] - ID_TOKEN_MARGIN_SECONDS > time.time():
            return cached[0]
        from google.auth.transport.requests import AuthorizedSession

        base = (os.environ.get(IAMCREDENTIALS_URL_ENV) or IAMCREDENTIALS_URL).rstrip("/")
        endpoint = f"{base}/v1/projects/-/serviceAccounts/{quote(email, safe='@')}:generateIdToken"
        session = AuthorizedSession(gcp_credentials(params["wif_audience"]))
        try:
            response = session.post(endpoint, json={"audience": audience, "includeEmail": True}, timeout=30)
        except Exception as exc:  # noqa: BLE001 - google-auth raises its own and requests' errors
            raise FederationError(f"generateIdToken for {email} failed: {exc}") from exc
        if response.status_code != 200:
            raise FederationError(f"generateIdToken for {email} was refused (HTTP {response.status_code}): "
                                  f"{response.text[:300]}")
        token = str(response.json().get("token") or "")
        if not token:
            raise FederationError(f"generateIdToken for {email} returned no token")
        _id_tokens[key] = (token, _expiry(token))
        return token
