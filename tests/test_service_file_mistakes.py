"""A new user's mistakes in service files, each refused through `platform synth`: exit 2, one message naming the
file and line of the mistake, nothing written.

Found by a fresh user's tryout: a function never added to a service was dropped silently (synth exited 0, grants
and all); a name a sibling() file does not define, or a sibling() file that does not exist, gave Python's message
with an internal module name or the path of the missing file instead of the calling line.
"""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from platform_sdk.cli import app
from tests.conformance_estates import write_project

ENVS = {"local": 'name_prefix = "acme"\ndefault_cloud = "local"\n[clouds.local]\nroot = ".platform/localcloud"\n'}
ALPHA = '''\
from platform_sdk import Bucket, Function, Service, http

service = Service("alpha", owner="team")
one = service.add(Function("one", handler="handler.handle", source="code", triggers=[http()]))
two = service.add(Bucket("two"))
'''


def _synth(root: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["synth", "--env", "local", "--project", str(root)])
    return result.exit_code, re.sub(r"\s+", " ", result.output)


def _refused(root: Path) -> str:
    code, output = _synth(root)
    assert code == 2, output
    assert output.count("error:") == 1 and "Traceback" not in output, output
    assert not (root / "cdktf.out").exists()
    return output


def _line(text: str, statement: str) -> int:
    return text.splitlines().index(statement) + 1


LOOSE = '''\
from platform_sdk import Function
from platform_sdk.loader import sibling

alpha = sibling("alpha")
loose = Function("loose", handler="handler.handle", source="code")
loose.reads(alpha.two)
'''


def test_a_function_never_added_to_a_service_is_refused_at_its_declaration(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", {"alpha.py": ALPHA, "beta.py": LOOSE}, ENVS)
    output = _refused(project.root)
    line = _line(LOOSE, 'loose = Function("loose", handler="handler.handle", source="code")')
    assert f"error: {project.services_dir / 'beta.py'}:{line}: Function('loose'): declared but never added to a " \
           "service: add it with service.add(...)" in output, output
    assert "hint: its grants would not be deployed: read alpha.two" in output, output


HELPERS = '''\
from platform_sdk import Bucket, Function, Service, http
from platform_sdk.modules import ScheduledJob


def make_bucket(name):
    return Bucket(name)


later = make_bucket("later")
job = ScheduledJob("nightly", handler="handler.handle", source="code", cron="0 3 * * *")
service = Service("gamma", owner="team")
api = Function("api", handler="handler.handle", source="code", triggers=[http()])
api.reads(later)
service.add(api)
service.add(later)
service.add(job)
'''


def test_resources_added_later_by_helpers_and_modules_are_not_refused(tmp_path: Path) -> None:
    """No false alarm: a resource made by a helper function or a module and added after its declaration is fine,
    and so is a sibling() file's resource used from another file."""
    added = LOOSE.replace('loose = Function("loose", handler="handler.handle", source="code")',
                          'loose = alpha.service.add(Function("loose", handler="handler.handle", source="code"))')
    assert added != LOOSE
    project = write_project(tmp_path / "p", {"alpha.py": ALPHA, "gamma.py": HELPERS, "delta.py": added}, ENVS)
    code, output = _synth(project.root)
    assert code == 0, output


def test_a_module_never_added_is_refused_at_its_line(tmp_path: Path) -> None:
    text = HELPERS.replace("service.add(job)\n", "")
    project = write_project(tmp_path / "p", {"gamma.py": text}, ENVS)
    output = _refused(project.root)
    line = _line(text, 'job = ScheduledJob("nightly", handler="handler.handle", source="code", cron="0 3 * * *")')
    assert f"{project.services_dir / 'gamma.py'}:{line}: Function('nightly'): declared but never added to " \
           "a service" in output, output


UNBOUND = '''\
from platform_sdk import Bucket, Service

services = {name: Service(name, owner="team") for name in ("one", "two")}
services["one"].add(Bucket("files"))
'''


def test_a_service_bound_to_no_top_level_name_is_refused(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", {"alpha.py": ALPHA, "many.py": UNBOUND}, ENVS)
    output = _refused(project.root)
    line = _line(UNBOUND, 'services = {name: Service(name, owner="team") for name in ("one", "two")}')
    assert f"{project.services_dir / 'many.py'}:{line}: Service('one'): service declared but not bound to a name at " \
           "the top level of a service file" in output, output


NOPE = '''\
from platform_sdk import Function, Service, http
from platform_sdk.loader import sibling

beta = Service("beta", owner="team")
two = beta.add(Function("two", handler="handler.handle", source="code", triggers=[http()]))
two.reads(sibling("alpha").tow)
'''


def test_a_name_a_sibling_file_does_not_define_lists_what_it_defines(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", {"alpha.py": ALPHA, "beta.py": NOPE}, ENVS)
    output = _refused(project.root)
    line = _line(NOPE, 'two.reads(sibling("alpha").tow)')
    assert f"error: {project.services_dir / 'beta.py'}:{line}: services/alpha.py defines no 'tow' (did you mean " \
           "'two'?) (it defines: service, one, two)" in output, output
    assert "_platform_services" not in output and "AttributeError" not in output, output


def test_a_sibling_file_that_does_not_exist_is_named_at_the_calling_line(tmp_path: Path) -> None:
    text = NOPE.replace('sibling("alpha").tow', 'sibling("alpa").two')
    project = write_project(tmp_path / "p", {"alpha.py": ALPHA, "beta.py": text, "_helpers.py": ""}, ENVS)
    output = _refused(project.root)
    line = _line(text, 'two.reads(sibling("alpa").two)')
    assert f"error: {project.services_dir / 'beta.py'}:{line}: sibling() names no service file in services/ " \
           "(did you mean 'alpha'?) (service files: alpha, beta) (got 'alpa')" in output, output
    assert "alpa.py" not in output, output
