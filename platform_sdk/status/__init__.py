"""`platform status`: what each cloud itself reports about every deployed function, and code drift.

The list of functions and their physical names comes from the synthesized stacks (`cdk.tf.json`), the
expected code from the package hashes recorded at synthesis (`platform.json`). Each cloud is then asked
directly (Lambda GetFunction, Cloud Functions v2 GetFunction, the local cloud registry) rather than
Terraform state: state can be stale, the cloud cannot. "Drifted" means the code the cloud runs is not the
package synthesized from the current sources.
"""

from __future__ import annotations

import concurrent.futures
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from platform_sdk import providers
from platform_sdk.model.reach import Reach
from platform_sdk.providers.base import NOT_FOUND, UNKNOWN, FunctionRef, FunctionStatus, unresolved

__all__ = ["NOT_FOUND", "UNKNOWN", "FunctionRef", "FunctionStatus", "collect", "function_refs", "reached",
           "unresolved"]


def function_types() -> dict[str, tuple[str, str]]:
    """Terraform type of a function -> (plug-in, attribute holding the physical name), over every plug-in."""
    return {found.function_type[0]: (name, found.function_type[1])
            for name, found in providers.plugins().items() if found.function_type is not None}


def function_refs(outdir: Path) -> list[FunctionRef]:
    """Every function resource of the synthesized environment at `outdir` (cdktf.out/<env>) that implements one of
    the estate's functions (each has a package)."""
    from platform_sdk.synth.app import read_metadata

    meta = read_metadata(outdir)
    packages: dict[str, Any] = meta.get("packages") or {}
    refs: list[FunctionRef] = []
    types = function_types()
    for stack, info in sorted((meta.get("stacks") or {}).items()):
        path = outdir / "stacks" / stack / "cdk.tf.json"
        if not path.is_file():
            continue
        doc = json.loads(path.read_text())
        owners: dict[str, str] = info.get("owners") or {}
        for rtype, (owner, name_attr) in types.items():
            for rid, body in sorted(((doc.get("resource") or {}).get(rtype) or {}).items()):
                resource = f"{rtype}.{rid}"
                if resource in owners and owners[resource] not in packages or providers.plugin(owner).helper_function(
                        body):
                    continue  # the platform's own helper (a CDN's edge function, a database setup), not the estate's
                address = owners.get(resource) or f"{info.get('service', '?')}.{rid}"
                service, _, function = address.partition(".")
                region, project = providers.plugin(owner).function_location(doc, body)
                refs.append(FunctionRef(
                    service=service, function=function, address=address, stack=stack,
                    cloud=str(info.get("cloud")), target=str(info.get("target")), resource=resource,
                    name=str(body.get(name_attr)), expected_sha256=(packages.get(address) or {}).get("sha256"),
                    region=region, project=project,
                ))
    return refs


def collect(project_root: Path, env: Any, outdir: Path, *, clients: Mapping[str, Any] | None = None,
            parallelism: int = 8) -> list[FunctionStatus]:
    """Ask every cloud about every function of the environment; `clients` (plug-in -> client) for tests."""
    types = function_types()
    by_plugin: dict[str, list[FunctionRef]] = {}
    for ref in function_refs(outdir):
        by_plugin.setdefault(types[ref.resource.split(".", 1)[0]][0], []).append(ref)
    checks: list[Any] = []
    for name, refs in by_plugin.items():
        checks += providers.plugin(name).status_checks(project_root, env, refs, client=(clients or {}).get(name))
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool:
        results = list(pool.map(lambda check: check(), checks))
    return sorted(results, key=lambda s: (s.service, s.function, s.stack))


def reached(statuses: list[FunctionStatus], reach: Mapping[str, Reach],
            cdn_url: Mapping[str, str] | None = None) -> list[FunctionStatus]:
    """`statuses` with each function's `url` kept only when that URL serves it (`Reach.url`: an `http()` trigger,
    no CDN in front; the cloud reports a URL for others too: a GCP function always has one, the local cloud names
    its gateway path), and `reached` saying how it is reached otherwise or besides (`Reach.describe`: `via CDN
    <cdn url><pattern>` with the CDN's URL from `cdn_url` (address -> URL), else `via CDN web.cdn /api/*`;
    `queue svc.outbox`, `cron 0 3 * * *`, ...). A function the model does not know is left as is."""
    for status in statuses:
        how = reach.get(status.address)
        if how is None:
            continue
        if not how.url:
            status.url = None
        if how.others or not how.url:
            status.reached = how.describe((cdn_url or {}).get)
    return statuses
