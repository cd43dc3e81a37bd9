"""The collector's own record of when it was NOT capturing a venue's stream.

A venue stream is *covered* while a connection is open and every subscription acknowledged.
Every other interval is a gap, kept as JSON lines appended (and fsynced) to
``<root>/ws/<venue>/_coverage/<UTC day the line was written>.jsonl``:

    {"venue": "okx", "stream": "liquidation-orders", "gap_start": 1767225600000,
     "gap_end": 1767225612345, "reason": "connection_lost", "detail": "no close frame (1006)",
     "recorded_at": 1767225612345, "collector": "host:1234:1767225000000"}

A gap is written twice: when it opens (``gap_end`` null) and when it closes, under the same
``gap_start``. Read them as one gap per (venue, stream, gap_start), taking the closing line when
there is one; a gap with no closing line is still open (or the collector is down).

`reason` is one of `GAP_REASONS`. `read_coverage_gaps` turns the lines into raw rows of the
`collector_coverage_gaps` dataset (one per gap and UTC day), which the ingest DAGs land per
venue beside the liquidations, so the marts can tell an hour without capture from a quiet one.

Across restarts a small state file
(``_coverage/state.json``, rewritten atomically) carries what the next process must know:

* the previous process stopped during a gap (shutdown, connect errors): the new process closes
  that same gap once it is subscribed again;
* the previous process died while covered: its unflushed messages are lost, so the new gap
  starts at the last flush it recorded (``covered_until``), reason ``unclean_stop``;
* no state at all: the gap starts now, reason ``process_start``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from include.cryptodw.assets import COLLECTOR_COVERAGE_GAPS
from include.cryptodw.lake.writer import SourcePayload
from include.cryptodw.schemas import COVERAGE_GAPS
from include.cryptodw.sources.common import (
    DAY_MS,
    ParseResult,
    RowError,
    integer,
    reject_row,
    text,
    timestamp_ms,
    window_ms,
)
from include.cryptodw.transport import atomic_write_bytes

log = logging.getLogger(__name__)

COVERAGE_DIR = "_coverage"
STATE_FILE = "state.json"
GAP_REASONS = (
    "process_start",  # first run: nothing known before
    "unclean_stop",  # the previous process died while covered (gap from its last flush)
    "connect_error",  # DNS, TCP, TLS, HTTP status at the handshake, open timeout
    "server_close",  # the server closed the connection with a close frame
    "connection_lost",  # the connection dropped without a close frame
    "ping_timeout",  # no pong / no frame in time
    "subscribe_error",  # subscription refused or never acknowledged
    "max_age",  # our own reconnect ahead of the venue's connection lifetime limit
    "shutdown",  # SIGTERM / SIGINT
)


def coverage_dir(root: Path, venue: str) -> Path:
    return root / "ws" / venue / COVERAGE_DIR


def collector_id(started_ms: int) -> str:
    """Names the process in coverage lines: host, pid and start time."""
    return f"{socket.gethostname()}:{os.getpid()}:{started_ms}"


@dataclass
class OpenGap:
    start_ms: int
    reason: str
    detail: str


class Coverage:
    """Gap bookkeeping of one venue stream; every change is on disk before it returns."""

    def __init__(self, root: Path, venue: str, stream: str, collector: str) -> None:
        self.root = root
        self.venue = venue
        self.stream = stream
        self.collector = collector
        self.directory = coverage_dir(root, venue)
        self.gap: OpenGap | None = None

    @property
    def covered(self) -> bool:
        return self.gap is None

    def resume(self, now_ms: int) -> OpenGap:
        """Open the gap this process starts in, continuing the previous process's if any."""
        state = self._read_state()
        previous = state.get("open_gap") if state else None
        if previous:
            self.gap = OpenGap(previous["gap_start"], previous["reason"], previous["detail"])
            log.info(
                "%s %s: continuing the gap open since %s (%s)",
                self.venue,
                self.stream,
                _iso(self.gap.start_ms),
                self.gap.reason,
            )
        elif state and state.get("covered_until"):
            detail = f"previous collector {state.get('collector')} stopped without a shutdown"
            self._open(OpenGap(int(state["covered_until"]), "unclean_stop", detail), now_ms)
        else:
            self._open(OpenGap(now_ms, "process_start", "no earlier coverage state"), now_ms)
        self._write_state(now_ms, covered_until=state.get("covered_until") if state else None)
        return self.gap

    def open_gap(self, now_ms: int, reason: str, detail: str) -> None:
        """The stream stopped being covered at `now_ms` (no-op inside an open gap)."""
        if self.gap is not None:
            log.debug("%s %s: still in a gap (%s: %s)", self.venue, self.stream, reason, detail)
            return
        self._open(OpenGap(now_ms, reason, detail), now_ms)
        self._write_state(now_ms, covered_until=now_ms)

    def close_gap(self, now_ms: int) -> None:
        """The stream is covered again from `now_ms`."""
        if self.gap is None:
            return
        gap, self.gap = self.gap, None
        self._append(gap, now_ms, end_ms=now_ms)
        log.info(
            "%s %s: covered again after a %.1f s gap (%s: %s)",
            self.venue,
            self.stream,
            (now_ms - gap.start_ms) / 1000,
            gap.reason,
            gap.detail,
        )
        self._write_state(now_ms, covered_until=now_ms)

    def checkpoint(self, now_ms: int) -> None:
        """Record that everything received until `now_ms` is on disk (call after a flush)."""
        if self.gap is None:
            self._write_state(now_ms, covered_until=now_ms)

    def _open(self, gap: OpenGap, now_ms: int) -> None:
        if gap.reason not in GAP_REASONS:
            raise ValueError(f"unknown gap reason {gap.reason!r}")
        self.gap = gap
        self._append(gap, now_ms, end_ms=None)
        log.warning(
            "%s %s: not covered since %s (%s: %s)",
            self.venue,
            self.stream,
            _iso(gap.start_ms),
            gap.reason,
            gap.detail,
        )

    def _append(self, gap: OpenGap, now_ms: int, end_ms: int | None) -> None:
        line = {
            "venue": self.venue,
            "stream": self.stream,
            "gap_start": gap.start_ms,
            "gap_end": end_ms,
            "reason": gap.reason,
            "detail": gap.detail,
            "recorded_at": now_ms,
            "collector": self.collector,
        }
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{_iso(now_ms)[:10]}.jsonl"
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def _state_path(self) -> Path:
        return self.directory / self.stream / STATE_FILE

    def _read_state(self) -> dict | None:
        path = self._state_path()
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            log.warning("%s: unreadable coverage state, starting afresh", path)
            return None

    def _write_state(self, now_ms: int, covered_until: int | None) -> None:
        gap = self.gap
        state = {
            "venue": self.venue,
            "stream": self.stream,
            "collector": self.collector,
            "updated_at": now_ms,
            "covered_until": covered_until,
            "open_gap": None
            if gap is None
            else {"gap_start": gap.start_ms, "reason": gap.reason, "detail": gap.detail},
        }
        atomic_write_bytes(self._state_path(), json.dumps(state).encode())


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


def read_gaps(root: Path, venue: str) -> list[dict]:
    """One dict per gap of `venue` (all streams): the closing line if written, else the opening."""
    lines = (
        json.loads(text_)
        for path in sorted(coverage_dir(root, venue).glob("*.jsonl"))
        for text_ in path.read_text(encoding="utf-8").splitlines()
    )
    return _one_line_per_gap(lines)


def _one_line_per_gap(lines: Iterable[dict]) -> list[dict]:
    """Collapse the opening and closing lines of each (stream, gap_start), sorted by them."""
    gaps: dict[tuple[str, int], dict] = {}
    for line in lines:
        key = (line["stream"], line["gap_start"])
        if key not in gaps or line["gap_end"] is not None:
            gaps[key] = line
    return sorted(gaps.values(), key=lambda line: (line["stream"], line["gap_start"]))


# ------------------------------------------------------------------------ landing the gaps


def read_coverage_gaps(replay_root: Path, venue: str, start: date, end: date) -> ParseResult:
    """The gaps of `venue` inside the UTC-day window `[start, end)`: one row per gap and day.

    Every coverage file is read (a gap opened on one day may close days later), one gap per
    (stream, gap_start) as in `read_gaps`. A gap still open runs to the window's end: nothing
    was captured since it opened. The first gap of a stream, when a collector opened it on its
    very first start (`process_start`: nothing known before), reaches back before that start
    too, since nothing was captured before the collector ever ran. Each gap is cut to the
    window and at UTC midnights, so every row lies inside one day partition. A line that cannot
    be read is quarantined by the window holding its file's day.
    """
    keep = window_ms(start, end)
    lines: list[dict] = []
    rejects: list[dict] = []
    sources: list[SourcePayload] = []
    for path in sorted(coverage_dir(replay_root, venue).glob("*.jsonl")):
        uri = _relative_uri(replay_root, path)
        payload = path.read_bytes()
        read, bad = _coverage_lines(payload.decode("utf-8", errors="replace"), venue, uri)
        if _file_day_in(path, start, end):
            rejects += [
                reject_row(venue, COLLECTOR_COVERAGE_GAPS, reason, raw, uri) for reason, raw in bad
            ]
        if read:
            lines += read
            last = max(line["recorded_at"] for line in read)
            sources.append(SourcePayload(uri, hashlib.sha256(payload).hexdigest(), _iso(last)))
    gaps = _one_line_per_gap(lines)
    first_gap: dict[str, dict] = {}
    for gap in gaps:
        first_gap.setdefault(gap["stream"], gap)
    rows = []
    for gap in gaps:
        from_ms = gap["gap_start"]
        if first_gap[gap["stream"]] is gap and gap["reason"] == "process_start":
            from_ms = keep[0]
        until_ms = keep[1] if gap["gap_end"] is None else gap["gap_end"]
        rows += [_gap_row(gap, lo, hi) for lo, hi in _daily_pieces(from_ms, until_ms, keep)]
    used = {row["_source"] for row in rows}
    table = pa.Table.from_pylist(rows, schema=COVERAGE_GAPS)
    log.info("%s coverage gaps %s..%s: %d rows", venue, start, end, len(rows))
    return ParseResult(table, rejects, [source for source in sources if source.uri in used])


def _coverage_lines(content: str, venue: str, uri: str) -> tuple[list[dict], list[tuple[str, str]]]:
    """The readable lines of a coverage file (each with its `_source`), and (reason, raw) of
    the others (e.g. a line torn by a crash in mid-write)."""
    read, bad = [], []
    for raw in content.splitlines():
        if not raw.strip():
            continue
        try:
            line = _gap_line(raw, venue)
        except RowError as exc:
            bad.append((str(exc), raw))
            continue
        read.append({**line, "_source": uri})
    return read, bad


def _gap_line(raw: str, venue: str) -> dict:
    try:
        record = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise RowError(f"not a JSON line: {exc}") from None
    if not isinstance(record, dict):
        raise RowError("not a JSON object")
    text(record, "venue", choices=frozenset({venue}))
    line = {
        "stream": text(record, "stream"),
        "gap_start": timestamp_ms(record, "gap_start"),
        "gap_end": None if record.get("gap_end") is None else timestamp_ms(record, "gap_end"),
        "reason": text(record, "reason", choices=frozenset(GAP_REASONS)),
        "detail": text(record, "detail", optional=True),
        "collector": text(record, "collector"),
        "recorded_at": integer(record, "recorded_at", non_negative=True),
    }
    if line["gap_end"] is not None and line["gap_end"] < line["gap_start"]:
        raise RowError(f"gap_end {line['gap_end']} is before gap_start {line['gap_start']}")
    return line


def _daily_pieces(from_ms: int, until_ms: int, keep: tuple[int, int]) -> list[tuple[int, int]]:
    """[from, until) cut to the window `keep` and at UTC midnights; empty pieces dropped."""
    lo, hi = max(from_ms, keep[0]), min(until_ms, keep[1])
    pieces = []
    while lo < hi:
        midnight = lo - lo % DAY_MS + DAY_MS
        pieces.append((lo, min(hi, midnight)))
        lo = midnight
    return pieces


def _gap_row(gap: dict, from_ms: int, until_ms: int) -> dict:
    return {
        "stream": gap["stream"],
        "gap_start": _naive_utc(gap["gap_start"]),
        "gap_end": None if gap["gap_end"] is None else _naive_utc(gap["gap_end"]),
        "uncovered_from": _naive_utc(from_ms),
        "uncovered_until": _naive_utc(until_ms),
        "reason": gap["reason"],
        "detail": gap["detail"],
        "collector": gap["collector"],
        "recorded_at": _naive_utc(gap["recorded_at"]),
        "_source": gap["_source"],
    }


def _naive_utc(ms: int) -> datetime:
    """Epoch milliseconds as the lake stores time: a naive UTC datetime, exact to the ms."""
    return datetime(1970, 1, 1) + timedelta(milliseconds=ms)


def _file_day_in(path: Path, start: date, end: date) -> bool:
    try:
        return start <= date.fromisoformat(path.stem) < end
    except ValueError:
        return False


def _relative_uri(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()
