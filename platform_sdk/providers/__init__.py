"""Cloud compilers. Each package maps every neutral resource kind to one cloud's Terraform resources."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from platform_sdk.envs import Environment
    from platform_sdk.providers.base import Compiler


def compilers_for(env: Environment) -> dict[str, Compiler]:
    """One compiler per target the environment can use (imported lazily: each knows only its own cloud)."""
    from platform_sdk.providers.aws import AwsCompiler
    from platform_sdk.providers.gcp import GcpCompiler
    from platform_sdk.providers.local import LocalCompiler

    return {"aws": AwsCompiler(env), "gcp": GcpCompiler(env), "local": LocalCompiler(env)}
