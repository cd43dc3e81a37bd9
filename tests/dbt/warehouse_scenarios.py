"""The scenarios the dbt tests build, and how they read the warehouse back.

dbt runs in-process through include/cryptodw/dbt_runner.py, as a refresh runs it: the staging
selector, then everything downstream, with the window vars. The scenarios run in sequence on
one warehouse, and the marts are read back after each (read-only, in this same process):

1. January landed, then refreshed (a first, empty warehouse);
2. Feb 1-9 landed, then refreshed: appended incrementally;
3. Feb 1-9 again (a re-run must change nothing);
4. a window without any data (nothing to replace; nothing may change).

Scenarios 3 and 4 run only the downstream build: staging is views over the whole lake, which
the window does not change, so its build would only repeat the tests of scenario 2 (and the
time they take).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
from handcrafted_lake import FEBRUARY, JANUARY, Lake, land_window, make_settings

from include.cryptodw.assets import MART_MODELS
from include.cryptodw.dbt_runner import DOWNSTREAM_SELECTOR, STAGING_SELECTOR, run_dbt
from include.cryptodw.settings import Settings
from include.cryptodw.windows import Window

EMPTY_WINDOW = Window(date(2024, 3, 1), date(2024, 3, 2))
FACT_KEYS = {
    "fct_liquidations": "liquidation_id",
    "fct_open_interest_snapshots": "open_interest_snapshot_id",
    "fct_price_candles": "candle_id",
    "fct_funding_rates": "funding_rate_id",
    "fct_dataset_captures": "capture_id",
}

Rows = list[dict]


@dataclass(frozen=True)
class Snapshot:
    """What the warehouse held after one scenario: every mart, and the facts' row counts."""

    marts: dict[str, Rows]
    fact_rows: dict[str, tuple[int, int]]  # fact -> (rows, distinct keys)


@dataclass(frozen=True)
class BuiltWarehouse:
    settings: Settings
    lake: Lake
    january: Snapshot
    february: Snapshot
    february_again: Snapshot
    empty_window: Snapshot


def refresh(settings: Settings, window: Window) -> None:
    """The two dbt builds of a refresh, as include/cryptodw/refresh.py runs them."""
    run_dbt(settings, "build", STAGING_SELECTOR, window)
    run_dbt(settings, "build", DOWNSTREAM_SELECTOR, window)


def query(path: Path, sql: str) -> Rows:
    with duckdb.connect(str(path), read_only=True) as con:
        cursor = con.execute(sql)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def take_snapshot(settings: Settings) -> Snapshot:
    marts = {
        name: query(settings.warehouse_path, f"select * from marts.{name} order by all")
        for name in MART_MODELS
    }
    fact_rows = {}
    for fact, key in FACT_KEYS.items():
        (counts,) = query(
            settings.warehouse_path,
            f"select count(*) as n, count(distinct {key}) as keys from core.{fact}",
        )
        fact_rows[fact] = (counts["n"], counts["keys"])
    return Snapshot(marts, fact_rows)


def build_scenarios(data_dir: Path, lake: Lake) -> BuiltWarehouse:
    """Run the four scenarios in order on one warehouse; snapshot it after each."""
    settings = make_settings(data_dir)
    snapshots = []
    for window in (JANUARY, FEBRUARY):
        land_window(settings, lake, window)
        refresh(settings, window)
        snapshots.append(take_snapshot(settings))
    for window in (FEBRUARY, EMPTY_WINDOW):
        run_dbt(settings, "build", DOWNSTREAM_SELECTOR, window)
        snapshots.append(take_snapshot(settings))
    return BuiltWarehouse(settings, lake, *snapshots)
