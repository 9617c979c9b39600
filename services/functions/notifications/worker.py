"""Delivers the queued notifications: each message is rendered by the internal `render` function, then sent.

Delivery is at least once: a message may arrive twice, so the message id is logged as the de-duplication key a mail
provider's idempotency header would carry.
"""

from __future__ import annotations

import logging

from platform_sdk.runtime import QueueMessage, function

log = logging.getLogger("notifications")


def deliver(message: QueueMessage) -> None:
    """Render one queued notification and hand it to the mail provider (here: the log). Raising retries it."""
    rendered = function("render").request("POST", "/", body=message.json())
    if rendered.status != 200:
        raise RuntimeError(f"render answered {rendered.status}: {rendered.text[:200]}")
    mail = rendered.json()
    log.warning("send to=%s subject=%r idempotency_key=%s", message.json().get("email"), mail["subject"], message.id)
