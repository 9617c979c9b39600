"""Keyless cross-cloud bucket access, both directions, through real synthesis and real client libraries.

Synthesis: an estate where GCP functions read (and write) an S3 bucket and an AWS function writes a GCS bucket,
under two placements (`split` and its mirror `flipped`), checked for the trust, the exact permissions, the URLs
the functions get, the schema and the stack order.

Runtime: GCP -> S3 through moto (STS AssumeRoleWithWebIdentity + S3 with moto's IAM enforcement switched on)
and a fake metadata server; AWS -> GCS through google-auth's real external_account flow against a fake Google
STS and the GCS emulator.
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import json
import re
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import platform_sdk.cdk.engine  # noqa: F401  (points jsii at the pip-installed Node)
from platform_sdk.envs import load_environment
from platform_sdk.errors import PlatformError
from platform_sdk.loader import load_services
from platform_sdk.profile import Profile
from platform_sdk.project import Project
from platform_sdk.providers.aws.runtime import federation as aws_federation
from platform_sdk.providers.gcp.runtime import federation as gcp_federation
from platform_sdk.providers.gcp.runtime import identity as gcp_identity
from platform_sdk.runtime import GrantError, bucket, federation, resources
from platform_sdk.synth.app import synthesize
from platform_sdk.synth.schema_check import check_outdir, format_errors

pytestmark = pytest.mark.xdist_group("federation")  # module-scoped fixtures: keep the module on one worker

ACCOUNT = "123456789012"  # moto's default account: the runtime test creates the synthesized role there
PROJECT_ID = "acme-fed-123"
ESTATE = '''
from platform_sdk import Bucket, Function, Service

ingest = Service("ingest", owner="data-team")
uploads = ingest.add(Bucket("uploads"))
export = ingest.add(Function("export", handler="app.handle", source="functions/app"))

analytics = Service("analytics", owner="data-team")
reports = analytics.add(Bucket("reports"))
indexer = analytics.add(Function("indexer", handler="app.handle", source="functions/app"))
archiver = analytics.add(Function("archiver", handler="app.handle", source="functions/app"))

indexer.reads(uploads)                   # across clouds in both placements
archiver.reads(uploads).writes(uploads)  # two grants on one foreign bucket: one role, both grants' actions
export.reads(uploads).writes(reports)    # its own cloud's bucket, and one across clouds
'''
HANDLER = "def handle(request):\n    return {'status': 200}\n"
CLOUDS = f'''
[clouds.aws]
account = "{ACCOUNT}"
region = "eu-west-1"

[clouds.gcp]
project = "{PROJECT_ID}"
region = "europe-west1"
'''
ENVS = {
    # ingest (uploads, export) on AWS; analytics (reports, indexer, archiver) on GCP
    "split": 'name_prefix = "acme"\ndefault_cloud = "aws"\n' + CLOUDS + '\n[placement]\n"analytics" = "gcp"\n',
    # the mirror image: ingest on GCP, analytics on AWS
    "flipped": 'name_prefix = "acme"\ndefault_cloud = "gcp"\n' + CLOUDS + '\n[placement]\n"analytics" = "aws"\n',
}
GOOGLE = "accounts.google.com"
S3_READ = {"bucket": ["s3:ListBucket"], "objects": ["s3:GetObject"]}

Stacks = dict[str, dict[str, Any]]


# -- helpers -------------------------------------------------------------------------------------------------------
def make_project(root: Path, envs: dict[str, str], estate: str = ESTATE) -> Project:
    (root / "services" / "functions" / "app").mkdir(parents=True)
    (root / "services" / "estate.py").write_text(estate)
    (root / "services" / "functions" / "app" / "app.py").write_text(HANDLER)
    (root / "envs").mkdir()
    for name, text in envs.items():
        (root / "envs" / f"{name}.toml").write_text(text)
    return Project(root)


def synth(project: Project, env_name: str, profile: Profile | None = None) -> Path:
    """Without the conformance analysis: an AWS function granted a GCS bucket cannot sign URLs for it yet (the
    runtime signs with a service account, which a federated AWS identity lacks; tests/test_conformance_matrix.py,
    X.1), so synthesis refuses these estates; this module tests what federation emits and that it works."""
    env = load_environment(project.envs_dir / f"{env_name}.toml")
    return synthesize(project, env, load_services(project.services_dir), profile=profile, conformance=False).outdir


def read_stacks(outdir: Path) -> Stacks:
    return {p.parent.name: json.loads(p.read_text()) for p in sorted(outdir.glob("stacks/*/cdk.tf.json"))}


def resources_of(stack: dict[str, Any], tf_type: str) -> dict[str, dict[str, Any]]:
    return stack.get("resource", {}).get(tf_type, {})


def lambda_env(stack: dict[str, Any], fn: str) -> dict[str, str]:
    return resources_of(stack, "aws_lambda_function")[f"{fn}_function"]["environment"]["variables"]


def gcf_env(stack: dict[str, Any], fn: str) -> dict[str, str]:
    return resources_of(stack, "google_cloudfunctions2_function")[fn]["service_config"]["environment_variables"]


def remote_output(stack: dict[str, Any], value: str) -> tuple[str, str]:
    """`${data.terraform_remote_state.<input>.outputs.<output>}` -> (the producing stack's name, the output)."""
    match = re.fullmatch(r"\$\{data\.terraform_remote_state\.([^.]+)\.outputs\.([^}]+)\}", value)
    assert match, value
    config = stack["data"]["terraform_remote_state"][match.group(1)]["config"]
    producer = Path(config["path"]).stem if "path" in config else config["key"].rsplit("/", 1)[-1].removesuffix(
        ".tfstate")
    return producer, match.group(2)


def policy_statements(document: str) -> list[dict[str, Any]]:
    return json.loads(document)["Statement"]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def federated_roles(stack: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in resources_of(stack, "aws_iam_role").items() if k.endswith("_federated_role")}


def federated_policy(stack: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    policy = resources_of(stack, "aws_iam_role_policy")[role_id.replace("_federated_role", "_federated_policy")]
    assert policy["role"] == f"${{aws_iam_role.{role_id}.id}}"
    return policy_statements(policy["policy"])


def granted(statements: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Resource -> actions allowed on it."""
    found: dict[str, set[str]] = {}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        for resource in as_list(statement["Resource"]):
            found.setdefault(resource, set()).update(as_list(statement["Action"]))
    return found


def acyclic_order(deps: dict[str, list[str]]) -> list[str]:
    """Stacks in apply order (producers first); fails on a cycle."""
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str, path: tuple[str, ...]) -> None:
        if state.get(name) == "done":
            return
        assert state.get(name) != "visiting", f"dependency cycle: {' -> '.join((*path, name))}"
        state[name] = "visiting"
        for dep in deps.get(name, []):
            visit(dep, (*path, name))
        state[name] = "done"
        order.append(name)

    for name in sorted(deps):
        visit(name, ())
    return order


# -- fixtures ------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return make_project(tmp_path_factory.mktemp("federation") / "estate", ENVS)


@pytest.fixture(scope="module")
def outdirs(project: Project) -> dict[str, Path]:
    return {name: synth(project, name) for name in ENVS}


@pytest.fixture(scope="module")
def split(outdirs: dict[str, Path]) -> Stacks:
    return read_stacks(outdirs["split"])


@pytest.fixture(scope="module")
def flipped(outdirs: dict[str, Path]) -> Stacks:
    return read_stacks(outdirs["flipped"])


# -- synthesis -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("env_name", list(ENVS))
def test_every_stack_passes_the_schema_check(outdirs: dict[str, Path], env_name: str) -> None:
    errors = check_outdir(outdirs[env_name])
    assert errors == [], format_errors(errors)


@pytest.mark.parametrize(("env_name", "expected"), [
    ("split", {"split-ingest-aws": ["split-analytics-gcp"], "split-analytics-gcp": ["split-base-gcp"],
               "split-base-gcp": []}),
    ("flipped", {"flipped-analytics-aws": ["flipped-ingest-gcp"], "flipped-ingest-gcp": ["flipped-base-gcp"],
                 "flipped-base-gcp": []}),
])
def test_stack_dependencies_run_from_aws_to_gcp_without_cycles(outdirs: dict[str, Path], env_name: str,
                                                               expected: dict[str, list[str]]) -> None:
    """Both trusts and both URLs only ever make the AWS stack read the GCP stack: the S3 side trusts the GCP
    service account's unique id (a token from the GCP stack) and the AWS function's URL carries the GCP
    provider's audience; the GCP side uses literals only (the Lambda role ARN, the S3 URL)."""
    metadata = json.loads((outdirs[env_name] / "platform.json").read_text())
    deps = {name: info["dependencies"] for name, info in metadata["stacks"].items()}
    assert deps == expected
    order = acyclic_order(deps)
    gcp = next(name for name in deps if name.endswith("-gcp") and "-base-" not in name)
    assert order.index(gcp) < order.index(next(name for name in deps if name.endswith("-aws")))
    manifest = json.loads((outdirs[env_name] / "manifest.json").read_text())
    assert {name: sorted(info.get("dependencies", [])) for name, info in manifest["stacks"].items()} == expected


def test_gcp_functions_get_a_literal_s3_url_with_their_own_role(split: Stacks) -> None:
    stack = split["split-analytics-gcp"]
    for fn in ("indexer", "archiver"):
        env = gcf_env(stack, fn)
        role = f"arn:aws:iam::{ACCOUNT}:role/acme-split-analytics-{fn}.ingest.uploads"
        assert env["PLATFORM_BUCKET_UPLOADS"] == (
            f"s3://acme-split-ingest-uploads?role_arn={role}&web_identity=gcp&region=eu-west-1")
    assert gcf_env(stack, "indexer")["PLATFORM_GRANTS"] == "bucket:uploads:read"
    assert gcf_env(stack, "archiver")["PLATFORM_GRANTS"] == "bucket:uploads:read,bucket:uploads:write"
    # nothing of the AWS stack is referenced: no remote state at all in the GCP stack
    assert "terraform_remote_state" not in stack.get("data", {})
    assert all("${" not in value for fn in ("indexer", "archiver") for value in gcf_env(stack, fn).values())


def test_s3_role_trusts_exactly_the_gcp_service_account(split: Stacks) -> None:
    aws, gcp = split["split-ingest-aws"], split["split-analytics-gcp"]
    roles = federated_roles(aws)
    assert sorted(roles) == ["analytics__archiver__ingest__uploads_federated_role",
                             "analytics__indexer__ingest__uploads_federated_role"]
    for fn in ("indexer", "archiver"):
        role = roles[f"analytics__{fn}__ingest__uploads_federated_role"]
        name = f"acme-split-analytics-{fn}.ingest.uploads"
        assert role["name"] == name and role["max_session_duration"] == 3600
        (statement,) = policy_statements(role["assume_role_policy"])
        assert statement["Effect"] == "Allow"
        assert statement["Principal"] == {"Federated": GOOGLE}
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        (condition,) = statement["Condition"].items()
        operator, keys = condition
        assert operator == "StringEquals"
        assert sorted(keys) == [f"{GOOGLE}:aud", f"{GOOGLE}:oaud", f"{GOOGLE}:sub"]
        assert keys[f"{GOOGLE}:oaud"] == f"arn:aws:iam::{ACCOUNT}:role/{name}"  # the audience the runtime asks for
        assert keys[f"{GOOGLE}:aud"] == keys[f"{GOOGLE}:sub"]  # aud is compared with the token's azp
        producer, output = remote_output(aws, keys[f"{GOOGLE}:aud"])
        assert producer == "split-analytics-gcp"
        assert gcp["output"][output]["value"] == f"${{google_service_account.{fn}_sa.unique_id}}"
        assert f"acme-split-analytics-{fn}@{PROJECT_ID}.iam.gserviceaccount.com" in role["description"]


def test_s3_role_policy_is_exactly_the_grants_actions_on_the_bucket(split: Stacks) -> None:
    aws = split["split-ingest-aws"]
    arn = "${aws_s3_bucket.uploads_bucket.arn}"
    indexer = federated_policy(aws, "analytics__indexer__ingest__uploads_federated_role")
    assert granted(indexer) == {arn: {"s3:ListBucket"}, f"{arn}/*": {"s3:GetObject"}}
    archiver = federated_policy(aws, "analytics__archiver__ingest__uploads_federated_role")
    assert granted(archiver) == {arn: {"s3:ListBucket"},
                                 f"{arn}/*": {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}}


def test_flipped_write_grant_is_put_and_delete_only(flipped: Stacks) -> None:
    aws = flipped["flipped-analytics-aws"]
    (role_id,) = federated_roles(aws)
    assert role_id == "ingest__export__analytics__reports_federated_role"
    arn = "${aws_s3_bucket.reports_bucket.arn}"
    assert granted(federated_policy(aws, role_id)) == {f"{arn}/*": {"s3:PutObject", "s3:DeleteObject"}}
    assert gcf_env(flipped["flipped-ingest-gcp"], "export")["PLATFORM_BUCKET_REPORTS"] == (
        f"s3://acme-flipped-analytics-reports?role_arn=arn:aws:iam::{ACCOUNT}:role/"
        "acme-flipped-ingest-export.analytics.reports&web_identity=gcp&region=eu-west-1")


@pytest.mark.parametrize("env_name", list(ENVS))
def test_no_wildcards_in_federation(request: pytest.FixtureRequest, env_name: str) -> None:
    stacks: Stacks = request.getfixturevalue(env_name)
    checked = 0
    for stack in stacks.values():
        for role_id, role in federated_roles(stack).items():
            for statement in [*policy_statements(role["assume_role_policy"]), *federated_policy(stack, role_id)]:
                for key in ("Action", "Resource", "Principal"):
                    for value in as_list(statement.get(key, [])):
                        text = json.dumps(value)
                        assert "*" not in text.replace("}/*", "}"), (role_id, statement)  # only `<arn>/*`
                checked += 1
        for binding in resources_of(stack, "google_storage_bucket_iam_member").values():
            if binding["member"].startswith("principalSet://"):
                assert "*" not in binding["member"] and binding["member"].count("attribute.aws_role/") == 1
                checked += 1
        for provider in resources_of(stack, "google_iam_workload_identity_pool_provider").values():
            assert "*" not in json.dumps(provider)
    assert checked >= 5


def test_gcs_bucket_trusts_the_lambda_role_through_one_pool(split: Stacks) -> None:
    gcp = split["split-analytics-gcp"]
    (pool,) = resources_of(gcp, "google_iam_workload_identity_pool").values()
    assert pool["workload_identity_pool_id"] == "acme-split-analytics-aws"
    assert "depends_on" not in pool  # the APIs are enabled by the base stack, applied before this one
    base = {api["service"] for api in resources_of(split["split-base-gcp"], "google_project_service").values()}
    assert {"iam.googleapis.com", "sts.googleapis.com"} <= base
    (provider_id, provider), = resources_of(gcp, "google_iam_workload_identity_pool_provider").items()
    assert provider["workload_identity_pool_id"] == (
        "${google_iam_workload_identity_pool.platform_aws_pool.workload_identity_pool_id}")
    assert provider["workload_identity_pool_provider_id"] == f"aws-{ACCOUNT}"
    assert provider["aws"] == {"account_id": ACCOUNT}
    assert provider["attribute_mapping"] == {
        "google.subject": "assertion.arn",
        "attribute.aws_account": "assertion.account",
        "attribute.aws_role": "assertion.arn.extract('assumed-role/{role}/')",
    }
    assert provider["attribute_condition"] == f"assertion.arn.startsWith('arn:aws:sts::{ACCOUNT}:assumed-role/')"
    bindings = {k: v for k, v in resources_of(gcp, "google_storage_bucket_iam_member").items()
                if v["member"].startswith("principalSet://")}
    assert bindings == {"aws_ingest_export_reports_objectwriter": {
        **bindings["aws_ingest_export_reports_objectwriter"],
        "bucket": "${google_storage_bucket.reports.name}",
        # the `write` grant's role (the base stack's object writer: create + delete), on this bucket only
        "role": f"projects/{PROJECT_ID}/roles/acme_split_base_object_writer",
        "member": "principalSet://iam.googleapis.com/projects/${data.google_project.platform_project.number}/"
                  "locations/global/workloadIdentityPools/acme-split-analytics-aws/attribute.aws_role/"
                  "acme-split-ingest-export",
        "depends_on": [f"google_iam_workload_identity_pool_provider.{provider_id}"],
    }}
    assert "google_project_iam_member" not in json.dumps(bindings)
    # the Lambda role whose name the binding trusts is the function's execution role
    assert resources_of(split["split-ingest-aws"], "aws_iam_role")["export_role"]["name"] == "acme-split-ingest-export"


def test_aws_function_url_carries_the_providers_audience(split: Stacks) -> None:
    aws, gcp = split["split-ingest-aws"], split["split-analytics-gcp"]
    env = lambda_env(aws, "export")
    url = env["PLATFORM_BUCKET_REPORTS"]
    match = re.fullmatch(r"gs://acme-split-analytics-reports\?wif_audience=//iam\.googleapis\.com/(\$\{[^}]+\})"
                         r"&web_identity=aws", url)
    assert match, url
    producer, output = remote_output(aws, match.group(1))
    assert producer == "split-analytics-gcp"
    assert gcp["output"][output]["value"] == (
        f"${{google_iam_workload_identity_pool_provider.platform_aws_{ACCOUNT}.name}}")
    assert env["PLATFORM_BUCKET_UPLOADS"] == "s3://${aws_s3_bucket.uploads_bucket.bucket}"  # its own cloud: plain
    assert env["PLATFORM_GRANTS"] == "bucket:reports:write,bucket:uploads:read"
    # the Lambda's own policy names no GCS bucket: federation is the only way in
    policy = policy_statements(resources_of(aws, "aws_iam_role_policy")["export_policy"]["policy"])
    assert "reports" not in json.dumps(policy)


def test_flipped_pool_trusts_both_analytics_functions(flipped: Stacks) -> None:
    gcp = flipped["flipped-ingest-gcp"]
    members = sorted((v["role"], v["member"].rsplit("/", 1)[-1])
                     for v in resources_of(gcp, "google_storage_bucket_iam_member").values()
                     if v["member"].startswith("principalSet://"))
    writer = f"projects/{PROJECT_ID}/roles/acme_flipped_base_object_writer"  # the base stack's custom role
    assert members == [(writer, "acme-flipped-analytics-archiver"),
                       ("roles/storage.objectViewer", "acme-flipped-analytics-archiver"),
                       ("roles/storage.objectViewer", "acme-flipped-analytics-indexer")]
    assert len(resources_of(gcp, "google_iam_workload_identity_pool")) == 1
    assert len(resources_of(gcp, "google_iam_workload_identity_pool_provider")) == 1


def test_profile_kms_key_reaches_the_federated_role(tmp_path: Path) -> None:
    key = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
    project = make_project(tmp_path / "estate", {"split": ENVS["split"]})
    aws = read_stacks(synth(project, "split", Profile(kms_keys={"aws": key})))["split-ingest-aws"]
    statements = federated_policy(aws, "analytics__archiver__ingest__uploads_federated_role")
    (kms,) = [s for s in statements if s["Sid"] == "ProfileKmsKey"]
    assert kms["Resource"] == key and kms["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert kms["Condition"] == {"StringEquals": {"kms:ViaService": ["s3.eu-west-1.amazonaws.com"]}}


def test_missing_aws_account_fails_before_anything_is_written(tmp_path: Path) -> None:
    env = ENVS["split"].replace(f'account = "{ACCOUNT}"\n', "")
    project = make_project(tmp_path / "estate", {"split": env})
    with pytest.raises(PlatformError) as caught:
        synth(project, "split")
    message = str(caught.value)
    assert "split.toml" in message and "clouds.aws.account" in message
    assert not project.env_outdir("split").exists()


def test_a_lambda_in_the_vpc_cannot_reach_a_gcs_bucket(tmp_path: Path) -> None:
    estate = ESTATE + '\nusers = ingest.add(Database("users"))\nexport.uses(users)\n'
    estate = estate.replace("import Bucket, Function, Service", "import Bucket, Database, Function, Service")
    project = make_project(tmp_path / "estate", {"split": ENVS["split"]}, estate=estate)
    with pytest.raises(PlatformError, match=r"ingest\.export .*VPC.*no route to the internet") as caught:
        synth(project, "split")
    assert "split.toml" in str(caught.value) and "clouds.aws.network.nat" in str(caught.value)
    assert not project.env_outdir("split").exists()


def test_a_lambda_in_the_vpc_reaches_a_gcs_bucket_through_the_nat_the_environment_has(tmp_path: Path) -> None:
    """Issue 13.2: with `nat = "existing"` a function that uses a database may also reach another cloud; its
    security group then allows HTTPS out (through the NAT), still no other port."""
    estate = ESTATE + '\nusers = ingest.add(Database("users"))\nexport.uses(users)\n'
    estate = estate.replace("import Bucket, Function, Service", "import Bucket, Database, Function, Service")
    env = ENVS["split"] + '\n[clouds.aws.network]\nnat = "existing"\n'
    project = make_project(tmp_path / "estate", {"split": env}, estate=estate)
    aws = read_stacks(synth(project, "split"))["split-ingest-aws"]
    egress = sorted((rule["from_port"], rule.get("cidr_ipv4") or rule.get("prefix_list_id"))
                    for rule in resources_of(aws, "aws_vpc_security_group_egress_rule").values()
                    if rule["security_group_id"] == "${aws_security_group.export_sg.id}")
    gateway = ("${data.terraform_remote_state.cross-stack-reference-input-split-base-aws.outputs."
               "cross-stack-output-aws_vpc_endpoints3_gatewayprefix_list_id}")  # the base stack's S3 gateway endpoint
    assert egress == [(443, gateway),  # its AWS bucket: through the gateway endpoint
                      (443, "0.0.0.0/0"), (5432, "${data.aws_vpc.default_vpc.cidr_block}")]
    assert "aws_nat_gateway" not in aws["resource"]  # it exists already: trusted as described


def test_federated_role_names_fit_iam_and_stay_unique(tmp_path: Path) -> None:
    from platform_sdk.model import Bucket, Function, Service
    from platform_sdk.providers.aws.federation import federated_role_name

    project = make_project(tmp_path / "estate", {"split": ENVS["split"]})
    env = load_environment(project.envs_dir / "split.toml")
    service = Service("partner-media-ingestion-pipeline")
    names = set()
    for suffix in ("a", "b"):
        fn = service.add(Function(f"normalise-uploaded-originals-{suffix}", handler="app.handle",
                                  source=str(tmp_path)))
        bucket = Service("analytics-warehouse").add(Bucket("curated-partner-exports"))
        name = federated_role_name(env, Profile(), fn, bucket)
        assert len(name) <= 64 and re.fullmatch(r"[\w+=,.@-]+", name)
        assert name == federated_role_name(env, Profile(), fn, bucket)  # deterministic
        names.add(name)
    assert len(names) == 2


# -- runtime: GCP function -> S3 (moto) ----------------------------------------------------------------------------
def fake_jwt(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


@contextlib.contextmanager
def serve(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """Run a tiny HTTP server on 127.0.0.1; yields host:port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class FakeMetadata(http.server.BaseHTTPRequestHandler):
    """The GCP metadata server's identity endpoint: a Google-shaped ID token for the requested audience."""

    requests: list[dict[str, Any]] = []
    unique_id = "104729566418012345678"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        url = urllib.parse.urlparse(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        type(self).requests.append({"path": url.path, "query": query,
                                    "flavor": self.headers.get("Metadata-Flavor")})
        if self.headers.get("Metadata-Flavor") != "Google" or not url.path.endswith("/identity"):
            self.send_error(403)
            return
        now = int(datetime.now(UTC).timestamp())
        token = fake_jwt({"iss": "https://accounts.google.com", "aud": query["audience"], "azp": self.unique_id,
                          "sub": self.unique_id, "email": "fn@acme-fed-123.iam.gserviceaccount.com",
                          "iat": now, "exp": now + 3600})
        body = token.encode()
        self.send_response(200)
        self.send_header("Metadata-Flavor", "Google")
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def moto_reset_auth(endpoint: str, unchecked: str) -> None:
    """moto checks IAM on every request after the next `unchecked` ones ("inf": never)."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=unchecked.encode(), method="POST",
                                     headers={"Content-Type": "application/octet-stream"})  # raw body, not a form
    urllib.request.urlopen(request, timeout=10).read()


@contextlib.contextmanager
def moto_iam_enforced(endpoint: str) -> Iterator[Any]:
    """Switch on moto's IAM checks (every request must be signed and allowed by the caller's policies).

    Yields `let_sts_through()`: moto wants a signature on every STS call, while AWS leaves
    AssumeRoleWithWebIdentity unsigned (the ID token is the proof), so the one STS call that follows is let
    through unchecked; everything after it is checked again.
    """
    moto_reset_auth(endpoint, "1")
    try:
        yield lambda: moto_reset_auth(endpoint, "1")
    finally:
        moto_reset_auth(endpoint, "inf")


def resolve(document: str, values: dict[str, str]) -> str:
    """Substitute what Terraform would resolve at apply time."""
    for token, value in values.items():
        document = document.replace(token, value)
    assert "${" not in document, document
    return document


@pytest.fixture
def function_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """A clean function environment: no PLATFORM_* variables, no cached bucket clients."""
    import os

    for key in list(os.environ):
        if key.startswith("PLATFORM_"):
            monkeypatch.delenv(key)
    monkeypatch.setattr(resources, "_cache", {})
    return monkeypatch


def test_gcp_function_reaches_s3_with_assumed_role_credentials_only(
        moto_server: str, split: Stacks, function_env: pytest.MonkeyPatch) -> None:
    import boto3
    from botocore.exceptions import ClientError

    aws, gcp = split["split-ingest-aws"], split["split-analytics-gcp"]
    bucket_name = "acme-split-ingest-uploads"
    admin = {"endpoint_url": moto_server, "region_name": "eu-west-1", "aws_access_key_id": "testing",
             "aws_secret_access_key": "testing"}
    s3_admin = boto3.client("s3", **admin)
    for name in (bucket_name, "acme-split-other"):
        with contextlib.suppress(s3_admin.exceptions.BucketAlreadyOwnedByYou):
            s3_admin.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3_admin.put_object(Bucket="acme-split-other", Key="secret.txt", Body=b"not yours")
    # The roles exactly as synthesized, with the values Terraform resolves at apply.
    applied = {"${aws_s3_bucket.uploads_bucket.arn}": f"arn:aws:s3:::{bucket_name}"}
    iam = boto3.client("iam", **admin)
    for role_id, role in federated_roles(aws).items():
        trust = role["assume_role_policy"]
        for token in set(re.findall(r"\$\{data\.terraform_remote_state[^}]+\}", trust)):
            applied[token] = FakeMetadata.unique_id
        with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
            iam.create_role(RoleName=role["name"], AssumeRolePolicyDocument=resolve(trust, applied))
        policy = resources_of(aws, "aws_iam_role_policy")[role_id.replace("_role", "_policy")]
        iam.put_role_policy(RoleName=role["name"], PolicyName=policy["name"],
                            PolicyDocument=resolve(policy["policy"], applied))

    FakeMetadata.requests = []
    with serve(FakeMetadata) as metadata, moto_iam_enforced(moto_server) as let_sts_through:
        env = gcf_env(gcp, "archiver")
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            function_env.delenv(key, raising=False)  # a GCP function has no AWS keys at all
        function_env.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        function_env.setenv("AWS_CONFIG_FILE", "/dev/null")
        function_env.setenv("AWS_EC2_METADATA_DISABLED", "true")
        for key in ("PLATFORM_BUCKET_UPLOADS", "PLATFORM_GRANTS", "PLATFORM_SERVICE", "PLATFORM_FUNCTION"):
            function_env.setenv(key, env[key])
        function_env.setenv("GCE_METADATA_HOST", metadata)
        function_env.setenv("PLATFORM_STS_ENDPOINT", moto_server)
        function_env.setenv("PLATFORM_S3_ENDPOINT", moto_server)

        uploads = bucket("uploads")
        uploads.put("in/report.csv", b"a,b\n1,2\n", content_type="text/csv")
        assert uploads.get("in/report.csv") == b"a,b\n1,2\n"
        assert [o.key for o in uploads.list("in/")] == ["in/report.csv"]
        uploads.delete("in/report.csv")
        assert not uploads.exists("in/report.csv")

        # One ID token for the session, asked for with the role ARN as audience, from the metadata server.
        role_arn = env["PLATFORM_BUCKET_UPLOADS"].split("role_arn=")[1].split("&")[0]
        assert FakeMetadata.requests == [{
            "path": "/computeMetadata/v1/instance/service-accounts/default/identity",
            "query": {"audience": role_arn, "format": "full"}, "flavor": "Google"}]
        credentials = uploads.raw.client._request_signer._credentials
        frozen = credentials.get_frozen_credentials()
        assert frozen.access_key != "testing" and frozen.token  # temporary credentials from STS

        # IAM (moto's, switched on) allows only the role's policy: another bucket is refused.
        with pytest.raises(ClientError) as denied:
            uploads.raw.client.get_object(Bucket="acme-split-other", Key="secret.txt")
        assert denied.value.response["Error"]["Code"] in ("AccessDenied", "403")

        # Before the credentials expire, botocore asks STS again with a fresh ID token.
        credentials._expiry_time = datetime.now(UTC) + timedelta(seconds=30)
        let_sts_through()
        uploads.put("again.txt", b"x")
        assert len(FakeMetadata.requests) == 2 and credentials.get_frozen_credentials().access_key != frozen.access_key
        uploads.delete("again.txt")

        # The read-only function's role cannot write, even through the unchecked client.
        function_env.setattr(resources, "_cache", {})
        indexer = gcf_env(gcp, "indexer")
        function_env.setenv("PLATFORM_BUCKET_UPLOADS", indexer["PLATFORM_BUCKET_UPLOADS"])
        function_env.setenv("PLATFORM_GRANTS", indexer["PLATFORM_GRANTS"])
        readonly = bucket("uploads")
        let_sts_through()
        with pytest.raises(GrantError):
            readonly.put("nope.txt", b"x")
        with pytest.raises(ClientError) as refused:
            readonly.raw.put("nope.txt", b"x")
        assert refused.value.response["Error"]["Code"] in ("AccessDenied", "403")
        assert list(readonly.list()) == []


def test_metadata_host_must_answer_as_google(function_env: pytest.MonkeyPatch) -> None:
    class NotMetadata(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"token")

        def log_message(self, *args: Any) -> None:
            pass

    with serve(NotMetadata) as host, pytest.raises(federation.FederationError, match="metadata server"):
        gcp_identity.google_id_token("aud", host=host)


def test_federated_url_parsing() -> None:
    url = f"s3://b?role_arn=arn:aws:iam::{ACCOUNT}:role/r.s.b&web_identity=gcp&region=eu-west-1"
    assert federation.federation_params(url) == {"role_arn": f"arn:aws:iam::{ACCOUNT}:role/r.s.b",
                                                 "web_identity": "gcp", "region": "eu-west-1"}
    assert federation.is_federated(url) and not federation.is_federated("s3://b")
    with pytest.raises(federation.FederationError):
        aws_federation.s3_session_for("s3://b?web_identity=gcp")
    with pytest.raises(federation.FederationError):
        gcp_federation.gcs_credentials_for("gs://b?web_identity=aws")


# -- runtime: AWS function -> GCS (google-auth external_account, GCS emulator) -------------------------------------
AUDIENCE = (f"//iam.googleapis.com/projects/987654321098/locations/global/workloadIdentityPools/"
            f"acme-split-analytics-aws/providers/aws-{ACCOUNT}")


def test_external_account_config_is_the_aws_flavour() -> None:
    info = gcp_federation.external_account_info(AUDIENCE)
    assert info == {
        "type": "external_account",
        "audience": AUDIENCE,
        "subject_token_type": "urn:ietf:params:aws:token-type:aws4_request",
        "token_url": "https://sts.googleapis.com/v1/token",
        "credential_source": {
            "environment_id": "aws1",
            "region_url": "http://169.254.169.254/latest/meta-data/placement/availability-zone",
            "url": "http://169.254.169.254/latest/meta-data/iam/security-credentials",
            "regional_cred_verification_url":
                "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15",
        },
    }
    assert "service_account_impersonation_url" not in info  # the principal set is bound on the bucket itself
    from google.auth import aws

    credentials = gcp_federation.gcp_credentials(AUDIENCE)
    assert isinstance(credentials, aws.Credentials)
    assert credentials.info["audience"] == AUDIENCE
    assert credentials.info["credential_source"]["environment_id"] == "aws1"


class FakeGoogleSts(http.server.BaseHTTPRequestHandler):
    """Google's token exchange: checks the AWS-signed GetCallerIdentity request it would forward to AWS."""

    exchanges: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
        subject = json.loads(urllib.parse.unquote(form["subject_token"]))
        type(self).exchanges.append({"form": form, "subject": subject})
        body = json.dumps({"access_token": "federated-access-token", "token_type": "Bearer", "expires_in": 3600,
                           "issued_token_type": "urn:ietf:params:oauth:token-type:access_token"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_aws_function_writes_gcs_with_federated_credentials(
        gcs_emulator: str, split: Stacks, function_env: pytest.MonkeyPatch) -> None:
    from platform_sdk.providers.gcp.runtime.buckets import GcsBucket

    aws = split["split-ingest-aws"]
    env = lambda_env(aws, "export")
    url = re.sub(r"\$\{[^}]+\}", AUDIENCE.removeprefix("//iam.googleapis.com/"), env["PLATFORM_BUCKET_REPORTS"])
    assert url == f"gs://acme-split-analytics-reports?wif_audience={AUDIENCE}&web_identity=aws"
    GcsBucket("acme-split-analytics-reports", emulator_host=gcs_emulator).create()

    FakeGoogleSts.exchanges = []
    with serve(FakeGoogleSts) as sts:
        # What Lambda puts in the environment: the execution role's temporary credentials and the region.
        function_env.setenv("AWS_ACCESS_KEY_ID", "ASIALAMBDAEXAMPLE")
        function_env.setenv("AWS_SECRET_ACCESS_KEY", "lambda-secret")
        function_env.setenv("AWS_SESSION_TOKEN", "lambda-session-token")
        function_env.setenv("AWS_REGION", "eu-west-1")
        function_env.setenv("PLATFORM_GCP_STS_URL", f"http://{sts}/v1/token")
        function_env.setenv("PLATFORM_BUCKET_REPORTS", url)
        function_env.setenv("PLATFORM_GRANTS", env["PLATFORM_GRANTS"])

        reports = bucket("reports")
        reports.put("daily/2026-01-01.json", b'{"rows": 3}', content_type="application/json")
        with pytest.raises(GrantError):
            reports.get("daily/2026-01-01.json")  # a write grant
        assert reports.raw.get("daily/2026-01-01.json") == b'{"rows": 3}'
        assert reports.raw.credentials.token == "federated-access-token"

    # google-cloud-storage may fetch bucket metadata on a background thread while the upload starts, so two
    # exchanges can race at first use; each must be the same, correct exchange.
    assert 1 <= len(FakeGoogleSts.exchanges) <= 2
    for exchange in FakeGoogleSts.exchanges:
        form, subject = exchange["form"], exchange["subject"]
        assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:token-exchange"
        assert form["audience"] == AUDIENCE
        assert form["subject_token_type"] == "urn:ietf:params:aws:token-type:aws4_request"
        assert form["requested_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
        assert "cloud-platform" in form["scope"]
        assert subject["method"] == "POST"
        assert subject["url"] == "https://sts.eu-west-1.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"
        headers = {h["key"].lower(): h["value"] for h in subject["headers"]}
        assert headers["x-goog-cloud-target-resource"] == AUDIENCE
        assert headers["x-amz-security-token"] == "lambda-session-token"
        assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=ASIALAMBDAEXAMPLE/")
        assert "/eu-west-1/sts/aws4_request" in headers["authorization"]
