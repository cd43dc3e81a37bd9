"""Late data: scheduled runs reach back `CRYPTODW_LOOKBACK_DAYS` (default 1), so a row that lands
late reaches the marts with the next run, and re-running a run changes nothing.

The runs are driven as the DAGs drive them, on a simulated Binance market (BTCUSDT): the daily
ingest run's window comes from its data interval (`plan_slices`, the lookback included), the
transform's from the windows its triggering landings announced (`refresh_window`). For time,
the transform's `dbt build` leaves the data tests out (they run in tests/dbt; which days a
run replaces does not depend on them).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from types import SimpleNamespace

import duckdb
import pendulum
import pytest

from include.cryptodw.dbt_runner import DOWNSTREAM_SELECTOR, STAGING_SELECTOR, run_dbt
from include.cryptodw.offline import prepare_offline_exchange
from include.cryptodw.pipeline import land_window, plan_slices
from include.cryptodw.refresh import refresh_window
from include.cryptodw.settings import DEFAULT_LOOKBACK_DAYS, load_settings
from include.cryptodw.transport import write_ws_segment
from include.cryptodw.windows import Window, resolve_window

# dbt build of the models and seeds only
NO_TESTS = ("--exclude-resource-type", "test", "--exclude-resource-type", "unit_test")
SIMULATED = Window.parse("2026-01-30", "2026-02-02")
JAN_31, FEB_1 = date(2026, 1, 31), date(2026, 2, 1)
LATE_TRADE = datetime(2026, 1, 31, 23, 59, 58)  # its segment is flushed after the Jan 31 run


def _interval(day: date) -> tuple[datetime, datetime]:
    start = pendulum.datetime(day.year, day.month, day.day, tz="UTC")
    return start, start.add(days=1)


def test_scheduled_windows_reach_back_by_the_lookback_and_explicit_ones_do_not():
    assert DEFAULT_LOOKBACK_DAYS == 1
    hour = pendulum.datetime(2026, 2, 1, 13, tz="UTC")
    assert resolve_window(None, hour, hour.add(hours=1), 1) == Window(JAN_31, date(2026, 2, 2))
    assert resolve_window(None, *_interval(FEB_1), 2) == Window.parse("2026-01-30", "2026-02-02")
    explicit = {"window_start": "2026-02-01", "window_end": "2026-02-02"}
    assert resolve_window(explicit, *_interval(FEB_1), 2) == Window(FEB_1, date(2026, 2, 2))
    assert refresh_window(explicit, lookback_days=2) == Window(FEB_1, date(2026, 2, 2))
    # the transform rebuilds what the landings announced (their windows include the lookback)
    events = {"raw_binance__klines": [SimpleNamespace(extra=Window(JAN_31, FEB_1).as_dict())]}
    assert refresh_window(None, events, lookback_days=2) == Window(JAN_31, FEB_1)
    assert refresh_window(None, None, _interval(FEB_1), 1) == Window(JAN_31, date(2026, 2, 2))
    with pytest.raises(ValueError, match="lookback"):
        Window(JAN_31, FEB_1).with_lookback(-1)


@pytest.mark.parametrize("value", ["-1", "one", "1.5"])
def test_the_lookback_setting_is_a_whole_number_of_days(data_dir, monkeypatch, value):
    monkeypatch.setenv("CRYPTODW_LOOKBACK_DAYS", value)
    with pytest.raises(ValueError, match="CRYPTODW_LOOKBACK_DAYS"):
        load_settings()


def _scheduled_run(settings, day: date) -> Window:
    """The daily ingest run for `day`, then the transform run its landing events trigger."""
    (landing,) = {
        (s["window_start"], s["window_end"])
        for slices in plan_slices("binance", None, *_interval(day), settings).values()
        for s in slices
    }
    landed = Window.parse(*landing)
    land_window(settings, landed)
    event = SimpleNamespace(extra=landed.as_dict())
    window = refresh_window(None, {"raw_binance__liquidations": [event]})
    run_dbt(settings, "build", STAGING_SELECTOR, window, NO_TESTS)
    run_dbt(settings, "build", DOWNSTREAM_SELECTOR, window, NO_TESTS)
    return window


def _late_liquidation(settings) -> None:
    """A forceOrder message for Jan 31 23:59:58, in a segment flushed after the Jan 31 run."""
    trade_ms = int(LATE_TRADE.replace(tzinfo=UTC).timestamp() * 1000)
    order = {"s": "BTCUSDT", "S": "SELL", "o": "LIMIT", "f": "IOC", "q": "2.5", "p": "80000.0"}
    order |= {"ap": "80100.0", "X": "FILLED", "l": "2.5", "z": "2.5", "T": trade_ms}
    message = json.dumps({"e": "forceOrder", "E": trade_ms + 5, "o": order})
    write_ws_segment(
        settings.replay_dir, "binance", "forceOrder", JAN_31, "late", [(trade_ms + 20, message)]
    )


def _rows(con, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def _fingerprint(settings) -> dict[str, tuple]:
    """Rows and a checksum of the ordered rows of every mart; rows of every core table (the
    capture facts record when each file was landed, which a re-run does change)."""
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        tables = _rows(
            con,
            "select table_schema, table_name from information_schema.tables"
            " where table_schema in ('core', 'marts') and table_type = 'BASE TABLE'",
        )
        fingerprint = {}
        for schema, table in tables:
            rows = _rows(con, f"select * from {schema}.{table} order by all")
            checksum = hashlib.sha256(repr(rows).encode()).hexdigest() if schema == "marts" else ""
            fingerprint[f"{schema}.{table}"] = (len(rows), checksum)
        return fingerprint


def _liquidations(settings, day: date) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return _rows(
            con,
            "select liquidated_at, liquidated_qty_coin from core.fct_liquidations"
            f" where liquidation_date = '{day}' order by all",
        )


def _daily_mart(settings, day: date) -> tuple[float, int]:
    """Binance BTC's long liquidations (coin) and liquidation count in the daily mart."""
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        (row,) = _rows(
            con,
            "select long_liquidations_coin, liquidation_count from marts.liquidations_daily"
            f" where liquidation_date = '{day}' and exchange_id = 'binance'"
            " and base_asset = 'BTC'",
        )
    return row


@pytest.mark.slow
def test_a_late_row_reaches_the_marts_with_the_next_run_and_reruns_change_nothing(
    data_dir, monkeypatch
):
    monkeypatch.setenv("CRYPTODW_SOURCE_MODE", "simulated")
    monkeypatch.setenv("CRYPTODW_SYMBOLS", "BTCUSDT")
    monkeypatch.setenv("CRYPTODW_VENUES", "binance")
    settings = load_settings()
    prepare_offline_exchange(settings, "crash", SIMULATED)

    assert _scheduled_run(settings, JAN_31) == Window(date(2026, 1, 30), FEB_1)
    jan_30 = _liquidations(settings, date(2026, 1, 30))
    on_time = _liquidations(settings, JAN_31)
    assert jan_30 and on_time and LATE_TRADE not in {at for at, _ in on_time}
    daily_before = _daily_mart(settings, JAN_31)

    _late_liquidation(settings)
    assert _scheduled_run(settings, FEB_1) == Window(JAN_31, date(2026, 2, 2))
    assert _liquidations(settings, JAN_31) == sorted([*on_time, (LATE_TRADE, 2.5)])
    assert _liquidations(settings, date(2026, 1, 30)) == jan_30  # outside the window: untouched
    long_coin, count = _daily_mart(settings, JAN_31)
    assert long_coin == pytest.approx(daily_before[0] + 2.5) and count == daily_before[1] + 1

    first = _fingerprint(settings)
    _scheduled_run(settings, FEB_1)
    assert _fingerprint(settings) == first
