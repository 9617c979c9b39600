"""Rehearsals: a local environment whose stand-ins refuse what the rehearsed environment's clouds would refuse.

`envs/local.toml` says `rehearses = "prod"`. Synthesizing it then also builds the estate for the *rehearsed*
environment's clouds (its accounts, projects, regions, networks, overrides, profile and waivers) with the *local*
environment's placement — what runs where in the rehearsal — into a scratch folder, and runs the conformance
analysis on it (synth/verify.py). Why the local placement: a move rehearsed locally (`platform move thumbnails
--to gcp --env local`) must meet the refusals that placement would meet in production, before production does.

Every operation the analysis finds missing becomes a denial of the local function that performs it
(contract.DENY): the runtime raises the analysis' own message at that call (`bucket("files").put(...)`), and the
local adapter refuses deliveries the rehearsed cloud would not make. Exposures are reported, not denied (they are
ways in, not operations). `platform apply --env local` reports what would fail there without failing the local
apply.

A function declared `internet=True` that the rehearsed environment's synthesis would refuse because it could not
reach the internet there (`Compiler.internet_refusal`: on AWS, in the VPC without a NAT gateway) is reported and
denied `internet.https` (contract.INTERNET) with that refusal as its message: the local cloud cuts its worker off
from the internet, so its calls fail at once where they would time out there. The rest of the estate is rehearsed
as if it did not declare the need (an `internet = false` override in the rehearsed build only).

The scratch build is for the analysis only, but its function packages are built as the rehearsed clouds build
them: dependencies resolved and vendored by the rehearsed cloud's plug-in (for AWS: binary wheels for the Lambda
runtime, from the project's wheel cache or the package index) and held to its package size limits. So a
requirements.txt the rehearsed environment's synthesis would refuse (a version that does not exist, a package with
no wheel for the runtime) is reported as a refusal of this placement, though the local stand-ins, which run in the
project's own Python environment, deploy it. No guardrails run (the rehearsed environment's own synthesis checks
those).
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from platform_sdk import contract
from platform_sdk.cdk import engine
from platform_sdk.conformance import INTERNET, INTERNET_CAUSE, MISSING, Finding
from platform_sdk.envs import Environment, environment_path, load_environment
from platform_sdk.errors import EnvironmentError_, PlatformError
from platform_sdk.model import Function, Service
from platform_sdk.profile import load_profile
from platform_sdk.project import Project
from platform_sdk.providers import compilers_for
from platform_sdk.synth.estate import EstateBuilder
from platform_sdk.synth.graph import dependencies_from_manifest
from platform_sdk.synth.overrides import apply_overrides
from platform_sdk.synth.verify import ConformanceReport, examine_env


@dataclass
class Rehearsal:
    """What the rehearsed environment's clouds would refuse the estate as placed in the rehearsing environment."""

    env: str  # the rehearsing environment (local)
    rehearsed: str  # the environment it rehearses (prod)
    report: ConformanceReport | None = None
    error: str | None = None  # the rehearsed environment could not be built with this placement: nothing denied
    denials: dict[str, list[contract.Denial]] = field(default_factory=dict)  # function address -> denials

    @property
    def lines(self) -> list[str]:
        """One line per finding (what `platform apply` prints), or the reason nothing could be rehearsed."""
        if self.error is not None:
            return [f"cannot rehearse {self.rehearsed} with this placement: {self.error}"]
        return [str(f) for f in self.report.findings] if self.report is not None else []

    def to_json(self) -> dict[str, Any]:
        return {"rehearses": self.rehearsed, "error": self.error,
                "conformance": self.report.to_json() if self.report is not None else None,
                "denied": {fn: [dataclasses.asdict(d) for d in items] for fn, items in sorted(self.denials.items())}}


def rehearsed_environment(env: Environment) -> Environment:
    """The environment `env` rehearses, with `env`'s default cloud and placement.

    Raises EnvironmentError_ (naming `env`'s file and its `rehearses` key) when the rehearsed environment has no
    section for a cloud this placement uses.
    """
    assert env.rehearses is not None and env.file is not None
    rehearsed = load_environment(environment_path(Path(env.file).parent, env.rehearses))
    for cloud in sorted({env.default_cloud, *env.placement.values()}):
        if not rehearsed.is_configured(cloud):
            raise EnvironmentError_(f"the rehearsed environment has no [clouds.{cloud}] section, which this "
                                    f"environment's placement uses", file=env.file, key="rehearses",
                                    value=env.rehearses)
    return rehearsed.model_copy(update={"default_cloud": env.default_cloud, "placement": dict(env.placement)})


def denials_of(report: ConformanceReport) -> dict[str, list[contract.Denial]]:
    """Function address -> the operations the analysis found missing, with its message."""
    found: dict[str, list[contract.Denial]] = {}
    for finding in report.findings:
        if finding.kind != MISSING:
            continue
        resource = finding.target.split(".", 1)[1] if finding.target else ""
        found.setdefault(finding.function, []).append(contract.Denial(finding.operation, resource, str(finding)))
    return found


def internet_cut_off(rehearsed: Environment, services: list[Service]) -> list[Finding]:
    """A finding (`internet.https`) for each function the rehearsed environment's cloud would refuse its declared
    `internet=True` (`Compiler.internet_refusal`), the refusal as what is missing; the rehearsed environment's
    overrides applied first (they may declare the need)."""
    apply_overrides(rehearsed, services)
    compilers = compilers_for(rehearsed)
    found = []
    for service in services:
        for fn in service.of(Function):
            cloud = rehearsed.cloud_of(service.name, fn.name)
            compiler = compilers.get(rehearsed.target_of(cloud))
            refusal = compiler.internet_refusal(rehearsed, fn) if fn.internet and compiler is not None else None
            if refusal is not None:
                found.append(Finding(fn.address, INTERNET_CAUSE, INTERNET, f"a route to the internet: {refusal}",
                                     MISSING, cloud))
    return found


def without_internet(rehearsed: Environment, cut: list[Finding]) -> Environment:
    """`rehearsed` with `internet = false` for the functions in `cut`, so that its synthesis builds the rest."""
    overrides = {address: dict(values) for address, values in rehearsed.overrides.items()}
    for finding in cut:
        overrides.setdefault(finding.function, {})["internet"] = False
    return rehearsed.model_copy(update={"overrides": overrides})


def rehearse(project: Project, env: Environment, services: list[Service]) -> Rehearsal:
    """Build the estate for the rehearsed environment's clouds with `env`'s placement (scratch folder, analysis
    only) and analyse it. Bad environment files raise; a rehearsed build that fails is reported in `error`."""
    rehearsed = rehearsed_environment(env)
    result = Rehearsal(env.name, rehearsed.name)
    profile = dataclasses.replace(load_profile(project, rehearsed), guardrails=[])
    scratch = Path(tempfile.mkdtemp(prefix=f"platform-rehearsal-{env.name}-"))
    packages = Path(tempfile.mkdtemp(prefix=f"platform-rehearsal-{env.name}-packages-"))
    try:
        cut = internet_cut_off(rehearsed, services)
        rehearsed = without_internet(rehearsed, cut) if cut else rehearsed
        app = engine.App(outdir=str(scratch), stack_traces=False, skip_validation=False)
        builder = EstateBuilder(app, project, rehearsed, services, profile=profile, outdir=scratch,
                                extra_copies={}, packages_dir=packages)
        builder.build(deployed={})
        app.synth()
        dependencies_from_manifest(scratch, builder.stack_infos)
        result.report = examine_env(env, scratch, builder.stack_infos, builder.placements, rehearsed=rehearsed)
        result.report.findings[:0] = cut
    except PlatformError as err:
        result.error = str(err)
        return result
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(packages, ignore_errors=True)
        apply_overrides(env, services)  # the rehearsed build gave the shared model its environment's values
    result.denials = denials_of(result.report)
    return result
