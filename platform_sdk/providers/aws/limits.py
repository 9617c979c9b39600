"""What Lambda accepts of a function's configuration (runtimes, memory, timeout, environment variables), with the
pages the numbers come from: the plug-in's `function_limits`, and the compiler's check of the variables it adds."""

from __future__ import annotations

import json
from collections.abc import Mapping

from platform_sdk.providers.base import FunctionLimits


def lambda_environment_size(variables: Mapping[str, str]) -> int:
    """The bytes Lambda counts against its 4 KB environment quota: the variables as compact JSON, UTF-8 encoded
    (its refusal quotes that string: "exceeded the 4KB limit. String measured: {"NAME":"value",...}"; LocalStack
    measures the same way)."""
    return len(json.dumps(dict(variables), separators=(",", ":"), ensure_ascii=False).encode())


LAMBDA_LIMITS = FunctionLimits(
    runtimes=("python3.10", "python3.11", "python3.12", "python3.13"),
    memory_mb=(128, 10240), timeout_s=(1, 900),
    source="docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html, configuration-memory.html, "
           "configuration-timeout.html",
    environment_bytes=4096, environment_size=lambda_environment_size,
    environment_source="Lambda quotas: 4 KB for all of a function's environment variables, "
                       "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html",
)
"""What Lambda accepts of a function's configuration."""
