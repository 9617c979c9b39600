"""`platform adopt`: import ids per cloud, the refusal logic on recorded plan JSON, the live comparison against moto
and the GCS emulator, and the whole adoption through real Terraform on the local cloud."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from platform_sdk import adopt, providers
from platform_sdk.envs import find_environment
from platform_sdk.terraform import report as rp
from tests.emulators import gcs_emulator, moto_server  # noqa: F401 - fixtures
from tests.terraform_fixtures import (  # noqa: F401 - the *_fixture imports register fixtures
    REPO,
    Cli,
    cli_fixture,
    make_project,
    state_resources,
    tf_binary_fixture,
    tree,
)

GOLDEN = REPO / "tests" / "golden"


def _block(env: str, stack: str, terraform_type: str, name: str) -> dict:
    doc = json.loads((GOLDEN / env / "stacks" / stack / "cdk.tf.json").read_text())
    return doc["resource"][terraform_type][name]


def _blocks(env: str, stack: str, prefix: str) -> dict[str, dict]:
    """Every block of one neutral resource in a golden stack, by address (names start with `prefix`)."""
    doc = json.loads((GOLDEN / env / "stacks" / stack / "cdk.tf.json").read_text())
    return {f"{t}.{n}": body for t, blocks in doc["resource"].items() for n, body in blocks.items()
            if n == prefix or n.startswith(prefix + "_")}


# ------------------------------------------------------------------------------------------------- import ids

def test_aws_import_ids_are_the_documented_names() -> None:
    aws, env = providers.plugin("aws"), find_environment(REPO / "envs", "dev")
    assert aws.import_id("bucket", _block("dev", "dev-thumbnails-aws", "aws_s3_bucket", "originals_bucket"),
                         env) == "acme-dev-thumbnails-originals"
    assert aws.import_id("database", _block("dev", "dev-auth-aws", "aws_db_instance", "users_instance"),
                         env) == "acme-dev-auth-users"
    assert aws.import_id("function", _block("dev", "dev-auth-aws", "aws_lambda_function", "api_function"),
                         env) == "acme-dev-auth-api"
    assert aws.import_id("cdn", {"bucket": "x"}, env) is None


def test_gcp_import_ids_are_the_documented_names() -> None:
    gcp, env = providers.plugin("gcp"), find_environment(REPO / "envs", "staging")
    project = gcp.settings(env).project  # type: ignore[attr-defined]
    assert project
    function = _block("staging", "staging-web-gcp", "google_cloudfunctions2_function", "api")
    assert gcp.import_id("function", function, env) == \
        f"projects/{project}/locations/europe-west1/functions/acme-staging-web-api"
    assert gcp.import_id("bucket", {"name": "acme-staging-web-assets", "location": "EU"}, env) == \
        "acme-staging-web-assets"
    assert gcp.import_id("database", {"name": "acme-staging-auth-users"}, env) == \
        f"projects/{project}/instances/acme-staging-auth-users"


def test_local_import_ids_are_names() -> None:
    local, env = providers.plugin("local"), find_environment(REPO / "envs", "local")
    assert local.import_id("bucket", {"name": "acme-local-thumbnails-originals"}, env) == \
        "acme-local-thumbnails-originals"
    assert local.import_id("queue", {"name": "q"}, env) is None


# ------------------------------------------------------------------------- refusal on recorded plan JSON

def _plan(changes: list[dict]) -> rp.StackPlan:
    return rp.parse_plan({"format_version": "0.2", "terraform_version": "1.0.3", "resource_changes": changes})


def test_aws_refusal_names_the_attribute_forcing_replacement() -> None:
    """Recorded shape of `terraform show -json` (1.0.3) for an imported bucket whose name differs."""
    plan = _plan([{
        "address": "aws_s3_bucket.originals_bucket", "mode": "managed", "type": "aws_s3_bucket",
        "name": "originals_bucket", "provider_name": "registry.terraform.io/hashicorp/aws",
        "change": {"actions": ["delete", "create"],
                   "before": {"bucket": "legacy-photos", "force_destroy": False, "tags": {}},
                   "after": {"bucket": "acme-dev-thumbnails-originals", "force_destroy": False, "tags": {}},
                   "after_unknown": {"arn": True, "id": True}, "replace_paths": [["bucket"]]}},
        {"address": "aws_s3_bucket_versioning.originals_versioning", "mode": "managed",
         "type": "aws_s3_bucket_versioning", "name": "originals_versioning",
         "change": {"actions": ["create"], "before": None, "after": {}, "after_unknown": {}}},
    ])
    assert adopt.refusals(plan, "aws_s3_bucket.originals_bucket") == [
        "aws_s3_bucket.originals_bucket would be replaced: bucket: 'legacy-photos' -> 'acme-dev-thumbnails-originals'"]
    assert adopt.refusals(plan, "aws_s3_bucket.thumbs_bucket") == []


def test_gcp_refusal_names_nested_replace_paths_and_unknowns() -> None:
    plan = _plan([{
        "address": "google_storage_bucket.assets", "mode": "managed", "type": "google_storage_bucket",
        "change": {"actions": ["delete", "create"],
                   "before": {"name": "acme-prod-web-assets", "location": "US", "self_link": "x",
                              "encryption": [{"default_kms_key_name": "k1"}]},
                   "after": {"name": "acme-prod-web-assets", "location": "EUROPE-WEST1",
                             "encryption": [{"default_kms_key_name": "k2"}]},
                   "after_unknown": {"self_link": True},
                   "replace_paths": [["location"], ["encryption", 0, "default_kms_key_name"]]}},
    ])
    [line] = adopt.refusals(plan, "google_storage_bucket.assets")
    assert "location: 'US' -> 'EUROPE-WEST1'" in line
    assert "encryption.0.default_kms_key_name: 'k1' -> 'k2'" in line


def test_refusal_without_replace_paths_compares_every_attribute() -> None:
    plan = _plan([{"address": "aws_db_instance.users_instance", "mode": "managed", "type": "aws_db_instance",
                   "change": {"actions": ["delete"], "before": {"identifier": "a", "engine": "postgres"},
                              "after": None}}])
    [line] = adopt.refusals(plan, "aws_db_instance.users_instance")
    assert line.startswith("aws_db_instance.users_instance would be destroyed")


def test_in_place_updates_are_not_refused() -> None:
    plan = _plan([{"address": "aws_s3_bucket.originals_bucket", "mode": "managed", "type": "aws_s3_bucket",
                   "change": {"actions": ["update"], "before": {"tags": {}}, "after": {"tags": {"a": "b"}}}}])
    assert adopt.refusals(plan, "aws_s3_bucket.originals_bucket") == []
    assert [c.address for c in plan.by_action("update")] == ["aws_s3_bucket.originals_bucket"]


# ------------------------------------------------------------------------------ live comparison (emulators)

def test_live_s3_bucket_differences_are_named_before_import(moto_server: str) -> None:  # noqa: F811
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    declared = _blocks("dev", "dev-thumbnails-aws", "originals")
    aws, env = providers.plugin("aws"), find_environment(REPO / "envs", "dev")
    name = f"legacy-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)  # no versioning, no public access block
    found = aws.live_differences("bucket", declared, name, env, client=s3)
    assert "versioning: live False, declared True" in found
    assert "public_access.block_public_acls: live False, declared True" in found

    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    sse = declared["aws_s3_bucket_server_side_encryption_configuration.originals_sse"]["rule"][0]
    algorithm = sse["apply_server_side_encryption_by_default"]["sse_algorithm"]
    s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": algorithm}}]})
    assert aws.live_differences("bucket", declared, name, env, client=s3) == []
    assert aws.live_differences("bucket", declared, "no-such-bucket-here", env, client=s3) == [
        "bucket: no bucket named 'no-such-bucket-here' exists"]


def test_live_gcs_bucket_differences_are_named_before_import(gcs_emulator: str) -> None:  # noqa: F811
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    client = storage.Client(project="local", credentials=AnonymousCredentials())
    gcp, env = providers.plugin("gcp"), find_environment(REPO / "envs", "staging")
    declared = {"google_storage_bucket.assets": {
        "name": "x", "location": "EUROPE-WEST1", "versioning": {"enabled": True}, "uniform_bucket_level_access": True,
        "public_access_prevention": "enforced"}}
    name = f"legacy-{uuid.uuid4().hex[:8]}"
    client.create_bucket(name, location="US")
    found = gcp.live_differences("bucket", declared, name, env, client=client)
    assert "location: live 'US', declared 'EUROPE-WEST1'" in found
    assert "versioning: live False, declared True" in found
    assert any(line.startswith("public_access_prevention: live") for line in found)
    assert gcp.live_differences("bucket", declared, "no-such-bucket-here", env, client=client) == [
        "bucket: no bucket named 'no-such-bucket-here' exists"]


# --------------------------------------------------------------------- the whole adoption, real Terraform

@pytest.fixture(name="estate")
def estate_fixture(tmp_path: Path) -> Path:
    """The thumbnails service alone, never applied, with a bucket that already exists and holds objects."""
    root = make_project(tmp_path / "estate", services=["thumbnails"])
    env = root / "envs" / "local.toml"
    env.write_text(env.read_text().replace('"web" = "gcp"\n', ""))
    return root


def _existing_bucket(root: Path, name: str) -> Path:
    bucket = root / ".platform" / "localcloud" / "local" / "aws" / "buckets" / name
    (bucket / "2024").mkdir(parents=True)
    (bucket / "a.jpg").write_bytes(b"a" * 100)
    (bucket / "2024" / "b.jpg").write_bytes(b"b" * 200)
    return bucket


def test_adopting_an_existing_local_bucket_keeps_its_objects(estate: Path, cli: Cli) -> None:
    bucket = _existing_bucket(estate, "acme-local-thumbnails-originals")
    objects = tree(bucket)
    result = cli(estate, "adopt", "thumbnails.originals", "--env", "local", "--id", "acme-local-thumbnails-originals")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "adopted thumbnails.originals" in result.stdout and "1 in-place change;" in result.stdout
    assert "localcloud_bucket.originals" in state_resources(estate)["local-thumbnails-aws.tfstate"]
    assert tree(bucket) == objects

    code, data = cli.json(estate, "plan", "--env", "local")
    assert code == 0
    [stack] = data["stacks"]
    assert "localcloud_bucket.originals" in stack["changes"]["update"]  # versioning = true is declared
    assert stack["changes"]["replace"] == [] and stack["changes"]["destroy"] == [] and data["data_loss"] == []
    result = cli(estate, "apply", "--env", "local", "--auto-approve")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert tree(bucket) == objects


def test_a_refused_adoption_names_the_difference_and_imports_nothing(estate: Path, cli: Cli) -> None:
    bucket = _existing_bucket(estate, "legacy-photos")
    objects = tree(bucket)
    result = cli(estate, "adopt", "thumbnails.originals", "--env", "local", "--id", "legacy-photos")
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "refused" in result.stderr
    assert "name: 'legacy-photos' -> 'acme-local-thumbnails-originals'" in result.stderr
    # no setting gives a resource another name: the advice says so instead of "align the declaration"
    said = " ".join(result.stderr.split())
    assert "adoption keeps that name: 'legacy-photos' can be adopted only by a declaration whose generated name it " \
        "is" in said and "align the declaration" not in said
    assert state_resources(estate)["local-thumbnails-aws.tfstate"] == []
    assert not (estate / "cdktf.out" / "local" / "stacks" / "local-thumbnails-aws" / "platform.tfplan").exists()
    assert tree(bucket) == objects


@pytest.mark.parametrize(("args", "message"), [
    (["thumbnails.nope", "--id", "x"], "no such resource"),
    (["thumbnails.cdn", "--id", "x"], "a cdn cannot be adopted"),
    (["thumbnails.originals", "--id", " "], "--id must name the existing object"),
    (["thumbnails.originals"], "Missing option '--id'"),
])
def test_bad_input_changes_nothing(estate: Path, cli: Cli, args: list[str], message: str) -> None:
    before = tree(estate)
    result = cli(estate, "adopt", *args, "--env", "local")
    assert result.exit_code == 2
    assert message in result.stderr + result.stdout
    assert tree(estate) == before


# ------------------------------------------------------------------------------------------------------- renames

PHOTOS = '''from platform_sdk import Bucket, Service

service = Service("photos", owner="media-team")
service.add(Bucket({declaration}, versioning=True))
'''


@pytest.fixture(name="photos")
def photos_fixture(tmp_path: Path) -> Path:
    """A project with one service holding one bucket, `photos.originals`."""
    root = make_project(tmp_path / "estate", services=["thumbnails"])
    (root / "services" / "thumbnails.py").unlink()
    (root / "services" / "photos.py").write_text(PHOTOS.format(declaration='"originals"'))
    env = root / "envs" / "local.toml"
    env.write_text(env.read_text().replace('"web" = "gcp"\n', ""))
    return root


def _apply_with_objects(root: Path, cli: Cli) -> tuple[Path, dict[str, bytes]]:
    result = cli(root, "apply", "--env", "local", "--auto-approve")
    assert result.exit_code == 0, result.stdout + result.stderr
    bucket = root / ".platform" / "localcloud" / "local" / "aws" / "buckets" / "acme-local-photos-originals"
    (bucket / "a.jpg").write_bytes(b"kept")
    return bucket, tree(bucket)


@pytest.mark.parametrize("how", ["renamed_from", "renames-table"])
def test_a_rename_keeps_the_data_through_real_terraform(photos: Path, cli: Cli, how: str) -> None:
    bucket, objects = _apply_with_objects(photos, cli)
    if how == "renamed_from":
        (photos / "services" / "photos.py").write_text(PHOTOS.format(declaration='"images", renamed_from="originals"'))
    else:
        (photos / "services" / "photos.py").write_text(PHOTOS.format(declaration='"images"'))
        env = photos / "envs" / "local.toml"
        env.write_text(env.read_text() + '\n[renames]\n"photos.originals" = "photos.images"\n')

    states = tree(photos / ".platform" / "state")
    result = cli(photos, "plan", "--env", "local")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "renamed" in result.stdout and "localcloud_bucket.originals -> localcloud_bucket.images" in result.stdout
    assert "(photos.images; kept, not replaced)" in result.stdout, result.stdout  # the declaration it is now
    code, data = cli.json(photos, "plan", "--env", "local")
    assert code == 0
    [stack] = data["stacks"]
    assert stack["changes"]["destroy"] == [] and stack["changes"]["replace"] == [] and data["data_loss"] == []
    assert stack["renamed"] == [{"from": "localcloud_bucket.originals", "to": "localcloud_bucket.images"}]
    # a plan writes nothing: Terraform 1.0.3 planned a moved copy of the state; the state still has the old address
    assert {k: v for k, v in tree(photos / ".platform" / "state").items() if k.endswith(".tfstate")} == \
        {k: v for k, v in states.items() if k.endswith(".tfstate")}
    assert state_resources(photos)["local-photos-aws.tfstate"] == ["localcloud_bucket.originals"]
    assert not list((photos / "cdktf.out").rglob("terraform.tfstate.d")), "the copy's workspace folder is left"

    result = cli(photos, "apply", "--env", "local", "--auto-approve")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "renamed" in result.stdout
    assert state_resources(photos)["local-photos-aws.tfstate"] == ["localcloud_bucket.images"]
    assert tree(bucket) == objects
    code, data = cli.json(photos, "plan", "--env", "local", "--all")
    assert code == 0 and not data["changes_present"]

    # The old name is still the bucket's physical name: a new bucket called `originals` would be the same bucket, and
    # removing it later would delete the renamed one's objects (tryout seedA fault 2). Refused, nothing changed.
    services = photos / "services" / "photos.py"
    services.write_text(services.read_text() + 'service.add(Bucket("originals"))\n')
    before = state_resources(photos)
    result = cli(photos, "apply", "--env", "local", "--auto-approve", "--allow-data-loss")
    assert result.exit_code == 2, result.stdout + result.stderr
    refusal = " ".join(result.stderr.split())
    if how == "renamed_from":
        assert "photos.images (services/photos.py:4, renamed_from='originals') and photos.originals " \
               "(services/photos.py:5) would both be bucket 'acme-local-photos-originals'" in refusal
    else:  # the environment's [renames] says the old address is gone
        assert 'renames."photos.originals"' in refusal and "no longer declared" in refusal
    assert state_resources(photos) == before and tree(bucket) == objects


def test_an_abandoned_rename_plan_changes_nothing_and_loses_nothing(photos: Path, cli: Cli) -> None:
    """The tester's scenario (fault 1): rename, plan (text and --json), revert the edit: the plan shows no changes,
    and even an apply allowed to lose data keeps the bucket's objects."""
    bucket, objects = _apply_with_objects(photos, cli)
    source = photos / "services" / "photos.py"
    source.write_text(PHOTOS.format(declaration='"images", renamed_from="originals"'))
    assert cli(photos, "plan", "--env", "local").exit_code == 0
    code, data = cli.json(photos, "plan", "--env", "local")
    assert code == 0 and data["stacks"][0]["renamed"], data
    assert state_resources(photos)["local-photos-aws.tfstate"] == ["localcloud_bucket.originals"]

    source.write_text(PHOTOS.format(declaration='"originals"'))
    code, data = cli.json(photos, "plan", "--env", "local", "--all")
    assert code == 0 and not data["changes_present"], data
    assert data["data_loss"] == []
    result = cli(photos, "apply", "--env", "local", "--auto-approve", "--allow-data-loss")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "destroyed" not in result.stdout
    assert tree(bucket) == objects


def test_an_apply_refused_for_data_loss_leaves_a_pending_rename_unmoved(photos: Path, cli: Cli) -> None:
    """A rename planned by an apply that is then refused (here for a destroy with data loss in the same stack) is not
    moved: only the apply of a plan moves the state."""
    source = photos / "services" / "photos.py"
    source.write_text(PHOTOS.format(declaration='"originals"') + 'service.add(Bucket("scratch"))\n')
    bucket, objects = _apply_with_objects(photos, cli)
    (bucket.parent / "acme-local-photos-scratch" / "tmp.txt").write_bytes(b"x")
    before = state_resources(photos)["local-photos-aws.tfstate"]
    assert before == ["localcloud_bucket.originals", "localcloud_bucket.scratch"]

    source.write_text(PHOTOS.format(declaration='"images", renamed_from="originals"'))  # and `scratch` removed
    result = cli(photos, "apply", "--env", "local", "--auto-approve")
    assert result.exit_code != 0 and "localcloud_bucket.scratch" in result.stdout + result.stderr
    assert state_resources(photos)["local-photos-aws.tfstate"] == before

    source.write_text(PHOTOS.format(declaration='"originals"') + 'service.add(Bucket("scratch"))\n')
    code, data = cli.json(photos, "plan", "--env", "local", "--all")
    assert code == 0 and not data["changes_present"], data
    assert tree(bucket) == objects


def test_a_rename_in_a_remote_state_is_not_planned_by_moving_it(photos: Path, cli: Cli,
                                                                 moto_server: str) -> None:  # noqa: F811
    """Terraform 1.0.3 cannot plan against a copy of a state kept in S3 (`plan -state` is for the local backend): a
    plan-only command says so and changes nothing; `platform apply` moves the state under its lock and keeps the data.
    """
    import boto3
    from botocore.config import Config

    state_bucket = f"acme-tfstate-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}), endpoint_url=moto_server,
                      region_name="us-east-1")
    s3.create_bucket(Bucket=state_bucket)
    (photos / "envs" / "remote.toml").write_text(f'''name_prefix = "acme"
default_cloud = "aws"
[clouds.aws]
stand_in = "local"
[clouds.local]
root = "{photos / "cloud"}"
[state]
backend = "s3"
bucket = "{state_bucket}"
lock_table = "{state_bucket}-locks"
region = "us-east-1"
endpoint = "{moto_server}"
''')
    assert cli(photos, "bootstrap", "--env", "remote").exit_code == 0
    result = cli(photos, "apply", "--env", "remote", "--auto-approve")
    assert result.exit_code == 0, result.stdout + result.stderr
    [bucket] = (photos / "cloud").rglob("acme-remote-photos-originals")
    (bucket / "a.jpg").write_bytes(b"kept")
    key = "platform/remote/remote-photos-aws.tfstate"
    state = s3.get_object(Bucket=state_bucket, Key=key)["Body"].read()

    (photos / "services" / "photos.py").write_text(PHOTOS.format(declaration='"images", renamed_from="originals"'))
    code, data = cli.json(photos, "plan", "--env", "remote")
    assert code != 0
    [stack] = data["stacks"]
    assert "localcloud_bucket.originals -> localcloud_bucket.images cannot be planned" in stack["error"]
    assert "s3 backend" in stack["error"] and "nothing was changed" in stack["error"]
    assert s3.get_object(Bucket=state_bucket, Key=key)["Body"].read() == state

    result = cli(photos, "apply", "--env", "remote", "--auto-approve")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "renamed" in result.stdout
    assert [r["name"] for r in json.loads(s3.get_object(Bucket=state_bucket, Key=key)["Body"].read())["resources"]] \
        == ["images"]
    assert (bucket / "a.jpg").read_bytes() == b"kept"


def test_a_rename_across_services_is_refused(photos: Path, cli: Cli) -> None:
    env = photos / "envs" / "local.toml"
    env.write_text(env.read_text() + '\n[renames]\n"media.originals" = "photos.originals"\n')
    result = cli(photos, "plan", "--env", "local")
    assert result.exit_code == 2
    assert 'renames."media.originals"' in result.stderr and "within one service" in result.stderr


def test_moved_blocks_follow_the_documented_json_syntax(tmp_path: Path) -> None:
    """developer.hashicorp.com/terraform/language/moved: `moved { from = <old>, to = <new> }`; in JSON syntax the
    block type is a top-level property holding a list of objects whose `from`/`to` are address strings."""
    from platform_sdk.terraform import renames

    config = tmp_path / "cdk.tf.json"
    config.write_text(json.dumps({"resource": {"aws_s3_bucket": {"images_bucket": {"bucket": "b"}}}}))
    renames.add_moved(config, [("aws_s3_bucket.originals_bucket", "aws_s3_bucket.images_bucket")])
    assert json.loads(config.read_text())["moved"] == [
        {"from": "aws_s3_bucket.originals_bucket", "to": "aws_s3_bucket.images_bucket"}]
    assert renames.previous_address("aws_s3_bucket.images_bucket", "images", "originals") == \
        "aws_s3_bucket.originals_bucket"
    assert renames.previous_address("aws_s3_bucket.imagesx", "images", "originals") is None
    assert renames.supports_moved(renames.parse_version('{"terraform_version": "1.1.0"}'))
    assert not renames.supports_moved(renames.parse_version('{"terraform_version": "1.0.3"}'))
    assert renames.supports_moved(renames.parse_version("OpenTofu v1.6.2"))


def test_the_pinned_terraform_is_detected_as_needing_state_mv(tf_binary: Path) -> None:
    from platform_sdk.terraform import renames

    assert renames.binary_version(tf_binary) == (1, 0, 3)
    assert not renames.supports_moved(renames.binary_version(tf_binary))


def test_a_moved_plan_reports_the_rename() -> None:
    """Terraform >= 1.1 plan JSON names the previous address of a moved object."""
    plan = _plan([{"address": "aws_s3_bucket.images_bucket", "previous_address": "aws_s3_bucket.originals_bucket",
                   "mode": "managed", "type": "aws_s3_bucket", "change": {"actions": ["no-op"]}}])
    assert plan.renamed == [("aws_s3_bucket.originals_bucket", "aws_s3_bucket.images_bucket")]
    assert plan.has_changes and plan.data_loss == []


def test_a_mistyped_renamed_from_gets_a_hint_with_the_name_it_meant(photos: Path, cli: Cli) -> None:
    """`renamed_from` naming nothing deployed (a typo) planned the old bucket's destroy as plain DATA LOSS, exit 0:
    the plan and the apply's refusal now say which name it most likely meant; nothing is applied."""
    bucket, objects = _apply_with_objects(photos, cli)
    (photos / "services" / "photos.py").write_text(PHOTOS.format(declaration='"images", renamed_from="orignals"'))
    hint = ("photos.images declares renamed_from='orignals', which names nothing deployed: did you mean "
            "renamed_from='originals' (the localcloud_bucket this plan destroys)?")
    result = cli(photos, "plan", "--env", "local")
    assert result.exit_code == 0 and hint in " ".join(result.stderr.split()), result.stdout + result.stderr
    refused = cli(photos, "apply", "--env", "local", "--auto-approve")
    assert refused.exit_code != 0 and hint in " ".join(refused.stderr.split()), refused.stdout + refused.stderr
    assert tree(bucket) == objects
