"""The landing path (connector → raw suite → lake) over the genuine Binance archive files.

`binance_archive_mirror/` is a copy of data.binance.vision laid out as the archive; the
replay transport serves it in place of the archive host, so this is the live code path with
only the transport swapped.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from include.cryptodw.pipeline import land_slice
from include.cryptodw.sources.binance import ARCHIVE_BASE, funding_archive_url
from include.cryptodw.transport import ReplayTransport
from include.cryptodw.windows import Window

ARCHIVE_HOST = ARCHIVE_BASE.split("://", 1)[1]
JUNE_2022 = Window(date(2022, 6, 1), date(2022, 7, 1))


@pytest.fixture
def mirror_transport(realdata: Path, settings) -> ReplayTransport:
    return ReplayTransport(
        settings.replay_dir, hosts={ARCHIVE_HOST: realdata / "binance_archive_mirror"}
    )


def _zip_path(realdata: Path, symbol: str, month: date) -> Path:
    path = funding_archive_url(symbol, month).split(ARCHIVE_HOST, 1)[1].lstrip("/")
    return realdata / "binance_archive_mirror" / path


def _genuine_rows(zip_path: Path) -> list[dict]:
    with zipfile.ZipFile(zip_path) as archive:
        (name,) = archive.namelist()
        return list(csv.DictReader(io.TextIOWrapper(archive.open(name), "utf-8")))


def _landed(settings, symbol: str) -> list[dict]:
    files = sorted((settings.raw_dir / "binance" / "funding").glob(f"dt=*/{symbol}.parquet"))
    return [row for f in files for row in pq.read_table(f).to_pylist()]


@pytest.mark.parametrize("symbol", ["BTCUSDT", "SOLUSDT", "XRPUSDT"])
def test_genuine_funding_month_lands_row_for_row(settings, mirror_transport, realdata, symbol):
    result = land_slice(settings, "funding", JUNE_2022, symbol=symbol, transport=mirror_transport)

    genuine = _genuine_rows(_zip_path(realdata, symbol, JUNE_2022.start))
    landed = _landed(settings, symbol)
    assert result.rows == len(genuine) == len(landed) and result.rejected == 0
    assert result.files == 30  # one file per UTC day of the window
    assert [int(r["calc_time"]) for r in genuine] == [
        int(r["funding_time"].timestamp() * 1000) for r in landed
    ]
    assert [float(r["last_funding_rate"]) for r in genuine] == [r["funding_rate"] for r in landed]
    assert {r["funding_interval_hours"] for r in landed} == {8}


def test_relanding_a_window_replaces_it_and_traces_every_file(settings, mirror_transport, realdata):
    land_slice(settings, "funding", JUNE_2022, symbol="ETHUSDT", transport=mirror_transport)
    first = {
        p: p.read_bytes() for p in (settings.raw_dir / "binance" / "funding").rglob("*.parquet")
    }
    land_slice(settings, "funding", JUNE_2022, symbol="ETHUSDT", transport=mirror_transport)
    second = {
        p: p.read_bytes() for p in (settings.raw_dir / "binance" / "funding").rglob("*.parquet")
    }

    assert first == second  # same files, same bytes: no duplicates, deterministic output
    zip_sha = hashlib.sha256(
        _zip_path(realdata, "ETHUSDT", JUNE_2022.start).read_bytes()
    ).hexdigest()
    manifest = json.loads(
        (settings.manifest_dir / "binance/funding/dt=2022-06-15/ETHUSDT.json").read_text()
    )
    (source,) = manifest["sources"]
    assert source["uri"] == funding_archive_url("ETHUSDT", JUNE_2022.start)
    assert source["sha256"] == zip_sha
    landed = settings.raw_dir / "binance/funding/dt=2022-06-15/ETHUSDT.parquet"
    assert manifest["file_sha256"] == hashlib.sha256(landed.read_bytes()).hexdigest()
    assert manifest["rows"] == pq.read_metadata(landed).num_rows == 3


def test_a_month_missing_from_the_archive_fails_and_writes_nothing(settings, mirror_transport):
    with pytest.raises(Exception, match="fundingRate-2023-01"):
        land_slice(
            settings,
            "funding",
            Window(date(2023, 1, 1), date(2023, 2, 1)),
            symbol="BTCUSDT",
            transport=mirror_transport,
        )
    assert not (settings.raw_dir / "binance" / "funding").exists()
