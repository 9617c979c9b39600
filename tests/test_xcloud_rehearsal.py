"""End to end on the local cloud (issue 19): an AWS function that calls a GCP function and sends to a GCP queue, and a
GCP function that sends to an AWS queue, placed on the local stand-ins of a `local` environment that rehearses `prod`.
Production accepts the estate (its synthesis, with the conformance analysis, passes), so the rehearsal must too, and
the calls must work through real Terraform, the real local-cloud provider and the real local gateway.

The two services are linked both ways (front -> back's function and queue, back -> front's queue): production wires
cross-cloud links by federation, so it has no cycle; locally both stand-ins are one target, and the local compiler
wires one link of the cycle with values known before apply (`LocalCompiler.known_kinds`), as production would accept.
"""

from __future__ import annotations

import json
from pathlib import Path

import requests

from platform_sdk.envs import find_environment
from platform_sdk.localcloud.dev import Gateway, roots_for_env
from platform_sdk.runtime.queues import open_queue
from tests.conformance_estates import write_project
from tests.terraform_fixtures import Cli, tf_binary_fixture  # noqa: F401 - registers tf_binary

ESTATE = '''
from platform_sdk import Function, Queue, Service, http

front = Service("front", owner="team")
back = Service("back", owner="team")
work = back.add(Function("work", handler="work.handle", source="code", triggers=[http(auth="iam")]))
jobs = back.add(Queue("jobs"))
replies = front.add(Queue("replies"))
api = front.add(Function("api", handler="api.handle", source="code", triggers=[http()]))
notify = back.add(Function("notify", handler="notify.handle", source="code", triggers=[http()]))
api.invokes(work).sends(jobs)
notify.sends(replies)
'''
SOURCES = {
    "code/api.py": '''
from platform_sdk.runtime import HttpResponse, function, queue


def handle(request):
    answer = function("work").invoke({"n": 2})
    sent = queue("jobs").send("resize 2")
    return HttpResponse(200, {"answer": answer, "sent": sent})
''',
    "code/work.py": '''
def handle(call):
    return {"echo": call.payload, "caller": call.caller}
''',
    "code/notify.py": '''
from platform_sdk.runtime import HttpResponse, queue


def handle(request):
    return HttpResponse(200, {"sent": queue("replies").send("shipped")})
''',
}
LOCAL = '''
name_prefix = "acme"
default_cloud = "aws"
rehearses = "prod"

[clouds.local]
root = ".platform/localcloud"

[clouds.aws]
stand_in = "local"

[clouds.gcp]
stand_in = "local"

[placement]
"back" = "gcp"

[state]
backend = "local"
path = ".platform/state"
'''
PROD = '''
name_prefix = "acme"
default_cloud = "aws"

[clouds.aws]
account = "333333333333"
region = "eu-west-1"

[clouds.gcp]
project = "acme-prod-123"
region = "europe-west1"

[placement]
"back" = "gcp"

[state]
backend = "local"
path = ".platform/state"
'''


def test_calls_and_sends_across_stand_ins_rehearse_what_production_accepts(tmp_path: Path, tf_binary: Path) -> None:
    root = write_project(tmp_path / "estate", {"x.py": ESTATE}, {"local": LOCAL, "prod": PROD}, sources=SOURCES).root
    cli = Cli(tf_binary)
    prod = cli(root, "synth", "--env", "prod")
    assert prod.exit_code == 0, prod.stdout + prod.stderr  # production accepts it, conformance analysis included

    result = cli(root, "apply", "--env", "local", "--auto-approve")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "rehearsal of prod: every operation would work there" in " ".join(result.stdout.split())
    metadata = json.loads((root / "cdktf.out" / "local" / "platform.json").read_text())
    assert metadata["rehearsal"]["error"] is None and metadata["rehearsal"]["denied"] == {}

    env = find_environment(root / "envs", "local")
    with Gateway(roots_for_env(root, env)) as gateway:
        api = requests.get(f"{gateway.url}/fn/acme-local-front-api", timeout=60)
        notify = requests.get(f"{gateway.url}/fn/acme-local-back-notify", timeout=60)
    assert api.status_code == 200, api.text
    body = api.json()
    assert body["answer"] == {"echo": {"n": 2}, "caller": "front.api"}  # as on the clouds: service.function
    assert notify.status_code == 200, notify.text
    for cloud, name, sent in (("gcp", "acme-local-back-jobs", body["sent"]),
                              ("aws", "acme-local-front-replies", notify.json()["sent"])):
        queue = open_queue((root / ".platform" / "localcloud" / "local" / cloud / "queues" / name).as_uri())
        (message,) = queue.receive()
        assert message.id == sent
