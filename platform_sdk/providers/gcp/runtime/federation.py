"""A function on AWS reaches a Cloud Storage bucket with Google workload identity federation: no key files.

The URL synthesis injects:

    gs://<bucket>?wif_audience=<audience>&web_identity=aws
    <audience> = //iam.googleapis.com/projects/<number>/locations/global/workloadIdentityPools/<pool>/
                 providers/<provider>   (one line, no spaces)

google-auth's `external_account` credentials (AWS flavour, what `gcloud iam workload-identity-pools
create-cred-config --aws` writes: https://cloud.google.com/iam/docs/workload-identity-federation-with-other-clouds)
sign a `GetCallerIdentity` request with the Lambda's own temporary credentials (AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN and AWS_REGION, set by Lambda) and exchange it at Google's STS for a
federated access token, used on the bucket directly (no service account impersonation); google-auth refreshes it
when it expires. Workload identity federation also trusts OIDC providers; only the AWS source is wired here.

Override (tests only): `PLATFORM_GCP_STS_URL` for Google's token exchange.
Only the standard library is imported at module level; google-auth loads when a URL needs it.
"""

from __future__ import annotations

import os
from typing import Any

from platform_sdk.runtime.federation import WEB_IDENTITY, FederationError, federation_params

GCP_STS_URL_ENV = "PLATFORM_GCP_STS_URL"
GOOGLE_STS_URL = "https://sts.googleapis.com/v1/token"
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
    """Credentials for a `gs://...?wif_audience=...&web_identity=aws` URL.

    Raises:
        FederationError: the URL lacks wif_audience, or names a web identity this plug-in cannot federate from.
    """
    params = federation_params(url)
    if params.get(WEB_IDENTITY) not in SOURCES or not params.get("wif_audience"):
        raise FederationError(f"unsupported federated GCS URL {url!r}: expected wif_audience=...&web_identity=aws")
    return gcp_credentials(params["wif_audience"])
