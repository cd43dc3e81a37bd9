"""Fingerprints of every table in schema `marts`, to show two warehouses hold the same data.

A fingerprint is the row count and an order-independent checksum: the sum of DuckDB's hash of
each whole row (column names, types and exact values), so the same rows in any order give the
same sum and a single changed value, a missing or a duplicated row changes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

MARTS_SCHEMA = "marts"


@dataclass(frozen=True)
class Fingerprint:
    rows: int
    checksum: str


def fingerprint_marts(warehouse: Path) -> dict[str, Fingerprint]:
    """{table: fingerprint} of every table and view in schema `marts` of `warehouse`."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = [
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = ? order by table_name",
                [MARTS_SCHEMA],
            ).fetchall()
        ]
        fingerprints = {}
        for table in tables:
            rows, checksum = con.execute(
                f"select count(*), coalesce(sum(hash(t)::hugeint), 0)::varchar "
                f'from {MARTS_SCHEMA}."{table}" as t'
            ).fetchall()[0]
            fingerprints[table] = Fingerprint(rows, checksum)
    return fingerprints


@dataclass(frozen=True)
class Comparison:
    """One reference warehouse against named candidates, table by table."""

    reference: dict[str, Fingerprint]
    candidates: dict[str, dict[str, Fingerprint]]

    @property
    def tables(self) -> list[str]:
        names = set(self.reference)
        for fingerprints in self.candidates.values():
            names |= set(fingerprints)
        return sorted(names)

    def differences(self) -> list[str]:
        """`candidate: table` for every table missing, extra or different; empty if identical."""
        return [
            f"{name}: {table}"
            for name, fingerprints in self.candidates.items()
            for table in self.tables
            if fingerprints.get(table) != self.reference.get(table)
        ]

    def table(self, reference_name: str = "local") -> str:
        """A plain-text table: rows of the reference, then rows and verdict per candidate."""
        header = [f"marts table ({len(self.tables)})", f"{reference_name} rows"]
        for name in self.candidates:
            header += [f"{name} rows", name]
        lines = [header]
        for table in self.tables:
            ref = self.reference.get(table)
            line = [table, _rows(ref)]
            for fingerprints in self.candidates.values():
                got = fingerprints.get(table)
                line += [_rows(got), _verdict(ref, got)]
            lines.append(line)
        widths = [max(len(str(row[i])) for row in lines) for i in range(len(header))]
        rendered = [
            "  ".join(
                str(cell).ljust(w) if i == 0 else str(cell).rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
            for row in lines
        ]
        rendered.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(rendered)


def _rows(fingerprint: Fingerprint | None) -> str:
    return "-" if fingerprint is None else str(fingerprint.rows)


def _verdict(reference: Fingerprint | None, got: Fingerprint | None) -> str:
    if reference is None:
        return "EXTRA"
    if got is None:
        return "MISSING"
    if got.rows != reference.rows:
        return "ROWS DIFFER"
    return "same" if got.checksum == reference.checksum else "VALUES DIFFER"
