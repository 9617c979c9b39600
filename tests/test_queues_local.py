"""Queues and function-to-function calls on the local cloud, end to end (issue 19): real Terraform applies the
estate (`localcloud_queue`, functions), the real `platform dev` gateway delivers messages with retries and a
dead-letter queue, a function invokes another synchronously and asynchronously, and an `http(auth="iam")` trigger
answers 401 without an identity and 403 to a function that was not granted `invokes`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from platform_sdk.localcloud.dev import Gateway, roots_for_env
from platform_sdk.runtime.queues import open_queue
from tests.conformance_estates import write_project
from tests.terraform_fixtures import Cli, tf_binary_fixture  # noqa: F401

ESTATE = '''
from platform_sdk import Bucket, Function, Queue, Service, http, queue_message

svc = Service("shop", owner="team")
outbox = svc.add(Queue("outbox", max_attempts=3, retention_days=2))
log = svc.add(Bucket("log"))
render = svc.add(Function("render", handler="code.render", source="code", triggers=[http(auth="iam")]))
worker = svc.add(Function("worker", handler="code.work", source="code", triggers=[queue_message(outbox, batch_size=2)]))
worker.reads_writes(log).invokes(render)
api = svc.add(Function("api", handler="code.api", source="code", triggers=[http()]))
api.sends(outbox).invokes(worker)
stranger = svc.add(Function("stranger", handler="code.stranger", source="code", triggers=[http()]))
stranger.sends(outbox).reads_writes(log)
'''
CODE = '''
import json
from platform_sdk.runtime import FunctionCall, HttpResponse, QueueMessage, bucket, function, queue


def render(request):
    return HttpResponse(200, {"rendered": request.json(), "method": request.method})


def work(event):
    if isinstance(event, FunctionCall):
        return {"echo": event.payload, "caller": event.caller}
    assert isinstance(event, QueueMessage)
    body = event.json()
    log = bucket("log")
    log.put(f"attempts/{event.id}/{event.attempt}", b"x")
    if body.get("fail_until", 0) >= event.attempt:
        raise RuntimeError(f"failing attempt {event.attempt}")
    answer = function("render").request("POST", "/", body={"id": event.id})
    log.put(f"done/{event.id}", json.dumps({"body": body, "render": answer.json(), "status": answer.status,
                                            "attempt": event.attempt}).encode())


def api(request):
    what = request.query.get("do")
    if what == "send":
        return {"id": queue("outbox").send(request.body, attributes={"kind": "test"})}
    if what == "invoke":
        return {"answer": function("worker").invoke({"n": 1})}
    if what == "async":
        return {"call_id": function("worker").send({"n": 2})}
    return HttpResponse(400, "?")


def stranger(request):
    from platform_sdk.runtime.functions import open_function  # around the grant check: the gateway still refuses
    target = request.query["target"]
    response = open_function("localfn://" + target).request("POST", "/", b"{}", {"content-type": "application/json"})
    return HttpResponse(response.status, response.body, {"content-type": "application/json"})
'''
LOCAL_ENV = '''
name_prefix = "acme"
default_cloud = "local"

[state]
backend = "local"
path = ".platform/state"
'''


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, tf_binary: Path) -> Any:
    root = tmp_path_factory.mktemp("queues")
    project = write_project(root / "estate", {"shop.py": ESTATE}, {"local": LOCAL_ENV},
                            sources={"code/code.py": CODE})
    cli = Cli(tf_binary)
    applied = cli(project.root, "apply", "--env", "local", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    from platform_sdk.envs import load_environment

    gateway = Gateway(roots_for_env(project.root, load_environment(project.envs_dir / "local.toml")),
                      retry_base=0.2).start()
    yield project.root, gateway
    gateway.stop()


def cloud(root: Path) -> Path:
    return root / ".platform" / "localcloud" / "local" / "local"


def wait_for(check: Any, seconds: float = 60.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_a_message_is_delivered_once_it_succeeds_and_a_failing_one_is_dead_lettered(shop: Any) -> None:
    root, gateway = shop
    api = f"{gateway.url}/fn/acme-local-shop-api"
    log = cloud(root) / "buckets" / "acme-local-shop-log"
    ok = requests.post(api, params={"do": "send"}, data=json.dumps({"fail_until": 1}))
    assert ok.status_code == 200, ok.text
    retried = ok.json()["id"]
    dead = requests.post(api, params={"do": "send"}, data=json.dumps({"fail_until": 99})).json()["id"]

    done = wait_for(lambda: (log / "done" / retried).is_file() and json.loads((log / "done" / retried).read_text()))
    assert done["attempt"] == 2 and done["body"] == {"fail_until": 1}, "failed once, delivered again"
    assert done["status"] == 200 and done["render"] == {"rendered": {"id": retried}, "method": "POST"}, \
        "the worker called the IAM-protected function with its identity"
    store = open_queue((cloud(root) / "queues" / "acme-local-shop-outbox").as_uri())
    wait_for(lambda: store.counts().dead_letter == 1)
    assert sorted(p.name for p in (log / "attempts" / dead).iterdir()) == ["1", "2", "3"], "max_attempts=3"
    assert not (log / "done" / dead).exists()
    (dead_message,) = store.receive(dead_letter=True)
    assert dead_message.id == dead and json.loads(dead_message.body) == {"fail_until": 99}
    assert dead_message.attributes == {"kind": "test"}, "kept with its attributes, not lost"
    counts = store.counts()
    assert (counts.visible, counts.in_flight) == (0, 0)


def test_a_function_invokes_another_synchronously_and_asynchronously(shop: Any) -> None:
    root, gateway = shop
    api = f"{gateway.url}/fn/acme-local-shop-api"
    answer = requests.post(api, params={"do": "invoke"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"answer": {"echo": {"n": 1}, "caller": "shop.api"}}
    call_id = requests.post(api, params={"do": "async"}).json()["call_id"]
    calls = wait_for(lambda: [i for i in requests.get(f"{gateway.url}/_platform/invocations").json()
                              if i["trigger"] == "call" and call_id in i["detail"]])
    assert calls[0]["status"] == "ok" and calls[0]["function"] == "acme-local-shop-worker"


def test_iam_http_answers_401_without_an_identity_and_403_to_a_function_not_granted(shop: Any) -> None:
    root, gateway = shop
    render = f"{gateway.url}/fn/acme-local-shop-render"
    anonymous = requests.post(render, json={})
    assert anonymous.status_code == 401 and "no valid identity" in anonymous.json()["error"]
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    forged = requests.post(render, json={}, headers={"authorization": "Bearer acme-local-shop-worker.00ff"})
    assert forged.status_code == 401, "a token the gateway did not mint is no identity"
    refused = requests.get(f"{gateway.url}/fn/acme-local-shop-stranger", params={"target": "acme-local-shop-render"})
    assert refused.status_code == 403 and "acme-local-shop-stranger is not granted invokes" in refused.text
    direct = requests.post(f"{gateway.url}/_platform/invoke/acme-local-shop-worker", json={})
    assert direct.status_code == 401
