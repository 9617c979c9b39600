"""A throwaway copy of a project, applied to the local cloud with real Terraform (`platform apply --env E`).

The copy holds the project's `services/` and `envs/` only; its Terraform state, local cloud root and synthesized
output live inside the copy, so the developer's own local environment (their `.platform/state`, buckets and
databases) is never touched. Speed comes from the project's caches: the copy's `.platform/vendor` is a symbolic
link to the project's wheel cache (filled by `platform synth`, see platform_sdk/synth/vendoring.py), and its
`.platform/packages/<env>/` starts with hard links to the function packages the project already built (synthesis
reuses one only when the digest of its inputs and the zip's sha256 both match its stamp, see synth/assets.py);
packages the throwaway run builds go back the same way, so the next run and the developer's next `platform apply`
skip them too.

What the copy starts that outlives its commands, its local database servers (their data directories under
/var/lib/platform-localcloud/<hash> when running as root, docs/databases.md), `remove()` stops and deletes, however
the run ended. A Ctrl-C during one of the copy's commands is passed on to that command once, and waited for: the CLI
stops Terraform cleanly and ends its provider processes, so nothing the apply was starting appears after `remove()`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

COPIED = ("services", "envs")
"""What of the project goes into the throwaway copy (all a project is, see platform_sdk/project.py)."""
IGNORED = shutil.ignore_patterns("__pycache__", ".pytest_cache")
KINDS = ("function", "bucket", "cdn", "database", "queue", "secret")
"""The kinds of stack output `<kind>_<name>_url` the resource map reads (the compilers' output names)."""
INTERRUPTED_WAIT_S = 120.0
"""Seconds a Ctrl-C waits for the copy's command to stop cleanly (Terraform finishing what it started) before it is
killed."""


class ApplyError(RuntimeError):
    """`platform apply` (or `platform outputs`) of the throwaway copy failed; the message holds its output."""


def sdk_parent() -> str:
    """The directory holding this `platform_sdk` package: the CLI subprocesses import the same SDK."""
    import platform_sdk

    return str(Path(platform_sdk.__file__).resolve().parent.parent)


def terraform_for(project: Path) -> str | None:
    """$PLATFORM_TERRAFORM, else the project's own `.platform/bin/terraform` (`make apply` installs it there),
    else None (the CLI then looks for `tofu` / `terraform` on PATH)."""
    explicit = os.environ.get("PLATFORM_TERRAFORM", "").strip()
    if explicit:
        return explicit
    local = project / ".platform" / "bin" / "terraform"
    return str(local) if local.is_file() and os.access(local, os.X_OK) else None


def _link_missing(source: Path, dest: Path) -> None:
    """Hard-link (else copy) every `*.zip` + `*.inputs` pair of `source` that `dest` lacks: stamp after zip, each
    file published by a rename, so a reader sees a whole pair or a package it rebuilds."""
    if not source.is_dir():
        return
    dest.mkdir(parents=True, exist_ok=True)
    for stamp in sorted(source.glob("*.inputs")):
        package = stamp.with_suffix(".zip")
        if not package.is_file() or (dest / stamp.name).exists():
            continue
        for path in (package, stamp):
            tmp = dest / f".{path.name}.{os.getpid()}.tmp"
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            try:
                os.link(path, tmp)
            except OSError:
                shutil.copy2(path, tmp)
            os.replace(tmp, dest / path.name)


@dataclass
class ThrowawayEnvironment:
    """`project`'s environment `env` applied in a copy at `workdir/project` (see the module docstring).

    Attributes:
        project: the developer's project root (holds `services/` and `envs/`); only its caches are written.
        env: the environment name (a file `envs/<env>.toml` whose clouds are the local cloud or its stand-ins).
        workdir: an empty directory the copy goes into (a pytest temporary directory).
        outputs: after `apply()`, `platform outputs --json` of the copy: `{"stacks": {stack: {name: value}}, ...}`.
    """

    project: Path
    env: str
    workdir: Path
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        """The throwaway copy's project root."""
        return self.workdir / "project"

    def prepare(self) -> Path:
        """Copy `services/` and `envs/`, link the caches; returns the copy's root.

        Raises:
            ApplyError: the project has no `services/` or no `envs/<env>.toml`.
        """
        for part in COPIED:
            if not (self.project / part).is_dir():
                raise ApplyError(f"{self.project} has no {part}/ folder: is it a platform project? "
                                 "(run the tests from the project, or pass --platform-project DIR)")
        if not (self.project / "envs" / f"{self.env}.toml").is_file():
            raise ApplyError(f"no environment file {self.project / 'envs' / (self.env + '.toml')} "
                             "(choose one with --platform-env NAME)")
        self.root.mkdir(parents=True, exist_ok=True)
        for part in COPIED:
            shutil.copytree(self.project / part, self.root / part, ignore=IGNORED, symlinks=True)
        cache = self.root / ".platform"
        cache.mkdir(exist_ok=True)
        vendor = self.project / ".platform" / "vendor"
        with contextlib.suppress(OSError):  # a read-only project: the copy fills its own wheel cache
            vendor.mkdir(parents=True, exist_ok=True)
        if vendor.is_dir():
            (cache / "vendor").symlink_to(vendor.resolve(), target_is_directory=True)
        _link_missing(self.project / ".platform" / "packages" / self.env, cache / "packages" / self.env)
        self._check_roots()
        return self.root

    def _check_roots(self) -> None:
        """Refuse an environment whose local cloud root lies outside the copy (an absolute `[clouds.local] root`, or
        one climbing out with `..`): its apply could change the developer's own local cloud, and `remove()` would
        not see its servers.

        Raises:
            ApplyError: naming the root, the file and the key.
        """
        from platform_sdk.envs import find_environment
        from platform_sdk.errors import PlatformError
        from platform_sdk.localcloud.dev import roots_for_env

        try:
            environment = find_environment(self.root / "envs", self.env)
        except PlatformError:
            return  # the apply reports it (file, key and value)
        copy = self.root.resolve()
        for root in roots_for_env(self.root, environment).values():
            if not root.is_relative_to(copy):
                raise ApplyError(f"envs/{self.env}.toml: [clouds.local] root puts the local cloud at {root}, outside "
                                 f"the throwaway copy {self.root}: applying it would change your own local cloud. "
                                 "Give a root relative to the project (default .platform/localcloud)")

    def cli(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run `platform <args> --project <copy>` in a subprocess with the same SDK and Terraform."""
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [sdk_parent(), os.environ.get("PYTHONPATH")]))}
        env.pop("PLATFORM_PROJECT", None)
        terraform = terraform_for(self.project)
        if terraform:
            env["PLATFORM_TERRAFORM"] = terraform
        command = [sys.executable, "-m", "platform_sdk.cli", *args, "--project", str(self.root)]
        # its own process group: a terminal's Ctrl-C reaches only this process, which passes it on exactly once
        with subprocess.Popen(command, cwd=self.root, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, process_group=0) as process:
            try:
                stdout, stderr = process.communicate(input)
            except KeyboardInterrupt:
                _stop_interrupted(process)
                raise
        return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)

    def _checked(self, *args: str) -> str:
        result = self.cli(*args)
        if result.returncode != 0:
            raise ApplyError(f"`platform {' '.join(args)}` of the throwaway copy {self.root} failed "
                             f"(exit {result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
        return result.stdout

    def set_secrets(self, values: Mapping[str, str]) -> None:
        """`platform secret set SERVICE.NAME --env E` for each {"service.secret": value}, before the apply (which
        refuses while a secret some function reads has no value; `generate=True` secrets need none).

        Raises:
            ApplyError: a secret could not be set (the CLI's message names it; the value never appears).
        """
        for address, value in sorted(values.items()):
            result = self.cli("secret", "set", address, "--env", self.env, input=value)
            if result.returncode != 0:
                raise ApplyError(f"`platform secret set {address} --env {self.env}` in the throwaway copy failed "
                                 f"(exit {result.returncode}):\n{result.stderr[-2000:]}")

    def apply(self) -> dict[str, Any]:
        """`platform apply --env E --auto-approve`, then the outputs; returns them.

        Raises:
            ApplyError: either command failed (its output is in the message).
        """
        try:
            self._checked("apply", "--env", self.env, "--auto-approve")
        except ApplyError as error:
            unset = re.findall(r"^\s*- (\S+) \(read by [^)]*\): set it with", str(error), re.M)
            if not unset:
                raise
            values = ", ".join(f'"{address}": "a test value"' for address in unset)
            raise ApplyError(
                f"secret(s) {', '.join(unset)} read by your functions have no value in the throwaway test "
                f"environment (your own environment's values are never copied into it): give them test values in "
                f"your tests' conftest.py:\n\n    @pytest.fixture(scope=\"session\")\n    def platform_secrets():\n"
                f"        return {{{values}}}\n\n(docs/testing-apps.md, \"Secrets\"; `generate=True` secrets need "
                f"none)\n\n{error}") from None
        self.outputs = json.loads(self._checked("outputs", "--env", self.env, "--json"))
        return self.outputs

    def give_back_packages(self) -> None:
        """The function packages this run built, into the project's cache (see the module docstring)."""
        with contextlib.suppress(OSError):
            _link_missing(self.root / ".platform" / "packages" / self.env,
                          self.project / ".platform" / "packages" / self.env)

    def remove(self) -> None:
        """Stop and delete the local database servers the copy's applies started, data directories included
        (`dbserver.remove_all_under` of the copy: `prepare` refuses local cloud roots outside it, so a server of the
        developer's own environment is never looked at). Safe to call more than once, and after a failed or
        interrupted `prepare` or `apply`."""
        from platform_sdk.localcloud.dbserver import remove_all_under

        if self.root.is_dir():
            remove_all_under(self.root)

    def resources(self) -> dict[tuple[str, str, str], str]:
        """{(service, kind, output name): value} from the stack outputs: `<kind>_<name>_url` / `_name`.

        Output names spell a resource's name with `_` for `-` (`on-demand` -> `on_demand`); the service is the
        stack's name without the leading `<env>-` and the trailing `-<cloud>`.
        """
        found: dict[tuple[str, str, str], str] = {}
        for stack, values in (self.outputs.get("stacks") or {}).items():
            service = stack.removeprefix(f"{self.env}-").rsplit("-", 1)[0]
            for key, value in (values or {}).items():
                kind, _, rest = key.partition("_")
                if kind in KINDS and isinstance(value, str) and value != "(sensitive)":
                    found[(service, kind, rest)] = value
        return found


def _stop_interrupted(process: subprocess.Popen[str]) -> None:
    """After a Ctrl-C: SIGINT to the copy's command (it stops Terraform cleanly, `platform apply`'s own Ctrl-C), then
    wait for it, at most INTERRUPTED_WAIT_S (further Ctrl-Cs are not passed on: the first is being handled)."""
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + INTERRUPTED_WAIT_S
    while process.poll() is None:
        if time.monotonic() > deadline:
            process.kill()
        try:
            process.communicate(timeout=1)
        except subprocess.TimeoutExpired:
            continue
        except KeyboardInterrupt:
            continue


def new_workdir(parent: Path | None = None) -> Path:
    """An empty directory for a throwaway copy (under `parent`, else the system's temporary directory)."""
    return Path(tempfile.mkdtemp(prefix="platform-test-", dir=parent))
