"""Aws compiler (being written)."""

from platform_sdk.providers.aws.compiler import AwsCompiler

__all__ = ["AwsCompiler"]
