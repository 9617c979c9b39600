"""A function on another cloud reaches an S3 bucket with AWS web identity federation: no AWS keys anywhere.

The URL synthesis injects:

    s3://<bucket>?role_arn=arn:aws:iam::<account>:role/<role>&web_identity=<cloud>&region=<aws region>

The function gets an OpenID Connect ID token of its own identity with the role ARN as audience from its own
cloud's plug-in (`platform_sdk.runtime.federation.id_token`; on GCP the metadata server's service-account ID
token), then calls STS `AssumeRoleWithWebIdentity` (an unsigned call: the token is the only proof of identity,
https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html) and signs S3 requests with
the temporary credentials. Why that audience, on GCP: a service account's ID token carries `azp` = `sub` = the
account's unique id and `aud` = the requested audience. AWS compares `accounts.google.com:aud` with `azp` (when
present) and exposes the token's `aud` as `accounts.google.com:oaud`; the role's trust pins both, so the unique id
says who, and the role ARN as audience makes the token useless for any other relying party. Credentials are
refreshed by botocore before they expire (STS issues them for SESSION_SECONDS; botocore refreshes 15 minutes ahead,
and blocks for a refresh in the last 10).

Override (tests and emulators only): `PLATFORM_STS_ENDPOINT` (else `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`).
Only the standard library is imported at module level; boto3 loads when a URL needs it.
"""

from __future__ import annotations

import os
from typing import Any

from platform_sdk.runtime.federation import WEB_IDENTITY, FederationError, federation_params, id_token, session_name

STS_ENDPOINT_ENVS = ("PLATFORM_STS_ENDPOINT", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL")
SESSION_SECONDS = 3600
"""Lifetime of the temporary credentials asked for, in seconds (STS default and our maximum)."""


def sts_endpoint() -> str | None:
    """The STS endpoint override from STS_ENDPOINT_ENVS (first set wins), else None (AWS's regional endpoint)."""
    return next((os.environ[name] for name in STS_ENDPOINT_ENVS if os.environ.get(name)), None)


def assume_role_with_web_identity(role_arn: str, region: str, source: str, *,
                                  endpoint_url: str | None = None) -> dict[str, Any]:
    """Temporary credentials for `role_arn`, proven by an ID token of this function on plug-in `source`'s cloud.

    Returns botocore's refresh format: {"access_key", "secret_key", "token", "expiry_time" (ISO 8601)}.

    Raises:
        FederationError: no ID token could be had.
        botocore.exceptions.ClientError: STS refused (e.g. the role does not trust this identity).
    """
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    token = id_token(source, role_arn)
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


def aws_session(role_arn: str, region: str, source: str, *, endpoint_url: str | None = None) -> Any:
    """A boto3 Session whose credentials come from AssumeRoleWithWebIdentity, fetched on first use and
    refreshed before they expire."""
    import boto3
    import botocore.session
    from botocore.credentials import CredentialProvider, CredentialResolver, DeferredRefreshableCredentials

    def fetch() -> dict[str, Any]:
        return assume_role_with_web_identity(role_arn, region, source, endpoint_url=endpoint_url)

    class WebIdentityFromWorkload(CredentialProvider):  # type: ignore[misc]
        METHOD = "assume-role-with-web-identity"
        CANONICAL_NAME = f"platform-{source}-web-identity"

        def load(self) -> Any:
            return DeferredRefreshableCredentials(refresh_using=fetch, method=self.METHOD)

    core = botocore.session.Session()
    core.register_component("credential_provider", CredentialResolver([WebIdentityFromWorkload()]))
    return boto3.session.Session(botocore_session=core, region_name=region)


def s3_session_for(url: str, *, endpoint_url: str | None = None) -> tuple[Any, str]:
    """(boto3 Session, region) for an `s3://...?role_arn=...&web_identity=<cloud>[&region=...]` URL.

    Raises:
        FederationError: the URL lacks role_arn or web_identity.
    """
    params = federation_params(url)
    source = params.get(WEB_IDENTITY)
    if not source or not params.get("role_arn"):
        raise FederationError(f"unsupported federated S3 URL {url!r}: expected role_arn=...&web_identity=<cloud>")
    region = params.get("region") or os.environ.get("AWS_REGION") or "us-east-1"
    return aws_session(params["role_arn"], region, source, endpoint_url=endpoint_url), region
