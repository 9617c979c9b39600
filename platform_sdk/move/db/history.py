"""Which databases a copy may overwrite: those whose content is exactly what an earlier copy left or took.

A copy replaces the target's tables. That is safe when the target is empty, or when its content is provably ours
to replace: what an earlier copy wrote into it (a re-run, or the second pass of a move), or what an earlier copy
took from it and therefore exists elsewhere (moving back onto a kept source). Anything else — a row written to
the target after the copy, a database we never touched — is refused, so a move never loses data.

The history is a small JSON file in the move's work directory, keyed by `DatabaseUrl.identity` (no credentials):
`{"<identity>": {"state": "copying"}}` while a copy into it runs (a killed copy leaves a partial target that a
re-run may replace); after a verified copy `{"state": "copied", "from": "<source identity>", "tables": {...}}`
for the target and `{"state": "read", "tables": {...}}` for the source (tables: name -> `TableSum.to_json()`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from platform_sdk.move.db.checksum import TableSum


class CopyHistory:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, dict[str, object]]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        return data if isinstance(data, dict) else {}

    def _save(self, data: dict[str, dict[str, object]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, self.path)

    def seen(self, identity: str) -> bool:
        return identity in self._load()

    def tables(self, identity: str) -> dict[str, TableSum] | None:
        """The content last recorded for `identity` (None when unknown or while a copy into it runs)."""
        entry = self._load().get(identity) or {}
        tables = entry.get("tables")
        if not isinstance(tables, dict):
            return None
        return {name: TableSum.from_json(value) for name, value in tables.items()}

    def copied_from(self, identity: str) -> str | None:
        """The source of the last verified copy into `identity`."""
        source = (self._load().get(identity) or {}).get("from")
        return source if isinstance(source, str) else None

    def may_overwrite(self, identity: str, current: dict[str, TableSum]) -> bool:
        """True when `current` (the target's tables now) is what the history last saw, or a copy into it broke."""
        if (self._load().get(identity) or {}).get("state") == "copying":
            return True
        known = self.tables(identity)
        return known is not None and same_content(known, current)

    def copying(self, identity: str) -> None:
        """Record that a copy into `identity` starts (its content is ours until `copied` records it)."""
        data = self._load()
        data[identity] = {"state": "copying"}
        self._save(data)

    def copied(self, source: str, source_tables: dict[str, TableSum], target: str,
               target_tables: dict[str, TableSum]) -> None:
        """Record a verified copy: what was read from the source and what the target then held."""
        data = self._load()
        data[source] = {"state": "read", "tables": _tables_json(source_tables)}
        data[target] = {"state": "copied", "from": source, "tables": _tables_json(target_tables)}
        self._save(data)


def same_content(a: dict[str, TableSum], b: dict[str, TableSum]) -> bool:
    """Same tables with the same rows and checksums."""
    return {n: (s.rows, s.checksum) for n, s in a.items()} == {n: (s.rows, s.checksum) for n, s in b.items()}


def _tables_json(tables: dict[str, TableSum]) -> dict[str, object]:
    return {name: value.to_json() for name, value in sorted(tables.items())}
