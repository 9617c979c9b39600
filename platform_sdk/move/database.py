"""Copy a database to its new home and prove it arrived: per-table row counts and content checksums must match.

Supported pairs: PostgreSQL -> PostgreSQL (pg_dump/pg_restore), MariaDB/MySQL -> same (mysqldump | mysql),
SQLite -> SQLite (the local cloud's stand-ins). Any other pair is refused before anything is touched, naming both
engines. Before copying, `preflight` connects to both servers and checks the local client tools against their
versions, naming what to install when they cannot do the copy (see `platform_sdk.move.db.postgres` and `.mysql`).

A copy replaces the target's tables, so it only ever overwrites content it can prove is safe to replace (see
`platform_sdk.move.db.history`): an empty target, a target holding exactly what an earlier copy put there or took
from it. A re-run after a crash or a second pass copies again; a target that already equals the source is left
alone; a target written since its verified copy while the source stayed unchanged is reported, not overwritten.
Every table is then verified by rows and a content checksum (primary-key order, or order-independent for tables
without one, announced per table in the report).

A database in use keeps being written during a move's copy. So at the cut-over the move stops the source's writes
(`set_writes`: read only for every session but its own; PostgreSQL so far) and copies again: that final copy holds
every acknowledged row, nothing is written to the source after it, and the functions then write to the target.
Writes are refused for the seconds between the two (announced by the move). `source_leftovers` compares again
before a source is removed, and the move keeps a source that holds rows the target lacks.

Errors are `PlatformError`s (exit code 2 in the CLI) naming the database with its password redacted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlparse

from platform_sdk.errors import PlatformError
from platform_sdk.move.db.checksum import TableSum
from platform_sdk.move.db.engine import Database, Engine
from platform_sdk.move.db.history import CopyHistory, same_content
from platform_sdk.move.db.report import DatabaseCopyReport, TableCheck, compare
from platform_sdk.move.db.urls import DatabaseUrl, engine_of, label_of, redact

__all__ = ["DatabaseCopyReport", "copy_database", "engine_of", "preflight", "preflight_databases", "redact",
           "support_problem"]

HISTORY_FILE = "database-copies.json"


def _engines() -> dict[str, Callable[[], Engine[Any]]]:
    from platform_sdk.move.db.mysql import MysqlEngine
    from platform_sdk.move.db.postgres import PostgresEngine
    from platform_sdk.move.db.sqlite import SqliteEngine

    return {"postgres": PostgresEngine, "mysql": MysqlEngine, "sqlite": SqliteEngine}


def support_problem(source_url: str, target_url: str) -> str | None:
    """Why these two engines cannot be copied between (None when they can). Connects to nothing."""
    source, target = engine_of(source_url), engine_of(target_url)
    supported = "PostgreSQL -> PostgreSQL, MariaDB/MySQL -> MariaDB/MySQL, SQLite -> SQLite"
    if source != target:
        return (f"moving a database from {label_of(source)} to {label_of(target)} is not supported: both sides must "
                f"run the same engine ({supported})")
    if source not in _engines():
        return f"moving a {label_of(source)} database is not supported ({supported})"
    return None


def with_credentials(url: str) -> str:
    """`url` with its password, when it names where the password lives instead (`?secret=<where>&cloud=<plug-in>`,
    as the stacks output them): read from that plug-in's secret store the way a function's runtime reads it
    (`platform_sdk.runtime.database.fetch_credentials`; the local cloud's is a file), always anew: a server a
    move removed and created again (a resource moved away and back) has a new password, which a process that
    read the old one must not keep using. Other URLs are unchanged.

    Raises PlatformError when the secret cannot be read."""
    parsed = urlparse(url)
    params = dict(parse_qsl(parsed.query))
    if parsed.password is not None or not params.get("secret") or not params.get("cloud"):
        return url
    from platform_sdk.runtime.database import fetch_credentials

    try:
        creds = fetch_credentials(params["cloud"], params["secret"], params, refresh=True)
    except Exception as err:  # noqa: BLE001 - any store's error: say which database, never the secret's value
        raise PlatformError(f"cannot read the credentials of database {redact(url)}: {err}", key="database",
                            value=redact(url)) from None
    user = quote(creds.username or unquote(parsed.username or ""), safe="")
    host = parsed.netloc.rpartition("@")[2]
    return parsed._replace(netloc=f"{user}:{quote(creds.password, safe='')}@{host}").geturl()


@contextmanager
def _opened(source_url: str, target_url: str) -> Iterator[tuple[Engine[Any], Database, Database, dict[str, str]]]:
    """Engine, both databases open, and the versions found: engines and client tools checked, nothing changed."""
    problem = support_problem(source_url, target_url)
    if problem:
        raise PlatformError(problem, key="database",
                            value=f"{label_of(engine_of(source_url))} -> {label_of(engine_of(target_url))}")
    urls = {role: DatabaseUrl.parse(with_credentials(url)) for role, url in (("source", source_url),
                                                                              ("target", target_url))}
    for role, url in urls.items():
        if url.path is None and not url.host:
            raise PlatformError(f"the {role} database URL names no host: a copy connects to the server directly "
                                "(reaching it through a connector or proxy socket is not supported)",
                                key="database", value=str(url))
    engine = _engines()[engine_of(source_url)]()
    source = engine.connect(urls["source"], "source")
    try:
        target = engine.connect(urls["target"], "target")
        try:
            yield engine, source, target, engine.preflight(source, target)
        finally:
            target.close()
    finally:
        source.close()


def preflight(source_url: str, target_url: str) -> dict[str, str]:
    """Check that this copy can be done here: same engine, both servers reachable, local client tools able to
    dump the source and restore into the target. Returns the versions found (`source server`, `target server`,
    each tool). Raises PlatformError naming what to install. Changes nothing."""
    with _opened(source_url, target_url) as (_, _, _, versions):
        return versions


def preflight_databases(pairs: Iterable[Mapping[str, str]]) -> None:
    """`preflight` for every `{"source": url, "target": url}` of a move, before any data is copied."""
    for pair in pairs:
        preflight(pair["source"], pair["target"])


def _differences(a: dict[str, TableSum], b: dict[str, TableSum]) -> str:
    return "; ".join(f"{name}: {check.problem()}" for name, check in compare(a, b).items() if not check.verified)


def copy_database(source_url: str, target_url: str, workdir: Path) -> DatabaseCopyReport:
    """Make the target hold exactly the source's tables and prove it, table by table.

    `workdir` holds the dump while it exists and the overwrite history (`database-copies.json`). Returns the
    report (verified); raises PlatformError when the pair is unsupported, the local tools cannot do it, the
    target holds data this copy may not replace, or verification fails (the report's problems in the message).
    """
    history = CopyHistory(workdir / HISTORY_FILE)
    with _opened(source_url, target_url) as (engine, source, target, versions):
        report = DatabaseCopyReport(source_url, target_url, engine.label, engine.method, versions)
        src, dst = source.url.identity, target.url.identity
        before = target.checksums()
        if before:
            now = source.checksums()
            if same_content(now, before):
                report.method = "none: the target already holds the same content"
                report.tables = compare(now, before)
                history.copied(src, now, dst, before)
                return report
            copied = history.tables(dst)
            if history.copied_from(dst) == src and copied is not None and same_content(now, copied):
                # Nothing was written to the source since its verified copy; the target has moved on (it is in
                # use): everything the source holds is already there, and copying again would lose new rows.
                report.method = ("none: the source is unchanged since its verified copy; the target has newer "
                                 f"writes ({_differences(copied, before)})")
                report.tables = compare(now, copied)
                return report
            if not history.may_overwrite(dst, before):
                if history.copied_from(dst) == src:
                    why = (f"was written after this move copied into it, and so was the source "
                           f"({_differences(copied or {}, now)}): copying again would lose the target's new rows")
                else:
                    why = f"holds tables this move did not put there ({', '.join(sorted(before))})"
                raise PlatformError(f"the target database {target.url} {why}; nothing was copied and nothing "
                                    "overwritten: reconcile or empty the target, then re-run the move",
                                    key="database", value=str(target.url))
        history.copying(dst)
        taken = engine.copy(source, target, workdir)
        after = target.checksums()
        report.tables = compare(taken, after)
        if not report.verified:
            raise PlatformError(f"database copy not verified: {'; '.join(report.problems())} (if the source was "
                                "written during the copy, re-run the move: it copies again)", key="database",
                                value=str(target.url))
        history.copied(src, taken, dst, after)
        return report


def set_writes(url: str, allowed: bool) -> str | None:
    """Refuse (`allowed` False) or allow again the writes to one database, for every role but the move's own
    connections: a move's cut-over stops the source's writes before its final copy, so nothing is written to the
    source after that copy; a database that becomes a move's target (a rollback onto a kept source) takes writes
    again. Returns how it was done, or None when this engine cannot do it (the move then relies on the comparison
    before the source is removed).

    Raises:
        PlatformError: the database cannot be reached, or the credentials may not change it.
    """
    engine = _engines().get(engine_of(url))
    if engine is None:
        return None
    database = engine().connect(DatabaseUrl.parse(with_credentials(url)), "source")
    try:
        change = getattr(database, "set_read_only", None)
        return change(not allowed) if change is not None else None
    finally:
        database.close()


def source_leftovers(source_url: str, target_url: str, workdir: Path) -> tuple[dict[str, TableCheck], list[str]]:
    """Before a kept source is removed (after cut-over): does the source hold rows the target lacks? No when both
    hold the same content, or when the source is unchanged since its verified copy (the target has moved on since,
    as it may: it is in use). Returns every table compared (source against target now) and the names of the tables
    the source changed since its copy (since nothing known, without a copy history here) that the target does not
    hold as the source has them. Changes nothing.

    Raises:
        PlatformError: the pair is unsupported or a side cannot be reached.
    """
    history = CopyHistory(workdir / HISTORY_FILE)
    with _opened(source_url, target_url) as (_, source, target, _versions):
        now, there = source.checksums(), target.checksums()
        if same_content(now, there):
            return compare(now, there), []
        copied = history.tables(target.url.identity)
        if history.copied_from(target.url.identity) != source.url.identity or copied is None:
            copied = there  # no verified copy known here: every difference may be the source's
        if same_content(now, copied):
            return compare(now, copied), []

        def sums(tables: dict[str, TableSum], name: str) -> object:
            found = tables.get(name)
            return (found.rows, found.checksum) if found else None

        # a table the source changed since its copy, and the target does not hold as the source has it now
        lost = [name for name in sorted(set(now) | set(copied))
                if sums(now, name) != sums(copied, name) and sums(now, name) != sums(there, name)]
        return compare(now, there), lost
