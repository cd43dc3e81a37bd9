"""Benchmark the warehouse on simulated data and print one table: `python -m bench.run --size S`.

Everything is measured side by side in one run, each step in its own child process (wall time
and peak memory). Machines are shared and noisy: read the ratios, not the seconds.

1. full rebuild: `dbt build` of the whole project vs the floor (bench/floor.sql, one DuckDB
   script) and the peer (bench/pandas_peer.py); dbt's fixed start-up (`dbt parse`) apart.
   The three must agree on the checked figures or the run fails.
2. incremental refresh of one new day on a long history vs on one month of history.
3. landing throughput: the real path (connector, raw suite, lake writer) vs pyarrow writing
   the same rows.
4. BI latency: the cookbook's queries on the published snapshot, alone and with 8 reader
   processes while a refresh and a publish run.

A run stopped part way (the 2y size runs for hours) resumes with `--resume LOG`: the steps
whose rows that run logged are not measured again, on the same lake and built warehouse.
"""

from __future__ import annotations

import argparse
import logging
import math
import multiprocessing
import shutil
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb

from bench import steps
from bench.lake import ensure_lake
from bench.measure import Measured, StepDied, in_child, percentile
from bench.sizes import SIZES, Size
from include.cryptodw.assets import VENUES
from include.cryptodw.settings import REPO_ROOT, Settings, load_settings
from include.cryptodw.windows import Window

log = logging.getLogger("bench")

COOKBOOK = REPO_ROOT / "docs" / "cookbook.md"
READERS = 8
RELATIVE_TOLERANCE = 1e-9
LOGGED = "measured: "
CELL_SEPARATOR = " | "
REBUILD_VS_FLOOR = "full rebuild: dbt build vs floor SQL"


class FiguresDisagree(AssertionError):
    """dbt, the floor and pandas computed different marts: the comparison would be dishonest."""


@dataclass(frozen=True)
class Row:
    """One line of the table: what was measured, against what, and the target."""

    step: str
    ours: str
    other: str
    ratio: float | None
    target: str
    met: bool | None
    peak_mb: str

    def cells(self) -> list[str]:
        ratio = "" if self.ratio is None else f"{self.ratio:.2f}"
        met = {True: "yes", False: "NO", None: ""}[self.met]
        return [self.step, self.ours, self.other, ratio, self.target, met, self.peak_mb]

    @classmethod
    def from_cells(cls, cells: list[str]) -> Row:
        """The row `cells` printed (its ratio as printed, to two decimals)."""
        step, ours, other, ratio, target, met, peak_mb = cells
        met_value = {"yes": True, "NO": False, "": None}[met]
        return cls(step, ours, other, float(ratio) if ratio else None, target, met_value, peak_mb)


HEADER = ["step", "ours", "compared with", "ratio", "target", "met", "peak MB"]


def seconds(measured: Measured | float) -> str:
    value = measured.seconds if isinstance(measured, Measured) else measured
    return f"{value:.2f} s"


def megabytes(*measured: Measured) -> str:
    return " / ".join(f"{m.peak_mb:.0f}" for m in measured)


@dataclass(frozen=True)
class Rebuild:
    """Step 1 without its pandas peer: the rows, the built warehouse's run directory, the
    timed build and the figures the peer is checked against."""

    rows: list[Row]
    full: Settings
    build: Measured
    figures: dict[str, dict[str, dict[str, float]]]


def full_rebuild(lake: Settings) -> Rebuild:
    """Step 1: dbt and the floor, each row logged as soon as it is measured."""
    full = steps.run_directory(lake, "full")
    in_child(steps.dbt, full, "parse")  # writes the partial-parse cache a real run reuses
    parse = in_child(steps.dbt, full, "parse")
    build = in_child(steps.fresh_dbt_build, full)
    log.info("dbt build finished in %.2f s, peak %.0f MB", build.seconds, build.peak_mb)
    try:
        floor = in_child(steps.floor, lake, _floor_database(full))
    except (StepDied, duckdb.Error) as failed:  # out of memory under the cap, at 2y
        log.warning("the floor did not finish: %s", failed)
        floor = FailedStep(f"failed: {type(failed).__name__}")
    figures = _rebuild_figures(full, floor_finished=not isinstance(floor, FailedStep))
    rows = [
        Row("dbt start-up (dbt parse)", seconds(parse), "", None, "", None, megabytes(parse)),
        _floor_row(REBUILD_VS_FLOOR, build, floor, "dbt <= 2.0 x floor"),
        _floor_row(
            "full rebuild: dbt build minus start-up vs floor",
            Measured(build.seconds - parse.seconds, build.peak_mb, None),
            floor,
            "",
            with_peak=False,
        ),
    ]
    return Rebuild(_logged(rows), full, build, figures)


def _floor_database(full: Settings) -> Path:
    return full.data_dir / "floor.duckdb"


def _rebuild_figures(full: Settings, floor_finished: bool) -> dict[str, dict[str, dict]]:
    """The checked figures of dbt's warehouse and the floor's database, which must agree."""
    figures = {"dbt": steps.database_figures(full.warehouse_path, "marts")}
    if floor_finished:
        figures["floor"] = steps.database_figures(_floor_database(full), None)
    check_agreement(figures)
    return figures


def resumed_rebuild(lake: Settings, rows: list[Row]) -> Rebuild:
    """Step 1 as an earlier run measured it (its logged rows), on the warehouse and floor
    database it left; their figures are read again and must still agree."""
    full = steps.run_directory(lake, "full")
    against_floor = next(row for row in rows if row.step == REBUILD_VS_FLOOR)
    build = Measured(
        float(against_floor.ours.removesuffix(" s")),
        float(against_floor.peak_mb.split(" / ")[0]),
        None,
    )
    floor_finished = not against_floor.other.startswith("failed")
    return Rebuild(rows, full, build, _rebuild_figures(full, floor_finished))


def pandas_rows(lake: Settings, rebuild: Rebuild) -> list[Row]:
    """Step 1's peer, run last: at 2y it runs the longest or dies for memory, and the other
    steps need not wait for it. Its figures must agree with dbt's too."""
    figures = dict(rebuild.figures)
    try:
        peer = in_child(steps.pandas_peer, lake)
        figures["pandas"] = peer.value
    except StepDied as died:  # pandas holds every table in memory: at 2y it may not fit
        log.warning("the pandas peer did not finish: %s", died)
        peer = None
    check_agreement(figures)
    agreed = Row(
        f"figures agree (dbt = {' = '.join(who for who in figures if who != 'dbt')})",
        _figure_summary(figures["dbt"]),
        "",
        None,
        f"rel. diff <= {RELATIVE_TOLERANCE:g}",
        True,
        "",
    )
    return [_peer_row(rebuild.build, peer), agreed]


@dataclass(frozen=True)
class FailedStep:
    """A reference that did not finish (the floor out of memory), reported in its row."""

    reason: str


def _floor_row(
    step: str, build: Measured, floor: Measured | FailedStep, target: str, with_peak: bool = True
) -> Row:
    """dbt against the floor; a target of "" is a row for information only."""
    if isinstance(floor, FailedStep):
        peak = megabytes(build) if with_peak else ""
        return Row(
            step, seconds(build), floor.reason, None, target, False if target else None, peak
        )
    ratio = build.seconds / floor.seconds
    met = ratio <= 2.0 if target else None
    peak = megabytes(build, floor) if with_peak else ""
    return Row(step, seconds(build), seconds(floor), ratio, target, met, peak)


def _peer_row(build: Measured, peer: Measured | None) -> Row:
    step, target = "full rebuild: pandas peer vs dbt build", "dbt >= 5 x faster"
    if peer is None:
        return Row(step, seconds(build), "died (memory?)", None, target, False, megabytes(build))
    ratio = peer.seconds / build.seconds
    return Row(
        step, seconds(build), seconds(peer), ratio, target, ratio >= 5.0, megabytes(build, peer)
    )


def _figure_summary(figures: dict) -> str:
    liq = figures["liquidations_daily"]
    oi = figures["open_interest_daily"]
    return (
        f"{liq['liquidation_count']:.0f} liqs, ${liq['total_liquidations_usd']:,.0f}; "
        f"{oi['snapshot_count']:.0f} OI snaps"
    )


def check_agreement(figures: dict[str, dict[str, dict[str, float]]]) -> None:
    """Every checked figure of the floor and pandas (those that finished) equals dbt's
    (relative tolerance)."""
    reference = figures["dbt"]
    problems = [
        f"{who} {mart}.{name} = {value!r}, dbt has {reference[mart][name]!r}"
        for who in figures
        if who != "dbt"
        for mart, values in figures[who].items()
        for name, value in values.items()
        if not math.isclose(value, reference[mart][name], rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-6)
    ]
    if problems:
        raise FiguresDisagree("marts differ:\n  " + "\n  ".join(problems))


def incremental(lake: Settings, size: Size, full: Settings) -> list[Row]:
    """Step 2: one new day on the whole history vs on the last month of it: a warehouse built
    from a lake holding only that month (and the new day), as a deployment a month old has."""
    if size.baseline_history == size.history:
        baseline = full  # the history is a month or less: the same warehouse, measured twice
    else:
        baseline = steps.recent_run_directory(lake, "baseline", size.baseline_history.start)
        built = Window(size.baseline_history.start, size.new_day_window.end)
        in_child(steps.fresh_dbt_build, baseline, built)
    short = in_child(steps.dbt, baseline, "build", size.new_day_window)
    long = in_child(steps.dbt, full, "build", size.new_day_window)
    ratio = long.seconds / short.seconds
    days = (size.history.end - size.history.start).days
    base_days = (size.baseline_history.end - size.baseline_history.start).days
    return [
        Row(
            f"incremental +1 day: {days} d vs {base_days} d history",
            seconds(long),
            seconds(short),
            ratio,
            "<= 1.2",
            ratio <= 1.2,
            megabytes(long, short),
        ),
    ]


def landing(lake: Settings, size: Size) -> list[Row]:
    """Step 3: the new day's slices through the real path vs pyarrow writing the same rows."""
    run = steps.run_directory(lake, "landing")
    landed_raw = run.data_dir / "landed"
    shutil.rmtree(landed_raw, ignore_errors=True)
    isolated = replace(lake, data_dir=run.data_dir / "landing-dir")
    shutil.rmtree(isolated.data_dir, ignore_errors=True)
    isolated.data_dir.mkdir(parents=True)
    for shared in ("replay", "truth"):
        (isolated.data_dir / shared).symlink_to(lake.data_dir / shared, target_is_directory=True)
    real = in_child(steps.land, isolated, size.new_day_window)
    rows, real_seconds = real.value
    peer = in_child(steps.pyarrow_write, isolated.raw_dir, landed_raw)
    peer_rows, peer_seconds = peer.value
    share = peer_seconds / real_seconds
    return [
        Row(
            f"landing {rows} rows (1 day, {len(lake.symbols)} symbols)",
            f"{rows / real_seconds:,.0f} rows/s",
            f"{peer_rows / peer_seconds:,.0f} rows/s",
            share,
            ">= 0.50 of pyarrow",
            share >= 0.5,
            megabytes(real, peer),
        ),
    ]


def bi_latency(size: Size, full: Settings, rounds: int) -> list[Row]:
    """Step 4: cookbook latency on the published snapshot, alone and under load."""
    from include.cryptodw.publish import publish

    publish(full)
    queries = steps.cookbook_queries(COOKBOOK)
    alone = in_child(steps.query_latencies, full.published_path, queries, rounds)
    loaded, reader_peak, refresh = _latencies_under_refresh(full, size, queries)
    return [
        _latency_row(
            f"BI: {len(queries)} cookbook queries, alone", alone.value, f"{alone.peak_mb:.0f}"
        ),
        _latency_row(
            f"BI: same, {READERS} readers during refresh+publish ({seconds(refresh)})",
            loaded,
            f"{reader_peak:.0f} / {refresh.peak_mb:.0f}",
        ),
    ]


def _latency_row(step: str, latencies: list[float], peak: str) -> Row:
    p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
    return Row(
        step,
        f"p95 {p95 * 1000:.1f} ms",
        f"p50 {p50 * 1000:.1f} ms",
        None,
        "p95 <= 50 ms",
        p95 <= 0.05,
        peak,
    )


def _latencies_under_refresh(full: Settings, size: Size, queries: list[str]):
    context = multiprocessing.get_context("spawn")
    stop, results = context.Event(), context.Queue()
    readers = [
        context.Process(target=steps.reader, args=(full.published_path, queries, stop, results))
        for _ in range(READERS)
    ]
    for process in readers:
        process.start()
    time.sleep(1.0)  # let every reader get going before the refresh starts
    refresh = in_child(steps.refresh_and_publish, full, size.new_day_window)
    stop.set()
    outcomes = [results.get() for _ in readers]
    for process in readers:
        process.join()
    latencies = [value for values, _ in outcomes for value in values]
    return latencies, max(peak for _, peak in outcomes), refresh


def format_table(rows: list[Row]) -> str:
    cells = [HEADER, *(row.cells() for row in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(HEADER))]
    lines = [
        " | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        for line in cells
    ]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(lines)


# Each step's rows (how their names start, how many): a step an earlier run logged all the
# rows of is reused.
STEP_ROWS = {
    "rebuild": (("dbt start-up", "full rebuild: dbt build"), 3),
    "incremental": (("incremental ",), 1),
    "landing": (("landing ",), 1),
    "BI": (("BI: ",), 2),
    "peer": (("full rebuild: pandas peer", "figures agree"), 2),
}


@dataclass(frozen=True)
class Earlier:
    """The rows an earlier run of the same size logged before it stopped (`--resume`)."""

    rows: tuple[Row, ...] = ()

    def of(self, step: str) -> list[Row]:
        """The step's rows if the earlier run logged all of them, else none."""
        starts, count = STEP_ROWS[step]
        found = [row for row in self.rows if row.step.startswith(starts)]
        return found if len(found) == count else []

    def reused(self) -> list[str]:
        return [step for step in STEP_ROWS if self.of(step)]


def rows_logged(text: str) -> Earlier:
    """The rows in a run's log ("measured: ..." lines), whatever precedes them on the line."""
    return Earlier(
        tuple(
            Row.from_cells(cells.split(CELL_SEPARATOR))
            for line in text.splitlines()
            for _, found, cells in [line.partition(LOGGED)]
            if found
        )
    )


NOTHING_EARLIER = Earlier()


def run(
    size: Size, cache_root: Path, bi_rounds: int = 20, earlier: Earlier = NOTHING_EARLIER
) -> list[Row]:
    """Every step for one size; the lake is generated on first use and cached. The steps
    `earlier` holds are not measured again: their rows are logged again, as they were."""
    lake, generated = ensure_lake(cache_root, size)
    if generated is not None:
        log.info("generated the %s lake in %.0f s", size.name, generated)
    if earlier.reused():
        log.info("reusing the rows an earlier run measured for: %s", ", ".join(earlier.reused()))
    rebuild = (
        resumed_rebuild(lake, _logged(earlier.of("rebuild")))
        if earlier.of("rebuild")
        else full_rebuild(lake)
    )
    later = [
        *_logged(earlier.of("incremental") or incremental(lake, size, rebuild.full)),
        *_logged(earlier.of("landing") or landing(lake, size)),
        *_logged(earlier.of("BI") or bi_latency(size, rebuild.full, bi_rounds)),
    ]
    peer = _logged(earlier.of("peer") or pandas_rows(lake, rebuild))
    return [*rebuild.rows, *peer, *later]


def _logged(rows: list[Row]) -> list[Row]:
    """Log a step's rows once measured: the big sizes run for hours, the table prints at the
    end, and a run stopped part way keeps the steps it finished."""
    for row in rows:
        log.info("%s%s", LOGGED, CELL_SEPARATOR.join(row.cells()))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="where lakes are kept (default: <CRYPTODW_DATA_DIR>/bench)",
    )
    parser.add_argument(
        "--bi-rounds",
        type=int,
        default=20,
        help="times each cookbook query runs in the latency-alone step",
    )
    parser.add_argument(
        "--resume",
        type=Path,
        default=None,
        metavar="LOG",
        help="the log of an earlier run of this size that stopped part way: the steps it "
        "logged rows for are not measured again",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.INFO)
    cache_root = (args.cache_dir or load_settings().data_dir / "bench").resolve()
    size = SIZES[args.size]
    earlier = rows_logged(args.resume.read_text()) if args.resume else NOTHING_EARLIER
    rows = run(size, cache_root, args.bi_rounds, earlier)
    print(
        f"size {size.name}: {size.symbols} symbols x {len(size.history.days)} days "
        f"+ 1 new day, {', '.join(VENUES)}; DuckDB memory_limit "
        f"{load_settings().duckdb_memory_limit} (CRYPTODW_DUCKDB_MEMORY_LIMIT)"
    )
    print(format_table(rows))
    if earlier.reused():
        print(f"measured by the run logged in {args.resume}: {', '.join(earlier.reused())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
