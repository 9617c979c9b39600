"""Secrets (issue 12): the model, what each cloud compiles (schema-checked, no value anywhere), the runtime's
`secret(name)` with its cache and rotation, the `platform secret` commands, and the whole life of a secret on the
local cloud through real Terraform and the real local gateway: set before the first apply, apply refusing a
function whose secret has no value, generated values, rotation seen by a running function, destroy refused while
a value is held.
"""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from typer.testing import CliRunner, Result

from platform_sdk import Function, Secret, Service
from platform_sdk.errors import ModelError, PlacementError, PlatformError
from platform_sdk.localcloud.dev import Gateway, roots_for_env
from platform_sdk.runtime import GrantError, SecretNotSetError, secret
from platform_sdk.runtime import secrets as runtime_secrets
from platform_sdk.runtime.secrets import SecretContainerMissingError, open_secret
from platform_sdk.secrets.values import generate
from platform_sdk.synth.schema_check import check_outdir
from tests.conformance_estates import CLOUDS, write_project
from tests.terraform_fixtures import state_files, tf_binary_fixture  # noqa: F401

STAGE = 'name_prefix = "acme"\n'  # every environment file names its prefix

HERE = Path(__file__)
CANARY = "canary-7f3a9c1e-do-not-print"


def lineno(marker: str) -> int:
    for number, line in enumerate(HERE.read_text().splitlines(), start=1):
        if marker in line and "lineno(" not in line:
            return number
    raise AssertionError(marker)


# -- the model ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("kwargs", "key", "message"), [
    ({"generate": "yes"}, "generate", "generate must be True or False"),
    ({"length": 32}, "length", "add generate=True"),
    ({"alphabet": "abcdefghijklmnopq"}, "alphabet", "add generate=True"),
    ({"generate": True, "length": 8}, "length", "from 16 to 4096"),
    ({"generate": True, "length": 32.0}, "length", "whole number"),
    ({"generate": True, "length": True}, "length", "whole number"),
    ({"generate": True, "alphabet": "ab"}, "alphabet", "at least 16 distinct"),
    ({"generate": True, "alphabet": "abcdefghijklmnop qrs"}, "alphabet", "no whitespace"),
])
def test_bad_settings_name_file_line_key_and_value(kwargs: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(ModelError, match=message) as err:
        Secret("key", **kwargs)  # marker: bad-secret
    assert (err.value.file, err.value.line, err.value.key) == (str(HERE), lineno("marker: bad-secret"), key)


def test_generated_values_follow_length_and_alphabet() -> None:
    default = Secret("a", generate=True)
    assert len(generate(default)) == 48 and set(generate(default)) <= set(default.value_alphabet)
    hexes = Secret("b", generate=True, length=64, alphabet="0123456789abcdef")
    values = {generate(hexes) for _ in range(20)}
    assert len(values) == 20 and all(len(v) == 64 and set(v) <= set("0123456789abcdef") for v in values)


def test_a_secret_is_granted_with_reads_and_nothing_else() -> None:
    service = Service("svc")
    key = service.add(Secret("key"))
    fn = service.add(Function("fn", handler="h.handle"))
    fn.reads(key)
    assert [(g.target, g.access, g.operations) for g in fn.grants] == [(key, "read", ("read",))]
    with pytest.raises(ModelError) as err:
        fn.writes(key)  # marker: write-a-secret
    assert err.value.line == lineno("marker: write-a-secret") and err.value.key == "fn.writes"
    assert "writes() takes a Bucket, not a Secret" in str(err.value) and "grant a Secret with reads()" in str(err.value)
    with pytest.raises(ModelError, match="uses\\(\\) takes a Database, not a Secret"):
        fn.uses(key)  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="reads\\(\\) takes a Bucket or Secret, not a str"):
        fn.reads("key")  # type: ignore[arg-type]
    assert service.secrets == [key]


# -- what each cloud compiles ------------------------------------------------------------------------------------
ESTATE = '''
from platform_sdk import Function, Secret, Service, schedule

svc = Service("svc", owner="team")
key = svc.add(Secret("api-key"))
svc.add(Function("reader", handler="handler.handle", source="code", triggers=[schedule("0 1 * * *")])).reads(key)
'''
ENVS = {"aws": STAGE + 'default_cloud = "aws"\n' + CLOUDS, "gcp": STAGE + 'default_cloud = "gcp"\n' + CLOUDS,
        "local": STAGE + 'default_cloud = "local"\n[state]\nbackend = "local"\npath = ".platform/state"\n'}


def compiled(tmp_path: Path, env: str, estate: str = ESTATE, profile: Any = None) -> dict[str, Any]:
    from tests.conformance_estates import synth

    project = write_project(tmp_path / "estate", {"svc.py": estate}, {env: ENVS.get(env, ENVS["aws"])})
    result = synth(project, env, profile)
    assert check_outdir(result.outdir) == []
    return {name: json.loads((result.outdir / "stacks" / name / "cdk.tf.json").read_text()) for name in result.stacks}


def test_aws_compiles_the_container_and_exactly_one_permission(tmp_path: Path) -> None:
    (doc,) = compiled(tmp_path, "aws").values()
    assert doc["resource"]["aws_secretsmanager_secret"]["api-key_secret"]["name"] == "acme-aws-svc-api-key"
    assert "kms_key_id" not in doc["resource"]["aws_secretsmanager_secret"]["api-key_secret"]
    assert "aws_secretsmanager_secret_version" not in doc["resource"]
    policy = json.loads(doc["resource"]["aws_iam_role_policy"]["reader_policy"]["policy"])
    secret_statements = [s for s in policy["Statement"] if "secretsmanager" in json.dumps(s)]
    assert secret_statements == [{"Sid": "SecretSvcApiKeySecret", "Effect": "Allow",
                                  "Action": ["secretsmanager:GetSecretValue"],
                                  "Resource": "${aws_secretsmanager_secret.api-key_secret.arn}"}]
    env = doc["resource"]["aws_lambda_function"]["reader_function"]["environment"]["variables"]
    assert env["PLATFORM_SECRET_API_KEY"] == "secretsmanager://acme-aws-svc-api-key?region=eu-west-1"
    assert env["PLATFORM_GRANTS"] == "secret:api-key:read"
    assert doc["output"]["secret_api_key_url"]["value"] == env["PLATFORM_SECRET_API_KEY"]


def test_aws_uses_the_profile_key_only_through_secrets_manager(tmp_path: Path) -> None:
    from platform_sdk.profile import Profile
    from tests.conformance_estates import KEYS

    (doc,) = compiled(tmp_path, "aws", profile=Profile(kms_keys=KEYS)).values()
    assert doc["resource"]["aws_secretsmanager_secret"]["api-key_secret"]["kms_key_id"] == KEYS["aws"]
    policy = json.loads(doc["resource"]["aws_iam_role_policy"]["reader_policy"]["policy"])
    (kms,) = [s for s in policy["Statement"] if s["Sid"] == "ProfileKmsKey"]
    assert kms["Action"] == ["kms:Decrypt"] and kms["Resource"] == KEYS["aws"]
    assert kms["Condition"] == {"StringEquals": {"kms:ViaService": ["secretsmanager.eu-west-1.amazonaws.com"]}}


def test_gcp_compiles_the_container_and_binds_the_accessor_on_it_only(tmp_path: Path) -> None:
    docs = compiled(tmp_path, "gcp")
    base = docs.pop("gcp-base-gcp")["resource"]  # the environment's base stack enables the API, once
    assert "secretmanager.googleapis.com" in {s["service"] for s in base["google_project_service"].values()}
    (doc,) = docs.values()
    resources = doc["resource"]
    assert resources["google_secret_manager_secret"]["api-key"]["secret_id"] == "acme-gcp-svc-api-key"
    assert "google_secret_manager_secret_version" not in resources
    (binding,) = resources["google_secret_manager_secret_iam_member"].values()
    assert binding == {**binding, "secret_id": "${google_secret_manager_secret.api-key.id}",
                       "role": "roles/secretmanager.secretAccessor",
                       "member": "${google_service_account.reader_sa.member}"}
    assert not any("secretmanager" in json.dumps(b) for b in resources.get("google_project_iam_member", {}).values())
    env = resources["google_cloudfunctions2_function"]["reader"]["service_config"]["environment_variables"]
    assert env["PLATFORM_SECRET_API_KEY"] == "secretmanager://acme-conf-123/acme-gcp-svc-api-key"


def test_cross_cloud_reads_federate_without_keys(tmp_path: Path) -> None:
    estate = ESTATE.replace('svc = Service("svc", owner="team")', 'svc = Service("svc", owner="team")\n'
                            'vault = Service("vault")').replace('key = svc.add(Secret("api-key"))',
                                                                'key = vault.add(Secret("api-key"))')
    env = STAGE + 'default_cloud = "gcp"\n[placement]\n"vault" = "aws"\n' + CLOUDS
    project = write_project(tmp_path / "estate", {"svc.py": estate}, {"gcp-aws": env})
    from tests.conformance_estates import synth

    result = synth(project, "gcp-aws")
    assert check_outdir(result.outdir) == []
    docs = {name: json.loads((result.outdir / "stacks" / name / "cdk.tf.json").read_text()) for name in result.stacks}
    fn = docs["gcp-aws-svc-gcp"]["resource"]["google_cloudfunctions2_function"]["reader"]
    url = fn["service_config"]["environment_variables"]["PLATFORM_SECRET_API_KEY"]
    assert url == ("secretsmanager://acme-gcp-aws-vault-api-key?region=eu-west-1&role_arn=arn:aws:iam::333333333333:"
                   "role/acme-gcp-aws-svc-reader.vault.api-key&web_identity=gcp")
    vault = docs["gcp-aws-vault-aws"]["resource"]
    (role,) = vault["aws_iam_role"].values()
    trust = json.loads(role["assume_role_policy"])["Statement"][0]
    assert trust["Principal"] == {"Federated": "accounts.google.com"}
    (policy,) = vault["aws_iam_role_policy"].values()
    assert json.loads(policy["policy"])["Statement"] == [{
        "Sid": "SecretVaultApiKeySecret", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
        "Resource": "${aws_secretsmanager_secret.api-key_secret.arn}"}]


def test_a_gcp_secret_may_not_take_a_database_password_secret_id(tmp_path: Path) -> None:
    estate = ESTATE + 'from platform_sdk import Database\nsvc.add(Database("users"))\n' \
                      'svc.add(Secret("users-password"))\n'
    with pytest.raises(PlacementError, match="distinct from the password secret of database svc.users"):
        compiled(tmp_path, "gcp", estate)


def test_a_vpc_function_cannot_read_a_secret_on_another_cloud(tmp_path: Path) -> None:
    estate = ESTATE.replace('.reads(key)', '.reads(key).uses(db)').replace(
        'key = svc.add(Secret("api-key"))', 'from platform_sdk import Database\nvault = Service("vault")\n'
        'key = vault.add(Secret("api-key"))\ndb = svc.add(Database("db"))')
    env = STAGE + 'default_cloud = "aws"\n[placement]\n"vault" = "gcp"\n' + CLOUDS
    project = write_project(tmp_path / "estate", {"svc.py": estate}, {"x": env})
    from tests.conformance_estates import synth

    with pytest.raises(PlatformError, match=r"x\.toml: clouds\.aws\.network\.nat: function svc\.reader connects to "
                       r"database svc\.db, so it runs in the VPC, which has no route to the internet \(no NAT "
                       r"gateway\); it cannot reach a bucket, secret or queue on another cloud \(got 'none'\)"
                       r"(?s:.*)grant: svc\.reader -> vault\.api-key"):
        synth(project, "x")


# -- the runtime -------------------------------------------------------------------------------------------------
@pytest.fixture
def local_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A local secret container granted to 'this function' as `key`."""
    path = tmp_path / "secrets" / "acme-t-svc-key"
    path.mkdir(parents=True)
    monkeypatch.setenv("PLATFORM_SECRET_KEY", path.as_uri())
    monkeypatch.setenv("PLATFORM_GRANTS", "secret:key:read")
    monkeypatch.setenv("PLATFORM_SERVICE", "svc")
    monkeypatch.setenv("PLATFORM_FUNCTION", "fn")
    monkeypatch.setenv("PLATFORM_ENV", "t")
    runtime_secrets._values.clear()
    runtime_secrets._clients.clear()
    return path


def test_a_value_is_read_cached_and_a_rotation_is_seen(local_secret: Path) -> None:
    client = open_secret(local_secret.as_uri())
    with pytest.raises(SecretNotSetError) as err:
        secret("key")
    assert "`platform secret set svc.key --env t`" in str(err.value)
    first = client.write(CANARY)
    assert stat.S_IMODE((local_secret / "value").stat().st_mode) == 0o600
    assert secret("key") == CANARY
    second = client.write(CANARY + "-2")
    assert second != first and secret("key") == CANARY + "-2", "the local store tells a new version at once"
    assert CANARY not in repr(client.read()) and CANARY not in repr(runtime_secrets._values)


def test_a_value_is_kept_for_its_ttl_when_the_store_cannot_tell_versions(local_secret: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from platform_sdk.providers.local.runtime.secrets import LocalSecret

    monkeypatch.setattr(LocalSecret, "current_version", lambda self: None)  # like the clouds: an API call
    client = open_secret(local_secret.as_uri())
    client.write("one")
    assert secret("key") == "one"
    client.write("two")
    assert secret("key") == "one", "cached for max_age"
    assert secret("key", max_age=0) == "two", "max_age=0 reads now"
    monkeypatch.setattr(runtime_secrets, "SECRET_TTL_SECONDS", 0.0)
    assert secret("key", max_age=0.05) == "two"
    client.write("three")
    time.sleep(0.06)
    assert secret("key", max_age=0.05) == "three", "read again after the TTL"


def test_a_secret_not_granted_names_the_line_to_add(local_secret: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(GrantError, match=r"no grant on secret 'other' \(PLATFORM_SECRET_OTHER is not set\).*"
                                         r"`fn.reads\(secret\)` on the Function 'fn'"):
        secret("other")
    monkeypatch.setenv("PLATFORM_GRANTS", "bucket:key:read")
    with pytest.raises(GrantError, match="PLATFORM_GRANTS has no secret:key entry"):
        secret("key")


def test_writing_without_a_container_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SecretContainerMissingError, match="run `platform apply` first"):
        open_secret((tmp_path / "nothing").as_uri()).write(CANARY)
    assert not (tmp_path / "nothing").exists()


# -- the local cloud, end to end ---------------------------------------------------------------------------------
STRIPE = '''
from platform_sdk import Function, Secret, Service, http

pay = Service("pay", owner="payments")
stripe = pay.add(Secret("stripe-key"))
signer = pay.add(Secret("signer", generate=True, length=32, alphabet="0123456789abcdef"))
pay.add(Function("api", handler="api.handle", source="code", triggers=[http()])).reads(stripe).reads(signer)
'''
HANDLER = '''
from platform_sdk.runtime import HttpResponse, secret



def handle(request):
    import hashlib
    which = request.query.get("which", "stripe-key")
    value = secret(which)
    return HttpResponse(200, {"sha256": hashlib.sha256(value.encode()).hexdigest(), "length": len(value)})
'''
LOCAL_ENV = '''
name_prefix = "acme"
default_cloud = "local"

[clouds.local]
root = ".platform/localcloud"
gateway_port = {port}

[state]
backend = "local"
path = ".platform/state"
'''


def sha(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


class SecretCli:
    """`platform` in-process, with standard input, for the commands under `platform secret` too."""

    def __init__(self, terraform: Path, project: Path) -> None:
        self.runner = CliRunner()
        self.project = project
        self.env = {"PLATFORM_TERRAFORM": str(terraform)}

    def __call__(self, *args: str, input: str | None = None) -> Result:
        from platform_sdk.cli import app

        return self.runner.invoke(app, [*args, "--project", str(self.project)], env=self.env, input=input,
                                  catch_exceptions=False)


@pytest.fixture
def pay(tmp_path: Path, tf_binary: Path) -> SecretCli:
    from tests.emulators import free_port

    project = write_project(tmp_path / "estate", {"pay.py": STRIPE},
                            {"local": LOCAL_ENV.format(port=free_port())}, sources={"code/api.py": HANDLER})
    return SecretCli(tf_binary, project.root)


def test_the_life_of_a_secret_on_the_local_cloud(pay: SecretCli) -> None:
    project = pay.project
    root = project / ".platform" / "localcloud" / "local" / "local" / "secrets"

    planned = pay("plan", "--env", "local")
    assert planned.exit_code == 0, planned.output
    assert "pay.stripe-key (read by pay.api): set it with `platform secret set pay.stripe-key --env local` " \
           "(apply refuses until then)" in planned.stdout.replace("\n", " ").replace("  ", " ")
    assert "pay.signer (read by pay.api): generated by the next `platform apply`" in planned.stdout
    as_json = json.loads(pay("plan", "--env", "local", "--json").stdout)["secrets"]
    assert {(s["secret"], s["state"], s["set_command"]) for s in as_json} == {
        ("pay.stripe-key", "not created", "platform secret set pay.stripe-key --env local"),
        ("pay.signer", "not created", "platform secret set pay.signer --env local")}

    refused = pay("apply", "--env", "local", "--auto-approve")
    assert refused.exit_code == 2
    assert "refusing to apply" in refused.stderr and "pay.stripe-key (read by pay.api): set it with " \
           "`platform secret set pay.stripe-key --env local`" in " ".join(refused.stderr.split())
    assert state_files(project) == {} and not root.exists(), "nothing was applied"

    empty = pay("secret", "set", "pay.stripe-key", "--env", "local", input="")
    assert empty.exit_code == 2 and "no value on standard input" in empty.stderr
    stored = pay("secret", "set", "pay.stripe-key", "--env", "local", input=CANARY + "\n")
    assert stored.exit_code == 0, stored.output
    assert "creating the container of pay.stripe-key" in stored.stderr
    assert "localcloud_secret.stripe-key" in stored.stderr
    assert (root / "acme-local-pay-stripe-key" / "value").read_text() == CANARY, "one trailing newline dropped"
    assert stat.S_IMODE((root / "acme-local-pay-stripe-key" / "value").stat().st_mode) == 0o600

    applied = pay("apply", "--env", "local", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert "generated a value for secret pay.signer (never shown)" in applied.stdout
    signer = (root / "acme-local-pay-signer" / "value").read_text()
    assert len(signer) == 32 and set(signer) <= set("0123456789abcdef")

    listed = pay("secret", "list", "--env", "local", "--json")
    states = {s["secret"]: (s["state"], s["generate"], s["readers"]) for s in json.loads(listed.stdout)["secrets"]}
    assert states == {"pay.stripe-key": ("set", False, ["pay.api"]), "pay.signer": ("set", True, ["pay.api"])}
    table = pay("secret", "list", "--env", "local").stdout  # says the declaration, never "(generated)": a value set
    assert "set (generate=True)" in table and "(generated)" not in table  # by hand stays once generate=True is added
    assert pay("plan", "--env", "local", "--detailed-exitcode").exit_code == 0, "values are not Terraform's"

    gateway = _gateway(project)
    try:
        url = f"{gateway.url}/fn/acme-local-pay-api"
        assert requests.get(url).json() == {"sha256": sha(CANARY), "length": len(CANARY)}
        assert requests.get(url, params={"which": "signer"}).json()["sha256"] == sha(signer)
        rotated = pay("secret", "rotate", "pay.signer", "--env", "local")
        assert rotated.exit_code == 0 and "rotated" in rotated.stderr
        new = (root / "acme-local-pay-signer" / "value").read_text()
        assert new != signer and requests.get(url, params={"which": "signer"}).json()["sha256"] == sha(new)
        assert pay("secret", "set", "pay.stripe-key", "--env", "local", input="second").exit_code == 0
        assert requests.get(url).json()["sha256"] == sha("second"), "a running function reads the new version"
    finally:
        gateway.stop()

    not_generated = pay("secret", "rotate", "pay.stripe-key", "--env", "local")
    assert not_generated.exit_code == 2 and "`platform secret set pay.stripe-key --env local`" in not_generated.stderr
    unknown = pay("secret", "set", "pay.nope", "--env", "local", input="x")
    assert unknown.exit_code == 2 and "secrets: pay.stripe-key, pay.signer" in unknown.stderr

    kept = pay("destroy", "--env", "local", "--auto-approve")
    assert kept.exit_code == 1 and "localcloud_secret" in kept.stderr + kept.stdout
    assert (root / "acme-local-pay-stripe-key" / "value").is_file(), "a held value is data: never lost silently"
    gone = pay("destroy", "--env", "local", "--auto-approve", "--allow-data-loss")
    assert gone.exit_code == 0, gone.output
    assert not (root / "acme-local-pay-stripe-key").exists()


def test_a_value_is_never_an_argument_and_a_terminal_does_not_echo(pay: SecretCli,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    extra = pay("secret", "set", "pay.stripe-key", CANARY, "--env", "local")
    assert extra.exit_code == 2 and "never taken as an argument" in extra.stderr and CANARY not in extra.output
    from platform_sdk.secrets import values

    asked: list[str] = []

    class Terminal:
        def isatty(self) -> bool:
            return True

        def read(self) -> str:
            raise AssertionError("a terminal is never read with echo")

    monkeypatch.setattr(values.getpass, "getpass", lambda prompt, stream=None: asked.append(prompt) or CANARY)
    assert values.read_value("pay.stripe-key", Terminal()) == CANARY  # type: ignore[arg-type]
    assert asked == ["Value for pay.stripe-key (not echoed): "]
    with pytest.raises(PlatformError, match="at most 65536"):
        values.read_value("pay.stripe-key", _Piped("x" * 65537))


class _Piped:
    def __init__(self, text: str) -> None:
        self.text = text

    def isatty(self) -> bool:
        return False

    def read(self) -> str:
        return self.text


def _gateway(project: Path) -> Gateway:
    """The real `platform dev` gateway over the project's local environment (any free port)."""
    from platform_sdk.envs import load_environment

    return Gateway(roots_for_env(project, load_environment(project / "envs" / "local.toml"))).start()


def test_each_environment_holds_its_own_value(tmp_path: Path) -> None:
    """The container is per environment: setting a value in one leaves the other's untouched (and unset)."""
    from platform_sdk.envs import load_environment
    from platform_sdk.loader import load_services
    from platform_sdk.secrets.inventory import inventory

    envs = {name: LOCAL_ENV.format(port=8790) for name in ("blue", "green")}
    project = write_project(tmp_path / "estate", {"pay.py": STRIPE}, envs, sources={"code/api.py": HANDLER})
    services = load_services(project.services_dir)
    urls = {}
    for name in envs:
        (ref, _) = inventory(project, load_environment(project.envs_dir / f"{name}.toml"), services)
        urls[name] = ref.url
        Path(open_secret(ref.url).path).mkdir(parents=True)  # type: ignore[attr-defined]  # what Terraform creates
    assert urls["blue"] != urls["green"] and "acme-blue-pay-stripe-key" in urls["blue"]
    runner = CliRunner()
    from platform_sdk.cli import app

    result = runner.invoke(app, ["secret", "set", "pay.stripe-key", "--env", "blue", "--project", str(project.root)],
                           input="blue-value")
    assert result.exit_code == 0, result.output
    assert open_secret(urls["blue"]).read().value == "blue-value"  # type: ignore[union-attr]
    assert open_secret(urls["green"]).read() is None
