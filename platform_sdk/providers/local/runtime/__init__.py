"""The local cloud plug-in's runtime: what a function running on the local cloud uses.

- `adapter`: the local gateway's JSON events in, neutral events to the handler;
- `buckets`: `LocalBucket` for `file://` URLs (a directory is a bucket);
- `database`: the credentials of a function's role on the local PostgreSQL / MariaDB servers (SQLite stand-ins,
  the explicit fallback, are opened by `platform_sdk.runtime.database` itself).
- `secrets`: `LocalSecret` for `file://` secret URLs (a directory holding a 0600 value file);
- `queues`: `LocalQueue` for `file://` queue URLs (a directory holding a SQLite file);
- `functions`: `LocalFunction` for `localfn://` URLs (calls through the `platform dev` gateway, signed with the
  function's local identity token).

Standard library only; imports
only `platform_sdk.runtime`, `platform_sdk.contract` and itself.
"""

BUCKET_SCHEMES = ("file",)
"""URL schemes of the buckets this runtime opens (`platform_sdk.runtime.buckets.open_bucket`)."""
SECRET_SCHEMES = ("file",)
"""URL schemes of the secrets this runtime opens (`platform_sdk.runtime.secrets.open_secret`)."""
QUEUE_SCHEMES = ("file",)
"""URL schemes of the queues this runtime opens (`platform_sdk.runtime.queues.open_queue`)."""
FUNCTION_SCHEMES = ("localfn",)
"""URL schemes of the functions this runtime calls (`platform_sdk.runtime.functions.open_function`)."""
