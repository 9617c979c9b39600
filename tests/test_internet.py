"""A function that calls the internet itself says so (`Function(..., internet=True)`), and a cloud where it could not
is refused before anything is written (found by a tester: on AWS a function with a database grant runs in the VPC,
and without a NAT gateway its calls to a third-party API timed out while synthesis, `platform check` and the
rehearsal all passed).

Through the CLI and real synthesis (CDKTF, the AWS compiler): exit 2 naming the declaration, the environment file
and `clouds.aws.network.nat`, nothing written; with a NAT gateway the function's security group allows HTTPS out.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests
from typer.testing import CliRunner

from platform_sdk import Function
from platform_sdk.cli import app
from platform_sdk.conformance import examine
from platform_sdk.envs import find_environment
from platform_sdk.errors import ModelError
from platform_sdk.localcloud import logs
from platform_sdk.localcloud.dev import Gateway, roots_for_env
from platform_sdk.project import Project
from platform_sdk.tfjson import Estate
from tests.conformance_estates import Synthesized, synth, write_project
from tests.terraform_fixtures import Cli, tf_binary_fixture  # noqa: F401 - registers tf_binary

runner = CliRunner()

SERVICE = '''\
from platform_sdk import Database, Function, Service, http

shop = Service("shop", owner="team")
orders = shop.add(Database("orders", deletion_protection=False))
api = shop.add(Function("api", handler="app.handle", source="code", triggers=[http()]{internet}))
api.uses(orders)
plain = shop.add(Function("plain", handler="app.handle", source="code", internet=True))
'''
DECLARATION_LINE = 5
HANDLER = "def handle(request):\n    return {'status': 200}\n"
AWS = 'name_prefix = "acme"\ndefault_cloud = "aws"\n[clouds.aws]\nregion = "eu-west-1"\n'


def project(root: Path, env: str, internet: bool = True) -> Path:
    (root / "services" / "code").mkdir(parents=True)
    (root / "services" / "shop.py").write_text(SERVICE.format(internet=", internet=True" if internet else ""))
    (root / "services" / "code" / "app.py").write_text(HANDLER)
    (root / "envs").mkdir()
    (root / "envs" / "dev.toml").write_text(env)
    return root


def cli_synth(root: Path) -> tuple[int, str]:
    result = runner.invoke(app, ["synth", "--env", "dev", "--project", str(root)])
    return result.exit_code, re.sub(r"\s+", " ", result.output)


def egress(root: Path) -> list[dict[str, Any]]:
    """The egress rules of shop.api's own security group (its database setup function has another)."""
    doc = json.loads((root / "cdktf.out" / "dev" / "stacks" / "dev-shop-aws" / "cdk.tf.json").read_text())
    rules: dict[str, dict[str, Any]] = doc["resource"].get("aws_vpc_security_group_egress_rule", {})
    return [rule for rule in rules.values() if rule["security_group_id"] == "${aws_security_group.api_sg.id}"]


def test_internet_is_a_bool_defaulting_to_false() -> None:
    assert Function("f", handler="app.handle").internet is False
    assert Function("f", handler="app.handle", internet=True).internet is True
    with pytest.raises(ModelError) as caught:
        Function("f", handler="app.handle", internet="yes")  # type: ignore[arg-type]
    assert caught.value.key == "internet" and "internet must be True or False (got 'yes')" in str(caught.value)
    assert caught.value.file == __file__


def test_a_vpc_function_that_needs_the_internet_without_a_nat_is_refused(tmp_path: Path) -> None:
    root = project(tmp_path, AWS)
    code, output = cli_synth(root)
    assert code == 2, output
    assert output.count("error:") == 1 and "Traceback" not in output, output
    env_file = root / "envs" / "dev.toml"
    assert f"{env_file}:3: clouds.aws.network.nat: function shop.api (declared at " \
           f"{root / 'services' / 'shop.py'}:{DECLARATION_LINE}) needs the internet (internet=True) and connects to " \
           "database shop.orders, so it runs in the VPC, which has no route to the internet" in output, output
    assert 'set clouds.aws.network.nat = "existing"' in output, output
    assert not (root / "cdktf.out").exists()


def test_an_environment_can_declare_the_need_and_is_refused_the_same(tmp_path: Path) -> None:
    root = project(tmp_path, AWS + '\n[overrides."shop.api"]\ninternet = true\n', internet=False)
    code, output = cli_synth(root)
    assert code == 2 and "function shop.api" in output and "clouds.aws.network.nat" in output, output
    assert not (root / "cdktf.out").exists()


def test_without_the_need_the_vpc_function_has_no_way_out(tmp_path: Path) -> None:
    root = project(tmp_path, AWS, internet=False)
    code, output = cli_synth(root)
    assert code == 0, output
    assert not [rule for rule in egress(root) if rule.get("cidr_ipv4") == "0.0.0.0/0"]


def test_with_a_nat_gateway_the_function_may_send_https_anywhere(tmp_path: Path) -> None:
    root = project(tmp_path, AWS + '[clouds.aws.network]\nnat = "existing"\n')
    code, output = cli_synth(root)
    assert code == 0, output
    anywhere = [rule for rule in egress(root) if rule.get("cidr_ipv4") == "0.0.0.0/0"]
    assert [(rule["from_port"], rule["to_port"], rule["ip_protocol"]) for rule in anywhere] == [(443, 443, "tcp")]


# -- the conformance analysis: the need is a network path like the others ------------------------------------------
NAT_CREATE = AWS + ('[clouds.aws.network]\nvpc_id = "vpc-0a1b2c3d4e5f67890"\n'
                    'subnet_ids = ["subnet-0a1b2c3d4e5f67891", "subnet-0a1b2c3d4e5f67892"]\n'
                    'nat = "create"\nnat_subnet_id = "subnet-0a1b2c3d4e5f67893"\n')
GCP = 'name_prefix = "acme"\ndefault_cloud = "gcp"\n[clouds.gcp]\nproject = "acme-dev-123"\nregion = "europe-west1"\n'
NEED = "shop.api: internet=True -> internet.https"


def synthesized(root: Path, env: str) -> Synthesized:
    project(root, env)
    return synth(Project(root), "dev")


def test_the_analysis_relies_on_the_nat_route_and_finds_it_missing_without(tmp_path: Path) -> None:
    built = synthesized(tmp_path, NAT_CREATE)
    documents = built.documents()
    analysis = examine(Estate(documents, built.stacks), built.placements)
    assert analysis.findings == []
    relied = [e.what for e in analysis.evidence if e.need == NEED]
    assert "a NAT gateway route from the function's subnets to 0.0.0.0/0" in relied, relied
    assert "the function may send 443 to 0.0.0.0/0" in relied, relied
    assert not [e for e in analysis.evidence if e.need.startswith("shop.plain: internet=True")]  # Lambda outside a VPC

    del documents["dev-base-aws"]["resource"]["aws_route"]  # the NAT gateway no longer routes the subnets
    analysis = examine(Estate(documents, built.stacks), built.placements)
    assert [str(f) for f in analysis.findings] == [
        f"{NEED}: missing a network path to the internet: function acme-dev-shop-api runs in a VPC (security group "
        "aws_security_group.api_sg) with no NAT gateway route with egress to 0.0.0.0/0:443"]


def test_on_gcp_a_function_reaches_the_internet_unless_a_connector_takes_all_its_traffic(tmp_path: Path) -> None:
    """Our GCP functions have no VPC connector (Cloud SQL through its connectors), so nothing cuts them off
    (https://cloud.google.com/functions/docs/networking/network-settings)."""
    built = synthesized(tmp_path, GCP)
    documents = built.documents()
    assert examine(Estate(documents, built.stacks), built.placements).findings == []
    # a connector that takes all its traffic (what a hatch or a module could add) cuts it off, as it would on GCP
    function = documents["dev-shop-gcp"]["resource"]["google_cloudfunctions2_function"]["api"]
    function["service_config"].update(vpc_connector="projects/acme-dev-123/locations/europe-west1/connectors/c",
                                      vpc_connector_egress_settings="ALL_TRAFFIC")
    findings = [str(f) for f in examine(Estate(documents, built.stacks), built.placements).findings]
    assert f"{NEED}: missing a network path to internet" in "\n".join(findings), findings


# -- the rehearsal: cut off locally as the rehearsed cloud would, through real Terraform and the local gateway --------
CALLER = '''
import os
import urllib.request

from platform_sdk.runtime import HttpResponse


def handle(request):
    try:  # a name that never resolves (RFC 2606): without the cut-off this fails on DNS, never reaching a host
        urllib.request.urlopen("https://api.example.invalid/v1/rates", timeout=5)
    except OSError as err:
        return HttpResponse(502, {"error": str(err), "proxy": os.environ.get("HTTPS_PROXY"),
                                  "no_proxy": os.environ.get("NO_PROXY")})
    return HttpResponse(200, {})
'''
PROD = AWS.replace('"eu-west-1"', '"eu-west-1"\naccount = "333333333333"') + \
    '[state]\nbackend = "local"\npath = ".platform/state"\n'
LOCAL = '''
name_prefix = "acme"
default_cloud = "aws"
rehearses = "prod"

[clouds.local]
root = ".platform/localcloud"
gateway_port = {port}

[clouds.aws]
stand_in = "local"

[state]
backend = "local"
path = ".platform/state"
'''


def test_a_rehearsal_cuts_the_function_off_from_the_internet_as_the_cloud_would(tmp_path: Path,
                                                                                 tf_binary: Path) -> None:
    service = SERVICE.format(internet=", internet=True").split("plain = ")[0]
    from tests.emulators import free_port

    local = LOCAL.replace("{port}", str(free_port()))  # not a fixed port: the suite runs tests side by side
    root = write_project(tmp_path / "estate", {"shop.py": service}, {"local": local, "prod": PROD},
                         sources={"code/app.py": CALLER}).root
    cli = Cli(tf_binary)
    refused = cli(root, "synth", "--env", "prod")
    assert refused.exit_code == 2 and "clouds.aws.network.nat: function shop.api" in refused.stderr, refused.stderr

    result = cli(root, "apply", "--env", "local", "--auto-approve")
    assert result.exit_code == 0, result.stdout + result.stderr  # the local apply does not fail...
    text = " ".join(result.stdout.split())
    assert "rehearsal of prod: 1 finding(s) there" in text, text  # ...it reports what would
    assert "shop.api: internet=True -> internet.https: missing a route to the internet: function shop.api" in text

    env = find_environment(root / "envs", "local")
    roots = roots_for_env(root, env)
    with Gateway(roots) as gateway:
        response = requests.get(f"{gateway.url}/fn/acme-local-shop-api", timeout=60)
    assert response.status_code == 502, response.text
    body = response.json()
    assert "Connection refused" in body["error"] and body["proxy"] == "http://127.0.0.1:9", body
    assert body["no_proxy"].split(",")[:3] == ["127.0.0.1", "localhost", "::1"], body  # the local cloud stays reachable
    logged = [line.message for line in logs.read(roots["aws"], "acme-local-shop-api")]
    assert any(line.startswith("rehearsal: cut off from the internet (proxy http://127.0.0.1:9), as the rehearsed "
                               "cloud would: shop.api: internet=True -> internet.https") for line in logged), logged
