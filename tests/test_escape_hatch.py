"""The escape hatch (issue 19): `service.terraform(cloud, build)` adds raw Terraform for one cloud, referring to the
service's neutral resources with plain Terraform references; vendored types are schema-checked, others announced as
unchecked; a service with a hatch for one cloud cannot be placed elsewhere, and placement names the hatch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from platform_sdk.errors import ModelError, PlacementError
from platform_sdk.model import Service
from platform_sdk.synth.schema_check import check_outdir
from tests.conformance_estates import CLOUDS, write_project

HERE = Path(__file__)
ESTATE = '''
from platform_sdk import Bucket, Function, Queue, Service, http

svc = Service("shop", owner="team")
site = svc.add(Bucket("site"))
outbox = svc.add(Queue("outbox"))
svc.add(Function("api", handler="handler.handle", source="code", triggers=[http()])).reads(site)


def waf(tf):
    tf.resource("aws_wafv2_web_acl", "acl", {{"name": "shop", "scope": "REGIONAL", "default_action": {{"allow": {{}}}},
                "visibility_config": {{"cloudwatch_metrics_enabled": True, "metric_name": "shop",
                                       "sampled_requests_enabled": True}}}})
    tf.resource("aws_s3_bucket_policy", "deny_http", {{"bucket": tf.ref(site, "id"), "policy": "{{}}"}})
    tf.resource("aws_cloudwatch_metric_alarm", "backlog", {{
        "alarm_name": "shop-outbox-backlog", "comparison_operator": "GreaterThanThreshold", "evaluation_periods": 1,
        "threshold": 100, {extra}
        "dimensions": {{"QueueName": tf.ref(outbox, "name")}}}})


svc.terraform("aws", waf)  # marker: the hatch
'''


def env(default: str, placement: str = "") -> str:
    return 'name_prefix = "acme"\n' + f'default_cloud = "{default}"\n' + placement + CLOUDS


def synth(tmp_path: Path, text: str, extra: str = "") -> tuple[object, dict[str, object]]:
    from tests.conformance_estates import synth as run

    project = write_project(tmp_path / "estate", {"shop.py": ESTATE.format(extra=extra)}, {"e": text})
    from platform_sdk.envs import load_environment
    from platform_sdk.loader import load_services
    from platform_sdk.synth.app import synthesize

    result = synthesize(project, load_environment(project.envs_dir / "e.toml"), load_services(project.services_dir))
    assert run  # the estate loads as the other tests' do
    return result, json.loads((result.outdir / "stacks" / "e-shop-aws" / "cdk.tf.json").read_text())


def test_raw_resources_refer_to_neutral_ones_and_unknown_types_are_announced(tmp_path: Path) -> None:
    result, doc = synth(tmp_path, env("aws"), extra='"metric_name": "ApproximateNumberOfMessagesVisible", '
                        '"namespace": "AWS/SQS", "period": 300, "statistic": "Average",')
    resources = doc["resource"]  # type: ignore[index]
    assert resources["aws_s3_bucket_policy"]["deny_http"]["bucket"] == "${aws_s3_bucket.site_bucket.id}"
    assert resources["aws_cloudwatch_metric_alarm"]["backlog"]["dimensions"] == {
        "QueueName": "${aws_sqs_queue.outbox_queue.name}"}
    assert resources["aws_wafv2_web_acl"]["acl"]["scope"] == "REGIONAL"
    (warning,) = result.warnings  # type: ignore[attr-defined]
    assert warning.startswith("shop: aws_wafv2_web_acl.acl (escape hatch, ") and "not schema-checked" in warning
    assert check_outdir(result.outdir) == [], "the unchecked type is skipped, announced above"  # type: ignore[attr-defined]
    info = result.stacks["e-shop-aws"]  # type: ignore[attr-defined]
    assert info.unchecked == ["aws_wafv2_web_acl"] and info.owners["aws_wafv2_web_acl.acl"] == "shop.terraform"


def test_a_vendored_type_in_a_hatch_is_schema_checked(tmp_path: Path) -> None:
    result, _ = synth(tmp_path, env("aws"), extra='"no_such_argument": 1,')
    errors = [str(e) for e in check_outdir(result.outdir)]  # type: ignore[attr-defined]
    assert any("aws_cloudwatch_metric_alarm.backlog" in e and "no_such_argument" in e for e in errors), errors


@pytest.mark.parametrize("text", [env("gcp"), env("aws", '[placement]\n"shop.site" = "gcp"\n')])
def test_a_service_with_a_hatch_lives_only_on_its_cloud(tmp_path: Path, text: str) -> None:
    with pytest.raises(PlacementError) as err:
        synth(tmp_path, text)
    line = next(n for n, t in enumerate(ESTATE.splitlines(), start=1) if "marker: the hatch" in t)
    assert "has an escape hatch for aws" in str(err.value) and f"shop.py:{line}" in str(err.value)
    assert "raw Terraform exists only on aws" in str(err.value)


def test_a_hatch_is_not_rehearsed_on_a_local_stand_in(tmp_path: Path) -> None:
    text = 'name_prefix = "acme"\ndefault_cloud = "aws"\n[clouds.aws]\nstand_in = "local"\n'
    from platform_sdk.envs import load_environment
    from platform_sdk.loader import load_services
    from platform_sdk.synth.app import synthesize

    project = write_project(tmp_path / "estate", {"shop.py": ESTATE.format(extra="")}, {"e": text})
    result = synthesize(project, load_environment(project.envs_dir / "e.toml"), load_services(project.services_dir))
    (warning,) = result.warnings
    assert "is not rehearsed on the local stand-in" in warning
    doc = json.loads((result.outdir / "stacks" / "e-shop-aws" / "cdk.tf.json").read_text())
    assert not any(t.startswith("aws_") for t in doc["resource"]), "no raw AWS resource on the local cloud"


def test_bad_hatches_name_the_line() -> None:
    service = Service("svc")
    with pytest.raises(ModelError) as err:
        service.terraform("", lambda tf: None)  # marker: bad-cloud
    assert err.value.key == "terraform" and err.value.file == str(HERE)
    with pytest.raises(ModelError, match="takes a callable"):
        service.terraform("aws", "resource")  # type: ignore[arg-type]


def test_a_construct_the_engine_refuses_is_one_message_naming_the_hatch(tmp_path: Path) -> None:
    """A hatch adding a CDKTF construct of its own that the engine refuses (an asset of a missing file) was a traceback
    through jsii; now one error naming the service file, the hatch's line and what the engine said."""
    from platform_sdk.errors import PlatformError

    text = ESTATE.format(extra="").replace('svc.terraform("aws", waf)  # marker: the hatch', """
def asset(tf):
    from cdktf import AssetType, TerraformAsset
    TerraformAsset(tf.ctx.stack, "bundle", path="/nonexistent/bundle.zip", type=AssetType.FILE)


svc.terraform("aws", asset)  # marker: the hatch""")
    project = write_project(tmp_path / "estate", {"shop.py": text}, {"e": env("aws")})
    from platform_sdk.envs import load_environment
    from platform_sdk.loader import load_services
    from platform_sdk.synth.app import synthesize

    with pytest.raises(PlatformError) as raised:
        synthesize(project, load_environment(project.envs_dir / "e.toml"), load_services(project.services_dir))
    message = str(raised.value)
    assert "the CDK engine refused a construct the escape hatch made" in message and "bundle.zip" in message, message
    assert raised.value.key == "shop.terraform"
    assert raised.value.file is not None and Path(raised.value.file).name == "shop.py"
    line = next(n for n, row in enumerate(text.splitlines(), 1) if row.endswith("# marker: the hatch"))
    assert raised.value.line == line
    assert not (project.root / "cdktf.out" / "e").exists()  # nothing written
