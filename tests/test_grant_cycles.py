"""Grants that form a cycle between two services (issue 14.8).

Two services whose functions are granted each other's buckets need each stack applied before the other; CDKTF
ended in a jsii traceback. Where the bucket is known before apply (AWS and the local cloud name it by the naming
convention, an S3 ARN carries neither account nor region) one grant is wired with those values and the cycle is
gone; on GCP, where the grant is an IAM binding on the bucket itself, the cycle is refused naming both grants.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import requests
from typer.testing import CliRunner

from platform_sdk.cli import app
from platform_sdk.conformance import analyze
from platform_sdk.envs import find_environment
from platform_sdk.loader import load_services
from platform_sdk.localcloud.dev import Gateway, roots_for_env
from platform_sdk.providers import compilers_for
from platform_sdk.providers.local.runtime.buckets import LocalBucket
from platform_sdk.synth.placement import resolve_placements
from platform_sdk.synth.schema_check import check_outdir, format_errors
from platform_sdk.tfjson import stacks_from_metadata
from tests.terraform_fixtures import Cli, tf_binary_fixture  # noqa: F401 - registers the fixture

SHOP = '''\
from platform_sdk import Bucket, Function, Service, http

orders = Service("orders", owner="shop-team")
order_files = orders.add(Bucket("files", force_destroy=True))
order_api = orders.add(Function("api", handler="orders.handle", source="code", triggers=[http()]))

invoices = Service("invoices", owner="billing-team")
invoice_files = invoices.add(Bucket("files", force_destroy=True))
invoice_api = invoices.add(Function("api", handler="invoices.handle", source="code", triggers=[http()]))

order_api.reads(invoice_files)
invoice_api.reads_writes(order_files)
'''
ORDERS = '''\
from platform_sdk.runtime import HttpResponse, bucket


def handle(request):
    return HttpResponse(200, {"invoices": sorted(obj.key for obj in bucket("files").list())})
'''
INVOICES = '''\
from platform_sdk.runtime import HttpResponse, bucket


def handle(request):
    bucket("files").put("seen-by-invoices.txt", request.body or b"")
    return HttpResponse(201, {"orders": sorted(obj.key for obj in bucket("files").list())})
'''
ENVS = {
    "dev": 'name_prefix = "acme"\ndefault_cloud = "aws"\n[clouds.aws]\naccount = "111111111111"\n'
           'region = "eu-west-1"\n',
    "gcp": 'name_prefix = "acme"\ndefault_cloud = "gcp"\n[clouds.gcp]\nproject = "acme-dev-123"\n'
           'region = "europe-west1"\n',
    "local": 'name_prefix = "acme"\ndefault_cloud = "local"\n[clouds.local]\nroot = ".platform/localcloud"\n',
}


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    (root / "services" / "code").mkdir(parents=True)
    (root / "services" / "shop.py").write_text(SHOP)
    (root / "services" / "code" / "orders.py").write_text(ORDERS)
    (root / "services" / "code" / "invoices.py").write_text(INVOICES)
    (root / "envs").mkdir()
    for name, text in ENVS.items():
        (root / "envs" / f"{name}.toml").write_text(text)
    return root


def _stack(root: Path, env: str, name: str) -> dict:
    return json.loads((root / "cdktf.out" / env / "stacks" / name / "cdk.tf.json").read_text())


def test_on_aws_one_grant_names_the_bucket_by_its_known_arn_and_the_cycle_is_gone(shop: Path) -> None:
    result = CliRunner().invoke(app, ["synth", "--env", "dev", "--project", str(shop)])
    assert result.exit_code == 0, result.output
    assert not check_outdir(shop / "cdktf.out" / "dev"), format_errors(check_outdir(shop / "cdktf.out" / "dev"))
    metadata = json.loads((shop / "cdktf.out" / "dev" / "platform.json").read_text())
    deps = {name: info["dependencies"] for name, info in metadata["stacks"].items()}
    assert deps == {"dev-invoices-aws": ["dev-orders-aws"], "dev-orders-aws": []}
    orders = _stack(shop, "dev", "dev-orders-aws")
    policy = json.loads(orders["resource"]["aws_iam_role_policy"]["api_policy"]["policy"])
    resources = {s["Sid"]: s["Resource"] for s in policy["Statement"]}
    assert resources["BucketInvoicesFilesBucket"] == "arn:aws:s3:::acme-dev-invoices-files"
    assert resources["BucketInvoicesFilesObjects"] == "arn:aws:s3:::acme-dev-invoices-files/*"
    variables = orders["resource"]["aws_lambda_function"]["api_function"]["environment"]["variables"]
    assert variables["PLATFORM_BUCKET_FILES"] == "s3://acme-dev-invoices-files"
    assert "terraform_remote_state" not in orders.get("data", {})
    graph = CliRunner().invoke(app, ["graph", "--env", "dev", "--project", str(shop), "--json"])
    assert json.loads(graph.stdout)["stacks"]["dev-orders-aws"]["depends_on"] == []
    # the conformance analysis recognises the known ARN as the bucket's: every grant works (14.5 is another fix)
    env = find_environment(shop / "envs", "dev")
    services = load_services(shop / "services")
    outdir = shop / "cdktf.out" / "dev"
    findings = analyze(outdir, stacks_from_metadata(outdir), resolve_placements(env, services, compilers_for(env)))
    assert [str(f) for f in findings if "invoked_via_function_url" not in f.missing] == []


def test_on_gcp_the_cycle_is_refused_naming_both_grants(shop: Path) -> None:
    result = CliRunner().invoke(app, ["synth", "--env", "gcp", "--project", str(shop)])
    output = re.sub(r"\s+", " ", result.output)
    source = shop / "services" / "shop.py"
    assert result.exit_code == 2, result.output
    assert f"{source}:12: a cycle between stacks (gcp-invoices-gcp -> gcp-orders-gcp -> gcp-invoices-gcp)" in output
    assert f"invoices.api reads_writes(orders.files) ({source}:12)" in output
    assert f"orders.api reads(invoices.files) ({source}:11)" in output
    assert "Traceback" not in output and "jsii" not in output
    assert not (shop / "cdktf.out").exists()


def test_on_the_local_cloud_both_stacks_apply_and_each_function_reaches_the_other_bucket(
        shop: Path, tf_binary: Path) -> None:
    result = Cli(tf_binary)(shop, "apply", "--env", "local", "--auto-approve")
    assert result.exit_code == 0, result.output
    env = find_environment(shop / "envs", "local")
    root = shop / ".platform" / "localcloud" / "local" / "local" / "buckets"
    LocalBucket(root / "acme-local-invoices-files").put("invoice-1.pdf", b"%PDF")
    with Gateway(roots_for_env(shop, env)) as gateway:
        orders = requests.get(f"{gateway.url}/fn/acme-local-orders-api")
        assert orders.status_code == 200, orders.text
        assert orders.json() == {"invoices": ["invoice-1.pdf"]}
        invoices = requests.post(f"{gateway.url}/fn/acme-local-invoices-api", data=b"order 7")
        assert invoices.status_code == 201, invoices.text
        assert invoices.json() == {"orders": ["seen-by-invoices.txt"]}
    assert (root / "acme-local-orders-files" / "seen-by-invoices.txt").read_bytes() == b"order 7"
    destroyed = Cli(tf_binary)(shop, "destroy", "--env", "local", "--auto-approve", "--allow-data-loss")
    assert destroyed.exit_code == 0, destroyed.output
