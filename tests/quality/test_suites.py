"""Every suite passes its valid fixture and fails a broken copy for the expected reason (G4)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd
import pytest

from include.cryptodw import assets
from include.cryptodw.assets import ANALYTICS_MODELS, MART_MODELS
from include.cryptodw.quality import DataQualityError, validate_frame
from include.cryptodw.quality.suites import MissingSuiteError, suite_names, suite_spec

# Raw suites of other venues are tested on their connectors' rows (test_venue_suites.py).
ALL_SUITES = [
    name
    for layer in ("raw", "staging", "marts")
    for name in suite_names(layer)
    if name.startswith("raw_binance__") or not name.startswith("raw_")
]

PAIR = "expect_column_pair_values_a_to_be_greater_than_b"
EQUAL = "expect_column_pair_values_to_be_equal"
BETWEEN = "expect_column_values_to_be_between"
IN_SET = "expect_column_values_to_be_in_set"
UNIQUE = "expect_compound_columns_to_be_unique"
CONTAINS = "expect_column_distinct_values_to_contain_set"
NOT_NULL = "expect_column_values_to_not_be_null"


@dataclass(frozen=True)
class Broken:
    """A suite, how its valid rows are broken, and the failure that must name it."""

    suite: str
    breaks: Callable[[list[dict]], None]
    expected: set[tuple[str, str]]  # (expectation type, column) of every critical failure
    count: str  # how the message states the failing rows

    def __str__(self) -> str:
        return f"{self.suite}-{self.breaks.__name__}"


def close_above_high(rows: list[dict]) -> None:
    rows[0]["close_price"] = 115.0


def daily_candle_opens_at_one(rows: list[dict]) -> None:
    rows[0]["open_time"] += timedelta(hours=1)
    rows[0]["close_time"] += timedelta(hours=1)


def snapshot_at_window_end(rows: list[dict]) -> None:
    rows[-1]["snapshot_at"] = datetime(2024, 2, 2)


def snapshot_289_in_a_day(rows: list[dict]) -> None:
    rows.append({**rows[0], "snapshot_at": rows[0]["snapshot_at"] + timedelta(seconds=150)})


def funding_rate_of_7_percent(rows: list[dict]) -> None:
    rows[0]["funding_rate"] = 0.07


def order_side_long(rows: list[dict]) -> None:
    rows[0]["order_side"] = "LONG"


def position_side_buy(rows: list[dict]) -> None:
    rows[0]["position_side"] = "buy"


def zero_open_interest(rows: list[dict]) -> None:
    rows[0]["open_interest_coin"] = 0.0


def duplicate_settlement(rows: list[dict]) -> None:
    rows.append(dict(rows[0]))


def low_above_open(rows: list[dict]) -> None:
    key = "low_usd" if "low_usd" in rows[0] else "low_price_quote"
    rows[0][key] = 101.0


def manifest_of_another_day(rows: list[dict]) -> None:
    rows[0]["_partition_date"] += pd.Timedelta(days=1)


def total_not_long_plus_short(rows: list[dict]) -> None:
    rows[0]["total_liquidations_usd"] = 1_600.0


def day_missing(rows: list[dict]) -> None:
    rows[:] = [row for row in rows if row["liquidation_date"] != pd.Timestamp(2024, 1, 31)]


def more_days_with_data_than_in_week(rows: list[dict]) -> None:
    rows[0]["days_with_data"] = 8


def week_starts_on_tuesday(rows: list[dict]) -> None:
    rows[0]["week_start_date"] = pd.Timestamp(2024, 1, 30)


def january_of_30_days(rows: list[dict]) -> None:
    rows[0]["days_in_period"] = 30


def close_above_max(rows: list[dict]) -> None:
    rows[0]["open_interest_coin_close"] = 106.0


def avg_below_min(rows: list[dict]) -> None:
    rows[0]["open_interest_usd_avg"] = 89.0 * 40_000.0


def negative_min(rows: list[dict]) -> None:
    rows[0]["open_interest_coin_min"] = -1.0


def zero_contract_size(rows: list[dict]) -> None:
    rows[0]["contract_size_coin"] = 0.0


def high_below_close(rows: list[dict]) -> None:
    rows[0]["high_usd"] = 102.0  # above the open (100), below the close (105)


def two_next_levels(rows: list[dict]) -> None:
    rows[0]["is_next_below"] = True


def correlation_above_one(rows: list[dict]) -> None:
    rows[0]["btc_correlation_14d"] = 1.2


def cascade_ends_before_it_starts(rows: list[dict]) -> None:
    rows[0]["end_at"] = rows[0]["start_at"] - timedelta(minutes=5)


def pnl_not_value_minus_cost(rows: list[dict]) -> None:
    rows[0]["unrealized_pnl_usd"] += 1_000.0


def week_smaller_than_day(rows: list[dict]) -> None:
    rows[0]["btc_long_liquidations_7d_usd"] = 1.0


def gap_part_past_midnight(rows: list[dict]) -> None:
    rows[0]["uncovered_until"] = rows[1]["uncovered_until"]


def unknown_gap_reason(rows: list[dict]) -> None:
    rows[0]["gap_reason"] = "crash"


def captured_hour_without_figures(rows: list[dict]) -> None:
    rows[0]["total_liquidations_usd"] = None


def uncaptured_hour_not_flagged(rows: list[dict]) -> None:
    (gap,) = [row for row in rows if row["captured_seconds"] == 0][:1]
    gap["has_capture_gap"] = False


def week_smaller_than_its_last_day(rows: list[dict]) -> None:
    rows[0]["long_liquidations_7d_usd"] = 10.0


BROKEN = [
    Broken(
        "raw_binance__collector_coverage_gaps",
        gap_part_past_midnight,
        {(IN_SET, "_dq_part_crosses_midnight")},
        "1 of 3",
    ),
    Broken(
        "stg_binance__collector_coverage_gaps",
        unknown_gap_reason,
        {(IN_SET, "gap_reason")},
        "1 of 3",
    ),
    Broken(
        "liquidations_hourly",
        captured_hour_without_figures,
        {(NOT_NULL, "total_liquidations_usd")},
        "1 of",
    ),
    Broken(
        "liquidations_hourly",
        uncaptured_hour_not_flagged,
        {(IN_SET, "_dq_gap_flag_mismatch")},
        "1 of 12",
    ),
    Broken(
        "liquidations_daily",
        week_smaller_than_its_last_day,
        {(IN_SET, "_dq_trailing_windows_out_of_order")},
        "1 of 6",
    ),
    Broken("raw_binance__klines", close_above_high, {(PAIR, "high_price, close_price")}, "1 of 10"),
    Broken(
        "raw_binance__klines",
        daily_candle_opens_at_one,
        {(IN_SET, "_dq_open_time_offset_ms")},
        "1 of 10",
    ),
    Broken(
        "raw_binance__open_interest",
        snapshot_at_window_end,
        {(BETWEEN, "snapshot_at")},
        "1 of 1728",
    ),
    Broken(
        "raw_binance__open_interest",
        snapshot_289_in_a_day,
        {(BETWEEN, "_dq_rows_per_symbol_day")},
        "289 of 1729",
    ),
    Broken(
        "raw_binance__funding", funding_rate_of_7_percent, {(BETWEEN, "funding_rate")}, "1 of 18"
    ),
    Broken("raw_binance__liquidations", order_side_long, {(IN_SET, "order_side")}, "1 of 12"),
    Broken("stg_binance__liquidations", position_side_buy, {(IN_SET, "position_side")}, "1 of 12"),
    Broken(
        "stg_binance__open_interest",
        zero_open_interest,
        {(BETWEEN, "open_interest_coin")},
        "1 of 1728",
    ),
    Broken(
        "stg_binance__funding",
        duplicate_settlement,
        {(UNIQUE, "symbol, funding_at")},
        "2 of 19",
    ),
    Broken(
        "stg_binance__klines",
        low_above_open,
        {(PAIR, "open_price_quote, low_price_quote")},
        "1 of 10",
    ),
    Broken(
        "stg_landing__manifests",
        manifest_of_another_day,
        {(EQUAL, "capture_date, _partition_date")},
        "1 of 6",
    ),
    Broken(
        "liquidations_daily",
        total_not_long_plus_short,
        {(BETWEEN, "_dq_usd_sides_vs_total")},
        "1 of 6",
    ),
    Broken("liquidations_daily", day_missing, {(CONTAINS, "liquidation_date")}, "missing 1"),
    Broken(
        "liquidations_weekly",
        more_days_with_data_than_in_week,
        {(PAIR, "days_in_period, days_with_data")},
        "1 of 2",
    ),
    Broken(
        "liquidations_weekly",
        week_starts_on_tuesday,
        {(IN_SET, "_dq_period_start_offset_days")},
        "1 of 2",
    ),
    Broken(
        "liquidations_monthly",
        january_of_30_days,
        {(EQUAL, "days_in_period, _dq_calendar_days_in_period")},
        "1 of 4",
    ),
    Broken(
        "open_interest_daily",
        close_above_max,
        {(PAIR, "open_interest_coin_max, open_interest_coin_close")},
        "1 of 6",
    ),
    Broken(
        "open_interest_weekly", avg_below_min, {(BETWEEN, "_dq_usd_avg_outside_range")}, "1 of 2"
    ),
    Broken("open_interest_monthly", negative_min, {(BETWEEN, "open_interest_coin_min")}, "1 of 4"),
    Broken("prices_daily", low_above_open, {(PAIR, "open_usd, low_usd")}, "1 of 6"),
    Broken(
        "stg_bybit__instruments", zero_contract_size, {(BETWEEN, "contract_size_coin")}, "1 of 2"
    ),
    Broken("asset_prices_daily", high_below_close, {(PAIR, "high_usd, close_usd")}, "1 of 6"),
    Broken(
        "support_levels",
        two_next_levels,
        {
            (BETWEEN, "_dq_one_next_level_per_asset"),
            (BETWEEN, "_dq_next_level_is_below_the_close"),
        },
        "of 2",
    ),
    Broken("contagion_daily", correlation_above_one, {(BETWEEN, "btc_correlation_14d")}, "1 of 3"),
    Broken(
        "liquidation_cascades",
        cascade_ends_before_it_starts,
        {(BETWEEN, "_dq_starts_before_it_ends")},
        "1 of 1",
    ),
    Broken(
        "treasury_holdings_daily",
        pnl_not_value_minus_cost,
        {(BETWEEN, "_dq_pnl_is_value_minus_cost")},
        "1 of 3",
    ),
    Broken(
        "market_stress_daily",
        week_smaller_than_day,
        {(BETWEEN, "_dq_liquidation_horizons_nest")},
        "1 of 3",
    ),
]


def _case_suite(name: str) -> str:
    """Staging suites are the same for every venue: Binance's failing cases stand for all
    (Bybit's for instruments, which Binance does not land)."""
    binance = re.sub(r"^stg_(?!landing__)[a-z0-9]+__", "stg_binance__", name)
    return binance if binance in ALL_SUITES else re.sub(r"^stg_[a-z0-9]+__", "stg_bybit__", name)


def test_the_suites_cover_every_dataset_and_mart(monkeypatch):
    assert set(suite_names("marts")) == {*MART_MODELS, *ANALYTICS_MODELS}
    monkeypatch.setattr(assets, "VENUES", ("binance",))
    assert set(suite_names("raw")) == {
        "raw_binance__klines",
        "raw_binance__open_interest",
        "raw_binance__funding",
        "raw_binance__liquidations",
        "raw_binance__collector_coverage_gaps",
    }
    covered = {case.suite for case in BROKEN}
    assert covered == {_case_suite(name) for name in ALL_SUITES}, "every suite needs a failing case"


@pytest.mark.parametrize("suite_name", ALL_SUITES)
def test_valid_fixture_passes(suite_name, good_rows, validate):
    summary = validate(suite_name, good_rows(suite_name))

    assert summary.success, summary.describe()
    assert summary.failures == [] and summary.warnings == []
    assert summary.suite_name == suite_name
    assert summary.evaluated >= 5
    assert summary.rows == len(good_rows(suite_name))


@pytest.mark.parametrize("case", BROKEN, ids=str)
def test_broken_fixture_fails_for_the_expected_reason(case, good_rows, validate):
    rows = good_rows(case.suite)
    case.breaks(rows)

    with pytest.raises(DataQualityError) as caught:
        validate(case.suite, rows)

    (summary,) = caught.value.summaries
    assert {(f.expectation, f.column) for f in summary.failures} == case.expected
    message = str(caught.value)
    assert case.suite in message
    for expectation, column in case.expected:
        assert f"{expectation} {column}" in message
    assert case.count in message


def test_raw_failure_names_the_venue_dataset_and_window(good_rows, validate):
    rows = good_rows("raw_binance__funding")
    funding_rate_of_7_percent(rows)

    with pytest.raises(
        DataQualityError, match="binance/funding window \\[2024-01-30, 2024-02-02\\)"
    ):
        validate("raw_binance__funding", rows)


def test_failing_rows_are_identified_by_their_keys(good_rows, validate):
    rows = good_rows("raw_binance__klines")
    close_above_high(rows)

    with pytest.raises(DataQualityError) as caught:
        validate("raw_binance__klines", rows)

    (failure,) = caught.value.summaries[0].failures
    assert failure.kwargs == {"or_equal": True}
    assert "'symbol': 'BTCUSDT'" in failure.detail
    assert "'open_time': '2024-01-30 00:00:00'" in failure.detail
    assert "'close_price': 115.0" in failure.detail


def test_thin_open_interest_day_warns_without_failing(good_rows, validate):
    rows = good_rows("raw_binance__open_interest")
    del rows[:100]  # BTCUSDT keeps 188 of its 288 snapshots on the first day

    summary = validate("raw_binance__open_interest", rows)

    assert summary.success
    (warning,) = summary.warnings
    assert (warning.expectation, warning.column) == (BETWEEN, "_dq_rows_per_symbol_day")
    assert warning.failing_rows == 188
    assert warning.severity == "warning"


def test_large_price_move_warns_without_failing(good_rows, validate):
    rows = good_rows("prices_daily")
    rows[0]["change_pct"] = -60.0

    summary = validate("prices_daily", rows)

    assert summary.success
    assert [(w.column, w.failing_rows) for w in summary.warnings] == [("change_pct", 1)]


def test_missing_column_fails_by_name_instead_of_crashing(good_rows, validate):
    rows = good_rows("raw_binance__klines")
    frame = pd.DataFrame(rows).drop(columns=["interval"])

    summary = validate_frame(
        frame,
        "raw_binance__klines",
        raise_on_failure=False,
        window_start=date(2024, 1, 30),
        window_end=date(2024, 2, 2),
    )

    assert not summary.success
    failed = {(f.expectation, f.column) for f in summary.failures}
    assert ("expect_column_to_exist", "interval") in failed
    assert ("derive_column", "_dq_open_time_offset_ms") in failed
    assert any("could not evaluate" in f.detail for f in summary.failures)


def test_raw_suites_require_a_window():
    with pytest.raises(ValueError, match="window"):
        suite_spec("raw_binance__klines").suite(None)


def test_unknown_dataset_has_no_suite():
    with pytest.raises(MissingSuiteError):
        suite_spec("raw_binance__trades")
    with pytest.raises(MissingSuiteError):
        suite_spec("funding_daily")
