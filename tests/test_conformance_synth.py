"""The conformance analysis inside synthesis and in `platform check`, through the CLI on copies of the example estate.

- A missing permission or path fails `platform synth` (and therefore plan, apply, move): exit 2, one line per
  finding naming the function, the grant or trigger, the operation, what is missing and the line of the grant (of
  the function's declaration for a trigger); nothing is written. No waiver covers it.
- An exposure (a way in the model never declared) fails the same way unless the environment file waives it
  (`rule = "conformance.exposure"`, resource = the function).
- `platform check` reports both kinds (waived exposures too) and the evidence the analysis relied on.
- A bring-your-own network a cloud's plug-in describes is trusted as described.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from platform_sdk import providers
from platform_sdk.cli import app

runner = CliRunner()

# issue 13's estate: a function in the VPC (for its database) that reads and writes a bucket; it works on AWS since
# the fix of 13.1 (an S3 gateway endpoint) and on GCP
EXAM = '''
from platform_sdk import Bucket, Database, Function, Service, http

service = Service("exam", owner="exam-team")
db = service.add(Database("db", deletion_protection=False))
files = service.add(Bucket("files"))
api = service.add(Function("api", handler="api.handle", source="functions/web", triggers=[http(public=False)]))
api.uses(db).reads_writes(files)
'''
# a missing permission: raw Terraform makes the bucket read-only for the function's role, which the model says reads
# and writes it; an explicit Deny wins over the compiler's least-privilege Allow, so AWS would refuse every write
EXAM_DENIED = '''
import json

from platform_sdk import Bucket, Database, Function, Service, http

service = Service("exam", owner="exam-team")
db = service.add(Database("db", deletion_protection=False))
files = service.add(Bucket("files"))
api = service.add(Function("api", handler="api.handle", source="functions/web", triggers=[http(public=False)]))
api.uses(db).reads_writes(files)


def read_only(tf):
    statement = {"Sid": "ReadOnly", "Effect": "Deny", "Action": ["s3:PutObject", "s3:DeleteObject"],
                 "Resource": tf.ref(files, "arn") + "/*"}
    tf.resource("aws_iam_role_policy", "read_only", {"name": "read-only", "role": "${aws_iam_role.api_role.id}",
                                                     "policy": json.dumps({"Version": "2012-10-17",
                                                                           "Statement": [statement]})})


service.terraform("aws", read_only)
'''
# a way in the model never declared (an exposure): raw Terraform lets any AWS principal invoke the function behind a
# CDN directly, around both its CDN and its function URL (the compiler's own output closed that way: issue 14.1)
LOGIN = '''
from platform_sdk import Cdn, Function, Service, http

service = Service("login", owner="identity-team")
page = service.add(Function("page", handler="api.handle", source="functions/web", triggers=[http()]))
service.add(Cdn("web", origin=page))


def invoke_for_anyone(tf):
    tf.resource("aws_lambda_permission", "anyone", {"function_name": tf.ref(page, "function_name"),
                                                    "action": "lambda:InvokeFunction", "principal": "*"})


service.terraform("aws", invoke_for_anyone)
'''
EXPOSED = ("login.page: http() -> http.invoke: exposed lambda:InvokeFunction for every principal ('*') without "
           "invoked_via_function_url = true (aws_lambda_permission.anyone): any AWS principal can invoke "
           "acme-dev-login-page directly, around its function URL")
WAIVER = '''
[[waivers]]
rule = "conformance.exposure"
resource = "login.page"
reason = "a partner system invokes the page directly until it moves to the CDN"
expires = {expires}
'''


def cli(estate: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [args[0], "--project", str(estate), *args[1:]])
    return result.exit_code, result.stdout, result.stderr


def flat(text: str) -> str:
    return " ".join(text.split())


def add_service(estate: Path, name: str, text: str) -> None:
    (estate / "services" / f"{name}.py").write_text(text.lstrip())


def test_a_missing_permission_or_path_fails_synthesis_and_writes_nothing(estate: Path) -> None:
    add_service(estate, "exam", EXAM_DENIED)
    code, _, err = cli(estate, "synth", "--env", "dev")
    message = flat(err)
    assert code == 2, err
    assert "4 operation(s) would fail on the cloud in environment dev:" in message  # the writes, not the reads
    assert ("- exam.api: reads_writes(files) -> bucket.put: missing s3:PutObject on "
            "arn:aws:s3:::acme-dev-exam-files/* for role acme-dev-exam-api: denied by "
            "aws_iam_role_policy.read_only statement ReadOnly") in message
    assert "bucket.delete: missing s3:DeleteObject" in message and "bucket.get:" not in message
    grant = EXAM_DENIED.lstrip().splitlines().index("api.uses(db).reads_writes(files)") + 1
    assert f"[{estate / 'services' / 'exam.py'}:{grant}]" in message, message  # the line of the grant, not the Function
    assert not (estate / "cdktf.out").exists(), "nothing may be written"
    code, _, err = cli(estate, "plan", "--env", "dev")  # every command that synthesizes refuses it
    assert code == 2 and "would fail on the cloud" in flat(err)


def test_a_missing_finding_cannot_be_waived(estate: Path) -> None:
    add_service(estate, "exam", EXAM_DENIED)
    env = estate / "envs" / "dev.toml"
    env.write_text(env.read_text() + WAIVER.replace("login.page", "exam.api").format(expires="2099-12-31")
                   + WAIVER.replace("conformance.exposure", "conformance.*").replace("login.page", "exam.*")
                   .format(expires="2099-12-31"))
    code, _, err = cli(estate, "synth", "--env", "dev")
    assert code == 2 and "exam.api: reads_writes(files) -> bucket.put: missing" in flat(err)


def test_an_exposure_fails_synthesis_unless_waived(estate: Path) -> None:
    add_service(estate, "login", LOGIN)
    code, _, err = cli(estate, "synth", "--env", "dev")
    message = flat(err)
    assert code == 2, err
    assert f"1 way(s) in the model never declared in environment dev: - {EXPOSED}" in message
    assert 'rule = "conformance.exposure", resource = "<service.function>"' in message
    assert not (estate / "cdktf.out").exists()

    env = estate / "envs" / "dev.toml"
    env.write_text(env.read_text() + WAIVER.format(expires="2020-01-31"))
    code, _, err = cli(estate, "synth", "--env", "dev")
    assert code == 2 and "(the waiver expired on 2020-01-31)" in flat(err), err

    env.write_text(env.read_text().replace("2020-01-31", "2099-12-31"))
    code, out, err = cli(estate, "synth", "--env", "dev")
    assert code == 0, err
    assert (estate / "cdktf.out" / "dev" / "stacks" / "dev-login-aws" / "cdk.tf.json").is_file()


def test_check_reports_findings_waivers_and_evidence(estate: Path) -> None:
    add_service(estate, "login", LOGIN)
    code, out, _ = cli(estate, "check", "--env", "dev", "--no-checkov", "--json")
    doc = json.loads(out)
    assert code == 1 and not doc["passed"] and not doc["conformance"]["passed"]
    (exposure,) = doc["conformance"]["exposures"]
    assert exposure["rule"] == "conformance.exposure" and exposure["resource"] == "login.page"
    assert exposure["status"] == "failed" and EXPOSED.split(": exposed ")[1] in exposure["message"], exposure
    code, out, _ = cli(estate, "check", "--env", "dev", "--no-checkov")
    assert code == 1 and "conformance.exposure" in out and "conformance: 0 missing, 1 exposed, 0 waived" in flat(out)

    env = estate / "envs" / "dev.toml"
    env.write_text(env.read_text() + WAIVER.format(expires="2099-12-31"))
    code, out, _ = cli(estate, "check", "--env", "dev", "--no-checkov", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["passed"], out
    (exposure,) = doc["conformance"]["exposures"]
    assert exposure["status"] == "waived" and exposure["waiver_reason"].startswith("a partner system")
    assert doc["unused_waivers"] == []
    findings = doc["conformance"]["findings"]
    assert [(f["function"], f["kind"]) for f in findings] == [("login.page", "exposure")]
    evidence = doc["conformance"]["evidence"]
    assert set(evidence) == {"auth.api", "auth.cleanup", "login.page", "notifications.render", "notifications.worker",
                             "thumbnails.on-demand", "thumbnails.resize", "web.api"}
    assert all(count > 0 for count in evidence.values())


def test_check_reports_what_is_missing(estate: Path) -> None:
    add_service(estate, "exam", EXAM_DENIED)
    code, out, _ = cli(estate, "check", "--env", "dev", "--no-checkov")
    text = flat(out)
    assert code == 1 and "conformance.missing" in text and "conformance: 4 missing, 0 exposed, 0 waived" in text
    assert "check dev: failed" in text


def test_check_prod_of_the_example_estate_passes_with_evidence_for_every_function(estate: Path) -> None:
    code, out, _ = cli(estate, "check", "--env", "prod", "--no-checkov", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["conformance"]["passed"] and doc["conformance"]["findings"] == []
    assert set(doc["conformance"]["evidence"]) == {"auth.api", "auth.cleanup", "notifications.render",
                                                   "notifications.worker", "thumbnails.on-demand",
                                                   "thumbnails.resize", "web.api"}
    code, out, _ = cli(estate, "check", "--env", "local", "--no-checkov", "--json")
    local = json.loads(out)["conformance"]
    assert local == {"passed": True, "findings": [], "exposures": [], "evidence": {}, "unverified": []}


def test_a_network_the_environment_describes_is_trusted_as_described(estate: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """`[clouds.aws.network] endpoints = ["s3"]`: the VPC has its S3 gateway endpoint already, so the platform
    builds none and the analysis trusts the one the environment describes; without that description the same output
    has no path to S3."""
    add_service(estate, "exam", EXAM)
    env = estate / "envs" / "dev.toml"
    env.write_text(env.read_text() + '\n[clouds.aws.network]\nendpoints = ["s3"]\n')
    code, _, err = cli(estate, "synth", "--env", "dev")
    assert code == 0, err
    stacks = estate / "cdktf.out" / "dev" / "stacks"
    base = json.loads((stacks / "dev-base-aws" / "cdk.tf.json").read_text())  # the base stack owns the endpoints
    endpoints = [e["service_name"] for e in base["resource"]["aws_vpc_endpoint"].values()]
    assert "com.amazonaws.eu-west-1.secretsmanager" in endpoints, endpoints
    assert "com.amazonaws.eu-west-1.s3" not in endpoints, endpoints  # no S3 endpoint: the VPC's own serves
    stack = json.loads((stacks / "dev-exam-aws" / "cdk.tf.json").read_text())
    assert "aws_vpc_endpoint" not in stack["resource"]

    monkeypatch.setattr(type(providers.plugin("aws")), "trusted_network", lambda self, env: None)
    code, _, err = cli(estate, "synth", "--env", "dev")
    assert code == 2 and ("exam.api: reads_writes(files) -> bucket.get: missing a network path to the AWS s3 API: "
                          "function acme-dev-exam-api runs in a VPC") in flat(err), err


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_move_is_refused_before_anything_changes_when_its_target_would_fail(estate: Path, dry_run: bool) -> None:
    """The exam estate works on GCP (no VPC needed); moved onto AWS its function, in the VPC for its database, could
    not reach the archive bucket left on GCP: the environment's VPC has no NAT gateway."""
    add_service(estate, "exam", EXAM + 'archive = Service("archive", owner="exam-team")\n'
                'papers = archive.add(Bucket("papers"))\napi.reads(papers)\n')
    env = estate / "envs" / "staging.toml"
    # a local state backend: the move reads its record there first (the example's GCS bucket is out of reach)
    gcs = 'backend = "gcs"\nbucket = "acme-tfstate-staging"\nprefix = "platform"'
    env.write_text(env.read_text().replace('"web" = "gcp"', '"web" = "gcp"\n"exam" = "gcp"\n"archive" = "gcp"').replace(
        gcs, 'backend = "local"\npath = ".platform/state"'))
    code, _, err = cli(estate, "synth", "--env", "staging")
    assert code == 0, err
    args = ["--dry-run"] if dry_run else ["--yes"]
    code, out, err = cli(estate, "move", "exam", "--to", "aws", "--env", "staging", *args)
    shown = flat(out if dry_run else err)  # a dry run prints the refusing preflight; a move raises it
    refusal = (f"synthesis of the cut-over{' (checked)' if dry_run else ''}: {env}: clouds.aws.network.nat: function "
               "exam.api connects to database exam.db, so it runs in the VPC, which has no route to the internet (no "
               "NAT gateway); it cannot reach a bucket, secret or queue on another cloud (got 'none')")
    assert code == 2 and refusal in shown, (out, err)
    assert dry_run or "error: the move of exam to aws would fail (2 problems); nothing was changed:" in shown
    assert '"exam" = "gcp"' in env.read_text(), "a refused move leaves the placement as it was"
    records = [*(estate / ".platform" / "moves").glob("*.json"), *(estate / ".platform" / "state").rglob("moves.json")]
    assert "exam" not in "".join(p.read_text() for p in records), "nor a move record (cache or backend)"


def test_waiver_text_is_valid_toml() -> None:
    import tomllib

    assert tomllib.loads(textwrap.dedent(WAIVER.format(expires="2099-12-31")))["waivers"][0]["resource"] == \
        "login.page"
