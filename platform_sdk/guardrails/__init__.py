"""Guardrails: the platform team's rules, enforced on every synth and reported by `platform check`.

    from platform_sdk.guardrails import FunctionLimits, standard_rules
    PROFILE = Profile(guardrails=standard_rules(FunctionLimits(max_memory_mb=2048), MyRule()))

A rule subclasses `Rule` and overrides `check_model` (the neutral model) and/or `check_stacks` (the synthesized
Terraform). Each cloud plug-in adds its own rules (`platform_sdk.providers.<cloud>.guardrails`), which the
standard set includes. Environment files waive single violations until a date:

    [[waivers]]
    rule = "database.production-high-availability"
    resource = "reports.db"
    reason = "reporting replica, rebuilt nightly from the warehouse"
    expires = 2027-01-31
"""

from platform_sdk.guardrails.core import (
    GuardrailError,
    Rule,
    Violation,
    apply_waivers,
    enforce,
    neutral_address,
    read_stack,
    stack_resources,
    unused_waivers,
)
from platform_sdk.guardrails.model_rules import (
    AllowedRegions,
    FunctionLimits,
    ProductionDatabaseBackups,
    ProductionDatabaseDeletionProtection,
    ProductionDatabaseHighAvailability,
    PublicBucketOnlyAsCdnOrigin,
    SelfTriggeringWrites,
)
from platform_sdk.guardrails.rulesets import (
    GuardrailReport,
    check_model,
    check_stacks,
    rules_for,
    run_guardrails_model,
    run_guardrails_synth,
    standard_rules,
)
from platform_sdk.guardrails.stack_rules import RequiredTags

__all__ = [
    "AllowedRegions", "FunctionLimits", "GuardrailError", "GuardrailReport", "ProductionDatabaseBackups",
    "ProductionDatabaseDeletionProtection", "ProductionDatabaseHighAvailability", "PublicBucketOnlyAsCdnOrigin",
    "RequiredTags", "Rule", "SelfTriggeringWrites", "Violation", "apply_waivers", "check_model", "check_stacks",
    "enforce", "neutral_address", "read_stack", "rules_for", "run_guardrails_model", "run_guardrails_synth",
    "stack_resources", "standard_rules", "unused_waivers",
]
