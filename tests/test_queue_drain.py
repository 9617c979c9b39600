"""A queue survives a move (issue 19): `drain_queue` carries every message of the source queue to the target, with
messages arriving during the drain, messages in flight at a consumer and dead-lettered ones, and none is lost or
duplicated: on local queues end to end, and on SQS against moto (the real boto3 client)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from platform_sdk.errors import PlatformError
from platform_sdk.move.queue import drain_queue, preflight_queue
from platform_sdk.runtime.queues import QueueClient, open_queue


def local_queue(root: Path, name: str, max_attempts: int = 2) -> Any:
    path = root / "queues" / name
    path.mkdir(parents=True)
    queue = open_queue(path.as_uri())
    queue.configure(max_attempts, 86400)  # type: ignore[attr-defined]  # what localcloud_queue does
    return queue


def everything(queue: QueueClient, dead_letter: bool = False) -> dict[str, bytes]:
    """Every message of a queue (or its dead-letter queue), by id, taken off it."""
    found: dict[str, bytes] = {}
    while batch := queue.receive(10, 60, dead_letter=dead_letter):
        for message in batch:
            assert message.id not in found, f"{message.id} twice"
            found[message.id] = message.body
            queue.delete(message, dead_letter=dead_letter)
    return found


def scenario(source: QueueClient, target: QueueClient, dead_path: Any, address: str, exact: bool = True,
             **drain: Any) -> None:
    """Messages waiting, dead-lettered, in flight at a consumer that fails them later, and a producer still
    sending during the drain: afterwards the target holds exactly all of them, under their ids."""
    dead_ids = dead_path(source)  # poison messages first, on an otherwise empty queue
    assert source.counts().dead_letter == len(dead_ids)
    sent = {source.send(json.dumps({"n": n}).encode(), {"n": str(n)}): json.dumps({"n": n}).encode()
            for n in range(25)}
    in_flight = source.receive(3, visibility_seconds=2)  # a consumer holds these; it never acknowledges them
    assert len(in_flight) == 3 and source.counts().in_flight == 3
    stop = threading.Event()
    late: dict[str, bytes] = {}

    def producer() -> None:
        n = 1000
        while not stop.is_set():
            body = json.dumps({"n": n}).encode()
            late[source.send(body)] = body
            n += 1
            time.sleep(0.05)

    thread = threading.Thread(target=producer)
    thread.start()
    try:
        time.sleep(0.3)
        report_holder: list[Any] = []
        drainer = threading.Thread(target=lambda: report_holder.append(drain_queue(address, source.url, target.url,
                                                                                   **drain)))
        drainer.start()
        time.sleep(1.0)
    finally:
        stop.set()  # the move has switched producers to the target: the source gets no more
        thread.join()
    drainer.join()
    (report,) = report_holder
    assert report.verified and report.source_after == (0, 0, 0)
    # SQS's in-flight count is approximate (ApproximateNumberOfMessagesNotVisible); the local store's is exact
    assert report.waited_for_in_flight or not exact, "the in-flight messages came back and were moved"
    live = everything(target)
    dead = everything(target, dead_letter=True)
    expected = {k: v for k, v in {**sent, **late}.items() if k not in dead_ids}
    assert live == expected, "every live message, in-flight ones and those sent during the drain, none twice"
    assert set(dead) == dead_ids, "dead-lettered messages stay dead-lettered"
    assert report.moved == len(expected) and report.dead_lettered_moved == len(dead_ids)
    assert late, "messages did arrive during the drain"


def test_a_local_queue_is_drained_with_messages_in_flight_arriving_and_dead_lettered(tmp_path: Path) -> None:
    source, target = local_queue(tmp_path / "aws", "outbox"), local_queue(tmp_path / "gcp", "outbox")
    preflight_queue("shop.outbox", source.url, target.url)

    def dead_letter_two(queue: Any) -> set[str]:
        ids = {queue.send(b"poison-1"), queue.send(b"poison-2")}
        for _ in range(3):  # max_attempts=2: the second failure dead-letters on the next receive
            for message in queue.receive(100, 0):
                queue.release(message, 0)
        return ids

    scenario(source, target, dead_letter_two, "shop.outbox", quiet_seconds=0.5, poll_seconds=0.05)


def test_a_retried_drain_adds_no_duplicate(tmp_path: Path) -> None:
    source, target = local_queue(tmp_path / "a", "q"), local_queue(tmp_path / "b", "q")
    message_id = source.send(b"once")
    (message,) = source.receive()
    target.send(message.body, message.attributes, message_id=message.id)  # a drain stopped after sending ...
    source.release(message, 0)  # ... before deleting: the message is still in the source
    report = drain_queue("q", source.url, target.url, quiet_seconds=0.1, poll_seconds=0.01)
    assert report.moved == 1 and everything(target) == {message_id: b"once"}, "same id: stored once"


def test_a_missing_twin_is_refused_before_anything_moves(tmp_path: Path) -> None:
    source = local_queue(tmp_path, "q")
    source.send(b"kept")
    with pytest.raises(PlatformError, match="the target of queue shop.q does not exist; nothing was moved"):
        preflight_queue("shop.q", source.url, (tmp_path / "nowhere" / "q").as_uri())
    assert source.counts().visible == 1


def test_a_drain_that_cannot_finish_says_so_and_loses_nothing(tmp_path: Path) -> None:
    source, target = local_queue(tmp_path / "a", "q"), local_queue(tmp_path / "b", "q")
    source.send(b"held")
    source.receive(1, visibility_seconds=60)  # in flight far longer than the drain may take
    with pytest.raises(PlatformError, match="1 in-flight .* none lost"):
        drain_queue("q", source.url, target.url, timeout_seconds=0.3, poll_seconds=0.05)
    assert source.counts().in_flight == 1


# -- SQS against moto --------------------------------------------------------------------------------------------
@pytest.fixture
def sqs_pair(moto_server: str) -> Iterator[tuple[QueueClient, QueueClient, Any]]:
    import boto3

    client = boto3.client("sqs", endpoint_url=moto_server, region_name="eu-west-1")
    urls = []
    for side in ("aws", "other"):
        name = f"acme-{side}-{uuid.uuid4().hex[:6]}-outbox"
        dlq = client.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        dlq_arn = client.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        client.create_queue(QueueName=name, Attributes={"RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})})
        urls.append(f"sqs://123456789012/{name}?region=eu-west-1&endpoint={moto_server}")
    yield open_queue(urls[0]), open_queue(urls[1]), client


def test_an_sqs_queue_is_drained_with_messages_in_flight_arriving_and_dead_lettered(
        sqs_pair: tuple[QueueClient, QueueClient, Any]) -> None:
    source, target, _ = sqs_pair

    def dead_letter_one(queue: Any) -> set[str]:
        ids: set[str] = set()
        poison = queue.send(b"poison")
        ids.add(poison)
        for _ in range(40):  # SQS moves it after 2 receives without a delete (moto: on the next receive)
            if poison in {m.id for m in queue.receive(10, 0, dead_letter=True)}:
                return ids
            queue.receive(10, 0)  # received and never deleted: one more receive counted
        raise AssertionError("moto never dead-lettered the poison message")

    preflight_queue("shop.outbox", source.url, target.url)
    scenario(source, target, dead_letter_one, "shop.outbox", exact=False, quiet_seconds=3.0, poll_seconds=0.1)
