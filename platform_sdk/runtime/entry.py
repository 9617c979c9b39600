"""The one import every generated entry module makes: `make_entry(target, "module.function")`.

A function package's `_platform_entry.py` (Lambda, local) or `main.py` (Cloud Functions) is two lines that
call this. Keeping that import stable means reorganising the runtime never changes a package's entry
module, so an SDK upgrade redeploys a function only when code that actually ships with it changed.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

from platform_sdk.runtime.adapters.common import caller_dir

ADAPTER_MODULES = {
    "aws": "platform_sdk.runtime.adapters.aws_lambda",
    "gcp": "platform_sdk.runtime.adapters.gcp_functions",
    "local": "platform_sdk.runtime.adapters.local",
}


def make_entry(target: str, handler_path: str) -> Callable[..., Any]:
    """The native entry callable of `target`'s adapter for the neutral handler at `handler_path`.

    The package root is the directory of the calling (generated) module.

    Raises:
        ValueError: `target` has no entry adapter.
    """
    module_name = ADAPTER_MODULES.get(target)
    if module_name is None:
        raise ValueError(f"no entry adapter for target {target!r} (known: {', '.join(sorted(ADAPTER_MODULES))})")
    adapter = importlib.import_module(module_name)
    return adapter.make_entry(handler_path, base_dir=caller_dir(sys._getframe(1)))  # type: ignore[no-any-return]
