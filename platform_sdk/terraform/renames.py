"""Renames without loss: a resource renamed in the code (`renamed_from=`, or `[renames]` in the environment file)
keeps its physical name, and its deployed objects move to their new Terraform addresses instead of being destroyed
and created.

Two ways, chosen by the Terraform binary's version:
- Terraform/OpenTofu >= 1.1 reads `moved` blocks: the stack's configuration gets one per renamed block, in the JSON
  syntax (`"moved": [{"from": "<old address>", "to": "<new address>"}]`; developer.hashicorp.com/terraform/language/
  moved and .../language/syntax/json), and the plan shows each move (`previous_address`);
- older ones (our pinned 1.0.3) get `terraform state mv <old> <new>` in the stack, under the state lock Terraform
  takes, before the plan.

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
