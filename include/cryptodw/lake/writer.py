"""Write raw records into the lake: one file per venue / dataset / UTC day / part.

Layout (``<raw>`` is `settings.raw_dir`)::

    <raw>/<venue>/<dataset>/dt=YYYY-MM-DD/<part>.parquet        the rows (zstd parquet)
    <manifests>/<venue>/<dataset>/dt=YYYY-MM-DD/<part>.json     where they came from
    <quarantine>/<venue>/<dataset>/dt=YYYY-MM-DD/<part>.parquet rejected rows + reason

`<raw>` is a local directory or an `s3://` prefix (`CRYPTODW_LAKE_URI`, see storage.py).
`part` names the slice a task owns inside a day (a symbol, or symbol and interval), so tasks
mapped over symbols never write the same file. Every file is complete before it appears: a local
one is written to a hidden temp name and renamed into place, an object is sent whole in one PUT,
so readers see the old file or the new one, never half of one. A day's manifest is written
after its data file.
Landing a window rewrites every day of it, including days with no rows (an empty file says
"fetched, nothing happened"), so re-landing replaces rather than appends.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from include.cryptodw.lake.storage import write_object
from include.cryptodw.schemas import QUARANTINE

if TYPE_CHECKING:
    from include.cryptodw.lake.storage import LakePath

log = logging.getLogger(__name__)

_IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def validate_identifier(value: str, what: str) -> str:
    """Names that become path segments (venue, dataset, symbol) must be plain tokens."""
    if not _IDENTIFIER.fullmatch(value) or ".." in value:
        raise ValueError(f"invalid {what} {value!r}: expected letters, digits, '_', '-', '.'")
    return value


@dataclass(frozen=True)
class SourcePayload:
    """One payload rows were parsed from: its URI, content hash and fetch time."""

    uri: str
    sha256: str
    fetched_at: str


@dataclass(frozen=True)
class LandedFile:
    venue: str
    dataset: str
    day: date
    part: str
    path: LakePath
    rows: int
    file_sha256: str


def partition_path(raw_dir: LakePath, venue: str, dataset: str, day: date, part: str) -> LakePath:
    validate_identifier(venue, "venue")
    validate_identifier(dataset, "dataset")
    validate_identifier(part, "part")
    return raw_dir / venue / dataset / f"dt={day.isoformat()}" / f"{part}.parquet"


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days)]


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def _day_slice(table: pa.Table, time_column: str, day: date) -> pa.Table:
    start = pa.scalar(
        datetime.combine(day, datetime.min.time()), type=table.schema.field(time_column).type
    )
    end = pa.scalar(
        datetime.combine(day + timedelta(days=1), datetime.min.time()),
        type=table.schema.field(time_column).type,
    )
    mask = pc.and_(pc.greater_equal(table[time_column], start), pc.less(table[time_column], end))
    return table.filter(mask)


def _canonical_order(table: pa.Table, time_column: str) -> pa.Table:
    """Drop exact duplicate rows and sort, so the same input always gives the same bytes."""
    if table.num_rows == 0:
        return table
    unique = table.group_by(table.column_names, use_threads=False).aggregate([])
    unique = unique.select(table.column_names)
    keys = [(time_column, "ascending")] + [
        (name, "ascending") for name in table.column_names if name != time_column
    ]
    return unique.sort_by(keys)


def raw_schema(venue: str, dataset: str) -> tuple[pa.Schema, str]:
    """The schema of a raw dataset and the event-time column that picks its UTC-day partition.

    Connectors own their schemas (`include.cryptodw.sources.venues`); imported here on use
    because the connectors import this module for `SourcePayload`.
    """
    from include.cryptodw.sources.venues import raw_datasets

    try:
        return raw_datasets(venue)[dataset]
    except KeyError:
        raise ValueError(f"{venue} has no raw dataset {dataset!r}") from None


def land_records(
    table: pa.Table,
    *,
    raw_dir: LakePath,
    manifest_dir: LakePath,
    venue: str,
    dataset: str,
    part: str,
    window_start: date,
    window_end: date,
    sources: Sequence[SourcePayload] = (),
) -> list[LandedFile]:
    """Replace the `[window_start, window_end)` days of (venue, dataset, part) with `table`.

    Rows must lie inside the window (a row outside it is a bug in the caller, not data to
    drop). Exact duplicate rows are removed (websocket re-sends, overlapping REST pages).
    """
    schema, time_column = raw_schema(venue, dataset)
    table = table.cast(schema)
    if table.num_rows:
        lo, hi = pc.min(table[time_column]).as_py(), pc.max(table[time_column]).as_py()
        start = datetime.combine(window_start, datetime.min.time())
        end = datetime.combine(window_end, datetime.min.time())
        if lo < start or hi >= end:
            raise ValueError(
                f"{venue}/{dataset}/{part}: rows from {lo} to {hi} fall outside the window "
                f"[{window_start}, {window_end})"
            )
    lineage = _Lineage(sources, table, f"{venue}/{dataset}/{part}")
    landed = []
    for day in _days(window_start, window_end):
        rows = _canonical_order(_day_slice(table, time_column, day), time_column)
        path = partition_path(raw_dir, venue, dataset, day, part)
        payload = _parquet_bytes(rows)
        write_object(path, payload)
        file_sha = hashlib.sha256(payload).hexdigest()
        landed_file = LandedFile(venue, dataset, day, part, path, rows.num_rows, file_sha)
        _write_manifest(manifest_dir, landed_file, lineage.of_day(rows))
        landed.append(landed_file)
    total = sum(f.rows for f in landed)
    log.info("landed %s/%s/%s: %d rows in %d day files", venue, dataset, part, total, len(landed))
    return landed


class _Lineage:
    """Which payloads a day file's manifest lists: those its rows were parsed from (`_source`),
    plus those no row of the window came from (an empty page, a page all of whose rows were
    duplicates or rejects), which speak for the whole window. Listing every payload of the
    window in every day grew a month's backfill quadratically (a month of pages, 30 times).
    """

    def __init__(self, sources: Sequence[SourcePayload], table: pa.Table, slice_name: str):
        self.sources = list(sources)
        row_uris = _uris(table)
        known = {source.uri for source in self.sources}
        if self.sources and not row_uris <= known:
            unknown = sorted(row_uris - known)[:3]
            raise ValueError(f"{slice_name}: rows name payloads it was not given: {unknown}")
        self.rowless = known - row_uris

    def of_day(self, rows: pa.Table) -> list[SourcePayload]:
        day_uris = _uris(rows) | self.rowless
        return [source for source in self.sources if source.uri in day_uris]


def _uris(table: pa.Table) -> set[str]:
    return set(pc.unique(table["_source"]).to_pylist())


def _write_manifest(
    manifest_dir: LakePath, landed: LandedFile, sources: Iterable[SourcePayload]
) -> None:
    path = (
        manifest_dir
        / landed.venue
        / landed.dataset
        / f"dt={landed.day.isoformat()}"
        / f"{landed.part}.json"
    )
    manifest = {
        "venue": landed.venue,
        "dataset": landed.dataset,
        "day": landed.day.isoformat(),
        "part": landed.part,
        "file": landed.path.name,
        "rows": landed.rows,
        "file_sha256": landed.file_sha256,
        "landed_at": datetime.now(UTC).isoformat(),
        "sources": [asdict(s) for s in sources],
    }
    write_object(path, json.dumps(manifest, sort_keys=True).encode())


def quarantine_records(
    rejects: Sequence[dict],
    *,
    quarantine_dir: LakePath,
    venue: str,
    dataset: str,
    part: str,
    day: date,
) -> LakePath | None:
    """Keep rejected rows (`venue, dataset, reason, raw, _source`) for a day; None if none.

    Written per (day, part) like raw files, so re-landing replaces the day's rejects too.
    """
    path = partition_path(quarantine_dir, venue, dataset, day, part)
    if not rejects:
        path.unlink(missing_ok=True)
        return None
    table = pa.Table.from_pylist(list(rejects), schema=QUARANTINE)
    write_object(
        path, _parquet_bytes(table.sort_by([("_source", "ascending"), ("raw", "ascending")]))
    )
    log.warning("quarantined %d %s/%s rows for %s (%s)", len(rejects), venue, dataset, day, part)
    return path
