"""Compile buckets to `nimbus_bucket` (the only kind nimbus has; placement refuses the others)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from platform_sdk.cdk.raw import RawProvider
from platform_sdk.model import Bucket
from platform_sdk.providers.base import Compiler, Handle, StackContext
from tests.fourthcloud.plugin import PROVIDER

if TYPE_CHECKING:
    from platform_sdk.envs import Environment


class NimbusCompiler(Compiler):
    target = "nimbus"

    def __init__(self, env: Environment) -> None:
        self.env = env

    def configure(self, ctx: StackContext) -> None:
        section = ctx.env.clouds[ctx.cloud]
        root = os.path.relpath(ctx.project_dir / section.root / ctx.env.name, ctx.stack_dir)
        RawProvider(ctx.stack, "nimbus", "nimbus", PROVIDER.source, f"~> {PROVIDER.version}", {"root": root})

    def bucket(self, ctx: StackContext, bucket: Bucket) -> Handle:
        res = ctx.resource("nimbus_bucket", bucket.name, {"name": ctx.physical_name(bucket),
                                                         "versioning": bucket.versioning})
        return self.handle(ctx, bucket, name=res.ref("name"), url=res.ref("url"))
