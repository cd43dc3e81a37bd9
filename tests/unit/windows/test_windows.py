"""UTC day windows: chunking for backfills, the archive/REST boundary."""

from __future__ import annotations

from datetime import date

import pytest

from include.cryptodw.windows import Window, archive_boundary


def test_chunks_cover_the_window_without_overlap():
    window = Window(date(2026, 1, 1), date(2026, 1, 11))
    chunks = window.chunks(4)
    assert [(c.start.day, c.end.day) for c in chunks] == [(1, 5), (5, 9), (9, 11)]
    assert [d for c in chunks for d in c.days] == window.days


def test_chunk_size_must_be_positive():
    with pytest.raises(ValueError, match="at least one day"):
        Window(date(2026, 1, 1), date(2026, 1, 2)).chunks(0)


def test_archive_holds_daily_files_up_to_the_day_before_yesterday():
    assert archive_boundary("klines", as_of=date(2026, 2, 6)) == date(2026, 2, 5)


def test_monthly_funding_files_appear_a_week_into_the_next_month():
    assert archive_boundary("funding", as_of=date(2026, 2, 6)) == date(2026, 1, 1)
    assert archive_boundary("funding", as_of=date(2026, 2, 8)) == date(2026, 2, 1)


def test_empty_windows_are_refused():
    with pytest.raises(ValueError, match="empty window"):
        Window.parse("2026-01-02", "2026-01-02")
