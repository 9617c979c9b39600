"""Renames without loss: a resource renamed in the code (`renamed_from=`, or `[renames]` in the environment file)
keeps its physical name, and its deployed objects move to their new Terraform addresses instead of being destroyed
and created.

Two ways, chosen by the Terraform binary's version:
- Terraform/OpenTofu >= 1.1 reads `moved` blocks: the stack's configuration gets one per renamed block, in the JSON
  syntax (`"moved": [{"from": "<old address>", "to": "<new address>"}]`; developer.hashicorp.com/terraform/language/
  moved and .../language/syntax/json), and the plan shows each move (`previous_address`);
- older ones (our pinned 1.0.3) get `terraform state mv <old> <new>`. A plan never changes the state (a plan may be
  abandoned, the code reverted, or it may run for an unmerged branch in CI): the moves are done in a copy of the
  state (`terraform state pull`, then `state mv -state=<copy>`), which the plan reads (`terraform plan -state=<copy>`,
  the local backend's option), and an apply does them in the state itself, under its lock, right before it applies
  that plan. The moved copy has the state's lineage and the serial the same moves give the state, so Terraform takes
  the saved plan as made against the moved state, and refuses it as stale if anything else changed the state.
  Terraform < 1.1 cannot plan a copy of a remote state (`-state` is for the local backend only): there a plan-only
  command refuses the stack with `cannot_plan` and changes nothing, and `platform apply` moves the state under its
  lock before it plans.

Renames stay inside one stack: a rename across services would move state between two stacks and is refused when
the environment is read (platform_sdk.synth.overrides).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from platform_sdk.synth.renames import previous_address

__all__ = ["previous_address"]

MOVED_SINCE = (1, 1)
"""The first Terraform version reading `moved` blocks (Terraform 1.1.0 changelog)."""


def parse_version(text: str) -> tuple[int, ...]:
    """`terraform version -json` output (or `Terraform v1.0.3` / `OpenTofu v1.6.0` text) -> (1, 0, 3)."""
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        text = str(doc.get("terraform_version", ""))
    found = re.search(r"(\d+)\.(\d+)\.(\d+)", text)
    return tuple(int(part) for part in found.groups()) if found else (0, 0, 0)


def binary_version(binary: Path, env: dict[str, str] | None = None) -> tuple[int, ...]:
    """The version of a Terraform or OpenTofu binary ((0, 0, 0) when it cannot say)."""
    try:
        run = subprocess.run([str(binary), "version", "-json"], capture_output=True, text=True, env=env, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return (0, 0, 0)
    return parse_version(run.stdout or run.stderr)


def supports_moved(version: tuple[int, ...]) -> bool:
    return version >= MOVED_SINCE


def moved_blocks(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    """`moved` blocks in Terraform's JSON syntax, one per (old address, new address)."""
    return [{"from": old, "to": new} for old, new in pairs]


def add_moved(config: Path, pairs: list[tuple[str, str]]) -> None:
    """Write the `moved` blocks into a stack's `cdk.tf.json` (replacing any written before)."""
    doc: dict[str, Any] = json.loads(config.read_text())
    doc["moved"] = moved_blocks(pairs)
    config.write_text(json.dumps(doc, indent=2) + "\n")


def pending(renamed: dict[str, str], state_addresses: list[str]) -> list[tuple[str, str]]:
    """(old, new) for each renamed block whose object is still at its old address (and nothing at the new one)."""
    held = set(state_addresses)
    return [(old, new) for new, old in sorted(renamed.items()) if old in held and new not in held]


def backend_type(config: Path) -> str:
    """The type of a stack's backend (`local`, `s3`, `gcs`, ...) from its `cdk.tf.json`; `local` when it declares none
    (Terraform's default)."""
    try:
        doc = json.loads(config.read_text())
    except (OSError, ValueError):
        return "local"
    backend = doc.get("terraform", {}).get("backend") if isinstance(doc, dict) else None
    return next(iter(backend), "local") if isinstance(backend, dict) and backend else "local"


def cannot_plan(pairs: list[tuple[str, str]], backend: str) -> str:
    """Why a plan-only command refuses a stack with renames pending in a remote state on Terraform < 1.1."""
    moves = ", ".join(f"{old} -> {new}" for old, new in pairs)
    return (f"the rename {moves} cannot be planned without changing the state: this Terraform reads no `moved` "
            f"blocks (Terraform/OpenTofu >= 1.1 does) and cannot plan against a copy of a state kept in the "
            f"{backend} backend; nothing was changed. `platform apply` moves the state (terraform state mv, under "
            f"its lock) and then plans; or set PLATFORM_TERRAFORM to a Terraform >= 1.1")
