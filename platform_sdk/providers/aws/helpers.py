"""The platform's own Lambda functions: the database setup functions (dbsetup.py) and a CDN's payload-hash function
at the edge (payload_hash.py). They are not the estate's functions: `platform status` and `logs` leave them out, and
they carry no alarms of their own (a setup's failure fails the apply that invokes it; the edge function's failures
are the CDN's 5xx responses, which the CDN's alarm watches)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def helper_function(body: Mapping[str, Any]) -> bool:
    """Whether an aws_lambda_function block is one of the platform's helpers, recognised by its handler."""
    from platform_sdk.providers.aws.dbsetup import HANDLER as DBSETUP_HANDLER
    from platform_sdk.providers.aws.payload_hash import ENTRY as PAYLOAD_HASH_ENTRY

    return body.get("handler") in (DBSETUP_HANDLER, PAYLOAD_HASH_ENTRY)
