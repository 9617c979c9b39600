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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# Terraform resource type -> (cloud kind, attribute holding the physical name)
FUNCTION_TYPES = {
    "aws_lambda_function": ("aws", "function_name"),
    "google_cloudfunctions2_function": ("gcp", "name"),
    "localcloud_function": ("local", "name"),
}
NOT_FOUND = "NotFound"
UNKNOWN = "Unknown"


@dataclass(frozen=True)
class FunctionRef:
    """One function as synthesized: where it should be and which package it should run."""

    service: str
    function: str
    address: str          # neutral address, "service.function"
    stack: str
    cloud: str            # the placement label (aws, gcp, local)
    target: str           # which compiler built it (a stand-in cloud has target "local")
    resource: str         # Terraform address in its stack
    name: str             # physical name
    expected_sha256: str | None
    region: str | None = None    # AWS region / GCP location
    project: str | None = None   # GCP project


@dataclass
class FunctionStatus:
    """What the cloud reported for one function (state NotFound when it is not deployed)."""

    service: str
    function: str
    address: str
    stack: str
    cloud: str
    target: str
    name: str
    state: str
    url: str | None = None
    runtime: str | None = None
    code_hash: str | None = None       # hex sha256 of the deployed package, when the cloud tells us
    expected_hash: str | None = None   # hex sha256 of the synthesized package
    drifted: bool | None = None        # None: not deployed, or the cloud gives no comparable hash
    last_update: str | None = None
    detail: str | None = None

    @classmethod
    def of(cls, ref: FunctionRef, state: str, **values: Any) -> FunctionStatus:
        """A status for `ref`; drift is decided here, the same way for every cloud."""
        status = cls(service=ref.service, function=ref.function, address=ref.address, stack=ref.stack,
                     cloud=ref.cloud, target=ref.target, name=ref.name, state=state,
                     expected_hash=ref.expected_sha256, **values)
        if status.code_hash and status.expected_hash:
            status.drifted = status.code_hash.lower() != status.expected_hash.lower()
        return status

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _provider_block(doc: dict[str, Any], name: str) -> dict[str, Any]:
    blocks = (doc.get("provider") or {}).get(name) or [{}]
    return blocks[0] if isinstance(blocks, list) else blocks


def function_refs(outdir: Path) -> list[FunctionRef]:
    """Every function resource of the synthesized environment at `outdir` (cdktf.out/<env>)."""
    from platform_sdk.synth.app import read_metadata

    meta = read_metadata(outdir)
    packages: dict[str, Any] = meta.get("packages") or {}
    refs: list[FunctionRef] = []
    for stack, info in sorted((meta.get("stacks") or {}).items()):
        path = outdir / "stacks" / stack / "cdk.tf.json"
        if not path.is_file():
            continue
        doc = json.loads(path.read_text())
        owners: dict[str, str] = info.get("owners") or {}
        for rtype, (_, name_attr) in FUNCTION_TYPES.items():
            for rid, body in sorted(((doc.get("resource") or {}).get(rtype) or {}).items()):
                resource = f"{rtype}.{rid}"
                address = owners.get(resource) or f"{info.get('service', '?')}.{rid}"
                service, _, function = address.partition(".")
                region = project = None
                if rtype == "aws_lambda_function":
                    region = _provider_block(doc, "aws").get("region")
                elif rtype == "google_cloudfunctions2_function":
                    region = body.get("location") or _provider_block(doc, "google").get("region")
                    project = body.get("project") or _provider_block(doc, "google").get("project")
                refs.append(FunctionRef(
                    service=service, function=function, address=address, stack=stack,
                    cloud=str(info.get("cloud")), target=str(info.get("target")), resource=resource,
                    name=str(body.get(name_attr)), expected_sha256=(packages.get(address) or {}).get("sha256"),
                    region=region, project=project,
                ))
    return refs


def collect(project_root: Path, env: Any, outdir: Path, *, aws_client: Any = None, gcp_client: Any = None,
            parallelism: int = 8) -> list[FunctionStatus]:
    """Ask every cloud about every function of the environment; clients may be injected (tests)."""
    from platform_sdk.status import aws, gcp, local

    refs = function_refs(outdir)
    checks: list[Any] = []
    by_kind: dict[str, list[FunctionRef]] = {"aws": [], "gcp": [], "local": []}
    for ref in refs:
        by_kind[FUNCTION_TYPES[ref.resource.split(".", 1)[0]][0]].append(ref)
    if by_kind["aws"]:
        checks += aws.checks(env, by_kind["aws"], client=aws_client)
    if by_kind["gcp"]:
        checks += gcp.checks(env, by_kind["gcp"], client=gcp_client)
    if by_kind["local"]:
        checks += local.checks(project_root, env, by_kind["local"])
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool:
        results = list(pool.map(lambda check: check(), checks))
    return sorted(results, key=lambda s: (s.service, s.function, s.stack))


def unresolved(name: str) -> bool:
    """A physical name that is a Terraform expression cannot be looked up before apply."""
    return "${" in name
