"""UTC day windows: parsing, validation, and which route serves which day.

A window is the half-open range of UTC days `[start, end)`. Airflow passes its data interval;
the CLI and the demo pass explicit dates. Re-running a window replaces exactly those days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

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


def resolve_window(params: dict | None, interval_start, interval_end) -> Window:
    """The run's window: explicit `window_start`/`window_end` params win over the data interval.

    Explicit params let one run cover a whole range (the demo, a manual backfill) instead of
    paying Airflow's per-run overhead once per day.
    """
    params = params or {}
    if params.get("window_start") and params.get("window_end"):
        return Window.parse(params["window_start"], params["window_end"])
    if interval_start is None or interval_end is None:
        raise ValueError("no window: pass window_start/window_end params or run on a schedule")
    return Window.parse(interval_start, interval_end)


def window_from_events(extras: list[dict]) -> Window:
    """The union of the windows announced by triggering asset events (their `extra`)."""
    windows = [Window.parse(e["window_start"], e["window_end"]) for e in extras if e]
    if not windows:
        raise ValueError("triggering asset events carry no window")
    return Window(min(w.start for w in windows), max(w.end for w in windows))
