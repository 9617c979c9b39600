"""The GCP compiler: Cloud Storage, Cloud Functions (2nd gen), Cloud CDN and Cloud SQL via hashicorp/google 6.x."""

from platform_sdk.providers.gcp.compiler import GcpCompiler

__all__ = ["GcpCompiler"]
