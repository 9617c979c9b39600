"""CDN domains refused at synthesis on every cloud, local stand-ins included (docs/domains.md): two CDNs serving one
domain, and (stand-ins) a domain outside the zone the environment names; exit 2 naming the environment file, the key
and the value, nothing written. Through the `platform synth` CLI with the real CDKTF engine."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import platform_sdk.cdk.engine  # noqa: F401  (points jsii at the pip-installed Node)
from tests.test_dns_zones import AWS, GCP, HEAD, OTHER, SERVICE, project_with

THUMBNAILS = '''
from platform_sdk import Bucket, Cdn, Service

service = Service("thumbnails", owner="media-team")
images = service.add(Bucket("images"))
service.add(Cdn("cdn", origin=images, domain="img.dev.example.com"))
'''
LOCAL = '[clouds.local]\nroot = ".platform/localcloud"\n'
SECTIONS = {
    "aws": HEAD + AWS,
    "gcp": HEAD.replace('"aws"', '"gcp"') + GCP,
    "local": HEAD.replace('"aws"', '"local"') + LOCAL,
    "aws-stand-in": HEAD + LOCAL + '[clouds.aws]\nstand_in = "local"\n',
    "aws-stand-in-external": HEAD + LOCAL + '[clouds.aws]\nstand_in = "local"\ndns_zone = "external"\n',
}


def synth_cli(root: Path) -> tuple[int, str]:
    from platform_sdk.cli import app

    result = CliRunner().invoke(app, ["synth", "--project", str(root), "--env", "dev"])
    return result.exit_code, " ".join(result.output.split())


@pytest.mark.parametrize("cloud", sorted(SECTIONS))
def test_two_cdns_serving_one_domain_exit_2_naming_both_the_key_and_the_value(tmp_path: Path, cloud: str) -> None:
    env = SECTIONS[cloud] + '\n[overrides."thumbnails.cdn"]\ndomain = "shop.dev.example.com"\n'
    project = project_with(tmp_path, env, {"web.py": SERVICE, "thumbnails.py": THUMBNAILS})
    code, message = synth_cli(project.root)
    assert code == 2, message
    assert "dev.toml" in message and 'overrides."thumbnails.cdn".domain' in message
    assert "CDN web.cdn" in message and "CDN thumbnails.cdn" in message and "'shop.dev.example.com'" in message
    assert not (project.root / "cdktf.out" / "dev").exists()  # nothing written
    path = project.envs_dir / "dev.toml"
    path.write_text(path.read_text().replace('domain = "shop.dev.example.com"', 'domain = "img2.dev.example.com"'))
    code, message = synth_cli(project.root)
    assert code == 0, message


@pytest.mark.parametrize("zone", ['{ id = "Z0DEVEXAMPLE00000000", name = "test.example" }',
                                  '{ create = "test.example" }'])
def test_a_stand_in_refuses_a_domain_outside_its_zone_as_its_cloud_does(tmp_path: Path, zone: str) -> None:
    env = (SECTIONS["aws-stand-in"] + f"dns_zone = {zone}\n" +
           '\n[overrides."web.cdn"]\ndomain = "img.other.example"\n')
    project = project_with(tmp_path, env, {"web.py": SERVICE, "files.py": OTHER})
    code, message = synth_cli(project.root)
    assert code == 2, message
    assert "dev.toml" in message and 'overrides."web.cdn".domain' in message and "'img.other.example'" in message
    assert "not in zone test.example" in message
    assert not (project.root / "cdktf.out" / "dev").exists()
    path = project.envs_dir / "dev.toml"
    path.write_text(path.read_text().replace("img.other.example", "img.test.example"))
    code, message = synth_cli(project.root)
    assert code == 0, message
