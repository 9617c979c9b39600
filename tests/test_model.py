"""The neutral model: one contract per kind, neutral checks only, and errors that name file, line, key and value."""

from __future__ import annotations

import dataclasses
import re
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from platform_sdk import contract
from platform_sdk.cli import app
from platform_sdk.errors import ModelError
from platform_sdk.model import (
    Alarms,
    Bucket,
    Cdn,
    Cors,
    Database,
    DatabaseSpec,
    Function,
    FunctionSpec,
    HttpTrigger,
    ObjectCreatedTrigger,
    Resource,
    ScheduleTrigger,
    Service,
    http,
    object_created,
    schedule,
)
from platform_sdk.model import bucket as bucket_kind
from platform_sdk.model import database as database_kind
from platform_sdk.model import secret as secret_kind
from platform_sdk.model.function import GRANT_METHODS, GRANTABLE
from platform_sdk.modules import HttpApi, ImagePipeline, Module, Route, ScheduledJob, ServiceWithDatabase, StaticSite

HERE = Path(__file__).resolve()
runner = CliRunner()


def lineno(marker: str) -> int:
    """The line of this file holding `marker` (errors must point at the user's line)."""
    for number, line in enumerate(HERE.read_text().splitlines(), start=1):
        if marker in line and "lineno(" not in line:
            return number
    raise AssertionError(marker)


# -- one contract per kind: grants and the runtime operations they allow, as data ---------------------------------

def test_every_grant_access_level_belongs_to_a_kind_and_travels_on_the_wire() -> None:
    levels = {access for kind in GRANTABLE for access in kind.operations}
    assert levels == set(contract.ACCESS_LEVELS), "every access level is some kind's, and travels on the wire"
    assert set(GRANT_METHODS) == levels, "each access level is granted by one Function method"
    assert Cdn.operations == {}, "nothing can be granted on a CDN"
    assert Function.operations == {"invoke": ("invoke", "send")}, "a function is invoked, synchronously or not"


def test_bucket_operations_are_data_and_readwrite_is_read_plus_write() -> None:
    ops = bucket_kind.OPERATIONS
    assert Bucket.operations is ops
    assert set(ops["readwrite"]) == set(ops["read"]) | set(ops["write"])
    assert {"get", "head", "list"} <= set(ops["read"]) and not {"put", "overwrite", "delete"} & set(ops["read"])
    assert {"put", "overwrite", "delete"} <= set(ops["write"]) and "get" not in ops["write"]
    from platform_sdk.model import function as function_kind
    from platform_sdk.model import queue as queue_kind

    for kind in (bucket_kind, database_kind, secret_kind, queue_kind, function_kind):
        described = set(kind.OPERATION_DESCRIPTIONS)
        assert {op for ops_ in kind.OPERATIONS.values() for op in ops_} == described, kind.__name__
    assert database_kind.OPERATIONS == {"connect": ("connect",)}


def test_a_grant_knows_its_operations_and_the_line_that_made_it() -> None:
    fn = Function("api", handler="api.handle")
    data, db = Bucket("data"), Database("users")
    fn.writes(data).uses(db)  # marker: grants-made-here
    write, connect = fn.grants
    assert write.operations == bucket_kind.OPERATIONS["write"] and "overwrite" in write.operations
    assert connect.operations == ("connect",)
    assert (write.declared_in, write.declared_line) == (str(HERE), lineno("marker: grants-made-here"))


# -- neutral checks only: cloud limits belong to the cloud plug-ins -----------------------------------------------

def test_the_model_leaves_cloud_limits_to_the_plug_ins() -> None:
    """Lambda's 128-10240 MB and 900 s, and which Python versions a cloud runs, are not the model's business."""
    fn = Function("api", handler="api.handle", memory=64, timeout=3600, runtime="python3.13")
    assert (fn.memory, fn.timeout, fn.runtime) == (64, 3600, "python3.13")
    assert Database("db", storage_gb=5).storage_gb == 5


@pytest.mark.parametrize(("kwargs", "key", "value"), [
    ({"memory": 0}, "memory", 0),
    ({"memory": "256"}, "memory", "256"),
    ({"memory": True}, "memory", True),
    ({"timeout": -5}, "timeout", -5),
    ({"timeout": 1.5}, "timeout", 1.5),
    ({"runtime": "node18"}, "runtime", "node18"),
    ({"runtime": "python3"}, "runtime", "python3"),
    ({"handler": "nodots"}, "handler", "nodots"),
    ({"environment": {"lower": "x"}}, "environment", "lower"),
    ({"environment": {"PLATFORM_ENV": "x"}}, "environment", "PLATFORM_ENV"),
    ({"environment": {"PORT": 80}}, "environment.PORT", 80),
])
def test_function_neutral_checks_name_key_and_value(kwargs: dict[str, object], key: str, value: object) -> None:
    arguments: dict[str, object] = {"handler": "api.handle", **kwargs}
    with pytest.raises(ModelError) as err:
        Function("api", **arguments)  # type: ignore[arg-type]  # marker: bad-function
    assert (err.value.file, err.value.line) == (str(HERE), lineno("marker: bad-function"))
    assert err.value.key == key and err.value.value == value


@pytest.mark.parametrize(("kind", "kwargs", "key"), [
    (Database, {"engine": "oracle"}, "engine"),
    (Database, {"size": "huge"}, "size"),
    (Database, {"storage_gb": 0}, "storage_gb"),
    (Database, {"backups": "yes"}, "backups"),
    (Database, {"database_name": "my-db"}, "database_name"),
    (Bucket, {"expire_days": 0}, "expire_days"),
    (Bucket, {"versioning": "yes"}, "versioning"),
    (Bucket, {"cors": Cors(origins=["https://a.example"], methods=["PATCH"])}, "cors.methods"),
    (Bucket, {"cors": Cors(origins="https://a.example")}, "cors.origins"),  # type: ignore[arg-type]
    (Bucket, {"cors": ["https://a.example"]}, "cors"),
])
def test_bucket_and_database_neutral_checks(kind: type[Resource], kwargs: dict[str, object], key: str) -> None:
    with pytest.raises(ModelError) as err:
        kind("x", **kwargs)
    assert err.value.key == key and err.value.line == lineno("kind(\"x\", **kwargs)")


def test_database_defaults_and_name() -> None:
    db = Database("user-data")
    assert (db.engine, db.size, db.storage_gb, db.backups, db.deletion_protection) == ("postgres", "small", 20,
                                                                                        True, True)
    assert db.database_name == "user_data"


# -- cron: refused at declaration, naming the field -----------------------------------------------------------

@pytest.mark.parametrize(("cron", "field"), [
    ("61 * * * *", "minute"),
    ("99 99 * * *", "minute"),
    ("0 99 * * *", "hour"),
    ("0 0 32 * *", "day of month"),
    ("0 0 0 * *", "day of month"),
    ("0 0 * 13 *", "month"),
    ("0 0 * * 9", "day of week"),
    ("*/0 * * * *", "minute"),
    ("a b c d e", "minute"),
])
def test_cron_out_of_range_is_refused_naming_the_field(cron: str, field: str) -> None:
    with pytest.raises(ModelError) as err:
        schedule(cron)  # marker: bad-cron
    assert (err.value.file, err.value.line) == (str(HERE), lineno("marker: bad-cron"))
    assert err.value.key == "schedule" and err.value.value == cron
    assert f"the {field} field" in err.value.message


@pytest.mark.parametrize("cron", ["0 3 * * *", "*/5 * * * *", "0 9 * * MON-FRI", "15 2 1 JAN *", "0 0 * * 0,6",
                                  "0-30/10 8-18 * * *"])
def test_valid_cron_expressions_pass(cron: str) -> None:
    assert schedule(cron).cron == cron


def test_cron_needs_five_fields() -> None:
    for cron in ("* * * *", "0 0 * * * *", "@daily", 5):
        with pytest.raises(ModelError, match="five-field"):
            ScheduleTrigger(cron)  # type: ignore[arg-type]


# -- wrong shapes: a ModelError naming file, line, key and value, not a traceback ---------------------------------

def test_triggers_must_be_a_list() -> None:
    with pytest.raises(ModelError) as err:
        Function("api", handler="api.handle", triggers=http())  # type: ignore[arg-type]  # marker: triggers
    assert (err.value.file, err.value.line) == (str(HERE), lineno("marker: triggers"))
    assert err.value.key == "triggers" and isinstance(err.value.value, HttpTrigger)
    assert "triggers=[http()]" in err.value.message
    with pytest.raises(ModelError, match="a trigger is"):
        Function("api", handler="api.handle", triggers=["http"])  # type: ignore[list-item]


@pytest.mark.parametrize(("method", "target", "hint"), [
    ("writes", Database("users"), "uses()"),
    ("reads", Database("users"), "uses()"),
    ("uses", Bucket("users"), "reads() or writes() or reads_writes()"),
    ("reads", Function("users", handler="a.b"), "grant a Function with invokes()"),
    ("reads", Cdn("users", origin=Bucket("b")), "nothing can be granted on a Cdn"),
])
def test_a_grant_on_the_wrong_kind_names_the_line_of_the_call(method: str, target: Resource, hint: str) -> None:
    fn = Function("api", handler="api.handle")
    with pytest.raises(ModelError) as err:
        getattr(fn, method)(target)  # marker: wrong-grant
    assert (err.value.file, err.value.line) == (str(HERE), lineno("marker: wrong-grant"))
    assert err.value.key == f"api.{method}" and err.value.value == "users"
    assert f"not a {type(target).__name__}" in err.value.message and hint in (err.value.hint or "")
    assert fn.grants == [], "a refused grant is not recorded"


def test_a_grant_on_something_that_is_no_resource() -> None:
    with pytest.raises(ModelError) as err:
        Function("api", handler="api.handle").reads("thumbs")  # type: ignore[arg-type]
    assert err.value.key == "api.reads" and err.value.value == "thumbs" and "takes a Bucket" in err.value.message


def test_object_created_needs_a_bucket_and_service_add_a_resource() -> None:
    with pytest.raises(ModelError) as err:
        object_created(Database("users"))  # type: ignore[arg-type]
    assert err.value.key == "object_created" and err.value.value == "Database('users')"
    service = Service("web")
    with pytest.raises(ModelError) as err:
        service.add("bucket")  # type: ignore[call-overload]  # marker: add-a-string
    assert err.value.line == lineno("marker: add-a-string") and err.value.key == "web.add"


# -- through the CLI: exit 2, the user's file and line, nothing written ------------------------------------------

def _synth_with(estate: Path, lines: str, env: str) -> tuple[int, str, int]:
    path = estate / "services" / "web.py"
    text = path.read_text() + "\n" + textwrap.dedent(lines)
    path.write_text(text)
    marked = next(n for n, line in enumerate(text.splitlines(), start=1) if "# here" in line)
    result = runner.invoke(app, ["synth", "--env", env, "--project", str(estate)])
    return result.exit_code, re.sub(r"\s+", " ", result.output), marked


@pytest.mark.parametrize(("env", "lines", "needles"), [
    # dev places web on AWS, whose compiler used to blame dev.toml for the schedule
    ("dev", 'from platform_sdk import schedule\n'
     'job = service.add(Function("job", handler="api.handle", source="functions/web",\n'
     '                           triggers=[schedule("a b c d e")]))  # here\n', ["schedule", "minute", "'a b c d e'"]),
    ("local", 'from platform_sdk import schedule\n'
     'job = service.add(Function("job", handler="api.handle", source="functions/web",\n'
     '                           triggers=[schedule("99 99 * * *")]))  # here\n', ["schedule", "minute", "99 99"]),
    ("local", 'job = service.add(Function("job", handler="api.handle", source="functions/web",\n'
     '                           triggers=http()))  # here\n', ["triggers", "triggers=[http()]"]),
    ("local", 'from platform_sdk import Database\n'
     'db = service.add(Database("db"))\n'
     'api.writes(db)  # here\n', ["api.writes", "Database", "'db'"]),
    ("local", 'api.uses(site.bucket)  # here\n', ["api.uses", "Bucket", "'site'"]),
])
def test_declaration_errors_exit_2_naming_the_service_file_line(estate: Path, env: str, lines: str,
                                                                needles: list[str]) -> None:
    code, out, line = _synth_with(estate, lines, env)
    assert code == 2, out
    assert "Traceback" not in out and ".toml" not in out, out
    # a multi-line call is reported at its first or last line, both in the user's file
    assert f"web.py:{line}:" in out or f"web.py:{line - 1}:" in out, out
    for needle in needles:
        assert needle in out, f"{needle!r} not in {out!r}"
    assert not (estate / "cdktf.out").exists(), "nothing may be written on bad input"


# -- every public field documents its default (or that it is required) --------------------------------------------

DOCUMENTED = [Resource, Bucket, Cors, Database, DatabaseSpec, Function, FunctionSpec, Cdn, HttpTrigger,
              ScheduleTrigger, ObjectCreatedTrigger, Module, StaticSite, HttpApi, Route, ImagePipeline, ScheduledJob,
              ServiceWithDatabase]


def _attribute_entries(cls: type) -> dict[str, str]:
    """`Attributes:` entries of the class's own docstring: field name -> its text (`a, b: text` gives both)."""
    doc = cls.__dict__.get("__doc__") or ""
    section = doc.split("Attributes:", 1)[1] if "Attributes:" in doc else ""
    section = re.split(r"\n\s*\n\s*Raises:", section)[0]
    entries: dict[str, str] = {}
    for match in re.finditer(r"^ {8}([\w, ]+): (.*?)(?=^ {8}[\w, ]+: |\Z)", section, re.M | re.S):
        for name in match.group(1).split(","):
            entries[name.strip()] = " ".join(match.group(2).split())
    return entries


@pytest.mark.parametrize("cls", DOCUMENTED, ids=lambda c: c.__name__)
def test_every_public_field_is_documented_with_its_default(cls: type) -> None:
    for f in dataclasses.fields(cls):
        if f.name.startswith("_"):
            continue
        owner = next(c for c in cls.__mro__ if f.name in c.__dict__.get("__annotations__", {}))
        entry = _attribute_entries(owner).get(f.name)
        assert entry is not None, f"{owner.__name__} documents no {f.name!r}"
        if owner is not cls or not f.init:
            continue
        spec_ref = re.search(r"see `(\w+Spec)`", entry)
        if spec_ref:
            continue
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        words = ("Required",) if required else ("Default", "Required")  # `handler=""` is required all the same
        assert any(word in entry for word in words), f"{cls.__name__}.{f.name}: {words[0]!r} missing from {entry!r}"


def test_specs_are_the_kinds_settings() -> None:
    function_settings = {f.name for f in dataclasses.fields(FunctionSpec)}
    database_settings = {f.name for f in dataclasses.fields(DatabaseSpec)}
    assert function_settings == {"runtime", "memory", "timeout", "environment", "alarms", "internet"}
    assert function_settings <= {f.name for f in dataclasses.fields(Function)}
    assert database_settings <= {f.name for f in dataclasses.fields(Database)}
    fn = Function("api", handler="api.handle", memory=512, environment={"A": "1"})
    settings = FunctionSpec.of(fn)
    assert settings == {"runtime": "python3.11", "memory": 512, "timeout": 30, "environment": {"A": "1"},
                        "alarms": Alarms(), "internet": False}
    assert settings["environment"] is not fn.environment, "mutable settings are copied"
    assert ObjectCreatedTrigger(Bucket("b")).prefix == ""
