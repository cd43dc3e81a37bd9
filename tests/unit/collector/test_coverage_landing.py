"""The collector's coverage gaps as raw rows: cut into UTC days and to the window, landed through
the real landing path (raw suite, lake writer) like every other raw dataset, idempotently."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pyarrow.parquet as pq
import pytest

from include.cryptodw.assets import COLLECTOR_COVERAGE_GAPS
from include.cryptodw.collector.coverage import Coverage, coverage_dir, read_coverage_gaps
from include.cryptodw.pipeline import land_slice
from include.cryptodw.settings import Settings
from include.cryptodw.windows import Window

VENUE, STREAM = "okx", "liquidation-orders"
JAN5, JAN6, JAN7 = date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 7)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute)


def ms(moment: datetime) -> int:
    return int(moment.replace(tzinfo=UTC).timestamp() * 1000)


def record(root, *events: tuple[str, datetime, str]) -> None:
    """Drive the collector's own coverage writer: ("start" | "covered" | reason, when, detail)."""
    coverage = Coverage(root, VENUE, STREAM, "test:1")
    for event, moment, detail in events:
        if event == "start":
            coverage.resume(ms(moment))
        elif event == "covered":
            coverage.close_gap(ms(moment))
        else:
            coverage.open_gap(ms(moment), event, detail)


def parts(result) -> list[tuple[str, datetime, datetime]]:
    rows = result.table.to_pylist()
    return [(r["reason"], r["uncovered_from"], r["uncovered_until"]) for r in rows]


@pytest.fixture
def replay(tmp_path):
    """First start Jan 5 13:00, a reconnect across midnight, a shutdown still open."""
    record(
        tmp_path,
        ("start", at(JAN5, 13), ""),
        ("covered", at(JAN5, 13) + timedelta(seconds=2), ""),
        ("connection_lost", at(JAN5, 22, 30), "no close frame (1006)"),
        ("covered", at(JAN6, 1, 15), ""),
        ("shutdown", at(JAN6, 20), "collector stopped"),
    )
    return tmp_path


def test_gaps_are_cut_at_midnight_and_an_open_gap_runs_to_the_window_end(replay):
    result = read_coverage_gaps(replay, VENUE, JAN5, JAN7)

    assert parts(result) == [
        # the first start: nothing was captured before it either
        ("process_start", at(JAN5, 0), at(JAN5, 13) + timedelta(seconds=2)),
        ("connection_lost", at(JAN5, 22, 30), at(JAN6, 0)),
        ("connection_lost", at(JAN6, 0), at(JAN6, 1, 15)),
        ("shutdown", at(JAN6, 20), at(JAN7, 0)),
    ]
    rows = result.table.to_pylist()
    assert rows[1]["gap_start"] == rows[2]["gap_start"] == at(JAN5, 22, 30)
    assert rows[1]["gap_end"] == at(JAN6, 1, 15) and rows[3]["gap_end"] is None
    assert {s.uri for s in result.sources} == {
        "ws/okx/_coverage/2026-01-05.jsonl",
        "ws/okx/_coverage/2026-01-06.jsonl",  # the closing line of the midnight gap
    }
    assert result.rejects == []


def test_a_window_sees_only_its_part_of_each_gap(replay):
    before = read_coverage_gaps(replay, VENUE, date(2026, 1, 4), JAN5)
    assert parts(before) == [("process_start", at(date(2026, 1, 4), 0), at(JAN5, 0))]
    second_day = read_coverage_gaps(replay, VENUE, JAN6, JAN7)
    assert [reason for reason, _, _ in parts(second_day)] == ["connection_lost", "shutdown"]
    later = read_coverage_gaps(replay, VENUE, date(2026, 1, 8), date(2026, 1, 9))
    assert parts(later) == [("shutdown", at(date(2026, 1, 8), 0), at(date(2026, 1, 9), 0))]


def test_a_torn_line_is_quarantined_once_by_the_window_of_its_file(replay):
    with open(coverage_dir(replay, VENUE) / "2026-01-06.jsonl", "a", encoding="utf-8") as handle:
        handle.write('{"venue": "okx", "stream": "liquidation-or')  # a crash mid-write

    own = read_coverage_gaps(replay, VENUE, JAN6, JAN7)
    other = read_coverage_gaps(replay, VENUE, JAN5, JAN6)

    (reject,) = own.rejects
    assert reject["dataset"] == COLLECTOR_COVERAGE_GAPS and "not a JSON line" in reject["reason"]
    assert reject["_source"] == "ws/okx/_coverage/2026-01-06.jsonl"
    assert other.rejects == [] and own.table.num_rows == 2


def test_landing_gaps_is_gated_and_idempotent(tmp_path):
    settings = Settings(
        data_dir=tmp_path / "data", source_mode="replay", symbols=("BTCUSDT",), venues=(VENUE,)
    )
    record(
        settings.replay_dir,
        ("start", at(JAN5, 13), ""),
        ("covered", at(JAN5, 13, 1), ""),
        ("connection_lost", at(JAN5, 22, 30), "1006"),
        ("covered", at(JAN6, 1, 15), ""),
    )
    window = Window(JAN5, JAN7)

    first = land_slice(settings, COLLECTOR_COVERAGE_GAPS, window, venue=VENUE)
    files = sorted((settings.raw_dir / VENUE / COLLECTOR_COVERAGE_GAPS).rglob("*.parquet"))
    landed = {path: path.read_bytes() for path in files}
    again = land_slice(settings, COLLECTOR_COVERAGE_GAPS, window, venue=VENUE)

    assert (first.rows, first.files, first.part) == (3, 2, "all")
    assert again == first
    assert {path: path.read_bytes() for path in files} == landed
    day_one = pq.read_table(files[0]).to_pylist()
    assert [row["reason"] for row in day_one] == ["process_start", "connection_lost"]
