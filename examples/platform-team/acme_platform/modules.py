"""Acme's modules: the SDK's building blocks with Acme's conventions baked in.

A module is a dataclass subclassing `platform_sdk.modules.Module`: typed parameters with defaults, `parts`
(role -> default name), and `build()` creating the parts. Errors raised with `self.error(...)` (or by a part's
own validation) point at the app team's line, not at this file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from platform_sdk import Bucket
from platform_sdk.modules import Module, ScheduledJob, StaticSite

DOCS_DOMAIN = "docs.acme.example"


@dataclass(eq=False, kw_only=True)
class DocsSite(Module):
    """A team's documentation site on `<team>.docs.acme.example`: a StaticSite with Acme's domain convention.

    Parts: `site` (a StaticSite named `{name}`; its bucket and CDN are `site.bucket`, `site.cdn`).
    """

    parts: ClassVar[dict[str, str]] = {"site": "{name}"}
    team: str
    spa: bool = False
    site: StaticSite = field(init=False, repr=False)

    def build(self) -> None:
        if not isinstance(self.team, str) or not re.match(r"^[a-z][a-z0-9-]{0,30}$", self.team):
            raise self.error("team must be the team's short name, like 'payments'", "team", self.team)
        self.site = self.add_part("site", StaticSite(self.part_name("site"), domain=f"{self.team}.{DOCS_DOMAIN}",
                                                     spa=self.spa))


@dataclass(eq=False, kw_only=True)
class NightlyExport(Module):
    """A nightly job writing exports into its own bucket, which forgets them after `keep_days`.

    Parts: `bucket` (`{prefix}exports`) and `job` (a ScheduledJob named `{prefix}job`). Grant the job what it
    reads: `export.job.uses(db)`.
    """

    parts: ClassVar[dict[str, str]] = {"bucket": "{prefix}exports", "job": "{prefix}job"}
    handler: str
    source: str | Path
    cron: str = "0 2 * * *"
    keep_days: int = 90
    bucket: Bucket = field(init=False, repr=False)
    job: ScheduledJob = field(init=False, repr=False)

    def build(self) -> None:
        if not isinstance(self.keep_days, int) or not 1 <= self.keep_days <= 400:
            raise self.error("keep_days must be 1 to 400 (exports are not an archive)", "keep_days", self.keep_days)
        self.bucket = self.add_part("bucket", Bucket(self.part_name("bucket"), expire_days=self.keep_days))
        # Paths are the app team's: resolve them against their file, not this package.
        self.job = self.add_part("job", ScheduledJob(self.part_name("job"), handler=self.handler,
                                                     source=self.resolve(self.source), cron=self.cron, timeout=300))
        self.job.writes(self.bucket)
