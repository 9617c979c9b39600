"""Acme's own guardrails, next to the SDK's standard ones."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from platform_sdk.guardrails import Rule, Violation

if TYPE_CHECKING:
    from platform_sdk.envs import Environment
    from platform_sdk.model import Resource, Service
    from platform_sdk.profile import Profile
    from platform_sdk.synth.placement import Placement


class ServiceOwnerRequired(Rule):
    """Every service names its owning team: incidents and cost reports need someone to route to."""

    id = "service.owner-required"
    description = "Every service declares an owner (Service(name, owner=...))."
    fix = "add owner='<team>' to the Service(...) declaration"

    def check_model(self, env: Environment, services: list[Service], placements: Mapping[Resource, Placement],
                    profile: Profile) -> list[Violation]:
        return [self.violation(service.name, "service has no owner") for service in services if not service.owner]
