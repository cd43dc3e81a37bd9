"""Binance USD-M connector against real payloads: archive files, REST pages, forceOrder messages.

Expected values are computed here from the real files with the `csv`/`json` modules, not with
the connector's own parsing. Data: `<shared>/realdata` (see its PROVENANCE.md).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.feather as feather
import pytest

from include.cryptodw.schemas import FUNDING, KLINES, LIQUIDATIONS, OPEN_INTEREST
from include.cryptodw.sources import binance
from include.cryptodw.sources.common import (
    ExchangeAPIError,
    ParseResult,
    PayloadFormatError,
    TimeBounds,
)
from include.cryptodw.transport import (
    PayloadNotFound,
    ReplayTransport,
    Response,
    TransportError,
    retain,
    write_ws_segment,
)

ARCHIVE_HOST = "data.binance.vision"
FETCHED_AT = datetime(2026, 3, 1, tzinfo=UTC)


def _ms(moment: datetime | date) -> int:
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    return int(moment.replace(tzinfo=UTC).timestamp() * 1000)


def _times(table: pa.Table, column: str) -> list[int]:
    return table.column(column).cast("int64").to_pylist()


@pytest.fixture
def mirror(realdata: Path) -> Path:
    return realdata / "binance_archive_mirror"


@pytest.fixture
def archive(tmp_path: Path, mirror: Path) -> ReplayTransport:
    """The genuine archive files, answered offline as data.binance.vision would."""
    return ReplayTransport(root=tmp_path / "replay", hosts={ARCHIVE_HOST: mirror})


# ------------------------------------------------------------------ funding: archive


def _funding_csv_rows(realdata: Path, symbol: str, month: str) -> list[dict]:
    path = realdata / "binance_funding_rate" / "raw_monthly" / f"{symbol}-fundingRate-{month}.csv"
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize(
    ("symbol", "month", "rows"),
    [("BTCUSDT", "2024-08", 93), ("SOLUSDT", "2022-11", 165), ("BNBUSDT", "2020-03", 93)],
)
def test_archive_funding_month_equals_the_genuine_csv(realdata, archive, symbol, month, rows):
    start = date.fromisoformat(f"{month}-01")
    end = (start + timedelta(days=32)).replace(day=1)
    expected = _funding_csv_rows(realdata, symbol, month)
    assert len(expected) == rows

    result = binance.fetch_funding(archive, symbol, start, end, via="archive")

    assert result.table.schema == FUNDING
    assert result.rejects == []
    got = result.table.to_pylist()
    assert [_ms(r["funding_time"]) for r in got] == [int(e["calc_time"]) for e in expected]
    assert [r["funding_rate"] for r in got] == [float(e["last_funding_rate"]) for e in expected]
    assert [r["funding_interval_hours"] for r in got] == [
        int(e["funding_interval_hours"]) for e in expected
    ]
    assert {r["symbol"] for r in got} == {symbol}
    assert {r["mark_price"] for r in got} == {None}


def test_sol_ftx_month_keeps_its_shortened_funding_intervals(archive):
    result = binance.fetch_funding(
        archive, "SOLUSDT", date(2022, 11, 1), date(2022, 12, 1), "archive"
    )
    hours = result.table.column("funding_interval_hours").to_pylist()
    assert {h: hours.count(h) for h in set(hours)} == {8: 64, 4: 2, 2: 99}


def test_archive_funding_keeps_only_rows_inside_a_partial_window(realdata, archive):
    start, end = date(2022, 11, 8), date(2022, 11, 11)
    expected = [
        int(e["calc_time"])
        for e in _funding_csv_rows(realdata, "SOLUSDT", "2022-11")
        if _ms(start) <= int(e["calc_time"]) < _ms(end)
    ]

    result = binance.fetch_funding(archive, "SOLUSDT", start, end, "archive")

    assert _times(result.table, "funding_time") == expected
    assert result.rejects == []  # the month's other rows belong to other windows


def test_archive_funding_records_the_zip_it_read(mirror, archive):
    result = binance.fetch_funding(
        archive, "BTCUSDT", date(2024, 8, 5), date(2024, 8, 6), "archive"
    )
    zip_path = (
        mirror / "data/futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2024-08.zip"
    )
    (source,) = result.sources
    assert source.uri == f"https://{ARCHIVE_HOST}/{zip_path.relative_to(mirror).as_posix()}"
    assert source.sha256 == hashlib.sha256(zip_path.read_bytes()).hexdigest()
    assert set(result.table.column("_source").to_pylist()) == {source.uri}


def test_missing_archive_month_is_an_error_naming_the_file(archive):
    with pytest.raises(PayloadNotFound, match="BTCUSDT-fundingRate-2024-09.zip"):
        binance.fetch_funding(archive, "BTCUSDT", date(2024, 8, 30), date(2024, 9, 2), "archive")


def test_funding_csv_quarantines_bad_lines_and_keeps_the_good(realdata):
    path = realdata / "binance_funding_rate/raw_monthly/ETHUSDT-fundingRate-2022-06.csv"
    lines = path.read_text().splitlines()
    bad = {
        "1654041600000,8,abc": "'last_funding_rate' is not a number",
        "1654041600000,0,0.0001": "'funding_interval_hours' must be > 0",
        "1654041600000,8": "expected 3 fields, got 2",
        "1654041600,8,0.0001": "not a plausible epoch-ms timestamp",
        "2022-06-01,8,0.0001": "'calc_time' is not an integer",
    }
    payload = "\n".join([lines[0], *lines[1:4], *bad, *lines[4:]]).encode()

    result = binance.parse_funding_csv(payload, "ETHUSDT", "test://eth-2022-06")

    assert result.table.num_rows == len(lines) - 1
    assert [r["raw"] for r in result.rejects] == list(bad)
    for reject, reason in zip(result.rejects, bad.values(), strict=True):
        assert reason in reject["reason"]
        assert (reject["venue"], reject["dataset"]) == ("binance", "funding")


def test_csv_with_unknown_columns_is_rejected_as_a_whole():
    payload = b"calc_time,funding_interval_hours,funding_rate\n1654041600000,8,0.0001\n"
    with pytest.raises(PayloadFormatError, match="unknown \\['funding_rate'\\]"):
        binance.parse_funding_csv(payload, "ETHUSDT", "test://renamed")


# -------------------------------------------------------------------- klines


@pytest.fixture
def usdm_klines(realdata: Path) -> list[list]:
    """Three raw `/fapi/v1/klines` rows recorded by ccxt (testnet-sized volumes, real format)."""
    path = realdata / "api_fixtures/ccxt_static_binance_fetchOHLCV_httpResponses.json"
    return json.loads(path.read_text())["usdm_BTCUSDT_1m_limit_3"]


def test_klines_json_maps_every_field(usdm_klines):
    result = binance.parse_klines_json(
        json.dumps(usdm_klines).encode(), "BTCUSDT", "1m", "test://klines"
    )
    assert result.table.schema == KLINES and result.rejects == []
    first = result.table.to_pylist()[0]
    raw = usdm_klines[0]
    assert _ms(first["open_time"]) == raw[0] and _ms(first["close_time"]) == raw[6]
    assert (first["open_price"], first["high_price"], first["low_price"], first["close_price"]) == (
        float(raw[1]),
        float(raw[2]),
        float(raw[3]),
        float(raw[4]),
    )
    assert (first["volume_base"], first["volume_quote"], first["trade_count"]) == (
        float(raw[5]),
        float(raw[7]),
        raw[8],
    )
    assert (first["taker_buy_volume_base"], first["taker_buy_volume_quote"]) == (
        float(raw[9]),
        float(raw[10]),
    )


def _kline_zip(rows: list[list], header: bool) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    if header:
        writer.writerow(binance.KLINE_COLUMNS)
    writer.writerows(rows)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("BTCUSDT-1m-2024-04-10.csv", text.getvalue())
    return buffer.getvalue()


def test_archive_klines_parse_the_same_with_or_without_a_header(usdm_klines):
    with_header = binance.parse_kline_csv(_kline_zip(usdm_klines, True), "BTCUSDT", "1m", "s")
    without = binance.parse_kline_csv(_kline_zip(usdm_klines, False), "BTCUSDT", "1m", "s")
    from_rest = binance.parse_klines_json(json.dumps(usdm_klines).encode(), "BTCUSDT", "1m", "s")
    assert with_header.table.num_rows == 3
    assert with_header.table.equals(without.table)
    assert with_header.table.equals(from_rest.table)


def test_fetch_klines_from_the_archive_layout(tmp_path, usdm_klines):
    mirror = tmp_path / "mirror"
    url = binance.kline_archive_url("BTCUSDT", "1m", date(2024, 4, 10))
    target = mirror / urlsplit(url).path.lstrip("/")
    target.parent.mkdir(parents=True)
    target.write_bytes(_kline_zip(usdm_klines, header=False))
    transport = ReplayTransport(root=tmp_path / "replay", hosts={ARCHIVE_HOST: mirror})

    result = binance.fetch_klines(
        transport, "BTCUSDT", "1m", date(2024, 4, 10), date(2024, 4, 11), "archive"
    )

    assert _times(result.table, "open_time") == [row[0] for row in usdm_klines]
    assert result.sources[0].uri == url
    with pytest.raises(PayloadNotFound, match="BTCUSDT-1m-2024-04-11.zip"):
        binance.fetch_klines(
            transport, "BTCUSDT", "1m", date(2024, 4, 10), date(2024, 4, 12), "archive"
        )


# ---------------------------------------------------------------- REST paging


@dataclass
class FakeBinance:
    """Serves time-windowed REST pages as Binance does: rows with startTime <= t <= endTime,
    ascending, at most `limit` (and at most the server's own cap) per page.

    `from_end` answers with the LAST rows of the range instead; `overlap` adds rows from just
    before `startTime` (a sloppy server); `error` answers every request with that error body.
    """

    series: dict[str, list[tuple[int, object]]]
    cap: int = 10_000
    from_end: bool = False
    overlap: int = 0
    error: tuple[int, dict] | None = None
    calls: list[dict] = field(default_factory=list)

    def get(self, url: str, params=None) -> Response:
        params = {k: str(v) for k, v in (params or {}).items()}
        self.calls.append(params)
        if self.error is not None:
            status, body = self.error
            return Response(url, params, status, {}, json.dumps(body).encode(), FETCHED_AT)
        series = self.series[urlsplit(url).path]
        start, end = int(params["startTime"]), int(params["endTime"])
        limit = min(int(params["limit"]), self.cap)
        inside = [i for i, (t, _) in enumerate(series) if start <= t <= end]
        if inside:
            chosen = inside[-limit:] if self.from_end else inside[:limit]
            first = max(chosen[0] - self.overlap, 0)
            items = [item for _, item in series[first : chosen[-1] + 1]]
        else:
            items = []
        return Response(url, params, 200, {}, json.dumps(items).encode(), FETCHED_AT)


def _freqtrade(realdata: Path, name: str) -> list[tuple[int, dict]]:
    """(open time ms, row) from a freqtrade feather of real Binance USD-M data."""
    table = feather.read_table(realdata / "binance_usdm_futures_1h_freqtrade" / name)
    times = table.column("date").cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64()).to_pylist()
    return list(zip(times, table.drop_columns(["date"]).to_pylist(), strict=True))


def _as_kline(open_ms: int, row: dict) -> list:
    close, volume = row["close"], row["volume"]
    return [
        open_ms, str(row["open"]), str(row["high"]), str(row["low"]), str(close), str(volume),
        open_ms + 3_599_999, str(round(volume * close, 4)), 0, "0", "0", "0",
    ]  # fmt: skip


def _assert_contiguous(calls: list[dict], start_ms: int, end_ms: int) -> None:
    """The requested ranges tile the window: each starts at or before the previous end + 1."""
    assert int(calls[0]["startTime"]) == start_ms
    assert max(int(c["endTime"]) for c in calls) == end_ms - 1
    for before, after in zip(calls, calls[1:], strict=False):
        assert int(after["startTime"]) <= int(before["endTime"]) + 1


@pytest.mark.parametrize("cap", [1500, 1000])
def test_rest_klines_page_forward_without_gaps_or_duplicates(realdata, cap):
    candles = _freqtrade(realdata, "BTC_USDT_USDT-1h-futures.feather")
    series = {binance.KLINES_PATH: [(t, _as_kline(t, row)) for t, row in candles]}
    fake = FakeBinance(series, cap=cap)
    start, end = date(2025, 1, 1), date(2025, 4, 1)
    expected = [(t, row["close"]) for t, row in candles if _ms(start) <= t < _ms(end)]

    result = binance.fetch_klines(fake, "BTCUSDT", "1h", start, end, via="rest")

    closes = result.table["close_price"].to_pylist()
    got = list(zip(_times(result.table, "open_time"), closes, strict=True))
    assert got == expected and len(got) == 90 * 24
    assert result.rejects == []
    assert len(result.sources) == len(fake.calls)
    _assert_contiguous(fake.calls, _ms(start), _ms(end))
    assert {c["limit"] for c in fake.calls} == {"1500"}
    assert len(fake.calls) == (2 if cap == 1500 else 3)  # a capped server costs one request


def test_rest_funding_pages_through_months_and_keeps_mark_prices(realdata):
    funding = _freqtrade(realdata, "BTC_USDT_USDT-1h-funding_rate.feather")
    marks = dict(_freqtrade(realdata, "BTC_USDT_USDT-1h-mark.feather"))
    items = [
        (t, {"symbol": "BTCUSDT", "fundingTime": t, "fundingRate": f"{row['open']:.8f}",
             "markPrice": f"{marks[t]['open']:.8f}"})
        for t, row in funding
    ]  # fmt: skip
    fake = FakeBinance({binance.FUNDING_RATE_PATH: items}, overlap=2)
    start, end = date(2025, 1, 1), date(2026, 2, 1)
    expected = [t for t, _ in funding if _ms(start) <= t < _ms(end)]

    result = binance.fetch_funding(fake, "BTCUSDT", start, end, via="rest")

    assert _times(result.table, "funding_time") == expected  # sorted, no duplicates
    assert result.rejects == []  # overlapping copies are not conflicts
    assert result.table["mark_price"].null_count == 0
    assert result.table["funding_interval_hours"].null_count == result.table.num_rows
    _assert_contiguous(fake.calls, _ms(start), _ms(end))


@pytest.mark.parametrize("from_end", [False, True])
def test_rest_open_interest_is_complete_whichever_end_the_server_fills(from_end):
    start, end = date(2026, 2, 1), date(2026, 2, 4)
    step = 5 * 60_000
    items = [
        (t, {"symbol": "ETHUSDT", "sumOpenInterest": str(1000 + i),
             "sumOpenInterestValue": str(3_000_000 + i), "timestamp": t})
        for i, t in enumerate(range(_ms(start) - step * 10, _ms(end) + step * 10, step))
    ]  # fmt: skip
    fake = FakeBinance({binance.OPEN_INTEREST_HIST_PATH: items}, from_end=from_end)

    result = binance.fetch_open_interest(fake, "ETHUSDT", start, end, via="rest")

    assert result.table.schema == OPEN_INTEREST
    assert _times(result.table, "snapshot_at") == list(range(_ms(start), _ms(end), step))
    assert {c["period"] for c in fake.calls} == {"5m"}
    assert max(int(c["limit"]) for c in fake.calls) == 500


def test_binance_error_body_raises_a_clear_transport_error():
    fake = FakeBinance({}, error=(400, {"code": -1121, "msg": "Invalid symbol."}))
    with pytest.raises(ExchangeAPIError, match=r"-1121 \(Invalid symbol\.\)") as caught:
        binance.fetch_funding(fake, "NOPEUSDT", date(2026, 1, 1), date(2026, 1, 2), "rest")
    assert isinstance(caught.value, TransportError) and caught.value.code == -1121


def test_retained_error_page_replays_as_the_same_error(tmp_path):
    url = binance.REST_BASE + binance.KLINES_PATH
    params = {"symbol": "NOPEUSDT", "interval": "1h", "startTime": _ms(date(2026, 1, 1)),
              "endTime": _ms(date(2026, 1, 2)) - 1, "limit": 1500}  # fmt: skip
    body = json.dumps({"code": -1121, "msg": "Invalid symbol."}).encode()
    canonical = {k: str(v) for k, v in params.items()}
    retain(tmp_path, Response(url, canonical, 400, {}, body, FETCHED_AT))

    with pytest.raises(ExchangeAPIError, match="Invalid symbol"):
        binance.fetch_klines(
            ReplayTransport(tmp_path), "NOPEUSDT", "1h", date(2026, 1, 1), date(2026, 1, 2), "rest"
        )


def test_rest_body_that_is_not_json_raises():
    with pytest.raises(PayloadFormatError, match="not JSON"):
        binance.parse_funding_json(b"<html>502 Bad Gateway</html>", "BTCUSDT", "test://html")


def test_symbols_that_are_not_plain_tokens_are_refused_before_any_request():
    fake = FakeBinance({})
    with pytest.raises(ValueError, match="not a plain token"):
        binance.fetch_funding(fake, "../BTCUSDT", date(2026, 1, 1), date(2026, 1, 2), "rest")
    assert fake.calls == []


# --------------------------------------------------------- open interest: archive


def _metrics_zip(symbol: str, day: date, first: datetime, base: float) -> bytes:
    """A metrics file of 288 5-minute rows starting at `first` (label conventions vary)."""
    lines = [",".join(binance.METRICS_COLUMNS)]
    for i in range(288):
        label = (first + timedelta(minutes=5 * i)).strftime("%Y-%m-%d %H:%M:%S")
        oi = base + i
        lines.append(f"{label},{symbol},{oi:.4f},{oi * 60_000:.4f},1.9,1.8,1.7,0.9")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{symbol}-metrics-{day.isoformat()}.csv", "\n".join(lines) + "\n")
    return buffer.getvalue()


def _metrics_mirror(root: Path, files: dict[date, tuple[datetime, float]]) -> ReplayTransport:
    for day, (first, base) in files.items():
        url = binance.metrics_archive_url("BTCUSDT", day)
        path = root / "mirror" / urlsplit(url).path.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_metrics_zip("BTCUSDT", day, first, base))
    return ReplayTransport(root=root / "replay", hosts={ARCHIVE_HOST: root / "mirror"})


def test_archive_metrics_take_the_midnight_snapshot_from_the_previous_days_file(tmp_path):
    # Labels by period end: each file holds 00:05 .. next day 00:00 (binance-public-data#491).
    files = {date(2024, 3, d): (datetime(2024, 3, d, 0, 5), 1000.0 * d) for d in (1, 2, 3)}
    transport = _metrics_mirror(tmp_path, files)

    result = binance.fetch_open_interest(
        transport, "BTCUSDT", date(2024, 3, 2), date(2024, 3, 4), "archive"
    )

    step = 5 * 60_000
    assert _times(result.table, "snapshot_at") == list(
        range(_ms(date(2024, 3, 2)), _ms(date(2024, 3, 4)), step)
    )
    assert result.table["open_interest_base"][0].as_py() == 1000.0 + 287  # from 03-01's file
    assert result.rejects == []


def test_archive_metrics_conflicting_midnight_labels_keep_the_days_own_file(tmp_path):
    # The 2026-06-25 switch to period-start labels: both files carry a 00:00 row.
    files = {
        date(2026, 6, 24): (datetime(2026, 6, 24, 0, 5), 500.0),
        date(2026, 6, 25): (datetime(2026, 6, 25, 0, 0), 900.0),
    }
    transport = _metrics_mirror(tmp_path, files)

    result = binance.fetch_open_interest(
        transport, "BTCUSDT", date(2026, 6, 25), date(2026, 6, 26), "archive"
    )

    assert result.table.num_rows == 288
    assert result.table["open_interest_base"][0].as_py() == 900.0
    (conflict,) = result.rejects
    assert "conflicting duplicate" in conflict["reason"]
    assert json.loads(conflict["raw"])["open_interest_base"] == 500.0 + 287


def test_missing_metrics_day_is_an_error_but_the_day_before_is_optional(tmp_path):
    transport = _metrics_mirror(tmp_path, {date(2024, 3, 2): (datetime(2024, 3, 2, 0, 5), 1.0)})
    result = binance.fetch_open_interest(
        transport, "BTCUSDT", date(2024, 3, 2), date(2024, 3, 3), "archive"
    )
    assert result.table.num_rows == 287  # no 00:00 snapshot without 03-01's file
    with pytest.raises(PayloadNotFound, match="BTCUSDT-metrics-2024-03-03.zip"):
        binance.fetch_open_interest(
            transport, "BTCUSDT", date(2024, 3, 2), date(2024, 3, 4), "archive"
        )


# ------------------------------------------------------------------ liquidations


@pytest.fixture
def tardis_force_order(realdata: Path) -> dict:
    """The real USD-M forceOrder message (BTCUSDT, COVID crash 2020-03-13) kept by tardis-node."""
    path = realdata / "api_fixtures/tardis_node_mappers_test_derivatives_messages.json"
    entries = json.loads(path.read_text())
    usdm = [
        e["message"]
        for e in entries
        if "forceOrder" in json.dumps(e["message"]) and e["message"]["data"]["o"]["s"] == "BTCUSDT"
    ]
    assert len(usdm) == 1
    return usdm[0]


def test_tardis_force_order_keeps_the_raw_order_side(tardis_force_order):
    text = json.dumps(tardis_force_order)

    result = binance.parse_force_order(text, 1584059031500, "test://tardis")

    assert result.table.schema == LIQUIDATIONS and result.rejects == []
    (row,) = result.table.to_pylist()
    order = tardis_force_order["data"]["o"]
    assert row["symbol"] == "BTCUSDT"
    assert row["order_side"] == "BUY"  # a SHORT was liquidated; staging translates
    assert (row["original_qty"], row["filled_qty"], row["last_filled_qty"]) == (
        float(order["q"]), float(order["z"]), float(order["l"]),
    )  # fmt: skip
    assert (row["order_price"], row["avg_price"]) == (float(order["p"]), float(order["ap"]))
    assert _ms(row["trade_time"]) == order["T"] and _ms(row["event_time"]) == 1584059031426
    assert row["trade_time"].date() == date(2020, 3, 13)
    assert _ms(row["received_at"]) == 1584059031500


def test_wrapped_and_raw_events_give_the_same_row(tardis_force_order):
    wrapped = binance.parse_force_order(json.dumps(tardis_force_order), None, "s")
    raw = binance.parse_force_order(json.dumps(tardis_force_order["data"]), None, "s")
    assert wrapped.table.equals(raw.table) and wrapped.table.num_rows == 1


CAPTURE_COLUMNS = ("s", "S", "o", "f", "q", "p", "ap", "X", "l", "z", "T", "usd_size")


def _capture_messages(path: Path) -> list[tuple[int, str]]:
    """Rebuild `forceOrder` messages from a CSV capture (no header; see PROVENANCE 4c).

    The recorders stripped "USDT" from symbols (BTCUSDT -> BTC, ETHUSDT_250627 -> ETH_250627)
    and kept no event time: both are restored (E := T). Everything else is passed verbatim.
    """
    messages = []
    with open(path, newline="") as handle:
        for values in csv.reader(handle):
            order = dict(zip(CAPTURE_COLUMNS, values, strict=True))
            order.pop("usd_size")
            order["s"] = _restore_symbol(order["s"])
            order["T"] = int(order["T"])
            event = {"e": "forceOrder", "E": order["T"], "o": order}
            messages.append((order["T"] + 40, json.dumps(event)))
    return messages


def _restore_symbol(symbol: str) -> str:
    if symbol.endswith(("USDT", "USDC")):
        return symbol
    base, _, delivery = symbol.partition("_")
    return f"{base}USDT_{delivery}" if delivery else f"{base}USDT"


def _write_day(root: Path, day: date, messages: list[tuple[int, str]], name: str = "seg-0") -> None:
    write_ws_segment(root, "binance", "forceOrder", day, name, messages)


def test_recorded_liquidations_of_a_day(realdata, tmp_path):
    capture = realdata / "liquidations/bandsthobaby_binance_forceorder_all_2024-08-17.csv"
    messages = _capture_messages(capture)
    _write_day(tmp_path, date(2024, 8, 17), messages)
    with open(capture, newline="") as handle:
        expected = sorted((int(r[10]), r[1], float(r[9]), float(r[6])) for r in csv.reader(handle))

    result = binance.read_liquidations(tmp_path, date(2024, 8, 17), date(2024, 8, 18))

    assert result.rejects == [] and result.table.num_rows == 456
    got = sorted(
        zip(
            _times(result.table, "trade_time"),
            result.table["order_side"].to_pylist(),
            result.table["filled_qty"].to_pylist(),
            result.table["avg_price"].to_pylist(),
            strict=True,
        )
    )
    assert got == expected
    (source,) = result.sources
    assert source.uri == "ws/binance/forceOrder/2024-08-17/seg-0.jsonl.gz"
    segment = tmp_path / source.uri
    assert source.sha256 == hashlib.sha256(segment.read_bytes()).hexdigest()


def test_two_days_with_mixed_symbol_spellings(realdata, tmp_path):
    for day, name in [(17, "all_2024-08-17"), (18, "gt10k_2024-08-18")]:
        capture = realdata / f"liquidations/bandsthobaby_binance_forceorder_{name}.csv"
        _write_day(tmp_path, date(2024, 8, day), _capture_messages(capture))

    result = binance.read_liquidations(tmp_path, date(2024, 8, 17), date(2024, 8, 19))

    assert result.table.num_rows == 456 + 385 and result.rejects == []
    days = {t.date() for t in result.table["trade_time"].to_pylist()}
    assert days == {date(2024, 8, 17), date(2024, 8, 18)}
    assert "BTCUSDT" in result.table["symbol"].to_pylist()


def test_capture_without_average_price_is_quarantined_not_dropped(realdata, tmp_path):
    # neoparth's recorder asked for key "ao" instead of "ap": every row says "None".
    capture = realdata / "liquidations/neoparth_binance_forceorder_all_2025-06-23.csv"
    messages = _capture_messages(capture)
    _write_day(tmp_path, date(2025, 6, 23), messages)

    result = binance.read_liquidations(tmp_path, date(2025, 6, 23), date(2025, 6, 24))

    assert result.table.num_rows == 0 and len(result.rejects) == 700
    assert {r["reason"] for r in result.rejects} == {"field 'ap' is not a number: 'None'"}
    assert sorted(r["raw"] for r in result.rejects) == sorted(text for _, text in messages)


NOON = _ms(datetime(2024, 8, 5, 12))


def _event(**order_changes) -> dict:
    """A valid USD-M forceOrder event (docs shape) with some order fields changed."""
    order = {"s": "BTCUSDT", "S": "SELL", "o": "LIMIT", "f": "IOC", "q": "0.5", "p": "50000",
             "ap": "50100", "X": "FILLED", "l": "0.5", "z": "0.5", "T": NOON}  # fmt: skip
    order.update(order_changes)
    return {"e": "forceOrder", "E": NOON + 3, "o": order}


def _without(key: str) -> dict:
    event = _event()
    del event["o"][key]
    return event


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"e":"forceOrder","E":1722859200003,"o":{"s":"BTCUSDT"', "malformed JSON"),
        (json.dumps(_without("ap")), "missing field 'ap'"),
        (json.dumps(_event(q="abc")), "field 'q' is not a number: 'abc'"),
        (json.dumps(_event(q="-0.5")), "field 'q' must be > 0"),
        (json.dumps(_event(p="0")), "field 'p' must be > 0"),
        (json.dumps(_event(s="../../etc/BTCUSDT")), "is not a plain token"),
        (json.dumps(_event(S="LONG")), "field 'S' has unexpected value 'LONG'"),
        (json.dumps(_event(T=1722859200)), "not a plausible epoch-ms timestamp"),
        (json.dumps(_event(T=_ms(datetime(2024, 8, 1)))), "outside this payload's span"),
        (json.dumps({"e": "aggTrade", "E": 1, "o": {}}), "not a forceOrder event"),
    ],
)
def test_bad_messages_are_quarantined_with_their_reason(tmp_path, text, reason):
    good = json.dumps({"stream": "!forceOrder@arr", "data": _event()})
    received = _ms(datetime(2024, 8, 5, 12, 0, 1))
    _write_day(tmp_path, date(2024, 8, 5), [(received, good), (received, text), (received, good)])

    result = binance.read_liquidations(tmp_path, date(2024, 8, 5), date(2024, 8, 6))

    assert result.table.num_rows == 2  # the good rows survive (exact duplicates pass through)
    (reject,) = result.rejects
    assert reason in reject["reason"]
    assert reject["raw"] == text
    assert reject["_source"] == "ws/binance/forceOrder/2024-08-05/seg-0.jsonl.gz"


def test_liquidation_straddling_midnight_lands_in_its_trade_day_once(tmp_path):
    just_before = _event(T=_ms(datetime(2024, 8, 5, 23, 59, 59, 900_000)))
    bad_next_day = json.dumps(_event(T=_ms(datetime(2024, 8, 6, 0, 0, 5)), z="x"))
    received = _ms(datetime(2024, 8, 6, 0, 0, 10))
    _write_day(
        tmp_path, date(2024, 8, 6), [(received, json.dumps(just_before)), (received, bad_next_day)]
    )

    first = binance.read_liquidations(tmp_path, date(2024, 8, 5), date(2024, 8, 6))
    second = binance.read_liquidations(tmp_path, date(2024, 8, 6), date(2024, 8, 7))

    assert first.table.num_rows == 1 and first.rejects == []
    assert second.table.num_rows == 0
    assert [r["raw"] for r in second.rejects] == [bad_next_day]


def test_window_without_recordings_is_empty_not_an_error(tmp_path):
    result = binance.read_liquidations(tmp_path, date(2024, 8, 5), date(2024, 8, 6))
    assert result.table.schema == LIQUIDATIONS and result.table.num_rows == 0


# ------------------------------------------------------------------------ common


def test_parse_results_concatenate_rows_rejects_and_sources(usdm_klines):
    payload = json.dumps(usdm_klines).encode()
    bounds = TimeBounds.of((usdm_klines[0][0], usdm_klines[2][0]), (0, 2**62))
    parts = [
        binance.parse_klines_json(payload, "BTCUSDT", "1m", "a", bounds=bounds),
        binance.parse_klines_json(b'[[1, "x"]]', "BTCUSDT", "1m", "b"),
    ]
    merged = ParseResult.concat(parts)
    assert merged.table.num_rows == 2  # the third candle is outside `keep`
    assert [r["_source"] for r in merged.rejects] == ["b"]
    assert ParseResult.concat([], KLINES).table.schema == KLINES
