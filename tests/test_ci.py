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
    (root / "requirements.txt").write_text("platform-sdk[aws,gcp]\n")  # how the jobs install it (else --install)
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


def gitlab_stage_faults(doc: dict[str, Any]) -> list[str]:
    """GitLab's rule for `needs` (https://docs.gitlab.com/ci/yaml/#needs; its YAML processor refuses the whole file
    otherwise): every job's stage is one of `stages`, and a needed job exists and is in the same or an earlier
    stage. Its own message for each job breaking it."""
    stages = doc["stages"]
    jobs = {name: job for name, job in doc.items() if isinstance(job, dict) and "script" in job}
    faults = [f"{name} job: chosen stage {job.get('stage')} does not exist" for name, job in jobs.items()
              if job.get("stage") not in stages]
    for name, job in jobs.items():
        for need in job.get("needs", []):
            other = need if isinstance(need, str) else need["job"]
            if other not in jobs:
                faults.append(f"{name} job: undefined need: {other}")
            elif stages.index(jobs[other]["stage"]) > stages.index(job["stage"]):
                faults.append(f"{name} job: need {other} is not defined in current or prior stages")
    return faults


def test_the_stage_rule_check_finds_a_need_of_a_later_stage() -> None:
    doc = {"stages": ["plan", "apply"], "a": {"stage": "plan", "script": ["x"], "needs": ["b"]},
           "b": {"stage": "apply", "script": ["x"], "needs": [{"job": "a"}]}}
    assert gitlab_stage_faults(doc) == ["a job: need b is not defined in current or prior stages"]


@pytest.mark.parametrize("count", [1, 2, 3])
def test_every_gitlab_need_is_in_the_same_or_an_earlier_stage(generated: dict[str, Any], count: int,
                                                              tmp_path: Path) -> None:
    """With two environments or more, the second's plan job needs the first's apply jobs: GitLab refused the file
    while every plan job was in stage `plan` and every apply job in the later stage `apply`."""
    envs = [w for e in ENVS[:count] for w in ("--env", e)]
    result = platform(generated["root"], "ci", "gitlab", *envs, "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    doc = yaml.safe_load((tmp_path / ".gitlab-ci.yml").read_text())
    assert gitlab_stage_faults(doc) == []
    deploy = [name for name in doc if name.startswith(("plan-", "apply-"))]
    assert {doc[name]["stage"] for name in deploy} == {f"{kind}-{e}" for e in ENVS[:count] for kind in ("plan",
                                                                                                         "apply")}
    if count > 1:
        assert any(n.startswith("apply-dev-") for n in doc["plan-staging"]["needs"]), "staging waits for dev"


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
    assert gitlab["apply-prod-wave-2"]["environment"] == {"name": "prod", "deployment_tier": "production"}
    # An unprotected environment's tier is GitLab's guess from its name (dev -> development, an unprotected `prod`
    # -> production), not "development" for every one.
    assert gitlab["apply-dev-wave-1"]["environment"] == {"name": "dev"}


def test_saved_plans_are_never_uploaded_and_reports_are_short_lived(generated: dict[str, Any]) -> None:
    """Saved plan files may hold secret values and no job uses them (each apply job plans again and holds it to the
    reviewed JSON report, `--expect`): neither system uploads them."""
    text = generated["files"]["github"]["platform-deploy.yml"].read_text()
    doc = yaml.safe_load(text)
    uploads = [s["with"] for job in doc["jobs"].values() for s in job["steps"]
               if s.get("uses", "").startswith("actions/upload-artifact")]
    assert uploads and all(u["retention-days"] == 1 for u in uploads)
    assert sorted(u["path"] for u in uploads) == sorted(f".platform/ci/plan-{e}.json" for e in ENVS)
    downloads = {name: [s["with"] for s in job["steps"] if s.get("uses", "").startswith("actions/download-artifact")]
                 for name, job in doc["jobs"].items()}
    for name, job in doc["jobs"].items():
        if name.startswith("apply-"):
            env = name.split("-")[1]
            assert downloads[name] == [{"name": f"platform-plan-{env}", "path": ".platform/ci"}]
            assert f"--expect .platform/ci/plan-{env}.json" in "".join(s.get("run", "") for s in job["steps"])
    assert "platform.tfplan" not in text and "terraform show" not in text
    gitlab_text = generated["files"]["gitlab"][".gitlab-ci.yml"].read_text()
    gitlab = yaml.safe_load(gitlab_text)
    artifacts = gitlab["plan-prod"]["artifacts"]
    assert artifacts["expire_in"] == "1 day" and artifacts["access"] == "developer"
    assert artifacts["paths"] == [".platform/ci/plan-prod.json", ".platform/ci/plan-prod.md"]
    assert "platform.tfplan" not in gitlab_text
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


def test_the_comment_job_names_its_repository(generated: dict[str, Any]) -> None:
    """The comment job has no checkout: `gh` learns the repository from GH_REPO (gh's environment variable), else it
    fails with "not a git repository"."""
    doc = yaml.safe_load(generated["files"]["github"]["platform-pr.yml"].read_text())
    job = doc["jobs"]["comment"]
    assert not any(s.get("uses", "").startswith("actions/checkout") for s in job["steps"])
    step = next(s for s in job["steps"] if "gh pr comment" in s.get("run", ""))
    assert step["env"]["GH_REPO"] == "${{ github.repository }}"
    assert step["env"]["GH_TOKEN"] == "${{ github.token }}"


def test_the_merge_request_plan_jobs_print_their_report(generated: dict[str, Any]) -> None:
    """Without PLATFORM_MR_TOKEN the comment job says the report is in the plan jobs' logs: they print it."""
    doc = yaml.safe_load(generated["files"]["gitlab"][".gitlab-ci.yml"].read_text())
    assert "plan jobs' logs" in doc["mr-comment"]["script"][0]
    for env in ENVS:
        script = doc[f"mr-plan-{env}"]["script"]
        written = next(i for i, line in enumerate(script) if f"> .platform/ci/plan-{env}.md" in line)
        assert f"cat .platform/ci/plan-{env}.md" in script[written + 1:], script


def _output(root: Path) -> dict[str, tuple[int, str]]:
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted((root / "cdktf.out").rglob("*")) if p.is_file()}


def test_check_passes_when_current_and_fails_when_stale(generated: dict[str, Any]) -> None:
    """`--check` writes nothing: it synthesizes into a temporary folder, never over cdktf.out/."""
    root = generated["root"]
    before = _output(root)
    assert any(name.startswith("cdktf.out/prod/") for name in before)
    result = platform(root, "ci", "gitlab", "--env", "dev", "--env", "prod", "--check")
    assert result.exit_code == 1, "the gitlab file was generated for three environments"
    envs = [w for e in ENVS for w in ("--env", e)]
    assert platform(root, "ci", "gitlab", *envs, "--check").exit_code == 0
    assert _output(root) == before, "--check replaced the synthesized output"


@pytest.mark.parametrize("args, message", [
    (("ci", "jenkins", "--env", "dev"), "unknown CI system"),
    (("ci", "github", "--env", "nope"), "unknown environment"),
    (("ci", "github"), "name at least one environment"),
    (("ci", "github", "--env", "dev", "--env", "dev"), "given twice"),
    (("ci", "github", "--env", "dev", "--env", "local"), "local.toml:22: state.backend: keeps its Terraform state in "
                                                         "files on this machine"),
    (("ci", "gitlab", "--env", "dev", "--terraform-version", "latest"), "--terraform-version: GitLab jobs install one "
                                                                         "exact Terraform release (got 'latest')"),
    (("ci", "github", "--env", "dev", "--terraform-version", "1.5.7; rm -rf /"),
     "--terraform-version: not a Terraform version, range or `latest` (hashicorp/setup-terraform would install the "
     "latest release instead) (got '1.5.7; rm -rf /')"),
    (("ci", "github", "--env", "dev", "--terraform-version", ""), "--terraform-version: not a Terraform version"),
    (("ci", "github", "--env", "dev", "--python", "2.7"), "--python: platform-sdk needs Python 3.11 or later, given "
                                                          "as X.Y (got '2.7')"),
    (("ci", "github", "--env", "dev", "--python", ""), "--python: platform-sdk needs Python 3.11 or later"),
    (("ci", "github", "--env", "dev", "--python", "3.11.4"), "--python: platform-sdk needs Python 3.11 or later"),
    (("ci", "github", "--env", "dev", "--python", "3.9"), "--python: platform-sdk needs Python 3.11 or later"),
    (("ci", "github", "--env", "dev", "--branch", ""), "--branch: not a branch name"),
    (("ci", "github", "--env", "dev", "--branch", "main']\nx: ['"), "--branch: not a branch name"),
    (("ci", "github", "--env", "dev", "--branch", "release/*"), "--branch: not a branch name (letters, digits, `.`, "
                                                                "`_`, `-` and `/`, as git allows them) (got "
                                                                "'release/*')"),
    (("ci", "gitlab", "--env", "dev", "--image", ""), "--image: not a container image reference"),
    (("ci", "gitlab", "--env", "dev", "--image", "python:3.11; curl x | sh"), "--image: not a container image "
                                                                              "reference"),
    (("ci", "gitlab", "--env", "dev", "--install", " "), "--install: an empty command installs nothing"),
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    root = copy_estate(tmp_path / "estate")
    before = sorted(p.relative_to(root) for p in root.rglob("*") if ".platform" not in p.parts)
    result = platform(root, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert sorted(p.relative_to(root) for p in root.rglob("*") if ".platform" not in p.parts) == before


@pytest.mark.parametrize("option, good, bad", [
    ("github terraform", ["1.0.3", "latest", "~1.5", ">=1.5 <2.0", "1.x", "^1 || ~0.15", "1.6.0-beta1", "*"],
     ["", "1.5.7; rm -rf /", "v1.5.7 x", "1.05", "lastest", ">= 1.5"]),
    ("gitlab terraform", ["1.0.3", "1.6.0-beta1"], ["latest", "1.5", "v1.5.7", "~1.5"]),
    ("python", ["3.11", "3.12", "3.13", "4.0"], ["", "3", "3.10", "2.7", "3.11.4", "03.11", "3.11 "]),
    ("branch", ["main", "release/1.x", "feature_a-b", "v2"], ["", "-x", "a..b", "x.lock", "a//b", "a/.b", "x/", "a b",
                                                             "rel*", "a+", "!main"]),
    ("image", ["python:3.11", "registry.gitlab.com/g/p/img:1.0", "localhost:5000/a/b", f"python@sha256:{'a' * 64}"],
     ["", "Python:3.11", "python:3.11 ", "python:3.11;sh", "$IMAGE", "a/:x"]),
])
def test_option_values(option: str, good: list[str], bad: list[str]) -> None:
    from platform_sdk.ci import options

    checks = {"github terraform": lambda v: options.check_terraform("github", v),
              "gitlab terraform": lambda v: options.check_terraform("gitlab", v),
              "python": options.check_python, "branch": options.check_branch, "image": options.check_image}
    for value in good:
        checks[option](value)
    for value in bad:
        with pytest.raises(PlatformError) as raised:
            checks[option](value)
        assert raised.value.value == value and str(raised.value.key).startswith("--"), value


@pytest.mark.parametrize("where", ["a file", "a file's child"])
def test_an_out_that_cannot_be_a_folder_is_refused_before_synthesis(tmp_path: Path, where: str) -> None:
    root = copy_estate(tmp_path / "estate")
    (root / "requirements.txt").write_text("platform-sdk[aws,gcp]\n")
    blocker = tmp_path / "afile"
    blocker.write_text("mine\n")
    out = blocker if where == "a file" else blocker / "ci"
    result = platform(root, "ci", "github", "--env", "dev", "--out", str(out))
    assert result.exit_code == 2, result.output
    assert f"--out: {blocker} is a file, not a folder to write the pipeline files into (got '{out}')" in \
        " ".join(result.output.split()), result.output
    assert "cdktf.out" not in result.output and not (root / "cdktf.out").exists(), "nothing synthesized"
    assert blocker.read_text() == "mine\n"


def test_check_never_writes_over_a_missing_output(tmp_path: Path) -> None:
    """`--check` on a project never synthesized leaves no cdktf.out/ behind."""
    root = copy_estate(tmp_path / "estate")
    (root / "requirements.txt").write_text("platform-sdk[aws,gcp]\n")
    result = platform(root, "ci", "gitlab", "--env", "dev", "--check")
    assert result.exit_code == 1 and "stale:" in result.output, result.output
    assert not (root / "cdktf.out").exists() and not (root / ".gitlab-ci.yml").exists()


def test_a_pipeline_not_generated_by_us_is_never_replaced(tmp_path: Path) -> None:
    root = copy_estate(tmp_path / "estate")
    (root / "requirements.txt").write_text("platform-sdk[aws,gcp]\n")
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


def _distribution(tmp_path: Path, direct_url: dict[str, Any] | None) -> Any:
    """An installed distribution's metadata as pip leaves it (`*.dist-info/METADATA`, PEP 610's direct_url.json),
    read by importlib.metadata itself."""
    from importlib.metadata import PathDistribution

    info = tmp_path / "platform_sdk-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: platform-sdk\nVersion: 0.1.0\n")
    if direct_url is not None:
        (info / "direct_url.json").write_text(json.dumps(direct_url))
    return PathDistribution(info)


COMMIT = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
SHA = "a" * 64


@pytest.mark.parametrize("direct_url, expected", [
    (None, "platform-sdk[aws,gcp]==0.1.0"),
    ({"url": "https://git.example.com/platform-sdk.git", "vcs_info": {"vcs": "git", "commit_id": COMMIT,
                                                                      "requested_revision": "main"}},
     f"platform-sdk[aws,gcp] @ git+https://git.example.com/platform-sdk.git@{COMMIT}"),
    ({"url": "ssh://git@git.example.com/platform-sdk.git", "vcs_info": {"vcs": "git", "commit_id": COMMIT}},
     f"platform-sdk[aws,gcp] @ git+ssh://git@git.example.com/platform-sdk.git@{COMMIT}"),
    ({"url": "https://files.example.com/platform_sdk-0.1.0-py3-none-any.whl", "archive_info": {"hashes": {
        "sha256": SHA}}}, f"platform-sdk[aws,gcp] @ https://files.example.com/platform_sdk-0.1.0-py3-none-any.whl"
                          f"#sha256={SHA}"),
    ({"url": "https://git.example.com/mono.git", "subdirectory": "sdk", "vcs_info": {"vcs": "git",
                                                                                     "commit_id": COMMIT}},
     f"platform-sdk[aws,gcp] @ git+https://git.example.com/mono.git@{COMMIT}#subdirectory=sdk"),
    ({"url": "https://files.example.com/sdk.tar.gz", "archive_info": {"hash": f"sha256={SHA}"}},
     f"platform-sdk[aws,gcp] @ https://files.example.com/sdk.tar.gz#sha256={SHA}"),
])
def test_the_default_install_is_where_this_sdk_came_from(tmp_path: Path, direct_url: dict[str, Any] | None,
                                                         expected: str) -> None:
    from platform_sdk.ci.sdk_source import requirement

    assert requirement(_distribution(tmp_path, direct_url), ["aws", "gcp"]) == expected


@pytest.mark.parametrize("direct_url, why", [
    ({"url": "file:///work/main", "dir_info": {"editable": True}},
     "it is an editable install from the folder file:///work/main, which a CI runner does not have"),
    ({"url": "file:///src/platform-sdk", "dir_info": {}},
     "it is installed from the folder file:///src/platform-sdk, which a CI runner does not have"),
    ({"url": "file:///tmp/platform_sdk-0.1.0-py3-none-any.whl", "archive_info": {}},
     "it was installed from file:///tmp/platform_sdk-0.1.0-py3-none-any.whl, which a CI runner cannot reach"),
    ({"url": "file:///src/platform-sdk", "vcs_info": {"vcs": "git", "commit_id": COMMIT}},
     "it was installed from file:///src/platform-sdk, which a CI runner cannot reach"),
])
def test_an_sdk_a_runner_cannot_install_is_refused(tmp_path: Path, direct_url: dict[str, Any], why: str) -> None:
    from platform_sdk.ci.sdk_source import requirement

    with pytest.raises(PlatformError) as raised:
        requirement(_distribution(tmp_path, direct_url), ["aws", "gcp"])
    assert raised.value.key == "--install"
    assert raised.value.message == f"the jobs cannot install the platform-sdk that runs here: {why}"


def test_the_install_step_fits_the_project(tmp_path: Path) -> None:
    """The jobs' install step by what the project has. A `platform init` project has no pyproject.toml or
    requirements.txt: the jobs install the SDK that generated the pipeline from where it came from, and an SDK a
    runner cannot install (this checkout's, an editable install) is refused, exit 2, until --install says how.
    Formerly the jobs ran `pip install 'platform-sdk[aws,gcp]==0.1.0'`: no such release exists on PyPI, where the
    name belongs to someone else."""
    from importlib.metadata import distributions

    from platform_sdk.ci.pipeline import default_install
    from platform_sdk.cli import app

    installed = next(json.loads(d.read_text("direct_url.json") or "{}") for d in distributions(name="platform-sdk")
                     if d.read_text("RECORD") is not None)  # not a build's egg-info in the checkout
    assert installed["dir_info"]["editable"] is True, "this checkout's SDK is an editable install (make venv)"
    made = CliRunner().invoke(app, ["init", str(tmp_path), "--name-prefix", "acme"], catch_exceptions=False)
    assert made.exit_code == 0, made.output
    (tmp_path / "requirements.txt").write_text("platform-sdk[aws]\n")
    assert default_install(tmp_path) == "python -m pip install -r requirements.txt"
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'app'\n")
    assert default_install(tmp_path) == "python -m pip install -e '.[aws,gcp]'"
    for name in ("pyproject.toml", "requirements.txt"):
        (tmp_path / name).unlink()
    env = (tmp_path / "envs" / "local.toml").read_text()
    (tmp_path / "envs" / "ci.toml").write_text(env + '\n[state]\nbackend = "s3"\nbucket = "acme-state"\n'
                                               'lock_table = "acme-locks"\nregion = "eu-west-1"\n')
    before = sorted(p for p in tmp_path.rglob("*") if ".platform" not in p.parts)
    refused = platform(tmp_path, "ci", "gitlab", "--env", "ci")
    assert refused.exit_code == 2, refused.output
    said = " ".join(refused.output.split())
    assert said.count("error:") == 1 and "--install: the jobs cannot install the platform-sdk that runs here: it is " \
        f"an editable install from the folder {installed['url']}, which a CI runner does not have" in said, said
    assert sorted(p for p in tmp_path.rglob("*") if ".platform" not in p.parts) == before, "nothing written"
    command = "python -m pip install 'platform-sdk[aws,gcp] @ git+https://git.example.com/sdk.git@v0.1.0'"
    result = platform(tmp_path, "ci", "gitlab", "--env", "ci", "--install", command)
    assert result.exit_code == 0, result.output
    doc = yaml.safe_load((tmp_path / ".gitlab-ci.yml").read_text())
    assert doc["default"]["before_script"][1] == command
    assert f"platform ci gitlab --env ci --install {shlex.quote(command)} --check" in doc["mr-check"]["script"]
    assert platform(tmp_path, "ci", "gitlab", "--env", "ci", "--install", command, "--check").exit_code == 0


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


def test_a_project_credentials_step_is_used_by_every_job_that_runs_platform(tmp_path: Path) -> None:
    """The pipelines could not get cloud credentials: GitHub injects no secret by itself, and a step added by hand
    made `--check` call the file stale and was dropped on the next generation. A project's own step (a composite
    action on GitHub, a hidden job `.platform-credentials` on GitLab: files the project owns, never generated) is
    used by every job that runs `platform`, with the environment's name."""
    root = copy_estate(tmp_path / "estate")
    (root / "requirements.txt").write_text("platform-sdk[aws,gcp]\n")
    action = root / ".github" / "actions" / "platform-credentials" / "action.yml"
    action.parent.mkdir(parents=True)
    action.write_text("name: credentials\ninputs:\n  environment:\n    required: false\nruns:\n  using: composite\n"
                      "  steps:\n    - run: echo \"assume the role of ${{ inputs.environment }}\"\n      shell: bash\n")
    hidden = root / ".gitlab" / "platform-credentials.yml"
    hidden.parent.mkdir(parents=True)
    hidden.write_text(".platform-credentials:\n  id_tokens:\n    AWS_ID_TOKEN:\n      aud: sts.amazonaws.com\n")
    for system in ("github", "gitlab"):
        result = platform(root, "ci", system, "--env", "dev", "--env", "prod")
        assert result.exit_code == 0, result.output

    for name in ("platform-pr.yml", "platform-deploy.yml"):
        workflow = yaml.safe_load((root / ".github" / "workflows" / name).read_text())
        for job_id, job in workflow["jobs"].items():
            uses = [step.get("uses") for step in job["steps"]]
            if job_id == "comment":
                assert "./.github/actions/platform-credentials" not in uses
                continue
            assert uses[:2] == ["actions/checkout@v4", "./.github/actions/platform-credentials"], (job_id, uses)
            step = job["steps"][1]
            assert step["with"]["environment"] == (job.get("environment") or _env_of(job_id)), (job_id, step)
    assert validate("github", *sorted((root / ".github" / "workflows").glob("*.yml"))).returncode == 0

    pipeline = yaml.safe_load((root / ".gitlab-ci.yml").read_text())
    assert pipeline["include"] == [{"local": ".gitlab/platform-credentials.yml"}]
    jobs = {name: job for name, job in pipeline.items() if isinstance(job, dict) and "script" in job}
    for name, job in jobs.items():
        if name == "mr-comment":
            assert "extends" not in job
        else:
            assert job["extends"] == ".platform-credentials" and "PLATFORM_ENV" in job["variables"], (name, job)
    assert jobs["apply-prod-wave-1"]["variables"]["PLATFORM_ENV"] == "prod"
    assert validate("gitlab", root / ".gitlab-ci.yml").returncode == 0

    action.write_text(action.read_text() + "# the project's own step changes: the pipelines are still current\n")
    for system in ("github", "gitlab"):
        checked = platform(root, "ci", system, "--env", "dev", "--env", "prod", "--check")
        assert checked.exit_code == 0, checked.output


def _env_of(job_id: str) -> str:
    """The environment a generated job works on, from its id (`plan-dev`, `apply-prod-wave-1`); "" for `check`."""
    for env in ("dev", "prod"):
        if job_id.endswith(f"-{env}") or f"-{env}-" in job_id:
            return env
    return ""
