"""The AWS plug-in's runtime: what runs inside a function to use AWS (shipped into function packages).

- `adapter`: Lambda events in, neutral events to the handler, Lambda responses out;
- `buckets`: `S3Bucket` for `s3://` URLs;
- `secrets`: `SecretsManagerSecret` for `secretsmanager://` URLs (a Secret's value);
- `queues`: `SqsQueue` for `sqs://` URLs (a queue and its dead-letter queue);
- `functions`: `LambdaFunction` for `lambda://` URLs (Invoke API; SigV4-signed function-URL requests);
- `database`: RDS passwords from Secrets Manager;
- `federation`: S3 and Secrets Manager access from another cloud with AssumeRoleWithWebIdentity.

Standard library only at module level (boto3 loads when first used); imports only `platform_sdk.runtime`,
`platform_sdk.contract` and itself, never the compiler or the synthesis side.
"""

BUCKET_SCHEMES = ("s3",)
"""URL schemes of the buckets this runtime opens (`platform_sdk.runtime.buckets.open_bucket`)."""
SECRET_SCHEMES = ("secretsmanager",)
"""URL schemes of the secrets this runtime opens (`platform_sdk.runtime.secrets.open_secret`)."""
QUEUE_SCHEMES = ("sqs",)
"""URL schemes of the queues this runtime opens (`platform_sdk.runtime.queues.open_queue`)."""
FUNCTION_SCHEMES = ("lambda",)
"""URL schemes of the functions this runtime calls (`platform_sdk.runtime.functions.open_function`)."""
