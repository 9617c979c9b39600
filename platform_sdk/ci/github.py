"""GitHub Actions workflows: `platform-pr.yml` (pull requests) and `platform-deploy.yml` (the default branch).

GitHub's words: a job's `needs`, `environment` (required reviewers on a protected environment make each of its
apply jobs wait for approval: https://docs.github.com/actions/deployment/targeting-different-environments),
artifacts with `retention-days` (the reviewed plan reports; saved plan files, which may hold secret values,
are never uploaded: each apply job plans again and holds it to the report, `--expect`), `concurrency` (one deploy
at a time, queued, never cancelled), `actions/cache`. The comment job has no checkout: `gh` finds the repository
in `GH_REPO` (https://cli.github.com/manual/gh_help_environment).
"""

from __future__ import annotations

from typing import Any

from platform_sdk.ci.pipeline import (
    CACHED_PATHS,
    CREDENTIALS,
    REPORT_DIR,
    EnvironmentGraph,
    Job,
    Settings,
    deploy_jobs,
    plan_report,
    pull_request_jobs,
)

RUNNER = "ubuntu-latest"
SECRET_RETENTION_DAYS = 1
"""Plan reports live one day: long enough to audit a run (they name resources, never their values)."""


def _setup(settings: Settings, env: str | None) -> list[dict[str, Any]]:
    credentials = [{"name": "cloud credentials", "uses": "./" + CREDENTIALS["github"].rsplit("/", 1)[0],
                    "with": {"environment": env or ""}}] if settings.credentials else []
    return [
        {"uses": "actions/checkout@v4"},
        *credentials,
        {"uses": "actions/setup-python@v5", "with": {"python-version": settings.python}},
        {"uses": "hashicorp/setup-terraform@v3",
         "with": {"terraform_version": settings.terraform, "terraform_wrapper": False}},
        {"uses": "actions/cache@v4", "with": {
            "path": "\n".join(["~/.cache/pip", *CACHED_PATHS]),
            "key": "platform-${{ runner.os }}-${{ hashFiles('pyproject.toml', 'requirements*.txt', "
                   "'services/**/requirements.txt') }}",
            "restore-keys": "platform-${{ runner.os }}-"}},
        {"name": "install", "run": settings.install},
    ]


def _job(job: Job, settings: Settings, steps: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": job.title, "runs-on": RUNNER}
    if job.needs:
        out["needs"] = list(job.needs)
    if job.stage == "apply":
        out["environment"] = job.env
    out["steps"] = [*_setup(settings, job.env), *steps] if job.stage != "comment" else steps
    return out


def _run(job: Job) -> dict[str, Any]:
    return {"name": job.title, "run": "\n".join(job.script)}


def _upload(name: str, path: str) -> dict[str, Any]:
    return {"uses": "actions/upload-artifact@v4", "with": {
        "name": name, "path": path, "retention-days": SECRET_RETENTION_DAYS, "if-no-files-found": "ignore"}}


def pull_request(graphs: list[EnvironmentGraph], settings: Settings) -> dict[str, Any]:
    jobs: dict[str, Any] = {}
    for job in pull_request_jobs(graphs, settings):
        if job.stage == "check":
            jobs[job.id] = _job(job, settings, [_run(job)])
        elif job.stage == "plan":
            assert job.env is not None
            jobs[job.id] = _job(job, settings, [_run(job), _upload(f"platform-plan-{job.env}",
                                                                   plan_report(job.env, "md"))])
        else:
            jobs[job.id] = _job(job, settings, [
                {"uses": "actions/download-artifact@v4",
                 "with": {"pattern": "platform-plan-*", "merge-multiple": True, "path": REPORT_DIR}},
                {"name": "comment on the pull request", "env": {
                    "GH_TOKEN": "${{ github.token }}", "GH_REPO": "${{ github.repository }}",
                    "PR": "${{ github.event.pull_request.number }}"},
                 "run": "\n".join([
                     f"cat {REPORT_DIR}/plan-*.md > {REPORT_DIR}/comment.md",
                     f'gh pr comment "$PR" --edit-last --body-file {REPORT_DIR}/comment.md '
                     f'|| gh pr comment "$PR" --body-file {REPORT_DIR}/comment.md'])},
            ])
            jobs[job.id]["if"] = "${{ !cancelled() }}"
    return {
        "name": "platform: plan",
        "on": {"pull_request": {"branches": [settings.branch]}},
        "permissions": {"contents": "read", "pull-requests": "write", "id-token": "write"},
        "concurrency": {"group": "platform-plan-${{ github.event.pull_request.number }}",
                        "cancel-in-progress": True},
        "jobs": jobs,
    }


def deploy(graphs: list[EnvironmentGraph], settings: Settings) -> dict[str, Any]:
    jobs: dict[str, Any] = {}
    for job in deploy_jobs(graphs):
        assert job.env is not None
        if job.stage == "deploy-plan":
            jobs[job.id] = _job(job, settings, [
                _run(job),
                {"name": "plan report", "run": f'cat {plan_report(job.env, "md")} >> "$GITHUB_STEP_SUMMARY"'},
                _upload(f"platform-plan-{job.env}", plan_report(job.env, "json")),
            ])
        else:
            jobs[job.id] = _job(job, settings, [
                {"uses": "actions/download-artifact@v4",
                 "with": {"name": f"platform-plan-{job.env}", "path": REPORT_DIR}},
                _run(job),
            ])
    return {
        "name": "platform: deploy",
        "on": {"push": {"branches": [settings.branch]}},
        "permissions": {"contents": "read", "id-token": "write"},
        "concurrency": {"group": "platform-deploy", "cancel-in-progress": False},
        "jobs": jobs,
    }


def render(graphs: list[EnvironmentGraph], settings: Settings) -> dict[str, dict[str, Any]]:
    """File name (under .github/workflows) -> workflow."""
    return {"platform-pr.yml": pull_request(graphs, settings), "platform-deploy.yml": deploy(graphs, settings)}
