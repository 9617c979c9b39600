"""Which Terraform resource types hold data that a destroy or replace would lose.

Cloud knowledge, so each cloud plug-in declares its own (`CloudPlugin.stateful_types`); this is their union.
"""

from __future__ import annotations

from platform_sdk import providers


def stateful_types() -> frozenset[str]:
    """Every plug-in's stateful Terraform types."""
    return frozenset(t for plugin in providers.plugins().values() for t in plugin.stateful_types)


def is_stateful(resource_type: str) -> bool:
    """True if destroying or replacing a resource of this Terraform type loses data."""
    return resource_type in stateful_types()
