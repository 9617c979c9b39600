"""Per-table content checksums over each row's canonical text, computed while the rows stream past.

A row's canonical text is PostgreSQL's COPY text format: fields separated by tabs, NULL as `\\N`, backslash,
tab, newline and carriage return escaped. PostgreSQL produces it itself (`COPY ... TO STDOUT`); the other
engines build it with `text_row` from the values their driver returns. Both sides of a copy use the same engine
and the same session settings, so equal content gives equal text.

- A table with a primary key is read in primary-key order: checksum = SHA-256 over its rows' text, each row
  followed by a newline (any change, loss, duplication or reordering of a row changes it).
- A table without one has no stable order: checksum = the sum, modulo 2**256, of each row's SHA-256. It does not
  depend on order and, unlike an XOR, still tells `{x, x}` from `{y, y}`. Reports announce which one was used.

Memory: one row at a time (plus a partial line for a COPY stream), whatever the table size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

ORDERED = "sha256 over rows in primary-key order"
UNORDERED = "whole-table checksum without a primary key: sum of per-row sha256 (order-independent)"

_ESCAPES = {ord("\\"): "\\\\", ord("\t"): "\\t", ord("\n"): "\\n", ord("\r"): "\\r"}


def text_field(value: str | None) -> str:
    """One field in COPY text format (`\\N` for NULL)."""
    return "\\N" if value is None else value.translate(_ESCAPES)


def text_row(fields: Iterable[str | None]) -> bytes:
    """One row's canonical text, UTF-8 encoded, without the trailing newline."""
    return "\t".join(text_field(field) for field in fields).encode(errors="surrogateescape")


@dataclass(frozen=True)
class TableSum:
    """Rows and content checksum of one table; `primary_key` names the order used (empty: order-independent)."""

    rows: int
    checksum: str
    primary_key: tuple[str, ...] = ()

    @property
    def method(self) -> str:
        return ORDERED if self.primary_key else UNORDERED

    def to_json(self) -> dict[str, object]:
        return {"rows": self.rows, "checksum": self.checksum, "primary_key": list(self.primary_key)}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> TableSum:
        rows, checksum, key = data["rows"], data["checksum"], data.get("primary_key") or []
        assert isinstance(rows, int) and isinstance(checksum, str) and isinstance(key, list)
        return cls(rows, checksum, tuple(str(k) for k in key))


class TableDigest:
    """Accumulates one table's checksum: `add(row)` per row, or `write(chunk)` with a COPY text stream."""

    def __init__(self, primary_key: tuple[str, ...] = ()) -> None:
        self.primary_key = primary_key
        self.rows = 0
        self._ordered = hashlib.sha256() if primary_key else None
        self._sum = 0
        self._partial = b""

    def add(self, row: bytes) -> None:
        self.rows += 1
        if self._ordered is not None:
            self._ordered.update(row)
            self._ordered.update(b"\n")
        else:
            self._sum = (self._sum + int.from_bytes(hashlib.sha256(row).digest(), "big")) % (1 << 256)

    def write(self, data: bytes) -> int:
        """File-like sink for a COPY text stream: complete lines are rows; a partial line waits for the rest."""
        lines = (self._partial + bytes(data)).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            self.add(line)
        return len(data)

    def result(self) -> TableSum:
        if self._partial:
            raise ValueError("COPY stream ended inside a row")
        checksum = self._ordered.hexdigest() if self._ordered is not None else f"{self._sum:064x}"
        return TableSum(self.rows, checksum, self.primary_key)
