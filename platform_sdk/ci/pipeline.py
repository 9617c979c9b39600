"""The pipeline, neutral: which jobs exist, what each runs, and which jobs each needs. Rendered per CI system
by `github` and `gitlab`.

On a pull (merge) request: `check` (the generated pipeline is current, every environment synthesizes and passes
`platform check`), then one `plan` job per environment whose Markdown report (`platform plan --format markdown`)
becomes one comment on the request.

On the default branch, per environment in the order given (each after the previous one applied): `plan` again,
writing the report people review (job summary) and `--report` for the apply jobs; then one `apply` job per
dependency wave (ci/waves.py), applying the wave's stacks in parallel (`platform apply --stack ...`). A wave job
needs the jobs of the waves its stacks' producers are in (and the environment's plan job). Each wave job plans
again at the same commit and refuses to apply a plan that differs from the reviewed report (`--expect`,
terraform/expect.py): a stale plan is never applied. Saved plan files may hold secret values and no job uses
them: they are never uploaded or printed; the reports (addresses and actions, no values) are short-lived artifacts.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from platform_sdk import providers
from platform_sdk.ci import options
from platform_sdk.ci.waves import wave_needs, waves
from platform_sdk.errors import PlatformError

REPORT_DIR = ".platform/ci"
"""Where plan reports are written in a job (inside .platform: ignored by git, never cached)."""
CACHED_PATHS = (".platform/plugin-cache", ".platform/vendor")
"""Cached between jobs: Terraform's provider plugin cache and the wheels vendored into function packages. The
rest of .platform is not: local state, move records and locks must never come back from a cache."""


@dataclass(frozen=True)
class EnvironmentGraph:
    """One environment's synthesized stack graph: stack -> the stacks it reads from."""

    name: str
    protected: bool
    dependencies: Mapping[str, Sequence[str]]


def default_install(root: Path | None = None) -> str:
    """How the jobs install the project and the SDK, by what the project at `root` has (None: a packaged project):

    - `pyproject.toml`, `setup.py` or `setup.cfg`: `python -m pip install -e '.[<extras>]'`, the project with the
      SDKs of every cloud plug-in (its extras name them: each plug-in's `CloudPlugin.extra`, sorted);
    - else `requirements.txt`: `python -m pip install -r requirements.txt` (it names platform-sdk and its extras);
    - else (what `platform init` makes): `python -m pip install '<requirement>'`, the SDK that generated the
      pipeline, from where it was installed (`sdk_source.requirement`: a VCS commit, an archive URL, or
      `platform-sdk==<version>` only when it came from a package index).

    Raises:
        PlatformError (key `--install`): the last case, with an SDK a CI runner cannot install (editable, from a
        local folder, or never installed).
    """
    extras = sorted({found.extra for found in providers.plugins().values() if found.extra})
    if root is None or any((root / name).is_file() for name in ("pyproject.toml", "setup.py", "setup.cfg")):
        return "python -m pip install -e " + shlex.quote(f".[{','.join(extras)}]" if extras else ".")
    if (root / "requirements.txt").is_file():
        return "python -m pip install -r requirements.txt"
    from importlib.metadata import distributions

    from platform_sdk.ci.sdk_source import NAME, requirement

    # the installed metadata (a RECORD, PEP 627), not the `platform_sdk.egg-info` a build leaves in a source tree,
    # which importlib.metadata finds first when that tree is on sys.path (tests run from it)
    found = next((d for d in distributions(name=NAME) if d.read_text("RECORD") is not None), None)
    if found is None:
        raise PlatformError("the jobs cannot install the platform-sdk that runs here: it runs from a source tree "
                            "that was never installed", key="--install",
                            hint="say how the jobs install the project and platform-sdk with --install")
    return "python -m pip install " + shlex.quote(requirement(found, extras))


CREDENTIALS = {"github": ".github/actions/platform-credentials/action.yml",
               "gitlab": ".gitlab/platform-credentials.yml"}
"""The project's own cloud-credentials step, a file the project owns (never generated, never checked): a GitHub
composite action every job that runs `platform` uses after the checkout, with input `environment` (the
environment's name, "" for the checks); a GitLab file the pipeline includes, whose hidden job `.platform-credentials`
every such job extends (`id_tokens:`, `variables:`; it must not set `before_script` or `script`) with `PLATFORM_ENV`
set to the environment's name. Where the pipeline gets cloud credentials (OIDC federation: GitHub's `id-token: write`
permission is set) is the project's to say: roles and accounts differ between projects and environments."""


@dataclass(frozen=True)
class Settings:
    """What the generated jobs install and run with (`platform ci` options)."""

    envs: tuple[str, ...]
    system: str
    branch: str = "main"
    python: str = "3.11"
    terraform: str = "1.0.3"
    install: str = field(default_factory=default_install)  # the project with every cloud plug-in's extra
    project_install: str | None = None  # `default_install(root)` of the project: --install left out when equal
    image: str = "python:3.11"  # GitLab: needs Python; Terraform is installed when it has no terraform or tofu
    out: str | None = None  # --out, relative to the project root; None: the system's usual place
    credentials: bool = False  # the project has its own credentials step (CREDENTIALS[system]): every job uses it

    def __post_init__(self) -> None:
        """Raises PlatformError naming the option for a value the pipeline cannot use (ci/options.py): Terraform
        not one exact release (GitLab) or not a version range setup-terraform reads (GitHub), Python older than the
        SDK needs or not `X.Y`, an empty or unsafe branch or image, an empty install command."""
        options.check(self.system, self.terraform, self.python, self.branch, self.image)
        if not self.install.strip():
            raise PlatformError("an empty command installs nothing", key="--install", value=self.install)


@dataclass
class Job:
    """One CI job. `id` is valid on both systems (letters, digits, `-`, `_`)."""

    id: str
    title: str
    stage: str  # check | plan | comment | deploy-plan | apply
    env: str | None = None
    protected: bool = False
    wave: int | None = None  # 0-based
    stacks: list[str] = field(default_factory=list)
    needs: list[str] = field(default_factory=list)
    script: list[str] = field(default_factory=list)


def job_id(*parts: str) -> str:
    return "-".join(re.sub(r"[^A-Za-z0-9_-]+", "-", p) for p in parts)


def plan_report(env: str, extension: str) -> str:
    return f"{REPORT_DIR}/plan-{env}.{extension}"


OPTIONS = {"branch": "--branch", "python": "--python", "terraform": "--terraform-version", "install": "--install",
           "image": "--image", "out": "--out"}


def regenerate_command(settings: Settings) -> str:
    """The command that generates these files again: the environments and every option not at its default."""
    words = ["platform", "ci", settings.system, *(w for e in settings.envs for w in ("--env", e))]
    defaults = Settings(envs=(), system=settings.system)
    for name, option in OPTIONS.items():
        value = getattr(settings, name)
        # --install: left out only when it is what the project's files give (None: there is no such default)
        default = settings.project_install if name == "install" else getattr(defaults, name)
        if value != default:
            words += [option, str(value)]
    return shlex.join(words)


def pull_request_jobs(graphs: Sequence[EnvironmentGraph], settings: Settings) -> list[Job]:
    """check, plan per environment, then one comment with every environment's report."""
    check = Job("check", "synth and check", "check", script=[
        f"{regenerate_command(settings)} --check",
        *(line for g in graphs for line in (f"platform synth --env {shlex.quote(g.name)}",
                                             f"platform check --env {shlex.quote(g.name)}")),
    ])
    plans = [Job(job_id("plan", g.name), f"plan {g.name}", "plan", env=g.name, needs=["check"], script=[
        f"mkdir -p {REPORT_DIR}",
        f"platform plan --env {shlex.quote(g.name)} --format markdown > {plan_report(g.name, 'md')}",
        f"cat {plan_report(g.name, 'md')}",  # the report in the job's log too (GitLab without PLATFORM_MR_TOKEN)
    ]) for g in graphs]
    comment = Job("comment", "plan report comment", "comment", needs=[p.id for p in plans])
    return [check, *plans, comment]


def deploy_jobs(graphs: Sequence[EnvironmentGraph]) -> list[Job]:
    """Per environment, in order: plan, then one apply job per wave; each environment after the previous one."""
    jobs: list[Job] = []
    previous: list[str] = []
    for graph in graphs:
        env = shlex.quote(graph.name)
        plan = Job(job_id("plan", graph.name), f"plan {graph.name}", "deploy-plan", env=graph.name,
                   protected=graph.protected, needs=list(previous), script=[
                       f"mkdir -p {REPORT_DIR}",
                       f"platform plan --env {env} --format markdown --report {plan_report(graph.name, 'json')}"
                       f" > {plan_report(graph.name, 'md')}",
                   ])
        jobs.append(plan)
        ids = [job_id("apply", graph.name, f"wave-{n + 1}") for n in range(len(waves(graph.dependencies)))]
        for n, (stacks, needed) in enumerate(zip(waves(graph.dependencies), wave_needs(graph.dependencies),
                                                  strict=True)):
            selected = " ".join(f"--stack {shlex.quote(s)}" for s in stacks)
            jobs.append(Job(ids[n], f"apply {graph.name} wave {n + 1}", "apply", env=graph.name,
                            protected=graph.protected, wave=n, stacks=list(stacks),
                            needs=[plan.id, *(ids[w] for w in needed)], script=[
                                f"platform apply --env {env} {selected} --auto-approve "
                                f"--expect {plan_report(graph.name, 'json')}",
                            ]))
        previous = ids or [plan.id]
    return jobs


def check_envs(names: Sequence[str]) -> None:
    """Raises PlatformError for no environment, a repeated one, or two whose job ids would collide."""
    if not names:
        raise PlatformError("name at least one environment", key="--env", hint="e.g. --env dev --env prod")
    seen: dict[str, str] = {}
    for name in names:
        key = job_id(name)
        if key in seen:
            raise PlatformError(f"environment given twice (or named alike: {seen[key]})", key="--env", value=name)
        seen[key] = name
