"""Terraform state on GCP: the GCS backend block of every stack, and `platform bootstrap` of its bucket.

The bucket is created with google-cloud-storage (imported lazily: `pip install platform-sdk[gcp]`), with
object versioning and uniform bucket-level access, idempotently.
"""

from __future__ import annotations

import os
from typing import Any

from platform_sdk.errors import PlatformError
from platform_sdk.providers.base import Step
from platform_sdk.providers.gcp.config import GcpConfig, GcsState

# Terraform's words when the state bucket is missing.
BACKEND_MISSING = ("storage: bucket doesn't exist",)


def backend(stack: Any, state: GcsState, env_name: str, stack_name: str) -> None:
    """`<prefix>/<env>/<stack>` in the bucket."""
    from platform_sdk.cdk import engine

    engine.GcsBackend(stack, bucket=state.bucket, prefix=f"{state.prefix}/{env_name}/{stack_name}")


def bootstrap(state: GcsState, gcp: GcpConfig | None) -> Step:
    """A GCS bucket with object versioning and uniform bucket-level access (no per-object ACLs)."""
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as auth_exc
    from google.cloud import storage

    project = gcp.project if gcp else None
    try:
        if os.environ.get("STORAGE_EMULATOR_HOST"):
            from google.auth.credentials import AnonymousCredentials

            client = storage.Client(project=project or "local", credentials=AnonymousCredentials())
        else:
            client = storage.Client(project=project)
        bucket = client.lookup_bucket(state.bucket)
        status = "exists"
        if bucket is None:
            bucket = client.bucket(state.bucket)
            bucket.versioning_enabled = True
            bucket.iam_configuration.uniform_bucket_level_access_enabled = True
            location = gcp.region if gcp else None
            bucket = client.create_bucket(bucket, location=location)
            status = "created"
        if not bucket.versioning_enabled or not bucket.iam_configuration.uniform_bucket_level_access_enabled:
            bucket.versioning_enabled = True
            bucket.iam_configuration.uniform_bucket_level_access_enabled = True
            bucket.patch()
    except (gexc.GoogleAPIError, auth_exc.GoogleAuthError) as err:
        raise PlatformError(f"bootstrapping the GCS state bucket failed: {err}", key="state.bucket",
                            value=state.bucket) from None
    return Step("gcs bucket", state.bucket, status, "versioning on, uniform bucket-level access")
