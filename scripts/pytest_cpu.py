"""CPU time per test file, for keeping the suite's budget (docs/testing.md): a pytest plugin plus a summary.

    PYTHONPATH=. PYTEST_CPU_DIR=/tmp/cpu .venv/bin/pytest -p scripts.pytest_cpu ...   # <dir>/<pid>.json each
    .venv/bin/python scripts/pytest_cpu.py /tmp/cpu         # table: CPU seconds per file, and the total

What is counted: user + system time of the pytest process (or xdist worker) and of every child process it has
waited for (Terraform, the local cloud provider Terraform starts, CLI subprocesses), from the start to the end of
each test's setup, call and teardown. Time outside tests (collection, session fixtures' teardown, xdist start-up)
is reported as "(outside tests)". A child still running when a test ends is counted when it is waited for.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest


def _cpu(children: bool = True) -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    seconds = own.ru_utime + own.ru_stime
    if children:
        waited = resource.getrusage(resource.RUSAGE_CHILDREN)
        seconds += waited.ru_utime + waited.ru_stime
    return seconds


_per_file: dict[str, float] = defaultdict(float)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    start = _cpu()
    try:
        return (yield)
    finally:
        _per_file[item.nodeid.split("::", 1)[0]] += _cpu() - start


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = os.environ.get("PYTEST_CPU_DIR")
    if not folder:
        return
    # An xdist controller's children are its workers, which write their own records: count only itself.
    total = _cpu(children=not config.pluginmanager.hasplugin("dsession"))
    record = {"files": dict(_per_file), "outside": total - sum(_per_file.values()), "total": total}
    Path(folder).mkdir(parents=True, exist_ok=True)
    (Path(folder) / f"{os.getpid()}.json").write_text(json.dumps(record))


def summary(folder: Path) -> str:
    files: dict[str, float] = defaultdict(float)
    outside = total = 0.0
    for path in folder.glob("*.json"):
        record = json.loads(path.read_text())
        for name, seconds in record["files"].items():
            files[name] += seconds
        outside += record["outside"]
        total += record["total"]
    lines = [f"{seconds:8.1f}  {name}" for name, seconds in sorted(files.items(), key=lambda item: -item[1])]
    lines += [f"{outside:8.1f}  (outside tests)", f"{total:8.1f}  total CPU seconds (user + system)"]
    return "\n".join(lines)


if __name__ == "__main__":
    print(summary(Path(sys.argv[1])))
