"""Checkov over the synthesized stacks: the security scanner most reviewers already trust, run the same way everywhere.

Why its own venv (`.platform/tools/checkov`): checkov pins many libraries exactly; installed next to the SDK it
would up- or downgrade them under us. It is installed on first use with pip, then reused.

Why `--framework terraform_json`: CDKTF writes `cdk.tf.json`. Checkov 3's `terraform` framework reads only
HCL and silently finds no resources in it; `terraform_json` reads it as it is (the `//` metadata keys are
ignored), so no copy or renaming is needed.

Skips: `SDK_SKIPS` are checks that do not fit how the SDK's compilers build things (each with the reason);
a project adds its own in `.checkov.yaml` at its root (checkov's own config format, so running checkov by hand
skips the same). Every project skip needs a `# reason` on its line.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from platform_sdk import providers
from platform_sdk.errors import PlatformError

CHECKOV_SPEC = "checkov==3.*"
SKIP_FILE = ".checkov.yaml"
FRAMEWORK = "terraform_json"



def sdk_skips() -> dict[str, str]:
    """Checks that do not fit the SDK's design, for every project, with the reason: each plug-in's
    `checkov_skips`. Keep them short: a finding a compiler can fix is fixed there, and a finding the model or
    profile declares on purpose is accepted per resource (see platform_sdk.gate)."""
    return {check: reason for plugin in providers.plugins().values() for check, reason in plugin.checkov_skips.items()}


SDK_SKIPS: dict[str, str] = sdk_skips()


@dataclass
class CheckovFinding:
    """One failed checkov check on one resource of one stack."""

    check_id: str
    name: str
    stack: str
    resource: str
    guideline: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"check_id": self.check_id, "name": self.name, "stack": self.stack, "resource": self.resource,
                "guideline": self.guideline}


@dataclass
class CheckovReport:
    """Summary of one checkov run over the stacks."""

    version: str = ""
    passed: int = 0
    failed: list[CheckovFinding] = field(default_factory=list)
    accepted: list[tuple[CheckovFinding, str]] = field(default_factory=list)  # (finding, what the model declares)
    parsing_errors: int = 0
    skipped: dict[str, str] = field(default_factory=dict)
    stacks: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "passed": self.passed, "failed": [f.to_json() for f in self.failed],
                "accepted": [{**f.to_json(), "reason": reason} for f, reason in self.accepted],
                "parsing_errors": self.parsing_errors, "skipped": self.skipped, "stacks": self.stacks}


# -- the tool venv --------------------------------------------------------------------------------------------------

def tool_dir(cache_dir: Path) -> Path:
    """`<project>/.platform/tools/checkov`, or under PLATFORM_TOOLS_DIR when set (one install shared by many
    projects, e.g. the test suite's throwaway estates)."""
    shared = os.environ.get("PLATFORM_TOOLS_DIR")
    return (Path(shared) if shared else cache_dir / "tools") / "checkov"


def _bin(venv: Path, name: str) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin") / name


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Only one process installs at a time (parallel tests, two terminals)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_checkov(cache_dir: Path, spec: str = CHECKOV_SPEC, log: Any = None) -> Path:
    """The checkov executable of the tool venv, installing it on first use (`python -m venv` + pip)."""
    venv = tool_dir(cache_dir)
    exe = _bin(venv, "checkov")
    marker = venv / ".platform-installed"
    if exe.is_file() and marker.is_file() and marker.read_text().strip() == spec:
        return exe
    with _locked(venv.parent / "checkov.lock"):
        if exe.is_file() and marker.is_file() and marker.read_text().strip() == spec:
            return exe
        if log:
            log(f"installing {spec} into {venv} (first use; its own venv keeps its pins away from the SDK's)")
        steps = [[sys.executable, "-m", "venv", str(venv)],
                 [str(_bin(venv, "python")), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", spec]]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True)
            if done.returncode != 0:
                tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
                raise PlatformError(f"could not install {spec}: {tail}", file=venv,
                                    hint="check network access to the package index, then run again")
        marker.write_text(spec + "\n")
    return exe


# -- the skip list --------------------------------------------------------------------------------------------------

_ITEM = re.compile(r"^\s*-\s*([A-Za-z0-9_]+)\s*(?:#\s*(.*?))?\s*$")


def parse_skip_file(path: Path) -> dict[str, str]:
    """`skip-check:` entries of a checkov config file -> {check id: reason}. A skip without a reason is an error."""
    skips: dict[str, str] = {}
    in_list = False
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not line[0].isspace() and not stripped.startswith("-"):
            in_list = stripped.split(":", 1)[0].strip() == "skip-check"
            continue
        if not in_list:
            continue
        match = _ITEM.match(line)
        if not match:
            raise PlatformError("a skip-check entry is `- CHECK_ID  # reason`", file=path, line=number,
                                value=stripped)
        check_id, reason = match.group(1), (match.group(2) or "").strip()
        if not reason:
            raise PlatformError("every skipped check needs a reason: `- CHECK_ID  # why it does not apply`",
                                file=path, line=number, key="skip-check", value=check_id)
        skips[check_id] = reason
    return skips


def load_skips(project_root: Path) -> dict[str, str]:
    """The SDK's skips plus the project's `.checkov.yaml` skips (the project's reason wins for the same id)."""
    skips = dict(SDK_SKIPS)
    path = project_root / SKIP_FILE
    if path.is_file():
        skips.update(parse_skip_file(path))
    return skips


# -- running --------------------------------------------------------------------------------------------------------

def _reports(output: str) -> list[dict[str, Any]]:
    data = json.loads(output)
    return [r for r in (data if isinstance(data, list) else [data]) if isinstance(r, dict)]


def _resource_name(resource: str, stack_doc: dict[str, Any]) -> str:
    """Checkov names some terraform_json resources `resource.<id>`: give them their type back."""
    if not resource.startswith("resource."):
        return resource
    rid = resource.split(".", 1)[1]
    for rtype, by_id in (stack_doc.get("resource") or {}).items():
        if isinstance(by_id, dict) and rid in by_id:
            return f"{rtype}.{rid}"
    return resource


def run_checkov(exe: Path, stack_files: Sequence[Path], skips: Iterable[str] = ()) -> CheckovReport:
    """Run checkov once over the given `cdk.tf.json` files; each file's folder name is its stack."""
    report = CheckovReport(stacks=[p.parent.name for p in stack_files])
    if not stack_files:
        return report
    command = [str(exe), "--framework", FRAMEWORK, "-o", "json", "--quiet", "--compact", "--skip-download"]
    for path in stack_files:
        command += ["-f", str(path)]
    skip_ids = sorted(set(skips))
    if skip_ids:
        command += ["--skip-check", ",".join(skip_ids)]
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "PYTHONWARNINGS": "ignore", "LOG_LEVEL": "ERROR"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=stack_files[0].parent)
    try:
        reports = _reports(done.stdout)
    except ValueError:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
        raise PlatformError(f"checkov failed (exit {done.returncode}): {tail}", file=exe) from None
    docs = {p.parent.name: json.loads(p.read_text()) for p in stack_files}
    for item in reports:
        summary = item.get("summary", item)
        report.version = str(summary.get("checkov_version", report.version))
        report.passed += int(summary.get("passed", 0))
        report.parsing_errors += int(summary.get("parsing_errors", 0))
        for check in (item.get("results") or {}).get("failed_checks", []):
            stack = Path(check.get("file_abs_path") or check.get("file_path", "")).parent.name
            report.failed.append(CheckovFinding(
                check_id=check.get("check_id", "?"), name=check.get("check_name", ""), stack=stack,
                resource=_resource_name(check.get("resource", "?"), docs.get(stack, {})),
                guideline=check.get("guideline"),
            ))
    report.failed.sort(key=lambda f: (f.stack, f.resource, f.check_id))
    if report.passed + len(report.failed) == 0 and any(docs[s].get("resource") for s in docs):
        raise PlatformError("checkov found no resources in the stacks (did its Terraform JSON parser change?)",
                            file=stack_files[0])
    return report
