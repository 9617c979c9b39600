"""Large tables are copied and verified with bounded memory: a few hundred thousand rows / tens of MB per table,
while the verifying process (this one: checksums stream through it) grows by a small fraction of the table size.
Against real servers: PostgreSQL (tests/postgres.py) and MariaDB (tests/mariadb.py)."""

from __future__ import annotations

import gc
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from platform_sdk.move.database import copy_database
from tests.mariadb import create_mariadb_database, mariadb_run, mariadb_server  # noqa: F401 - fixture
from tests.postgres import create_database, postgres_server  # noqa: F401 - fixture

MB = 1024 * 1024
ROWS = 300_000
ROW_TEXT = 96  # characters of payload per row: ~42 MB (PostgreSQL) / ~27 MB (MariaDB) of table
LIMIT = 24 * MB  # peak growth allowed; holding the rows of either side in memory needs several times the table


@contextmanager
def peak_rss_growth() -> Iterator[Callable[[], int]]:
    """Sample this process's RSS every 5 ms; yields a function returning the peak growth in bytes."""
    process = psutil.Process()
    gc.collect()
    baseline = process.memory_info().rss
    peak = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.005)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield lambda: peak[0] - baseline
    finally:
        done.set()
        thread.join()


def test_large_postgres_table_streams_with_bounded_memory(postgres_server: str, tmp_path: Path) -> None:  # noqa: F811
    source, target = create_database(postgres_server, "pg_big_src"), create_database(postgres_server, "pg_big_dst")
    subprocess.run(["psql", source, "-v", "ON_ERROR_STOP=1", "-qc",
                    "CREATE TABLE big (id bigint PRIMARY KEY, body text, n numeric);"
                    f"INSERT INTO big SELECT g, repeat(md5(g::text), {ROW_TEXT // 32}), g / 3.0 "
                    f"FROM generate_series(1, {ROWS}) g;"
                    "CREATE TABLE big_log AS SELECT * FROM big WHERE id % 3 = 0;"],  # no primary key
                   check=True, capture_output=True)
    size = int(subprocess.run(["psql", source, "-Atc", "SELECT pg_table_size('big')"], check=True,
                              capture_output=True, text=True).stdout)
    assert size > 30 * MB
    with peak_rss_growth() as growth:
        report = copy_database(source, target, tmp_path)
    assert report.verified
    assert report.tables["public.big"].target is not None and report.tables["public.big"].target.rows == ROWS
    assert report.tables["public.big_log"].target is not None and not report.tables["public.big_log"].target.primary_key
    print(f"\n{size / MB:.0f} MB table, peak growth {growth() / MB:.1f} MB")
    assert growth() < LIMIT, f"verifying {size / MB:.0f} MB grew the process by {growth() / MB:.1f} MB"


def test_large_mariadb_table_streams_with_bounded_memory(mariadb_server: str, tmp_path: Path) -> None:  # noqa: F811
    source = create_mariadb_database(mariadb_server, "big_src")
    target = create_mariadb_database(mariadb_server, "big_dst")
    rows = ROWS
    mariadb_run(source, "CREATE TABLE big (id BIGINT PRIMARY KEY, body TEXT, n DECIMAL(20, 4))",
                f"INSERT INTO big SELECT seq, REPEAT(MD5(seq), {ROW_TEXT // 32}), seq / 3 FROM seq_1_to_{rows}")
    size = int(str(mariadb_run(source, "SELECT SUM(LENGTH(body)) FROM big")[0][0]))
    assert size > 25 * MB
    with peak_rss_growth() as growth:
        report = copy_database(source, target, tmp_path)
    assert report.verified
    assert report.tables["big"].target is not None and report.tables["big"].target.rows == rows
    print(f"\n{size / MB:.0f} MB table, peak growth {growth() / MB:.1f} MB")
    assert growth() < LIMIT, f"verifying {size / MB:.0f} MB grew the process by {growth() / MB:.1f} MB"
