"""UTC day windows: parsing, validation, and which route serves which day.

A window is the half-open range of UTC days `[start, end)`. Airflow passes its data interval;
the CLI and the demo pass explicit dates. Re-running a window replaces exactly those days.

A scheduled run covers the UTC days its data interval touches (an hourly run: the day of its
hour) plus `lookback_days` days before them, so rows that land late (an archive file published
the next day, a websocket segment flushed late) are landed and transformed by a later run.
Explicit windows are taken as given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

# The archive publishes a daily file the day after; keep one more day of margin.
ARCHIVE_DAILY_LAG_DAYS = 2
# Monthly funding files appear in the first days of the next month.
ARCHIVE_MONTHLY_LAG_DAYS = 7


@dataclass(frozen=True)
class Window:
    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"empty window: end {self.end} must be after start {self.start}")

    @classmethod
    def parse(cls, start: str | date | datetime, end: str | date | datetime) -> Window:
        return cls(_to_date(start), _to_date(end))

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days)]

    def as_dict(self) -> dict[str, str]:
        return {"window_start": self.start.isoformat(), "window_end": self.end.isoformat()}

    def chunks(self, days: int) -> list[Window]:
        """Consecutive windows of at most `days` days covering this one (a backfill's steps)."""
        if days < 1:
            raise ValueError(f"chunk size must be at least one day, not {days}")
        starts = self.days[::days]
        return [Window(s, min(s + timedelta(days=days), self.end)) for s in starts]

    def with_lookback(self, days: int) -> Window:
        """This window extended `days` UTC days back (late data), same end."""
        if days < 0:
            raise ValueError(f"lookback must be zero or more days, not {days}")
        return Window(self.start - timedelta(days=days), self.end)

    def split(self, boundary: date) -> tuple[Window | None, Window | None]:
        """The part before `boundary` and the part from it on (either may be None)."""
        if boundary <= self.start:
            return None, self
        if boundary >= self.end:
            return self, None
        return Window(self.start, boundary), Window(boundary, self.end)


def _to_date(value: str | date | datetime) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def archive_boundary(dataset: str, as_of: date) -> date:
    """First day NOT yet expected in the bulk archive when fetching at `as_of`.

    Days before it are read from archive files; days from it on come from the REST API
    (or, for liquidations, only ever from the websocket capture).
    """
    if dataset == "funding":
        cutoff = as_of - timedelta(days=ARCHIVE_MONTHLY_LAG_DAYS)
        return cutoff.replace(day=1)
    return as_of - timedelta(days=ARCHIVE_DAILY_LAG_DAYS - 1)


def resolve_window(
    params: dict | None, interval_start, interval_end, lookback_days: int = 0
) -> Window:
    """The run's window: explicit `window_start`/`window_end` params win over the data interval.

    Explicit params let one run cover a whole range (the demo, a manual backfill) instead of
    paying Airflow's per-run overhead once per day; they are taken as given. A data interval
    becomes the UTC days it touches, extended `lookback_days` back.
    """
    params = params or {}
    if params.get("window_start") and params.get("window_end"):
        return Window.parse(params["window_start"], params["window_end"])
    if interval_start is None or interval_end is None:
        raise ValueError("no window: pass window_start/window_end params or run on a schedule")
    return interval_days(interval_start, interval_end).with_lookback(lookback_days)


def interval_days(start: str | date | datetime, end: str | date | datetime) -> Window:
    """The UTC days a data interval `[start, end)` touches: `[01:00, 02:00)` on a day is that
    day, `[00:00, 00:00 the next day)` is one day, and an instant is the day it falls on."""
    start, end = _utc_datetime(start), _utc_datetime(end)
    last_instant = end - timedelta(microseconds=1) if end > start else start
    return Window(start.date(), last_instant.date() + timedelta(days=1))


def _utc_datetime(value: str | date | datetime) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    elif not isinstance(value, datetime):
        value = datetime.combine(value, datetime.min.time())
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return datetime.combine(value.date(), value.time())  # a plain datetime, even from pendulum


def window_from_events(extras: list[dict]) -> Window:
    """The union of the windows announced by triggering asset events (their `extra`)."""
    windows = [Window.parse(e["window_start"], e["window_end"]) for e in extras if e]
    if not windows:
        raise ValueError("triggering asset events carry no window")
    return Window(min(w.start for w in windows), max(w.end for w in windows))
