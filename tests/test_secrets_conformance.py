"""Conformance of secret reads: `fn.reads(secret)` becomes exactly the permission `secret(name)` needs, on the secret's
own cloud, for a function on the same cloud or on the other one (federated, no keys), with and without the
profile's customer managed key; and removing any piece of that evidence from the synthesized JSON is caught.
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from pathlib import Path

import pytest

from platform_sdk.conformance import examine
from platform_sdk.profile import Profile
from tests.conformance_estates import CLOUDS, KEYS, Synthesized, synth, write_project
from tests.test_conformance_mutations import analyse, mutations, without

STAGE = 'name_prefix = "acme"\n'  # every environment file names its prefix

ESTATE = '''
from platform_sdk import Function, Secret, Service, schedule


vault = Service("vault", owner="security-team")
api_key = vault.add(Secret("api-key"))
signer = vault.add(Secret("signer", generate=True))
vault.add(Function("rotator", handler="handler.handle", source="code",
                   triggers=[schedule("0 1 * * *")])).reads(signer)

app = Service("app", owner="app-team")
app.add(Function("caller", handler="handler.handle", source="code",
                 triggers=[schedule("0 2 * * *")])).reads(api_key).reads(signer)
'''
ENVIRONMENTS = {
    "aws": STAGE + 'default_cloud = "aws"\n' + CLOUDS,
    "gcp": STAGE + 'default_cloud = "gcp"\n' + CLOUDS,
    "aws-gcp": STAGE + 'default_cloud = "aws"\n[placement]\n"vault" = "gcp"\n' + CLOUDS,  # AWS function, GCP secrets
    "gcp-aws": STAGE + 'default_cloud = "gcp"\n[placement]\n"vault" = "aws"\n' + CLOUDS,  # GCP function, AWS secrets
}


@functools.cache
def secrets_estate(env_name: str, kms: bool = False) -> Synthesized:
    root = Path(tempfile.mkdtemp(prefix="conformance-secrets-"))
    atexit.register(shutil.rmtree, root, True)
    project = write_project(root / "estate", {"secrets.py": ESTATE}, ENVIRONMENTS)
    return synth(project, env_name, Profile(kms_keys=KEYS) if kms else None)


CASES = [(env, False) for env in ENVIRONMENTS] + [("aws", True), ("gcp", True)]


@pytest.mark.parametrize(("env_name", "kms"), CASES)
def test_every_secret_read_has_its_permission_and_nothing_is_missing(env_name: str, kms: bool) -> None:
    synthesized = secrets_estate(env_name, kms)
    analysis = examine(synthesized.outdir, synthesized.placements, synthesized.stacks)
    assert [str(f) for f in analysis.findings] == []
    relied = {e.need for e in analysis.evidence}
    for need in ("vault.rotator: reads(signer) -> secret.read", "app.caller: reads(vault.api-key) -> secret.read",
                 "app.caller: reads(vault.signer) -> secret.read"):
        assert need in relied, sorted(relied)
    what = " | ".join(e.what for e in analysis.evidence if "secret.read" in e.need)
    if synthesized.placements[next(r for r in synthesized.placements if r.address == "vault.api-key")].target == "aws":
        assert "secretsmanager:GetSecretValue on secret" in what
        assert ("kms:Decrypt on key" in what) is kms
    else:
        assert "secretmanager.versions.access on secret" in what
    if env_name in ("aws-gcp", "gcp-aws"):
        assert any(e.need == "app.caller: reads(vault.api-key) -> federation.token_exchange" for e in analysis.evidence)


@pytest.mark.parametrize(("env_name", "kms"), CASES)
def test_removing_any_piece_of_secret_evidence_is_caught(env_name: str, kms: bool) -> None:
    synthesized = secrets_estate(env_name, kms)
    documents = synthesized.documents()
    baseline = analyse(synthesized, documents)
    before = {str(finding) for finding in baseline.findings}
    generated = {locations: needs for locations, needs in mutations(baseline).items()
                 if any("secret.read" in need or "federation" in need for need in needs)}
    assert len(generated) >= 3
    missed = []
    for locations, needs in generated.items():
        functions = {need.split(":")[0] for need in needs}
        after = analyse(synthesized, without(documents, locations), only=functions)
        caught = [f for f in after.findings if str(f) not in before
                  and f"{f.function}: {f.cause} -> {f.operation}" in needs]
        if not caught:
            missed.append(f"{', '.join(map(str, locations))} (relied on by {sorted(needs)[0]})")
    assert not missed, "\n".join(missed)


def test_a_grant_on_another_secret_does_not_count(tmp_path: Path) -> None:
    """The policy must name this secret's ARN: pointing the statement at another secret is a finding."""
    synthesized = secrets_estate("aws")
    copied = tmp_path / "out"
    shutil.copytree(synthesized.outdir, copied)
    stack = copied / "stacks" / "aws-app-aws" / "cdk.tf.json"
    doc = json.loads(stack.read_text())
    policy = doc["resource"]["aws_iam_role_policy"]["caller_policy"]
    policy["policy"] = policy["policy"].replace("signer", "other")
    stack.write_text(json.dumps(doc))
    findings = [str(f) for f in examine(copied, synthesized.placements, synthesized.stacks).findings]
    assert any(f.startswith("app.caller: reads(vault.signer) -> secret.read: missing secretsmanager:GetSecretValue")
               for f in findings), findings
