"""Venue-independent pieces of the connectors: results, errors, strict field parsing, time bounds.

Parsing is row by row. A bad row (missing field, text where a number belongs, a non-positive
quantity, a timestamp outside what the payload can contain) becomes a *reject*: the verbatim
line or message plus a specific reason, kept for quarantine. Only a payload that cannot be read
at all (not JSON, not a zip, a CSV with unknown columns, an exchange error body) raises.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import logging
import math
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import msgspec
import pyarrow as pa

from include.cryptodw.lake.writer import SourcePayload
from include.cryptodw.transport import Response, TransportError, WsMessage, iter_ws_messages

DAY_MS = 86_400_000
# Millisecond timestamps outside this range are unit errors (seconds, microseconds) or garbage.
PLAUSIBLE_FROM_MS = int(datetime(2017, 1, 1, tzinfo=UTC).timestamp() * 1000)
PLAUSIBLE_UNTIL_MS = int(datetime(2100, 1, 1, tzinfo=UTC).timestamp() * 1000)

_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
# Letters/digits of any script and '_' (Binance lists e.g. "1000PEPEUSDT", "BTCUSDT_250627" and
# non-Latin names), never '/', '.', '-' or anything else that could escape a path segment.
_SYMBOL = re.compile(r"[^\W_]\w{0,63}")
_HEADER_START = re.compile(r"[A-Za-z_]")
# JSON with keys sorted: equal entries encode to equal bytes (NaN encodes as null; such a
# row is rejected as not finite anyway). Ten times faster than json.dumps per payload entry.
_CANONICAL_JSON = msgspec.json.Encoder(order="sorted", enc_hook=str)

log = logging.getLogger(__name__)


class PayloadFormatError(TransportError):
    """A whole payload cannot be parsed (not JSON, not a zip, a CSV with unknown columns)."""


class ExchangeAPIError(TransportError):
    """The exchange answered with its error body, e.g. Binance `{"code": -1121, "msg": ...}`."""

    def __init__(self, venue: str, code: object, msg: str, source_uri: str) -> None:
        super().__init__(f"{venue} error {code} ({msg}) for {source_uri}")
        self.code = code
        self.msg = msg
        self.source_uri = source_uri


class PagingError(TransportError):
    """A REST page was full but gave no later timestamp to continue from."""


class RowError(ValueError):
    """One input row is bad; the message is the reason recorded in quarantine."""


# ------------------------------------------------------------------------------- results


@dataclass
class ParseResult:
    """Parsed rows, rejected rows and the payloads both came from."""

    table: pa.Table
    rejects: list[dict] = field(default_factory=list)
    sources: list[SourcePayload] = field(default_factory=list)

    @classmethod
    def concat(cls, results: Sequence[ParseResult], schema: pa.Schema | None = None) -> ParseResult:
        """One result from many (pages, files, days). `schema` is needed only when empty."""
        if not results:
            if schema is None:
                raise ValueError("ParseResult.concat of nothing needs a schema")
            return cls(schema.empty_table())
        tables = [r.table for r in results]
        if schema is not None:
            tables = [t.cast(schema) for t in tables]
        return cls(
            table=pa.concat_tables(tables),
            rejects=[row for r in results for row in r.rejects],
            sources=[s for r in results for s in r.sources],
        )


def source_payload(response: Response) -> SourcePayload:
    """Lineage of a fetched payload: URI, content hash, fetch time."""
    return SourcePayload(response.source_uri, response.sha256, response.fetched_at.isoformat())


def reject_row(venue: str, dataset: str, reason: str, raw: str, source_uri: str) -> dict:
    """A quarantine row (schema `QUARANTINE`)."""
    return {"venue": venue, "dataset": dataset, "reason": reason, "raw": raw, "_source": source_uri}


def raw_json(item: object) -> str:
    """Compact JSON text of one element of a decoded payload (as the exchange serialises it)."""
    return json.dumps(item, separators=(",", ":"), ensure_ascii=False)


# --------------------------------------------------------------------------- time bounds


def day_start_ms(day: date) -> int:
    """Milliseconds since the epoch at 00:00 UTC of `day`."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def window_ms(start: date, end: date) -> tuple[int, int]:
    """The half-open UTC-day window `[start, end)` in epoch milliseconds."""
    if end <= start:
        raise ValueError(f"empty window: end {end} must be after start {start}")
    return day_start_ms(start), day_start_ms(end)


def days_between(start: date, end: date) -> list[date]:
    """The days of `[start, end)`."""
    return [start + timedelta(days=i) for i in range((end - start).days)]


def iso_ms(ms: int) -> str:
    """A readable UTC time for messages."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


KEEP, ELSEWHERE, FOREIGN = "keep", "elsewhere", "foreign"


@dataclass(frozen=True)
class TimeBounds:
    """Which event times a payload may contain (`expect`) and which of them to keep (`keep`).

    A row inside both is kept. A row inside `expect` but outside `keep` belongs to another
    window (a monthly file read for a few days, a segment straddling midnight) and is skipped:
    that window keeps it, or quarantines it if it is bad. A row outside `expect` cannot be right
    for this payload; it is rejected when the payload is `owned` by this read (a payload read
    only for its overlap with the window, e.g. the day before, leaves that to its owner).
    """

    keep_from_ms: int
    keep_until_ms: int
    expect_from_ms: int
    expect_until_ms: int
    owned: bool = True

    @classmethod
    def of(cls, keep: tuple[int, int], expect: tuple[int, int], owned: bool = True) -> TimeBounds:
        return cls(keep[0], keep[1], expect[0], expect[1], owned)

    def place(self, ts_ms: int) -> str:
        """KEEP, ELSEWHERE (another window's) or FOREIGN (outside what the payload can hold)."""
        if not self.expect_from_ms <= ts_ms < self.expect_until_ms:
            return FOREIGN
        return KEEP if self.keep_from_ms <= ts_ms < self.keep_until_ms else ELSEWHERE

    def describe(self) -> str:
        return f"[{iso_ms(self.expect_from_ms)}, {iso_ms(self.expect_until_ms)})"


# ------------------------------------------------------------------------- field parsing


def _value(record: Mapping[str, object], key: str) -> object:
    if key not in record:
        raise RowError(f"missing field {key!r}")
    return record[key]


def _is_empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _present(record: Mapping[str, object], key: str, optional: bool) -> object:
    """The field's value; None when an optional field is absent or empty, which a required
    one may not be."""
    value = record.get(key) if optional else _value(record, key)
    if _is_empty(value):
        if optional:
            return None
        raise RowError(f"field {key!r} is empty")
    return value


def number(
    record: Mapping[str, object],
    key: str,
    *,
    positive: bool = False,
    non_negative: bool = False,
    optional: bool = False,
) -> float | None:
    """A finite decimal from a JSON number or a decimal string ("0.014", "0E-8")."""
    value = record.get(key)
    # the usual field, a decimal string, first: parsing runs this for every cell of a payload
    if type(value) is str and _DECIMAL.fullmatch(value.strip()):
        result = float(value)
    else:
        value = _present(record, key, optional)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise RowError(f"field {key!r} is not a number: {value!r}")
        if isinstance(value, str) and not _DECIMAL.fullmatch(value.strip()):
            raise RowError(f"field {key!r} is not a number: {value!r}")
        result = float(value)
    if not math.isfinite(result):
        raise RowError(f"field {key!r} is not finite: {value!r}")
    if positive and result <= 0:
        raise RowError(f"field {key!r} must be > 0, got {value!r}")
    if non_negative and result < 0:
        raise RowError(f"field {key!r} must be >= 0, got {value!r}")
    return result


def integer(
    record: Mapping[str, object], key: str, *, non_negative: bool = False, optional: bool = False
) -> int | None:
    """An integer from a JSON integer or a string of digits."""
    value = record.get(key)
    if type(value) is int:  # the usual fields first, as in `number`
        result = value
    elif type(value) is str and _INTEGER.fullmatch(value.strip()):
        result = int(value)
    else:
        value = _present(record, key, optional)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise RowError(f"field {key!r} is not an integer: {value!r}")
        if isinstance(value, str) and not _INTEGER.fullmatch(value.strip()):
            raise RowError(f"field {key!r} is not an integer: {value!r}")
        result = int(value)
    if non_negative and result < 0:
        raise RowError(f"field {key!r} must be >= 0, got {value!r}")
    return result


def timestamp_ms(record: Mapping[str, object], key: str) -> int:
    """Epoch milliseconds; seconds, microseconds and other absurd values are rejected."""
    value = integer(record, key)
    if not PLAUSIBLE_FROM_MS <= value < PLAUSIBLE_UNTIL_MS:
        raise RowError(f"field {key!r} is not a plausible epoch-ms timestamp: {value!r}")
    return value


def text(
    record: Mapping[str, object],
    key: str,
    *,
    choices: frozenset[str] | None = None,
    optional: bool = False,
) -> str | None:
    """A non-empty string, optionally one of `choices`."""
    value = record.get(key)
    if type(value) is not str or not value.strip():  # the usual field, a word, skips these
        value = _present(record, key, optional)
        if value is None:
            return None
    if not isinstance(value, str):
        raise RowError(f"field {key!r} is not a string: {value!r}")
    if choices is not None and value not in choices:
        raise RowError(f"field {key!r} has unexpected value {value!r}")
    return value


def plain_symbol(value: object, what: str = "symbol") -> str:
    """A symbol that is a plain token (no '/', '..', spaces): safe in paths and URLs."""
    if not isinstance(value, str) or not _SYMBOL.fullmatch(value):
        raise RowError(f"{what} {value!r} is not a plain token")
    return value


def require_symbol(value: str) -> str:
    """Validate a caller-supplied symbol (it becomes part of URLs and file names)."""
    try:
        return plain_symbol(value)
    except RowError as exc:
        raise ValueError(str(exc)) from exc


# ------------------------------------------------------------------------- row collector


class RowCollector:
    """Accumulates the rows and rejects of one payload, placing each row by its event time."""

    def __init__(
        self,
        schema: pa.Schema,
        venue: str,
        dataset: str,
        time_column: str,
        source_uri: str,
        bounds: TimeBounds | None = None,
    ) -> None:
        self.schema = schema
        self.venue = venue
        self.dataset = dataset
        self.time_column = time_column
        self.source_uri = source_uri
        self.bounds = bounds
        self.rows: list[dict] = []
        self.rejects: list[dict] = []
        self.skipped = 0

    def add(
        self, raw: str, build: Callable[[], dict], hint: Callable[[], int | None] | None = None
    ) -> None:
        """Build one row from `raw`: keep it, skip it (another window's) or reject it.

        `hint` reads just the row's event time (see `time_hint`), so a bad row is quarantined
        by the window its time falls in, once; a row of another window is skipped on its hint
        without being built (segments around a window hold mostly such rows).
        """
        if hint is not None and self.bounds is not None:
            ts = hint()
            if ts is not None and self.bounds.place(ts) == ELSEWHERE:
                self.skipped += 1
                return
        try:
            row = build()
        except RowError as exc:
            self.settle_bad(raw, str(exc), hint() if hint else None)
            return
        ts = row[self.time_column]
        place = KEEP if self.bounds is None else self.bounds.place(ts)
        if place == KEEP:
            self.rows.append(row)
        elif place == ELSEWHERE:
            self.skipped += 1
        else:
            reason = f"{self.time_column} {iso_ms(ts)} is outside this payload's span "
            self.settle_bad(raw, reason + self.bounds.describe(), None)

    def settle_bad(self, raw: str, reason: str, ts: int | None) -> None:
        """Reject a bad row here, or leave it to the window its time `ts` falls in."""
        bounds = self.bounds
        place = FOREIGN if bounds is None or ts is None else bounds.place(ts)
        if place == KEEP or (place == FOREIGN and (bounds is None or bounds.owned)):
            self.reject(reason, raw)
        else:
            self.skipped += 1

    def reject(self, reason: str, raw: str) -> None:
        self.rejects.append(reject_row(self.venue, self.dataset, reason, raw, self.source_uri))

    def result(self, sources: Sequence[SourcePayload] = ()) -> ParseResult:
        table = pa.Table.from_pylist(self.rows, schema=self.schema)
        return ParseResult(table, self.rejects, list(sources))


def time_hint(
    record: object, key: str, parse: Callable[[Mapping[str, object], str], int]
) -> int | None:
    """The event time of a record that may be malformed, or None if it cannot be read."""
    if not isinstance(record, Mapping):
        return None
    try:
        return parse(record, key)
    except RowError:
        return None


# --------------------------------------------------------------------- payload decoding


def decode_json(payload: bytes | str, source_uri: str) -> object:
    """The decoded JSON body, or `PayloadFormatError` naming the payload."""
    try:
        return json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PayloadFormatError(f"body of {source_uri} is not JSON: {exc}") from exc


def csv_text(payload: bytes, source_uri: str) -> str:
    """The CSV text of an archive payload: a zip holding one CSV, or the CSV itself."""
    if payload[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(payload)) as archive:
                members = [n for n in archive.namelist() if n.lower().endswith(".csv")]
                if len(members) != 1:
                    raise PayloadFormatError(
                        f"{source_uri}: expected one CSV in the zip, found {archive.namelist()}"
                    )
                payload = archive.read(members[0])
        except zipfile.BadZipFile as exc:
            raise PayloadFormatError(f"{source_uri} is not a readable zip: {exc}") from exc
    try:
        return payload.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PayloadFormatError(f"{source_uri} is not UTF-8 text: {exc}") from exc


def csv_records(
    text_: str, columns: Sequence[str], source_uri: str
) -> Iterator[tuple[str, dict[str, str] | RowError]]:
    """(verbatim line, record by column name, or why the line is unusable) per data line.

    The header row is optional (old Binance archive files have none): a first line whose first
    field starts with a letter is a header and must name exactly `columns`, in any order.
    """
    lines = [line for line in text_.splitlines() if line.strip()]
    names = list(columns)
    if lines:
        first = next(csv.reader([lines[0]]))
        if first and _HEADER_START.match(first[0].strip()):
            names = [name.strip() for name in first]
            unknown = sorted(set(names) - set(columns))
            missing = sorted(set(columns) - set(names))
            if unknown or missing or len(names) != len(columns):
                raise PayloadFormatError(
                    f"{source_uri}: unexpected CSV header {first} "
                    f"(unknown {unknown}, missing {missing}; expected {list(columns)})"
                )
            lines = lines[1:]
    for line in lines:
        fields = next(csv.reader([line]))
        if len(fields) != len(names):
            yield line, RowError(f"expected {len(names)} fields, got {len(fields)}")
        else:
            yield line, dict(zip(names, fields, strict=True))


# ------------------------------------------------------------------------------ dedupe


class RepeatCounter:
    """Numbers equal entries within ONE payload: 0 for the first, 1 for an equal second, ...

    Bybit and OKX liquidations carry no id, so two liquidations of the same size at the same
    price and millisecond pushed together look alike; they are two liquidations. The number
    keeps their rows apart, while a re-sent payload repeats the same numbers and its rows
    still collapse as exact duplicates in the lake.
    """

    def __init__(self) -> None:
        self._seen: Counter[bytes] = Counter()

    def next(self, *entry: object) -> int:
        key = _CANONICAL_JSON.encode(entry)
        index = self._seen[key]
        self._seen[key] += 1
        return index


def dedupe_on_key(result: ParseResult, key: Sequence[str], venue: str, dataset: str) -> ParseResult:
    """One row per `key` (e.g. symbol + time) across overlapping pages or files, sorted by key.

    Copies that differ only in `_source` are overlap and collapse to the first. Copies with
    different values conflict: the later one (newer page or file) wins and the earlier goes to
    the rejects with the reason, so nothing disappears silently.
    """
    kept: dict[tuple, dict] = {}
    rejects = list(result.rejects)
    for row in result.table.to_pylist():
        ident = tuple(row[k] for k in key)
        previous = kept.get(ident)
        if previous is None:
            kept[ident] = row
            continue
        if _without_source(previous) == _without_source(row):
            continue
        where = _jsonable(dict(zip(key, ident, strict=True)))
        reason = f"conflicting duplicate for {where}; kept the row from {row['_source']}"
        raw = raw_json(_jsonable(previous))
        rejects.append(reject_row(venue, dataset, reason, raw, previous["_source"]))
        kept[ident] = row
    rows = [kept[k] for k in sorted(kept)]
    table = pa.Table.from_pylist(rows, schema=result.table.schema)
    return ParseResult(table, rejects, list(result.sources))


def _without_source(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != "_source"}


def _jsonable(row: dict) -> dict:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


# ---------------------------------------------------------------- recorded websocket streams


@dataclass(frozen=True)
class RecordedSegment:
    """One recorded websocket segment: its messages, lineage and the time bounds for its rows.

    `source_uri` is relative to the replay root (how manifests and quarantine name it).
    """

    source_uri: str
    messages: list[WsMessage]
    bounds: TimeBounds
    owned: bool  # its receive day lies inside the window: it reports its own bad messages
    payload: SourcePayload


def recorded_segments(
    replay_root: Path, venue: str, stream: str, start: date, end: date
) -> Iterator[RecordedSegment]:
    """The segments that may hold events of `[start, end)`, with the bounds to read them by.

    Segments are filed by receive day, so an event just before midnight may sit in the next
    day's segment: the days on either side of the window are read too and contribute only
    rows inside the window. A bad message is quarantined once: by the window its event time
    falls in, or (time unreadable or absurd) by the window that owns its segment's day.
    """
    keep = window_ms(start, end)
    for day in days_between(start - timedelta(days=1), end + timedelta(days=1)):
        owned = start <= day < end
        # An event is at most a day away from the day its message was received.
        expect = (day_start_ms(day) - DAY_MS, day_start_ms(day) + 2 * DAY_MS)
        messages = iter_ws_messages(replay_root, venue, stream, day)
        for segment, group in itertools.groupby(messages, key=lambda m: m.source):
            group = list(group)
            source_uri = _relative_uri(replay_root, Path(segment))
            last_received = max(m.received_at_ms for m in group)
            payload = SourcePayload(
                uri=source_uri,
                sha256=hashlib.sha256(Path(segment).read_bytes()).hexdigest(),
                fetched_at=datetime.fromtimestamp(last_received / 1000, tz=UTC).isoformat(),
            )
            bounds = TimeBounds.of(keep, expect, owned=owned)
            yield RecordedSegment(source_uri, group, bounds, owned, payload)


def _relative_uri(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def read_recorded_stream(
    replay_root: Path,
    venue: str,
    stream: str,
    start: date,
    end: date,
    schema: pa.Schema,
    read_segment: Callable[[RecordedSegment], ParseResult],
) -> ParseResult:
    """Every row of a recorded stream with its event time in `[start, end)`: `read_segment`
    parses one segment; a segment outside the window counts only if it holds rows for it."""
    results = []
    for segment in recorded_segments(replay_root, venue, stream, start, end):
        result = read_segment(segment)
        if segment.owned or result.table.num_rows or result.rejects:
            results.append(result)
    result = ParseResult.concat(results, schema)
    log.info(
        "%s %s %s..%s: %d rows, %d rejects from %d segments",
        venue,
        stream,
        start,
        end,
        result.table.num_rows,
        len(result.rejects),
        len(result.sources),
    )
    return result
