"""Gcp compiler (being written)."""

from platform_sdk.providers.gcp.compiler import GcpCompiler

__all__ = ["GcpCompiler"]
