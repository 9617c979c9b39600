"""Notifications: the welcome message of every new account, handed over by auth through a queue.

auth's API puts one message on `outbox` per sign-up; `worker` takes them off the queue (retried on failure,
dead-lettered after five attempts) and has the message rendered by `render`, an internal function only granted
functions may call (`http(auth="iam")`: AWS_IAM function URL / Cloud Run invoker IAM / the local gateway's identities).
"""

from platform_sdk import Function, Queue, Service, http, queue_message
from platform_sdk.loader import sibling

service = Service("notifications", owner="comms-team", description="Welcome messages for new accounts")

outbox = service.add(Queue("outbox", retention_days=4, max_attempts=5))
render = service.add(Function("render", handler="render.handle", source="functions/notifications",
                              triggers=[http(auth="iam")]))
worker = service.add(Function("worker", handler="worker.deliver", source="functions/notifications",
                              triggers=[queue_message(outbox, batch_size=10)]))
worker.invokes(render)
sibling("auth").auth.sends(outbox)
