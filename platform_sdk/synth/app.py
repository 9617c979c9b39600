"""Synthesis: the estate + an environment -> one CDKTF stack per (environment, service, cloud).

Nothing is written unless everything compiled and passed its checks: the app synthesizes into a temporary folder
next to the environment's output folder (`cdktf.out/.<env>.synth-<pid>-<random>`), the guardrails and the
conformance analysis (synth/verify.py) read it there, and only then does it replace the output folder in one step: a
rename within one folder, on every machine (a temporary folder under /tmp may be on another file system, a tmpfs on
many Linux systems, where the move would copy every file).
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from platform_sdk import cdk
from platform_sdk.cdk.document import abandon, unrendered
from platform_sdk.envs import Environment, LocalState
from platform_sdk.errors import PlatformError
from platform_sdk.guardrails import run_guardrails_model, run_guardrails_synth
from platform_sdk.model import Resource, Service
from platform_sdk.profile import Profile
from platform_sdk.project import Project
from platform_sdk.providers.base import FunctionPackage
from platform_sdk.synth import collector
from platform_sdk.synth.estate import EstateBuilder, StackInfo
from platform_sdk.synth.graph import dependencies_from_manifest
from platform_sdk.synth.overrides import apply_overrides
from platform_sdk.synth.placement import Placement
from platform_sdk.synth.rehearsal import Rehearsal, rehearse
from platform_sdk.synth.sources import check_folders
from platform_sdk.synth.verify import require_conformance

METADATA_FILE = "platform.json"


@dataclass
class SynthResult:
    env: Environment
    outdir: Path
    stacks: dict[str, StackInfo]
    packages: dict[str, FunctionPackage]
    placements: dict[Resource, Placement]
    rehearsal: Rehearsal | None = None  # what the rehearsed environment's clouds would refuse (`rehearses`)
    warnings: list[str] = field(default_factory=list)
    """Lines to show with the result (escape-hatch resources that are not schema-checked, hatches skipped)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "environment": self.env.name,
            "stacks": {name: vars(info) for name, info in sorted(self.stacks.items())},
            "packages": {
                key: {"sha256": p.sha256, "zipped_bytes": p.zipped_bytes, "unzipped_bytes": p.unzipped_bytes,
                      "target": p.target}
                for key, p in sorted(self.packages.items())
            },
            "rehearsal": self.rehearsal.to_json() if self.rehearsal is not None else None,
        }


cdk.preload()  # importing this module means synthesizing: start the engine while the estate is loaded


def new_app(outdir: Path) -> Any:
    from platform_sdk.cdk import engine

    return engine.App(outdir=str(outdir), stack_traces=False, skip_validation=False)


def previously_deployed(project: Project, env: Environment, outdir: Path) -> dict[str, dict[str, Any]]:
    """Stacks that may hold deployed resources: the runner's record, plus non-empty local state files."""
    found = project.read_deployed(env.name)
    meta = outdir / METADATA_FILE
    last = json.loads(meta.read_text()).get("stacks", {}) if meta.is_file() else {}
    if isinstance(env.state, LocalState):
        for state_file in sorted((project.root / env.state.path / env.name).glob("*.tfstate")):
            name = state_file.stem
            try:
                has_resources = bool(json.loads(state_file.read_text() or "{}").get("resources"))
            except json.JSONDecodeError:
                has_resources = True  # unreadable: assume it holds something
            if has_resources and name not in found and name in last:
                found[name] = last[name]
    return found


def synthesize(project: Project, env: Environment, services: list[Service], only_service: str | None = None,
               profile: Profile | None = None, outdir: Path | None = None,
               extra_copies: dict[str, str] | None = None,
               unprotected_copies: frozenset[str] = frozenset(), *, conformance: bool = True,
               before_replace: Callable[[SynthResult], None] | None = None) -> SynthResult:
    """Compile and synthesize one environment; replace `cdktf.out/<env>` only when everything succeeded.

    `extra_copies` (address -> cloud): a second, unwired instance of a stateful resource (a move's other copy);
    default: the move record's (`Project.retained_copies`). `unprotected_copies`: addresses whose extra copy is
    compiled without deletion protection (a move about to remove that copy). `conformance=False` skips the
    conformance analysis: for callers that analyse the output themselves and report instead of failing
    (`platform check`, a rehearsal's look at the rehearsed environment, tests of known faults). `before_replace`: a
    command's own check of its options against the synthesized estate (the stacks `--stack` names), called with the
    result (its `outdir` the temporary folder) before the output folder is replaced: raising refuses with nothing
    written.
    Raises PlatformError (a ConformanceError, a GuardrailError, ...) with nothing written.
    """
    target_dir = outdir or project.env_outdir(env.name)
    if only_service is not None and only_service not in {s.name for s in services}:
        known = ", ".join(s.name for s in services)
        raise PlatformError(f"unknown service (services: {known})", key="--service", value=only_service)
    with collector.paused():  # what synthesis allocates lives to its end (platform_sdk.synth.collector)
        return _synthesize(project, env, services, only_service, profile, target_dir, extra_copies,
                           unprotected_copies, conformance, before_replace)


def _synthesize(project: Project, env: Environment, services: list[Service], only_service: str | None,
                profile: Profile | None, target_dir: Path, extra_copies: dict[str, str] | None,
                unprotected_copies: frozenset[str], conformance: bool,
                before_replace: Callable[[SynthResult], None] | None) -> SynthResult:
    created_parent = not target_dir.parent.exists()  # removed again if this synthesis writes nothing
    target_dir.parent.mkdir(parents=True, exist_ok=True)
    remove_abandoned_folders(target_dir)
    tmp_dir = _temporary_folder(target_dir)
    try:
        app = new_app(tmp_dir)
        profile = profile or Profile()
        apply_overrides(env, services)  # what this environment deploys, before any hook or check sees it
        for hook in profile.before_synth:
            hook(env, services)
        if extra_copies is None:
            extra_copies = project.retained_copies(env.name)
        builder = EstateBuilder(app, project, env, services, profile=profile, outdir=target_dir,
                                extra_copies=extra_copies, unprotected_copies=unprotected_copies)
        run_guardrails_model(env, services, builder.placements, profile)  # fail fast, before building
        check_folders(services)  # a symlink out of a source or content folder: refused before anything is written
        rehearsal = rehearse(project, env, services) if env.rehearses is not None else None
        builder.denials = rehearsal.denials if rehearsal is not None else {}
        builder.build(deployed=previously_deployed(project, env, target_dir))
        _synth_app(app)
        leaked = unrendered(tmp_dir)
        if leaked:
            stack, marker = leaked[0]
            raise PlatformError(f"a reference ({marker}) reached an engine construct unrendered in stack {stack}: "
                                "pass values for your own constructs through ctx.resolve(...)", key="profile")
        dependencies_from_manifest(tmp_dir, builder.stack_infos)
        stacks = builder.stack_infos
        if only_service is not None:
            stacks = {name: info for name, info in stacks.items() if info.service == only_service}
        result = SynthResult(env, target_dir, stacks, builder.packages, builder.placements, rehearsal,
                             list(builder.warnings))
        (tmp_dir / METADATA_FILE).write_text(json.dumps(result.to_json(), indent=2, sort_keys=True) + "\n")
        run_guardrails_synth(env, tmp_dir, list(stacks), profile)  # on the temp folder: a violation writes nothing
        if conformance:  # every stack, even with --service: a grant reaches into other services' stacks
            require_conformance(env, tmp_dir, builder.stack_infos, builder.placements)
        result.outdir = tmp_dir  # hooks read the new stacks before they replace the old ones
        if before_replace is not None:
            before_replace(result)  # the command's options, checked: a refusal writes nothing
        for after in profile.after_synth:
            after(result)  # may raise: then nothing is written
        result.outdir = target_dir
        if target_dir.exists():  # the old output renamed aside first: no moment without one but two renames
            retired = tmp_dir.with_name(f"{tmp_dir.name}-replaced")  # a killed run's: `remove_abandoned_folders`
            target_dir.rename(retired)
            tmp_dir.rename(target_dir)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            tmp_dir.rename(target_dir)
        return result
    finally:
        abandon()  # after a failure, nothing of this app may reach the next one
        if tmp_dir.exists():
            shutil.rmtree(tmp_dir, ignore_errors=True)
        if created_parent and not target_dir.exists():
            with contextlib.suppress(OSError):  # not empty: something else wrote there meanwhile
                target_dir.parent.rmdir()


def _synth_app(app: Any) -> None:
    """`app.synth()`; CDKTF's own validation of the constructs (a construct a service's `terraform()` hatch or a
    profile added itself, e.g. an import block needing a newer Terraform) refusing them is bad input, said in one
    message with CDKTF's findings.

    Raises:
        PlatformError: (key `terraform`) CDKTF's validation failed.
    """
    try:
        app.synth()
    except RuntimeError as err:  # jsii: the engine's error, as "Error: Validation failed with ...:\n  [path] ..."
        text = str(err)
        if not text.startswith(_VALIDATION_FAILED):
            raise
        found = [line.strip() for line in text.splitlines()[1:] if line.strip().startswith("[")]
        raise PlatformError("CDKTF's validation refused a construct: " + "; ".join(found or [text]), key="terraform",
                            hint="a construct added by a service's terraform() hatch or a profile: CDKTF checks "
                                 "version requirements against the Terraform platform runs (PLATFORM_TERRAFORM, else "
                                 "`tofu` or `terraform` on PATH)") from None


_VALIDATION_FAILED = "Error: Validation failed with the following errors:"


_TEMPORARY_PREFIX = ".{name}.synth-"
"""A synthesis's temporary folder, next to the output folder `name`: this prefix, the process id, '-', random."""


def _temporary_folder(target_dir: Path) -> Path:
    """A new, empty temporary folder next to `target_dir` (`_TEMPORARY_PREFIX`, the process id, random), made with
    the permissions of any folder the user makes (the umask's), as the output folder it becomes should have:
    `tempfile.mkdtemp` makes it readable by its owner only (0700), so a teammate, a CI step or a container running
    as another user could not read `cdktf.out/<env>`."""
    prefix = _TEMPORARY_PREFIX.format(name=target_dir.name)
    while True:
        folder = target_dir.parent / f"{prefix}{os.getpid()}-{secrets.token_hex(4)}"
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder


ABANDONED_AFTER = 24 * 3600
"""Seconds after which a temporary folder is abandoned even if a process of its pid lives (a reused pid): no
synthesis runs that long."""


def remove_abandoned_folders(target_dir: Path) -> None:
    """Remove the temporary folders of syntheses into `target_dir` (and outputs they were replacing) whose process is
    gone, killed before its own clean-up ran, or that are older than `ABANDONED_AFTER`; a live run's is left alone."""
    from platform_sdk.state_documents import process_start_time

    prefix = _TEMPORARY_PREFIX.format(name=target_dir.name)
    now = time.time()
    for folder in target_dir.parent.glob(f"{glob.escape(prefix)}*"):
        pid = folder.name[len(prefix):].partition("-")[0]
        if not pid.isdigit():
            continue
        with contextlib.suppress(OSError):
            if process_start_time(int(pid)) is None or now - folder.stat().st_mtime > ABANDONED_AFTER:
                shutil.rmtree(folder, ignore_errors=True)


def read_metadata(outdir: Path) -> dict[str, Any]:
    """The stack metadata written next to the synthesized stacks."""
    path = outdir / METADATA_FILE
    if not path.is_file():
        raise PlatformError("nothing synthesized yet: run `platform synth` first", file=path)
    return json.loads(path.read_text())
