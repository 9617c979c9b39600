"""GitLab CI: one `.gitlab-ci.yml` whose jobs run on merge requests or on the default branch (`rules`).

GitLab's words: `needs` (the DAG), `environment` on every apply job (a protected environment limits who may
deploy: https://docs.gitlab.com/ci/environments/protected_environments/), `when: manual` on the first wave of a
protected environment (the approval; `allow_failure: false` keeps the later waves waiting), `resource_group`
(one apply per environment at a time), artifacts with `expire_in` and `access: developer`, `cache`.
The merge-request comment needs a token allowed to write notes: a CI/CD variable `PLATFORM_MR_TOKEN`
(`CI_JOB_TOKEN` cannot); without it the report stays in the job log and artifacts.

Terraform: the jobs use the image's `terraform` or `tofu`; an image without either (the default `python:3.11`) gets
the pinned release from releases.hashicorp.com, checked against its SHA256SUMS and cached (`install_terraform`).
"""

from __future__ import annotations

import shlex
from typing import Any

from platform_sdk.ci.pipeline import (
    CACHED_PATHS,
    CREDENTIALS,
    REPORT_DIR,
    EnvironmentGraph,
    Job,
    Settings,
    deploy_jobs,
    job_id,
    plan_report,
    pull_request_jobs,
)

MERGE_REQUEST = '$CI_PIPELINE_SOURCE == "merge_request_event"'
DEFAULT_BRANCH = "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"
SECRET_EXPIRY = "1 day"
"""Plan reports live one day (developers only): long enough to audit a run. Saved plan files, which may hold
secret values, are never artifacts: each apply job plans again and holds it to the report (`--expect`)."""
DEPLOYMENT_TIER = "production"
"""The `deployment_tier` of a protected environment's jobs: one whose deploys need approval is production. An
unprotected one gets none, and GitLab guesses its tier from its name (`prod` -> production, `staging` -> staging,
`dev` -> development, ...: https://docs.gitlab.com/ci/environments/#deployment-tier-of-environments)."""

COMMENT = (
    'if [ -z "${PLATFORM_MR_TOKEN:-}" ]; then echo "PLATFORM_MR_TOKEN is not set: the plan report is in the plan '
    'jobs\' logs and artifacts"; exit 0; fi\n'
    f'cat {REPORT_DIR}/plan-*.md > {REPORT_DIR}/comment.md\n'
    'curl --fail --silent --show-error --request POST --header "PRIVATE-TOKEN: $PLATFORM_MR_TOKEN" '
    f'--data-urlencode "body@{REPORT_DIR}/comment.md" '
    '"$CI_API_V4_URL/projects/$CI_PROJECT_ID/merge_requests/$CI_MERGE_REQUEST_IID/notes" > /dev/null'
)
TERRAFORM_RELEASES = "https://releases.hashicorp.com/terraform"
"""HashiCorp's release layout, `terraform/<version>/terraform_<version>_<os>_<arch>.zip` next to
`terraform_<version>_SHA256SUMS` (and its `.sig`), paths HashiCorp promises never to change:
https://www.hashicorp.com/blog/hashicorp-fastly ("Standardizing"; "SSL, GPG, and Checksums – Everywhere")."""
TERRAFORM_CACHE = ".cache/terraform"
"""Under the project directory, in the pipeline's `cache:`: each job after the first finds the binary there."""


def install_terraform(version: str) -> str:
    """The jobs' first step (POSIX sh): put Terraform `version` on PATH unless the image has `terraform` or `tofu`.

    From `$CI_PROJECT_DIR/.cache/terraform/<version>/` when a job already installed it (the pipeline caches that
    folder); else it downloads the release zip of the runner's architecture (`uname -m`: x86_64 -> amd64,
    aarch64/arm64 -> arm64) and the release's SHA256SUMS with `curl`, refuses (exit 1, installing nothing) a zip
    whose SHA-256 differs from its line there or an architecture with no build, unpacks it with Python's zipfile
    (the image may have no `unzip`) and replaces the cache folder's content with it. The SHA256SUMS file comes from
    the same HTTPS host; its GPG signature is not checked (that needs `gpg` and HashiCorp's key in the image)."""
    v = shlex.quote(version)
    return rf'''if command -v terraform >/dev/null || command -v tofu >/dev/null; then :; else
  tf_dir="$CI_PROJECT_DIR/{TERRAFORM_CACHE}/{v}"
  if [ ! -x "$tf_dir/terraform" ]; then
    tf_part="$CI_PROJECT_DIR/{TERRAFORM_CACHE}.part"
    tf_fail() {{ echo "platform ci: $*" >&2; rm -rf "$tf_part"; exit 1; }}
    tf_machine=$(uname -m)
    case "$tf_machine" in
      x86_64 | amd64) tf_arch=amd64 ;;
      aarch64 | arm64) tf_arch=arm64 ;;
      *) tf_fail "Terraform {v} has no linux build for this runner's architecture $tf_machine (x86_64, aarch64):" \
                 "use an image with Terraform or OpenTofu (variable PLATFORM_CI_IMAGE)" ;;
    esac
    tf_url="{TERRAFORM_RELEASES}/{v}"
    tf_zip="terraform_{v}_linux_$tf_arch.zip"
    tf_sums="terraform_{v}_SHA256SUMS"
    echo "platform ci: the image has no terraform or tofu: installing $tf_url/$tf_zip"
    rm -rf "$tf_part" && mkdir -p "$tf_part" || tf_fail "cannot write $tf_part"
    for tf_file in "$tf_zip" "$tf_sums"; do
      curl --fail --silent --show-error --location --output "$tf_part/$tf_file" "$tf_url/$tf_file" ||
        tf_fail "could not download $tf_url/$tf_file"
    done
    tf_expected=$(awk -v name="$tf_zip" '$2 == name {{ print $1 }}' "$tf_part/$tf_sums")
    tf_actual=$(sha256sum "$tf_part/$tf_zip" | cut -d ' ' -f 1)
    [ -n "$tf_expected" ] && [ "$tf_actual" = "$tf_expected" ] ||
      tf_fail "refusing $tf_zip: its SHA-256 $tf_actual does not match $tf_sums (${{tf_expected:-no line for it}})"
    python -m zipfile -e "$tf_part/$tf_zip" "$tf_part/unpacked" && chmod +x "$tf_part/unpacked/terraform" ||
      tf_fail "could not unpack terraform from $tf_zip"
    rm -rf "$CI_PROJECT_DIR/{TERRAFORM_CACHE}" && mkdir -p "$tf_dir" && mv "$tf_part/unpacked/terraform" "$tf_dir/" ||
      tf_fail "cannot write $tf_dir"
    rm -rf "$tf_part"
  fi
  export PATH="$tf_dir:$PATH"
fi'''


def _artifacts(*paths: str) -> dict[str, Any]:
    return {"paths": list(paths), "expire_in": SECRET_EXPIRY, "access": "developer", "when": "always"}


def stages(graphs: list[EnvironmentGraph]) -> list[str]:
    """`check` and `plan` (the merge request's jobs), then `plan-ENV` and `apply-ENV` per environment in order.

    GitLab refuses a pipeline in which a job `needs` a job of a later stage ("need X is not defined in current or
    prior stages": https://docs.gitlab.com/ci/yaml/#needs). An environment's plan job needs the previous
    environment's apply jobs, so each environment has stages of its own, after the previous one's."""
    return ["check", "plan", *(s for g in graphs for s in (job_id("plan", g.name), job_id("apply", g.name)))]


def _stage(job: Job) -> str:
    if job.stage in ("check", "plan", "comment"):
        return "check" if job.stage == "check" else "plan"
    assert job.env is not None
    return job_id("plan" if job.stage == "deploy-plan" else "apply", job.env)


CREDENTIALS_JOB = ".platform-credentials"
"""The hidden job of the project's own credentials file (pipeline.CREDENTIALS) that every job running `platform`
extends."""


def _job(job: Job, when: str, settings: Settings) -> dict[str, Any]:
    out: dict[str, Any] = {"stage": _stage(job)}
    if settings.credentials and job.stage != "comment":
        out["extends"] = CREDENTIALS_JOB
        out["variables"] = {"PLATFORM_ENV": job.env or ""}
    out["rules"] = [{"if": MERGE_REQUEST if when == "merge_request" else DEFAULT_BRANCH}]
    out["needs"] = list(job.needs)
    out["script"] = list(job.script)
    return out


def render(graphs: list[EnvironmentGraph], settings: Settings) -> dict[str, dict[str, Any]]:
    """File name (at the project root) -> pipeline."""
    doc: dict[str, Any] = {
        "workflow": {"rules": [{"if": MERGE_REQUEST}, {"if": DEFAULT_BRANCH}]},
        "stages": stages(graphs),
        "variables": {"PLATFORM_CI_IMAGE": settings.image, "PIP_CACHE_DIR": "$CI_PROJECT_DIR/.cache/pip"},
        "default": {
            "image": "$PLATFORM_CI_IMAGE",
            "cache": {"key": {"prefix": "platform", "files": ["pyproject.toml"]},
                      "paths": [".cache/pip", TERRAFORM_CACHE, *CACHED_PATHS]},
            "before_script": [install_terraform(settings.terraform), settings.install],
        },
    }
    if settings.credentials:
        doc = {"include": [{"local": CREDENTIALS["gitlab"]}], **doc}
    for job in pull_request_jobs(graphs, settings):
        name = f"mr-{job.id}"
        entry = _job(job, "merge_request", settings)
        entry["needs"] = [f"mr-{n}" for n in job.needs]
        if job.stage == "plan":
            assert job.env is not None
            entry["artifacts"] = _artifacts(plan_report(job.env, "md"))
        elif job.stage == "comment":
            entry["script"] = [COMMENT]
            entry["before_script"] = []
            entry["when"] = "always"
        doc[name] = entry
    for job in deploy_jobs(graphs):
        assert job.env is not None
        entry = _job(job, "default_branch", settings)
        if job.stage == "deploy-plan":
            entry["script"] = [*job.script, f"cat {plan_report(job.env, 'md')}"]
            # The reports only: saved plans may hold secret values and no job uses them (each apply plans again).
            entry["artifacts"] = _artifacts(plan_report(job.env, "json"), plan_report(job.env, "md"))
        else:
            entry["needs"] = [{"job": n, "artifacts": n.startswith("plan-")} for n in job.needs]
            entry["environment"] = {"name": job.env}
            if job.protected:  # else GitLab's guess from the name (DEPLOYMENT_TIER)
                entry["environment"]["deployment_tier"] = DEPLOYMENT_TIER
            entry["resource_group"] = f"platform-{job.env}"
            if job.protected and job.wave == 0:
                entry["rules"] = [{"if": DEFAULT_BRANCH, "when": "manual", "allow_failure": False}]
        doc[job.id] = entry
    return {".gitlab-ci.yml": doc}
