"""Physical names of resources. The default convention is `<prefix>-<env>-<service>-<resource>`.

A platform profile may replace it (see platform_sdk.profile); the providers check the result against each
cloud's rules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from platform_sdk.envs import Environment


def default_name(env: Environment, service: str, resource: str) -> str:
    """`acme-prod-images-originals`: unique per organisation, environment and service."""
    return f"{env.name_prefix}-{env.name}-{service}-{resource}"
