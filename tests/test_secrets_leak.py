"""Nothing leaks: a canary value set as a secret is looked for everywhere the platform writes or prints, and found
nowhere but in the secret's own 0600 value files.

Looked in: every file of the project after set, plan, apply, outputs, status, list, dev and a move (synthesized
stacks and metadata, function packages and the members of every zip, Terraform state files and plans, the deployed
and move records, copy journals, the local cloud's registry), the text and JSON of `platform plan`, `apply`,
`outputs`, `status`, `secret list`, the log of a real `platform dev` process serving a function that reads the
secret (and one that fails after reading it), the move's report (text and JSON), and the messages of the errors
the runtime raises around a secret. Everything runs through real Terraform and the local cloud provider.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import zipfile
from pathlib import Path

import pytest
import requests
from typer.testing import CliRunner, Result

from tests.conformance_estates import write_project
from tests.emulators import free_port, wait_http
from tests.terraform_fixtures import PLATFORM_BIN, tf_binary_fixture  # noqa: F401

CANARY = "canary-0b9e64d2a7f1-NEVER-PRINT-ME"

SERVICE = '''
from platform_sdk import Bucket, Function, Secret, Service, http

pay = Service("pay", owner="payments")
key = pay.add(Secret("stripe-key"))
ledger = pay.add(Bucket("ledger", force_destroy=True))
pay.add(Function("api", handler="api.handle", source="code", triggers=[http()])).reads(key).writes(ledger)
pay.add(Function("broken", handler="api.broken", source="code", triggers=[http()])).reads(key)
'''
HANDLER = '''
import hashlib

from platform_sdk.runtime import HttpResponse, bucket, secret


def handle(request):
    value = secret("stripe-key")
    bucket("ledger").put("last-call.txt", b"charged")
    return HttpResponse(200, {"sha256": hashlib.sha256(value.encode()).hexdigest()})


def broken(request):
    value = secret("stripe-key")
    raise RuntimeError(f"the payment provider refused a key of {len(value)} characters")
'''
ENV = '''
name_prefix = "acme"
default_cloud = "aws"

[clouds.local]
root = ".platform/localcloud"
gateway_port = {port}

[clouds.aws]
stand_in = "local"

[clouds.gcp]
stand_in = "local"

[placement]

[state]
backend = "local"
path = ".platform/state"
'''


def _texts_of(root: Path) -> dict[str, bytes]:
    """Every file under `root` (and every member of every zip) by path, except the secrets' own value files."""
    found: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        if path.name == "value" and path.parent.parent.name == "secrets":
            continue
        data = path.read_bytes()
        found[str(path.relative_to(root))] = data
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    found[f"{path.relative_to(root)}!{member}"] = archive.read(member)
    return found


def _leaks(texts: dict[str, bytes | str]) -> list[str]:
    needle = CANARY.encode()
    return [name for name, text in texts.items()
            if needle in (text if isinstance(text, bytes) else text.encode())]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    port = free_port()
    written = write_project(tmp_path / "estate", {"pay.py": SERVICE}, {"local": ENV.format(port=port)},
                            sources={"code/api.py": HANDLER})
    return written.root


def test_a_canary_value_is_found_nowhere(project: Path, tf_binary: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    printed: dict[str, bytes | str] = {}

    def platform(*args: str, input: str | None = None, expect: int = 0) -> Result:
        from platform_sdk.cli import app

        result = runner.invoke(app, [*args, "--project", str(project)], input=input, catch_exceptions=False,
                               env={"PLATFORM_TERRAFORM": str(tf_binary)})
        printed[" ".join(args) + f" #{len(printed)}"] = result.stdout + result.stderr
        assert result.exit_code == expect, result.stdout + result.stderr
        return result

    platform("apply", "--env", "local", "--auto-approve", expect=2)  # refused: the secret has no value
    platform("secret", "set", "pay.stripe-key", "--env", "local", input=CANARY)
    values = list((project / ".platform" / "localcloud").rglob("secrets/*/value"))
    assert [v.read_text() for v in values] == [CANARY]
    platform("plan", "--env", "local")
    platform("plan", "--env", "local", "--json")
    platform("apply", "--env", "local", "--auto-approve")
    platform("apply", "--env", "local", "--auto-approve", "--json")
    platform("outputs", "--env", "local")
    platform("outputs", "--env", "local", "--json")
    platform("status", "--env", "local")
    platform("status", "--env", "local", "--json")
    platform("secret", "list", "--env", "local")
    platform("secret", "list", "--env", "local", "--json")
    platform("synth", "--env", "local", "--json")
    platform("graph", "--env", "local", "--json")

    printed["platform dev"] = _dev_log(project, tf_binary)

    moved = platform("move", "pay", "--to", "gcp", "--env", "local", "--yes", "--json")
    report = json.loads(moved.stdout)
    assert [(s["resource"], s["phase"], s["source_has_value"], s["verified"]) for s in report["secrets"]] == [
        ("pay.stripe-key", "copy", True, True), ("pay.stripe-key", "verify", True, True)]
    values = list((project / ".platform" / "localcloud").rglob("secrets/*/value"))
    assert [str(v.relative_to(project)).split(os.sep)[3] for v in values] == ["gcp"], "the source was removed"
    assert values[0].read_text() == CANARY
    platform("plan", "--env", "local", "--json")

    printed.update(_runtime_errors(project))
    leaked = _leaks(printed) + _leaks(_texts_of(project))  # type: ignore[arg-type]
    assert leaked == [], f"the canary appears in: {leaked}"
    assert len(printed) > 15 and any(name.startswith("cdktf.out") for name in _texts_of(project))


def _dev_log(project: Path, tf_binary: Path) -> str:
    """Run the real `platform dev` (a process of ours), call both functions, stop it, return everything it printed."""
    port = free_port()
    env = {**os.environ, "PLATFORM_TERRAFORM": str(tf_binary)}
    env.pop("PLATFORM_PROJECT", None)
    proc = subprocess.Popen([str(PLATFORM_BIN), "dev", "--env", "local", "--port", str(port), "--project",
                             str(project)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/_platform/routes", timeout=60)
        ok = requests.get(f"http://127.0.0.1:{port}/fn/acme-local-pay-api", timeout=60)
        assert ok.status_code == 200 and len(ok.json()["sha256"]) == 64
        failed = requests.get(f"http://127.0.0.1:{port}/fn/acme-local-pay-broken", timeout=60)
        assert failed.status_code == 500
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            output, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
    assert "acme-local-pay-broken" in output and "RuntimeError" in output, output[-2000:]
    return output + ok.text + failed.text


def _runtime_errors(project: Path) -> dict[str, str]:
    """The messages of every error the runtime raises around the secret, after it was read once."""
    import pytest as _pytest

    from platform_sdk.runtime import GrantError, SecretNotSetError, secret
    from platform_sdk.runtime import secrets as runtime_secrets
    from platform_sdk.runtime.secrets import SecretContainerMissingError, open_secret

    (value_file,) = (project / ".platform" / "localcloud").rglob("secrets/*/value")
    url = value_file.parent.as_uri()
    messages: dict[str, str] = {}
    with _pytest.MonkeyPatch.context() as patch:
        for name, value in {"PLATFORM_SECRET_STRIPE_KEY": url, "PLATFORM_GRANTS": "secret:stripe-key:read",
                            "PLATFORM_SERVICE": "pay", "PLATFORM_FUNCTION": "api", "PLATFORM_ENV": "local"}.items():
            patch.setenv(name, value)
        runtime_secrets._values.clear()
        runtime_secrets._clients.clear()
        assert secret("stripe-key") == CANARY
        for label, call in {
            "not granted": lambda: secret("other"),
            "not set": lambda: open_secret(url).read() and (value_file.unlink(), secret("stripe-key", max_age=0)),
            "no container": lambda: open_secret((project / "nowhere").as_uri()).write(CANARY),
        }.items():
            try:
                call()
            except (GrantError, SecretNotSetError, SecretContainerMissingError) as err:
                messages[f"error: {label}"] = f"{type(err).__name__}: {err!r} {err}"
            else:
                raise AssertionError(f"{label}: no error")
        messages["cache repr"] = repr(runtime_secrets._values) + repr(runtime_secrets._clients)
    return messages
