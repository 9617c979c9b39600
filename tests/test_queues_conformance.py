"""Conformance for queues and calls (issue 19): an estate with a queue (sender, consumer), function calls and an
IAM-protected trigger is clean on AWS and GCP, and every piece of evidence the analysis relied on for the new
operations (`queue.send`, `queue.deliver`, `function.invoke`, `function.send`) is removed in turn: a finding must
appear each time (generated, as in tests/test_conformance_mutations.py)."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import pytest

from platform_sdk.conformance import MISSING
from tests.conformance_estates import CLOUDS, Synthesized, synth, write_project
from tests.test_conformance_mutations import analyse, mutations, without

ESTATE = '''
from platform_sdk import Function, Queue, Service, http, queue_message

svc = Service("shop", owner="team")
outbox = svc.add(Queue("outbox", max_attempts=6))
render = svc.add(Function("render", handler="handler.handle", source="code", triggers=[http(auth="iam")]))
worker = svc.add(Function("worker", handler="handler.handle", source="code", triggers=[queue_message(outbox)]))
worker.invokes(render)
api = svc.add(Function("api", handler="handler.handle", source="code"))
api.sends(outbox).invokes(worker)
'''
NEW_OPERATIONS = ("queue.send", "queue.deliver", "function.invoke", "function.send")


@functools.cache
def estate(env: str) -> Synthesized:
    root = Path(tempfile.mkdtemp(prefix="queues-conformance-"))
    text = 'name_prefix = "acme"\n' + f'default_cloud = "{env}"\n' + CLOUDS
    return synth(write_project(root / "estate", {"shop.py": ESTATE}, {env: text}), env)


@pytest.mark.parametrize("env", ["aws", "gcp"])
def test_queues_and_calls_are_clean_and_every_provision_is_needed(env: str) -> None:
    synthesized = estate(env)
    documents = synthesized.documents()
    baseline = analyse(synthesized, documents)
    assert [f for f in baseline.findings if f.kind == MISSING] == [], baseline.findings
    relied = {e.need.split(" -> ")[-1] for e in baseline.evidence}
    assert set(NEW_OPERATIONS) <= relied, relied
    before = {str(f) for f in baseline.findings}
    generated = {locations: needs for locations, needs in mutations(baseline).items()
                 if any(need.endswith(NEW_OPERATIONS) for need in needs)}
    assert len(generated) >= 8, len(generated)
    missed = []
    for locations, needs in generated.items():
        after = analyse(synthesized, without(documents, locations))
        caught = [f for f in after.findings if str(f) not in before and f"{f.function}: {f.cause} -> {f.operation}"
                  in needs]
        if not caught:
            missed.append(f"{', '.join(map(str, locations))} (relied on by {sorted(needs)[0]})")
    assert not missed, f"{len(missed)} of {len(generated)} removals went unnoticed:\n" + "\n".join(missed)


CROSS = '''
from platform_sdk import Function, Service, http

svc = Service("svc", owner="team")
other = Service("worker", owner="team")
work = other.add(Function("work", handler="handler.handle", source="code"))
svc.add(Function("api", handler="handler.handle", source="code", triggers=[http(auth="iam")])).invokes(work)
'''


def test_a_gcp_function_invokes_a_lambda_function_with_a_federated_role_and_no_key(tmp_path: Path) -> None:
    import json

    from platform_sdk.synth.schema_check import check_outdir

    text = 'name_prefix = "acme"\ndefault_cloud = "gcp"\n[placement]\n"worker" = "aws"\n' + CLOUDS
    synthesized = synth(write_project(tmp_path / "estate", {"x.py": CROSS}, {"x": text}), "x")
    assert check_outdir(synthesized.outdir) == []
    documents = synthesized.documents()
    caller = documents["x-svc-gcp"]["resource"]["google_cloudfunctions2_function"]["api"]
    url = caller["service_config"]["environment_variables"]["PLATFORM_FUNCTION_WORK"]
    assert url == ("lambda://acme-x-worker-work?region=eu-west-1&role_arn=arn:aws:iam::333333333333:role/"
                   "acme-x-svc-api.worker.work&web_identity=gcp")
    (policy,) = [v for k, v in documents["x-worker-aws"]["resource"]["aws_iam_role_policy"].items()
                 if "federated" in k]
    assert json.loads(policy["policy"])["Statement"] == [{
        "Sid": "FunctionWorkerWorkFunction", "Effect": "Allow", "Action": ["lambda:InvokeFunction"],
        "Resource": "${aws_lambda_function.work_function.arn}"}]
    baseline = analyse(synthesized, documents)
    assert baseline.findings == []
    relied = {e.need.split(" -> ")[-1] for e in baseline.evidence}
    assert {"federation.token_exchange", "function.invoke", "function.send"} <= relied
