"""`platform status` against what each cloud reports: Lambda in moto (server mode), Cloud Functions v2 through the
real client library against a local REST fake, and the local cloud registry after a real Terraform apply.

Only 127.0.0.1 is contacted; no assertion depends on the clock.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from platform_sdk.providers.aws.status import code_sha256_to_hex
from platform_sdk.providers.gcp.status import ENDPOINT_ENV, functions_client, package_hash
from platform_sdk.status import function_refs
from tests.emulators import MOTO_ENVIRONMENT
from tests.fake_cloudfunctions import FakeCloudFunctions
from tests.terraform_fixtures import Cli, make_project, tf_binary_fixture  # noqa: F401 - registers tf_binary

pytestmark = pytest.mark.e2e


GCP_ENV = """
name_prefix = "acme"
default_cloud = "gcp"
[clouds.gcp]
project = "acme-test-123"
region = "europe-west1"
[state]
backend = "local"
"""


def by_address(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["address"]: f for f in report["functions"]}


def package_zip(project: Path, env: str, address: str) -> bytes:
    """The synthesized package of one function (the file Terraform would upload)."""
    outdir = project / "cdktf.out" / env
    ref = next(r for r in function_refs(outdir) if r.address == address)
    doc = json.loads((outdir / "stacks" / ref.stack / "cdk.tf.json").read_text())
    rtype, rid = ref.resource.split(".", 1)
    return (outdir / "stacks" / ref.stack / doc["resource"][rtype][rid]["filename"]).read_bytes()


@pytest.fixture
def cli() -> Cli:
    return Cli(Path("terraform-not-needed"))


def test_lambda_status_and_drift_against_moto(estate: Path, cli: Cli, moto_server: str) -> None:
    (estate / "envs" / "awscheck.toml").write_text(MOTO_ENVIRONMENT.format(endpoint=moto_server))
    assert cli(estate, "synth", "--env", "awscheck").exit_code == 0
    names = {r.address: r.name for r in function_refs(estate / "cdktf.out" / "awscheck")}
    assert names["auth.api"] == "acme-awscheck-auth-api"

    iam = boto3.client("iam", endpoint_url=moto_server)
    role = iam.create_role(RoleName="status-test", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]["Arn"]
    lam = boto3.client("lambda", endpoint_url=moto_server, region_name="us-east-1")
    for address in ("auth.api", "thumbnails.resize"):
        lam.create_function(FunctionName=names[address], Runtime="python3.11", Role=role,
                            Handler="_platform_entry.handler",
                            Code={"ZipFile": package_zip(estate, "awscheck", address)})
    url = lam.create_function_url_config(FunctionName=names["auth.api"], AuthType="NONE")["FunctionUrl"]

    result = cli(estate, "status", "--env", "awscheck", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    fns = by_address(report)
    assert set(fns) == {"auth.api", "auth.cleanup", "notifications.render", "notifications.worker",
                        "thumbnails.on-demand", "thumbnails.resize", "web.api"}
    api = fns["auth.api"]
    assert api["state"] == "Active" and api["runtime"] == "python3.11" and api["url"] == url
    assert api["code_hash"] == api["expected_hash"] and api["drifted"] is False and api["last_update"]
    assert fns["thumbnails.resize"]["drifted"] is False and fns["thumbnails.resize"]["url"] is None
    assert fns["thumbnails.resize"]["reached"].startswith("object created in thumbnails.originals (*.jpg)")
    assert fns["auth.cleanup"]["state"] == "NotFound" and fns["auth.cleanup"]["drifted"] is None
    assert report["drifted"] == [] and sorted(report["not_deployed"]) == [
        "auth.cleanup", "notifications.render", "notifications.worker", "thumbnails.on-demand", "web.api"]

    # Someone deploys other code by hand: the cloud's CodeSha256 no longer matches the synthesized package.
    lam.update_function_code(FunctionName=names["auth.api"], ZipFile=package_zip(estate, "awscheck", "auth.cleanup"))
    report = json.loads(cli(estate, "status", "--env", "awscheck", "--json").stdout)
    api = by_address(report)["auth.api"]
    assert api["drifted"] is True and api["code_hash"] != api["expected_hash"]
    assert report["drifted"] == ["auth.api"]

    # The sources change but nothing is applied: with --synth, the deployed function is behind its source.
    source = estate / "services" / "functions" / "thumbnails" / "resize.py"
    source.write_text(source.read_text() + "\n# a change that was never deployed\n")
    report = json.loads(cli(estate, "status", "--env", "awscheck", "--json", "--synth").stdout)
    assert sorted(report["drifted"]) == ["auth.api", "thumbnails.resize"]

    human = cli(estate, "status", "--env", "awscheck")
    assert "drifted" in human.stdout and "acme-awscheck-auth-api" in human.stdout and url in human.stdout


def test_lambda_code_hash_is_base64_of_the_package_sha256() -> None:
    assert code_sha256_to_hex("e4tQXl9eAyXdeMIcFqsmTZCL+fCJCHDRCVIjb1tSFpA=") == (
        "7b8b505e5f5e0325dd78c21c16ab264d908bf9f0890870d10952236f5b521690")
    assert code_sha256_to_hex("not base64!") is None


def test_cloud_functions_status_and_drift_through_the_rest_client(estate: Path, cli: Cli) -> None:
    (estate / "envs" / "gcpcheck.toml").write_text(GCP_ENV)
    assert cli(estate, "synth", "--env", "gcpcheck").exit_code == 0
    refs = {r.address: r for r in function_refs(estate / "cdktf.out" / "gcpcheck")}
    web, auth, resize = refs["web.api"], refs["auth.api"], refs["thumbnails.resize"]
    assert (web.project, web.region) == ("acme-test-123", "europe-west1")

    fake = FakeCloudFunctions()
    # the object name the GCP compiler gives a package: <service>/<function>/<sha256>.zip
    fake.add(web.project, web.region, web.name, f"web/api/{web.expected_sha256}.zip")
    fake.add(auth.project, auth.region, auth.name, f"auth/api/{'0' * 64}.zip", state="DEPLOYING")
    fake.add(resize.project, resize.region, resize.name, "hand-uploaded/source.zip")
    with fake.running() as endpoint:
        result = cli(estate, "status", "--env", "gcpcheck", "--json", env={ENDPOINT_ENV: endpoint})
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)

        # the library entry point with an explicitly built client gives the same answer
        from platform_sdk.envs import find_environment
        from platform_sdk.status import collect

        env = find_environment(estate / "envs", "gcpcheck")
        statuses = collect(estate, env, estate / "cdktf.out" / "gcpcheck", clients={"gcp": functions_client(endpoint)})
        assert {s.address: s.drifted for s in statuses} == {f["address"]: f["drifted"] for f in report["functions"]}
    assert f"projects/acme-test-123/locations/europe-west1/functions/{web.name}" in fake.requests

    fns = by_address(report)
    assert fns["web.api"]["state"] == "Active" and fns["web.api"]["drifted"] is False
    assert fns["web.api"]["runtime"] == "python311"
    # a CDN's origin: the function's own URL admits only the CDN's load balancer, so none is listed (nor the CDN's
    # URL: nothing was applied, there is no record to read it from)
    assert fns["web.api"]["url"] is None and fns["web.api"]["reached"] == "via CDN web.cdn /api/*"
    assert fns["web.api"]["last_update"].startswith("2026-11-27T09:00:00")
    assert fns["auth.api"]["state"] == "Deploying" and fns["auth.api"]["drifted"] is True
    assert fns["thumbnails.resize"]["drifted"] is None
    assert "no package hash" in fns["thumbnails.resize"]["detail"]
    assert fns["auth.cleanup"]["state"] == "NotFound"
    assert report["drifted"] == ["auth.api"]


def test_package_hash_from_object_name() -> None:
    sha = "ab" * 32
    assert package_hash(f"web/api/{sha}.zip") == sha
    assert package_hash(f"{sha.upper()}.zip") == sha
    assert package_hash("web/api/latest.zip") is None


def test_unreachable_cloud_is_unknown_and_exits_1(estate: Path, cli: Cli) -> None:
    (estate / "envs" / "awscheck.toml").write_text(MOTO_ENVIRONMENT.format(endpoint="http://127.0.0.1:9"))
    result = cli(estate, "status", "--env", "awscheck", "--json",
                 env={"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_MAX_ATTEMPTS": "1"})
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert len(report["unknown"]) == 7 and report["drifted"] == []
    assert all("Lambda GetFunction failed" in f["detail"] for f in report["functions"])


def test_local_status_reads_the_registry(tmp_path: Path, tf_binary: Path) -> None:
    project = make_project(tmp_path / "estate", services=["web"])
    cli = Cli(tf_binary)
    assert cli(project, "apply", "--env", "local", "--auto-approve").exit_code == 0

    result = cli(project, "status", "--env", "local", "--json")
    assert result.exit_code == 0, result.output
    api = by_address(json.loads(result.stdout))["web.api"]
    assert api["state"] == "Active" and api["cloud"] == "gcp" and api["target"] == "local"
    # /fn/ answers 403 for a CDN's origin: its CDN route instead, the CDN's URL from the stack's record
    assert api["url"] is None and api["reached"] == "via CDN http://127.0.0.1:8790/cdn/acme-local-web-cdn/api/*"
    assert api["runtime"] == "python3.11" and api["drifted"] is False and api["last_update"]

    source = project / "services" / "functions" / "web" / "api.py"
    source.write_text(source.read_text() + "\n# edited, not applied\n")
    report = json.loads(cli(project, "status", "--env", "local", "--json", "--synth").stdout)
    assert report["drifted"] == ["web.api"]

    assert cli(project, "apply", "--env", "local", "--auto-approve").exit_code == 0
    report = json.loads(cli(project, "status", "--env", "local", "--json").stdout)
    assert report["drifted"] == [] and by_address(report)["web.api"]["state"] == "Active"
