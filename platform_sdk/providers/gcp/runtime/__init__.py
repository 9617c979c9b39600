"""The GCP plug-in's runtime: what runs inside a function to use Google Cloud (shipped into function packages).

- `adapter`: Cloud Functions (functions-framework) requests and CloudEvents in, neutral events to the handler;
- `buckets`: `GcsBucket` for `gs://` URLs;
- `secrets`: `SecretManagerSecret` for `secretmanager://` URLs (a Secret's value);
- `database`: Cloud SQL passwords from Secret Manager, and the Cloud SQL socket / connector;
- `federation`: Cloud Storage and Secret Manager access from AWS with workload identity federation;
- `identity`: this workload's ID token (the metadata server), for federation into another cloud.

Standard library only at module level (google-cloud-* load when first used); imports only `platform_sdk.runtime`,
`platform_sdk.contract` and itself, never the compiler or the synthesis side.
"""

BUCKET_SCHEMES = ("gs", "gcs")
"""URL schemes of the buckets this runtime opens (`platform_sdk.runtime.buckets.open_bucket`)."""
SECRET_SCHEMES = ("secretmanager",)
"""URL schemes of the secrets this runtime opens (`platform_sdk.runtime.secrets.open_secret`)."""
QUEUE_SCHEMES = ("pubsub",)
"""URL schemes of the queues this runtime opens (`platform_sdk.runtime.queues.open_queue`): Pub/Sub topics."""
FUNCTION_SCHEMES = ("gcf",)
"""URL schemes of the functions this runtime calls (`platform_sdk.runtime.functions.open_function`)."""
