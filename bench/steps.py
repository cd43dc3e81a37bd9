"""The benchmark steps, each a top-level function a child process runs (see bench.measure).

Every step gets the paths it needs as plain arguments. A "run directory" is a data directory
whose `lake`, `replay` and `truth` link to the size's cached lake, so several warehouses can be
built from one lake (`Settings` derives every path from its data directory).
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import duckdb

from include.cryptodw.assets import MART_MODELS
from include.cryptodw.settings import DBT_PROJECT_DIR, Settings
from include.cryptodw.windows import Window

FLOOR_SQL = Path(__file__).with_name("floor.sql")
SEEDS_DIR = DBT_PROJECT_DIR / "seeds"
# The marts the floor script and the pandas peer build too (liquidations_hourly, with the
# collector's capture coverage, is built by dbt only).
COMPARED_MARTS = tuple(name for name in MART_MODELS if name != "liquidations_hourly")
# The figures compared across dbt, the floor and pandas: mart -> sums of these columns.
CHECKED_SUMS = {
    "liquidations_daily": ("total_liquidations_usd", "long_liquidations_usd", "liquidation_count"),
    "open_interest_daily": ("open_interest_usd_close", "open_interest_coin_avg", "snapshot_count"),
    "prices_daily": ("close_usd", "volume_usd"),
}


def run_directory(lake: Settings, name: str) -> Settings:
    """A data directory under the lake's own, sharing its lake and exchange files."""
    data_dir = lake.data_dir / "runs" / name
    data_dir.mkdir(parents=True, exist_ok=True)
    for shared in ("lake", "replay", "truth"):
        link = data_dir / shared
        if not (link.exists() or link.is_symlink()):  # a link, a dangling one or a real lake
            link.symlink_to(lake.data_dir / shared, target_is_directory=True)
    return replace(lake, data_dir=data_dir)


def recent_run_directory(lake: Settings, name: str, since: date) -> Settings:
    """A run directory whose lake holds only the day partitions from `since` on (links to the
    size's lake): the lake of a deployment with that much history."""
    run = run_directory(lake, name)
    recent = run.data_dir / "lake"
    if recent.is_symlink():
        recent.unlink()
    shutil.rmtree(recent, ignore_errors=True)
    for partition in sorted(lake.lake_dir.glob("*/*/*/dt=*")):
        if date.fromisoformat(partition.name.removeprefix("dt=")) >= since:
            link = recent / partition.relative_to(lake.lake_dir)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(partition, target_is_directory=True)
    return run


def dbt(settings: Settings, command: str, window: Window | None = None) -> int:
    """One in-process dbt invocation (as the refresh tasks run it); returns the node count."""
    from include.cryptodw.dbt_runner import run_dbt

    return len(run_dbt(settings, command, window=window, extra_args=("--quiet",)))


def fresh_dbt_build(settings: Settings, window: Window | None = None) -> int:
    """`dbt build` of the whole project into an empty warehouse."""
    settings.warehouse_path.unlink(missing_ok=True)
    return dbt(settings, "build", window)


def floor(lake: Settings, database: Path) -> None:
    """The hand-written script (bench/floor.sql) into a new DuckDB file."""
    database.unlink(missing_ok=True)
    with duckdb.connect(str(database)) as con:
        # the settings dbt runs with (profiles.yml): the same memory cap, so both spill at
        # the same point, and no insertion order to keep (at 2y the floor ran out of memory
        # at 2 GB without it)
        con.execute(f"set memory_limit = '{lake.duckdb_memory_limit}'")
        con.execute("set preserve_insertion_order = false")
        con.execute("set variable raw_dir = ?", [str(lake.raw_dir)])
        con.execute("set variable manifest_dir = ?", [str(lake.manifest_dir)])
        con.execute("set variable seeds_dir = ?", [str(SEEDS_DIR)])
        con.execute(FLOOR_SQL.read_text())


def pandas_peer(lake: Settings) -> dict[str, dict[str, float]]:
    """The pandas marts, reduced to the checked figures (DataFrames stay in the child)."""
    from bench.pandas_peer import build_marts

    marts = build_marts(lake.raw_dir, lake.manifest_dir, SEEDS_DIR)
    return {
        name: {"rows": float(len(frame)), **_frame_sums(frame, CHECKED_SUMS.get(name, ()))}
        for name, frame in marts.items()
    }


def _frame_sums(frame, columns) -> dict[str, float]:
    return {column: float(frame[column].sum()) for column in columns}


def database_figures(database: Path, schema: str | None) -> dict[str, dict[str, float]]:
    """Row counts of the seven marts and the checked sums, read from a DuckDB file."""
    prefix = f"{schema}." if schema else ""
    figures = {}
    with duckdb.connect(str(database), read_only=True) as con:
        for name in COMPARED_MARTS:
            columns = CHECKED_SUMS.get(name, ())
            selects = ", ".join(["count(*)", *(f"sum({c})" for c in columns)])
            row = con.execute(f"select {selects} from {prefix}{name}").fetchone()
            sums = dict(zip(columns, map(float, row[1:]), strict=True))
            figures[name] = {"rows": float(row[0]), **sums}
    return figures


def land(settings: Settings, window: Window) -> tuple[int, float]:
    """Land every slice of `window` through the real path; returns the rows and seconds.

    The payloads exist before the clock starts, as they do for an offline re-run: a first,
    untimed landing asks the offline exchange, which answers every request and retains each
    page (it also takes the one-off imports: Great Expectations takes seconds). The timed
    landing replays those payloads (`source_mode="replay"`) through the same connectors, raw
    suites and lake writer, replacing the files the first one wrote.
    """
    from include.cryptodw.pipeline import land_window

    land_window(settings, window)
    replay = replace(settings, source_mode="replay")
    started = time.perf_counter()
    rows = sum(result.rows for result in land_window(replay, window))
    return rows, time.perf_counter() - started


def pyarrow_write(source_raw: Path, target_raw: Path) -> tuple[int, float]:
    """Write the rows of every parquet file under `source_raw` again, with pyarrow alone,
    into the same layout under `target_raw` (zstd, like the lake writer)."""
    import pyarrow.parquet as pq

    files = sorted(source_raw.rglob("*.parquet"))
    tables = [(path.relative_to(source_raw), pq.read_table(path)) for path in files]
    started = time.perf_counter()
    for relative, table in tables:
        target = target_raw / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, target, compression="zstd")
    return sum(table.num_rows for _, table in tables), time.perf_counter() - started


def cookbook_queries(path: Path) -> list[str]:
    """The ```sql blocks of the cookbook, in order."""
    return re.findall(r"```sql\n(.*?)```", path.read_text(), flags=re.DOTALL)


def query_latencies(database: Path, queries: list[str], rounds: int) -> list[float]:
    """Run every query `rounds` times on one read-only connection; seconds per execution."""
    latencies = []
    with duckdb.connect(str(database), read_only=True) as con:
        for _ in range(rounds):
            for query in queries:
                started = time.perf_counter()
                con.execute(query).fetchall()
                latencies.append(time.perf_counter() - started)
    return latencies


def reader(database: Path, queries: list[str], stop, results) -> None:
    """A BI reader: opens the published file afresh each round (to see new snapshots) and
    runs the cookbook until `stop` is set; puts its latencies and peak memory on `results`."""
    from bench.measure import peak_rss_mb

    latencies = []
    while not stop.is_set():
        latencies += query_latencies(database, queries, rounds=1)
    results.put((latencies, peak_rss_mb()))


def refresh_and_publish(settings: Settings, window: Window) -> None:
    """An incremental dbt build of `window`, then a new published snapshot."""
    from include.cryptodw.publish import publish

    dbt(settings, "build", window)
    publish(settings)
