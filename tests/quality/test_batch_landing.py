"""`pipeline.land_window` gates the slices of a dataset with one run of its raw suite, and
validates slice by slice, naming the failing rows, when they do not pass together."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pyarrow as pa
import pytest

from include.cryptodw import pipeline
from include.cryptodw.quality import DataQualityError, runner
from include.cryptodw.quality.suites import suite_names, suite_spec
from include.cryptodw.sources.common import ParseResult
from include.cryptodw.sources.venues import raw_datasets
from include.cryptodw.transport import TransportError
from include.cryptodw.windows import Window

SUITE = "raw_binance__open_interest"
SYMBOLS = ("BTCUSDT", "ETHUSDT")  # the fixture rows' symbols
# Expectations that check each row, or groups of rows within one instrument (each slice holds
# one): when one holds on the slices together, it holds on every slice.
SLICE_SAFE = {
    "ExpectColumnToExist",
    "ExpectColumnValuesToNotBeNull",
    "ExpectColumnValuesToBeNull",
    "ExpectColumnValuesToBeBetween",
    "ExpectColumnValuesToBeInSet",
    "ExpectColumnValuesToMatchRegex",
    "ExpectColumnPairValuesAToBeGreaterThanB",
    "ExpectColumnValuesToBeUnique",
    "ExpectCompoundColumnsToBeUnique",
}


@pytest.mark.parametrize("name", suite_names("raw"))
def test_raw_suites_hold_on_each_slice_when_they_hold_on_the_batch(name):
    for expectation in (
        suite_spec(name).suite(Window(date(2024, 1, 1), date(2024, 1, 2))).expectations
    ):
        assert type(expectation).__name__ in SLICE_SAFE, f"{name}: {expectation}"
        assert getattr(expectation, "mostly", 1) == 1, f"{name}: {expectation}"


@pytest.fixture
def open_interest(settings, good_rows, monkeypatch):
    """Settings for Binance and two symbols whose open interest slices are `rows` (instead
    of the exchange's), and the calls of each validation entry point."""
    rows = good_rows(SUITE)
    calls = {"raw_table_passes": 0, "validate_raw_table": 0}

    def fetch(settings, dataset, window, symbol=None, interval=None, transport=None, venue=""):
        schema = raw_datasets("binance")["open_interest"][0]
        table = pa.Table.from_pylist(
            [row for row in rows if row["symbol"] == symbol], schema=schema
        )
        part = pipeline.slice_part(dataset, symbol, interval)
        return pipeline.FetchedSlice(venue, dataset, part, window, ParseResult(table))

    def counted(name):
        function = getattr(runner, name)

        def call(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)

        monkeypatch.setattr(runner, name, call)

    monkeypatch.setattr(pipeline, "fetch_planned_slice", fetch)
    counted("raw_table_passes")
    counted("validate_raw_table")
    return replace(settings, venues=("binance",), symbols=SYMBOLS), rows, calls


def _landed_symbols(settings) -> set[str]:
    files = (settings.raw_dir / "binance" / "open_interest").rglob("*.parquet")
    return {path.stem for path in files}


def test_slices_that_pass_together_are_validated_once_and_written(open_interest, window):
    settings, rows, calls = open_interest

    results = pipeline.land_window(settings, window, dataset="open_interest")

    days = len(window.days)
    assert [(r.part, r.rows, r.files) for r in results] == [
        (symbol, 288 * days, days) for symbol in SYMBOLS
    ]
    assert calls == {"raw_table_passes": 1, "validate_raw_table": 0}
    assert _landed_symbols(settings) == set(SYMBOLS)


def test_a_failing_slice_is_named_and_the_slices_before_it_still_land(open_interest, window):
    settings, rows, calls = open_interest
    bad = next(row for row in rows if row["symbol"] == SYMBOLS[1])
    bad["open_interest_base"] = -1.0

    with pytest.raises(DataQualityError) as failure:
        pipeline.land_window(settings, window, dataset="open_interest")

    assert "open_interest_base" in str(failure.value) and SYMBOLS[1] in str(failure.value)
    assert calls == {"raw_table_passes": 1, "validate_raw_table": 2}
    assert _landed_symbols(settings) == {SYMBOLS[0]}


def test_the_slices_fetched_before_a_failing_fetch_still_land(open_interest, window, monkeypatch):
    settings, rows, calls = open_interest
    fetch = pipeline.fetch_planned_slice

    def fails_for_the_second(settings, dataset, window, symbol=None, **kwargs):
        if symbol == SYMBOLS[1]:
            raise TransportError(f"no payload for {symbol}")
        return fetch(settings, dataset, window, symbol, **kwargs)

    monkeypatch.setattr(pipeline, "fetch_planned_slice", fails_for_the_second)

    with pytest.raises(TransportError, match=SYMBOLS[1]):
        pipeline.land_window(settings, window, dataset="open_interest")

    assert calls == {"raw_table_passes": 0, "validate_raw_table": 1}
    assert _landed_symbols(settings) == {SYMBOLS[0]}
