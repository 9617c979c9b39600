"""Terraform state on GCP: the GCS backend block of every stack, and `platform bootstrap` of its bucket.

The bucket is created with google-cloud-storage (imported lazily: `pip install platform-sdk[gcp]`), with
object versioning and uniform bucket-level access, idempotently.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from typing import Any

from platform_sdk.errors import PlatformError
from platform_sdk.providers.base import Step
from platform_sdk.providers.gcp.config import GcpConfig, GcsState

# Terraform's words when the state bucket is missing.
BACKEND_MISSING = ("storage: bucket doesn't exist",)


def state_prefix(state: GcsState, env_name: str, stack_name: str) -> str:
    return f"{state.prefix}/{env_name}/{stack_name}"


def backend(stack: Any, state: GcsState, env_name: str, stack_name: str) -> None:
    """`<prefix>/<env>/<stack>` in the bucket."""
    from platform_sdk.cdk import engine

    engine.GcsBackend(stack, bucket=state.bucket, prefix=state_prefix(state, env_name, stack_name))


def _client(gcp: GcpConfig | None) -> Any:
    from google.cloud import storage

    project = gcp.project if gcp else None
    if os.environ.get("STORAGE_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        return storage.Client(project=project or "local", credentials=AnonymousCredentials())
    return storage.Client(project=project)


class GcsRecords:
    """Stack records (platform_sdk.terraform.records) as objects next to the state prefixes:
    `<prefix>/<env>/<stack>.platform.json` beside `<prefix>/<env>/<stack>/default.tfstate` (outside the prefix,
    so the backend never takes it for a workspace). Uses the credentials Terraform's GCS backend uses.
    """

    SUFFIX = ".platform.json"

    def __init__(self, state: GcsState, env_name: str, gcp: GcpConfig | None) -> None:
        self.state = state
        self.env_name = env_name
        self.gcp = gcp
        self._bucket: Any = None
        self._lock = threading.Lock()  # records are read in parallel; make one client

    def name(self, stack: str) -> str:
        return state_prefix(self.state, self.env_name, stack) + self.SUFFIX

    def _blob(self, stack: str) -> Any:
        with self._lock:
            if self._bucket is None:
                self._bucket = _client(self.gcp).bucket(self.state.bucket)
        return self._bucket.blob(self.name(stack))

    def read(self, stack: str) -> bytes | None:
        from google.api_core import exceptions as gexc

        try:
            return self._blob(stack).download_as_bytes()  # type: ignore[no-any-return]
        except gexc.NotFound:
            return None

    def write(self, stack: str, data: bytes) -> None:
        self._blob(stack).upload_from_string(data, content_type="application/json")

    def describe(self, stack: str) -> str:
        return f"gs://{self.state.bucket}/{self.name(stack)}"


def _client(gcp: GcpConfig | None) -> Any:
    from google.cloud import storage

    project = gcp.project if gcp else None
    if os.environ.get("STORAGE_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        return storage.Client(project=project or "local", credentials=AnonymousCredentials())
    return storage.Client(project=project)


class GcsDocument:
    """A JSON document next to the state prefixes, `<prefix>/<env>/_platform/<name>.json` in the state bucket,
    locked the way Terraform's GCS backend locks a state: a lock object (`<name>.json.lock`, the holder's JSON)
    created only if absent (`ifGenerationMatch=0`) and deleted only at the generation we created.
    (platform_sdk.state_documents; preconditions: https://cloud.google.com/storage/docs/request-preconditions)
    """

    def __init__(self, state: GcsState, env_name: str, name: str, gcp: GcpConfig | None) -> None:
        self.state = state
        self.name = f"{state.prefix}/{env_name}/_platform/{name}.json"
        self.gcp = gcp
        self._bucket: Any = None
        self._generation: int | None = None

    def _blob(self, name: str) -> Any:
        if self._bucket is None:
            self._bucket = _client(self.gcp).bucket(self.state.bucket)
        return self._bucket.blob(name)

    def describe(self) -> str:
        return f"gs://{self.state.bucket}/{self.name}"

    def read(self) -> bytes | None:
        from google.api_core import exceptions as gexc

        try:
            return self._blob(self.name).download_as_bytes()  # type: ignore[no-any-return]
        except gexc.NotFound:
            return None

    def write(self, data: bytes) -> None:
        self._blob(self.name).upload_from_string(data, content_type="application/json")

    def acquire(self, holder: dict[str, Any]) -> dict[str, Any] | None:
        from google.api_core import exceptions as gexc

        lock = self._blob(self.name + ".lock")
        try:
            lock.upload_from_string(json.dumps(holder, sort_keys=True), content_type="application/json",
                                    if_generation_match=0)
            self._generation = lock.generation
            return None
        except gexc.PreconditionFailed:
            pass
        try:
            found = json.loads(lock.download_as_bytes())
        except (gexc.NotFound, ValueError):
            return {"host": "?", "pid": 0, "command": "unknown (released meanwhile)"}
        return {**found, "_generation": lock.generation} if isinstance(found, dict) else {}

    def _delete(self, generation: int | None) -> None:
        from google.api_core import exceptions as gexc

        # Already released, or someone else holds it now: theirs to release.
        with contextlib.suppress(gexc.NotFound, gexc.PreconditionFailed):
            self._blob(self.name + ".lock").delete(if_generation_match=generation)

    def release(self, holder: dict[str, Any]) -> None:
        self._delete(self._generation)
        self._generation = None

    def force_release(self, holder: dict[str, Any]) -> None:
        self._delete(holder.get("_generation"))


def bootstrap(state: GcsState, gcp: GcpConfig | None) -> Step:
    """A GCS bucket with object versioning and uniform bucket-level access (no per-object ACLs)."""
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as auth_exc

    try:
        client = _client(gcp)
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
