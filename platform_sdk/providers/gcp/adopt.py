"""Adopting existing Google Cloud resources: the ids `terraform import` takes, and a bucket's live settings compared
with its declaration (read through google-cloud-storage before anything is imported).

Import ids, from the Google provider's documentation ("Import" section of each resource page):
- google_storage_bucket: `{{project}}/{{name}}` or `{{name}}`; we use the name (bucket names are global)
  (registry.terraform.io/providers/hashicorp/google/latest/docs/resources/storage_bucket#import)
- google_sql_database_instance: `projects/{{project}}/instances/{{name}}`
  (registry.terraform.io/providers/hashicorp/google/latest/docs/resources/sql_database_instance#import)
- google_cloudfunctions2_function: `projects/{{project}}/locations/{{location}}/functions/{{name}}`
  (registry.terraform.io/providers/hashicorp/google/latest/docs/resources/cloudfunctions2_function#import)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def import_id(kind: str, body: Mapping[str, Any], project: str | None) -> str | None:
    """The import id of the primary block `body` of a resource of `kind` in `project` (the environment's
    `[clouds.gcp] project`, when the block names none); None for kinds not adopted or an unknown project."""
    name = body.get("name")
    if not isinstance(name, str):
        return None
    project = body.get("project") or project
    if kind == "bucket":
        return name
    if kind == "database" and project:
        return f"projects/{project}/instances/{name}"
    location = body.get("location")
    if kind == "function" and project and isinstance(location, str):
        return f"projects/{project}/locations/{location}/functions/{name}"
    return None


def _primary(blocks: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any]:
    return next((body for address, body in blocks.items() if address.startswith("google_storage_bucket.")), {})


def declared_bucket(blocks: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """What the compiler declared for a bucket (gcp/bucket.py): location, versioning, public access prevention,
    default KMS key, uniform bucket-level access."""
    body = _primary(blocks)
    return {
        "location": str(body.get("location", "")).upper(),
        "versioning": bool((body.get("versioning") or {}).get("enabled", False)),
        "public_access_prevention": body.get("public_access_prevention", "inherited"),
        "encryption.default_kms_key_name": (body.get("encryption") or {}).get("default_kms_key_name"),
        "uniform_bucket_level_access": bool(body.get("uniform_bucket_level_access", False)),
    }


def live_bucket(client: Any, name: str) -> dict[str, Any] | None:
    """The same settings read from Cloud Storage (`client`: a `google.cloud.storage.Client`); None when there is no
    such bucket (cloud.google.com/storage/docs/json_api/v1/buckets/get)."""
    from google.api_core.exceptions import NotFound

    try:
        bucket = client.get_bucket(name)
    except NotFound:
        return None
    iam = bucket.iam_configuration
    return {
        "location": str(bucket.location or "").upper(),
        "versioning": bool(bucket.versioning_enabled),
        # The JSON API leaves the field out for "inherited" (older buckets say "unspecified").
        "public_access_prevention": {None: "inherited", "unspecified": "inherited"}.get(
            iam.public_access_prevention, iam.public_access_prevention),
        "encryption.default_kms_key_name": bucket.default_kms_key_name,
        "uniform_bucket_level_access": bool(iam.uniform_bucket_level_access_enabled),
    }


def bucket_differences(client: Any, name: str, blocks: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """"<setting>: live <value>, declared <value>" for each setting of bucket `name` that differs."""
    live = live_bucket(client, name)
    if live is None:
        return [f"bucket: no bucket named {name!r} exists"]
    declared = declared_bucket(blocks)
    return [f"{key}: live {live[key]!r}, declared {declared[key]!r}" for key in declared if live[key] != declared[key]]
