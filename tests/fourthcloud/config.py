"""`[clouds.nimbus]`: where the nimbus cloud keeps its buckets."""

from __future__ import annotations

from platform_sdk.providers.base import CloudConfig


class NimbusConfig(CloudConfig):
    """`root`: the directory holding nimbus buckets, relative to the project."""

    root: str = ".platform/nimbus"
