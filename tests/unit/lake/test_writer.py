"""The raw lake writer: atomic, idempotent, traceable, and strict about paths and windows."""

from __future__ import annotations

import json
from datetime import date, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from include.cryptodw.lake.writer import (
    SourcePayload,
    land_records,
    partition_path,
    quarantine_records,
)
from include.cryptodw.schemas import OPEN_INTEREST


def _oi_rows(rows: list[tuple[str, datetime, float]]) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "symbol": symbol,
                "snapshot_at": at,
                "open_interest_base": base,
                "open_interest_quote": base * 100.0,
                "_source": "test://oi",
            }
            for symbol, at, base in rows
        ],
        schema=OPEN_INTEREST,
    )


def _land(settings, table, start=date(2026, 1, 1), end=date(2026, 1, 3), sources=None):
    return land_records(
        table,
        raw_dir=settings.raw_dir,
        manifest_dir=settings.manifest_dir,
        venue="binance",
        dataset="open_interest",
        part="BTCUSDT",
        window_start=start,
        window_end=end,
        sources=sources or [SourcePayload("test://oi", "ab" * 32, "2026-01-03T00:00:00+00:00")],
    )


def test_lands_one_file_per_day_including_empty_days(settings):
    table = _oi_rows([("BTCUSDT", datetime(2026, 1, 1, 0, 5), 10.0)])
    landed = _land(settings, table)
    assert [(f.day, f.rows) for f in landed] == [(date(2026, 1, 1), 1), (date(2026, 1, 2), 0)]
    empty_day = pq.read_table(landed[1].path)
    assert empty_day.num_rows == 0 and empty_day.schema.equals(OPEN_INTEREST)


def test_relanding_replaces_and_gives_identical_bytes(settings):
    first = _oi_rows(
        [
            ("BTCUSDT", datetime(2026, 1, 1, 0, 5), 10.0),
            ("BTCUSDT", datetime(2026, 1, 2, 0, 5), 11.0),
        ]
    )
    landed_once = _land(settings, first)
    shuffled_with_duplicate = first.take([1, 0, 1])
    landed_twice = _land(settings, shuffled_with_duplicate)
    assert [f.file_sha256 for f in landed_once] == [f.file_sha256 for f in landed_twice]
    assert sum(pq.read_table(f.path).num_rows for f in landed_twice) == 2
    leftovers = [p for p in settings.raw_dir.rglob("*") if p.name.startswith(".")]
    assert leftovers == []


def test_relanding_a_day_with_fewer_rows_removes_the_vanished_rows(settings):
    _land(settings, _oi_rows([("BTCUSDT", datetime(2026, 1, 1, h), 1.0) for h in range(3)]))
    _land(settings, _oi_rows([("BTCUSDT", datetime(2026, 1, 1, 0), 1.0)]))
    path = partition_path(settings.raw_dir, "binance", "open_interest", date(2026, 1, 1), "BTCUSDT")
    assert pq.read_table(path).num_rows == 1


def test_manifest_traces_every_file_to_its_sources(settings):
    landed = _land(settings, _oi_rows([("BTCUSDT", datetime(2026, 1, 1, 0, 5), 10.0)]))
    manifest = json.loads(
        (
            settings.manifest_dir / "binance" / "open_interest" / "dt=2026-01-01" / "BTCUSDT.json"
        ).read_text()
    )
    assert manifest["rows"] == 1
    assert manifest["file_sha256"] == landed[0].file_sha256
    assert manifest["sources"][0]["uri"] == "test://oi"


def _manifest_uris(settings, day: str) -> list[str]:
    path = settings.manifest_dir / "binance" / "open_interest" / f"dt={day}" / "BTCUSDT.json"
    return [source["uri"] for source in json.loads(path.read_text())["sources"]]


def test_a_day_lists_the_payloads_its_rows_came_from_and_those_that_gave_no_row(settings):
    """A month's backfill fetches a month of pages: each day lists its own, not all of them."""
    table = _oi_rows(
        [
            ("BTCUSDT", datetime(2026, 1, 1, 0, 5), 10.0),
            ("BTCUSDT", datetime(2026, 1, 2, 0, 5), 11.0),
            ("BTCUSDT", datetime(2026, 1, 2, 0, 10), 12.0),
        ]
    ).set_column(4, "_source", pa.array(["test://page1", "test://page1", "test://page2"]))
    pages = [
        SourcePayload(f"test://page{n}", f"{n}" * 64, "2026-01-03T00:00:00+00:00")
        for n in (1, 2, 3)  # page 3 was empty
    ]
    _land(settings, table, end=date(2026, 1, 4), sources=pages)
    assert _manifest_uris(settings, "2026-01-01") == ["test://page1", "test://page3"]
    assert _manifest_uris(settings, "2026-01-02") == [f"test://page{n}" for n in (1, 2, 3)]
    assert _manifest_uris(settings, "2026-01-03") == ["test://page3"]


def test_rows_naming_a_payload_that_was_not_given_are_an_error(settings):
    table = _oi_rows([("BTCUSDT", datetime(2026, 1, 1, 0, 5), 10.0)])
    table = table.set_column(4, "_source", pa.array(["test://elsewhere"]))
    with pytest.raises(
        ValueError, match=r"rows name payloads it was not given: \['test://elsewhere'\]"
    ):
        _land(settings, table)
    assert not settings.raw_dir.exists()


def test_rows_outside_the_window_are_an_error_not_dropped(settings):
    table = _oi_rows([("BTCUSDT", datetime(2026, 1, 5), 10.0)])
    with pytest.raises(ValueError, match="outside the window"):
        _land(settings, table)
    assert not settings.raw_dir.exists()


@pytest.mark.parametrize("part", ["../etc", "a/b", ".hidden", "", "x" * 80, "BTC USDT"])
def test_path_segments_are_validated(settings, part):
    with pytest.raises(ValueError, match="invalid"):
        partition_path(settings.raw_dir, "binance", "open_interest", date(2026, 1, 1), part)


def test_quarantine_keeps_rejects_with_reason_and_clears_on_clean_reland(settings):
    reject = {
        "venue": "binance",
        "dataset": "liquidations",
        "reason": "non-positive quantity",
        "raw": '{"q": "-1"}',
        "_source": "test://ws",
    }
    kwargs = dict(
        quarantine_dir=settings.quarantine_dir,
        venue="binance",
        dataset="liquidations",
        part="all",
        day=date(2026, 1, 1),
    )
    path = quarantine_records([reject], **kwargs)
    assert pq.read_table(path).to_pylist() == [reject]
    assert quarantine_records([], **kwargs) is None
    assert not path.exists()
