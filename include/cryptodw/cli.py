"""Command line for local use: `python -m include.cryptodw.cli <command>`.

  simulate  --preset crash --start 2026-01-01 --end 2026-02-06   prepare the offline exchange
  land      --start D --end D [--dataset X]                      land a window (progress bar)
  refresh   --start D --end D                                    dbt build + gates + publish
  backfill  --start D --end D [--chunk-days 7]                   land + refresh in chunks
  collect   [--venues binance,bybit,okx] [--flush-interval 60]  record liquidation websockets
  sql       "select ..."                                         query the published snapshot
  docs      [--generate] [--serve]                               the dbt docs site (and serve it)

The same package functions run inside the Airflow tasks; this is the way to backfill or debug
without a scheduler.
"""

from __future__ import annotations

import argparse
import logging
import sys

from include.cryptodw.settings import load_settings
from include.cryptodw.windows import Window


def _window(args: argparse.Namespace) -> Window:
    return Window.parse(args.start, args.end)


def cmd_simulate(args: argparse.Namespace) -> int:
    from include.cryptodw.offline import prepare_offline_exchange

    report = prepare_offline_exchange(load_settings(), args.preset, _window(args), seed=args.seed)
    print(report)
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


def cmd_collect(args: argparse.Namespace) -> int:
    from include.cryptodw.collector.command import main as collect

    return collect(args.collector_args)


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
    simulate.add_argument("--preset", default="crash", choices=["calm", "crash"])
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
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
