"""DNS zones and CDN domains in synthesis (issue 18): the zone in the environment's base stack per cloud (read as
data or created, its name servers as outputs) and never in a service stack; a CDN domain outside the zone's known
DNS name refused at synthesis (exit 2 naming the file, the key and the value); the two phases of a domain in an
external zone on AWS (ACM, CloudFront) and GCP (Certificate Manager DNS authorization), each synthesized output
through the vendored provider schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import platform_sdk.cdk.engine  # noqa: F401  (points jsii at the pip-installed Node)
from platform_sdk.envs import Environment, load_environment
from platform_sdk.errors import EnvironmentError_
from platform_sdk.loader import load_services
from platform_sdk.project import Project
from platform_sdk.synth.app import synthesize
from platform_sdk.synth.schema_check import check_outdir, format_errors

SERVICE = '''
from platform_sdk import Bucket, Cdn, Service

service = Service("web", owner="web-team")
site = service.add(Bucket("site"))
service.add(Cdn("cdn", origin=site, domain="shop.dev.example.com"))
'''
OTHER = '''
from platform_sdk import Bucket, Service

service = Service("files", owner="files-team")
service.add(Bucket("docs"))
'''
HEAD = 'name_prefix = "acme"\ndefault_cloud = "aws"\n'
AWS = '[clouds.aws]\nregion = "eu-west-1"\naccount = "111111111111"\n'
GCP = '[clouds.gcp]\nregion = "europe-west1"\nproject = "acme-dev-123"\n'

Stacks = dict[str, dict[str, Any]]


def project_with(root: Path, env: str, services: dict[str, str] | None = None) -> Project:
    (root / "services").mkdir(parents=True)
    for name, text in (services or {"web.py": SERVICE}).items():
        (root / "services" / name).write_text(text)
    (root / "envs").mkdir()
    (root / "envs" / "dev.toml").write_text(env)
    return Project(root)


def synth(project: Project, waiting: set[str] | None = None) -> tuple[Path, Stacks]:
    env: Environment = load_environment(project.envs_dir / "dev.toml")
    if waiting:
        env = env.with_domains_waiting(waiting)
    outdir = synthesize(project, env, load_services(project.services_dir), conformance=False).outdir
    errors = check_outdir(outdir)
    assert not errors, format_errors(errors)  # every synthesized stack through the vendored provider schemas
    return outdir, {p.parent.name: json.loads(p.read_text()) for p in sorted(outdir.glob("stacks/*/cdk.tf.json"))}


def blocks(stack: dict[str, Any], section: str, tf_type: str) -> dict[str, dict[str, Any]]:
    return stack.get(section, {}).get(tf_type, {})


# -- zones in the base stack -----------------------------------------------------------------------------------------
def test_a_referenced_route53_zone_is_read_by_the_base_stack_and_service_stacks_use_its_id(tmp_path: Path) -> None:
    env = HEAD + AWS + 'dns_zone = { id = "Z0DEVEXAMPLE00000000", name = "dev.example.com" }\n'
    _, stacks = synth(project_with(tmp_path, env))
    base, web = stacks["dev-base-aws"], stacks["dev-web-aws"]
    assert blocks(base, "data", "aws_route53_zone")["platform_dns_zone"]["zone_id"] == "Z0DEVEXAMPLE00000000"
    assert base["output"]["dns_zone_name_servers"]["value"] == "${data.aws_route53_zone.platform_dns_zone.name_servers}"
    assert "aws_route53_zone" not in web.get("data", {}) and "aws_route53_zone" not in web.get("resource", {})
    records = blocks(web, "resource", "aws_route53_record")
    assert {r["zone_id"] for r in records.values()} == {"Z0DEVEXAMPLE00000000"}  # known before apply: a literal
    assert blocks(web, "resource", "aws_cloudfront_distribution")["cdn_distribution"]["aliases"] == [
        "shop.dev.example.com"]


def test_a_route53_zone_the_environment_asks_for_is_created_by_the_base_stack(tmp_path: Path) -> None:
    env = HEAD + AWS + 'dns_zone = { create = "dev.example.com" }\n'
    _, stacks = synth(project_with(tmp_path, env))
    base, web = stacks["dev-base-aws"], stacks["dev-web-aws"]
    assert blocks(base, "resource", "aws_route53_zone")["platform_dns_zone"]["name"] == "dev.example.com"
    assert base["output"]["dns_zone_name_servers"]["value"] == "${aws_route53_zone.platform_dns_zone.name_servers}"
    assert "aws_route53_zone" not in web.get("resource", {})
    (lookup,) = blocks(web, "data", "aws_route53_zone").values()  # Route 53 names the id: read by name
    assert lookup == {**lookup, "name": "dev.example.com", "private_zone": False}
    assert "dev-base-aws" in json.loads((tmp_path / "cdktf.out" / "dev" / "platform.json").read_text())[
        "stacks"]["dev-web-aws"]["dependencies"]


def test_a_cloud_dns_zone_the_environment_asks_for_is_created_by_the_base_stack(tmp_path: Path) -> None:
    env = HEAD.replace('"aws"', '"gcp"') + GCP + 'dns_zone = { create = "dev.example.com" }\n'
    _, stacks = synth(project_with(tmp_path, env))
    base, web = stacks["dev-base-gcp"], stacks["dev-web-gcp"]
    zone = blocks(base, "resource", "google_dns_managed_zone")["platform_dns_zone"]
    assert (zone["name"], zone["dns_name"], zone["visibility"]) == ("acme-dev-base-dns", "dev.example.com.", "public")
    assert zone["depends_on"] == ["google_project_service.platform_api_dns"]
    assert zone["dnssec_config"] == {"state": "on"}  # checkov CKV_GCP_16: signed from the start
    assert "google_dns_managed_zone" not in web.get("resource", {})
    (record,) = blocks(web, "resource", "google_dns_record_set").values()
    assert (record["managed_zone"], record["name"]) == ("acme-dev-base-dns", "shop.dev.example.com.")


def test_moving_a_service_leaves_the_zone_in_the_base_stack(tmp_path: Path) -> None:
    zone_lines = 'dns_zone = { create = "dev.example.com" }\n'
    env = HEAD + AWS + zone_lines + GCP + zone_lines
    project = project_with(tmp_path, env, {"web.py": SERVICE, "files.py": OTHER})
    _, before = synth(project)
    path = project.envs_dir / "dev.toml"
    path.write_text(path.read_text() + '[placement]\n"web" = "gcp"\n')
    _, after = synth(project)
    assert "dev-web-aws" not in after and "dev-web-gcp" in after
    assert before["dev-base-aws"]["resource"]["aws_route53_zone"] == after["dev-base-aws"]["resource"][
        "aws_route53_zone"]
    for stacks in (before, after):
        for name, stack in stacks.items():
            if not name.startswith("dev-base-"):
                assert not {"aws_route53_zone", "google_dns_managed_zone"} & set(stack.get("resource", {})), name


# -- a domain must lie in its zone -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("cloud", "zone"), [
    ("aws", 'dns_zone = { id = "Z0DEVEXAMPLE00000000", name = "example.com" }'),
    ("aws", 'dns_zone = { create = "example.com" }'),
    ("gcp", 'dns_zone = { id = "acme-dev", name = "example.com" }'),
    ("gcp", 'dns_zone = { create = "example.com" }'),
])
def test_a_domain_outside_the_zone_exits_2_at_synthesis_naming_file_key_and_value(
        tmp_path: Path, cloud: str, zone: str) -> None:
    from platform_sdk.cli import app

    section = AWS if cloud == "aws" else GCP
    override = '\n[overrides."web.cdn"]\ndomain = "shop.example.org"\n'
    env = HEAD.replace('"aws"', f'"{cloud}"') + section + zone + override
    project = project_with(tmp_path / "p", env)
    with pytest.raises(EnvironmentError_):
        synth(project)
    result = CliRunner().invoke(app, ["synth", "--project", str(project.root), "--env", "dev"])
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert "dev.toml" in message and 'overrides."web.cdn".domain' in message and "shop.example.org" in message
    assert "not in zone example.com" in message
    assert not (project.root / "cdktf.out" / "dev").exists()  # nothing written
    inside = project.envs_dir / "dev.toml"
    inside.write_text(inside.read_text().replace("shop.example.org", "shop.example.com"))
    synth(project)  # a name in the zone (or the zone's own name) is fine
    # a domain the service file sets (no override) is blamed on the line that declares the CDN, not on the zone
    code = SERVICE.replace("shop.dev.example.com", "shop.example.org")
    project = project_with(tmp_path / "q", env.replace(override, ""), {"web.py": code})
    result = CliRunner().invoke(app, ["synth", "--project", str(project.root), "--env", "dev"])
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    line = code.splitlines().index(next(x for x in code.splitlines() if "shop.example.org" in x)) + 1
    assert f"web.py:{line}: domain: CDN web.cdn" in message and "not in zone example.com" in message


def test_a_zone_table_names_one_zone(tmp_path: Path) -> None:
    from platform_sdk.cli import app

    project = project_with(tmp_path, HEAD + AWS + 'dns_zone = { id = "Z0DEVEXAMPLE00000000" }\n')
    result = CliRunner().invoke(app, ["synth", "--project", str(project.root), "--env", "dev"])
    assert result.exit_code == 2
    assert "dns_zone" in result.output and "needs name" in " ".join(result.output.split())


# -- the two phases of an external zone ------------------------------------------------------------------------------
def test_aws_external_zone_first_phase_requests_the_certificate_and_waits_for_nothing(tmp_path: Path) -> None:
    project = project_with(tmp_path, HEAD + AWS + 'dns_zone = "external"\n')
    with pytest.warns(UserWarning, match="two-phase"):
        _, first = synth(project, waiting={"shop.dev.example.com"})
    web = first["dev-web-aws"]
    assert "cdn_certificate" in blocks(web, "resource", "aws_acm_certificate")
    assert not blocks(web, "resource", "aws_acm_certificate_validation")  # nothing waits for the records
    dist = blocks(web, "resource", "aws_cloudfront_distribution")["cdn_distribution"]
    assert "aliases" not in dist and dist["viewer_certificate"] == {"cloudfront_default_certificate": True}
    assert web["output"]["cdn_cdn_dns_phase"]["value"] == "certificate"
    validation, alias = web["output"]["cdn_cdn_dns_records"]["value"]
    assert "resource_record_value" in validation["value"] and alias["name"] == "shop.dev.example.com"

    _, complete = synth(project)
    web = complete["dev-web-aws"]
    validation = blocks(web, "resource", "aws_acm_certificate_validation")["cdn_certificate_validation"]
    assert "validation_record_fqdns" not in validation  # the records are outside AWS
    dist = blocks(web, "resource", "aws_cloudfront_distribution")["cdn_distribution"]
    assert dist["aliases"] == ["shop.dev.example.com"]
    assert dist["viewer_certificate"]["acm_certificate_arn"] == (
        "${aws_acm_certificate_validation.cdn_certificate_validation.certificate_arn}")
    assert web["output"]["cdn_cdn_dns_phase"]["value"] == "complete"


def test_gcp_external_zone_certificate_is_dns_authorized_and_served_once_complete(tmp_path: Path) -> None:
    project = project_with(tmp_path, HEAD.replace('"aws"', '"gcp"') + GCP + 'dns_zone = "external"\n')
    with pytest.warns(UserWarning, match="two-phase"):
        _, first = synth(project, waiting={"shop.dev.example.com"})
    web = first["dev-web-gcp"]
    auth = blocks(web, "resource", "google_certificate_manager_dns_authorization")["cdn_dns_authorization"]
    assert auth["domain"] == "shop.dev.example.com"
    cert = blocks(web, "resource", "google_certificate_manager_certificate")["cdn_cert"]
    assert cert["managed"] == {"domains": ["shop.dev.example.com"],
                               "dns_authorizations": ["${google_certificate_manager_dns_authorization."
                                                      "cdn_dns_authorization.id}"]}
    for frontend in ("google_compute_target_https_proxy", "google_compute_global_forwarding_rule",
                     "google_certificate_manager_certificate_map", "google_compute_managed_ssl_certificate"):
        assert not blocks(web, "resource", frontend), frontend
    authorization, a_record = web["output"]["cdn_cdn_dns_records"]["value"]
    assert "dns_resource_record" in authorization["value"] and a_record["type"] == "A"
    assert web["output"]["cdn_cdn_dns_phase"]["value"] == "certificate"

    _, complete = synth(project)
    web = complete["dev-web-gcp"]
    entry = blocks(web, "resource", "google_certificate_manager_certificate_map_entry")["cdn_cert_map_entry"]
    assert entry["hostname"] == "shop.dev.example.com"
    assert entry["certificates"] == ["${google_certificate_manager_certificate.cdn_cert.id}"]
    proxy = blocks(web, "resource", "google_compute_target_https_proxy")["cdn_https_proxy"]
    assert proxy["certificate_map"] == (
        "//certificatemanager.googleapis.com/${google_certificate_manager_certificate_map.cdn_cert_map.id}")
    assert "ssl_certificates" not in proxy
    assert len(blocks(web, "resource", "google_compute_global_forwarding_rule")) == 2  # HTTPS, and HTTP redirecting
    assert web["output"]["cdn_cdn_dns_phase"]["value"] == "complete"
