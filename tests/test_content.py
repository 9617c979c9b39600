"""Static content (`Bucket(content=...)`, `StaticSite(content=...)`): the model's validation, the sync engine against
real stores (a local directory, S3 on moto in server mode, the GCS emulator), CloudFront invalidation on moto, and a
move's copy carrying the manifest. The end-to-end test through Terraform and the local gateway is
tests/test_content_e2e.py.
"""

from __future__ import annotations

import json
import runpy
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from platform_sdk.content.deploy import (
    ContentTarget,
    Placed,
    content_targets,
    deploy_content,
    invalidation_paths,
    plan_content,
)
from platform_sdk.content.sync import MANIFEST_KEY, apply_sync, plan_sync, read_manifest, scan
from platform_sdk.errors import ModelError
from platform_sdk.model import Bucket, Cdn, Service
from platform_sdk.modules import StaticSite
from platform_sdk.providers.aws.plugin import PLUGIN as AWS
from platform_sdk.providers.aws.runtime.buckets import S3Bucket
from platform_sdk.providers.gcp.runtime.buckets import GcsBucket
from platform_sdk.providers.local.runtime.buckets import LocalBucket
from platform_sdk.runtime.buckets import BucketClient
from tests.markers import backends

try:
    from tests.emulators import gcs_emulator, moto_server  # noqa: F401 - fixtures
except ModuleNotFoundError:  # tests/ is not a package: pytest put tests/ itself on sys.path
    from emulators import gcs_emulator, moto_server  # type: ignore[no-redef]  # noqa: F401

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def write_site(root: Path) -> Path:
    site = root / "site"
    (site / "css").mkdir(parents=True)
    (site / "img").mkdir()
    (site / "index.html").write_text("<h1>shop</h1>")
    (site / "css" / "site.css").write_text("h1 { color: teal }")
    (site / "img" / "logo.png").write_bytes(PNG)
    (site / "notes.unknownext").write_bytes(b"\x00\x01")
    return site


# ------------------------------------------------------------------------------------------------- model

def test_content_is_resolved_next_to_the_declaring_file(tmp_path: Path) -> None:
    write_site(tmp_path)
    service_file = tmp_path / "web.py"
    service_file.write_text("from platform_sdk import Bucket\nfrom platform_sdk.modules import StaticSite\n"
                            "bucket = Bucket('assets', content='site/css')\n"
                            "site = StaticSite('site', content='site/')\n")
    names = runpy.run_path(str(service_file))
    assert names["bucket"].content_dir == tmp_path / "site" / "css"
    assert names["site"].bucket.content_dir == tmp_path / "site"
    assert Bucket("plain").content_dir is None


@pytest.mark.parametrize("value, problem", [("nope/", "does not exist"), ("site/index.html", "is a file"),
                                            ("", "must be a directory path"), (3, "must be a directory path")])
def test_a_bad_content_directory_names_file_line_key_and_value(tmp_path: Path, value: object, problem: str) -> None:
    write_site(tmp_path)
    service_file = tmp_path / "web.py"
    service_file.write_text(f"from platform_sdk import Bucket\n\nBucket('site', content={value!r})\n")
    with pytest.raises(ModelError) as err:
        runpy.run_path(str(service_file))
    assert (err.value.file, err.value.line, err.value.key, err.value.value) == (str(service_file), 3, "content",
                                                                                 value if value != 3 else 3)
    assert problem in str(err.value) and f"{service_file}:3: content:" in str(err.value)


def test_static_site_reports_a_missing_content_directory_at_the_users_line(tmp_path: Path) -> None:
    service_file = tmp_path / "web.py"
    service_file.write_text("from platform_sdk.modules import StaticSite\n\n\nStaticSite('site', content='site/')\n")
    with pytest.raises(ModelError) as err:
        runpy.run_path(str(service_file))
    assert (err.value.file, err.value.line, err.value.key) == (str(service_file), 4, "content")
    assert f"{tmp_path / 'site'} does not exist" in str(err.value)


# ------------------------------------------------------------------------------------------- sync engine

@pytest.fixture(params=backends("local", "s3", "gcs"))
def bucket(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BucketClient]:
    """A fresh, empty bucket on each store, through the runtime's own clients."""
    client: BucketClient
    name = f"content-{uuid.uuid4().hex[:12]}"
    if request.param == "s3":
        client = S3Bucket(name, endpoint_url=request.getfixturevalue("moto_server"))
    elif request.param == "gcs":
        request.getfixturevalue("gcs_emulator")
        client = GcsBucket(name)
    else:
        client = LocalBucket(tmp_path / "bucket")
    client.create()
    yield client


def keys(bucket: BucketClient) -> list[str]:
    return sorted(info.key for info in bucket.list())


def test_sync_uploads_skips_edits_and_deletes_only_what_it_manages(tmp_path: Path, bucket: BucketClient) -> None:
    site = write_site(tmp_path)
    plan = plan_sync(scan(site), bucket)
    assert sorted(f.key for f in plan.upload) == ["css/site.css", "img/logo.png", "index.html", "notes.unknownext"]
    assert (plan.delete, plan.changed, plan.summary()) == ([], [], "4 files to upload, 0 to delete")
    report = apply_sync(plan, bucket)
    assert report.ok and sorted(report.uploaded) == sorted(f.key for f in plan.upload) and report.changed == []
    types = {key: bucket.stat(key).content_type for key in scan(site)}  # type: ignore[union-attr]
    assert types == {"index.html": "text/html", "css/site.css": "text/css", "img/logo.png": "image/png",
                     "notes.unknownext": "application/octet-stream"}
    assert bucket.get("img/logo.png") == PNG
    assert sorted(read_manifest(bucket)) == ["css/site.css", "img/logo.png", "index.html", "notes.unknownext"]

    again = plan_sync(scan(site), bucket)
    assert (again.upload, again.delete, again.unchanged, again.has_changes) == ([], [], 4, False)

    bucket.put("uploads/visitor.txt", b"written by a function", content_type="text/plain")  # not ours: kept
    (site / "index.html").write_text("<h1>shop, now with prices</h1>")
    (site / "css" / "site.css").unlink()
    (site / "about.html").write_text("<p>about</p>")
    plan = plan_sync(scan(site), bucket)
    assert sorted(f.key for f in plan.upload) == ["about.html", "index.html"]
    assert (plan.changed, plan.delete, plan.unchanged) == (["index.html"], ["css/site.css"], 2)
    assert plan.summary() == "2 files to upload, 1 to delete"
    report = apply_sync(plan, bucket)
    assert (sorted(report.uploaded), report.changed, report.deleted, report.unchanged) == (
        ["about.html", "index.html"], ["index.html"], ["css/site.css"], 2)
    assert keys(bucket) == sorted([MANIFEST_KEY, "about.html", "img/logo.png", "index.html", "notes.unknownext",
                                   "uploads/visitor.txt"])
    for key, file in scan(site).items():
        assert bucket.get(key) == file.path.read_bytes()
    assert sorted(read_manifest(bucket)) == ["about.html", "img/logo.png", "index.html", "notes.unknownext"]
    assert not plan_sync(scan(site), bucket).has_changes


def test_a_first_sync_deletes_nothing_and_an_edit_back_to_old_bytes_is_still_uploaded(tmp_path: Path) -> None:
    site = write_site(tmp_path)
    bucket = LocalBucket(tmp_path / "bucket")
    bucket.create()
    bucket.put("legacy.html", b"<p>uploaded by hand before content was declared</p>", content_type="text/html")
    bucket.put("index.html", b"<h1>shop</h1>", content_type="text/html")  # already identical: skipped
    plan = plan_sync(scan(site), bucket)
    assert (plan.delete, plan.unchanged) == ([], 1) and "index.html" not in [f.key for f in plan.upload]
    apply_sync(plan, bucket)
    assert "legacy.html" in keys(bucket)
    bucket.put("index.html", b"<h1>edited in the bucket by hand</h1>", content_type="text/html")
    plan = plan_sync(scan(site), bucket)
    assert [f.key for f in plan.upload] == ["index.html"] and plan.changed == ["index.html"]


def test_a_wrong_content_type_in_the_bucket_is_corrected(tmp_path: Path) -> None:
    site = write_site(tmp_path)
    bucket = LocalBucket(tmp_path / "bucket")
    bucket.create()
    apply_sync(plan_sync(scan(site), bucket), bucket)
    bucket.put("index.html", (site / "index.html").read_bytes(), content_type="text/plain")
    plan = plan_sync(scan(site), bucket)
    assert plan.changed == ["index.html"]
    apply_sync(plan, bucket)
    assert bucket.stat("index.html").content_type == "text/html"  # type: ignore[union-attr]


def test_a_failed_upload_deletes_nothing_and_keeps_managing_what_it_managed(tmp_path: Path) -> None:
    site = write_site(tmp_path)
    bucket = LocalBucket(tmp_path / "bucket")
    bucket.create()
    apply_sync(plan_sync(scan(site), bucket), bucket)
    (site / "css" / "site.css").unlink()
    (site / "index.html").write_text("<h1>new</h1>")

    class Refusing(LocalBucket):
        def put_stream(self, key: str, stream: Any, size: int, content_type: str | None = None,
                       md5_hex: str | None = None) -> Any:
            if key == MANIFEST_KEY:
                return super().put_stream(key, stream, size, content_type, md5_hex)
            raise OSError("disk full")

    broken = Refusing(bucket.root)
    report = apply_sync(plan_sync(scan(site), broken), broken)
    assert not report.ok and report.failed[0][0] == "index.html" and report.deleted == []
    assert "css/site.css" in keys(bucket) and "css/site.css" in read_manifest(bucket)
    plan = plan_sync(scan(site), bucket)
    assert plan.delete == ["css/site.css"] and [f.key for f in plan.upload] == ["index.html"]


# ---------------------------------------------------------------------------------- environment, plan, apply

def placed_site(tmp_path: Path, bucket: BucketClient) -> tuple[ContentTarget, dict[str, dict[str, Any]]]:
    site = write_site(tmp_path)
    service = Service("web")
    static = service.add(StaticSite("site", prefix="", content=str(site)))
    env = SimpleNamespace(name="dev", cloud_of=lambda service, resource: "aws", target_of=lambda cloud: cloud)
    (target,) = content_targets(env, [service])
    assert target.bucket.stack == "dev-web-aws" and [c.resource for c in target.cdns] == [static.cdn]
    return target, {"dev-web-aws": {"bucket_site_url": bucket.url, "cdn_cdn_url": "https://d111.cloudfront.net"}}


def test_plan_content_counts_per_bucket_and_a_bucket_not_deployed_yet_uploads_everything(tmp_path: Path) -> None:
    bucket = LocalBucket(tmp_path / "bucket")
    bucket.create()
    target, outputs = placed_site(tmp_path, bucket)
    (before,) = plan_content([target], lambda stack: {})
    assert before.line() == "web.site: 4 files to upload, 0 to delete"
    (status,) = plan_content([target], lambda stack: outputs.get(stack, {}))
    assert status.line() == "web.site: 4 files to upload, 0 to delete" and status.has_changes
    assert status.to_json()["plan"]["upload"] == ["css/site.css", "img/logo.png", "index.html", "notes.unknownext"]
    (skipped,) = plan_content([target], lambda stack: outputs[stack], {"web.site": "a move is unfinished"})
    assert skipped.plan is None and skipped.line() == "web.site: not synced: a move is unfinished"


def test_deploy_waits_for_the_stack_and_invalidates_only_what_was_replaced_or_deleted(tmp_path: Path) -> None:
    bucket = LocalBucket(tmp_path / "bucket")
    bucket.create()
    target, outputs = placed_site(tmp_path, bucket)
    calls: list[tuple[str, str, list[str]]] = []

    def invalidate(cdn: Placed, url: str, paths: list[str]) -> str:
        calls.append((cdn.resource.address, url, paths))
        return f"I{len(calls)}"

    (waiting,) = deploy_content([target], outputs.__getitem__, set(), invalidate)
    assert waiting.skipped == "its stack dev-web-aws did not apply" and keys(bucket) == []
    (first,) = deploy_content([target], outputs.__getitem__, {"dev-web-aws"}, invalidate)
    assert first.report is not None and len(first.report.uploaded) == 4 and calls == []  # nothing was cached yet
    site = target.directory
    (site / "index.html").write_text("<h1>sale</h1>")
    (site / "notes.unknownext").unlink()
    (site / "new page.html").write_text("<p>new</p>")
    (status,) = deploy_content([target], outputs.__getitem__, {"dev-web-aws"}, invalidate)
    assert status.report is not None and status.report.unchanged == 2
    assert calls == [("web.cdn", "https://d111.cloudfront.net", ["/", "/index.html", "/notes.unknownext"])]
    assert status.invalidations == [{"cdn": "web.cdn", "paths": ["/", "/index.html", "/notes.unknownext"],
                                     "id": "I1"}]
    assert "CDN web.cdn: invalidation I1 of 3 path(s)" in status.line()


def test_invalidation_paths_are_url_encoded_and_include_the_root_for_the_index() -> None:
    cdn = Cdn("cdn", origin=Bucket("site"))
    assert invalidation_paths(["a b/é.html", "index.html"], cdn) == ["/", "/a%20b/%C3%A9.html", "/index.html"]
    assert invalidation_paths(["docs/index.html"], cdn) == ["/docs/index.html"]


# ------------------------------------------------------------------------------------- CloudFront on moto

def distribution(client: Any, bucket: str) -> dict[str, Any]:
    return client.create_distribution(DistributionConfig={
        "CallerReference": uuid.uuid4().hex, "Comment": "content test", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "site", "DomainName": f"{bucket}.s3.amazonaws.com",
                                              "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "site", "ViewerProtocolPolicy": "redirect-to-https",
                                 "MinTTL": 0, "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
                                 "TrustedSigners": {"Enabled": False, "Quantity": 0}},
        "DefaultRootObject": "index.html",
    })["Distribution"]


def test_s3_sync_then_cloudfront_invalidation_of_exactly_the_changed_paths_on_moto(
        tmp_path: Path, moto_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    monkeypatch.setenv("PLATFORM_S3_ENDPOINT", moto_server)  # open_bucket("s3://...") as the CLI does, on moto

    cloudfront = boto3.client("cloudfront", region_name="us-east-1", endpoint_url=moto_server)
    bucket = S3Bucket(f"content-{uuid.uuid4().hex[:12]}", endpoint_url=moto_server)
    bucket.create()
    other = distribution(cloudfront, "someone-else")
    dist = distribution(cloudfront, bucket.name)
    target, outputs = placed_site(tmp_path, bucket)
    outputs["dev-web-aws"]["cdn_cdn_url"] = f"https://{dist['DomainName']}"

    def invalidate(cdn: Placed, url: str, paths: list[str]) -> str | None:
        return AWS.invalidate_cdn(None, url, paths, client=cloudfront)  # type: ignore[arg-type]

    (first,) = deploy_content([target], outputs.__getitem__, {"dev-web-aws"}, invalidate)
    assert first.error is None and first.report is not None and len(first.report.uploaded) == 4, first.error
    assert cloudfront.list_invalidations(DistributionId=dist["Id"])["InvalidationList"].get("Quantity", 0) == 0
    (target.directory / "css" / "site.css").write_text("h1 { color: red }")
    (target.directory / "img" / "logo.png").unlink()
    (target.directory / "img" / "hero.png").write_bytes(PNG[::-1])
    (status,) = deploy_content([target], outputs.__getitem__, {"dev-web-aws"}, invalidate)
    assert status.error is None, status.error
    (entry,) = status.invalidations
    assert entry["id"] and entry["paths"] == ["/css/site.css", "/img/logo.png"]
    found = cloudfront.get_invalidation(DistributionId=dist["Id"], Id=entry["id"])["Invalidation"]
    assert sorted(found["InvalidationBatch"]["Paths"]["Items"]) == ["/css/site.css", "/img/logo.png"]
    assert cloudfront.list_invalidations(DistributionId=other["Id"])["InvalidationList"].get("Quantity", 0) == 0
    assert keys(bucket) == sorted([MANIFEST_KEY, "css/site.css", "img/hero.png", "index.html", "notes.unknownext"])
    assert bucket.stat("img/hero.png").content_type == "image/png"  # type: ignore[union-attr]


def test_a_cdn_no_distribution_serves_is_reported_not_raised(tmp_path: Path, moto_server: str) -> None:
    import boto3

    cloudfront = boto3.client("cloudfront", region_name="us-east-1", endpoint_url=moto_server)
    with pytest.raises(Exception, match="no CloudFront distribution of this account serves"):
        AWS.invalidate_cdn(None, "https://dnothere.cloudfront.net", ["/a"], client=cloudfront)  # type: ignore[arg-type]
    bucket = LocalBucket(tmp_path / "bucket")
    bucket.create()
    target, outputs = placed_site(tmp_path, bucket)
    deploy_content([target], outputs.__getitem__, {"dev-web-aws"}, lambda c, u, p: None)
    (target.directory / "index.html").write_text("<h1>changed</h1>")

    def invalidate(cdn: Placed, url: str, paths: list[str]) -> str | None:
        return AWS.invalidate_cdn(None, url, paths, client=cloudfront)  # type: ignore[arg-type]

    (status,) = deploy_content([target], outputs.__getitem__, {"dev-web-aws"}, invalidate)
    assert status.report is not None and status.report.uploaded == ["index.html"] and status.error is None
    assert "invalidation failed" in status.invalidations[0]["error"]


# ---------------------------------------------------------------------------------------------- a move

def test_a_move_copies_the_manifest_so_the_next_sync_on_the_target_still_knows_what_it_manages(
        tmp_path: Path) -> None:
    from platform_sdk.move.buckets import sync_bucket

    site = write_site(tmp_path)
    source, target = LocalBucket(tmp_path / "aws-bucket"), LocalBucket(tmp_path / "gcp-bucket")
    source.create()
    target.create()
    apply_sync(plan_sync(scan(site), source), source)
    moved = sync_bucket("web.site", "copy", source.url, target.url, tmp_path / "journal.sqlite3", cutover=False)
    assert moved.verify.ok and moved.copy.ok and MANIFEST_KEY in keys(target)
    assert json.loads(target.get(MANIFEST_KEY)) == json.loads(source.get(MANIFEST_KEY))
    assert not plan_sync(scan(site), target).has_changes
    (site / "notes.unknownext").unlink()
    plan = plan_sync(scan(site), target)
    assert (plan.upload, plan.delete) == ([], ["notes.unknownext"])
