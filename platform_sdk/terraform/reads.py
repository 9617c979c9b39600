"""Which outputs of its producers a consumer stack reads, and which of them a producer's pending plan changes (pure).

Why: a consumer reads its producers' outputs through remote state, so a plan of it made now uses the producers'
current outputs. That plan stays right after a producer's pending plan is applied when that plan leaves every
output the consumer reads as it is: such a consumer is planned now, beside its producer, instead of only after it
(terraform/runner.py). Anything that plan would change, or make known only after the apply, makes the consumer wait.

Shapes:
- CDKTF wires a cross-stack reference in the consumer's `cdk.tf.json` as
  `${data.terraform_remote_state.cross-stack-reference-input-<producer stack>.outputs.<output>}`
  (platform_sdk/cdk/document.py, `StackDocument.remote`); a remote state used any other way (the whole `outputs`
  object) reads every output of its producer.
- A producer's plan gives each root output an action (`report.StackPlan.output_actions`, from the plan JSON's
  `output_changes`: Terraform 1.0.3 lists every root output there, the unchanged ones as `["no-op"]`, and marks a
  value known only after the apply with `after_unknown`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

from platform_sdk.tfjson import CROSS_STACK_INPUT

_VALUE = re.compile(r"^\$\{([A-Za-z][\w-]*\.[\w-]+)\.([\w.\[\]-]+)\}$")
"""An output whose value is one resource attribute, `${TYPE.NAME.ATTRIBUTE}`."""
_READ = re.compile(r"data\.terraform_remote_state\.(" + re.escape(CROSS_STACK_INPUT) + r"[\w\-]+)(\.outputs\.[\w\-]+)?")
EVERY = None
"""Read every output (the remote state is used as a whole)."""


def outputs_read(document: object) -> dict[str, set[str] | None]:
    """Producer stack -> the names of its outputs that this stack document reads (`EVERY` when it reads them all).

    `document`: a stack's parsed `cdk.tf.json`. Producers it reads nothing from are absent.
    """
    reads: dict[str, set[str] | None] = {}
    for match in _READ.finditer(json.dumps(document)):
        producer = match.group(1)[len(CROSS_STACK_INPUT):]
        output = match.group(2)
        if output is None:
            reads[producer] = EVERY
        elif producer not in reads or reads[producer] is not EVERY:
            reads[producer] = (reads.get(producer) or set()) | {output[len(".outputs."):]}
    return reads


def outputs_read_by(stack_dir: Path) -> dict[str, set[str] | None] | None:
    """`outputs_read` of the stack's synthesized `cdk.tf.json`; None when it cannot be read (then it may read
    anything)."""
    try:
        return outputs_read(json.loads((stack_dir / "cdk.tf.json").read_text()))
    except (OSError, ValueError):
        return None


def changing(read: set[str] | None, output_actions: Mapping[str, str]) -> list[str]:
    """The outputs among `read` (`EVERY`: all of them) that a plan with these `output_actions` changes, deletes,
    creates or makes unknown, sorted. An output read that the plan does not list is counted as changing."""
    names = set(output_actions) if read is None else read
    return sorted(name for name in names if output_actions.get(name) != "no-op")


def described(stack_dir: Path, outputs: list[str], owners: Mapping[str, str]) -> list[str]:
    """How to name each of a stack's `outputs` to a reader: `notify.email's url` for an output whose value is one
    attribute of a resource (the neutral resource it implements, from `owners`: Terraform address -> neutral
    address; else the Terraform address), the output's own name otherwise (`cross-stack-output-…` says nothing to
    someone who declared `notify.email`)."""
    try:
        declared = json.loads((stack_dir / "cdk.tf.json").read_text()).get("output") or {}
    except (OSError, ValueError, AttributeError):
        declared = {}
    shown = []
    for name in outputs:
        block = declared.get(name) if isinstance(declared, Mapping) else None
        value = block.get("value") if isinstance(block, Mapping) else None
        match = _VALUE.match(value) if isinstance(value, str) else None
        if match is None:
            shown.append(name)
        else:
            address, attribute = match.groups()
            shown.append(f"{owners.get(address, address)}'s {attribute}")
    return shown
