"""`make demo`: a crash month, offline, through Airflow, into a published DuckDB warehouse.

1. simulate the `crash` preset and retain its payloads as an offline exchange;
2. initialise Airflow's metadata DB under the data directory;
3. run `ingest_<venue>` for each venue and then `transform_warehouse` through Airflow
   (`airflow dags test` executes real task instances), each over the whole window in one run;
4. print where the warehouse is, headline figures, and how to query it.

Running it again rebuilds the same warehouse: every step replaces what it wrote.
"""

from __future__ import annotations

import functools
import logging
import time
from datetime import date

from include.cryptodw.airflow_local import init_airflow, run_dag
from include.cryptodw.offline import prepare_offline_exchange
from include.cryptodw.publish import connect_published
from include.cryptodw.redaction import install_log_redaction
from include.cryptodw.settings import DBT_PROJECT_DIR, Settings, load_settings
from include.cryptodw.windows import Window

log = logging.getLogger("cryptodw.demo")

DEMO_WINDOW = Window(date(2026, 1, 1), date(2026, 2, 6))  # 36 UTC days; the crash is the last
DEMO_PRESET = "crash"

ANALYSES_DIR = DBT_PROJECT_DIR / "analyses"


def headline_sql(name: str) -> str:
    """A plain-SQL analysis from the dbt project (SQL lives in dbt_project/, nowhere else)."""
    return (ANALYSES_DIR / f"{name}.sql").read_text()


def run_demo(settings: Settings, window: Window = DEMO_WINDOW, preset: str = DEMO_PRESET) -> None:
    dag_ids = [*(f"ingest_{venue}" for venue in settings.venues), "transform_warehouse"]
    steps = [
        (
            f"simulate the offline exchange ({', '.join(settings.venues)})",
            lambda: prepare_offline_exchange(settings, preset, window),
        ),
        ("initialise Airflow", lambda: init_airflow(settings)),
        *(
            (f"run {dag_id} through Airflow", functools.partial(_run, settings, dag_id, window))
            for dag_id in dag_ids
        ),
    ]
    for number, (title, step) in enumerate(steps, start=1):
        started = time.monotonic()
        print(f"[{number}/{len(steps)}] {title} ...", flush=True)
        step()
        print(f"      done in {time.monotonic() - started:.1f}s", flush=True)
    print_summary(settings)


def _run(settings: Settings, dag_id: str, window: Window) -> None:
    run_dag(settings, dag_id, window.end.isoformat(), window.as_dict())


def print_summary(settings: Settings) -> None:
    with connect_published(settings) as con:
        prices = con.execute(headline_sql("headline_prices")).fetchall()
        long_24h, long_7d, long_30d = con.execute(
            headline_sql("headline_btc_long_liquidations")
        ).fetchall()[0]
        stress = con.execute(headline_sql("headline_market_stress")).fetchall()
    print()
    print(f"Warehouse (read-only snapshot): {settings.published_path}")
    print("Last day, close and UTC-day change:")
    for asset, close, change in prices:
        print(f"  {asset:<5} {close:>12,.2f} USD  {change:+6.2f} %")
    print(
        f"BTC long liquidations (all venues): 24h {_usd(long_24h)}, 7d {_usd(long_7d)}, "
        f"30d {_usd(long_30d)}"
    )
    for row in stress:
        print_stress(*row)
    print(f"Model and column docs: {settings.dbt_docs_dir / 'index.html'} (serve: make dbt-docs)")
    print("SQL cookbook: docs/cookbook.md")
    print()
    print("Query it (read-only):")
    print('  make sql Q="select * from marts.liquidations_daily order by 1 desc limit 10"')
    print(
        f"  python -c \"import duckdb; duckdb.connect('{settings.published_path}', "
        "read_only=True).sql('from marts.prices_daily').show()\""
    )
    print()
    print_brief(settings, stress[0][0] if stress else None)


def print_stress(
    day,
    breadth,
    down,
    tracked,
    oi_usd,
    oi_1d,
    oi_30d,
    deleveraging,
    broken,
    next_support,
    cascades,
    venues,
) -> None:
    print(f"Market on {day}: {breadth} ({down} of {tracked} majors down), {venues} venues")
    print(
        f"Perpetual open interest {_usd(oi_usd)}: {_pct(oi_1d)} on the day, {_pct(oi_30d)} "
        f"over 30 days; deleveraging regime: {'yes' if deleveraging else 'no'}"
    )
    print(
        f"BTC support broken: {_usd(broken)}; next support: {_usd(next_support)}; "
        f"liquidation cascades that day: {cascades}"
    )


def print_brief(settings: Settings, day: date | None) -> None:
    """Where transform_warehouse's last task wrote the brief of the last day."""
    from include.cryptodw.brief import brief_paths

    if day is None:
        print("Daily brief: none (the marts have no market-stress day)")
        return
    brief = brief_paths(settings, day)
    print(f"Daily brief of {day}: {brief.markdown_path}")
    print(f"  self-contained HTML: {brief.html_path} (another day: make brief DATE=YYYY-MM-DD)")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f} %"


def _usd(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value >= 1e9:
        return f"${value / 1e9:.2f}B"
    return f"${value / 1e6:.0f}M" if value >= 1e6 else f"${value:,.0f}"


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    install_log_redaction()
    run_demo(load_settings())


if __name__ == "__main__":
    main()
