"""A throwaway PostgreSQL server on 127.0.0.1 for tests (the Debian server binaries; run as user postgres)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.markers import starts_server


def server_bin_dir() -> Path | None:
    """Where `initdb` and `pg_ctl` are: on PATH, else Debian's newest /usr/lib/postgresql/<version>/bin.

    Debian's `postgresql` package keeps the server binaries off PATH (only the clients are linked into /usr/bin).
    """
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).parent
    found = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb") if (p.parent / "pg_ctl").exists()]
    versions = sorted(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    return versions[-1] if versions else None


PG_BIN = server_bin_dir() or Path("/usr/lib/postgresql/bin")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def postgres_available() -> str | None:
    """Why a server cannot be started here (None when it can)."""
    if not (PG_BIN / "initdb").exists():
        return "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH nor in /usr/lib/postgresql/*/bin " \
            "(apt-get install postgresql)"
    if os.geteuid() == 0 and not shutil.which("runuser"):
        return "running as root without runuser: initdb refuses to run as root"
    return None


@pytest.fixture(scope="session")
@starts_server
def postgres_server() -> Iterator[str]:
    """Start a cluster with trust auth on a free port; yield `postgresql://postgres@127.0.0.1:PORT`."""
    reason = postgres_available()
    if reason:
        pytest.skip(reason)
    base = Path(tempfile.mkdtemp(prefix="platform-pg-"))
    os.chmod(base, 0o777)
    data = base / "data"
    port = _free_port()
    subprocess.run(_as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                                 "--no-sync"]), check=True, capture_output=True)
    subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w", "start",
                                 "-o", f"-p {port} -h 127.0.0.1 -k {base} -c fsync=off"]),
                   check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
                       capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def create_database(server: str, name: str) -> str:
    subprocess.run(["psql", f"{server}/postgres", "-qc", f'CREATE DATABASE "{name}"'], check=True,
                   capture_output=True)
    return f"{server}/{name}"


@pytest.fixture(scope="session")
@starts_server
def postgres_password_server() -> Iterator[str]:
    """A cluster where every connection authenticates with a password (scram-sha-256, local and host: no `trust`),
    as on a cloud; yield `postgresql://postgres:PASSWORD@127.0.0.1:PORT` (the superuser)."""
    import secrets

    reason = postgres_available()
    if reason:
        pytest.skip(reason)
    base = Path(tempfile.mkdtemp(prefix="platform-pgpw-"))
    os.chmod(base, 0o777)
    password = secrets.token_hex(16)
    pwfile = base / "pw"
    pwfile.write_text(password)
    os.chmod(pwfile, 0o644)
    data = base / "data"
    port = _free_port()
    subprocess.run(_as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", f"--pwfile={pwfile}",
                                 "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "-E", "UTF8",
                                 "--no-sync"]), check=True, capture_output=True)
    pwfile.unlink()
    subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w", "start",
                                 "-o", f"-p {port} -h 127.0.0.1 -k {base} -c fsync=off"]),
                   check=True, capture_output=True)
    try:
        yield f"postgresql://postgres:{password}@127.0.0.1:{port}"
    finally:
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
                       capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
