"""The wire contract between synthesis and the runtime: what a deployed function is told, and how.

Synthesis writes these environment variables into every function's configuration; the runtime inside the
function reads them. Both sides import this module (standard library only), so the two can never disagree.

Variables, per function:
- `PLATFORM_ENV`, `PLATFORM_SERVICE`, `PLATFORM_FUNCTION`, `PLATFORM_CLOUD`: who and where it is.
- `PLATFORM_GRANTS`: the function's grants, `kind:name:access` items joined by commas, sorted
  (e.g. `bucket:thumbs:write,database:users:connect`).
- `PLATFORM_<KIND>_<NAME>`: one URL per granted (or trigger) resource, by neutral name: `PLATFORM_BUCKET_THUMBS`,
  `PLATFORM_SECRET_JWT_KEY` (a secret's URL says where its value lives, never the value), `PLATFORM_QUEUE_OUTBOX`,
  `PLATFORM_FUNCTION_WORKER` (a function it may invoke).
- `PLATFORM_LOCAL_IDENTITY`: set by `platform dev` for local functions: the function's identity token, signed by
  the gateway, which it presents when it calls another function (see `platform_sdk.localcloud.dev.identity`).
- `PLATFORM_DENY` (rehearsals only): what the rehearsed environment's clouds would deny the function (see DENY).
- `PLATFORM_METRICS` (only in services that declare business metrics): what `metric(name)` may emit (see METRICS).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

ENV = "PLATFORM_ENV"
SERVICE = "PLATFORM_SERVICE"
FUNCTION = "PLATFORM_FUNCTION"
CLOUD = "PLATFORM_CLOUD"
GRANTS = "PLATFORM_GRANTS"
LOCAL_GATEWAY = "PLATFORM_LOCAL_GATEWAY"
"""Set by `platform dev` for local-cloud functions: the gateway's base URL (local buckets' signed URLs use it)."""
LOCAL_IDENTITY = "PLATFORM_LOCAL_IDENTITY"
"""Set by `platform dev` for local-cloud functions: the identity token the gateway minted for the function."""
PREFIX = "PLATFORM_"
"""Every variable the platform sets starts with this; user-declared variables may not."""

DENY = "PLATFORM_DENY"
"""Set only in a local environment that rehearses another (`rehearses = "prod"` in envs/local.toml), and only on
functions the rehearsed environment's clouds would refuse something: JSON, a list of
`{"operation": "bucket.put", "resource": "files", "message": "..."}` sorted by operation and resource.
`operation` is a neutral operation of the conformance analysis (`bucket.get`, `bucket.overwrite`,
`database.connect`, `federation.token_exchange`, `events.deliver`, ...); `resource` the neutral name of the granted
resource it concerns ("" for the function's own triggers); `message` the analysis' finding. A denied
`federation.token_exchange` denies every operation on that resource. The runtime raises the message when the
function performs a denied operation (platform_sdk.runtime.resources), so a rehearsal fails where the rehearsed
cloud would, with the same words. A denied `internet.https` (`INTERNET`, resource "") cuts the function off from the
internet: the local cloud points its worker's HTTP(S) proxy at a refusing loopback address."""

INTERNET = "internet.https"
"""The operation of a function declared `internet=True`: its own code calls hosts on the internet over HTTPS."""

METRICS = "PLATFORM_METRICS"
"""Set on every function of a service that declares business metrics (`service.metric(...)`): compact JSON
`{"namespace": "acme/prod", "metrics": {"thumbnails_served": {"unit": "Count", "dimensions": ["width"]}}}`.
`namespace` groups the environment's metrics (CloudWatch namespace, dashboards); the runtime's `metric(name)`
refuses a name or dimension not listed here (platform_sdk.runtime.metrics)."""

ACCESS_LEVELS = ("read", "write", "readwrite", "connect", "send", "invoke")
"""Grant access levels on the wire; "readwrite" counts as both read and write."""


def resource_var(kind: str, name: str) -> str:
    """`PLATFORM_<KIND>_<NAME>`: the variable holding a resource's URL (bucket thumbs-v2: PLATFORM_BUCKET_THUMBS_V2)."""
    return f"{PREFIX}{kind.upper()}_{name.upper().replace('-', '_')}"


def name_from_resource_var(var: str, kind: str) -> str:
    """Inverse of `resource_var`: neutral names are [a-z0-9-], so every '_' in the suffix was a '-'."""
    return var[len(f"{PREFIX}{kind.upper()}_"):].lower().replace("_", "-")


def encode_grants(grants: Iterable[tuple[str, str, str]]) -> str:
    """(kind, name, access) triples -> the PLATFORM_GRANTS value (sorted, comma-separated)."""
    return ",".join(sorted(f"{kind}:{name}:{access}" for kind, name, access in grants))


def decode_grants(value: str) -> dict[tuple[str, str], set[str]]:
    """The PLATFORM_GRANTS value -> {(kind, name): {"read", "write", ...}}; "readwrite" becomes both.

    Raises:
        ValueError: an item is not `kind:name:access` with a known access level.
    """
    parsed: dict[tuple[str, str], set[str]] = {}
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        kind, _, rest = item.partition(":")
        name, _, access = rest.rpartition(":")
        if not name or access not in ACCESS_LEVELS:
            raise ValueError(f"malformed {GRANTS} entry {item!r}: expected kind:name:access")
        levels = parsed.setdefault((kind, name), set())
        levels.update(("read", "write") if access == "readwrite" else (access,))
    return parsed


@dataclass(frozen=True)
class Denial:
    """One operation the rehearsed environment's clouds would refuse (an item of PLATFORM_DENY)."""

    operation: str
    resource: str
    message: str


def encode_denials(denials: Iterable[Denial]) -> str:
    """Denials -> the PLATFORM_DENY value (sorted, compact JSON; identical input gives identical text)."""
    items = sorted({(d.operation, d.resource, d.message) for d in denials})
    return json.dumps([{"operation": o, "resource": r, "message": m} for o, r, m in items], separators=(",", ":"))


def decode_denials(value: str) -> list[Denial]:
    """The PLATFORM_DENY value -> denials ("" -> none).

    Raises:
        ValueError: not a JSON list of objects with string `operation`, `resource` and `message`.
    """
    if not value.strip():
        return []
    try:
        items = json.loads(value)
    except json.JSONDecodeError as err:
        raise ValueError(f"malformed {DENY}: {err}") from None
    if not isinstance(items, list):
        raise ValueError(f"malformed {DENY}: expected a JSON list")
    denials = []
    for item in items:
        fields = [item.get(key) if isinstance(item, dict) else None for key in ("operation", "resource", "message")]
        operation, resource, message = (f if isinstance(f, str) else None for f in fields)
        if operation is None or resource is None or message is None:
            raise ValueError(f"malformed {DENY} entry {item!r}: expected operation, resource and message strings")
        denials.append(Denial(operation, resource, message))
    return denials


@dataclass(frozen=True)
class MetricSpec:
    """One declared business metric as the runtime sees it (an entry of PLATFORM_METRICS)."""

    name: str
    unit: str
    dimensions: tuple[str, ...] = ()


def metrics_namespace(name_prefix: str, env: str) -> str:
    """The namespace of an environment's business metrics: `<name_prefix>/<env>` (`acme/prod`)."""
    return f"{name_prefix}/{env}"


def encode_metrics(namespace: str, metrics: Iterable[MetricSpec]) -> str:
    """The PLATFORM_METRICS value (compact JSON, sorted: identical input gives identical text)."""
    table = {m.name: {"unit": m.unit, "dimensions": list(m.dimensions)} for m in sorted(metrics, key=lambda m: m.name)}
    return json.dumps({"namespace": namespace, "metrics": table}, separators=(",", ":"), sort_keys=True)


def decode_metrics(value: str) -> tuple[str, dict[str, MetricSpec]]:
    """The PLATFORM_METRICS value -> (namespace, name -> MetricSpec); "" -> ("", {}).

    Raises:
        ValueError: not the JSON `encode_metrics` writes.
    """
    if not value.strip():
        return "", {}
    try:
        doc = json.loads(value)
        table = doc["metrics"]
        specs = {str(name): MetricSpec(str(name), str(item["unit"]), tuple(str(d) for d in item.get("dimensions", ())))
                 for name, item in table.items()}
        return str(doc["namespace"]), specs
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"malformed {METRICS}: {err}") from None
