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
from typer.testing import CliRunner

from platform_sdk import Function
from platform_sdk.cli import app
from platform_sdk.errors import ModelError

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


def synth(root: Path) -> tuple[int, str]:
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
    code, output = synth(root)
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
    code, output = synth(root)
    assert code == 2 and "function shop.api" in output and "clouds.aws.network.nat" in output, output
    assert not (root / "cdktf.out").exists()


def test_without_the_need_the_vpc_function_has_no_way_out(tmp_path: Path) -> None:
    root = project(tmp_path, AWS, internet=False)
    code, output = synth(root)
    assert code == 0, output
    assert not [rule for rule in egress(root) if rule.get("cidr_ipv4") == "0.0.0.0/0"]


def test_with_a_nat_gateway_the_function_may_send_https_anywhere(tmp_path: Path) -> None:
    root = project(tmp_path, AWS + '[clouds.aws.network]\nnat = "existing"\n')
    code, output = synth(root)
    assert code == 0, output
    anywhere = [rule for rule in egress(root) if rule.get("cidr_ipv4") == "0.0.0.0/0"]
    assert [(rule["from_port"], rule["to_port"], rule["ip_protocol"]) for rule in anywhere] == [(443, 443, "tcp")]
