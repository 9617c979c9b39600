"""Queue -> two aws_sqs_queue: the queue and its dead-letter queue `<name>-dlq`, joined by a redrive policy.

- `maxReceiveCount` = the queue's `max_attempts`: SQS moves a message received that many times without being
  deleted to the dead-letter queue (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/
  sqs-dead-letter-queues.html).
- Retention: `retention_days` on both (SQS keeps messages 60 s to 14 days; a dead-lettered message keeps its original
  enqueue time, so the dead-letter queue's retention must be at least the queue's).
- Visibility timeout: six times the longest timeout of the functions consuming it, at least 30 s (AWS's
  recommendation for Lambda event source mappings; SQS refuses a mapping whose function timeout exceeds the queue's
  visibility timeout). https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
- Encryption: the profile's KMS key when it sets one, else SQS-managed SSE.

The URL functions are told: `sqs://<account>/<name>?region=<region>[&endpoint=<url>]`; the runtime builds the queue URL
from it (`https://sqs.<region>.amazonaws.com/<account>/<name>`). The account is the URL's host, not a query value:
secret scanners (checkov CKV_AWS_45) take `account=<12 digits>` in a function's environment for a credential.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

from platform_sdk.model import Queue
from platform_sdk.providers.aws.common import kms_key, make_handle, resource_tags, rid
from platform_sdk.providers.aws.config import aws_config
from platform_sdk.providers.aws.provider import account_id, region_of
from platform_sdk.providers.base import Handle, StackContext

SCHEME = "sqs"
DLQ_SUFFIX = "-dlq"
DAY_SECONDS = 86400
MIN_VISIBILITY_SECONDS = 30
MAX_VISIBILITY_SECONDS = 43200
# Queue names: 1-80 of letters, digits, '-' and '_' (CreateQueue, `QueueName`).
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


def name_problems(name: str) -> list[str]:
    """Why `name` (and its dead-letter queue's `<name>-dlq`) cannot name an SQS queue (empty when it can)."""
    if _NAME.match(name + DLQ_SUFFIX):
        return []
    return [f"a valid SQS queue name ({name + DLQ_SUFFIX!r}: 1-80 letters, digits, '-' and '_')"]


def visibility_timeout(queue: Queue) -> int:
    """Seconds a received message stays invisible: 6x the longest consumer timeout, within SQS's range."""
    longest = max((fn.timeout for fn in queue.consumers), default=0)
    return max(MIN_VISIBILITY_SECONDS, min(6 * longest, MAX_VISIBILITY_SECONDS))


def queue_url(ctx: StackContext, name: str) -> str:
    """`sqs://<account>/<name>?region=...[&endpoint=...]` (the account may be a reference)."""
    aws = aws_config(ctx.env)
    params = {"region": region_of(ctx)}
    if aws is not None and aws.endpoint:
        params["endpoint"] = aws.endpoint
    return f"{SCHEME}://{account_id(ctx)}/{name}?{urlencode(params)}"


def compile_queue(ctx: StackContext, queue: Queue) -> Handle:
    """The queue and its dead-letter queue; the handle's `arn` scopes IAM and the event source mapping."""
    name = ctx.physical_name(queue)
    tags = resource_tags(ctx, queue)
    retention = queue.retention_days * DAY_SECONDS
    encryption: dict[str, object] = {"sqs_managed_sse_enabled": True}
    key = kms_key(ctx)
    if key:
        encryption = {"kms_master_key_id": key}
    dlq = ctx.resource("aws_sqs_queue", rid(ctx, queue, "dlq"), {
        "name": name + DLQ_SUFFIX, "message_retention_seconds": retention, **encryption, "tags": tags})
    main = ctx.resource("aws_sqs_queue", rid(ctx, queue, "queue"), {
        "name": name,
        "message_retention_seconds": retention,
        "visibility_timeout_seconds": visibility_timeout(queue),
        "redrive_policy": json.dumps({"deadLetterTargetArn": dlq.ref("arn"), "maxReceiveCount": queue.max_attempts},
                                     sort_keys=True, separators=(",", ":")),
        **encryption,
        "tags": tags,
    })
    return make_handle(ctx, queue, {"queue": main, "dlq": dlq}, name=name, arn=main.ref("arn"),
                       dlq_arn=dlq.ref("arn"), url=queue_url(ctx, name))
