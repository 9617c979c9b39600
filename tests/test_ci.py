"""`platform ci github|gitlab`: pipelines from the synthesized stack graph.

Through real synthesis of the example estate: the generated files validate against the GitHub workflow and GitLab
CI schemas (check-jsonschema's vendored schema store, offline), and every apply job's `needs` follows the stack
graph CDKTF wired (read back from each environment's `manifest.json`, not from our code). Bad input exits 2 and
writes nothing; `--check` finds a stale pipeline.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from platform_sdk.ci.gitlab import install_terraform
from platform_sdk.ci.waves import wave_needs, wave_of, waves
from platform_sdk.errors import PlatformError
from tests.conftest import copy_estate

pytestmark = pytest.mark.xdist_group("ci")  # module-scoped estate: keep the module on one worker

ENVS = ("dev", "staging", "prod")
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
SCHEMAS = {"github": "vendor.github-workflows", "gitlab": "vendor.gitlab-ci"}


def platform(root: Path, *args: str) -> Result:
    from platform_sdk.cli import app

    return CliRunner().invoke(app, [args[0], "--project", str(root), *args[1:]], catch_exceptions=False)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = copy_estate(tmp_path_factory.mktemp("ci") / "estate")
    envs = [w for e in ENVS for w in ("--env", e)]
    files: dict[str, dict[str, Path]] = {}
    for system in ("github", "gitlab"):
        result = platform(root, "ci", system, *envs)
        assert result.exit_code == 0, result.output
        written = sorted((root / ".github" / "workflows").glob("*.yml")) if system == "github" else \
            [root / ".gitlab-ci.yml"]
        assert all(f"wrote {p}" in result.stdout for p in written), result.stdout
        files[system] = {p.name: p for p in written}
    graphs = {}
    for env in ENVS:
        manifest = json.loads((root / "cdktf.out" / env / "manifest.json").read_text())
        graphs[env] = {name: list(stack.get("dependencies", [])) for name, stack in manifest["stacks"].items()}
    return {"root": root, "files": files, "graphs": graphs}


def validate(system: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CHECK_JSONSCHEMA), "--builtin-schema", SCHEMAS[system], *map(str, paths)],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("system", ["github", "gitlab"])
def test_generated_pipelines_pass_their_schema(generated: dict[str, Any], system: str) -> None:
    paths = list(generated["files"][system].values())
    assert len(paths) == (2 if system == "github" else 1)
    run = validate(system, *paths)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("system", ["github", "gitlab"])
def test_the_schema_check_rejects_a_broken_pipeline(generated: dict[str, Any], system: str, tmp_path: Path) -> None:
    """The validation above can fail: the same file with one job's `needs` made a number is refused."""
    path = next(iter(generated["files"][system].values()))
    doc = yaml.safe_load(path.read_text())
    jobs = doc["jobs"] if system == "github" else doc
    name = next(n for n, job in jobs.items() if isinstance(job, dict) and "needs" in job)
    jobs[name]["needs"] = 5
    broken = tmp_path / path.name
    broken.write_text(yaml.safe_dump(doc))
    run = validate(system, broken)
    assert run.returncode != 0, run.stdout


def _apply_jobs(system: str, generated: dict[str, Any]) -> dict[str, tuple[str, list[str], list[str]]]:
    """Apply job -> (environment, its stacks from its `--stack` words, its needs), read from the generated YAML."""
    path = generated["files"][system]["platform-deploy.yml" if system == "github" else ".gitlab-ci.yml"]
    doc = yaml.safe_load(path.read_text())
    jobs = doc["jobs"] if system == "github" else {k: v for k, v in doc.items() if isinstance(v, dict) and "script"
                                                    in v and not k.startswith("mr-")}
    found = {}
    for name, job in jobs.items():
        script = "\n".join(s["run"] for s in job["steps"] if "run" in s) if system == "github" else \
            "\n".join(job["script"])
        for line in script.splitlines():
            words = shlex.split(line)
            if words[:2] == ["platform", "apply"]:
                env = words[words.index("--env") + 1]
                stacks = [words[i + 1] for i, w in enumerate(words) if w == "--stack"]
                needs = [n if isinstance(n, str) else n["job"] for n in job.get("needs", [])]
                assert "--expect" in words and "--auto-approve" in words, line
                found[name] = (env, stacks, needs)
    return found


@pytest.mark.parametrize("system", ["github", "gitlab"])
def test_every_apply_job_needs_follow_the_stack_graph(generated: dict[str, Any], system: str) -> None:
    jobs = _apply_jobs(system, generated)
    for env, graph in generated["graphs"].items():
        mine = {name: (stacks, needs) for name, (e, stacks, needs) in jobs.items() if e == env}
        job_of = {stack: name for name, (stacks, _) in mine.items() for stack in stacks}
        assert sorted(job_of) == sorted(graph), f"{env}: every stack is applied by exactly one job"
        assert sum(len(stacks) for stacks, _ in mine.values()) == len(graph)
        for name, (stacks, needs) in mine.items():
            producers = {job_of[p] for s in stacks for p in graph[s]}
            assert name not in producers, f"{name} holds a stack and its producer: they cannot run in parallel"
            assert set(needs) == producers | {f"plan-{env}"}, (name, needs, producers)
    assert any(len(stacks) > 1 for _, stacks, _ in jobs.values()), "some wave applies stacks in parallel"
    assert any(needs != [f"plan-{e}"] for e, _, needs in jobs.values()), "some wave waits for another"


def test_environments_deploy_in_the_order_given(generated: dict[str, Any]) -> None:
    doc = yaml.safe_load(generated["files"]["github"]["platform-deploy.yml"].read_text())
    jobs = doc["jobs"]
    applies = {e: [n for n in jobs if n.startswith(f"apply-{e}-")] for e in ENVS}
    assert set(jobs["plan-staging"]["needs"]) == set(applies["dev"])
    assert set(jobs["plan-prod"]["needs"]) == set(applies["staging"])
    assert "needs" not in jobs["plan-dev"]
    # prod is protected (envs/prod.toml): its apply jobs run in its GitHub environment, behind its reviewers.
    assert all(jobs[n]["environment"] == "prod" for n in applies["prod"])
    gitlab = yaml.safe_load(generated["files"]["gitlab"][".gitlab-ci.yml"].read_text())
    first = gitlab["apply-prod-wave-1"]["rules"][0]
    assert first["when"] == "manual" and first["allow_failure"] is False
    assert all(r.get("when") != "manual" for r in gitlab["apply-dev-wave-1"]["rules"])
    assert gitlab["apply-prod-wave-2"]["environment"]["name"] == "prod"


def test_plan_files_are_short_lived_artifacts_never_printed(generated: dict[str, Any]) -> None:
    text = generated["files"]["github"]["platform-deploy.yml"].read_text()
    doc = yaml.safe_load(text)
    uploads = [s["with"] for job in doc["jobs"].values() for s in job["steps"]
               if s.get("uses", "").startswith("actions/upload-artifact")]
    assert any(u["path"].endswith("platform.tfplan") for u in uploads)
    assert all(u["retention-days"] == 1 for u in uploads)
    assert "terraform show" not in text and "platform.tfplan" not in "".join(
        s.get("run", "") for job in doc["jobs"].values() for s in job["steps"])
    gitlab = yaml.safe_load(generated["files"]["gitlab"][".gitlab-ci.yml"].read_text())
    artifacts = gitlab["plan-prod"]["artifacts"]
    assert artifacts["expire_in"] == "1 day" and artifacts["access"] == "developer"
    assert any(p.endswith("platform.tfplan") for p in artifacts["paths"])
    cache = gitlab["default"]["cache"]["paths"]
    assert ".platform/plugin-cache" in cache and not any(p in (".platform", ".platform/state") for p in cache)
    assert ".cache/terraform" in cache, "the Terraform the jobs install is downloaded once, then cached"


def test_pull_requests_plan_every_environment_into_one_comment(generated: dict[str, Any]) -> None:
    doc = yaml.safe_load(generated["files"]["github"]["platform-pr.yml"].read_text())
    assert list(doc["on"]) == ["pull_request"]
    check = "\n".join(s.get("run", "") for s in doc["jobs"]["check"]["steps"])
    assert "platform ci github --env dev --env staging --env prod --check" in check
    assert all(f"platform check --env {e}" in check for e in ENVS)
    for env in ENVS:
        run = "\n".join(s.get("run", "") for s in doc["jobs"][f"plan-{env}"]["steps"])
        assert f"platform plan --env {env} --format markdown" in run
    assert set(doc["jobs"]["comment"]["needs"]) == {f"plan-{e}" for e in ENVS}


def test_check_passes_when_current_and_fails_when_stale(generated: dict[str, Any]) -> None:
    root = generated["root"]
    result = platform(root, "ci", "gitlab", "--env", "dev", "--env", "prod", "--check")
    assert result.exit_code == 1, "the gitlab file was generated for three environments"
    envs = [w for e in ENVS for w in ("--env", e)]
    assert platform(root, "ci", "gitlab", *envs, "--check").exit_code == 0


@pytest.mark.parametrize("args, message", [
    (("ci", "jenkins", "--env", "dev"), "unknown CI system"),
    (("ci", "github", "--env", "nope"), "unknown environment"),
    (("ci", "github"), "name at least one environment"),
    (("ci", "github", "--env", "dev", "--env", "dev"), "given twice"),
    (("ci", "github", "--env", "dev", "--env", "local"), "local.toml:22: state.backend: keeps its Terraform state in "
                                                         "files on this machine"),
    (("ci", "gitlab", "--env", "dev", "--terraform-version", "latest"), "--terraform-version: GitLab jobs install one "
                                                                         "exact Terraform release (got 'latest')"),
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    root = copy_estate(tmp_path / "estate")
    before = sorted(p.relative_to(root) for p in root.rglob("*") if ".platform" not in p.parts)
    result = platform(root, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert sorted(p.relative_to(root) for p in root.rglob("*") if ".platform" not in p.parts) == before


def test_a_pipeline_not_generated_by_us_is_never_replaced(tmp_path: Path) -> None:
    root = copy_estate(tmp_path / "estate")
    own = root / ".gitlab-ci.yml"
    own.write_text("test:\n  script: [make test]\n")
    result = platform(root, "ci", "gitlab", "--env", "dev")
    assert result.exit_code == 2 and "not generated by `platform ci`" in result.output
    assert own.read_text() == "test:\n  script: [make test]\n"


def test_waves_of_a_graph() -> None:
    graph = {"base": [], "a": ["base"], "b": ["base"], "c": ["a"], "d": ["c", "b"], "lone": []}
    assert waves(graph) == [["base", "lone"], ["a", "b"], ["c"], ["d"]]
    assert wave_needs(graph) == [[], [0], [1], [1, 2]]
    assert wave_of({"x": ["outside"]}) == {"x": 0}
    with pytest.raises(PlatformError, match="cycle"):
        wave_of({"x": ["y"], "y": ["x"]})


def test_the_install_step_fits_the_project(tmp_path: Path) -> None:
    """The jobs' install step by what the project has. A `platform init` project has no pyproject.toml, and the
    former default (`pip install -e '.[aws,gcp]'`) failed there at every job's first step: it installs the SDK that
    generated the pipeline instead, and `--check`'s regenerate command needs no `--install` for it."""
    from importlib.metadata import version

    from platform_sdk.ci.pipeline import default_install
    from platform_sdk.cli import app

    made = CliRunner().invoke(app, ["init", str(tmp_path), "--name-prefix", "acme"], catch_exceptions=False)
    assert made.exit_code == 0, made.output
    pinned = f"python -m pip install 'platform-sdk[aws,gcp]=={version('platform-sdk')}'"
    assert default_install(tmp_path) == pinned
    (tmp_path / "requirements.txt").write_text("platform-sdk[aws]\n")
    assert default_install(tmp_path) == "python -m pip install -r requirements.txt"
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'app'\n")
    assert default_install(tmp_path) == "python -m pip install -e '.[aws,gcp]'"
    for name in ("pyproject.toml", "requirements.txt"):
        (tmp_path / name).unlink()
    env = (tmp_path / "envs" / "local.toml").read_text()
    (tmp_path / "envs" / "ci.toml").write_text(env + '\n[state]\nbackend = "s3"\nbucket = "acme-state"\n'
                                               'lock_table = "acme-locks"\nregion = "eu-west-1"\n')
    result = platform(tmp_path, "ci", "gitlab", "--env", "ci")
    assert result.exit_code == 0, result.output
    pipeline = (tmp_path / ".gitlab-ci.yml").read_text()
    assert pinned in pipeline and "pip install -e" not in pipeline
    assert "platform ci gitlab --env ci --check" in pipeline


# The GitLab jobs' Terraform step, run for real by `sh` on a machine whose PATH holds no terraform or tofu: a fake
# `curl` serves a local copy of releases.hashicorp.com (real zips holding a small `terraform` script, a real
# SHA256SUMS) and logs each URL; a fake `uname -m` says the runner's architecture. Nothing reaches a public host.

RELEASES_URL = "https://releases.hashicorp.com/"
FAKE_CURL = r"""#!/bin/sh
out= url=
while [ $# -gt 0 ]; do
  case "$1" in --output) out=$2; shift ;; https://*) url=$1 ;; esac
  shift
done
echo "$url" >> "$CURL_LOG"
file="$RELEASES/${url#https://releases.hashicorp.com/}"
[ -n "$out" ] && [ -f "$file" ] || { echo "curl: (22) The requested URL returned error: 404" >&2; exit 22; }
cat "$file" > "$out"
"""
FAKE_UNAME = '#!/bin/sh\n[ "$1" = -m ] && echo "$MACHINE"\n'
IMAGE_TOOLS = ("sh", "awk", "cat", "chmod", "cut", "mkdir", "mv", "rm", "sha256sum")
"""What the step may use of the image besides curl, uname and python (each on PATH here through a symlink)."""
VERSIONS = ("1.0.3", "1.1.0")


@dataclass
class Runner:
    project: Path  # CI_PROJECT_DIR
    releases: Path  # releases.hashicorp.com's files: terraform/<version>/...
    path: list[Path]  # PATH: fakes, then the image's tools
    log: Path

    def run(self, script: str, machine: str = "x86_64", shell: str = "sh") -> subprocess.CompletedProcess[str]:
        """`shell` runs `script`: "sh", or stopping at a failing command as GitLab's runner does ("sh -e", "bash -eo
        pipefail")."""
        env = {"PATH": os.pathsep.join(map(str, self.path)), "CI_PROJECT_DIR": str(self.project), "LC_ALL": "C",
               "HOME": str(self.project), "RELEASES": str(self.releases), "CURL_LOG": str(self.log),
               "MACHINE": machine}
        program, *options = shell.split()
        found = shutil.which(program)
        assert found, program
        return subprocess.run([found, *options, "-c", script], env=env, cwd=self.project, capture_output=True,
                              text=True, timeout=60)

    def downloads(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def installed(self) -> list[Path]:
        return sorted(p for p in self.project.rglob("terraform") if p.is_file())


def _executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    releases = tmp_path / "releases"
    for version in VERSIONS:
        folder = releases / "terraform" / version
        folder.mkdir(parents=True)
        sums = []
        for arch in ("amd64", "arm64"):
            name = f"terraform_{version}_linux_{arch}.zip"
            with zipfile.ZipFile(folder / name, "w", zipfile.ZIP_DEFLATED) as archive:  # no mode bits, as unzipped
                archive.writestr("terraform", f'#!/bin/sh\necho "Terraform v{version} linux_{arch}"\n')
            sums.append(f"{hashlib.sha256((folder / name).read_bytes()).hexdigest()}  {name}\n")
        (folder / f"terraform_{version}_SHA256SUMS").write_text("".join(sums))
    fakes, tools = tmp_path / "fakes", tmp_path / "image"
    fakes.mkdir()
    tools.mkdir()
    _executable(fakes / "curl", FAKE_CURL)
    _executable(fakes / "uname", FAKE_UNAME)
    for tool in IMAGE_TOOLS:
        found = shutil.which(tool)
        assert found, tool
        (tools / tool).symlink_to(found)
    (tools / "python").symlink_to(sys.executable)
    project = tmp_path / "project"
    project.mkdir()
    return Runner(project, releases, [fakes, tools], tmp_path / "curl.log")


@pytest.fixture(scope="module")
def terraform_step(generated: dict[str, Any]) -> str:
    """The generated pipeline's Terraform step: first in `before_script`, before the install step."""
    doc = yaml.safe_load(generated["files"]["gitlab"][".gitlab-ci.yml"].read_text())
    steps = doc["default"]["before_script"]
    assert len(steps) == 2 and "pip install" in steps[1], steps
    assert steps[0] == install_terraform("1.0.3")
    return str(steps[0])


@pytest.mark.parametrize("machine, arch", [("x86_64", "amd64"), ("aarch64", "arm64"), ("arm64", "arm64")])
@pytest.mark.parametrize("shell", ["sh", "sh -e", "bash -eo pipefail"])
def test_the_gitlab_jobs_install_the_pinned_terraform(runner: Runner, terraform_step: str, machine: str, arch: str,
                                                      shell: str) -> None:
    run = runner.run(terraform_step + "\ncommand -v terraform\nterraform version", machine, shell)
    assert run.returncode == 0, run.stdout + run.stderr
    binary = runner.project / ".cache" / "terraform" / "1.0.3" / "terraform"
    assert run.stdout.splitlines()[-2:] == [str(binary), f"Terraform v1.0.3 linux_{arch}"], run.stdout
    assert runner.downloads() == [f"{RELEASES_URL}terraform/1.0.3/terraform_1.0.3_linux_{arch}.zip",
                                  f"{RELEASES_URL}terraform/1.0.3/terraform_1.0.3_SHA256SUMS"]
    assert runner.installed() == [binary]
    assert sorted(p.name for p in (runner.project / ".cache").iterdir()) == ["terraform"], "no download left over"


def test_the_next_job_takes_terraform_from_the_cache(runner: Runner, terraform_step: str) -> None:
    assert runner.run(terraform_step).returncode == 0
    runner.log.unlink()
    shutil.rmtree(runner.releases)  # a download now would fail
    run = runner.run(terraform_step + "\nterraform version")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines() == ["Terraform v1.0.3 linux_amd64"], "nothing installed, nothing said"
    assert runner.downloads() == []


def test_another_version_replaces_the_cached_one(runner: Runner, terraform_step: str) -> None:
    assert runner.run(terraform_step).returncode == 0
    run = runner.run(install_terraform("1.1.0") + "\nterraform version")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines()[-1] == "Terraform v1.1.0 linux_amd64"
    assert runner.installed() == [runner.project / ".cache" / "terraform" / "1.1.0" / "terraform"]


@pytest.mark.parametrize("damage", ["altered zip", "no line for it"])
def test_a_download_not_matching_its_checksum_is_refused(runner: Runner, terraform_step: str, damage: str) -> None:
    folder = runner.releases / "terraform" / "1.0.3"
    if damage == "altered zip":
        with (folder / "terraform_1.0.3_linux_amd64.zip").open("ab") as zip_file:
            zip_file.write(b"\0")  # still a valid zip: only the checksum tells
    else:
        sums = folder / "terraform_1.0.3_SHA256SUMS"
        sums.write_text("".join(line for line in sums.read_text().splitlines(True) if "amd64" not in line))
    run = runner.run(terraform_step + "\necho still running")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "platform ci: refusing terraform_1.0.3_linux_amd64.zip: its SHA-256 " in run.stderr
    assert "does not match terraform_1.0.3_SHA256SUMS" in run.stderr
    assert ("(no line for it)" in run.stderr) == (damage == "no line for it")
    assert "still running" not in run.stdout
    assert runner.installed() == [] and not (runner.project / ".cache" / "terraform.part").exists()


@pytest.mark.parametrize("name", ["terraform", "tofu"])
def test_an_image_with_terraform_or_tofu_downloads_nothing(runner: Runner, terraform_step: str, name: str,
                                                          tmp_path: Path) -> None:
    image = tmp_path / "preinstalled"
    image.mkdir()
    _executable(image / name, "#!/bin/sh\necho 'from the image'\n")
    runner.path.append(image)
    run = runner.run(terraform_step + f"\n{name} version")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines() == ["from the image"]
    assert runner.downloads() == [] and not (runner.project / ".cache").exists()


def test_an_unknown_architecture_is_refused(runner: Runner, terraform_step: str) -> None:
    run = runner.run(terraform_step + "\necho still running", machine="riscv64")
    assert run.returncode == 1, run.stdout + run.stderr
    assert run.stderr.strip() == ("platform ci: Terraform 1.0.3 has no linux build for this runner's architecture "
                                  "riscv64 (x86_64, aarch64): use an image with Terraform or OpenTofu (variable "
                                  "PLATFORM_CI_IMAGE)")
    assert runner.downloads() == [] and runner.installed() == []
