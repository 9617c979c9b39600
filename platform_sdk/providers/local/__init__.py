"""The local cloud: every neutral kind becomes a `localcloud_*` resource of our own Terraform provider."""

from platform_sdk.providers.local.compiler import LocalCompiler, local_root

__all__ = ["LocalCompiler", "local_root"]
