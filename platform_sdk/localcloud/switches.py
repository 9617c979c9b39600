"""Environment switches the local cloud provider honours (set by `platform` or by tests, never by config).

- PLATFORM_ALLOW_DATA_LOSS=1: `platform apply/destroy --allow-data-loss` sets it; deleting a bucket that holds
  objects, a database whose tables hold rows or a secret holding a value then goes ahead as if force_destroy
  were set (the person has already confirmed the loss). deletion_protection is still honoured: that one is
  switched off in config.
- PLATFORM_LOCALCLOUD_SLOW_SECONDS=N: every apply operation (create/update/delete) first sleeps N seconds,
  so an apply lasts long enough to interrupt or race it by hand.
- PLATFORM_LOCALCLOUD_HOLD_FILE=PATH: every apply operation first creates PATH.entered, then waits while PATH
  exists, so tests know an apply is mid-flight (Terraform walking its graph, state lock held) and can hold it
  there for exactly as long as they need, with no timing assumptions.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

ALLOW_DATA_LOSS_ENV = "PLATFORM_ALLOW_DATA_LOSS"
SLOW_ENV = "PLATFORM_LOCALCLOUD_SLOW_SECONDS"
HOLD_ENV = "PLATFORM_LOCALCLOUD_HOLD_FILE"


def data_loss_allowed() -> bool:
    """True when the operator explicitly accepted losing the contents of buckets and databases."""
    return os.environ.get(ALLOW_DATA_LOSS_ENV, "").strip().lower() in ("1", "true", "yes")


def before_apply() -> None:
    """Slow down or hold an apply operation when asked to (no-op unless a switch is set)."""
    try:
        seconds = float(os.environ.get(SLOW_ENV, "") or 0)
    except ValueError:
        seconds = 0.0
    if seconds > 0:
        time.sleep(seconds)
    hold = os.environ.get(HOLD_ENV, "")
    if hold:
        path = Path(hold)
        if path.exists():
            Path(f"{hold}.entered").touch()
        while path.exists():
            time.sleep(0.05)
