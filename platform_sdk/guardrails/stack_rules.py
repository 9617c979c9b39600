"""Guardrails on the synthesized Terraform: what will really be deployed, whatever compiler or module built it.

The neutral rules live here; each cloud plug-in adds its own (`CloudPlugin.stack_rules`: IAM least privilege
on AWS, scoped roles on GCP) and says which of its resources carry tags (`CloudPlugin.untagged`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from platform_sdk import providers
from platform_sdk.guardrails.core import Rule, Violation, aliases_of, read_stack, stack_address

if TYPE_CHECKING:
    from platform_sdk.envs import Environment
    from platform_sdk.profile import Profile

STANDARD_TAG_KEYS = ("managed-by", "environment", "service")


class RequiredTags(Rule):
    """Cost allocation and ownership: every taggable resource carries the organisation's tags."""

    id = "tags.required"
    description = ("Every taggable resource has the required tags (its own or its provider's defaults), as tags or "
                   "labels, whichever its cloud uses.")
    fix = "tag through the profile (ctx.tags()/ctx.labels() in the compiler, or the provider's default tags)"

    def __init__(self, keys: Sequence[str] | None = None, standard: Sequence[str] = STANDARD_TAG_KEYS) -> None:
        self.keys = list(keys) if keys is not None else None  # None = the profile's required_tags
        self.standard = list(standard)

    def required(self, profile: Profile) -> list[str]:
        keys = self.keys if self.keys is not None else list(profile.required_tags)
        return list(dict.fromkeys([*self.standard, *keys]))

    def check_stacks(self, env: Environment, outdir: Path, stack_names: Sequence[str],
                     profile: Profile) -> list[Violation]:
        required = self.required(profile)
        if not required:
            return []
        found: list[Violation] = []
        for stack in stack_names:
            doc = read_stack(outdir, stack)
            for plugin in providers.plugins().values():
                for rtype, rid, problem in plugin.untagged(doc, required):
                    found.append(self.violation(stack_address(stack, rtype, rid), problem,
                                                aliases=aliases_of(outdir, stack, rtype, rid)))
        return found


def default_stack_rules() -> list[Rule]:
    """Fresh instances of the standard Terraform rules: the neutral ones, then each cloud plug-in's own."""
    return [RequiredTags(), *(rule for plugin in providers.plugins().values() for rule in plugin.stack_rules())]
