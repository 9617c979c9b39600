"""What a database copy did and the per-table evidence that everything arrived: rows and content checksums."""

from __future__ import annotations

from dataclasses import dataclass, field

from platform_sdk.move.db.checksum import TableSum
from platform_sdk.move.db.urls import redact


@dataclass(frozen=True)
class TableCheck:
    """One table on both sides; `None` where the table does not exist on that side."""

    source: TableSum | None
    target: TableSum | None

    @property
    def verified(self) -> bool:
        return (self.source is not None and self.target is not None and self.source.rows == self.target.rows
                and self.source.checksum == self.target.checksum)

    def problem(self) -> str | None:
        """What differs, in words (None when verified)."""
        if self.source is None:
            return "exists only in the target"
        if self.target is None:
            return "missing in the target"
        if self.source.rows != self.target.rows:
            return f"rows differ: {self.source.rows} in the source, {self.target.rows} in the target"
        if self.source.checksum != self.target.checksum:
            return f"same {self.source.rows} rows but the content differs ({self.source.method})"
        return None

    def to_json(self) -> dict[str, object]:
        known = self.source or self.target
        return {"source_rows": self.source.rows if self.source else None,
                "target_rows": self.target.rows if self.target else None,
                "source_checksum": self.source.checksum if self.source else None,
                "target_checksum": self.target.checksum if self.target else None,
                "checksum": known.method if known else None,
                "primary_key": list(known.primary_key) if known else [],
                "verified": self.verified}


def compare(source: dict[str, TableSum], target: dict[str, TableSum]) -> dict[str, TableCheck]:
    """Every table of either side, paired by name."""
    return {name: TableCheck(source.get(name), target.get(name)) for name in sorted(set(source) | set(target))}


@dataclass
class DatabaseCopyReport:
    """What was copied, how, with which client and server versions, and the per-table evidence.

    `method` names the copy (e.g. `pg_dump --format=custom | pg_restore --clean --single-transaction`, or
    `none: target already identical`); `versions` maps `source server`, `target server` and each local client
    tool to the version found. URLs are shown with passwords redacted.
    """

    source: str
    target: str
    engine: str = ""
    method: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    tables: dict[str, TableCheck] = field(default_factory=dict)

    @property
    def verified(self) -> bool:
        return all(check.verified for check in self.tables.values())

    def problems(self) -> list[str]:
        return [f"{name}: {problem}" for name, check in self.tables.items() if (problem := check.problem())]

    def to_json(self) -> dict[str, object]:
        return {"source": redact(self.source), "target": redact(self.target), "engine": self.engine,
                "method": self.method, "versions": dict(self.versions), "verified": self.verified,
                "tables": {name: check.to_json() for name, check in sorted(self.tables.items())}}
