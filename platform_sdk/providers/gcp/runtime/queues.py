"""`PubSubTopic`: a GCP queue (`pubsub://<project>/<topic>`), published to over Pub/Sub's REST API.

`send` is `projects.topics.publish` with the function's own credentials (google-auth; the function's service account
holds `roles/pubsub.publisher` on exactly this topic), or, for a function on AWS
(`pubsub://<project>/<topic>?wif_audience=...&web_identity=aws`), with the federated token of its Lambda role, whose
principal set holds that role on the topic (runtime/federation.py). The message's neutral id travels as the attribute
`platform-message-id`. https://cloud.google.com/pubsub/docs/reference/rest/v1/projects.topics/publish
`PLATFORM_PUBSUB_ENDPOINT` (tests: a fake or the emulator) replaces `https://pubsub.googleapis.com`; there a topic
without federation is published to with anonymous credentials. Draining a Pub/Sub queue (receive, delete, counts) is
not supported yet: a move of a GCP queue is refused by these methods with a clear message.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import urllib.request
import uuid
from typing import Any
from urllib.parse import urlparse

from platform_sdk.runtime.federation import is_federated
from platform_sdk.runtime.queues import ID_ATTRIBUTE, QueueCounts, QueuedMessage, QueueOperationError

ENDPOINT_ENV = "PLATFORM_PUBSUB_ENDPOINT"
API = "https://pubsub.googleapis.com"
SCOPE = "https://www.googleapis.com/auth/pubsub"


class PubSubTopic:
    """One Pub/Sub topic (a queue's, or a function's calls topic)."""

    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        if parsed.scheme != "pubsub" or not parsed.netloc or not parsed.path.strip("/"):
            raise ValueError(f"not a Pub/Sub URL: {url!r} (expected pubsub://<project>/<topic>)")
        self.url = url
        self.project = parsed.netloc
        self.topic = parsed.path.strip("/")
        self.endpoint = os.environ.get(ENDPOINT_ENV) or API
        self._session: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"PubSubTopic({self.project!r}, {self.topic!r})"

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.endpoint.rstrip('/')}/v1/{path}"
        data = json.dumps(body).encode()
        federated = is_federated(self.url)
        if self.endpoint != API and not federated:  # an emulator or fake on the loopback: no credentials
            request = urllib.request.Request(url, data=data, method="POST",
                                             headers={"content-type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the configured endpoint
                answer: dict[str, Any] = json.loads(response.read() or b"{}")
                return answer
        with self._lock:
            if self._session is None:
                import google.auth
                from google.auth.transport.requests import AuthorizedSession

                if federated:
                    from platform_sdk.providers.gcp.runtime.federation import gcs_credentials_for

                    credentials = gcs_credentials_for(self.url)
                else:
                    credentials, _ = google.auth.default(scopes=[SCOPE])
                self._session = AuthorizedSession(credentials)
        response = self._session.post(url, data=data, headers={"content-type": "application/json"}, timeout=30)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def send(self, body: bytes, attributes: dict[str, str] | None = None, message_id: str | None = None,
             dead_letter: bool = False) -> str:
        if dead_letter:
            raise QueueOperationError("publishing straight to a Pub/Sub dead-letter topic is not supported yet")
        message_id = message_id or uuid.uuid4().hex
        message = {"data": base64.b64encode(body).decode("ascii"),
                   "attributes": {**(attributes or {}), ID_ATTRIBUTE: message_id}}
        self._post(f"projects/{self.project}/topics/{self.topic}:publish", {"messages": [message]})
        return message_id

    def _unsupported(self, what: str) -> QueueOperationError:
        return QueueOperationError(f"{what} a Pub/Sub queue ({self.topic}) is not supported yet: a move cannot drain "
                                   "a GCP queue")

    def receive(self, max_messages: int = 10, visibility_seconds: int = 30,
                dead_letter: bool = False) -> list[QueuedMessage]:
        raise self._unsupported("receiving from")

    def delete(self, message: QueuedMessage, dead_letter: bool = False) -> None:
        raise self._unsupported("acknowledging on")

    def counts(self) -> QueueCounts:
        raise self._unsupported("counting the messages of")

    def exists(self) -> bool:
        return True


def open_queue(url: str) -> PubSubTopic:
    """The plug-in hook `platform_sdk.runtime.queues.open_queue` calls for `pubsub://` URLs."""
    return PubSubTopic(url)
