"""The GCP compiler: Cloud Storage, Cloud Functions (2nd gen), Cloud CDN and Cloud SQL via hashicorp/google 6.x."""

from platform_sdk.providers.gcp.compiler import GcpCompiler

# Terraform types whose destroy or replace loses data: the plan report flags them (platform_sdk.terraform.stateful).
STATEFUL_TYPES: frozenset[str] = frozenset({"google_storage_bucket", "google_sql_database_instance",
                                            "google_sql_database"})

__all__ = ["STATEFUL_TYPES", "GcpCompiler"]
