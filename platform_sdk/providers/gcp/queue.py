"""Queue -> Pub/Sub: a topic, the queue's subscription (with a dead-letter policy and retries), a dead-letter topic and
a subscription on it that keeps the dead-lettered messages.

Why our own subscription rather than Eventarc's: an Eventarc Pub/Sub trigger creates its subscription itself, which
Terraform cannot give a dead-letter policy. So the consuming function (`queue_message(queue)`, at most one per queue:
two subscriptions would each get every message) gets this subscription's `push_config`: Pub/Sub pushes each message
to the function's URL with an OIDC token of the function's own service account, which holds `roles/run.invoker` on
the function. Without a consumer the subscription is a pull subscription that keeps the messages.
https://cloud.google.com/pubsub/docs/handling-failures, https://cloud.google.com/pubsub/docs/push

- `max_attempts` -> `dead_letter_policy.max_delivery_attempts` (Pub/Sub takes 5 to 100: placement refuses fewer);
  the Pub/Sub service agent publishes to the dead-letter topic and acknowledges on the subscription, so it gets
  `roles/pubsub.publisher` on that topic and `roles/pubsub.subscriber` on that subscription (a project binding
  narrowed by an IAM condition to the one subscription).
- `retention_days` -> the subscriptions' `message_retention_duration` (at most 7 days: placement refuses more).
- `batch_size` has no equivalent: a push subscription delivers one message per request.
- Retries back off from 10 s to 600 s; the acknowledgement deadline is the consumer's timeout (10 s to 600 s).

The URL functions are told: `pubsub://<project>/<topic>`.
"""

from __future__ import annotations

from typing import Any

from platform_sdk.model import Queue
from platform_sdk.providers.base import StackContext
from platform_sdk.providers.gcp import iam, naming, provider

PUBSUB_API = "pubsub.googleapis.com"
DLQ_SUFFIX = "-dlq"
DAY_SECONDS = 86400
MAX_RETENTION_DAYS = 7
MIN_DELIVERY_ATTEMPTS = 5
ACK_DEADLINE = (10, 600)


def queue_problems(queue: Queue) -> list[str]:
    """What Pub/Sub cannot do for this queue, as 'missing X' phrases."""
    problems = []
    if queue.retention_days > MAX_RETENTION_DAYS:
        problems.append(f"retention above {MAX_RETENTION_DAYS} days (a Pub/Sub subscription keeps messages at most "
                        f"7 days; got retention_days={queue.retention_days})")
    if queue.max_attempts < MIN_DELIVERY_ATTEMPTS:
        problems.append(f"dead-lettering before {MIN_DELIVERY_ATTEMPTS} attempts (Pub/Sub's dead-letter policy takes "
                        f"5 to 100; got max_attempts={queue.max_attempts})")
    if len(queue.consumers) > 1:
        problems.append("more than one consumer per queue (two Pub/Sub subscriptions would each get every message: "
                        f"{', '.join(fn.address for fn in queue.consumers)})")
    if any(fn.service is not queue.service for fn in queue.consumers):
        problems.append("a consumer in another service (the queue's subscription pushes to it from the queue's stack)")
    return problems


def topic_id(physical: str, suffix: str = "") -> str:
    """Topic and subscription ids: 3-255 of letters, digits and -_.~+%, starting with a letter."""
    return naming.shorten(naming.rfc1035(physical) + suffix, 255)


def queue_url(project: str, topic: str) -> str:
    return f"pubsub://{project}/{topic}"


def pubsub_agent(ctx: StackContext) -> str:
    """The project's Pub/Sub service agent, which moves messages to dead-letter topics."""
    return f"serviceAccount:service-{provider.project_number(ctx)}@gcp-sa-pubsub.iam.gserviceaccount.com"


def compile_queue(ctx: StackContext, queue: Queue) -> tuple[Any, dict[str, str]]:
    """The topics and subscriptions; the handle's `topic` is what publisher bindings name, `subscription` the
    construct the consuming function points at itself."""
    physical = ctx.physical_name(queue)
    labels = ctx.labels(queue)
    apis = provider.apis(ctx, PUBSUB_API)
    retention = f"{min(queue.retention_days, MAX_RETENTION_DAYS) * DAY_SECONDS}s"
    topic = ctx.resource("google_pubsub_topic", f"{queue.name}_topic", {
        "name": topic_id(physical), "labels": labels}).after(*apis)
    dead = ctx.resource("google_pubsub_topic", f"{queue.name}_dlq_topic", {
        "name": topic_id(physical, DLQ_SUFFIX), "labels": labels}).after(*apis)
    ctx.resource("google_pubsub_subscription", f"{queue.name}_dlq", {
        "name": topic_id(physical, DLQ_SUFFIX), "topic": dead.ref("id"), "labels": labels,
        "message_retention_duration": retention, "ack_deadline_seconds": 60,
        "expiration_policy": {"ttl": ""},  # never expires while idle (the default would delete it after 31 days)
    })
    longest = max((fn.timeout for fn in queue.consumers), default=ACK_DEADLINE[0])
    subscription = ctx.resource("google_pubsub_subscription", f"{queue.name}_subscription", {
        "name": topic_id(physical),
        "topic": topic.ref("id"),
        "labels": labels,
        "message_retention_duration": retention,
        "ack_deadline_seconds": max(ACK_DEADLINE[0], min(longest, ACK_DEADLINE[1])),
        "expiration_policy": {"ttl": ""},
        "retry_policy": {"minimum_backoff": "10s", "maximum_backoff": "600s"},
        "dead_letter_policy": {"dead_letter_topic": dead.ref("id"), "max_delivery_attempts": queue.max_attempts},
    })
    agent = pubsub_agent(ctx)
    ctx.resource("google_pubsub_topic_iam_member", f"{queue.name}_dlq_agent_publisher", {
        "topic": dead.ref("id"), "role": iam.PUBSUB_PUBLISHER, "member": agent})
    project = provider.project_id(ctx)
    subscription_name = f"projects/{project}/subscriptions/{topic_id(physical)}"
    iam.project_member(ctx, f"{queue.name}_dlq_agent_subscriber", iam.PUBSUB_SUBSCRIBER, agent, {
        "title": f"only {queue.name}"[:100],
        "description": "the Pub/Sub agent acknowledges dead-lettered messages on this subscription only",
        "expression": f'resource.name == "{subscription_name}"',
    })
    return subscription, {"name": topic_id(physical), "topic": topic.ref("id"), "topic_name": topic_id(physical),
                          "url": queue_url(project, topic_id(physical))}
