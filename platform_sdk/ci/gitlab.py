"""GitLab CI: one `.gitlab-ci.yml` whose jobs run on merge requests or on the default branch (`rules`).

GitLab's words: `needs` (the DAG), `environment` on every apply job (a protected environment limits who may
deploy: https://docs.gitlab.com/ci/environments/protected_environments/), `when: manual` on the first wave of a
protected environment (the approval; `allow_failure: false` keeps the later waves waiting), `resource_group`
(one apply per environment at a time), artifacts with `expire_in` and `access: developer`, `cache`.
The merge-request comment needs a token allowed to write notes: a CI/CD variable `PLATFORM_MR_TOKEN`
(`CI_JOB_TOKEN` cannot); without it the report stays in the job log and artifacts.
"""

from __future__ import annotations

from typing import Any

from platform_sdk.ci.pipeline import (
    CACHED_PATHS,
    REPORT_DIR,
    EnvironmentGraph,
    Job,
    Settings,
    deploy_jobs,
    plan_files,
    plan_report,
    pull_request_jobs,
)

MERGE_REQUEST = '$CI_PIPELINE_SOURCE == "merge_request_event"'
DEFAULT_BRANCH = "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"
SECRET_EXPIRY = "1 day"
"""Plan files and reports live one day: long enough to audit a run, short for what may hold secret values."""

COMMENT = (
    'if [ -z "${PLATFORM_MR_TOKEN:-}" ]; then echo "PLATFORM_MR_TOKEN is not set: the plan report is in the plan '
    'jobs\' logs and artifacts"; exit 0; fi\n'
    f'cat {REPORT_DIR}/plan-*.md > {REPORT_DIR}/comment.md\n'
    'curl --fail --silent --show-error --request POST --header "PRIVATE-TOKEN: $PLATFORM_MR_TOKEN" '
    f'--data-urlencode "body@{REPORT_DIR}/comment.md" '
    '"$CI_API_V4_URL/projects/$CI_PROJECT_ID/merge_requests/$CI_MERGE_REQUEST_IID/notes" > /dev/null'
)
NEEDS_TERRAFORM = ('command -v terraform >/dev/null || command -v tofu >/dev/null || { echo "platform ci: this '
                   'image has no terraform or tofu: use one with Python and Terraform (variable PLATFORM_CI_IMAGE)" '
                   '>&2; exit 1; }')


def _artifacts(*paths: str) -> dict[str, Any]:
    return {"paths": list(paths), "expire_in": SECRET_EXPIRY, "access": "developer", "when": "always"}


def _job(job: Job, when: str) -> dict[str, Any]:
    out: dict[str, Any] = {"stage": job.stage if job.stage in ("check", "plan", "apply") else
                           {"comment": "plan", "deploy-plan": "plan"}[job.stage]}
    out["rules"] = [{"if": MERGE_REQUEST if when == "merge_request" else DEFAULT_BRANCH}]
    out["needs"] = list(job.needs)
    out["script"] = list(job.script)
    return out


def render(graphs: list[EnvironmentGraph], settings: Settings) -> dict[str, dict[str, Any]]:
    """File name (at the project root) -> pipeline."""
    doc: dict[str, Any] = {
        "workflow": {"rules": [{"if": MERGE_REQUEST}, {"if": DEFAULT_BRANCH}]},
        "stages": ["check", "plan", "apply"],
        "variables": {"PLATFORM_CI_IMAGE": settings.image, "PIP_CACHE_DIR": "$CI_PROJECT_DIR/.cache/pip"},
        "default": {
            "image": "$PLATFORM_CI_IMAGE",
            "cache": {"key": {"prefix": "platform", "files": ["pyproject.toml"]},
                      "paths": [".cache/pip", *CACHED_PATHS]},
            "before_script": [NEEDS_TERRAFORM, settings.install],
        },
    }
    for job in pull_request_jobs(graphs, settings):
        name = f"mr-{job.id}"
        entry = _job(job, "merge_request")
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
        entry = _job(job, "default_branch")
        if job.stage == "deploy-plan":
            entry["script"] = [*job.script, f"cat {plan_report(job.env, 'md')}"]
            # Saved plans may hold secret values: kept one day for audit, developers only, never printed.
            entry["artifacts"] = _artifacts(plan_report(job.env, "json"), plan_report(job.env, "md"),
                                            plan_files(job.env))
        else:
            entry["needs"] = [{"job": n, "artifacts": n.startswith("plan-")} for n in job.needs]
            entry["environment"] = {"name": job.env, "deployment_tier": "production" if job.protected else
                                    "development"}
            entry["resource_group"] = f"platform-{job.env}"
            if job.protected and job.wave == 0:
                entry["rules"] = [{"if": DEFAULT_BRANCH, "when": "manual", "allow_failure": False}]
        doc[job.id] = entry
    return {".gitlab-ci.yml": doc}
