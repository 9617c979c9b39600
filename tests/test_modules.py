"""Modules: typed compositions of neutral resources, added like a resource, synthesized on every cloud."""

from __future__ import annotations

import dataclasses
import json
import sys
import textwrap
from pathlib import Path

import pytest

import platform_sdk
from platform_sdk import Bucket, Service
from platform_sdk.envs import find_environment
from platform_sdk.errors import ModelError, PlatformError
from platform_sdk.loader import load_services
from platform_sdk.model import (
    Cdn,
    Database,
    DatabaseSpec,
    Function,
    FunctionSpec,
    HttpTrigger,
    ObjectCreatedTrigger,
    ScheduleTrigger,
)
from platform_sdk.modules import (
    HttpApi,
    ImagePipeline,
    Module,
    Route,
    ScheduledJob,
    ServiceWithDatabase,
    StaticSite,
    describe,
    route_slug,
)
from platform_sdk.project import Project
from platform_sdk.synth.app import synthesize
from platform_sdk.synth.schema_check import check_outdir, format_errors
from tests.conftest import REPO, copy_estate

pytestmark = pytest.mark.xdist_group("modules")  # module-scoped fixtures: keep the module on one worker

EXAMPLES = REPO / "examples" / "platform-team"
HERE = Path(__file__).resolve()


def lineno(marker: str) -> int:
    """The line of this file holding `marker` (error messages must point at the user's line)."""
    for number, line in enumerate(HERE.read_text().splitlines(), start=1):
        if marker in line and "lineno(" not in line:
            return number
    raise AssertionError(marker)


# -- the modules as the model sees them -----------------------------------------------------------------------------

def test_static_site_parts_names_and_attributes() -> None:
    service = Service("web")
    site = service.add(StaticSite("site", domain="shop.example.com"))
    assert describe(site) == {"bucket": "site", "cdn": "site-cdn"}
    assert [r.address for r in service] == ["web.site", "web.site-cdn"]
    assert site.cdn.origin is site.bucket and site.cdn.domain == "shop.example.com"
    assert site.bucket.cors is not None and site.bucket.cors.origins == ["https://shop.example.com"]
    assert not site.bucket.public_read, "the bucket stays private: the CDN is its public face"
    bare = StaticSite("docs", prefix="")
    assert describe(bare) == {"bucket": "docs", "cdn": "cdn"}
    assert StaticSite("docs", names={"cdn": "docs-edge"}).cdn.name == "docs-edge"


def test_module_parts_point_at_the_users_line() -> None:
    site = StaticSite("site")  # marker: site-declared-here
    assert site.declared_in == str(HERE) and site.declared_line == lineno("marker: site-declared-here")
    assert {(r.declared_in, r.declared_line) for r in site.resources} == {(str(HERE), site.declared_line)}


def test_bad_parameters_point_at_the_users_line() -> None:
    with pytest.raises(ModelError) as err:
        StaticSite("site", domain="Not A Domain")  # marker: bad-domain
    assert err.value.file == str(HERE) and err.value.line == lineno("marker: bad-domain")
    assert "StaticSite 'site'" in str(err.value) and "domain" in str(err.value)
    with pytest.raises(ModelError, match="names has no part 'bogus'"):
        StaticSite("site", names={"bogus": "x"})
    with pytest.raises(ModelError, match="invalid module name"):
        StaticSite("Site")
    with pytest.raises(ModelError, match="prefix"):
        StaticSite("site", prefix="x")
    with pytest.raises(ModelError, match="widths"):
        ImagePipeline("images", source=".", widths=[])
    with pytest.raises(ModelError, match="cron"):
        ScheduledJob("job", handler="job.run", source=".", cron="every night")


def test_name_clash_between_module_parts_names_the_second_declaration() -> None:
    service = Service("web")
    service.add(StaticSite("site", prefix=""))
    with pytest.raises(ModelError) as err:
        service.add(StaticSite("site", prefix=""))  # marker: second-site
    assert err.value.line == lineno("marker: second-site")


def test_spa_fallback_is_passed_to_the_cdn_or_refused_clearly() -> None:
    if "fallback_object" in Cdn.__dataclass_fields__:
        site = StaticSite("app", spa=True)
        assert site.cdn.fallback_object == "index.html"  # type: ignore[attr-defined]
    else:
        with pytest.raises(ModelError, match="fallback_object"):
            StaticSite("app", spa=True)


def test_http_api_one_function_per_route() -> None:
    service = Service("shop")
    api = service.add(HttpApi("orders", source=".", routes={
        "GET /orders": "orders.list_orders",
        "POST /orders": Route("orders.create", memory=512),
        "GET /orders/{id}": "orders.get_order",
        "/health": "health.check",
    }, public=False))
    assert describe(api) == {"GET /orders": "orders-get-orders", "POST /orders": "orders-post-orders",
                             "GET /orders/{id}": "orders-get-orders-id", "/health": "orders-any-health"}
    create = api.route("POST /orders")
    assert create.handler == "orders.create" and create.memory == 512
    assert api.route("GET /orders").memory == 256
    assert create.environment["HTTP_ROUTE"] == "POST /orders"
    assert all(fn.trigger_of(HttpTrigger)[0].public is False for fn in api.functions.values())
    data = service.add(Bucket("data"))
    api.reads(data)
    api.route("POST /orders").writes(data)
    assert [g.access for g in create.grants] == ["read", "write"]
    assert [g.access for g in api.route("GET /orders").grants] == ["read"]
    assert route_slug("/") == "any-root"
    with pytest.raises(ModelError, match="route"):
        HttpApi("bad", source=".", routes={"FETCH /x": "a.b"})
    with pytest.raises(ModelError, match="handler"):
        HttpApi("bad", source=".", routes={"GET /x": "nodots"})
    with pytest.raises(KeyError):
        api.route("DELETE /orders")


def test_image_pipeline_has_the_shape_of_the_thumbnails_service() -> None:
    service = Service("media")
    images = service.add(ImagePipeline("images", source="fn", widths=[64, 256], domain="img.example.com"))
    assert describe(images) == {"originals": "images-originals", "thumbs": "images-thumbs", "resize": "images-resize",
                                "on_demand": "images-on-demand", "cdn": "images-cdn"}
    assert images.originals.versioning and images.thumbs.expire_days == 365
    triggers = images.resize.trigger_of(ObjectCreatedTrigger)
    assert [(t.bucket, t.suffix) for t in triggers] == [(images.originals, ".jpg"), (images.originals, ".png")]
    assert [(g.target.name, g.access) for g in images.resize.grants] == [("images-originals", "read"),
                                                                         ("images-thumbs", "write")]
    assert images.on_demand_function is not None
    assert [(g.target.name, g.access) for g in images.on_demand_function.grants] == [
        ("images-originals", "read"), ("images-thumbs", "readwrite")]
    assert images.resize.environment == {"THUMBNAIL_WIDTHS": "64,256"}
    assert images.cdn.origin is images.thumbs and images.cdn.domain == "img.example.com"
    assert images.resize.source_dir == (HERE.parent / "fn").resolve(), "source is relative to the user's file"
    lean = ImagePipeline("lean", source="fn", on_demand=False)
    assert "on_demand" not in describe(lean) and lean.on_demand_function is None


def test_scheduled_job_and_service_with_database() -> None:
    service = Service("auth")
    app = service.add(ServiceWithDatabase("api", handler="api.handle", source=".", memory=512, high_availability=True))
    job = service.add(ScheduledJob("cleanup", handler="cleanup.run", source=".", cron=["0 3 * * *", "0 15 * * *"]))
    job.uses(app.database)
    assert [r.address for r in service] == ["auth.api-db", "auth.api", "auth.cleanup"]
    assert isinstance(app.database, Database) and app.database.high_availability and app.database.backups
    assert [(g.target, g.access) for g in app.function.grants] == [(app.database, "connect")]
    assert app.function.trigger_of(HttpTrigger)
    assert [t.cron for t in job.function.trigger_of(ScheduleTrigger)] == ["0 3 * * *", "0 15 * * *"]
    assert [(g.target, g.access) for g in job.function.grants] == [(app.database, "connect")]


def test_modules_take_the_kinds_settings_from_their_specs() -> None:
    """A module declares no setting of a kind again: it inherits the kind's spec (names, types, defaults, checks).

    ImagePipeline's memory and timeout are the one documented exception: its own defaults (1024 MB, 60 s).
    """
    own_defaults = {(ImagePipeline, "memory"), (ImagePipeline, "timeout")}
    uses = {ServiceWithDatabase: (FunctionSpec, DatabaseSpec), ScheduledJob: (FunctionSpec,),
            HttpApi: (FunctionSpec,), ImagePipeline: (FunctionSpec,)}
    for module, specs in uses.items():
        for spec in specs:
            assert issubclass(module, spec), f"{module.__name__} does not build on {spec.__name__}"
            for f in dataclasses.fields(spec):
                if (module, f.name) not in own_defaults:
                    assert f.name not in module.__dict__["__annotations__"], f"{module.__name__} re-declares {f.name}"
    app = ServiceWithDatabase("api", handler="api.handle", source=".", engine="mysql", storage_gb=50,
                              database_name="accounts", runtime="python3.12", timeout=10, deletion_protection=False)
    assert (app.database.engine, app.database.storage_gb, app.database.database_name) == ("mysql", 50, "accounts")
    assert app.database.deletion_protection is False and app.database.backups is True
    assert (app.function.runtime, app.function.timeout, app.function.memory) == ("python3.12", 10, 256)
    images = ImagePipeline("images", source=".", runtime="python3.12")
    assert images.resize.memory == 1024 and images.on_demand_function is not None
    assert {images.resize.runtime, images.on_demand_function.runtime} == {"python3.12"}
    assert (images.resize.timeout, images.on_demand_function.timeout) == (60, 30)
    with pytest.raises(ModelError) as err:
        ServiceWithDatabase("api", handler="api.handle", source=".", storage_gb=0)  # marker: spec-error
    assert err.value.line == lineno("marker: spec-error") and err.value.key == "storage_gb"
    assert str(err.value.message).startswith("ServiceWithDatabase 'api': ")


def test_modules_are_versioned_with_the_sdk() -> None:
    import platform_sdk.modules as modules

    assert modules.__version__ == platform_sdk.__version__


# -- a platform team's own package of modules --------------------------------------------------------------------

@pytest.fixture
def acme(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.syspath_prepend(str(EXAMPLES))
    for name in [m for m in sys.modules if m.startswith("acme_platform")]:
        monkeypatch.delitem(sys.modules, name)
    import acme_platform

    return acme_platform


def test_a_teams_module_package_points_errors_and_paths_at_the_app_teams_file(acme, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "services" / "functions" / "export").mkdir(parents=True)
    (tmp_path / "services" / "functions" / "export" / "export.py").write_text("def run(tick):\n    pass\n")
    service_file = tmp_path / "services" / "payments.py"
    service_file.write_text(textwrap.dedent("""\
        from platform_sdk import Service
        from acme_platform import DocsSite, NightlyExport

        service = Service("payments", owner="payments-team")
        docs = service.add(DocsSite("docs", team="payments"))
        export = service.add(NightlyExport("ledger", handler="export.run", source="functions/export"))
    """))
    (service,) = load_services(tmp_path / "services")
    names = [r.address for r in service]
    assert names == ["payments.docs", "payments.docs-cdn", "payments.ledger-exports", "payments.ledger-job"]
    cdn = service.get("docs-cdn")
    assert isinstance(cdn, Cdn) and cdn.domain == "payments.docs.acme.example"
    job = service.get("ledger-job")
    assert isinstance(job, Function)
    assert job.source_dir == (tmp_path / "services" / "functions" / "export").resolve()
    assert {(r.declared_in, r.declared_line) for r in service if r.name.startswith("ledger")} == {
        (str(service_file), 6)}
    assert [(g.target.name, g.access) for g in job.grants] == [("ledger-exports", "write")]

    service_file.write_text(textwrap.dedent("""\
        from platform_sdk import Service
        from acme_platform import NightlyExport

        service = Service("payments", owner="payments-team")
        export = service.add(NightlyExport(
            "ledger", handler="export.run", source="functions/export", keep_days=4000))
    """))
    with pytest.raises(PlatformError) as err:
        load_services(tmp_path / "services")
    assert err.value.file == str(service_file) and err.value.line == 5
    assert "keep_days" in str(err.value)


def test_the_example_profile_loads_and_configures_guardrails(acme) -> None:  # type: ignore[no-untyped-def]
    from acme_platform.profile import PROFILE

    from platform_sdk.guardrails import FunctionLimits

    ids = [rule.id for rule in PROFILE.guardrails]
    assert "service.owner-required" in ids and "tags.required" in ids
    limits = next(r for r in PROFILE.guardrails if isinstance(r, FunctionLimits))
    assert limits.max_memory_mb == 2048


# -- synthesized, on every cloud ------------------------------------------------------------------------------------

ALL_MODULES = '''\
from platform_sdk import Service
from platform_sdk.modules import HttpApi, ImagePipeline, ScheduledJob, ServiceWithDatabase, StaticSite

service = Service("shop", owner="shop-team")
site = service.add(StaticSite("site", domain="shop.example.com"))
api = service.add(HttpApi("api", source="functions/shop", routes={"GET /items": "items.list_items",
                                                                  "POST /items": "items.create"}))
api.reads(site.bucket)
images = service.add(ImagePipeline("images", source="functions/images"))
orders = service.add(ServiceWithDatabase("orders", handler="items.create", source="functions/shop"))
job = service.add(ScheduledJob("nightly", handler="jobs.run", source="functions/shop", cron="0 3 * * *"))
job.uses(orders.database)
'''
ENVS = {
    "local": 'name_prefix = "acme"\ndefault_cloud = "aws"\n[clouds.aws]\nstand_in = "local"\n',
    "aws": 'name_prefix = "acme"\ndefault_cloud = "aws"\n[clouds.aws]\naccount = "123456789012"\n'
           'region = "eu-west-1"\n',
    "gcp": 'name_prefix = "acme"\ndefault_cloud = "gcp"\n[clouds.gcp]\nproject = "acme-shop-123"\n'
           'region = "europe-west1"\n',
}
NEUTRAL = ["shop.site", "shop.site-cdn", "shop.api-get-items", "shop.api-post-items", "shop.images-originals",
           "shop.images-thumbs", "shop.images-resize", "shop.images-on-demand", "shop.images-cdn",
           "shop.orders-db", "shop.orders", "shop.nightly"]
EXPECTED_TYPES = {
    "local": {"localcloud_bucket": 3, "localcloud_cdn_route": 2, "localcloud_function": 6, "localcloud_database": 1},
    "aws": {"aws_s3_bucket": 3, "aws_cloudfront_distribution": 2, "aws_lambda_function": 6, "aws_db_instance": 1},
    "gcp": {"google_storage_bucket": 3, "google_cloudfunctions2_function": 6, "google_sql_database_instance": 1},
}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("shop")
    functions = root / "services" / "functions"
    for folder, files in {"shop": ("items.py", "jobs.py"), "images": ("resize.py",)}.items():
        (functions / folder).mkdir(parents=True)
        for name in files:
            (functions / folder / name).write_text(
                "def list_items(r): return None\ndef create(r): return None\ndef run(t): return None\n"
                "def on_upload(e): return None\ndef on_request(r): return None\n")
    (root / "services" / "shop.py").write_text(ALL_MODULES)
    (root / "envs").mkdir()
    for name, text in ENVS.items():
        (root / "envs" / f"{name}.toml").write_text(text)
    return root


@pytest.mark.parametrize("env_name", ["local", "aws", "gcp"])
def test_every_module_synthesizes_on_every_cloud(shop: Path, tmp_path: Path, env_name: str) -> None:
    project = Project(shop)
    env = find_environment(project.envs_dir, env_name)
    result = synthesize(project, env, load_services(project.services_dir), outdir=tmp_path / env_name)
    (info,) = [i for i in result.stacks.values() if not i.shared]  # the base stack (GCP) holds no neutral resource
    assert info.resources[: len(NEUTRAL)] == NEUTRAL or sorted(info.resources) == sorted(NEUTRAL)
    doc = json.loads((result.outdir / "stacks" / info.name / "cdk.tf.json").read_text())
    for rtype, count in EXPECTED_TYPES[env_name].items():  # at least: compilers may add their own (a packages bucket)
        assert len(doc["resource"].get(rtype, {})) >= count, rtype
    errors = check_outdir(result.outdir)
    assert not errors, format_errors(errors)


# -- the example estate, written with modules, synthesizes the same Terraform ----------------------------------

WEB = '''\
"""Static web app on one host: the site's files in a bucket at `/`, its API function at `/api/*`, behind one CDN."""

from platform_sdk import Function, Service, http
from platform_sdk.modules import StaticSite

service = Service("web", owner="web-team", description="The storefront web app")

api = service.add(Function("api", handler="api.handle", source="functions/web", triggers=[http()]))
# One CDN, one domain per stage ([overrides."web.cdn"] domain in each environment file): the API is reached only
# through it (its own URL admits nothing else), on the site's host, so browsers need no CORS for it.
site = service.add(StaticSite("site", prefix="", routes={"/api/*": api}, cors_origins=["https://shop.example.com"]))
api.reads(site.bucket)
'''
THUMBNAILS = '''\
"""On-demand image thumbnails: originals land in a bucket, a function resizes them, a CDN serves the results."""

from platform_sdk import Service
from platform_sdk.modules import ImagePipeline

service = Service("thumbnails", owner="media-team", description="Image thumbnails for the storefront")

images = service.add(ImagePipeline("images", prefix="", source="functions/thumbnails", widths=[128, 512]))
served = service.metric("thumbnails_served", unit="Count", dimensions=["width", "made"],
                        description="thumbnails served on demand")
'''
AUTH = '''\
"""Auth microservice: sign-up and sign-in over HTTP, users in Postgres, password hashes never leave the database."""

from platform_sdk import Secret, Service
from platform_sdk.modules import ScheduledJob, ServiceWithDatabase

service = Service("auth", owner="identity-team", description="Accounts and sessions")

auth = service.add(ServiceWithDatabase(
    "api", names={"database": "users"}, handler="api.handle", source="functions/auth", memory=512,
    environment={"SESSION_TTL_SECONDS": "3600"},
))
auth.reads(service.add(Secret("jwt-key", generate=True, length=64)))
cleanup = service.add(ScheduledJob("cleanup", handler="cleanup.run", source="functions/auth", cron="0 3 * * *"))
cleanup.uses(auth.database)
'''


def _stacks(outdir: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sorted((outdir / "stacks").glob("*/cdk.tf.json"))}


@pytest.mark.parametrize("env_name", ["local", "prod"])
def test_example_estate_written_with_modules_synthesizes_identically(tmp_path: Path, env_name: str) -> None:
    original = copy_estate(tmp_path / "a" / "estate")
    rewritten = copy_estate(tmp_path / "b" / "estate")
    for name, text in {"web.py": WEB, "thumbnails.py": THUMBNAILS, "auth.py": AUTH}.items():
        (rewritten / "services" / name).write_text(text)
    outputs = []
    for root in (original, rewritten):
        project = Project(root)
        env = find_environment(project.envs_dir, env_name)
        outputs.append(_stacks(synthesize(project, env, load_services(project.services_dir)).outdir))
    assert outputs[0] and outputs[0].keys() == outputs[1].keys()
    for stack in outputs[0]:
        assert outputs[0][stack] == outputs[1][stack], f"{stack} differs"


def test_module_subclass_contract() -> None:
    class Empty(Module):
        pass

    with pytest.raises(NotImplementedError):
        Empty("empty")
