"""What Cloud Functions (2nd gen) accept of a function's configuration (runtimes, memory, timeout, environment
variables), with the pages the numbers come from: the plug-in's `function_limits`, and the compiler's check of the
variables it adds."""

from __future__ import annotations

from platform_sdk.providers.base import FunctionLimits

# Memory: 128 MiB to 32 GiB (cloud.google.com/functions/docs/configuring/memory); timeout: up to 60 minutes
# for HTTP functions (event-driven: 540 s, checked by the compiler) (cloud.google.com/functions/docs/configuring/
# timeout); runtimes: the compiler's runtime table (cloud.google.com/functions/docs/runtime-support).
GCP_FUNCTION_LIMITS = FunctionLimits(
    runtimes=("python3.10", "python3.11", "python3.12"), memory_mb=(128, 32768), timeout_s=(1, 3600),
    source="cloud.google.com/functions/docs/configuring/memory, configuring/timeout, runtime-support",
    environment_bytes=32 * 1024,
    environment_source="Cloud Run functions: 32 KiB for the names and values of a function's runtime environment "
                       "variables, https://cloud.google.com/run/docs/configuring/services/overview-environment-"
                       "variables",
)
"""What Cloud Functions (2nd gen) accept of a function's configuration."""
