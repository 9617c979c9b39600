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
"""

from __future__ import annotations

from collections.abc import Iterable

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
