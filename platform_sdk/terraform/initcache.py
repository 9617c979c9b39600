"""Skip `terraform init` when nothing it depends on changed since the last init of a stack.

Why: init costs about a third of a stack's plan (it starts every provider to verify it, reads the backend,
installs modules), and synthesis replaces `cdktf.out/<env>/` on every run, so the `.terraform` folder and the
lock file next to the configuration never survived to the next command. Here each stack keeps them under
`.platform/terraform/<env>/<stack>/`: Terraform's data directory (`TF_DATA_DIR`), a copy of its
`.terraform.lock.hcl`, and a stamp of what init depends on:

- the configuration's `terraform` block (required providers and their constraints, the backend and its settings)
  and its `module` blocks (sources and versions);
- the lock file init wrote (the provider versions and hashes it chose);
- the Terraform binary (path, size, modification time) and the CLI configuration (our provider mirror).

When the stamp is unchanged the lock file is put back next to the configuration and init is skipped. Anything
Terraform still finds missing (a plugin cache deleted meanwhile) fails the command with its "run terraform init"
words; the runner then runs init and the command once more (`needs_init`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

LOCK_FILE = ".terraform.lock.hcl"
STAMP_FILE = "init.json"
DATA_DIR = "data"
INIT_NEEDED = ("terraform init", "Plugin reinitialization required", "Backend initialization required",
               "Inconsistent dependency lock file", "Module not installed", "Required plugins are not installed")
"""Terraform's words when a command needs init first (the runner then inits and retries once)."""


class InitCache:
    """The persistent Terraform working state of one environment's stacks, under `root/<stack>/`."""

    def __init__(self, root: Path, terraform_env: Mapping[str, str], binary: Path) -> None:
        self.root = root
        self.identity = _identity(binary, terraform_env)

    def data_dir(self, stack: str) -> Path:
        """`TF_DATA_DIR` for every Terraform command of `stack`."""
        return self.root / stack / DATA_DIR

    def env(self, stack: str) -> dict[str, str]:
        return {"TF_DATA_DIR": str(self.data_dir(stack))}

    def _stamp(self, stack_dir: Path, lock: bytes | None) -> str:
        config = json.loads((stack_dir / "cdk.tf.json").read_text())
        relevant: dict[str, Any] = {
            "terraform": config.get("terraform", {}),
            "modules": {name: {k: v for k, v in body.items() if k in ("source", "version")}
                        for name, body in (config.get("module") or {}).items()},
            "lock": hashlib.sha256(lock).hexdigest() if lock is not None else None,
            "terraform_binary": self.identity,
        }
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()

    def ready(self, stack: str, stack_dir: Path) -> bool:
        """True (and the lock file restored next to the configuration) when init can be skipped."""
        saved = self.root / stack
        try:
            lock = (saved / LOCK_FILE).read_bytes()
            stamp = json.loads((saved / STAMP_FILE).read_text())["stamp"]
        except (OSError, ValueError, KeyError):
            return False
        if not self.data_dir(stack).is_dir() or stamp != self._stamp(stack_dir, lock):
            return False
        (stack_dir / LOCK_FILE).write_bytes(lock)
        return True

    def initialised(self, stack: str, stack_dir: Path) -> None:
        """After a successful init: keep its lock file and the stamp of what it depended on."""
        saved = self.root / stack
        saved.mkdir(parents=True, exist_ok=True)
        lock_path = stack_dir / LOCK_FILE
        lock = lock_path.read_bytes() if lock_path.is_file() else None
        if lock is not None:
            (saved / LOCK_FILE).write_bytes(lock)
        else:
            (saved / LOCK_FILE).unlink(missing_ok=True)
        stamp = self._stamp(stack_dir, lock)
        tmp = saved / f".{STAMP_FILE}.tmp"
        tmp.write_text(json.dumps({"stamp": stamp}) + "\n")
        tmp.replace(saved / STAMP_FILE)

    def forget(self, stack: str) -> None:
        """Drop the stamp so the next command inits (after a failure that says init is needed)."""
        (self.root / stack / STAMP_FILE).unlink(missing_ok=True)

    def clear(self, stack: str) -> None:
        shutil.rmtree(self.root / stack, ignore_errors=True)


def needs_init(text: str) -> bool:
    """Does Terraform's error text say the working directory must be initialised first?"""
    return any(words in text for words in INIT_NEEDED)


def _identity(binary: Path, env: Mapping[str, str]) -> dict[str, Any]:
    """What identifies the Terraform that inits: the binary and the CLI configuration it reads."""
    try:
        stat = binary.stat()
        binary_id: Any = [str(binary), stat.st_size, stat.st_mtime_ns]
    except OSError:
        binary_id = str(binary)
    config = env.get("TF_CLI_CONFIG_FILE")
    config_text = Path(config).read_text() if config and os.path.isfile(config) else None
    return {"binary": binary_id, "cli_config": config_text, "plugin_cache": env.get("TF_PLUGIN_CACHE_DIR")}
