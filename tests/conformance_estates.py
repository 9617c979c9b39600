"""Estates for the conformance tests, synthesized through the real pipeline once per test session.

The matrix estate covers every grant kind (read, write, readwrite, connect) x trigger kind (public and private
HTTP, schedule, object created, CDN origin) x placement (same stack, another stack of the same cloud, another
cloud, inside a VPC), and its four environments put it on each cloud and across clouds:

    aws      everything on AWS                     gcp      everything on GCP
    aws-gcp  app on AWS, store + client on GCP     gcp-aws  app on GCP, store + client on AWS

`client` always lives with `store`: a database is reachable only from its own cloud.
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platform_sdk.cdk.engine  # noqa: F401  (points jsii at the pip-installed Node)
from platform_sdk.envs import load_environment
from platform_sdk.loader import load_services
from platform_sdk.model import Resource
from platform_sdk.profile import Profile
from platform_sdk.project import Project
from platform_sdk.synth.app import StackInfo, synthesize
from platform_sdk.synth.placement import Placement

MATRIX = '''
from platform_sdk import Bucket, Cdn, Database, Function, Service, http, object_created, schedule

store = Service("store", owner="data-team")
shared_r = store.add(Bucket("shared-r"))
shared_w = store.add(Bucket("shared-w"))
shared_rw = store.add(Bucket("shared-rw"))
shared_db = store.add(Database("shared-db", deletion_protection=False))

app = Service("app", owner="app-team")
r = app.add(Bucket("r"))
w = app.add(Bucket("w"))
rw = app.add(Bucket("rw"))
inbox = app.add(Bucket("inbox"))
db = app.add(Database("db", deletion_protection=False))


def fn(name, *triggers):
    return app.add(Function(name, handler="handler.handle", source="code", triggers=list(triggers)))


fn("reader", http()).reads(r)
fn("writer", http(public=False)).writes(w)
fn("both", schedule("0 3 * * *")).reads_writes(rw)
fn("events", object_created(inbox, prefix="in/", suffix=".csv")).reads(inbox).writes(w)
edge = fn("edge", http())
app.add(Cdn("edge-cdn", origin=edge))
fn("dbuser", schedule("15 4 * * *")).uses(db)
fn("vpcfiles", http(public=False)).uses(db).reads_writes(rw)
fn("remote", http()).reads(shared_r).writes(shared_w).reads_writes(shared_rw)

client = Service("client", owner="data-team")
client.add(Function("dbclient", handler="handler.handle", source="code",
                    triggers=[schedule("30 5 * * *")])).uses(shared_db)
'''

HANDLER = '''
def handle(request):
    return None
'''

OTHER_ACCOUNT = "444444444444"
CLOUDS = '''
[clouds.aws]
account = "333333333333"
region = "eu-west-1"

[clouds.gcp]
project = "acme-conf-123"
region = "europe-west1"

[state]
backend = "local"
path = ".platform/state"
'''

ENVIRONMENTS = {
    "aws": 'name_prefix = "acme"\ndefault_cloud = "aws"\n' + CLOUDS,
    "gcp": 'name_prefix = "acme"\ndefault_cloud = "gcp"\n' + CLOUDS,
    # its own AWS account: in the account of "aws" both would build the default VPC's S3 gateway endpoint
    "aws-gcp": 'name_prefix = "acme"\ndefault_cloud = "aws"\n[placement]\n"store" = "gcp"\n"client" = "gcp"\n'
               + CLOUDS.replace("333333333333", OTHER_ACCOUNT),
    "gcp-aws": 'name_prefix = "acme"\ndefault_cloud = "gcp"\n[placement]\n"store" = "aws"\n"client" = "aws"\n' + CLOUDS,
}
REPO = Path(__file__).resolve().parent.parent


@dataclass
class Synthesized:
    """One synthesized environment: where it was written, its stacks and the placement of every resource."""

    env: str
    outdir: Path
    stacks: dict[str, StackInfo]
    placements: dict[Resource, Placement]

    def documents(self) -> dict[str, dict[str, Any]]:
        return {name: json.loads((self.outdir / "stacks" / name / "cdk.tf.json").read_text())
                for name in self.stacks}


def write_project(root: Path, services: dict[str, str], envs: dict[str, str],
                  sources: dict[str, str] | None = None) -> Project:
    """A throwaway project with the given service files, environment files and function sources."""
    (root / "services").mkdir(parents=True)
    (root / "envs").mkdir()
    for name, text in services.items():
        (root / "services" / name).write_text(text)
    for name, text in (sources or {"code/handler.py": HANDLER}).items():
        path = root / "services" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for name, text in envs.items():
        (root / "envs" / f"{name}.toml").write_text(text)
    return Project(root.resolve())


def synth(project: Project, env_name: str, profile: Profile | None = None, conformance: bool = False) -> Synthesized:
    """Synthesize without the analysis inside synthesis by default: these estates carry known faults on purpose,
    which the tests examine themselves."""
    env = load_environment(project.envs_dir / f"{env_name}.toml")
    result = synthesize(project, env, load_services(project.services_dir), profile=profile, conformance=conformance)
    return Synthesized(env_name, result.outdir, result.stacks, result.placements)


@functools.cache
def _matrix_project() -> Project:
    root = Path(tempfile.mkdtemp(prefix="conformance-matrix-"))
    atexit.register(shutil.rmtree, root, True)
    return write_project(root / "estate", {"matrix.py": MATRIX}, ENVIRONMENTS)


@functools.cache
def matrix(env_name: str) -> Synthesized:
    """The matrix estate synthesized for one of ENVIRONMENTS (cached for the test session)."""
    return synth(_matrix_project(), env_name)


@functools.cache
def example(env_name: str) -> Synthesized:
    """The repository's example estate (services/, envs/) synthesized in a private copy."""
    root = Path(tempfile.mkdtemp(prefix="conformance-example-")) / "estate"
    atexit.register(shutil.rmtree, root.parent, True)
    root.mkdir()
    shutil.copytree(REPO / "services", root / "services", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "envs", root / "envs")
    return synth(Project(root.resolve()), env_name, conformance=True)  # the example estate must pass


KEYS = {"aws": "arn:aws:kms:eu-west-1:333333333333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "gcp": "projects/acme-kms/locations/europe-west1/keyRings/platform/cryptoKeys/data"}
ENCRYPTED = '''
from platform_sdk import Bucket, Database, Function, Service, schedule

vault = Service("vault")
docs = vault.add(Bucket("docs"))
db = vault.add(Database("db", deletion_protection=False))
archive = vault.add(Function("archive", handler="handler.handle", source="code", triggers=[schedule("0 1 * * *")]))
archive.reads_writes(docs)
report = vault.add(Function("report", handler="handler.handle", source="code", triggers=[schedule("0 2 * * *")]))
report.uses(db)
'''


@functools.cache
def encrypted(env_name: str) -> Synthesized:
    """A bucket and a database encrypted with the profile's customer managed key ("aws" or "gcp" environment)."""
    root = Path(tempfile.mkdtemp(prefix="conformance-kms-"))
    atexit.register(shutil.rmtree, root, True)
    environments = {name: ENVIRONMENTS[name] for name in ("aws", "gcp")}
    project = write_project(root / "estate", {"vault.py": ENCRYPTED}, environments)
    return synth(project, env_name, Profile(kms_keys=KEYS))
