"""The nimbus plug-in: buckets only, as `nimbus_bucket` resources of its own Terraform provider."""

from __future__ import annotations

from typing import TYPE_CHECKING

from platform_sdk.providers.base import CloudPlugin, MirroredProvider
from tests.fourthcloud.config import NimbusConfig

if TYPE_CHECKING:
    from platform_sdk.envs import Environment
    from platform_sdk.providers.base import Compiler

PROVIDER = MirroredProvider(source="platform.local/tests/nimbus", version="0.1.0",
                            module="tests.fourthcloud.provider")


class NimbusPlugin(CloudPlugin):
    """A cloud with buckets and nothing else."""

    name = "nimbus"
    config = NimbusConfig
    kinds = frozenset({"bucket"})
    stateful_types = frozenset({"nimbus_bucket"})
    unchecked_prefixes = ("nimbus_",)
    terraform_providers = (PROVIDER,)

    def compiler(self, env: Environment) -> Compiler:
        from tests.fourthcloud.compiler import NimbusCompiler

        return NimbusCompiler(env)


PLUGIN = NimbusPlugin()
