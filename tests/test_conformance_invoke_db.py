"""A function that uses a database is an ordinary callee (found by a new user's tryout): on AWS the platform builds a
second Lambda function for it, its database setup, and the conformance analysis took that helper for the callee of
`invokes`, refusing every estate that calls a function with a database. Through real synthesis with the analysis on.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance_estates import synth, write_project

SERVICES = {
    "a.py": '''
from platform_sdk import Database, Function, Service, http

a = Service("a", owner="team")
db = a.add(Database("db"))
worker = a.add(Function("worker", handler="handler.handle", source="code", triggers=[http(auth="iam")]))
front = a.add(Function("front", handler="handler.handle", source="code", triggers=[http()]))
worker.uses(db)
front.invokes(worker)
''',
    "b.py": '''
from platform_sdk import Function, Service, http
from platform_sdk.loader import sibling

b = Service("b", owner="team")
api = b.add(Function("api", handler="handler.handle", source="code", triggers=[http()]))
api.invokes(sibling("a").worker)
''',
}
DEV = '''
name_prefix = "yy"
default_cloud = "aws"

[clouds.aws]
account = "333333333333"
region = "eu-west-1"

[state]
backend = "local"
path = ".platform/state"
'''


@pytest.mark.parametrize("services", [["a.py"], ["a.py", "b.py"]], ids=["same-service", "across-services"])
def test_invoking_a_function_that_uses_a_database_passes_the_analysis(tmp_path: Path, services: list[str]) -> None:
    project = write_project(tmp_path / "p", {name: SERVICES[name] for name in services}, {"dev": DEV})
    result = synth(project, "dev", conformance=True)  # raises, naming every missing operation, before the fix
    stacks = {name: doc for name, doc in result.documents().items() if name.endswith("-aws")}
    lambdas = {rid: body for doc in stacks.values()
               for rid, body in doc["resource"].get("aws_lambda_function", {}).items()}
    assert any(body["function_name"] == "yy-dev-a-worker-dbsetup" for body in lambdas.values())
