"""A Terraform error about a block names the neutral resource the block implements and where the user declared it:
Terraform names `localcloud_bucket.site` and a line of cdk.tf.json, which the user never wrote."""

from __future__ import annotations

from pathlib import Path

from platform_sdk.terraform import report as rp
from tests.terraform_fixtures import Cli, make_project, tf_binary_fixture  # noqa: F401 - registers tf_binary


def test_a_failed_apply_names_the_resource_and_its_declaration(tmp_path: Path, tf_binary: Path) -> None:
    project = make_project(tmp_path / "estate", services=["web"])
    bucket_dir = project / ".platform" / "localcloud" / "local" / "gcp" / "buckets" / "acme-local-web-site"
    bucket_dir.parent.mkdir(parents=True, exist_ok=True)
    bucket_dir.write_text("a file where the local cloud puts the bucket's folder")  # the provider's mkdir fails

    result = Cli(tf_binary)(project, "apply", "--env", "local", "--auto-approve")

    assert result.exit_code == 1, result.output
    assert "with localcloud_bucket.site," in result.output  # Terraform's own words stay
    line = next(n for n, text in enumerate((project / "services" / "web.py").read_text().splitlines(), 1)
                if text.startswith("site = service.add(StaticSite("))
    hint = f"hint: localcloud_bucket.site is web.site, declared at services/web.py:{line}"
    assert hint in result.output, result.output


def test_owners_are_named_once_each_and_only_ours() -> None:
    text = """
╷
│ Error: creating S3 bucket: BucketAlreadyExists
│
│   with aws_s3_bucket.site,
│   on cdk.tf.json line 60, in resource "aws_s3_bucket" "site":
│   60:       }
╵
╷
│ Error: again
│
│   with aws_s3_bucket.site,
│   with aws_iam_role.theirs,
╵
Error: plain output
  with aws_lambda_function.api,
"""
    owners = {"aws_s3_bucket.site": "web.site", "aws_lambda_function.api": "web.api"}
    declared = {"web.site": "services/web.py:11"}
    assert rp.owners_named(text, owners, declared).splitlines() == [
        "hint: aws_s3_bucket.site is web.site, declared at services/web.py:11",
        "hint: aws_lambda_function.api is web.api",
    ]
    assert rp.owners_named("Error: no block named", owners, declared) == ""
