"""Copy a database to its new home and prove it arrived: per-table row counts must match before cutover.

Supported: SQLite -> SQLite (the local cloud's stand-in databases) and PostgreSQL -> PostgreSQL (pg_dump in
custom format, pg_restore into the target). Anything else is refused up front, before anything changes.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from platform_sdk.errors import PlatformError


@dataclass
class DatabaseCopyReport:
    """What was copied and the per-table evidence that it all arrived."""

    source: str
    target: str
    tables: dict[str, tuple[int, int]] = field(default_factory=dict)  # table -> (source rows, target rows)

    @property
    def verified(self) -> bool:
        return all(src == dst for src, dst in self.tables.values())

    def to_json(self) -> dict[str, object]:
        return {"source": _redact(self.source), "target": _redact(self.target), "verified": self.verified,
                "tables": {t: {"source_rows": s, "target_rows": d} for t, (s, d) in sorted(self.tables.items())}}


def _redact(url: str) -> str:
    """Never show a password, even one embedded in a URL."""
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@")
    return url


def engine_of(url: str) -> str:
    scheme = urlparse(url).scheme
    return {"postgresql": "postgres", "postgres": "postgres", "sqlite": "sqlite"}.get(scheme, scheme or "?")


def support_problem(source_url: str, target_url: str) -> str | None:
    """Why this copy cannot be done (None when it can): checked before the move changes anything."""
    pair = (engine_of(source_url), engine_of(target_url))
    if pair in (("sqlite", "sqlite"), ("postgres", "postgres")):
        if pair == ("postgres", "postgres") and not (shutil.which("pg_dump") and shutil.which("pg_restore")):
            return "moving a PostgreSQL database needs pg_dump and pg_restore on PATH"
        return None
    return f"moving a database from {pair[0]} to {pair[1]} is not supported yet"


def _sqlite_path(url: str) -> Path:
    return Path(unquote(urlparse(url).path))


def _sqlite_counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        tables = [row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {table: conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in tables}


def _copy_sqlite(source: Path, target: Path) -> None:
    """SQLite's online backup API: a consistent copy even while the source is in use."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def _pg_env(url: str) -> dict[str, str]:
    parsed = urlparse(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = unquote(parsed.password)
    return env


def _pg_dsn(url: str) -> str:
    """libpq accepts URLs; drop the password (it travels in PGPASSWORD) and our own query parameters."""
    parsed = urlparse(url)
    netloc = parsed.hostname or ""
    if parsed.username:
        netloc = f"{parsed.username}@{netloc}"
    if parsed.port:
        netloc += f":{parsed.port}"
    return f"postgresql://{netloc}{parsed.path}"


def _pg_counts(url: str) -> dict[str, int]:
    query = ("SELECT format('%I.%I', schemaname, relname) FROM pg_stat_user_tables ORDER BY 1")
    names = subprocess.run(["psql", _pg_dsn(url), "-At", "-c", query], env=_pg_env(url), check=True,
                           capture_output=True, text=True).stdout.split()
    counts = {}
    for name in names:
        out = subprocess.run(["psql", _pg_dsn(url), "-At", "-c", f"SELECT count(*) FROM {name}"],
                             env=_pg_env(url), check=True, capture_output=True, text=True).stdout
        counts[name] = int(out.strip())
    return counts


def _copy_postgres(source_url: str, target_url: str, workdir: Path) -> None:
    dump = workdir / "database.dump"
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(["pg_dump", "--format=custom", "--no-owner", "--no-acl", "--file", str(dump),
                        _pg_dsn(source_url)], env=_pg_env(source_url), check=True, capture_output=True, text=True)
        subprocess.run(["pg_restore", "--no-owner", "--no-acl", "--exit-on-error", "--single-transaction",
                        "--dbname", _pg_dsn(target_url), str(dump)], env=_pg_env(target_url), check=True,
                       capture_output=True, text=True)
    except subprocess.CalledProcessError as err:
        raise PlatformError(f"database copy failed: {err.cmd[0]}: {err.stderr.strip()[-500:]}") from None
    finally:
        dump.unlink(missing_ok=True)


def copy_database(source_url: str, target_url: str, workdir: Path) -> DatabaseCopyReport:
    """Copy then verify per-table row counts; raises if the copy cannot be proven complete."""
    problem = support_problem(source_url, target_url)
    if problem:
        raise PlatformError(problem, key="database", value=f"{engine_of(source_url)} -> {engine_of(target_url)}")
    report = DatabaseCopyReport(source_url, target_url)
    if engine_of(source_url) == "sqlite":
        source, target = _sqlite_path(source_url), _sqlite_path(target_url)
        _copy_sqlite(source, target)
        before, after = _sqlite_counts(source), _sqlite_counts(target)
    else:
        _copy_postgres(source_url, target_url, workdir)
        before, after = _pg_counts(source_url), _pg_counts(target_url)
    report.tables = {table: (count, after.get(table, -1)) for table, count in before.items()}
    for table in set(after) - set(before):
        report.tables[table] = (0, after[table])
    if not report.verified:
        bad = ", ".join(f"{t}: {s} -> {d}" for t, (s, d) in report.tables.items() if s != d)
        raise PlatformError(f"database copy not verified: row counts differ ({bad})")
    return report
