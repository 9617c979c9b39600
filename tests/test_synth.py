"""Synthesis of the example estate through real CDKTF: every environment, schema-checked, deterministic."""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from platform_sdk.cli import app
from platform_sdk.envs import find_environment
from platform_sdk.errors import PlatformError
from platform_sdk.loader import load_services
from platform_sdk.profile import Profile
from platform_sdk.project import Project
from platform_sdk.synth.app import SynthResult, read_metadata, synthesize
from platform_sdk.synth.schema_check import check_outdir, format_errors
from tests.conftest import REPO, copy_estate

pytestmark = pytest.mark.xdist_group("synth")  # module-scoped fixtures: keep the module on one worker

runner = CliRunner()
ENVS = ["local", "dev", "staging", "prod"]
Synthesized = Callable[[str], SynthResult]


def synth_env(root: Path, env_name: str, outdir: Path | None = None):  # type: ignore[no-untyped-def]
    project = Project(root)
    env = find_environment(project.envs_dir, env_name)
    return synthesize(project, env, load_services(project.services_dir), outdir=outdir)


SYNTH_IN_ANOTHER_PROCESS = """
import sys
from pathlib import Path

from tests.test_synth import synth_env

synth_env(Path(sys.argv[1]), sys.argv[2])
"""


def stack_json(outdir: Path, stack: str) -> dict:
    return json.loads((outdir / "stacks" / stack / "cdk.tf.json").read_text())


@pytest.fixture(scope="module")
def shared_estate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of the example estate for the tests that only read what an environment synthesizes to."""
    return copy_estate(tmp_path_factory.mktemp("synth") / "estate")


@pytest.fixture(scope="module")
def synthesized(shared_estate: Path) -> Synthesized:
    """Each environment of `shared_estate` synthesized once per module (into its own cdktf.out/<env>)."""
    results: dict[str, SynthResult] = {}

    def get(env_name: str) -> SynthResult:
        if env_name not in results:
            results[env_name] = synth_env(shared_estate, env_name)
        return results[env_name]
    return get


@pytest.mark.parametrize("env_name", ENVS)
def test_every_environment_passes_the_provider_schema_check(synthesized: Synthesized, env_name: str) -> None:
    result = synthesized(env_name)
    errors = check_outdir(result.outdir)
    assert not errors, format_errors(errors)
    assert result.stacks, "no stacks synthesized"


def test_prod_places_the_web_app_on_gcp_and_the_rest_on_aws(synthesized: Synthesized) -> None:
    result = synthesized("prod")
    clouds = {info.service: info.cloud for info in result.stacks.values()}
    assert clouds == {"auth": "aws", "notifications": "aws", "thumbnails": "aws", "web": "gcp",
                      "base": "gcp"}  # base: GCP's shared parts
    assert result.stacks["prod-web-gcp"].dependencies == ["prod-base-gcp"]
    web = stack_json(result.outdir, "prod-web-gcp")
    assert "google_storage_bucket" in web["resource"]
    assert not any(t.startswith("aws_") for t in web["resource"])
    thumbs = stack_json(result.outdir, "prod-thumbnails-aws")
    assert "aws_s3_bucket" in thumbs["resource"]
    assert thumbs["terraform"]["backend"]["s3"]["key"] == "platform/prod/prod-thumbnails-aws.tfstate"
    assert thumbs["terraform"]["backend"]["s3"]["dynamodb_table"] == "acme-tf-locks-prod"
    assert thumbs["terraform"]["required_providers"]["aws"] == {"source": "hashicorp/aws", "version": ">= 6.62, < 7"}


def test_staging_uses_the_gcs_backend_per_stack(synthesized: Synthesized) -> None:
    result = synthesized("staging")
    for name in result.stacks:
        backend = stack_json(result.outdir, name)["terraform"]["backend"]
        assert backend == {"gcs": {"bucket": "acme-tfstate-staging", "prefix": f"platform/staging/{name}"}}


def test_local_stacks_use_the_local_cloud_with_a_state_file_each(shared_estate: Path, synthesized: Synthesized) -> None:
    result = synthesized("local")
    for name, info in result.stacks.items():
        doc = stack_json(result.outdir, name)
        assert set(doc["resource"]) <= {"localcloud_bucket", "localcloud_function", "localcloud_cdn_route",
                                        "localcloud_database", "localcloud_database_role", "localcloud_secret",
                                        "localcloud_queue"}
        state = doc["terraform"]["backend"]["local"]["path"]
        resolved = (result.outdir / "stacks" / name / state).resolve()
        assert resolved == (shared_estate / ".platform" / "state" / "local" / f"{name}.tfstate").resolve()
        assert info.target == "local"


def test_function_environment_carries_grants_and_resource_urls(synthesized: Synthesized) -> None:
    result = synthesized("local")
    fn = stack_json(result.outdir, "local-thumbnails-aws")["resource"]["localcloud_function"]["resize"]
    env = fn["environment"]
    assert env["PLATFORM_GRANTS"] == "bucket:originals:read,bucket:thumbs:write"
    assert env["PLATFORM_BUCKET_ORIGINALS"] == "${localcloud_bucket.originals.url}"
    assert env["THUMBNAIL_WIDTHS"] == "128,512"


def test_local_functions_connect_as_their_own_database_role(estate: Path) -> None:
    """Issue 13.4/13.5: a local function granted a database receives its own role's URL, never the database's
    administrator URL; functions of the service declaring the database own its schema."""
    result = synth_env(estate, "local")
    doc = stack_json(result.outdir, "local-auth-aws")["resource"]
    for fn in ("api", "cleanup"):
        assert doc["localcloud_function"][fn]["environment"]["PLATFORM_DATABASE_USERS"] == \
            f"${{localcloud_database_role.{fn}_users_role.url}}"
        role = doc["localcloud_database_role"][f"{fn}_users_role"]
        assert role["name"] == f"acme_local_auth_{fn}__acme_local_auth_users"
        assert role["database"] == "${localcloud_database.users.name}" and role["owner"] is True


@pytest.mark.parametrize("env_name", ["local", "prod"])
def test_output_is_byte_identical_across_runs(estate: Path, tmp_path: Path, env_name: str) -> None:
    first = synth_env(estate, env_name).outdir
    copy = tmp_path / "first"
    os.rename(first, copy)
    # touching the sources must not change any byte (zips have fixed timestamps)
    for path in (estate / "services").rglob("*.py"):
        os.utime(path, (1, 1))
    # The second run builds every package again (a cached zip would be identical by construction) in another
    # process with another hash seed (set or dict order leaking into the output would differ there).
    shutil.rmtree(estate / ".platform" / "packages")
    seed = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"
    subprocess.run([sys.executable, "-c", SYNTH_IN_ANOTHER_PROCESS, str(estate), env_name], check=True, cwd=REPO,
                   env={**os.environ, "PYTHONHASHSEED": seed})
    second = estate / "cdktf.out" / env_name
    assert second == first
    compare = filecmp.dircmp(copy, second)

    def differences(cmp: filecmp.dircmp) -> list[str]:
        found = cmp.left_only + cmp.right_only + cmp.diff_files + cmp.funny_files
        for sub in cmp.subdirs.values():
            found += differences(sub)
        return found

    assert differences(compare) == []
    zips = sorted(second.rglob("*.zip"))
    assert zips, "function packages are part of the output"
    for path in zips:
        assert path.read_bytes() == (copy / path.relative_to(second)).read_bytes()


def _temporary_folders(estate: Path) -> list[Path]:
    return sorted((estate / "cdktf.out").glob(".local.synth-*"))


def test_synthesis_works_next_to_its_output_and_leaves_nothing_there(estate: Path) -> None:
    """The temporary folder is a sibling of cdktf.out/<env> (renamed into place: one step on every file system, where
    one under /tmp may be a tmpfs to copy from) and is gone after a success and after a failure."""
    project = Project(estate)
    env = find_environment(project.envs_dir, "local")
    services = load_services(project.services_dir)
    seen: list[Path] = []
    profile = Profile()
    profile.after_synth.append(lambda result: seen.append(result.outdir))
    result = synthesize(project, env, services, profile=profile)
    assert result.outdir == estate / "cdktf.out" / "local"
    working = seen[0]
    assert working.parent == estate / "cdktf.out" and working.name.startswith(f".local.synth-{os.getpid()}-")
    assert not working.exists() and _temporary_folders(estate) == []
    (result.outdir / "left-by-the-last-run").write_text("")
    synthesize(project, env, load_services(project.services_dir), profile=profile)  # replaces an output
    assert not (result.outdir / "left-by-the-last-run").exists() and _temporary_folders(estate) == []
    before = sorted(p.relative_to(result.outdir) for p in result.outdir.rglob("*"))

    def refuse(result: SynthResult) -> None:
        raise PlatformError("refused by the test's hook")

    profile.after_synth[:] = [refuse]
    with pytest.raises(PlatformError, match="refused by the test's hook"):
        synthesize(project, env, load_services(project.services_dir), profile=profile)
    assert _temporary_folders(estate) == []
    assert sorted(p.relative_to(result.outdir) for p in result.outdir.rglob("*")) == before  # the output as it was


def test_a_killed_synthesis_leaves_a_folder_the_next_one_removes(estate: Path) -> None:
    """A synthesis killed before its clean-up leaves its folder; the next one removes it once its process is gone
    and leaves a live process's folder alone."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    outdir = estate / "cdktf.out"
    abandoned = outdir / f".local.synth-{gone.pid}-abc123"
    replaced = outdir / f".local.synth-{gone.pid}-abc123-replaced"  # killed between its two renames
    running = outdir / f".local.synth-{os.getpid()}-def456"  # this process: alive
    reused = outdir / f".local.synth-{os.getpid()}-fed654"  # alive, but two days old: its pid was reused
    other_env = outdir / f".prod.synth-{gone.pid}-ghi789"  # another environment's: not this synthesis's to judge
    for folder in (abandoned, replaced, running, reused, other_env):
        (folder / "stacks").mkdir(parents=True)
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(reused, (two_days_ago, two_days_ago))
    synth_env(estate, "local")
    assert not abandoned.exists() and not replaced.exists() and not reused.exists()
    assert running.exists() and other_env.exists()
    assert (outdir / "local" / "stacks").is_dir()


def test_metadata_describes_stacks_and_dependencies(synthesized: Synthesized) -> None:
    result = synthesized("prod")
    meta = read_metadata(result.outdir)
    assert meta["environment"] == "prod"
    assert meta["stacks"]["prod-thumbnails-aws"]["stateful"] == ["thumbnails.originals", "thumbnails.thumbs"]


def test_cli_synth_and_graph(estate: Path) -> None:
    result = runner.invoke(app, ["synth", "--env", "prod", "--project", str(estate), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["schema_errors"] == []
    assert sorted(doc["stacks"]) == ["prod-auth-aws", "prod-base-aws", "prod-base-gcp", "prod-notifications-aws",
                                     "prod-thumbnails-aws", "prod-web-gcp"]
    graph = runner.invoke(app, ["graph", "--env", "prod", "--project", str(estate), "--json"])
    assert graph.exit_code == 0, graph.output
    stacks = json.loads(graph.output)["stacks"]
    assert stacks["prod-web-gcp"]["cloud"] == "gcp"
    assert {"name": "users", "kind": "database"} in stacks["prod-auth-aws"]["resources"]
    # the graph is what synthesis wired: the base stacks too, and every stack after its cloud's base stack
    assert sorted(stacks) == sorted(doc["stacks"])
    assert stacks["prod-base-gcp"]["shared"]["budget"] == ["monthly"]
    assert "prod-base-gcp" in stacks["prod-web-gcp"]["depends_on"]
    envs = runner.invoke(app, ["envs", "--project", str(estate), "--json"])
    assert [e["name"] for e in json.loads(envs.output)] == ["dev", "local", "prod", "staging"]


def test_only_one_service(estate: Path) -> None:
    result = runner.invoke(app, ["synth", "--env", "local", "--service", "web", "--project", str(estate), "--json"])
    assert result.exit_code == 0, result.output
    assert list(json.loads(result.output)["stacks"]) == ["local-web-gcp"]
    bad = runner.invoke(app, ["synth", "--env", "local", "--service", "nope", "--project", str(estate)])
    assert bad.exit_code == 2 and "--service" in bad.output


def test_stock_cdktf_app_entry_synthesizes_every_environment(estate: Path, tmp_path: Path) -> None:
    """cdktf.json runs `python -m platform_sdk.synth.main`, as `cdktf synth` would."""
    out = tmp_path / "cdktf-out"
    env = {**os.environ, "CDKTF_OUTDIR": str(out), "PLATFORM_PROJECT": str(estate)}
    subprocess.run([sys.executable, "-m", "platform_sdk.synth.main"], check=True, env=env, cwd=estate)
    stacks = sorted(p.name for p in (out / "stacks").iterdir())
    assert "prod-web-gcp" in stacks and "local-thumbnails-aws" in stacks and "dev-auth-aws" in stacks
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["stacks"]) == set(stacks)
    assert not check_outdir(out)
