"""The CDK engine layer: the one CDKTF (or CDK Terrain) import and what is built on it.

Below the cloud plug-ins and synthesis: `engine` wraps the engine import, `raw` holds Terraform resources and
data sources of any type as Python objects (and providers as constructs), `expressions` their references and
Terraform functions, `document` one engine construct per stack carrying them. `preload()` starts the engine early.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading

_loading: threading.Thread | None = None


def preload() -> None:
    """Start loading the CDK engine in the background (Node starts, loads its assemblies: ~0.4 s of CPU).

    Synthesis needs the engine only once stacks are created; until then there is Python work to do (reading the
    services and the environment, placement), so on a machine with two cores the engine's start overlaps it.
    Whoever imports `platform_sdk.cdk.engine` later waits for this import to finish (Python's import lock) or,
    should it have failed, imports it again and sees the error. The thread is not a daemon: a command that ends
    early (bad input) waits for the load to finish before the interpreter shuts down, so jsii's kernel is either
    fully started and stopped by its own exit handler or never started (a daemon thread frozen mid-start left a
    half-made kernel whose finalizer printed "Exception ignored in: <function _NodeProcess.__del__ ...>").
    """
    global _loading
    if _loading is None and "platform_sdk.cdk.engine" not in sys.modules:
        _loading = threading.Thread(target=_load, name="cdk-engine-preload", daemon=False)
        _loading.start()


def _load() -> None:
    # A failure is not lost: the thread that needs the engine imports it again and sees the error.
    with contextlib.suppress(BaseException):
        importlib.import_module("platform_sdk.cdk.engine")


def loading() -> bool:
    """Whether `preload()`'s thread is still importing the engine."""
    return _loading is not None and _loading.is_alive()
