"""Bad input gets one clear message naming file, key and value; exit code 2; nothing is written."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from platform_sdk.cli import app
from tests.terraform_fixtures import tree

runner = CliRunner()


def synth(estate: Path, env: str = "local") -> tuple[int, str]:
    result = runner.invoke(app, ["synth", "--env", env, "--project", str(estate)])
    return result.exit_code, re.sub(r"\s+", " ", result.output)


def assert_refused(estate: Path, code: int, output: str, *needles: str) -> None:
    assert code == 2, output
    for needle in needles:
        assert needle in output, f"{needle!r} not in {output!r}"
    assert not (estate / "cdktf.out").exists(), "nothing may be written on bad input"


def test_syntax_error_in_service_file(estate: Path) -> None:
    path = estate / "services" / "web.py"
    path.write_text(path.read_text() + "\ndef broken(:\n")
    code, out = synth(estate)
    assert_refused(estate, code, out, "web.py", "syntax error")


def test_unknown_environment(estate: Path) -> None:
    code, out = synth(estate, "nope")
    assert_refused(estate, code, out, "nope.toml", "--env", "unknown environment", "'nope'", "local")


def test_placement_key_that_names_nothing(estate: Path) -> None:
    path = estate / "envs" / "local.toml"
    path.write_text(path.read_text().replace('"web" = "gcp"', '"wbe" = "gcp"'))
    code, out = synth(estate)
    assert_refused(estate, code, out, "local.toml", "placement.wbe", "names no service")


def test_placement_key_that_names_no_resource(estate: Path) -> None:
    path = estate / "envs" / "local.toml"
    path.write_text(path.read_text().replace('"web" = "gcp"', '"web.nothing" = "gcp"'))
    code, out = synth(estate)
    assert_refused(estate, code, out, "local.toml", "placement.web.nothing", "no resource", "site")


def test_invalid_bucket_name_for_target_cloud(estate: Path) -> None:
    """S3 reserves the `xn--` prefix: the message names the workload, the cloud and the bad name."""
    env = estate / "envs" / "dev.toml"
    env.write_text(env.read_text().replace('name_prefix = "acme"', 'name_prefix = "xn--shop"'))
    code, out = synth(estate, "dev")
    assert_refused(estate, code, out, "dev.toml", "auth", "aws", "xn--")


def test_two_resources_with_one_name(estate: Path) -> None:
    path = estate / "services" / "thumbnails.py"
    path.write_text(path.read_text() + '\nfrom platform_sdk import Bucket\nservice.add(Bucket("originals"))\n')
    code, out = synth(estate)
    assert_refused(estate, code, out, "thumbnails.py", "two resources named 'originals'")


# -- tryout seedA fault 2: two declarations that would be one object on a cloud -------------------------------------
# Physical names: `acme-<env>-<service>-<resource>`; web lives on gcp in local (a local stand-in) and staging, on aws in
# dev. Each cloud label of the local environment has its own root, so only one label's names can meet.
WHERE = {"local": ("gcp (local stand-in)", "localcloud_bucket"), "dev": ("aws", "aws_s3_bucket"),
         "staging": ("gcp", "google_storage_bucket")}


def _append(path: Path, code: str) -> dict[str, int]:
    """Append `code` to a service file; the line of each `Bucket("<name>"` it adds, by name."""
    imports = "\nfrom platform_sdk import Bucket, Database, Function, Service\n"
    text = (path.read_text() if path.exists() else "") + imports + code
    path.write_text(text)
    return {m.group(1): text[:m.start()].count("\n") + 1 for m in re.finditer(r'(?:Bucket|Database)\("([^"]+)"', text)}


@pytest.mark.parametrize("env", ["local", "dev", "staging"])
def test_a_renamed_resources_old_name_declared_again_is_refused(estate: Path, env: str) -> None:
    """`renamed_from` keeps the old physical name: a new bucket with the old name would be the same bucket (both
    "created" into one, and removing the new one deleted the renamed one's data)."""
    web = estate / "services" / "web.py"
    lines = _append(web, 'service.add(Bucket("files", renamed_from="uploads"))\nservice.add(Bucket("uploads"))\n')
    code, out = synth(estate, env)
    cloud, terraform_type = WHERE[env]
    assert_refused(estate, code, out, f"{web}:{lines['uploads']}: web.uploads: ",
                   f"web.files (services/web.py:{lines['files']}, renamed_from='uploads') and web.uploads "
                   f"(services/web.py:{lines['uploads']}) would both be bucket 'acme-{env}-web-uploads' "
                   f"({terraform_type}", f"on {cloud}, one object for two declarations",
                   "hint: web.files keeps the physical name of its old name 'uploads' (renamed_from), so that name "
                   "stays taken in service web: give web.uploads another name")


@pytest.mark.parametrize(("env", "apart", "together"), [("local", "aws", "gcp"), ("dev", "gcp", "aws"),
                                                        ("staging", "aws", "gcp")])
def test_names_of_two_services_that_meet_are_refused_on_one_cloud(estate: Path, env: str, apart: str,
                                                                   together: str) -> None:
    """Service web's bucket x-y and service web-x's bucket y are both `acme-<env>-web-x-y`: accepted while they live
    on two clouds, refused once on one (across services: two stacks)."""
    web = estate / "services" / "web.py"
    lines = _append(web, 'service.add(Bucket("x-y"))\n')
    other = estate / "services" / "web_x.py"
    other_lines = _append(other, 'service = Service("web-x", owner="web-team")\nservice.add(Bucket("y"))\n')
    path = estate / "envs" / f"{env}.toml"
    text = path.read_text() if "[placement]\n" in path.read_text() else path.read_text() + "\n[placement]\n"
    path.write_text(text.replace("[placement]\n", f'[placement]\n"web-x" = "{apart}"\n', 1))
    code, out = synth(estate, env)
    assert code == 0, out
    before = tree(estate / "cdktf.out")

    path.write_text(text.replace("[placement]\n", f'[placement]\n"web-x" = "{together}"\n', 1))
    code, out = synth(estate, env)
    cloud, terraform_type = WHERE[env]
    assert code == 2, out
    for needle in (f"{other}:{other_lines['y']}: web-x.y: ",
                   f"web.x-y (services/web.py:{lines['x-y']}) and web-x.y (services/web_x.py:{other_lines['y']}) "
                   f"would both be bucket 'acme-{env}-web-x-y' ({terraform_type}",
                   f"on {cloud}", "physical names join the name prefix, the environment, the service and the resource"):
        assert needle in out, f"{needle!r} not in {out!r}"
    assert tree(estate / "cdktf.out") == before, "a refused synthesis leaves the earlier output as it was"


@pytest.mark.parametrize("kind", ["functions", "databases"])
def test_database_roles_that_meet_on_the_local_server_are_refused(estate: Path, kind: str) -> None:
    """The local cloud's database roles keep only letters, digits and '_': functions (or databases) `a--b` and `a-b`
    would share one role on the local server (`acme_local_auth_a_b__...`)."""
    auth = estate / "services" / "auth.py"
    if kind == "functions":
        _append(auth, "".join(f'service.add(Function("{name}", handler="api.handle", source="functions/auth"))'
                                      f'.uses(auth.database)\n' for name in ("a--b", "a-b")))
        role = "acme_local_auth_a_b__acme_local_auth_users"
        first, second = "auth.a--b (services/auth.py:{}, its localcloud_database_role.", "auth.a-b (services/auth.py:{}"
        numbers = [len(auth.read_text().splitlines()) - 1, len(auth.read_text().splitlines())]
    else:
        lines = _append(auth, 'service.add(Database("a--b"))\nservice.add(Database("a-b"))\n')
        role = "acme_local_auth_a_b__data"  # the database's group role (runtime/dbroles.py)
        first, second = "auth.a--b (services/auth.py:{}, its localcloud_database.a--b)", "auth.a-b (services/auth.py:{}"
        numbers = [lines["a--b"], lines["a-b"]]
    code, out = synth(estate)
    assert_refused(estate, code, out, first.format(numbers[0]), second.format(numbers[1]),
                   f"would both be localcloud_database_role '{role}' on aws (local stand-in)")


def test_missing_handler_file(estate: Path) -> None:
    (estate / "services" / "functions" / "web" / "api.py").unlink()
    code, out = synth(estate)
    assert_refused(estate, code, out, "web.py", "handler", "api.py not found", "'api.handle'")


def test_toml_type_error(estate: Path) -> None:
    path = estate / "envs" / "local.toml"
    path.write_text(path.read_text().replace("gateway_port = 8790", 'gateway_port = "eighty"'))
    code, out = synth(estate)
    assert_refused(estate, code, out, "local.toml", "clouds.local.gateway_port", "'eighty'")


def test_toml_syntax_error(estate: Path) -> None:
    path = estate / "envs" / "local.toml"
    path.write_text(path.read_text() + "\n[placement\n")
    code, out = synth(estate)
    assert_refused(estate, code, out, "local.toml", "TOML syntax error")


def test_toml_key_set_twice_names_the_key_and_line(estate: Path) -> None:
    """tomllib says only "Cannot overwrite a value": the message names the key and the line setting it again."""
    path = estate / "envs" / "local.toml"
    text = path.read_text().replace('"web" = "gcp"', '"web" = "gcp"\nweb = "aws"')
    path.write_text(text)
    line = text.splitlines().index('web = "aws"') + 1
    code, out = synth(estate)
    assert_refused(estate, code, out, f"local.toml:{line}: web: set twice")


def test_unknown_key_in_environment(estate: Path) -> None:
    path = estate / "envs" / "local.toml"
    path.write_text("defualt_cloud = 'aws'\n" + path.read_text())
    code, out = synth(estate)
    assert_refused(estate, code, out, "local.toml", "defualt_cloud")


def test_invalid_resource_argument_points_at_the_line(estate: Path) -> None:
    path = estate / "services" / "web.py"
    text = path.read_text() + '\nfrom platform_sdk import Database\nservice.add(Database("db", engine="oracle"))\n'
    path.write_text(text)
    line = text.splitlines().index('service.add(Database("db", engine="oracle"))') + 1
    code, out = synth(estate)
    assert_refused(estate, code, out, f"web.py:{line}", "engine", "'oracle'")


def test_cloud_without_configuration(estate: Path) -> None:
    path = estate / "envs" / "dev.toml"
    path.write_text(path.read_text().replace("[clouds.gcp]", "[clouds.gcpx]"))
    code, out = synth(estate, "dev")
    assert code == 2 and "dev.toml" in out and "gcpx" in out


@pytest.mark.parametrize("command", ["synth", "graph"])
def test_bad_input_leaves_previous_output_untouched(estate: Path, command: str) -> None:
    """A failed synth must not replace a good earlier one."""
    ok = runner.invoke(app, ["synth", "--env", "local", "--project", str(estate)])
    assert ok.exit_code == 0, ok.output
    before = sorted(p.relative_to(estate) for p in (estate / "cdktf.out").rglob("*"))
    (estate / "services" / "functions" / "web" / "api.py").unlink()
    result = runner.invoke(app, [command, "--env", "local", "--project", str(estate)])
    assert result.exit_code == 2
    assert sorted(p.relative_to(estate) for p in (estate / "cdktf.out").rglob("*")) == before


# -- issue 14.8: a handler function that does not exist, found without running the handler module -------------

def _declare_handler(estate: Path, handler: str) -> Path:
    path = estate / "services" / "web.py"
    text, count = re.subn(r'handler="api\.\w+"', f'handler="{handler}"', path.read_text())
    assert count == 1, "the example's web API declaration changed: update this edit"
    path.write_text(text)
    return path


def test_a_handler_function_that_does_not_exist_is_refused_at_load(estate: Path) -> None:
    source = _declare_handler(estate, "api.handel")
    line = next(i for i, text in enumerate(source.read_text().splitlines(), 1) if "api.handel" in text)
    code, out = synth(estate)
    assert_refused(estate, code, out, f"{source}:{line}", "handler", "'handel' is not defined in api.py",
                   "did you mean 'handle'?", "'api.handel'")


def test_the_handler_module_is_read_not_run(estate: Path) -> None:
    """A module with side effects at import (here: it would fail) is still checked, and never executed."""
    module = estate / "services" / "functions" / "web" / "api.py"
    module.write_text("raise SystemExit('imported!')\n" + module.read_text())
    _declare_handler(estate, "api.missing")
    code, out = synth(estate)
    assert_refused(estate, code, out, "'missing' is not defined in api.py")
    assert "imported!" not in out
    _declare_handler(estate, "api.handle")
    code, out = synth(estate)
    assert code == 0, out


@pytest.mark.parametrize("definition", [
    "from json import loads as handle_json\nhandle_json = handle_json\n",   # an assignment
    "try:\n    from fast import handle_json\nexcept ImportError:\n    def handle_json(request):\n        pass\n",
    "class handle_json:\n    pass\n",
])
def test_handlers_bound_by_import_assignment_or_condition_are_found(estate: Path, definition: str) -> None:
    module = estate / "services" / "functions" / "web" / "api.py"
    module.write_text(module.read_text() + "\n" + definition)
    _declare_handler(estate, "api.handle_json")
    code, out = synth(estate)
    assert code == 0, out


def test_a_module_binding_names_dynamically_is_announced_not_refused(estate: Path) -> None:
    module = estate / "services" / "functions" / "web" / "api.py"
    module.write_text(module.read_text() + "\nglobals()['handle_' + 'json'] = handle\n")
    source = _declare_handler(estate, "api.handle_json")
    code, out = synth(estate)
    assert code == 0, out
    assert f"warning: {source}:" in out and "could not be verified" in out and "globals() (line" in out
    assert (estate / "cdktf.out" / "local").is_dir()


# -- tryout seedA fault 6: code the runtime cannot import is refused like a missing handler, at its own line ------

def _web_code(estate: Path) -> Path:
    return estate / "services" / "functions" / "web"


def _declaration_line(estate: Path) -> str:
    source = estate / "services" / "web.py"
    return f"{source}:{next(n for n, text in enumerate(source.read_text().splitlines(), 1) if 'api.handle' in text)}"


def test_a_handler_module_that_does_not_parse_is_refused_at_its_line(estate: Path) -> None:
    module = _web_code(estate) / "api.py"
    module.write_text(module.read_text() + "\ndef broken(:\n")
    line = len(module.read_text().splitlines())
    code, out = synth(estate)
    assert_refused(estate, code, out, f"{module}:{line}: handler 'api.handle' of web.api cannot be imported: api.py "
                   "does not parse with Python 3.11: invalid syntax", f"declared at {_declaration_line(estate)}")


@pytest.mark.parametrize("files, bad, needle", [
    # a module of the source directory the handler imports, and one that module imports in turn
    ({"api.py": "import pages\n", "pages.py": "from lib.render import page\n", "lib/__init__.py": "",
      "lib/render.py": "def page(:\n"}, ("lib/render.py", 1), "lib/render.py does not parse"),
    # a package __init__.py runs before the module imported from it
    ({"api.py": "from lib import render\n", "lib/__init__.py": "x = (\n", "lib/render.py": ""},
     ("lib/__init__.py", 1), "lib/__init__.py does not parse"),
    # a name the imported module does not define (ImportError at import)
    ({"api.py": "\nfrom helpers import rendre\n", "helpers.py": "def render():\n    pass\n"},
     ("api.py", 2), "api.py imports 'rendre' from helpers, which helpers.py does not define"),
    # the runtime imports the handler module as a top-level module: no package above it
    ({"api.py": "from . import helpers\n", "helpers.py": ""}, ("api.py", 1), "api.py imports from above the function's "
     "source directory"),
])
def test_code_the_handler_module_imports_that_cannot_be_imported_is_refused(
        estate: Path, files: dict[str, str], bad: tuple[str, int], needle: str) -> None:
    code_dir = _web_code(estate)
    for name, text in files.items():
        (code_dir / name).parent.mkdir(parents=True, exist_ok=True)
        text = text + (code_dir / name).read_text() if name == "api.py" else text
        (code_dir / name).write_text(text)
    code, out = synth(estate)
    assert_refused(estate, code, out, f"{code_dir / bad[0]}:{bad[1]}: handler 'api.handle' of web.api cannot be "
                   f"imported: {needle}", f"declared at {_declaration_line(estate)}")


@pytest.mark.parametrize("files", [
    # imports that may never run: under a condition, a try, or in a function; and modules outside the source
    {"api.py": "try:\n    import fast\nexcept ImportError:\n    fast = None\n", "fast.py": "def f(:\n"},
    {"api.py": "import sys\nif sys.version_info >= (3, 99):\n    import future\n", "future.py": "def f(:\n"},
    {"api.py": "def later():\n    import slow\n", "slow.py": "def f(:\n"},
    # a name bound dynamically, a submodule, a namespace package, and a file named like a standard-library module
    {"api.py": "from helpers import render\nfrom pkg import sub\nfrom ns.mod import x\nfrom json import loads\n",
     "helpers.py": "globals()['render'] = print\n", "pkg/__init__.py": "", "pkg/sub.py": "",
     "ns/mod.py": "x = 1\n", "json.py": "def dumps(:\n"},
])
def test_imports_that_may_not_run_or_that_reading_cannot_settle_are_not_refused(
        estate: Path, files: dict[str, str]) -> None:
    code_dir = _web_code(estate)
    for name, text in files.items():
        (code_dir / name).parent.mkdir(parents=True, exist_ok=True)
        text = text + (code_dir / name).read_text() if name == "api.py" else text
        (code_dir / name).write_text(text)
    code, out = synth(estate)
    assert code == 0, out
    assert "cannot be imported" not in out


def test_the_runtime_grammar_reads_the_handler(estate: Path) -> None:
    """Syntax newer than the function's runtime is refused (python3.10 has no `except*`); syntax this Python
    cannot parse but a newer runtime may (`type X = ...` is Python 3.12) is announced as not verified."""
    module = _web_code(estate) / "api.py"
    module.write_text(module.read_text() + "\ntry:\n    pass\nexcept* ValueError:\n    pass\n")
    source = estate / "services" / "web.py"
    source.write_text(source.read_text().replace('source="functions/web",', 'source="functions/web", '
                                                 'runtime="python3.10",'))
    code, out = synth(estate)
    assert_refused(estate, code, out, f"{module}:", "cannot be imported: api.py does not parse with Python 3.10",
                   "3.11")
    module.write_text(module.read_text().split("\ntry:\n")[0] + "\ntype Pages = list[str]\n")
    source.write_text(source.read_text().replace('runtime="python3.10"', 'runtime="python3.12"'))
    code, out = synth(estate)
    assert code == 0, out
    if sys.version_info < (3, 12):
        assert f"warning: {_declaration_line(estate)}: handler 'api.handle' of web.api could not be verified: " \
               f"api.py does not parse with Python {sys.version_info[0]}.{sys.version_info[1]}" in out
        assert "which may be syntax of its runtime python3.12" in out


def test_a_requirement_the_local_cloud_does_not_have_is_announced(estate: Path) -> None:
    """Tryout seedA fault 12: the local cloud installs nothing; it says so at the requirement's line."""
    requirements = _web_code(estate) / "requirements.txt"
    requirements.write_text("# web\nno-such-project-for-platform-tests==1.0\n")
    code, out = synth(estate)
    assert code == 0, out
    assert f"warning: {requirements}:2: no-such-project-for-platform-tests==1.0 is not installed in the Python " \
           "environment local functions run in" in out, out


def test_a_cdn_serving_plain_http_is_announced_by_synth(estate: Path) -> None:
    """Issue 14.2: staging places web on GCP; without its domain the CDN works, and the output says HTTP only."""
    env = estate / "envs" / "staging.toml"
    text = env.read_text()
    assert '[overrides."web.cdn"]\ndomain = "shop.staging.example.com"\n' in text
    env.write_text(text.replace('[overrides."web.cdn"]\ndomain = "shop.staging.example.com"\n', ""))
    web = estate / "services" / "web.py"
    line = next(n for n, source in enumerate(web.read_text().splitlines(), 1) if "StaticSite(" in source)
    code, out = synth(estate, "staging")
    assert code == 0, out
    assert f"warning: {web}:{line}: CDN web.cdn on GCP has no domain, so no certificate: it " \
           "serves plain HTTP on port 80" in out


@pytest.mark.parametrize("command", [["plan", "--env", "local"], ["envs"], ["test"]])
def test_a_project_directory_that_is_not_one_is_named(tmp_path: Path, command: list[str]) -> None:
    """`--project` pointing nowhere said "unknown environment (known: none)" (found by a new user's tryout)."""
    missing = tmp_path / "nowhere"
    result = runner.invoke(app, [*command, "--project", str(missing)])
    output = re.sub(r"\s+", " ", result.output)
    assert result.exit_code == 2, output
    assert f"--project: no project there: {missing} does not exist" in output, output
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, [*command, "--project", str(tmp_path / "empty")])
    assert result.exit_code == 2 and "has no envs/ folder" in re.sub(r"\s+", " ", result.output)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"], "nothing written"


def test_a_value_not_of_its_keys_form_is_named_in_words_with_its_line(estate: Path,
                                                                       write_env: Callable[[str, str], Path]) -> None:
    """A fresh user's typo: `dns_zone = "externl"` gave pydantic's regular expression, no line and no suggestion."""
    text = ('name_prefix = "acme"\ndefault_cloud = "aws"\n[clouds.aws]\naccount = "111111111111"\n'
            'region = "eu-west-1"\ndns_zone = "externl"\n')
    write_env("typo", text)
    code, out = synth(estate, "typo")
    assert_refused(estate, code, out, 'typo.toml:6: clouds.aws.dns_zone: must be a Route 53 hosted zone id (Z...',
                   'or "external"', "(did you mean 'external'?) (got 'externl')")
    assert "should match pattern" not in out, out


LOCAL = 'default_cloud = "local"\n[clouds.local]\nroot = ".platform/localcloud"\n'
AWS = '[clouds.aws]\nregion = "eu-west-1"\n'
GCP = '[clouds.gcp]\nregion = "europe-west1"\n'
ACME = 'name_prefix = "acme"\n' + LOCAL


@pytest.mark.parametrize(("text", "bad", "key", "words"), [
    ('name_prefix = "Acme"\n' + LOCAL, 'name_prefix = "Acme"', "name_prefix", "must be 1 to 20 lowercase letters"),
    (ACME + GCP + 'project = "x"\n', 'project = "x"', "clouds.gcp.project", "must be a Google Cloud project id"),
    (ACME + GCP + 'billing_account = "abc"\n', 'billing_account = "abc"', "clouds.gcp.billing_account",
     "must be a Cloud Billing account id"),
    (ACME + GCP + 'dns_zone = "Acme"\n', 'dns_zone = "Acme"', "clouds.gcp.dns_zone",
     "must be a Cloud DNS managed zone name"),
    (ACME + AWS + 'account = "1234"\n', 'account = "1234"', "clouds.aws.account", "must be a 12-digit AWS account id"),
    (ACME + AWS + '[clouds.aws.network]\nvpc_id = "vpc-1"\n', 'vpc_id = "vpc-1"', "clouds.aws.network.vpc_id",
     "must be a VPC id"),
    (ACME + AWS + '[clouds.aws.network]\nsubnet_ids = ["subnet-1"]\n', 'subnet_ids = ["subnet-1"]',
     "clouds.aws.network.subnet_ids.0", "must be a subnet id"),
    (ACME + AWS + 'dns_zone = { create = "Example" }\n', 'dns_zone = { create = "Example" }',
     "clouds.aws.dns_zone.create", "must be a DNS name"),
    (ACME + '[alerts]\nemail = ["oncall"]\n', 'email = ["oncall"]', "alerts.email.0", "must be an email address"),
    (ACME + '[alerts]\nwebhook = ["http://x"]\n', 'webhook = ["http://x"]', "alerts.webhook.0",
     "must be an https:// URL"),
    (ACME + '[budget]\nmonthly = 5\ncurrency = "usd"\n', 'currency = "usd"', "budget.currency",
     "must be an ISO 4217 currency code"),
])
def test_every_key_with_a_form_says_it_in_words_with_its_line(estate: Path, write_env: Callable[[str, str], Path],
                                                               text: str, bad: str, key: str, words: str) -> None:
    write_env("typo", text)
    code, out = synth(estate, "typo")
    assert_refused(estate, code, out, f"typo.toml:{text.splitlines().index(bad) + 1}: {key}: {words}")
    assert "should match pattern" not in out, out


@pytest.mark.parametrize(("table", "bad", "key", "words"), [
    ('[sizes.database.small]\naws_instance_class = "t4g.medium"\n', 'aws_instance_class = "t4g.medium"',
     "sizes.database.small.aws_instance_class", "aws_instance_class must be an RDS instance class like db.t4g.micro"),
    ('[overrides."web.api"]\ninvokers = "everyone"\n', 'invokers = "everyone"', 'overrides."web.api".invokers',
     "invokers must be IAM role or user ARNs separated by spaces"),
])
def test_a_plugin_setting_not_of_its_form_is_named_in_words_with_its_line(estate: Path, table: str, bad: str,
                                                                         key: str, words: str) -> None:
    path = estate / "envs" / "dev.toml"
    text = path.read_text() + table
    path.write_text(text)
    code, out = synth(estate, "dev")
    assert_refused(estate, code, out, f"dev.toml:{text.splitlines().index(bad) + 1}: {key}: {words}")
    assert "must match" not in out, out


def test_a_handler_calling_a_resource_it_is_not_granted_is_announced_at_the_call(estate: Path) -> None:
    """`bucket("sites")` (a typo, or the old name after a rename) raises GrantError only when it runs, on every
    cloud; reading the handler finds it at synthesis: a warning at the call's line naming the grants (not a refusal:
    the call may never run). Aliases of the runtime's accessors and of the runtime module are followed."""
    module = _web_code(estate) / "api.py"
    text = module.read_text()
    module.write_text(text.replace('bucket("site")', 'bucket("sites")') + (
        "\n\nfrom platform_sdk import runtime as rt\nfrom platform_sdk.runtime import queue as q\n\n\n"
        "def later() -> None:\n    rt.secret('jwt-key')\n    q('outbox').send('x')\n    bucket('site').list()\n"))
    code, out = synth(estate)
    assert code == 0, out
    line = next(n for n, t in enumerate(module.read_text().splitlines(), 1) if 'bucket("sites")' in t)
    assert (f"warning: {module}:{line}: api.py calls bucket('sites'), which web.api is not granted (did you mean "
            "'site'?) (its bucket grants: site): the call raises GrantError when it runs.") in out, out
    assert "calls secret('jwt-key'), which web.api is not granted (it is granted no secret)" in out
    assert "calls queue('outbox'), which web.api is not granted" in out
    assert "calls bucket('site')" not in out  # granted: nothing said
    module.write_text(text)
    code, out = synth(estate)
    assert code == 0 and "GrantError" not in out, out
