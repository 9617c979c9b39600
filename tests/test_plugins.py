"""The cloud plug-in registry and what the plug-ins decide: sections, stand-ins, limits on effective values."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from platform_sdk import providers
from platform_sdk.cli import app
from platform_sdk.envs import Environment, load_environment
from platform_sdk.errors import EnvironmentError_
from platform_sdk.providers.base import CloudPlugin

runner = CliRunner()


def synth(estate: Path, env: str) -> tuple[int, str]:
    result = runner.invoke(app, ["synth", "--env", env, "--project", str(estate)])
    return result.exit_code, re.sub(r"\s+", " ", result.output)


def add_override(estate: Path, env: str, text: str) -> None:
    path = estate / "envs" / f"{env}.toml"
    path.write_text(path.read_text() + "\n" + text + "\n")


# -- registry ----------------------------------------------------------------------------------------------------

def test_builtins_are_found_by_name_and_unknown_names_are_refused() -> None:
    assert providers.builtin_names() == ["aws", "gcp", "local"]
    assert all(providers.plugin(name).name == name for name in providers.builtin_names())
    assert providers.default_cloud() == "aws"
    with pytest.raises(providers.UnknownCloud, match="unknown cloud 'nope' .known: aws, gcp, local"):
        providers.plugin("nope")
    with pytest.raises(ValueError, match="built-in"):
        providers.register(type("Fake", (CloudPlugin,), {"name": "aws"})())


def test_register_adds_a_cloud_to_every_lookup() -> None:
    extra = type("Extra", (CloudPlugin,), {"name": "extra", "section_required": False})()
    providers.register(extra)
    try:
        assert providers.plugin("extra") is extra and "extra" in providers.plugins()
        assert Environment(name_prefix="t", default_cloud="extra").is_configured("extra")
    finally:
        providers.unregister("extra")
    assert "extra" not in providers.names()


def test_ci_installs_the_extra_of_every_plugin() -> None:
    """`platform ci` installs the project with each plug-in's extra: declared by platform-sdk, found in the registry
    (a registered cloud's too), none for a cloud that needs no SDK."""
    from importlib.metadata import metadata

    from platform_sdk.ci.pipeline import Settings, default_install

    extras = {name: found.extra for name, found in providers.plugins().items()}
    assert extras == {"aws": "aws", "gcp": "gcp", "local": None}
    assert {"aws", "gcp"} <= set(metadata("platform-sdk").get_all("Provides-Extra") or ())
    assert default_install() == Settings(envs=(), system="github").install == "python -m pip install -e '.[aws,gcp]'"
    providers.register(type("Extra", (CloudPlugin,), {"name": "extra", "extra": "azure"})())
    try:
        assert default_install() == "python -m pip install -e '.[aws,azure,gcp]'"
    finally:
        providers.unregister("extra")


@pytest.mark.parametrize("module", ["platform_sdk.providers.aws", "platform_sdk.providers.gcp",
                                    "platform_sdk.providers.local", "platform_sdk.providers"])
def test_importing_a_plugin_package_is_cheap(module: str) -> None:
    """Runtime code imports providers/<cloud>/runtime/: the packages above it must load no engine and no SDK."""
    code = (f"import sys, {module}\n"
            "heavy = [m for m in ('cdktf', 'jsii', 'boto3', 'botocore', 'google.cloud.storage', 'google.auth', "
            "'pydantic', 'platform_sdk.model') if m in sys.modules]\n"
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_plugin_modules_load_no_engine_and_no_cloud_sdk() -> None:
    code = ("import sys\nfrom platform_sdk import providers\nproviders.plugins()\n"
            "heavy = [m for m in ('cdktf', 'jsii', 'boto3', 'botocore', 'google.cloud.storage', 'google.auth') "
            "if m in sys.modules]\n"
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)


# -- environment-file sections ---------------------------------------------------------------------------------------

def test_each_section_is_validated_by_its_plugin(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text('name_prefix = "t"\ndefault_cloud = "gcp"\n[clouds.gcp]\nproject = "Bad_Project"\n')
    with pytest.raises(EnvironmentError_) as err:
        load_environment(path)
    assert err.value.key == "clouds.gcp.project" and err.value.value == "Bad_Project"
    path.write_text('name_prefix = "t"\n[clouds.aws]\naccount = "123456789012"\nbucket = "x"\n')
    with pytest.raises(EnvironmentError_) as err:
        load_environment(path)
    assert err.value.key == "clouds.aws.bucket"


def test_state_backends_come_from_their_plugins(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text('name_prefix = "t"\n[clouds.aws]\nregion = "eu-west-1"\n[state]\nbackend = "s3"\nbucket = "b"\n')
    with pytest.raises(EnvironmentError_) as err:
        load_environment(path)
    assert err.value.key == "state.lock_table"
    path.write_text('name_prefix = "t"\n[clouds.aws]\nregion = "eu-west-1"\n[state]\nbackend = "ftp"\n')
    with pytest.raises(EnvironmentError_, match="'local', 's3', 'gcs'"):
        load_environment(path)


def test_stand_in_must_name_a_cloud_that_hosts_stand_ins(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text('name_prefix = "t"\n[clouds.aws]\nstand_in = "gcp"\n')
    with pytest.raises(EnvironmentError_, match="hosts stand-ins .local."):
        load_environment(path)


# -- limits on the effective values --------------------------------------------------------------------------------

@pytest.mark.parametrize("env", ["prod", "local", "dev"])
def test_overrides_out_of_the_clouds_range_are_refused(estate: Path, env: str) -> None:
    """`[overrides."web.api"] memory = 64` used to synthesize: now file, key and value, exit 2 (the cloud's range;
    `timeout = -5` is refused before, by the model's own check)."""
    add_override(estate, env, '[overrides."web.api"]\nmemory = 64')
    code, out = synth(estate, env)
    assert code == 2, out
    assert f"{env}.toml" in out and 'overrides."web.api".memory' in out and "(got 64)" in out, out
    assert "memory must be a whole number of MB from 128" in out
    assert not (estate / "cdktf.out").exists(), "nothing may be written on bad input"
    add_override(estate, env, 'timeout = -5')
    code, out = synth(estate, env)
    assert code == 2 and 'overrides."web.api".timeout' in out and "positive whole number of seconds" in out, out
    assert "(got -5)" in out and not (estate / "cdktf.out").exists()


WAIVE_FUNCTION_LIMITS = """
[[waivers]]
rule = "function.limits"
resource = "web.api"
reason = "a long report export, measured and agreed"
expires = 2099-01-01
"""


def test_the_plugin_decides_its_own_limits(estate: Path) -> None:
    """A 1000 s timeout is beyond Lambda's 900 s but within Cloud Functions' 3600 s (HTTP)."""
    add_override(estate, "prod", WAIVE_FUNCTION_LIMITS + '[overrides."web.api"]\ntimeout = 1000')  # web is on gcp
    code, out = synth(estate, "prod")
    assert code == 0, out
    add_override(estate, "dev", WAIVE_FUNCTION_LIMITS + '[overrides."web.api"]\ntimeout = 1000')  # all on aws
    code, out = synth(estate, "dev")
    assert code == 2 and 'overrides."web.api".timeout' in out and "from 1 to 900 on aws" in out, out


def test_a_stand_in_is_held_to_the_rehearsed_clouds_limits(estate: Path) -> None:
    """The local environment rehearses aws: a timeout Lambda refuses is refused there too."""
    add_override(estate, "local", '[overrides."auth.api"]\ntimeout = 1000')
    code, out = synth(estate, "local")
    assert code == 2 and "local.toml" in out and 'overrides."auth.api".timeout' in out and "on aws" in out, out


# Tryout seedA fault 11: a function's environment variables over the cloud's aggregate limit passed synthesis, and
# Lambda refused them at apply ("exceeded the 4KB limit").

@pytest.mark.parametrize(("env", "address", "size", "cloud", "measured", "limit"), [
    # Lambda: 4 KB, measured as the variables' JSON: {"SESSION_TTL_SECONDS":"3600","BIG":"xx..."} (auth.api's own)
    ("dev", "auth.api", 4100, "aws", 4139, 4096),
    ("prod", "web.api", 33000, "gcp", 33003, 32768),   # Cloud Run functions: 32 KiB of names and values
    ("local", "auth.api", 4100, "aws", 4139, 4096),    # a stand-in is held to the rehearsed cloud's limit
])
def test_environment_variables_over_the_clouds_aggregate_limit_are_refused(
        estate: Path, env: str, address: str, size: int, cloud: str, measured: int, limit: int) -> None:
    add_override(estate, env, f'[overrides."{address}".environment]\nBIG = "{"x" * size}"')
    code, out = synth(estate, env)
    assert code == 2, out
    assert f'{env}.toml:' in out, out
    assert f'overrides."{address}".environment: {address} on {cloud}: function {address}\'s environment ' \
           f"variables take {measured} bytes, over the {limit} " \
           f"bytes {cloud} allows a function in aggregate" in out, out
    assert "x" * 100 not in out, "the value is not repeated in the message"
    assert not (estate / "cdktf.out").exists(), "nothing may be written on bad input"


def test_the_plugin_decides_its_own_environment_limit(estate: Path) -> None:
    """5,000 bytes of variables: within Cloud Run functions' 32 KiB (web is on gcp in prod), over Lambda's 4 KB
    where the same function is on aws (dev), declared in the code: the error names its line."""
    source = estate / "services" / "web.py"
    text = source.read_text().replace('source="functions/web",', 'source="functions/web", '
                                      'environment={"BIG": "x" * 5000},')
    source.write_text(text)
    line = next(n for n, code in enumerate(text.splitlines(), 1) if '"BIG"' in code)
    code, out = synth(estate, "prod")
    assert code == 0, out
    code, out = synth(estate, "dev")
    assert code == 2, out
    assert f"{source}:{line}: environment: function web.api's environment variables take 5010 bytes, over the " \
           "4096 bytes aws allows a function in aggregate (Lambda quotas" in out, out
    assert "gettingstarted-limits.html) (placed on aws)" in out


def test_the_variables_the_platform_adds_count_towards_the_limit(estate: Path) -> None:
    """auth.api's own variables fit in 4 KB; with the ones its grants add (its database's URL, its queue and
    secret) they do not: the compiler refuses it, before anything is written."""
    own = 4096 - len('{"BIG":""}') - len('{"SESSION_TTL_SECONDS":"3600"}') + 1  # just within, with its declared one
    add_override(estate, "dev", f'[overrides."auth.api".environment]\nBIG = "{"x" * own}"')
    code, out = synth(estate, "dev")
    assert code == 2, out
    assert "dev.toml" not in out and "auth.py:" in out and "environment: function auth.api's environment " \
           "variables take" in out and "counting the 10 variables the platform sets for its grants" in out, out
    assert not (estate / "cdktf.out").exists()


def test_limits_measure_what_is_known_at_synthesis() -> None:
    """A reference resolved at apply counts as empty (a lower bound: a refusal is certain); Lambda measures JSON."""
    from platform_sdk.providers.aws.limits import LAMBDA_LIMITS, lambda_environment_size
    from platform_sdk.providers.gcp.limits import GCP_FUNCTION_LIMITS

    assert lambda_environment_size({"A": "b", "C": "d\"é"}) == len('{"A":"b","C":"d\\"é"}'.encode())
    fits = {"URL": "s3://${aws_s3_bucket.x.bucket}/" + "y" * 4070}
    assert LAMBDA_LIMITS.environment_problem("s.f", fits, "aws") is None
    assert "4096 bytes aws" in (LAMBDA_LIMITS.environment_problem("s.f", {"URL": "y" * 4090}, "aws") or "")
    assert GCP_FUNCTION_LIMITS.environment_problem("s.f", {"A": "y" * 32767}, "gcp") is None
    assert "32769 bytes" in (GCP_FUNCTION_LIMITS.environment_problem("s.f", {"AB": "y" * 32767}, "gcp") or "")


def test_names_cloud_run_reserves_are_refused_on_gcp(estate: Path) -> None:
    add_override(estate, "prod", '[overrides."web.api".environment]\nPORT = "8080"\nX_GOOGLE_FOO = "1"')
    code, out = synth(estate, "prod")
    assert code == 2, out
    assert "function web.api cannot be placed on gcp" in out and "PORT (reserved by Cloud Run functions)" in out
    assert "X_GOOGLE_FOO (reserved by Cloud Run functions)" in out, out


def test_plugin_runtime_subpackages_ship_in_function_packages() -> None:
    """A package ships its target's plug-in runtime and those of the clouds it is granted on, nothing more."""
    from platform_sdk.synth import assets

    alone = assets.runtime_entries(["aws"])
    assert "platform_sdk/providers/aws/runtime/buckets.py" in alone
    assert not any(name.startswith("platform_sdk/providers/gcp/") for name in alone)
    assert not any(name.startswith(("platform_sdk/synth/", "platform_sdk/model/", "platform_sdk/cdk/"))
                   for name in alone)
    assert alone["platform_sdk/providers/__init__.py"] == assets.STUB_INIT  # no registry code travels
    both = assets.runtime_entries(["aws", "gcp"])
    assert "platform_sdk/providers/gcp/runtime/buckets.py" in both and set(alone) < set(both)
