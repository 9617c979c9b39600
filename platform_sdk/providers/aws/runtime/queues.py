"""`SqsQueue`: an SQS queue (`sqs://<account>/<name>?region=...`) and its dead-letter queue `<name>-dlq`.

A sender on another cloud gets `...&role_arn=<federated role ARN>&web_identity=<its cloud>` and sends with the
credentials of that role (AssumeRoleWithWebIdentity with its own ID token, runtime/federation.py), which allows exactly
sqs:SendMessage on this queue (and its KMS key through SQS).

The queue URL is built, not looked up (`https://sqs.<region>.amazonaws.com/<account>/<name>`, whatever endpoint the
client talks to), so a sender needs exactly `sqs:SendMessage`. A message's neutral id travels
as the string attribute `platform-message-id` (SQS assigns its own `MessageId`), so a drained message keeps its id.
Counts are SQS's approximate attributes. boto3 loads on first use.
"""

from __future__ import annotations

import os
import threading
import uuid
from typing import Any
from urllib.parse import parse_qs, urlparse

from platform_sdk.runtime.queues import ID_ATTRIBUTE, QueueCounts, QueuedMessage

ENDPOINT_ENV = "PLATFORM_SQS_ENDPOINT"
DLQ_SUFFIX = "-dlq"  # the name platform_sdk.providers.aws.queue gives the dead-letter queue


class SqsQueue:
    """One SQS queue and its dead-letter queue."""

    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        if parsed.scheme != "sqs" or not parsed.netloc or not parsed.path.strip("/"):
            raise ValueError(f"not an SQS URL: {url!r} (expected sqs://<account>/<name>?region=...)")
        params = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        self.url = url
        self.account = parsed.netloc
        self.name = parsed.path.strip("/")
        self.region = params.get("region") or os.environ.get("AWS_REGION") or "us-east-1"
        self.endpoint = params.get("endpoint") or os.environ.get(ENDPOINT_ENV) or None
        self.role_arn = params.get("role_arn", "")
        self.web_identity = params.get("web_identity", "")
        self._client: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SqsQueue({self.name!r}, region={self.region!r})"

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self.session().client("sqs", region_name=self.region, endpoint_url=self.endpoint)
            return self._client

    def session(self) -> Any:
        """This function's own credentials, or (a sender on another cloud) the federated role's: never a key."""
        import boto3

        if self.role_arn and self.web_identity:
            from platform_sdk.providers.aws.runtime.federation import aws_session

            return aws_session(self.role_arn, self.region, self.web_identity)
        return boto3.session.Session()

    def queue_url(self, dead_letter: bool = False) -> str:
        """The queue's standard URL (SQS and emulators accept it whatever endpoint the client talks to: a VPC
        interface endpoint in PLATFORM_SQS_ENDPOINT, or moto)."""
        name = self.name + (DLQ_SUFFIX if dead_letter else "")
        return f"https://sqs.{self.region}.amazonaws.com/{self.account}/{name}"

    def send(self, body: bytes, attributes: dict[str, str] | None = None, message_id: str | None = None,
             dead_letter: bool = False) -> str:
        message_id = message_id or uuid.uuid4().hex
        fields = {key: {"DataType": "String", "StringValue": value} for key, value in (attributes or {}).items()}
        fields[ID_ATTRIBUTE] = {"DataType": "String", "StringValue": message_id}
        self.client.send_message(QueueUrl=self.queue_url(dead_letter), MessageBody=body.decode("utf-8"),
                                 MessageAttributes=fields)
        return message_id

    def receive(self, max_messages: int = 10, visibility_seconds: int = 30,
                dead_letter: bool = False) -> list[QueuedMessage]:
        response = self.client.receive_message(QueueUrl=self.queue_url(dead_letter),
                                               MaxNumberOfMessages=max(1, min(max_messages, 10)),
                                               VisibilityTimeout=visibility_seconds, WaitTimeSeconds=0,
                                               MessageAttributeNames=["All"],
                                               MessageSystemAttributeNames=["ApproximateReceiveCount"])
        return [message_of(m) for m in response.get("Messages") or []]

    def delete(self, message: QueuedMessage, dead_letter: bool = False) -> None:
        self.client.delete_message(QueueUrl=self.queue_url(dead_letter), ReceiptHandle=message.receipt)

    def _attributes(self, dead_letter: bool) -> dict[str, str]:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        response = self.client.get_queue_attributes(QueueUrl=self.queue_url(dead_letter), AttributeNames=names)
        return dict(response.get("Attributes") or {})

    def counts(self) -> QueueCounts:
        main, dead = self._attributes(False), self._attributes(True)
        return QueueCounts(int(main.get("ApproximateNumberOfMessages", 0)),
                           int(main.get("ApproximateNumberOfMessagesNotVisible", 0)),
                           int(dead.get("ApproximateNumberOfMessages", 0))
                           + int(dead.get("ApproximateNumberOfMessagesNotVisible", 0)))

    def exists(self) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._attributes(False)
        except ClientError:
            return False
        return True


def message_of(message: dict[str, Any]) -> QueuedMessage:
    """A received SQS message (API shape: `MessageAttributes` with `StringValue`s) as a neutral one."""
    raw = message.get("MessageAttributes") or {}
    attributes = {k: str(v.get("StringValue", "")) for k, v in raw.items()}
    neutral_id = attributes.pop(ID_ATTRIBUTE, None) or str(message["MessageId"])
    attempt = int((message.get("Attributes") or {}).get("ApproximateReceiveCount") or 1)
    return QueuedMessage(neutral_id, str(message.get("Body") or "").encode("utf-8"), attributes, attempt,
                         str(message.get("ReceiptHandle") or ""))


def open_queue(url: str) -> SqsQueue:
    """The plug-in hook `platform_sdk.runtime.queues.open_queue` calls for `sqs://` URLs."""
    return SqsQueue(url)
