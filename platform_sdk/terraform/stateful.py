"""Which Terraform resource types hold data that a destroy or replace would lose.

This is cloud knowledge, so each provider package should own it as `platform_sdk.providers.<cloud>.STATEFUL_TYPES`.
The list below is only the fallback used when a provider package does not (yet) declare one: the plan report
must never miss a bucket or a database just because a provider package forgot to say so.
"""

from __future__ import annotations

import importlib
from functools import cache

# Fallback only: the union with what the provider packages declare is what counts.
STATEFUL_TYPES: frozenset[str] = frozenset({
    "aws_s3_bucket",
    "aws_db_instance",
    "aws_rds_cluster",
    "aws_dynamodb_table",
    "google_storage_bucket",
    "google_sql_database_instance",
    "google_sql_database",
    "localcloud_bucket",
    "localcloud_database",
})

PROVIDER_PACKAGES = ("aws", "gcp", "local")


@cache
def stateful_types() -> frozenset[str]:
    """The fallback list plus every provider package's `STATEFUL_TYPES` (when it declares one)."""
    types = set(STATEFUL_TYPES)
    for cloud in PROVIDER_PACKAGES:
        try:
            module = importlib.import_module(f"platform_sdk.providers.{cloud}")
        except Exception:  # noqa: BLE001 - a broken provider package must not hide data loss elsewhere
            continue
        types.update(getattr(module, "STATEFUL_TYPES", ()))
    return frozenset(types)


def is_stateful(resource_type: str) -> bool:
    """True if destroying or replacing a resource of this Terraform type loses data."""
    return resource_type in stateful_types()
