"""Cloud API emulators as pytest fixtures (moto server for AWS, gcp-storage-emulator for GCS).

Import as a plugin (`pytest_plugins = ["tests.emulators"]` in the root conftest) or import the
fixtures into a test module. Everything listens on 127.0.0.1 on a free port and stops at session
end. `start_moto` / `start_gcs` are also used by bench/ to run the emulators outside pytest.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import random
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.markers import starts_server

MOTO_ENVIRONMENT = """
name_prefix = "acme"
default_cloud = "aws"
[clouds.aws]
account = "123456789012"
region = "us-east-1"
endpoint = "{endpoint}"
[state]
backend = "local"
"""
"""An environment file (envs/NAME.toml) whose AWS calls go to moto at `endpoint` (format it in)."""

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    # Never read the developer's real profile or config.
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


def free_port() -> int:
    """A port the kernel says is free now (bind port 0). Racy in theory, fine on 127.0.0.1 in tests."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 30.0) -> None:
    """Poll until url answers anything at all (servers started as subprocesses)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError as exc:
            last = exc
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up: {last}")


@contextlib.contextmanager
def patched_env(values: dict[str, str]) -> Iterator[None]:
    """Set env vars for the duration, restoring the previous values after."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def start_moto(*, subprocess_mode: bool = False) -> Iterator[str]:
    """Run a moto server on 127.0.0.1; yields its endpoint URL.

    In-thread by default (fast start, shares the test process); subprocess_mode runs
    `python -m moto.server` so a benchmark does not compete with it for the GIL.
    """
    with patched_env(FAKE_AWS_ENV):
        if subprocess_mode:
            port = free_port()
            proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            url = f"http://127.0.0.1:{port}"
            try:
                wait_http(url + "/moto-api/")
                yield url
            finally:
                proc.terminate()
                proc.wait(timeout=10)
            return
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


@contextlib.contextmanager
def start_gcs(*, subprocess_mode: bool = False) -> Iterator[str]:
    """Run gcp-storage-emulator in memory on 127.0.0.1; yields http://127.0.0.1:PORT.

    Also sets STORAGE_EMULATOR_HOST (with the scheme, which google-cloud-storage requires).
    Note: the emulator is a single-threaded http.server, so it serialises all requests.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with patched_env({"STORAGE_EMULATOR_HOST": url}):
        if subprocess_mode:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gcp_storage_emulator",
                    "start",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--in-memory",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                wait_http(url + "/")
                yield url
            finally:
                proc.terminate()
                proc.wait(timeout=10)
            return
        from gcp_storage_emulator.server import create_server

        logging.getLogger("gcp_storage_emulator").setLevel(logging.WARNING)
        logging.getLogger("api.object").setLevel(logging.ERROR)
        server = create_server("127.0.0.1", port, in_memory=True)
        server.start()
        try:
            yield url
        finally:
            server.stop()


@pytest.fixture(scope="session")
@starts_server
def moto_server() -> Iterator[str]:
    """Endpoint URL of a moto server (S3, DynamoDB, IAM, ...) with fake AWS credentials in env."""
    with start_moto() as url:
        yield url


@pytest.fixture(scope="session")
@starts_server
def gcs_emulator() -> Iterator[str]:
    """http://127.0.0.1:PORT of an in-memory gcp-storage-emulator; STORAGE_EMULATOR_HOST is set.

    Runs in its own process: the emulator is a single-threaded http.server, and sharing the GIL
    with copy workers made the copy tests about a third slower.
    """
    with start_gcs(subprocess_mode=True) as url:
        yield url


# ------------------------------------------------------------------------------------- test data

CONTENT_TYPES = {
    ".jpg": "image/jpeg",
    ".txt": "text/plain",
    ".json": "application/json",
    ".bin": "application/octet-stream",
    ".dat": "application/x-platform-test",  # not guessable from the extension: must be carried
}


@dataclasses.dataclass(frozen=True)
class ObjectSpec:
    """One deterministic test object: bytes are regenerated from the seed, never stored."""

    key: str
    size: int
    seed: int
    content_type: str

    def data(self) -> bytes:
        return random.Random(self.seed).randbytes(self.size)

    @property
    def md5(self) -> str:
        return hashlib.md5(self.data()).hexdigest()


def make_object_set(
    count: int = 200,
    *,
    seed: int = 20261127,
    max_size: int = 5 * 1024 * 1024,
    large_share: float = 0.01,
) -> list[ObjectSpec]:
    """A mixed bucket: zero-byte, small, medium and large objects under nested keys and odd names.

    Sizes: ~5% empty, ~70% up to 64 KiB, large_share of 1 MiB..max_size, the rest up to 1 MiB; the
    first two objects are max_size so the large-object paths are always hit.
    """
    rng = random.Random(seed)
    exts = list(CONTENT_TYPES)
    specs: list[ObjectSpec] = []
    for i in range(count):
        roll = rng.random()
        if i < 2:
            size = max_size
        elif roll < 0.05:
            size = 0
        elif roll < 0.75:
            size = rng.randint(1, 64 * 1024)
        elif roll < 1.0 - large_share:
            size = rng.randint(64 * 1024, 1024 * 1024)
        else:
            size = rng.randint(1024 * 1024, max_size)
        ext = exts[i % len(exts)]
        shape = i % 5
        if shape == 0:
            key = f"photos/{i % 7}/{i:04d}{ext}"
        elif shape == 1:
            key = f"a/b/c/deep-{i:04d}{ext}"
        elif shape == 2:
            key = f"top-{i:04d}{ext}"
        elif shape == 3:
            key = f"names with spaces/ünïcode {i:04d}{ext}"
        else:
            key = f"logs/2026-11-27/{i:04d}.part{ext}"
        specs.append(ObjectSpec(key=key, size=size, seed=seed * 1000 + i, content_type=CONTENT_TYPES[ext]))
    return specs


def seed_bucket(bucket: Any, specs: list[ObjectSpec]) -> None:
    """Write the object set into a bucket client (put_stream, so large ones go multipart/resumable)."""
    import io

    for spec in specs:
        data = spec.data()
        bucket.put_stream(
            spec.key, io.BytesIO(data), len(data), spec.content_type, hashlib.md5(data).hexdigest()
        )
