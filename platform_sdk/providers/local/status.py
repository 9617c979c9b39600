"""The local cloud: the function registry the provider wrote (`<root>/functions/<name>/function.json`).

A function is Active when its registry entry and code directory exist and the unpacked package is the one
the entry names; whether `platform dev` is serving it is reported as well (one request to its gateway). Code edited
in place since it was deployed is reported as changed outside Terraform, read as the provider's refresh reads it
(`localcloud.function.code_changed`: what `platform drift` reports too).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from platform_sdk.localcloud.function import code_changed
from platform_sdk.localcloud.registry import CloudRoot, Registry
from platform_sdk.providers.base import NOT_FOUND, FunctionRef, FunctionStatus
from platform_sdk.providers.local.config import local_config


def gateway_serves(port: int) -> set[str] | None:
    """Function names the gateway on 127.0.0.1:`port` serves, or None when no gateway answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_platform/routes", timeout=1) as response:
            return {fn["name"] for fn in json.loads(response.read()).get("functions", [])}
    except (OSError, ValueError):
        return None


def function_status(registry: Registry, ref: FunctionRef, served: set[str] | None, port: int = 0) -> FunctionStatus:
    """`port`: the environment's gateway port (`clouds.local.gateway_port`), which the function's URL points at and
    `served` was asked on."""
    entry = registry.function(ref.name)
    if entry is None:
        return FunctionStatus.of(ref, NOT_FOUND, detail="not deployed")
    state, detail, changed = "Active", None, False
    if not entry.code_dir.is_dir():
        state, detail = "Failed", f"code directory {entry.code_dir} is missing"
    elif entry.package_hash and entry.code_hash != entry.package_hash:
        state, detail = "Failed", "unpacked code does not match the package it was deployed from"
    elif code_changed(entry.code_dir.parent, entry.raw):  # as the provider's refresh finds it
        changed = True
        detail = (f"code changed outside Terraform: a file of {entry.code_dir} was edited since it was deployed "
                  "(`platform drift` reports it; `platform apply --all` deploys the package again)")
    elif served is None:
        detail = (f"no gateway answers on port {port} (clouds.local.gateway_port), where its URL points: start "
                  "`platform dev` (one started with --port serves other URLs)")
    elif ref.name not in served:
        detail = "the running gateway does not serve it (another project or environment?)"
    return FunctionStatus.of(ref, state, url=entry.url or None, runtime=entry.runtime or None,
                             code_hash=None if changed else entry.code_hash or None,  # it runs no package now
                             last_update=entry.updated_at or None, detail=detail,
                             changed_outside=changed)


def checks(project_root: Path, env: Any, refs: list[FunctionRef]) -> list[Callable[[], FunctionStatus]]:
    """One callable per function; each cloud label reads its own root."""
    from platform_sdk.localcloud.roots import local_root

    port = local_config(env).gateway_port
    served = gateway_serves(port)
    registries: dict[str, Registry] = {}
    out: list[Callable[[], FunctionStatus]] = []
    for ref in refs:
        if ref.cloud not in registries:
            registries[ref.cloud] = Registry([CloudRoot(ref.cloud, local_root(project_root, env, ref.cloud))])
        out.append(lambda ref=ref, reg=registries[ref.cloud]: function_status(reg, ref, served, port))
    return out
