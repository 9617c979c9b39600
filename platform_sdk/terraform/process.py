"""Terraform process control: run one Terraform command per stack, each in its own process group.

Terraform runs with TF_FORK=0 in a new session, so a Ctrl-C in the terminal reaches only us: `interrupt()`
forwards SIGINT to every running Terraform's process group and refuses to start new ones, so each stops
cleanly (state written, lock released).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from platform_sdk.localcloud import mirror

ERROR_LINES = 30
ERROR_CHARS = 4000


class NotStarted(Exception):
    """Raised instead of starting Terraform once an interrupt was received."""


@dataclass
class TfRun:
    """One finished Terraform invocation."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    interrupted: bool

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class Terraform:
    """Starts Terraform processes, each in its own process group, and can interrupt all of them at once."""

    def __init__(self, binary: Path, env: Mapping[str, str]) -> None:
        self.binary = binary
        self.env = dict(env)
        self.env.setdefault("TF_FORK", "0")
        if self.env.get("TF_LOG_PATH"):  # Terraform runs in each stack's directory: a relative path means the user's
            self.env["TF_LOG_PATH"] = os.path.abspath(self.env["TF_LOG_PATH"])
        self._lock = threading.Lock()
        self._init_lock = threading.Lock()
        self._running: dict[int, subprocess.Popen[str]] = {}
        self.interrupted = False

    def run(self, cwd: Path, args: list[str], env: Mapping[str, str] | None = None) -> TfRun:
        """Run `terraform <args>` in `cwd` and capture its output (refuses once interrupted); `env` is added to the
        environment of this run only (a stack's `TF_DATA_DIR`)."""
        if args[:1] == ["init"] and _downloads_providers(cwd):
            with self._init_lock:  # the shared plugin cache is not safe for concurrent downloads
                return self._run(cwd, args, env)
        if args[:1] == ["init"]:
            _lock_mirrored(cwd)
        return self._run(cwd, args, env)

    def _run(self, cwd: Path, args: list[str], env: Mapping[str, str] | None = None) -> TfRun:
        with self._lock:
            if self.interrupted:
                raise NotStarted()
            proc = subprocess.Popen(
                [str(self.binary), *args], cwd=cwd, env={**self.env, **env} if env else self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
            )
            self._running[proc.pid] = proc
        try:
            stdout, stderr = proc.communicate()
        finally:
            with self._lock:
                self._running.pop(proc.pid, None)
        return TfRun(args, proc.returncode, stdout, stderr, self.interrupted)

    def interrupt(self) -> int:
        """Forward SIGINT to every running Terraform's process group; start no new ones. Returns how many."""
        with self._lock:
            self.interrupted = True
            procs = list(self._running.values())
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGINT)
        return len(procs)

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._running)


def _downloads_providers(stack_dir: Path) -> bool:
    """True when the stack needs a provider that is not served from the mirror (those are pre-linked in the cache)."""
    try:
        doc = json.loads((stack_dir / "cdk.tf.json").read_text())
    except (OSError, json.JSONDecodeError):
        return True
    required = doc.get("terraform", {}).get("required_providers", {})
    return any(not mirror.is_mirrored(str(spec.get("source", ""))) for spec in required.values())


def _lock_mirrored(stack_dir: Path) -> None:
    """Write the lock file `terraform init` would write for a stack using only mirrored providers.

    Without one, Terraform 1.0 installs even a provider it finds in the plugin cache into that cache again (it
    has no hash to trust the cached copy with), and parallel inits of fresh stacks then race on the shared cache
    ("mkdir ...: file exists", "still not detected in .terraform/providers"). The hashes are known in advance
    (`mirror.provider_hash`), so with this file every init just links the pre-linked cache entry.
    """
    lock = stack_dir / ".terraform.lock.hcl"
    if lock.exists():
        return
    try:
        doc = json.loads((stack_dir / "cdk.tf.json").read_text())
    except (OSError, json.JSONDecodeError):
        return
    from platform_sdk import providers

    mirrored = {p.source: (p.source, p.version, p.module) for plugin in providers.plugins().values()
                for p in plugin.terraform_providers}
    blocks = []
    for spec in (doc.get("terraform", {}).get("required_providers") or {}).values():
        found = mirrored.get(str(spec.get("source", "")))
        if found is None:
            return  # a registry provider: init records its hashes itself (serialized, see `run`)
        constraints = f'  constraints = "{spec["version"]}"\n' if spec.get("version") else ""
        blocks.append(f'provider "{found[0]}" {{\n  version     = "{found[1]}"\n{constraints}  hashes = [\n'
                      f'    "{mirror.provider_hash(found)}",\n  ]\n}}\n')
    if blocks:
        lock.write_text("# This file is maintained automatically by \"terraform init\".\n"
                        "# Manual edits may be lost in future updates.\n\n" + "\n".join(blocks))


def _once_each(lines: list[str]) -> list[str]:
    """Terraform's error blocks (an `Error:` line and what follows it up to the next), each identical one once, the
    first marked with how many there were: an interrupted apply repeats "Error: execution halted" once per
    resource in flight (hundreds of lines that hid the summary)."""
    blocks: list[list[str]] = []
    for line in lines:
        if line.startswith("Error:") or not blocks:
            blocks.append([line])
        else:
            blocks[-1].append(line)
    counts: dict[tuple[str, ...], int] = {}
    for block in blocks:
        key = tuple(b for b in block if b.strip())
        counts[key] = counts.get(key, 0) + 1
    out: list[str] = []
    for block in blocks:
        key = tuple(b for b in block if b.strip())
        count = counts.pop(key, 0)
        if not count:
            continue  # shown already
        first = block[0] + (f" (x{count})" if count > 1 and block[0].startswith("Error:") else "")
        out += [first, *block[1:]]
    return out


def trim_error(run: TfRun) -> str:
    """Terraform's error text without its boilerplate, short enough for a report."""
    text = (run.stderr.strip() or run.stdout.strip())
    if "Error:" in text:
        text = text[text.index("Error:"):]
    lines = [line.rstrip() for line in text.splitlines()]
    cleaned: list[str] = []
    for line in lines:
        if line.strip() in ("╷", "╵", "│") or (not line.strip() and cleaned and not cleaned[-1].strip()):
            continue
        cleaned.append(line.lstrip("│ ").rstrip() if line.startswith("│") else line)
    cleaned = _once_each(cleaned)
    if len(cleaned) > ERROR_LINES:
        cleaned = cleaned[:ERROR_LINES] + [f"... ({len(cleaned) - ERROR_LINES} more lines)"]
    out = "\n".join(cleaned).strip()
    return out if len(out) <= ERROR_CHARS else out[:ERROR_CHARS] + " ..."
