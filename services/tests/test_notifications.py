"""The comms team's tests of the notifications service: the welcome message of a sign-up travels auth -> queue ->
worker -> render, render admits only granted functions, and a message that cannot be rendered is retried."""

from __future__ import annotations

import json
import uuid

import pytest

from platform_sdk.runtime import GrantError


def test_a_sign_up_queues_a_welcome_message_that_the_worker_delivers(platform) -> None:
    who = f"welcome-{uuid.uuid4().hex[:10]}@example.com"
    assert platform.http("auth.api", "POST", "/signup", json_body={"email": who, "password": "pw"}).status == 201

    platform.wait_for(lambda: any(f"send to={who}" in line for line in platform.logs("notifications.worker")),
                      what=f"the welcome message to {who}", functions=["notifications.worker"])
    sent = next(line for line in platform.logs("notifications.worker") if f"send to={who}" in line)
    assert "subject='Welcome aboard'" in sent


def test_a_queued_message_is_rendered_and_sent(platform) -> None:
    who = f"direct-{uuid.uuid4().hex[:10]}@example.com"
    message_id = platform.send_message("notifications.outbox", json.dumps({"template": "welcome", "email": who}))

    call = platform.wait_for_invocation("notifications.worker")
    assert call.trigger == "queue" and message_id in call.detail
    platform.wait_for(lambda: any(f"send to={who}" in line and f"idempotency_key={message_id}" in line
                                  for line in platform.logs("notifications.worker")),
                      what=f"the worker's log line sending to {who}")  # the log may land after the invocation


def test_a_message_that_cannot_be_rendered_fails_and_is_retried(platform) -> None:
    message_id = platform.send_message("notifications.outbox", json.dumps({"template": "nope", "email": "x@y.z"}))

    first = platform.wait_for_invocation("notifications.worker", allow_error=True)
    assert first.status == "error" and message_id in first.detail  # the handler raised for its only message
    platform.wait_for(lambda: any("render answered 400" in line for line in platform.logs("notifications.worker")),
                      what="the worker's log line saying render answered 400")
    platform.wait_for(lambda: any(message_id in c.detail and "attempt=2" in c.detail
                                  for c in platform.invocations("notifications.worker")),
                      what=f"the second attempt of message {message_id}")


def test_render_answers_only_functions_granted_invokes(platform) -> None:
    body = {"template": "welcome", "email": "a@b.c"}
    worker = platform.as_function("notifications.worker")
    rendered = worker.function("render").request("POST", "/", body=body)
    assert rendered.status == 200 and rendered.json()["subject"] == "Welcome aboard"

    assert platform.http("notifications.render", "POST", "/", json_body=body).status == 401  # no identity
    refused = platform.http("notifications.render", "POST", "/", json_body=body, as_function="auth.api")
    assert refused.status == 403 and "not granted invokes" in refused.text  # an identity, but no grant
    with pytest.raises(GrantError, match="no grant on function 'render'"):
        platform.as_function("auth.api").function("render")
