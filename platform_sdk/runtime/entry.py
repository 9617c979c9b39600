"""The one import every generated entry module makes: `make_entry(target, "module.function")`.

A function package's `_platform_entry.py` (or whatever entry module its cloud loads) is two lines that call this.
Keeping that import stable means reorganising the runtime never changes a package's entry module, so an SDK
upgrade redeploys a function only when code that actually ships with it changed.

The adapter of target `t` is the `adapter` module of plug-in `t`'s runtime
(`platform_sdk.providers.<t>.runtime.adapter`, see `platform_sdk.runtime.plugins`). It provides
`make_entry(handler_path, *, base_dir)` and may name, in `PACKAGE_ROOT_ENV`, the environment variable holding the
package root for entry modules that have no file.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, cast

from platform_sdk.runtime import plugins
from platform_sdk.runtime.adapters.common import caller_dir


class Adapter(Protocol):
    """What a plug-in runtime's `adapter` module offers."""

    def make_entry(self, handler_path: str, *, base_dir: str | Path | None = None) -> Callable[..., Any]: ...


def adapter_for(target: str) -> Adapter:
    """The entry adapter module of `target`.

    Raises:
        ValueError: `target` has no entry adapter here.
    """
    try:
        return cast(Adapter, plugins.load(target, "adapter"))
    except plugins.PluginNotFoundError as exc:
        raise ValueError(f"no entry adapter for target {target!r}: {exc}") from None


def make_entry(target: str, handler_path: str) -> Callable[..., Any]:
    """The native entry callable of `target`'s adapter for the neutral handler at `handler_path`.

    The package root is the directory of the calling (generated) module.

    Raises:
        ValueError: `target` has no entry adapter.
    """
    adapter = adapter_for(target)
    root_env: str | None = getattr(adapter, "PACKAGE_ROOT_ENV", None)
    return adapter.make_entry(handler_path, base_dir=caller_dir(sys._getframe(1), root_env))
