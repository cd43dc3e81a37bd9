"""Blue/green publishing: readers of the published warehouse are never broken by a refresh.

The working warehouse here is a real DuckDB file holding every analyst-facing mart, each
stamped with a refresh generation in every row; readers check that whatever they open is one
whole generation.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from pathlib import Path

import duckdb
import pytest

from include.cryptodw.assets import ANALYTICS_MODELS, MART_MODELS
from include.cryptodw.publish import PublishError, connect_published, publish

READERS = 8
PUBLICATIONS = 6
ROWS_PER_MART = 500


def _refresh_working_warehouse(path: Path, generation: int, rows: int = ROWS_PER_MART) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute("create schema if not exists marts")
        for name in (*MART_MODELS, *ANALYTICS_MODELS):
            con.execute(
                f"create or replace table marts.{name} as "
                f"select {generation} as generation, i from range({rows}) as t(i)"
            )


def _generations(con: duckdb.DuckDBPyConnection) -> set[tuple[int, int]]:
    union = " union all ".join(
        f"select generation, count(*) from marts.{name} group by 1" for name in MART_MODELS
    )
    return set(con.execute(union).fetchall())


def _read_until_stopped(path: str, ready, stop, results: mp.Queue) -> None:
    seen, errors, reads = set(), [], 0
    ready.set()
    while not stop.is_set():
        try:
            with duckdb.connect(path, read_only=True) as con:
                generations = _generations(con)
            if len(generations) != 1 or next(iter(generations))[1] != ROWS_PER_MART:
                errors.append(f"torn snapshot: {generations}")
            seen |= {g for g, _ in generations}
            reads += 1
        except Exception as exc:  # any error is a failure the test reports
            errors.append(repr(exc))
    results.put((sorted(seen), errors, reads))


def test_readers_see_whole_snapshots_while_refreshes_swap_them(settings):
    _refresh_working_warehouse(settings.warehouse_path, generation=0)
    publish(settings, snapshot_id="g0")

    context = mp.get_context("spawn")
    results: mp.Queue = context.Queue()
    stop = context.Event()
    readers = []
    for _ in range(READERS):
        ready = context.Event()
        reader = context.Process(
            target=_read_until_stopped,
            args=(str(settings.published_path), ready, stop, results),
        )
        reader.start()
        readers.append((reader, ready))
    assert all(ready.wait(timeout=120) for _, ready in readers), "readers did not start"
    for generation in range(1, PUBLICATIONS + 1):
        _refresh_working_warehouse(settings.warehouse_path, generation)
        publish(settings, snapshot_id=f"g{generation}")
        time.sleep(0.2)  # let readers open this snapshot before the next swap
    stop.set()
    outcomes = [results.get(timeout=120) for _ in readers]
    for reader, _ in readers:
        reader.join(timeout=30)

    assert [errors for _, errors, _ in outcomes] == [[]] * READERS
    assert all(reads > 0 for _, _, reads in outcomes)
    observed = set().union(*(set(seen) for seen, _, _ in outcomes))
    assert len(observed) >= 2, "readers should have seen more than one refresh"
    with connect_published(settings) as con:
        assert _generations(con) == {(PUBLICATIONS, ROWS_PER_MART)}
    kept = sorted(p.name for p in (settings.published_dir / "snapshots").glob("*.duckdb"))
    assert len(kept) == 3 and f"warehouse-g{PUBLICATIONS}.duckdb" in kept


def test_a_snapshot_with_an_empty_mart_is_not_published(settings):
    _refresh_working_warehouse(settings.warehouse_path, generation=1)
    publish(settings, snapshot_id="good")
    _refresh_working_warehouse(settings.warehouse_path, generation=2, rows=0)

    with pytest.raises(PublishError, match="empty marts"):
        publish(settings, snapshot_id="bad")

    with connect_published(settings) as con:
        assert _generations(con) == {(1, ROWS_PER_MART)}
    assert not list((settings.published_dir / "snapshots").glob("*bad*"))


def test_the_published_warehouse_refuses_writes(settings):
    _refresh_working_warehouse(settings.warehouse_path, generation=1)
    publish(settings)
    with connect_published(settings) as con, pytest.raises(duckdb.Error, match="read-only"):
        con.execute("delete from marts.liquidations_daily")


def test_the_published_name_is_the_newest_snapshot_not_a_second_copy(settings):
    _refresh_working_warehouse(settings.warehouse_path, generation=1)
    first = publish(settings, snapshot_id="g1")
    assert first.path.samefile(first.snapshot)
    _refresh_working_warehouse(settings.warehouse_path, generation=2)
    second = publish(settings, snapshot_id="g2")
    assert second.path.samefile(second.snapshot)
    assert not second.path.samefile(first.snapshot)  # the previous one is kept, untouched
    with duckdb.connect(str(first.snapshot), read_only=True) as con:
        assert _generations(con) == {(1, ROWS_PER_MART)}


def test_without_hard_links_the_published_name_is_a_copy(settings, monkeypatch):
    def no_hard_links(source, target):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr("include.cryptodw.publish.os.link", no_hard_links)
    _refresh_working_warehouse(settings.warehouse_path, generation=1)
    published = publish(settings)
    assert not published.path.samefile(published.snapshot)
    with connect_published(settings) as con:
        assert _generations(con) == {(1, ROWS_PER_MART)}
