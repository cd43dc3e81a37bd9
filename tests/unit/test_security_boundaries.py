"""Security boundaries outside the transport (issue #9): names that reach file paths are
validated before anything is requested or written, and analysts can read the published
snapshot but write nothing, neither the warehouse nor any file."""

from __future__ import annotations

import hashlib
from datetime import date

import duckdb
import pytest

from include.cryptodw import cli
from include.cryptodw.assets import VENUES
from include.cryptodw.lake.writer import partition_path
from include.cryptodw.pipeline import land_slice
from include.cryptodw.settings import load_settings
from include.cryptodw.windows import Window

DAY = Window(date(2026, 1, 1), date(2026, 1, 2))
PER_SYMBOL_DATASETS = ("klines", "open_interest", "funding")
ESCAPING_SYMBOLS = ("../../BTCUSDT", "BTC/../../USDT", "BTC USDT", "BTCUSDT';--")


class _NoRequests:
    """A transport that fails the test if anything reaches it."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def get(self, url, params=None):
        self.urls.append(url)
        raise AssertionError(f"requested {url} for an invalid name")


@pytest.mark.parametrize("venue", VENUES)
@pytest.mark.parametrize("dataset", PER_SYMBOL_DATASETS)
def test_symbols_that_are_not_plain_tokens_are_refused_before_any_request(settings, venue, dataset):
    for symbol in ESCAPING_SYMBOLS:
        transport = _NoRequests()
        interval = "1h" if dataset == "klines" else None
        with pytest.raises(ValueError):
            land_slice(settings, dataset, DAY, symbol, interval, transport, venue=venue)
        assert transport.urls == []
    assert not settings.data_dir.exists() or not any(settings.data_dir.rglob("*.parquet"))


@pytest.mark.parametrize(
    "venue, dataset", [("../binance", "klines"), ("binance", "../../klines"), ("a/b", "klines")]
)
def test_venue_and_dataset_path_segments_are_validated(settings, venue, dataset):
    with pytest.raises(ValueError, match="invalid"):
        partition_path(settings.raw_dir, venue, dataset, date(2026, 1, 1), "BTCUSDT")


def test_configured_venues_must_be_known(data_dir, monkeypatch):
    monkeypatch.setenv("CRYPTODW_VENUES", "binance,../okx")
    with pytest.raises(ValueError, match="unknown venues"):
        load_settings()


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def published(settings):
    """A minimal published snapshot next to a working warehouse (the file dbt writes)."""
    settings.published_path.parent.mkdir(parents=True)
    for path in (settings.published_path, settings.warehouse_path):
        with duckdb.connect(str(path)) as con:
            con.execute("create schema marts")
            con.execute("create table marts.liquidations_daily as select 42 as liquidation_count")
    return settings


def test_analysts_read_the_snapshot_and_can_write_nothing(published, tmp_path, capsys):
    before = {p: _sha256(p) for p in (published.published_path, published.warehouse_path)}
    assert cli.main(["sql", "select liquidation_count from marts.liquidations_daily"]) == 0
    assert "42" in capsys.readouterr().out

    outside, readable = tmp_path / "exfiltrated.csv", tmp_path / "private.txt"
    readable.write_text("not for analysts\n")
    attempts = (
        "delete from marts.liquidations_daily",
        "create table marts.mine as select 1",
        f"attach '{published.warehouse_path}' as work",
        f"copy (select * from marts.liquidations_daily) to '{outside}'",
        f"select * from read_csv('{readable}')",
        "set enable_external_access = true",
        "install httpfs",
    )
    for query in attempts:
        assert cli.main(["sql", query]) == 2, query
    errors = capsys.readouterr().err
    assert errors.count("query failed") == len(attempts) and "not for analysts" not in errors
    assert not outside.exists()
    assert before == {p: _sha256(p) for p in before}
