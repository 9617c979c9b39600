"""Static content of an environment: which buckets have a `content` directory, where each was deployed, and the
sync `platform apply` runs once the bucket's stack applied (and `platform plan` previews).

A bucket is found from its stack's `bucket_<name>_url` output (read from the stack's record at plan time, after
the apply at apply time) and opened with the runtime's bucket client for that URL (`open_bucket`): S3 through
boto3, Cloud Storage through google-cloud-storage, a local-cloud directory. Files never become Terraform
resources. After a sync that replaced or deleted objects, every CDN in front of the bucket is asked to drop its
cached copies of exactly those paths, through the plug-in that built the CDN (`CloudPlugin.invalidate_cdn`:
CloudFront on AWS, the URL map's Cloud CDN cache on GCP; a cloud without it keeps no cache the platform
invalidates).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from platform_sdk import providers
from platform_sdk.content.sync import ContentPlan, SourceFile, SyncReport, apply_sync, plan_sync, scan
from platform_sdk.errors import PlatformError
from platform_sdk.model import Bucket, Cdn, Service
from platform_sdk.runtime.buckets import BucketClient, open_bucket
from platform_sdk.synth.placement import stack_name
from platform_sdk.synth.sources import content_files

Outputs = Callable[[str], Mapping[str, Any]]
"""stack name -> its output values (what Terraform reports, or the stack's record of its last apply)."""


def output_key(kind: str, name: str, attr: str = "url") -> str:
    """The stack output naming a resource's attribute: `bucket_site_url` (see `PUBLIC_ATTRS` in synthesis)."""
    return f"{kind}_{name}_{attr}".replace("-", "_")


def fronts(cdn: Cdn, bucket: Bucket) -> bool:
    """Whether `cdn` serves `bucket`'s objects (its origin, or one of its routes' targets where routes exist)."""
    routes = getattr(cdn, "routes", None) or {}
    return cdn.origin is bucket or any(target is bucket for target in routes.values())


@dataclass(frozen=True)
class Placed:
    """A resource and the stack that holds it: the stack's name and the plug-in that builds it."""

    resource: Any
    stack: str
    target: str


@dataclass(frozen=True)
class ContentTarget:
    """A bucket with a content directory, where it lives, and the CDNs in front of it."""

    bucket: Placed
    cdns: tuple[Placed, ...] = ()

    @property
    def address(self) -> str:
        return str(self.bucket.resource.address)

    @property
    def directory(self) -> Path:
        directory = self.bucket.resource.content_dir
        assert directory is not None
        return Path(directory)


def _placed(env: Any, resource: Any) -> Placed:
    service = resource.service.name
    cloud = env.cloud_of(service, resource.name)
    return Placed(resource, stack_name(env, service, cloud), env.target_of(cloud))


def content_targets(env: Any, services: list[Service]) -> list[ContentTarget]:
    """Every bucket of the estate with `content`, in declaration order, with the CDNs fronting it (any service)."""
    cdns = [cdn for service in services for cdn in service.of(Cdn)]
    found = []
    for service in services:
        for bucket in service.of(Bucket):
            if bucket.content_dir is None:
                continue
            found.append(ContentTarget(_placed(env, bucket),
                                       tuple(_placed(env, cdn) for cdn in cdns if fronts(cdn, bucket))))
    return found


def invalidation_paths(keys: list[str], cdn: Cdn) -> list[str]:
    """CDN paths of the replaced or deleted `keys` (`/` + URL-encoded key), plus `/` when the object served
    for it (`default_root_object`) is among them."""
    paths = [f"/{quote(key, safe='/~')}" for key in keys]
    root = getattr(cdn, "default_root_object", None)
    if root and root in keys:
        paths.insert(0, "/")
    return paths


@dataclass
class ContentStatus:
    """One content bucket in a plan or an apply: the plan, what the sync did, the invalidations, or why not."""

    address: str
    stack: str
    directory: str
    plan: ContentPlan | None = None
    report: SyncReport | None = None
    invalidations: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    skipped: str | None = None
    left_out: list[str] = field(default_factory=list)
    """Files of the directory left out because they hold secrets (`.env`, keys; see docs/packaging.md)."""

    @property
    def has_changes(self) -> bool:
        return self.plan is not None and self.plan.has_changes

    def line(self) -> str:
        """`web.site: 3 files to upload, 1 to delete` (plan), `web.site: 3 uploaded, ...` (apply), or why not."""
        if self.error:
            return f"{self.address}: {self.error}"
        if self.skipped:
            return f"{self.address}: not synced: {self.skipped}"
        if self.report is not None:
            text = f"{self.address}: {self.report.summary()}"
            for inv in self.invalidations:
                text += (f"; CDN {inv['cdn']}: " + (f"invalidation {inv['id']} of {len(inv['paths'])} path(s)"
                                                   if inv.get("id") else str(inv.get("error"))))
            return text
        assert self.plan is not None
        return f"{self.address}: {self.plan.summary()}"

    def to_json(self) -> dict[str, Any]:
        return {"resource": self.address, "stack": self.stack, "directory": self.directory,
                "plan": self.plan.to_json() if self.plan else None,
                "result": self.report.to_json() if self.report else None,
                "invalidations": self.invalidations, "error": self.error, "skipped": self.skipped,
                "left_out": self.left_out}


def _open(target: ContentTarget, outputs: Outputs) -> BucketClient | None:
    url = outputs(target.bucket.stack).get(output_key("bucket", target.bucket.resource.name))
    return open_bucket(url) if isinstance(url, str) and url else None


def _files(target: ContentTarget, status: ContentStatus) -> dict[str, SourceFile]:
    """The files the sync uploads (`content_files`: never secrets; a symlink leaving the folder is a ModelError);
    the secrets left out go into `status.left_out`."""
    listing = content_files(target.bucket.resource, announce=True)
    status.left_out = list(listing.left_out)
    return scan(target.directory, listing)


def _status(target: ContentTarget) -> ContentStatus:
    return ContentStatus(target.address, target.bucket.stack, str(target.directory))


def plan_content(targets: list[ContentTarget], outputs: Outputs,
                 skip: Mapping[str, str] | None = None) -> list[ContentStatus]:
    """What the next apply would upload and delete, per bucket (a bucket not deployed yet: every file).

    `skip`: address -> why its content is left alone this time (an unfinished move).
    """
    found = []
    for target in targets:
        status = _status(target)
        if skip and target.address in skip:
            status.skipped = skip[target.address]
        else:
            try:
                status.plan = plan_sync(_files(target, status), _open(target, outputs))
            except PlatformError:
                raise
            except Exception as err:  # noqa: BLE001 - an unreachable bucket is reported, the plan goes on
                status.error = f"could not compare with the bucket: {type(err).__name__}: {err}"
        found.append(status)
    return found


Invalidate = Callable[[Placed, str, list[str]], str | None]
"""(the CDN, its URL, paths) -> the invalidation's id, or None when its cloud keeps no cache to invalidate."""


def plugin_invalidate(env: Any) -> Invalidate:
    """Invalidation through the plug-in that builds each CDN's stack (`CloudPlugin.invalidate_cdn`)."""
    def invalidate(cdn: Placed, url: str, paths: list[str]) -> str | None:
        return providers.plugin(cdn.target).invalidate_cdn(env, url, paths)
    return invalidate


def deploy_content(targets: list[ContentTarget], outputs: Outputs, ready: set[str], invalidate: Invalidate,
                   skip: Mapping[str, str] | None = None, workers: int = 8) -> list[ContentStatus]:
    """Sync every content bucket whose stack is in `ready` (applied, or unchanged), then invalidate its CDNs.

    Buckets of other stacks are reported as skipped (their stack did not apply). Never raises for one bucket's
    failure: it is in that bucket's status (`error`, or the report's `failed` files).

    Raises:
        ModelError: a symlink in a content folder points outside it (before any bucket is written).
    """
    for target in targets:  # every folder checked before the first upload
        if not (skip and target.address in skip) and target.bucket.stack in ready:
            content_files(target.bucket.resource)
    found = []
    for target in targets:
        status = _status(target)
        found.append(status)
        if skip and target.address in skip:
            status.skipped = skip[target.address]
            continue
        if target.bucket.stack not in ready:
            status.skipped = f"its stack {target.bucket.stack} did not apply"
            continue
        try:
            bucket = _open(target, outputs)
            if bucket is None:
                status.error = (f"its stack {target.bucket.stack} has no output "
                                f"{output_key('bucket', target.bucket.resource.name)}: nothing was uploaded")
                continue
            status.plan = plan_sync(_files(target, status), bucket)
            status.report = apply_sync(status.plan, bucket, workers=workers)
        except Exception as err:  # noqa: BLE001 - reported per bucket
            status.error = f"sync failed: {type(err).__name__}: {err}"
            continue
        stale = status.report.changed + status.report.deleted
        if stale:
            status.invalidations = _invalidate(target, outputs, stale, invalidate)
    return found


def _invalidate(target: ContentTarget, outputs: Outputs, keys: list[str], invalidate: Invalidate,
                ) -> list[dict[str, Any]]:
    done = []
    for cdn in target.cdns:
        paths = invalidation_paths(keys, cdn.resource)
        entry: dict[str, Any] = {"cdn": cdn.resource.address, "paths": paths, "id": None}
        url = outputs(cdn.stack).get(output_key("cdn", cdn.resource.name))
        if not isinstance(url, str) or not url:
            entry["error"] = f"not invalidated: its stack {cdn.stack} has no URL output yet"
        else:
            try:
                entry["id"] = invalidate(cdn, url, paths)
            except Exception as err:  # noqa: BLE001 - the files are uploaded; stale copies expire with their TTL
                entry["error"] = f"invalidation failed ({type(err).__name__}: {err}); cached copies expire on their own"
        if entry["id"] or entry.get("error"):  # None: its cloud keeps no cache to invalidate
            done.append(entry)
    return done
