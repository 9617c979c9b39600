"""Moving one workload's data between clouds: bucket copy, verification and the resume journal.

Exports resolve lazily, so `python -m platform_sdk.move.copy` does not import the module twice.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from platform_sdk.move.copy import (
        CopyEvent,
        CopyReport,
        Failure,
        VerifyReport,
        copy_bucket,
        verify_bucket,
    )
    from platform_sdk.move.journal import Journal, JournalEntry

_EXPORTS = {
    "CopyEvent": "platform_sdk.move.copy",
    "CopyReport": "platform_sdk.move.copy",
    "Failure": "platform_sdk.move.copy",
    "VerifyReport": "platform_sdk.move.copy",
    "copy_bucket": "platform_sdk.move.copy",
    "verify_bucket": "platform_sdk.move.copy",
    "Journal": "platform_sdk.move.journal",
    "JournalEntry": "platform_sdk.move.journal",
}

__all__ = [
    "CopyEvent",
    "CopyReport",
    "Failure",
    "Journal",
    "JournalEntry",
    "VerifyReport",
    "copy_bucket",
    "verify_bucket",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
