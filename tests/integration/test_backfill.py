"""A command-line backfill lands and refreshes chunk by chunk, shows progress, is idempotent,
and builds the same marts as one refresh of the whole range (the incremental marts look back
and forward across the chunks' boundaries)."""

from __future__ import annotations

import hashlib

import duckdb
import pytest

from include.cryptodw.assets import ANALYTICS_MODELS, MART_MODELS
from include.cryptodw.cli import main
from include.cryptodw.offline import prepare_offline_exchange
from include.cryptodw.windows import Window

pytestmark = pytest.mark.slow

WINDOW = Window.parse("2026-01-30", "2026-02-05")
# the marts, and the instruments dimension (its first and last seen days add up the chunks)
RELATIONS = [f"marts.{name}" for name in MART_MODELS + ANALYTICS_MODELS] + ["core.dim_instruments"]


def _fingerprint(path) -> dict[str, str]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {
            name: hashlib.sha256(
                repr(con.execute(f"select * from {name} order by all").fetchall()).encode()
            ).hexdigest()
            for name in RELATIONS
        }


def test_backfill_twice_gives_the_same_warehouse(settings, monkeypatch, capsys):
    monkeypatch.setenv("CRYPTODW_SYMBOLS", "BTCUSDT")
    monkeypatch.setenv("CRYPTODW_SOURCE_MODE", "simulated")
    from include.cryptodw.settings import load_settings

    settings = load_settings()
    prepare_offline_exchange(settings, "crash", WINDOW)
    args = ["backfill", "--start", "2026-01-30", "--end", "2026-02-05", "--chunk-days", "3"]

    assert main(args) == 0
    first = _fingerprint(settings.published_path)
    out = capsys.readouterr()
    assert "backfilled 2 chunks" in out.out and "2/2" in out.err  # tqdm reports on stderr

    assert main(args) == 0
    assert _fingerprint(settings.published_path) == first

    settings.warehouse_path.unlink()  # the same lake, built again in one window
    assert main(["refresh", "--start", "2026-01-30", "--end", "2026-02-05"]) == 0
    assert _fingerprint(settings.published_path) == first
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        days = con.execute("select count(distinct price_date) from marts.prices_daily").fetchall()
    assert days == [(6,)]
