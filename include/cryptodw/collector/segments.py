"""Received messages -> hourly segment files the connectors' `read_liquidations` read.

Layout (`transport.write_ws_segment`): ``<root>/ws/<venue>/<stream>/<receive day>/<name>.jsonl.gz``
with one ``{"recv_ts": ms, "data": raw text}`` line per message. The readers take every
``*.jsonl.gz`` of a day directory (`transport.iter_ws_messages`), so a day may hold several
segments per hour.

A process keeps the messages of each receive hour in memory and, at every flush, rewrites that
hour's segment with all of them (`write_ws_segment` writes a temp file and renames it, so a
crash leaves the previous complete version, never a torn file). Once an hour is over and
flushed, it is dropped from memory.

Segment names sort in receive order: ``HH00`` for the first process to write an hour; a process
that finds it taken (a restart within the hour) uses ``HHMMSS`` of its first message in that
hour, plus ``_N`` in the unlikely case that is taken too (``_`` sorts after ``.``). A process
never overwrites a segment it did not start.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from include.cryptodw.transport import write_ws_segment, ws_segment_dir

log = logging.getLogger(__name__)

HOUR_MS = 3_600_000
SEGMENT_SUFFIX = ".jsonl.gz"


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


@dataclass
class _Hour:
    day: date
    name: str
    messages: list[tuple[int, str]] = field(default_factory=list)
    dirty: bool = True


def segment_name(directory: Path, first_received_ms: int) -> str:
    """A name no existing segment of `directory` has, sorting after the earlier ones."""
    moment = _utc(first_received_ms)
    for candidate in (f"{moment:%H}00", f"{moment:%H%M%S}"):
        if not (directory / f"{candidate}{SEGMENT_SUFFIX}").exists():
            return candidate
    suffix = 1
    while (directory / f"{moment:%H%M%S}_{suffix}{SEGMENT_SUFFIX}").exists():
        suffix += 1
    return f"{moment:%H%M%S}_{suffix}"


@dataclass
class HourlySegments:
    """The open hours of one venue stream, flushed to their segments on demand."""

    root: Path
    venue: str
    stream: str
    _hours: dict[int, _Hour] = field(default_factory=dict)

    def add(self, received_ms: int, text: str) -> None:
        """Keep one raw message under the UTC hour it was received in."""
        hour_start = received_ms - received_ms % HOUR_MS
        hour = self._hours.get(hour_start)
        if hour is None:
            day = _utc(received_ms).date()
            directory = ws_segment_dir(self.root, self.venue, self.stream, day)
            hour = _Hour(day, segment_name(directory, received_ms))
            # Reserve the name now: a second process starting this hour must not pick it too.
            write_ws_segment(self.root, self.venue, self.stream, day, hour.name, [])
            self._hours[hour_start] = hour
        hour.messages.append((received_ms, text))
        hour.dirty = True

    def flush(self, now_ms: int) -> list[Path]:
        """Rewrite every segment with new messages; forget hours that ended before `now_ms`."""
        written = []
        for hour_start in sorted(self._hours):
            hour = self._hours[hour_start]
            if hour.dirty:
                written.append(
                    write_ws_segment(
                        self.root, self.venue, self.stream, hour.day, hour.name, hour.messages
                    )
                )
                hour.dirty = False
            if hour_start + HOUR_MS <= now_ms:
                log.info(
                    "%s %s: closed segment %s/%s with %d messages",
                    self.venue,
                    self.stream,
                    hour.day,
                    hour.name,
                    len(hour.messages),
                )
                del self._hours[hour_start]
        return written

    @property
    def buffered(self) -> int:
        """Messages held in memory (the open hours)."""
        return sum(len(hour.messages) for hour in self._hours.values())
