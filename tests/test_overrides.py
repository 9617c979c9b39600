"""Per-environment values (issue 17): `[overrides."service.resource"]` changes what one stage deploys, through the
model's own checks, and nothing else; service code never sees which environment it is in.

Through real synthesis (CDKTF, the plug-ins' compilers, the schema check) for the faults the issue names: QA used
to claim production's CloudFront alias, and environment variables could not differ per stage.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from platform_sdk.cli import app
from platform_sdk.envs import load_environment
from platform_sdk.errors import EnvironmentError_
from platform_sdk.loader import load_services
from platform_sdk.model import Bucket, Cdn, Database, Function
from platform_sdk.synth.overrides import apply_overrides

runner = CliRunner()

IDENTITY = '''
from platform_sdk import Bucket, Cdn, Database, Function, Service, http

service = Service("identity", owner="identity-team")
site = service.add(Bucket("site"))
web = service.add(Cdn("web", origin=site, domain="login.example.com"))
accounts = service.add(Database("accounts"))
api = service.add(Function("api", handler="app.handle", source="functions/identity", triggers=[http()],
                           environment={"SESSION_TTL": "3600"}))
api.uses(accounts)
'''
HANDLER = "def handle(request):\n    return {'status': 200}\n"
AWS = 'name_prefix = "idp"\ndefault_cloud = "aws"\n[clouds.aws]\nregion = "eu-west-1"\n'
GCP = 'name_prefix = "idp"\ndefault_cloud = "gcp"\n[clouds.gcp]\nproject = "idp-qa-12345"\nregion = "europe-west1"\n'
QA_VALUES = '''
[overrides."identity.web"]
domain = "login.qa.example.com"

[overrides."identity.api"]
memory = 1024

[overrides."identity.api".environment]
LOG_LEVEL = "debug"

[overrides."identity.accounts"]
storage_gb = 50
backups = false
high_availability = true
deletion_protection = false

[overrides."identity.site"]
versioning = true
expire_days = 30
'''


def project(root: Path, envs: dict[str, str]) -> Path:
    (root / "services" / "functions" / "identity").mkdir(parents=True)
    (root / "services" / "identity.py").write_text(IDENTITY)
    (root / "services" / "functions" / "identity" / "app.py").write_text(HANDLER)
    (root / "envs").mkdir()
    for name, text in envs.items():
        (root / "envs" / f"{name}.toml").write_text(text)
    return root


def synth(root: Path, env: str) -> tuple[int, str]:
    result = runner.invoke(app, ["synth", "--env", env, "--project", str(root)])
    return result.exit_code, re.sub(r"\s+", " ", result.output)


def stack(root: Path, env: str, name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((root / "cdktf.out" / env / "stacks" / name / "cdk.tf.json").read_text())
    return doc


def only(doc: dict[str, Any], tf_type: str) -> dict[str, Any]:
    (body,) = doc["resource"][tf_type].values()
    return body  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def aws_stages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = project(tmp_path_factory.mktemp("overrides") / "aws", {"prod": AWS, "qa": AWS + QA_VALUES})
    for env in ("prod", "qa"):
        code, out = synth(root, env)
        assert code == 0, out
    return root


def test_qa_serves_on_its_own_domain_not_prods_alias(aws_stages: Path) -> None:
    """The issue's first fault: `domain` in QA's file used to be ignored, so QA claimed prod's global alias."""
    prod = stack(aws_stages, "prod", "prod-identity-aws")
    qa = stack(aws_stages, "qa", "qa-identity-aws")
    assert only(prod, "aws_cloudfront_distribution")["aliases"] == ["login.example.com"]
    assert only(qa, "aws_cloudfront_distribution")["aliases"] == ["login.qa.example.com"]
    assert only(qa, "aws_acm_certificate")["domain_name"] == "login.qa.example.com"


def test_one_variable_differs_per_stage_and_the_declared_ones_stay(aws_stages: Path) -> None:
    functions = {env: stack(aws_stages, env, f"{env}-identity-aws")["resource"]["aws_lambda_function"]
                 for env in ("prod", "qa")}
    # api's own Lambda, and the platform's one that creates its database user (api uses accounts)
    assert all(set(fns) == {"api_function", "api_dbsetup"} for fns in functions.values()), functions
    prod, qa = functions["prod"]["api_function"], functions["qa"]["api_function"]
    assert "LOG_LEVEL" not in prod["environment"]["variables"]
    assert qa["environment"]["variables"]["LOG_LEVEL"] == "debug"
    assert prod["environment"]["variables"]["SESSION_TTL"] == qa["environment"]["variables"]["SESSION_TTL"] == "3600"
    assert (prod["memory_size"], qa["memory_size"]) == (256, 1024)


def test_database_and_bucket_settings_differ_per_stage(aws_stages: Path) -> None:
    """storage_gb and backups overrides used to be ignored by the AWS compiler."""
    prod = only(stack(aws_stages, "prod", "prod-identity-aws"), "aws_db_instance")
    qa = only(stack(aws_stages, "qa", "qa-identity-aws"), "aws_db_instance")
    assert (prod["allocated_storage"], qa["allocated_storage"]) == (20, 50)
    assert prod["backup_retention_period"] > 0 and qa["backup_retention_period"] == 0
    assert (prod["multi_az"], qa["multi_az"]) == (False, True)
    assert (prod["deletion_protection"], qa["deletion_protection"]) == (True, False)
    qa_doc = stack(aws_stages, "qa", "qa-identity-aws")
    assert only(qa_doc, "aws_s3_bucket_versioning")["versioning_configuration"]["status"] == "Enabled"
    rules = only(qa_doc, "aws_s3_bucket_lifecycle_configuration")["rule"]
    assert "'days': 30" in str(rules), rules


def test_gcp_compiles_the_same_values(tmp_path: Path) -> None:
    root = project(tmp_path, {"qa": GCP + QA_VALUES})
    code, out = synth(root, "qa")
    assert code == 0, out
    doc = stack(root, "qa", "qa-identity-gcp")
    assert only(doc, "google_compute_managed_ssl_certificate")["managed"]["domains"] == ["login.qa.example.com"]
    fn = only(doc, "google_cloudfunctions2_function")["service_config"]
    assert fn["environment_variables"]["LOG_LEVEL"] == "debug" and fn["available_memory"] == "1024Mi"
    settings = only(doc, "google_sql_database_instance")["settings"]
    assert settings["disk_size"] == 50 and settings["availability_type"] == "REGIONAL"


@pytest.mark.parametrize(("values", "key", "needle"), [
    ('[overrides."identity.api"]\nmemory = "512"', 'overrides."identity.api".memory', "positive whole number"),
    ('[overrides."identity.web"]\ndomain = "Login.Example.com"', 'overrides."identity.web".domain', "DNS name"),
    ('[overrides."identity.api".environment]\nlog_level = "debug"', 'overrides."identity.api".environment',
     "UPPER_SNAKE_CASE"),
    ('[overrides."identity.api".environment]\nLOG_LEVEL = 3', 'overrides."identity.api".environment.LOG_LEVEL',
     "must be strings"),
    ('[overrides."identity.accounts"]\nsize = "huge"', 'overrides."identity.accounts".size', "small, medium"),
    ('[overrides."identity.site"]\nexpire_days = 0', 'overrides."identity.site".expire_days', "positive"),
    ('[overrides."identity.site".cors]\norigin = ["https://x.example.com"]', 'overrides."identity.site".cors.origin',
     "did you mean 'origins'?"),
    ('[overrides."identty.accounts"]\nhigh_availability = true', 'overrides."identty.accounts"',
     "did you mean 'identity.accounts'?"),
    ('[overrides."identity.accounts"]\nhigh_availabilty = true', 'overrides."identity.accounts".high_availabilty',
     "did you mean 'high_availability'?"),
    ('[overrides."identity.accounts"]\nengine = "mysql"', 'overrides."identity.accounts".engine',
     "unknown setting of a database"),
    ('[overrides."identity.api"]\nmax_instances = 5', 'overrides."identity.api".max_instances',
     "max_instances is a setting of functions on gcp; identity.api is placed on aws"),
    ('[overrides."identity.api"]\nlog_retention_days = 45', 'overrides."identity.api".log_retention_days',
     "one of 1, 3, 5"),
])
def test_bad_values_are_refused_naming_file_key_and_value(tmp_path: Path, values: str, key: str,
                                                          needle: str) -> None:
    """`memory = "512"` used to reach cdk.tf.json and fail the schema check with exit 1; a typo was ignored."""
    root = project(tmp_path, {"qa": AWS + values + "\n"})
    code, out = synth(root, "qa")
    assert code == 2, out
    assert "qa.toml" in out and key in out and needle in out, out
    assert not (root / "cdktf.out").exists(), "nothing may be written on bad input"


def test_applying_another_environment_starts_from_the_declaration(tmp_path: Path) -> None:
    root = project(tmp_path, {"qa": AWS + QA_VALUES, "prod": AWS})
    services = load_services(root / "services")
    resources = {r.address: r for s in services for r in s}
    web, api, accounts, site = (resources[a] for a in ("identity.web", "identity.api", "identity.accounts",
                                                       "identity.site"))
    assert isinstance(web, Cdn) and isinstance(api, Function) and isinstance(accounts, Database)
    assert isinstance(site, Bucket)
    apply_overrides(load_environment(root / "envs" / "qa.toml"), services)
    apply_overrides(load_environment(root / "envs" / "qa.toml"), services)  # idempotent
    assert (web.domain, api.memory, accounts.storage_gb, site.expire_days) == ("login.qa.example.com", 1024, 50, 30)
    assert api.environment == {"SESSION_TTL": "3600", "LOG_LEVEL": "debug"}
    apply_overrides(load_environment(root / "envs" / "prod.toml"), services)
    assert (web.domain, api.memory, accounts.storage_gb, site.expire_days) == ("login.example.com", 256, 20, None)
    assert api.environment == {"SESSION_TTL": "3600"}


def test_a_refused_override_changes_nothing(tmp_path: Path) -> None:
    root = project(tmp_path, {"qa": AWS + '[overrides."identity.web"]\ndomain = "login.qa.example.com"\n'
                                         '[overrides."identity.api"]\nmemory = -1\n'})
    services = load_services(root / "services")
    with pytest.raises(EnvironmentError_, match="memory"):
        apply_overrides(load_environment(root / "envs" / "qa.toml"), services)
    web = next(r for s in services for r in s if isinstance(r, Cdn))
    assert web.domain == "login.example.com"


def test_every_overridable_setting_refuses_a_wrong_type(tmp_path: Path) -> None:
    """Generated from the model: each kind's `overridable` settings, each given a value of a type it refuses."""
    root = project(tmp_path, {"prod": AWS})
    env_path = root / "envs" / "prod.toml"
    services = load_services(root / "services")
    by_kind = {r.kind: r for s in services for r in s}
    cases = 0
    for kind in (Bucket, Cdn, Database, Function):
        resource = by_kind[kind.kind]
        for setting in kind.overridable:
            for wrong in wrong_values(getattr(resource, setting)):
                env_path.write_text(AWS + f'[overrides."{resource.address}"]\n{setting} = {toml(wrong)}\n')
                with pytest.raises(EnvironmentError_) as err:
                    apply_overrides(load_environment(env_path), services)
                assert err.value.key is not None and err.value.key.startswith(
                    f'overrides."{resource.address}".{setting}'), (setting, wrong, str(err.value))
                assert str(env_path) in str(err.value)
                cases += 1
    assert cases >= 2 * sum(len(k.overridable) for k in (Bucket, Cdn, Database, Function))


def wrong_values(declared: object) -> list[object]:
    """Values of types the setting does not take, chosen by the declared value's type."""
    if isinstance(declared, bool):
        return ["true", 1]
    if isinstance(declared, int):
        return [str(declared), 1.5, True]
    if isinstance(declared, dict):
        return ["A=1", 5]
    if isinstance(declared, str):
        return [5, True]
    return [[1], {"x": True}]  # None-valued optional settings (domain, expire_days, cors, database_name)


def toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    return str(value)


@pytest.mark.parametrize(("cloud", "env_text"), [("aws", AWS), ("gcp", GCP)])
def test_every_setting_a_cloud_adds_refuses_a_wrong_type(tmp_path: Path, cloud: str, env_text: str) -> None:
    """Generated from the plug-in's `resource_settings`, on a resource of each kind placed on that cloud."""
    from platform_sdk import providers

    root = project(tmp_path, {"qa": env_text})
    services = load_services(root / "services")
    by_kind = {r.kind: r for s in services for r in s}
    env_path = root / "envs" / "qa.toml"
    cases = 0
    for kind, settings in providers.plugin(cloud).resource_settings.items():
        for setting in settings:
            for wrong in ["12", 1.5, True] if setting.type is int else [5, True]:
                env_path.write_text(env_text + f'[overrides."{by_kind[kind].address}"]\n{setting.key} = '
                                    f'{toml(wrong)}\n')
                with pytest.raises(EnvironmentError_) as err:
                    apply_overrides(load_environment(env_path), services)
                assert err.value.key == f'overrides."{by_kind[kind].address}".{setting.key}', str(err.value)
                cases += 1
    assert cases >= 3
