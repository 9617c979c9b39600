"""Guardrails on the neutral model: checked before anything is synthesized, so they fail fast and cheaply."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from platform_sdk.guardrails.core import Rule, Violation
from platform_sdk.model import Cdn, Database, Function, ObjectCreatedTrigger

if TYPE_CHECKING:
    from platform_sdk.envs import Environment
    from platform_sdk.model import Resource, Service
    from platform_sdk.profile import Profile
    from platform_sdk.synth.placement import Placement


def _where(env: Environment, resource: Resource) -> str:
    where = f"{resource.declared_in}:{resource.declared_line}" if resource.declared_in else ""
    return f" (declared at {where})" if where else ""


class PublicBucketOnlyAsCdnOrigin(Rule):
    """Public buckets leak data by accident; a site's files go public through a CDN, which keeps the bucket private."""

    id = "bucket.no-public-unless-cdn-origin"
    description = "A bucket may be publicly readable only when it is the origin of a CDN."
    fix = "remove public_read=True and serve the files through a Cdn(origin=bucket), or waive with a reason"

    def check_model(self, env: Environment, services: list[Service], placements: Mapping[Resource, Placement],
                    profile: Profile) -> list[Violation]:
        origins = {id(o) for service in services for cdn in service.cdns if isinstance(cdn, Cdn) for o in cdn.origins}
        return [
            self.violation(bucket.address, f"bucket is publicly readable but is no CDN's origin{_where(env, bucket)}")
            for service in services for bucket in service.buckets
            if bucket.public_read and id(bucket) not in origins
        ]


class _ProductionDatabaseSetting(Rule):
    """Protected (production) environments keep databases recoverable and available."""

    setting = ""
    problem = ""

    def check_model(self, env: Environment, services: list[Service], placements: Mapping[Resource, Placement],
                    profile: Profile) -> list[Violation]:
        if not env.protected:
            return []
        return [
            self.violation(db.address, f"{self.problem} in protected environment {env.name!r}{_where(env, db)}",
                           fix=self.fix_for(env, db))
            for service in services for db in service.databases
            if not getattr(db, self.setting)
        ]

    def fix_for(self, env: Environment, db: Database) -> str:
        """The fix for this database (the rule's own `fix`, unless a rule names the database in it)."""
        return self.fix


class ProductionDatabaseBackups(_ProductionDatabaseSetting):
    id = "database.production-backups"
    description = "Databases in protected environments keep automated backups."
    fix = "set backups=True on the Database (the default)"
    setting = "backups"
    problem = "automated backups are off"


class ProductionDatabaseHighAvailability(_ProductionDatabaseSetting):
    id = "database.production-high-availability"
    description = "Databases in protected environments run with a standby in another zone."
    fix = "add `high_availability = true` under [overrides.\"<service>.<database>\"] in the environment file"
    setting = "high_availability"
    problem = "high availability is off"

    def fix_for(self, env: Environment, db: Database) -> str:
        where = env.file or "the environment file"
        return f"add `high_availability = true` under [overrides.\"{db.address}\"] in {where}"


class ProductionDatabaseDeletionProtection(_ProductionDatabaseSetting):
    id = "database.production-deletion-protection"
    description = "Databases in protected environments cannot be deleted by a plan."
    fix = "set deletion_protection=True on the Database (the default) and drop any override turning it off"
    setting = "deletion_protection"
    problem = "deletion protection is off"


class AllowedRegions(Rule):
    """Data residency: the profile lists the regions each cloud may use; the environment must stay inside them."""

    id = "region.allowed"
    description = "Every cloud an environment deploys to uses a region the profile allows."
    fix = "set [clouds.<cloud>] region to an allowed region in the environment file"

    def check_model(self, env: Environment, services: list[Service], placements: Mapping[Resource, Placement],
                    profile: Profile) -> list[Violation]:
        used = sorted({p.cloud for p in placements.values() if p.target == p.cloud})
        found = []
        for cloud in used:
            allowed = profile.allowed_regions.get(cloud)
            config = env.clouds.get(cloud)
            if config is None or "region" not in type(config).model_fields:
                continue  # a cloud without regions (the local cloud)
            region = getattr(config, "region", None)
            if allowed is not None and region not in allowed:
                found.append(self.violation(
                    f"clouds.{cloud}", f"region {region!r} is not allowed for {cloud} (allowed: {', '.join(allowed)})",
                    fix=f"set [clouds.{cloud}] region to one of {', '.join(allowed)} in {env.file or 'the env file'}",
                ))
        return found


class FunctionLimits(Rule):
    """Cost and blast-radius caps: memory and timeout above the organisation's limit need a conversation."""

    id = "function.limits"
    description = "Function memory and timeout stay within the profile's limits."
    fix = "lower memory/timeout on the Function (or its [overrides]), or split the work"

    def __init__(self, max_memory_mb: int = 4096, max_timeout_s: int = 300) -> None:
        self.max_memory_mb = max_memory_mb
        self.max_timeout_s = max_timeout_s

    def check_model(self, env: Environment, services: list[Service], placements: Mapping[Resource, Placement],
                    profile: Profile) -> list[Violation]:
        found = []
        for service in services:
            for fn in service.of(Function):
                where = _where(env, fn)
                memory = fn.memory
                timeout = fn.timeout
                if isinstance(memory, int) and memory > self.max_memory_mb:
                    found.append(self.violation(
                        fn.address, f"memory {memory} MB is above the limit of {self.max_memory_mb} MB{where}",
                        fix=f"set memory to at most {self.max_memory_mb}"))
                if isinstance(timeout, int) and timeout > self.max_timeout_s:
                    found.append(self.violation(
                        fn.address, f"timeout {timeout} s is above the limit of {self.max_timeout_s} s{where}",
                        fix=f"set timeout to at most {self.max_timeout_s}, or move long work to a ScheduledJob"))
        return found


class SelfTriggeringWrites(Rule):
    """A function triggered by every new object of a bucket it also writes runs again on its own output: on the
    cloud that is a loop billed per invocation (and on GCP, where event delivery retries a failed run, a retried
    one). The analysis cannot know which keys the function writes, only the trigger's filter: so a trigger on a
    bucket the function writes must carry a prefix or a suffix, which the function then keeps its output out of.
    S3: https://docs.aws.amazon.com/lambda/latest/dg/with-s3.html ("avoid recursive invocations");
    GCS: https://cloud.google.com/functions/docs/bestpractices/retries.
    """

    id = "function.self-triggering-writes"
    description = ("A function triggered by objects created in a bucket it writes filters the trigger by prefix or "
                   "suffix, so its own writes do not trigger it again.")
    fix = ("give the trigger a prefix or suffix the function never writes under, e.g. object_created(bucket, "
           "prefix=\"incoming/\") and write results elsewhere; or waive with a reason")

    def check_model(self, env: Environment, services: list[Service], placements: Mapping[Resource, Placement],
                    profile: Profile) -> list[Violation]:
        found = []
        for service in services:
            for fn in service.of(Function):
                for trigger in fn.trigger_of(ObjectCreatedTrigger):
                    if trigger.prefix or trigger.suffix:
                        continue
                    for grant in fn.grants:
                        if grant.target is not trigger.bucket or grant.access not in ("write", "readwrite"):
                            continue
                        method = "writes" if grant.access == "write" else "reads_writes"
                        at = f" at {grant.declared_in}:{grant.declared_line}" if grant.declared_in else ""
                        found.append(self.violation(
                            fn.address,
                            f"object_created({trigger.bucket.name}) has no prefix or suffix and {method}("
                            f"{trigger.bucket.name}){at} writes the same bucket: every object the function writes "
                            f"triggers it again{_where(env, fn)}",
                            fix=(f"filter the trigger, e.g. object_created({trigger.bucket.name}, "
                                 "prefix=\"incoming/\"), and write the function's output under another prefix; or "
                                 f"waive {self.id} for {fn.address} with a reason"),
                            aliases=[trigger.bucket.address]))
                        break
        return found


def default_model_rules() -> list[Rule]:
    """Fresh instances of the standard model rules."""
    return [PublicBucketOnlyAsCdnOrigin(), ProductionDatabaseBackups(), ProductionDatabaseHighAvailability(),
            ProductionDatabaseDeletionProtection(), AllowedRegions(), FunctionLimits(), SelfTriggeringWrites()]


__all__ = [
    "AllowedRegions", "FunctionLimits", "ProductionDatabaseBackups", "ProductionDatabaseDeletionProtection",
    "ProductionDatabaseHighAvailability", "PublicBucketOnlyAsCdnOrigin", "SelfTriggeringWrites", "default_model_rules",
]
