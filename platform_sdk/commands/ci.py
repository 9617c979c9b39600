"""`platform ci github|gitlab --env E [--env E2 ...]`: CI pipelines from the synthesized stack graph (platform_sdk/ci).

Every environment is validated before anything is synthesized, and every target file checked before any is
written: bad input (an unknown system or environment, an option value the pipeline cannot use, an `--out` that
cannot be a folder, an SDK the jobs cannot install without `--install`, an existing pipeline file that
`platform ci` did not generate) exits 2 with one message and writes nothing. `--check` synthesizes into a
temporary folder (cdktf.out/ stays as it is), writes nothing and exits 1 when the files on disk differ from what
would be generated (the pull-request pipeline runs it, so a pipeline that no longer matches the stack graph fails
review).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from platform_sdk.commands._common import ProjectOption, console, err_console, project_at, run_synth, user_errors
from platform_sdk.errors import PlatformError

SYSTEMS = ("github", "gitlab")
DEFAULT_OUT = {"github": Path(".github") / "workflows", "gitlab": Path(".")}


def _comments(system: str, graphs: list[Any], settings: Any) -> list[str]:
    from platform_sdk.ci.pipeline import regenerate_command
    from platform_sdk.ci.waves import waves

    lines = [f"from the stack graph by `{regenerate_command(settings)}`. Do not edit by hand: regenerate after",
             "changing services or environments (the check job fails while this file is stale).", ""]
    for graph in graphs:
        found = waves(graph.dependencies)
        lines.append(f"{graph.name}: {len(graph.dependencies)} stack(s) in {len(found)} wave(s)"
                     + (" - protected" if graph.protected else ""))
        lines += [f"  wave {n + 1}: {', '.join(stacks)}" for n, stacks in enumerate(found)]
    protected = [g.name for g in graphs if g.protected]
    lines.append("")
    if protected and system == "github":
        lines.append(f"Give the GitHub environment(s) {', '.join(protected)} required reviewers: each apply job waits "
                     "for approval.")
    elif protected:
        lines.append(f"Protect the GitLab environment(s) {', '.join(protected)}: their first wave is a manual job.")
    lines += ["Cloud credentials come from the CI system (OIDC federation or protected variables), as for Terraform.",
              "Each apply job plans again and refuses a plan that differs from the reviewed one (--expect)."]
    return lines


def _check_out(target: Path, given: Path | None) -> None:
    """Raises PlatformError when the folder `target` cannot be made or written: a file is on its path (or is it), or
    its nearest existing folder is not writable. Checked before synthesis, so nothing is written."""
    for folder in (target, *target.parents):
        if not folder.exists():
            continue
        where = {"key": "--out", "value": str(given)} if given is not None else {}
        if not folder.is_dir():
            raise PlatformError(f"{folder} is a file, not a folder to write the pipeline files into", **where,
                                hint=None if given is not None else "move it away, or give --out another directory")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PlatformError(f"{folder} is not writable", **where)
        return


@user_errors
def ci(system: Annotated[str, typer.Argument(help="github or gitlab.")],
       envs: Annotated[list[str] | None, typer.Option("--env", "-e", help="An environment, in promotion order "
                                                      "(repeatable): each deploys after the previous one.")] = None,
       out: Annotated[Path | None, typer.Option("--out", help="Directory to write into (default: .github/workflows "
                                                "or the project root).")] = None,
       check: Annotated[bool, typer.Option("--check", help="Write nothing (synthesizes into a temporary folder, "
                                                   "cdktf.out/ untouched); exit 1 if the files are stale.")] = False,
       branch: Annotated[str, typer.Option(help="The default branch: merges to it deploy.")] = "main",
       python: Annotated[str, typer.Option(help="Python version of the jobs (GitHub), X.Y, 3.11 or later.")] = "3.11",
       terraform_version: Annotated[str, typer.Option("--terraform-version", help="Terraform of the jobs "
                                                      "(GitHub: a version, a range such as ~1.5, or latest; GitLab: "
                                                      "one exact release, installed when the image has no "
                                                      "terraform or tofu).")] = "1.0.3",
       install: Annotated[str | None, typer.Option(help="Shell command installing the project and platform-sdk "
                                                   "(default, by the project's files: pip install -e with every "
                                                   "cloud plug-in's extra for a pyproject.toml, -r requirements.txt, "
                                                   "else this platform-sdk from where it was installed: a git "
                                                   "commit or a package index; an editable or local install is "
                                                   "refused without --install).")]
       = None,
       image: Annotated[str, typer.Option(help="Image of the jobs (GitLab): with Python; Terraform is "
                                                "installed unless it has terraform or tofu.")] = "python:3.11",
       project: ProjectOption = None) -> None:
    """Write CI pipelines from the stack graph: plan on pull requests, apply wave by wave on the default branch."""
    from platform_sdk.ci import files, github, gitlab, options
    from platform_sdk.ci.pipeline import (
        CREDENTIALS,
        EnvironmentGraph,
        Settings,
        check_envs,
        default_install,
        regenerate_command,
    )
    from platform_sdk.envs import find_environment
    from platform_sdk.loader import load_services
    from platform_sdk.terraform.locks import workspace_lock

    if system not in SYSTEMS:
        raise PlatformError(f"unknown CI system (known: {', '.join(SYSTEMS)})", key="SYSTEM", value=system)
    names = list(envs or [])
    check_envs(names)
    proj = project_at(project)
    environments = [find_environment(proj.envs_dir, name) for name in names]  # all validated before any synthesis
    for environment in environments:
        if not environment.state.shared:
            raise PlatformError("keeps its Terraform state in files on this machine: every CI job starts on a fresh "
                                "runner, so each apply would find no state and create the estate again",
                                file=environment.file, key="state.backend", value=environment.state.backend,
                                hint="give it a shared state backend (`[state]` in docs/environment-reference.md), "
                                     "or leave it out of the pipeline")
    options.check(system, terraform_version, python, branch, image)  # the values given, before the defaults
    target = (out if out is not None else proj.root / DEFAULT_OUT[system]).resolve()
    _check_out(target, out)
    relative = None
    if out is not None:
        relative = target.relative_to(proj.root) if target.is_relative_to(proj.root) else target
    try:
        project_install: str | None = default_install(proj.root)
    except PlatformError:
        if install is None:
            raise
        project_install = None  # --install says how: the regenerate command always repeats it
    settings = Settings(envs=tuple(names), system=system, branch=branch, python=python, terraform=terraform_version,
                        install=install if install is not None else str(project_install),
                        project_install=project_install,
                        image=image, out=None if relative is None else str(relative),
                        credentials=(proj.root / CREDENTIALS[system]).is_file())
    services = load_services(proj.services_dir)
    graphs = []
    for environment in environments:
        with workspace_lock(proj.cache_dir, environment.name, "ci"):  # never under a running apply (else exit 1)
            if check:  # cdktf.out/<env> stays as it is
                with tempfile.TemporaryDirectory(prefix="ci-check-", dir=proj.cache_dir) as scratch:
                    result = run_synth(proj, environment, services, outdir=Path(scratch) / environment.name)
            else:
                result = run_synth(proj, environment, services)
        graphs.append(EnvironmentGraph(environment.name, environment.protected,
                                       {name: list(info.dependencies) for name, info in result.stacks.items()}))
    renderer = github.render if system == "github" else gitlab.render
    comments = _comments(system, graphs, settings)
    texts = {target / name: files.to_yaml(doc, comments) for name, doc in renderer(graphs, settings).items()}
    files.refuse_foreign(texts)
    if check:
        outdated = files.stale(texts)
        for path in outdated:
            err_console.print(f"[bold red]stale:[/] {escape(str(path))} does not match the stack graph: run "
                              f"`{escape(regenerate_command(settings))}`", highlight=False, soft_wrap=True)
        if outdated:
            raise typer.Exit(1)
        console.print(f"{len(texts)} pipeline file(s) current", highlight=False)
        return
    files.write(texts)
    for path in texts:
        console.print(f"wrote {escape(str(path))}", highlight=False, soft_wrap=True)


COMMANDS = (ci,)
