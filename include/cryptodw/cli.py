"""Command line for local use: `python -m include.cryptodw.cli <command>`.

  simulate  --preset crash --start 2026-01-01 --end 2026-02-06   prepare the offline exchange
  land      --start D --end D [--dataset X]                      land a window (progress bar)
  refresh   --start D --end D                                    dbt build + gates + publish
  backfill  --start D --end D [--chunk-days 7]                   land + refresh in chunks
  collect   [--venues binance,bybit,okx] [--flush-interval 60]  record liquidation websockets
  sql       "select ..."                                         query the published snapshot
  docs      [--generate] [--serve]                               the dbt docs site (and serve it)
  calibrate [--output docs/calibration.md]                       simulator vs real data report
  freshness                                                      is every raw source fresh? (dbt)
  brief     [--date YYYY-MM-DD]                                  write the daily brief (md + html)
  pools                                                          create the Airflow pools (compose)

The same package functions run inside the Airflow tasks; this is the way to backfill or debug
without a scheduler.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import date
from pathlib import Path

from include.cryptodw.redaction import install_log_redaction
from include.cryptodw.settings import REPO_ROOT, load_settings
from include.cryptodw.windows import Window


def _window(args: argparse.Namespace) -> Window:
    return Window.parse(args.start, args.end)


def cmd_simulate(args: argparse.Namespace) -> int:
    from include.cryptodw.offline import prepare_offline_exchange

    report = prepare_offline_exchange(load_settings(), args.preset, _window(args), seed=args.seed)
    print(
        f"simulated {report.preset}: {report.days} days x {len(report.symbols)} symbols x "
        f"{len(report.venues)} venues, {report.liquidations} forced orders, "
        f"{report.files_written} files in {report.seconds:.1f}s "
        f"(peak memory {report.peak_memory_mb:.0f} MiB)"
    )
    return 0


def cmd_land(args: argparse.Namespace) -> int:
    from include.cryptodw.pipeline import land_window

    results = land_window(load_settings(), _window(args), dataset=args.dataset, progress=True)
    rows, rejected = sum(r.rows for r in results), sum(r.rejected for r in results)
    print(f"landed {rows} rows in {len(results)} slices; {rejected} rows quarantined")
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    """Land and refresh a long range chunk by chunk, publishing once at the end."""
    from tqdm import tqdm

    from include.cryptodw.pipeline import land_window
    from include.cryptodw.refresh import build_and_gate, publish_snapshot

    settings = load_settings()
    chunks = _window(args).chunks(args.chunk_days)
    with tqdm(chunks, desc="backfill", unit="chunk") as progress:
        for chunk in progress:
            progress.set_postfix_str(f"{chunk.start}..{chunk.end}")
            land_window(settings, chunk)
            build_and_gate(settings, chunk)
    published = publish_snapshot(settings)
    print(f"backfilled {len(chunks)} chunks; published {published.path}")
    return 0


def cmd_refresh(args: argparse.Namespace) -> int:
    from include.cryptodw.refresh import run_refresh

    published = run_refresh(load_settings(), _window(args))
    print(f"published {published.path}: {published.mart_rows}")
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    import duckdb

    from include.cryptodw.publish import connect_published

    with connect_published(load_settings()) as con:
        # an analyst's query reads the snapshot only: no files (COPY TO, ATTACH, read_csv),
        # no extensions, and the setting cannot be turned back on
        con.execute("set enable_external_access = false")
        con.execute("set lock_configuration = true")
        try:
            relation = con.sql(args.query)
        except duckdb.Error as exc:
            read_only = "read-only" in str(exc)
            hint = (
                " (the published warehouse is read-only; refreshes write it)" if read_only else ""
            )
            print(f"query failed{hint}: {exc}", file=sys.stderr)
            return 2
        if relation is not None:
            relation.show(max_rows=args.max_rows)
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    from include.cryptodw.refresh import generate_docs

    settings = load_settings()
    index = settings.dbt_docs_dir / "index.html"
    if args.generate or not index.exists():
        index = generate_docs(settings)
    print(f"dbt docs: {index}")
    if args.serve:
        import functools
        import http.server

        handler = functools.partial(
            http.server.SimpleHTTPRequestHandler, directory=str(settings.dbt_docs_dir)
        )
        print("serving on http://127.0.0.1:8081 (Ctrl-C to stop)")
        http.server.ThreadingHTTPServer(("127.0.0.1", 8081), handler).serve_forever()
    return 0


def cmd_brief(args: argparse.Namespace) -> int:
    from include.cryptodw.brief import write_brief
    from include.cryptodw.brief.figures import BriefDateError

    try:
        written = write_brief(load_settings(), day=args.date)
    except BriefDateError as exc:
        print(f"no brief: {exc}", file=sys.stderr)
        return 2
    print(f"brief of {written.brief_date}: {written.markdown_path}\n  html: {written.html_path}")
    return 0


def cmd_freshness(args: argparse.Namespace) -> int:
    """One line per checked raw source; exit 1 when one is stale (past `error_after`)."""
    from include.cryptodw.dbt_runner import source_freshness

    results = source_freshness(load_settings())
    for entry in results:
        print(entry.describe())
    stale = [entry.source for entry in results if entry.is_stale]
    if stale:
        print(f"stale: {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    import time

    from include.cryptodw.settings import shared_dir
    from include.cryptodw.simulator import peak_memory_mb
    from include.cryptodw.simulator.calibration import calibrate, report_markdown

    started = time.perf_counter()
    calibration = calibrate(args.realdata or shared_dir() / "realdata")
    args.output.write_text(report_markdown(calibration))
    for check in calibration.failed:
        print(f"FAIL {check.metric}: {check.simulated:.4g}, band {check.band} of {check.real:.4g}")
    banded = sum(check.banded for check in calibration.checks)
    print(
        f"{banded - len(calibration.failed)}/{banded} checks in their bands; report: {args.output} "
        f"({time.perf_counter() - started:.1f}s, peak memory {peak_memory_mb():.0f} MiB)"
    )
    return 1 if calibration.failed else 0


def cmd_collect(args: argparse.Namespace) -> int:
    from include.cryptodw.collector.command import main as collect

    return collect(args.collector_args)


def cmd_pools(args: argparse.Namespace) -> int:
    from include.cryptodw.airflow_local import POOLS, set_pools

    # The Airflow of this process's environment (e.g. compose's CeleryExecutor), not the demo's.
    set_pools(load_settings(), env=dict(os.environ))
    print("pools: " + ", ".join(f"{name}={slots}" for name, (slots, _) in POOLS.items()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cryptodw", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def windowed(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text)
        command.add_argument("--start", required=True, help="first UTC day, YYYY-MM-DD")
        command.add_argument("--end", required=True, help="day after the last, YYYY-MM-DD")
        command.set_defaults(handler=handler)
        return command

    simulate = windowed("simulate", cmd_simulate, "prepare the offline exchange")
    simulate.add_argument("--preset", default="crash", choices=["calm", "crash", "multiyear"])
    simulate.add_argument("--seed", type=int, default=7)
    land = windowed("land", cmd_land, "land a window into the raw lake")
    land.add_argument(
        "--dataset", choices=["klines", "open_interest", "funding", "instruments", "liquidations"]
    )
    windowed("refresh", cmd_refresh, "build, gate and publish the warehouse for a window")
    backfill = windowed("backfill", cmd_backfill, "land + refresh a range in chunks, then publish")
    backfill.add_argument("--chunk-days", type=int, default=7, help="days per chunk (default 7)")
    sql = sub.add_parser("sql", help="query the published warehouse (read-only)")
    sql.add_argument("query")
    sql.add_argument("--max-rows", type=int, default=50)
    sql.set_defaults(handler=cmd_sql)
    collect = sub.add_parser(
        "collect", help="record the venues' liquidation websockets until SIGTERM"
    )
    collect.add_argument("collector_args", nargs=argparse.REMAINDER, help="see collect --help")
    collect.set_defaults(handler=cmd_collect)
    docs = sub.add_parser("docs", help="the dbt docs site (refreshes write it)")
    docs.add_argument("--generate", action="store_true", help="regenerate it now")
    docs.add_argument("--serve", action="store_true", help="serve it on 127.0.0.1:8081")
    docs.set_defaults(handler=cmd_docs)
    calibration = sub.add_parser("calibrate", help="compare the simulator with real data")
    calibration.add_argument("--realdata", type=Path, help="default: <shared dir>/realdata")
    calibration.add_argument(
        "--output", type=Path, default=REPO_ROOT / "docs" / "calibration.md", help="the report"
    )
    calibration.set_defaults(handler=cmd_calibrate)
    freshness = sub.add_parser("freshness", help="dbt source freshness of the raw lake")
    freshness.set_defaults(handler=cmd_freshness)
    brief = sub.add_parser("brief", help="write the daily brief from the published warehouse")
    brief.add_argument(
        "--date",
        type=date.fromisoformat,
        help="UTC day, YYYY-MM-DD (default: the latest day in the marts)",
    )
    brief.set_defaults(handler=cmd_brief)
    pools = sub.add_parser("pools", help="create the writer and per-venue pools in Airflow")
    pools.set_defaults(handler=cmd_pools)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    install_log_redaction()
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
