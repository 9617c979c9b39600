"""Static content end to end: the example web site (`StaticSite(content="site/")`) through the CLI, real Terraform,
the local cloud and its gateway. `platform apply` uploads the site and the page is served through the CDN route;
after edits, adds and deletes the plan counts what the next apply does, and the apply makes the bucket match the
directory. Only 127.0.0.1 is used.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from platform_sdk.content.sync import MANIFEST_KEY
from platform_sdk.localcloud.dev import Gateway, roots_for_env
from tests.terraform_fixtures import (  # noqa: F401 - the *_fixture imports register fixtures
    Cli,
    cli_fixture,
    cloud_root,
    make_project,
    tf_binary_fixture,
)

pytestmark = pytest.mark.e2e


def bucket_files(bucket: Path) -> dict[str, bytes]:
    return {p.relative_to(bucket).as_posix(): p.read_bytes() for p in sorted(bucket.rglob("*"))
            if p.is_file() and not p.relative_to(bucket).as_posix().startswith(".platform-tmp/")}


def source_files(site: Path) -> dict[str, bytes]:
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()}


def test_apply_uploads_the_site_serves_it_through_the_cdn_and_keeps_the_bucket_equal_to_the_directory(
        tmp_path: Path, cli: Cli) -> None:
    project = make_project(tmp_path / "estate", services=["web"])
    site = project / "services" / "site"
    bucket = cloud_root(project) / "gcp" / "buckets" / "acme-local-web-site"

    code, plan = cli.json(project, "plan", "--env", "local")
    assert code == 0, plan
    (content,) = plan["content"]
    assert (content["resource"], content["plan"]["upload"], content["plan"]["delete"]) == ("web.site", ["index.html"],
                                                                                           [])
    assert "web.site: 1 file to upload, 0 to delete" in cli(project, "plan", "--env", "local").stdout

    result = cli(project, "apply", "--env", "local", "--auto-approve")
    assert result.exit_code == 0, result.output
    assert "web.site: 1 uploaded, 0 deleted, 0 unchanged" in result.stdout
    assert bucket_files(bucket) == {**source_files(site), MANIFEST_KEY: bucket_files(bucket)[MANIFEST_KEY]}

    from platform_sdk.envs import find_environment

    with Gateway(roots_for_env(project, find_environment(project / "envs", "local"))) as gateway:
        home = requests.get(f"{gateway.url}/cdn/acme-local-web-cdn/", timeout=30)
        assert home.status_code == 200 and home.text == (site / "index.html").read_text()
        assert home.headers["content-type"].startswith("text/html")

        # Converged: nothing to upload, and the plan says so (exit 0 under --detailed-exitcode).
        result = cli(project, "plan", "--env", "local", "--detailed-exitcode")
        assert result.exit_code == 0, result.output
        assert "web.site: up to date (1 file)" in result.stdout

        # Edit one page, add two files (one in a folder), then delete one of them after a first apply.
        (site / "index.html").write_text("<!doctype html><title>Shop</title><h1>Sale today</h1>")
        (site / "about.html").write_text("<p>about us</p>")
        (site / "css").mkdir()
        (site / "css" / "shop.css").write_text("h1 { color: teal }")
        code, plan = cli.json(project, "plan", "--env", "local", "--detailed-exitcode")
        assert code == 2 and plan["changes_present"] is True
        (content,) = plan["content"]
        assert content["plan"] == {"upload": ["about.html", "css/shop.css", "index.html"], "changed": ["index.html"],
                                   "delete": [], "unchanged": 0}
        assert "web.site: 3 files to upload, 0 to delete" in cli(project, "plan", "--env", "local").stdout
        code, applied = cli.json(project, "apply", "--env", "local", "--auto-approve")
        assert code == 0, applied
        (content,) = applied["content"]
        assert sorted(content["result"]["uploaded"]) == ["about.html", "css/shop.css", "index.html"]
        assert content["invalidations"] == []  # the local gateway's CDN route keeps no cache
        assert requests.get(f"{gateway.url}/cdn/acme-local-web-cdn/", timeout=30).text.endswith("Sale today</h1>")
        shop_css = requests.get(f"{gateway.url}/cdn/acme-local-web-cdn/css/shop.css", timeout=30)
        assert shop_css.status_code == 200 and shop_css.headers["content-type"].startswith("text/css")

        (site / "about.html").unlink()
        result = cli(project, "plan", "--env", "local")
        assert "web.site: 0 files to upload, 1 to delete" in result.stdout, result.stdout
        result = cli(project, "apply", "--env", "local", "--auto-approve")
        assert result.exit_code == 0, result.output
        assert "web.site: 0 uploaded, 1 deleted, 2 unchanged" in result.stdout
        files = bucket_files(bucket)
        assert files == {**source_files(site), MANIFEST_KEY: files[MANIFEST_KEY]}
        assert sorted(json.loads(files[MANIFEST_KEY])["files"]) == ["css/shop.css", "index.html"]
        assert requests.get(f"{gateway.url}/cdn/acme-local-web-cdn/about.html", timeout=30).status_code == 404

    # Without --auto-approve and with no Terraform change, content is uploaded only after a "yes".
    (site / "index.html").write_text("<h1>closed</h1>")
    result = cli(project, "apply", "--env", "local", input="no\n")
    assert "web.site: 1 file to upload, 0 to delete" in result.stdout  # shown before the question
    assert "Content upload cancelled" in result.output and bucket_files(bucket)["index.html"] != b"<h1>closed</h1>"
    result = cli(project, "apply", "--env", "local", input="yes\n")
    assert result.exit_code == 0, result.output
    assert bucket_files(bucket)["index.html"] == b"<h1>closed</h1>"


def test_a_content_directory_that_does_not_exist_is_refused_with_exit_2_and_nothing_written(
        tmp_path: Path, cli: Cli) -> None:
    project = make_project(tmp_path / "estate", services=["web"])
    web = project / "services" / "web.py"
    web.write_text(web.read_text().replace('content="site/"', 'content="public/"'))
    result = cli(project, "plan", "--env", "local")
    assert result.exit_code == 2
    line = next(n for n, text in enumerate(web.read_text().splitlines(), 1) if 'content="public/"' in text)
    assert f"{web}:{line}: content:" in result.output and "public does not exist" in result.output
    assert not (project / ".platform" / "localcloud").exists()
