"""Queues: `queue(name).send(body, attributes=...)` inside a function; `open_queue(url)` opens any queue by URL (what
`platform dev` delivers from and a move drains).

Synthesis injects `PLATFORM_QUEUE_<NAME>`: a URL whose scheme picks the plug-in runtime serving it (each plug-in's
runtime `__init__` declares `QUEUE_SCHEMES`; its `queues` module offers `open_queue(url) -> QueueClient`):

    file:///<local cloud root>/queues/<name>.sqlite              the local cloud (a SQLite file)
    sqs://<account>/<name>?region=<region>[&...]                  AWS SQS (its dead-letter queue `<name>-dlq`)
    pubsub://<project>/<topic>                                    GCP Pub/Sub

Delivery is at least once everywhere; a message keeps its `id` across redeliveries and across a drain to another
queue (`message_id` on `send`; on SQS the id travels as the message attribute `ID_ATTRIBUTE`), so handlers can
de-duplicate. Standard library only: imported inside deployed functions.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Protocol, cast
from urllib.parse import urlparse

from platform_sdk import contract
from platform_sdk.runtime import plugins
from platform_sdk.runtime.resources import GrantError, deny, function_identity, grants

ID_ATTRIBUTE = "platform-message-id"
"""Message attribute carrying a message's neutral id where the cloud assigns its own (SQS, Pub/Sub)."""
MAX_BODY_BYTES = 256 * 1024
"""Largest body, in bytes: SQS's limit, the smallest of the clouds' (Pub/Sub takes 10 MB)."""
MAX_ATTRIBUTES = 9
"""Most attributes per message: SQS allows 10 message attributes and the platform uses one for the id."""


class QueueOperationError(RuntimeError):
    """A queue operation the cloud refused or that this client cannot do (the message names it)."""


@dataclass(frozen=True)
class QueuedMessage:
    """A message as a queue hands it out to a receiver (moves, the local gateway): `receipt` acknowledges it."""

    id: str
    body: bytes
    attributes: dict[str, str] = field(default_factory=dict)
    attempt: int = 1
    receipt: str = ""


@dataclass(frozen=True)
class QueueCounts:
    """How many messages a queue holds: waiting (`visible`), handed out and not yet acknowledged (`in_flight`), and in
    its dead-letter queue (`dead_letter`). Clouds report approximate numbers (SQS's `Approximate...` attributes)."""

    visible: int
    in_flight: int
    dead_letter: int

    @property
    def total(self) -> int:
        return self.visible + self.in_flight + self.dead_letter


class QueueClient(Protocol):
    """One queue (and its dead-letter queue) on one cloud (`open_queue(url)`)."""

    url: str

    def send(self, body: bytes, attributes: dict[str, str] | None = None, message_id: str | None = None,
             dead_letter: bool = False) -> str:
        """Put a message on the queue (or straight on its dead-letter queue); returns its id (`message_id` when
        given: a message drained from another queue keeps its id)."""

    def receive(self, max_messages: int = 10, visibility_seconds: int = 30,
                dead_letter: bool = False) -> list[QueuedMessage]:
        """Take up to `max_messages` waiting messages, invisible to other receivers for `visibility_seconds`."""

    def delete(self, message: QueuedMessage, dead_letter: bool = False) -> None:
        """Acknowledge a received message: it is gone for good."""

    def counts(self) -> QueueCounts:
        """Waiting, in-flight and dead-lettered messages."""

    def exists(self) -> bool:
        """True when the queue exists."""


class QueueModule(Protocol):
    """What a plug-in runtime's `queues` module offers."""

    def open_queue(self, url: str) -> QueueClient: ...


def open_queue(url: str) -> QueueClient:
    """A client for the queue at `url`, from the plug-in runtime serving its scheme.

    Raises:
        ValueError: no plug-in runtime here serves the URL's scheme.
    """
    scheme = urlparse(url).scheme
    owner = plugins.queue_schemes().get(scheme)
    if owner is None:
        known = ", ".join(f"{s}://" for s in sorted(plugins.queue_schemes())) or "none"
        raise ValueError(f"no queue client for {scheme}:// URLs (available: {known})")
    return cast(QueueModule, plugins.load(owner, "queues")).open_queue(url)


def encode_body(body: bytes | str) -> bytes:
    """A message body as bytes (text as UTF-8), refused when larger than `MAX_BODY_BYTES`.

    Raises:
        ValueError: not bytes or str, or too large.
    """
    data = body.encode("utf-8") if isinstance(body, str) else body
    if not isinstance(data, (bytes, bytearray)):
        raise ValueError(f"a message body is bytes or str, not {type(body).__name__}")
    if len(data) > MAX_BODY_BYTES:
        raise ValueError(f"a message body is at most {MAX_BODY_BYTES} bytes (SQS's limit); got {len(data)}")
    return bytes(data)


def check_attributes(attributes: dict[str, str] | None) -> dict[str, str]:
    """Message attributes: at most `MAX_ATTRIBUTES` string pairs, names not starting with `platform-`.

    Raises:
        ValueError: anything else.
    """
    attributes = dict(attributes or {})
    if len(attributes) > MAX_ATTRIBUTES:
        raise ValueError(f"a message has at most {MAX_ATTRIBUTES} attributes; got {len(attributes)}")
    for key, value in attributes.items():
        if not isinstance(key, str) or not key or key.startswith("platform-") or not isinstance(value, str):
            raise ValueError(f"attributes are non-empty string names (not starting with 'platform-') mapped to "
                             f"strings; got {key!r}: {value!r}")
    return attributes


class GrantedQueue:
    """A granted queue inside a function: `send` only (receiving is the platform's, through the trigger)."""

    def __init__(self, name: str, client: QueueClient) -> None:
        self.name = name
        self.raw = client

    def __repr__(self) -> str:
        return f"GrantedQueue({self.name!r}, {self.raw.url!r})"

    def send(self, body: bytes | str, attributes: dict[str, str] | None = None) -> str:
        """Put one message on the queue; returns its id.

        Raises:
            ValueError: the body is not bytes/str or is larger than 256 KiB, or the attributes are invalid.
            DeniedError: a rehearsal found that the rehearsed cloud would refuse the send (contract.DENY).
        """
        data, checked = encode_body(body), check_attributes(attributes)
        deny("queue.send", self.name)
        return self.raw.send(data, checked)


_clients: dict[str, GrantedQueue] = {}
_lock = threading.Lock()


def queue(name: str) -> GrantedQueue:
    """The granted queue `name` (neutral name): `queue("outbox").send(body, attributes={...})`.

    Raises:
        GrantError: the function holds no `fn.sends(queue)` grant on it (the message names the line to add).
    """
    url = os.environ.get(contract.resource_var("queue", name))
    if not url or "send" not in grants().get(("queue", name), set()):
        fn = os.environ.get(contract.FUNCTION) or "fn"
        var = contract.resource_var("queue", name)
        why = f"{var} is not set" if not url else f"{contract.GRANTS} has no queue:{name} entry"
        raise GrantError(f"function {function_identity()} has no grant on queue {name!r} ({why}). In the service "
                         f"file, add `fn.sends(queue)` on the Function {fn!r} (queue = the Queue named {name!r}); "
                         "then deploy again.")
    with _lock:
        client = _clients.get(url)
        if client is None:
            client = _clients[url] = GrantedQueue(name, open_queue(url))
    return client


def queue_urls() -> dict[str, str]:
    """{neutral queue name: URL} for every queue URL injected into this function (grants and triggers)."""
    prefix = contract.resource_var("queue", "")
    return {contract.name_from_resource_var(k, "queue"): v for k, v in os.environ.items()
            if k.startswith(prefix) and v}
