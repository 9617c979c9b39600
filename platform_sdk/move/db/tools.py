"""Local client programs a copy runs (pg_dump, pg_restore, mysqldump, mysql): where they are and which version.

Found on PATH, as the copy will run them. The version is read from `NAME --version`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass


@dataclass(frozen=True)
class Tool:
    """A client program: `family` is `PostgreSQL`, `MariaDB` or `MySQL`; `version` like `15.18` or `10.11.18`."""

    name: str
    path: str
    family: str
    version: str

    @property
    def release(self) -> tuple[int, ...]:
        return version_tuple(self.version)

    def __str__(self) -> str:
        return f"{self.name} {self.version} ({self.family}, {self.path})"


def version_tuple(version: str) -> tuple[int, ...]:
    """`16.4` -> (16, 4); `10.11.18-MariaDB-0+deb12u1` -> (10, 11, 18); digits up to the first non-version part."""
    match = re.match(r"\d+(?:\.\d+)*", version.strip())
    return tuple(int(part) for part in match.group(0).split(".")) if match else ()


def parse_version_output(text: str) -> tuple[str, str] | None:
    """(family, version) from the first line of `--version` output of a PostgreSQL or MariaDB/MySQL client.

    Examples: `pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)` -> (PostgreSQL, 15.18);
    `mysqldump  Ver 10.19 Distrib 10.11.18-MariaDB, for debian-linux-gnu` -> (MariaDB, 10.11.18);
    `mariadb-dump from 11.4.2-MariaDB, client 10.19` -> (MariaDB, 11.4.2);
    `mysqldump  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)` -> (MySQL, 8.0.36).
    """
    line = text.strip().splitlines()[0] if text.strip() else ""
    if match := re.search(r"\(PostgreSQL\) (\d+(?:\.\d+)*)", line):
        return "PostgreSQL", match.group(1)
    if match := re.search(r"(\d+\.\d+\.\d+)-MariaDB", line):
        return "MariaDB", match.group(1)
    if match := re.search(r"Distrib (\d+\.\d+\.\d+)", line) or re.search(r"Ver (\d+\.\d+\.\d+)", line):
        return "MySQL", match.group(1)
    return None


def find_tool(*names: str) -> Tool | None:
    """The first of `names` on PATH with a readable version; None when none is installed."""
    for name in names:
        path = shutil.which(name)
        if path is None:
            continue
        try:
            out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        found = parse_version_output(out.stdout or out.stderr)
        if found is not None:
            return Tool(name, path, *found)
    return None
