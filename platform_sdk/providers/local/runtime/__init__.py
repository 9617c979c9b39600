"""The local cloud plug-in's runtime: what a function running on the local cloud uses.

- `adapter`: the local gateway's JSON events in, neutral events to the handler;
- `buckets`: `LocalBucket` for `file://` URLs (a directory is a bucket);
- `database`: the credentials of a function's role on the local PostgreSQL / MariaDB servers (SQLite stand-ins,
  the explicit fallback, are opened by `platform_sdk.runtime.database` itself).

Standard library only; imports
only `platform_sdk.runtime`, `platform_sdk.contract` and itself.
"""

BUCKET_SCHEMES = ("file",)
"""URL schemes of the buckets this runtime opens (`platform_sdk.runtime.buckets.open_bucket`)."""
