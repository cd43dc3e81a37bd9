"""Raw suites of Bybit and OKX on what their connectors land, and staging suites for every venue.

The rows are the real connectors' output for a simulated market: two days (the last two of the
crash preset, so the sell-off day's liquidations are in) for two symbols, fetched through the
simulated exchange exactly as the landing path fetches them (`sources.venues`), liquidations
from the recorded websocket segments. Each suite passes them untouched and fails, naming the
expectation, the dataset and the failing rows, once a fault is injected.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from include.cryptodw import assets
from include.cryptodw.assets import COLLECTOR_COVERAGE_GAPS, KLINE_INTERVALS, VENUE_DATASETS
from include.cryptodw.collector.coverage import Coverage, read_coverage_gaps
from include.cryptodw.quality import DataQualityError, validate_raw_table
from include.cryptodw.quality.suites import MissingSuiteError, suite_names, suite_spec
from include.cryptodw.simulator import simulate, simulated_exchange
from include.cryptodw.sources import bybit, okx, venues
from include.cryptodw.windows import Window

START, END = date(2026, 1, 30), date(2026, 2, 1)
WINDOW = Window(START, END)
SYMBOLS = ("BTCUSDT", "ETHUSDT")
NEW_VENUES = ("bybit", "okx")
STAGING_DATASETS = ("liquidations", "open_interest", "funding", "klines")

NOT_NULL = "expect_column_values_to_not_be_null"
NULL = "expect_column_values_to_be_null"
BETWEEN = "expect_column_values_to_be_between"
IN_SET = "expect_column_values_to_be_in_set"
UNIQUE = "expect_compound_columns_to_be_unique"
UNIQUE_COLUMN = "expect_column_values_to_be_unique"

Landed = dict[tuple[str, str], tuple[pa.Table, Window]]


def snapshot_window(table: pa.Table) -> Window:
    """The day a snapshot is landed on: the UTC day of the venue's answer (as the pipeline)."""
    day = pc.max(table.column("snapshot_at")).as_py().date()
    return Window(day, day + timedelta(days=1))


def record_collector_gaps(replay: Path, venue: str) -> None:
    """What the collector records with a first start an hour into the window and a reconnect
    across the first midnight (written with its own coverage writer)."""
    stream = {"bybit": bybit.LIQUIDATION_STREAM, "okx": okx.LIQUIDATION_STREAM}[venue]
    coverage = Coverage(replay, venue, stream, "test:1")
    first_hour = int(_midnight(START).replace(tzinfo=UTC).timestamp() * 1000) + 3_600_000
    coverage.resume(first_hour)
    coverage.close_gap(first_hour + 10_000)
    coverage.open_gap(first_hour + 22 * 3_600_000 + 50 * 60_000, "connection_lost", "1006")
    coverage.close_gap(first_hour + 23 * 3_600_000 + 20 * 60_000)


def _fetch(venue: venues.Venue, dataset: str, api, replay: Path) -> tuple[pa.Table, Window]:
    """One dataset of the window as the landing path fetches it, all slices in one table."""
    if dataset == COLLECTOR_COVERAGE_GAPS:
        return read_coverage_gaps(replay, venue.name, START, END).table, WINDOW
    if dataset == "liquidations":
        return venue.liquidations(replay, api, WINDOW).table, WINDOW
    if dataset == "instruments":
        table = venue.instruments(api).table
        return table, snapshot_window(table)
    intervals = KLINE_INTERVALS if dataset == "klines" else (None,)
    slices = [
        venue.fetch_symbol(api, dataset, symbol, interval, WINDOW, END)
        for symbol in SYMBOLS
        for interval in intervals
    ]
    assert all(result.rejects == [] for result in slices)
    return pa.concat_tables(result.table for result in slices), WINDOW


@pytest.fixture(scope="module")
def landed(tmp_path_factory) -> Landed:
    root = tmp_path_factory.mktemp("venue-suites")
    replay, truth = root / "replay", root / "truth"
    simulate("crash", START, END, replay_root=replay, truth_root=truth, symbols=SYMBOLS,
             seed=11, venues=NEW_VENUES)  # fmt: skip
    for name in NEW_VENUES:
        record_collector_gaps(replay, name)
    api = simulated_exchange(truth, replay)
    return {
        (name, dataset): _fetch(venues.venue(name, SYMBOLS), dataset, api, replay)
        for name in NEW_VENUES
        for dataset in VENUE_DATASETS[name]
    }


def _validate(venue: str, dataset: str, table: pa.Table, window: Window):
    return validate_raw_table(table, venue, dataset, window.start, window.end)


# ------------------------------------------------------------------------ every dataset


@pytest.mark.parametrize(
    ("venue", "dataset"), [(v, d) for v in NEW_VENUES for d in VENUE_DATASETS[v]]
)
def test_connector_rows_pass_their_raw_suite(landed, venue, dataset):
    table, window = landed[venue, dataset]

    summary = _validate(venue, dataset, table, window)

    assert summary.success, summary.describe()
    assert summary.failures == [] and summary.warnings == []
    assert summary.suite_name == f"raw_{venue}__{dataset}"
    assert summary.rows == table.num_rows > 0
    assert summary.evaluated >= table.num_columns + 5


def test_the_simulated_window_is_a_real_test(landed):
    """Both sides of the book were liquidated, OKX in both account modes, candles at 1d and 1h."""
    assert set(landed["bybit", "liquidations"][0].column("side").to_pylist()) == {"Buy", "Sell"}
    okx_sides = landed["okx", "liquidations"][0].select(["side", "pos_side"]).to_pylist()
    assert {(row["side"], row["pos_side"]) for row in okx_sides} == {
        ("sell", "long"), ("buy", "short"), ("sell", "net"), ("buy", "net"),
    }  # fmt: skip
    assert landed["okx", "klines"][0].num_rows == len(SYMBOLS) * (2 + 48)
    assert landed["bybit", "open_interest"][0].num_rows == len(SYMBOLS) * 2 * 288
    assert landed["okx", "instruments"][1] == Window(END, END + timedelta(days=1))


def test_real_bybit_instruments_answer_passes(realdata):
    """All 800 linear contracts Bybit listed on 2026-08-09 (perpetuals and dated futures)."""
    path = realdata / "api_fixtures/cryptofeed_v3_sample_BYBIT.jsonl.zst"
    lines = pa.input_stream(str(path), compression="zstd").read().decode().splitlines()
    (record,) = [
        r for r in map(json.loads, lines) if r["t"] == "http" and "category=linear" in r["url"]
    ]
    table = bybit.parse_instruments_page(record["data"].encode(), record["url"]).table

    summary = _validate("bybit", "instruments", table, snapshot_window(table))

    assert summary.success and summary.warnings == [], summary.describe()
    assert summary.rows == 800


@pytest.mark.parametrize("venue", NEW_VENUES)
def test_the_landing_path_gates_and_writes_every_dataset(data_dir, monkeypatch, venue):
    """`pipeline.land_slice` validates each slice with the venue's suite, then writes it."""
    from include.cryptodw import pipeline
    from include.cryptodw.settings import load_settings

    monkeypatch.setenv("CRYPTODW_SYMBOLS", ",".join(SYMBOLS))
    settings = load_settings()
    simulate("crash", START, END, replay_root=settings.replay_dir,
             truth_root=data_dir / "truth", symbols=SYMBOLS, seed=11, venues=(venue,))  # fmt: skip
    record_collector_gaps(settings.replay_dir, venue)
    api = simulated_exchange(data_dir / "truth", settings.replay_dir)
    slices = pipeline.plan_slices(venue, WINDOW.as_dict(), None, None, settings)

    landed = [
        pipeline.land_slice(
            settings,
            dataset,
            WINDOW,
            item.get("symbol"),
            item.get("interval"),
            transport=api,
            venue=venue,
        )
        for dataset, items in slices.items()
        for item in items[:1]  # one slice of each dataset keeps it short
    ]

    assert {result.dataset for result in landed} == set(VENUE_DATASETS[venue])
    assert all(result.rows > 0 and result.rejected == 0 for result in landed)
    (instruments,) = [result for result in landed if result.dataset == "instruments"]
    assert (instruments.window_start, instruments.window_end) == ("2026-02-01", "2026-02-02")


# ------------------------------------------------------------------------ injected faults


@dataclass(frozen=True)
class Fault:
    """A venue's dataset, how its landed rows are broken, and the failures that must say so."""

    venue: str
    dataset: str
    breaks: Callable[[list[dict]], None]
    expected: dict[tuple[str, str], Callable[[int], str]]  # (type, column) -> rows n -> count

    def __str__(self) -> str:
        return f"{self.venue}-{self.dataset}-{self.breaks.__name__}"


def one(n: int) -> str:
    return f"1 of {n} rows failed"


def two(n: int) -> str:
    return f"2 of {n} rows failed"


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def null_close_price(rows: list[dict]) -> None:
    rows[0]["close_price"] = None


def duplicate_candle(rows: list[dict]) -> None:
    rows.append(dict(rows[-1]))


def snapshot_between_buckets(rows: list[dict]) -> None:
    rows.append({**rows[0], "snapshot_at": rows[0]["snapshot_at"] + timedelta(seconds=150)})


def negative_open_interest(rows: list[dict]) -> None:
    rows[5]["open_interest_coin"] = -10.0


def funding_after_the_window(rows: list[dict]) -> None:
    rows[-1]["funding_time"] = _midnight(END)


def duplicate_settlement(rows: list[dict]) -> None:
    rows.append(dict(rows[0]))


def funding_rate_of_7_percent(rows: list[dict]) -> None:
    rows[0]["realized_rate"] = 0.07


def side_long(rows: list[dict]) -> None:
    rows[0]["side"] = "Long"


def negative_size(rows: list[dict]) -> None:
    rows[0]["executed_qty"] = -0.5


def liquidation_before_the_window(rows: list[dict]) -> None:
    rows[0]["trade_time"] = _midnight(START) - timedelta(milliseconds=1)


def side_upper_case(rows: list[dict]) -> None:
    rows[0]["side"] = rows[0]["side"].upper()


def sell_closing_a_short(rows: list[dict]) -> None:
    row = next(row for row in rows if row["side"] == "sell")
    row["pos_side"] = "short"


def null_bankruptcy_price(rows: list[dict]) -> None:
    rows[0]["bankruptcy_price"] = None


def duplicate_symbol(rows: list[dict]) -> None:
    rows.append(dict(rows[0]))


def inverse_contract(rows: list[dict]) -> None:
    rows[0]["contract_type"] = "InversePerpetual"


def perpetual_with_delivery(rows: list[dict]) -> None:
    rows[0]["delivery_time"] = _midnight(END) + timedelta(days=90)


def live_contract_without_value(rows: list[dict]) -> None:
    rows[0]["ct_val"] = None


def zero_contract_value(rows: list[dict]) -> None:
    rows[0]["ct_val"] = 0.0


def unknown_gap_reason(rows: list[dict]) -> None:
    rows[0]["reason"] = "crash"


def gap_ending_before_it_starts(rows: list[dict]) -> None:
    rows[-1]["gap_end"] = rows[-1]["gap_start"] - timedelta(seconds=1)


FAULTS = [
    Fault("bybit", COLLECTOR_COVERAGE_GAPS, unknown_gap_reason, {(IN_SET, "reason"): one}),
    Fault(
        "okx",
        COLLECTOR_COVERAGE_GAPS,
        gap_ending_before_it_starts,
        {("expect_column_pair_values_a_to_be_greater_than_b", "gap_end, gap_start"): one},
    ),
    Fault("bybit", "klines", null_close_price, {(NOT_NULL, "close_price"): one}),
    Fault(
        "okx",
        "klines",
        duplicate_candle,
        {(UNIQUE, "inst_id, interval, open_time"): two},
    ),
    Fault(
        "bybit",
        "open_interest",
        snapshot_between_buckets,
        {
            (IN_SET, "_dq_snapshot_offset_ms"): one,
            (BETWEEN, "_dq_rows_per_symbol_day"): lambda n: f"289 of {n} rows failed",
        },
    ),
    Fault("okx", "open_interest", negative_open_interest, {(BETWEEN, "open_interest_coin"): one}),
    Fault("bybit", "funding", funding_after_the_window, {(BETWEEN, "funding_time"): one}),
    Fault("okx", "funding", duplicate_settlement, {(UNIQUE, "inst_id, funding_time"): two}),
    Fault("okx", "funding", funding_rate_of_7_percent, {(BETWEEN, "realized_rate"): one}),
    Fault("bybit", "liquidations", side_long, {(IN_SET, "side"): one}),
    Fault("bybit", "liquidations", negative_size, {(BETWEEN, "executed_qty"): one}),
    Fault("bybit", "liquidations", liquidation_before_the_window, {(BETWEEN, "trade_time"): one}),
    Fault(
        "okx",
        "liquidations",
        side_upper_case,
        {(IN_SET, "side"): one, (IN_SET, "_dq_side_pos_side"): one},
    ),
    Fault("okx", "liquidations", sell_closing_a_short, {(IN_SET, "_dq_side_pos_side"): one}),
    Fault("okx", "liquidations", null_bankruptcy_price, {(NOT_NULL, "bankruptcy_price"): one}),
    Fault("bybit", "instruments", duplicate_symbol, {(UNIQUE_COLUMN, "symbol"): two}),
    Fault("bybit", "instruments", inverse_contract, {(IN_SET, "contract_type"): one}),
    Fault("bybit", "instruments", perpetual_with_delivery, {(NULL, "delivery_time"): one}),
    Fault("okx", "instruments", live_contract_without_value, {(NOT_NULL, "ct_val"): one}),
    Fault("okx", "instruments", zero_contract_value, {(BETWEEN, "ct_val"): one}),
]


def test_every_new_suite_has_a_failing_case():
    assert {(f.venue, f.dataset) for f in FAULTS} == {
        (v, d) for v in NEW_VENUES for d in VENUE_DATASETS[v]
    }


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_injected_fault_fails_naming_expectation_dataset_and_rows(landed, fault):
    table, window = landed[fault.venue, fault.dataset]
    rows = table.to_pylist()
    fault.breaks(rows)

    with pytest.raises(DataQualityError) as caught:
        _validate(fault.venue, fault.dataset, pa.Table.from_pylist(rows, table.schema), window)

    (summary,) = caught.value.summaries
    assert {(f.expectation, f.column) for f in summary.failures} == set(fault.expected)
    message = str(caught.value)
    assert f"suite raw_{fault.venue}__{fault.dataset} on {fault.venue}/{fault.dataset} " in message
    assert f"window [{window.start}, {window.end})" in message
    for (expectation, column), count in fault.expected.items():
        failed = f"FAILED  {expectation} {column}"
        (line,) = [line for line in message.splitlines() if failed in line]
        assert count(len(rows)) in line


def test_repeated_liquidation_warns_without_failing(landed):
    table, window = landed["bybit", "liquidations"]
    rows = table.to_pylist()
    rows.append({**rows[0], "_source": "ws/bybit/allLiquidation/another-recorder.jsonl.gz"})

    summary = _validate("bybit", "liquidations", pa.Table.from_pylist(rows, table.schema), window)

    assert summary.success
    (warning,) = summary.warnings
    assert warning.expectation == UNIQUE and warning.failing_rows == 2


def test_okx_contract_terms_may_be_empty_before_listing(landed):
    table, window = landed["okx", "instruments"]
    rows = table.to_pylist()
    rows[0].update(state="preopen", ct_val=None, ct_mult=None, ct_val_ccy=None, tick_size=None)

    summary = _validate("okx", "instruments", pa.Table.from_pylist(rows, table.schema), window)

    assert summary.success and summary.warnings == [], summary.describe()


def test_conditional_expectation_shows_its_condition(landed):
    table, window = landed["okx", "instruments"]
    rows = table.to_pylist()
    live_contract_without_value(rows)

    with pytest.raises(DataQualityError) as caught:
        _validate("okx", "instruments", pa.Table.from_pylist(rows, table.schema), window)

    (failure,) = caught.value.summaries[0].failures
    assert failure.kwargs == {"row_condition": 'state != "preopen"'}
    assert "'inst_id': 'BTC-USDT-SWAP'" in failure.detail


# ------------------------------------------------------------------ suites per venue


def test_raw_suites_are_listed_for_every_wired_venue(monkeypatch):
    monkeypatch.setattr(assets, "VENUES", ("binance", "bybit", "okx"))

    names = suite_names("raw")

    assert names == [f"raw_{v}__{d}" for v in assets.VENUES for d in VENUE_DATASETS[v]]
    assert len(names) == 5 + 6 + 6
    for name in names:
        assert suite_spec(name).suite(WINDOW).name == name
    staging = suite_names("staging")
    assert {f"stg_{v}__{d}" for v in assets.VENUES for d in STAGING_DATASETS} < set(staging)


@pytest.mark.parametrize("venue", sorted(VENUE_DATASETS))
def test_each_raw_suite_expects_its_connectors_schema(venue):
    schemas = venues.raw_datasets(venue)
    assert set(schemas) == set(VENUE_DATASETS[venue])
    for dataset, (schema, time_column) in schemas.items():
        spec = suite_spec(f"raw_{venue}__{dataset}")
        suite = spec.suite(WINDOW)
        columns = [e.column for e in suite.expectations if e.expectation_type.endswith("to_exist")]
        assert columns == schema.names
        assert spec.time_column == time_column
        assert set(spec.key_columns) <= set(schema.names)


def test_datasets_and_venues_without_a_raw_suite():
    for name in ("raw_binance__instruments", "raw_deribit__klines", "raw_okx__trades"):
        with pytest.raises(MissingSuiteError):
            suite_spec(name)


# ---------------------------------------------------------------------------- staging

# Columns a venue's raw data cannot fill (Bybit and OKX publish no mark price with funding,
# Bybit no open interest value); staging returns them, empty.
EMPTY_IN_STAGING = {
    ("bybit", "funding"): ("mark_price_quote", "funding_interval_hours"),
    ("okx", "funding"): ("mark_price_quote",),
    ("bybit", "open_interest"): ("open_interest_quote",),
}


@pytest.mark.parametrize("dataset", STAGING_DATASETS)
@pytest.mark.parametrize("venue", NEW_VENUES)
def test_staging_suites_accept_every_venue_with_the_binance_columns(
    venue, dataset, good_rows, validate
):
    empty = dict.fromkeys(EMPTY_IN_STAGING.get((venue, dataset), ()))
    rows = [{**row, **empty} for row in good_rows(f"stg_{venue}__{dataset}")]

    summary = validate(f"stg_{venue}__{dataset}", rows)

    assert summary.success and summary.warnings == [], summary.describe()
    assert {row["exchange_id"] for row in rows} == {venue}


def test_staging_rows_of_another_venue_fail(good_rows, validate):
    with pytest.raises(DataQualityError, match=f"{IN_SET} exchange_id value_set=\\['okx'\\]"):
        validate("stg_okx__funding", good_rows("stg_binance__funding"))
