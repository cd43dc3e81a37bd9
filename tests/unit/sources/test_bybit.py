"""Bybit v5 linear connector against real payloads and a fake server that pages like Bybit.

Real data (`<shared>/realdata`, see PROVENANCE.md): the `instruments-info` answer and websocket
control frames recorded by cryptofeed (2026-08-09), and the `allLiquidation` / old
`liquidation` messages kept by tardis-node. Expected values are read from those files with the
`json` module, not with the connector.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

from include.cryptodw.lake.writer import land_records
from include.cryptodw.sources import bybit
from include.cryptodw.sources.common import ExchangeAPIError, PagingError, PayloadFormatError
from include.cryptodw.transport import (
    ReplayTransport,
    Response,
    TransportError,
    retain,
    write_ws_segment,
)

FETCHED_AT = datetime(2026, 3, 1, tzinfo=UTC)
HOUR = 3_600_000


def _ms(moment: datetime | date) -> int:
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    return int(moment.replace(tzinfo=UTC).timestamp() * 1000)


def _times(table: pa.Table, column: str) -> list[int]:
    return table.column(column).cast("int64").to_pylist()


# ------------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def cryptofeed_records(realdata: Path) -> list[dict]:
    """The cryptofeed recording (zstd JSON lines), decompressed with pyarrow's zstd codec."""
    path = realdata / "api_fixtures/cryptofeed_v3_sample_BYBIT.jsonl.zst"
    stream = pa.input_stream(str(path), compression="zstd")
    return [json.loads(line) for line in stream.read().decode().splitlines()]


@pytest.fixture(scope="module")
def linear_instruments(cryptofeed_records) -> tuple[str, dict]:
    """(URL, body text) of the real `instruments-info?category=linear` answer."""
    (record,) = [
        r for r in cryptofeed_records if r["t"] == "http" and "category=linear" in r["url"]
    ]
    return record["url"], record["data"]


@pytest.fixture(scope="module")
def tardis_bybit(realdata: Path) -> list[dict]:
    path = realdata / "api_fixtures/tardis_node_mappers_test_derivatives_messages.json"
    entries = json.loads(path.read_text())
    return [e["message"] for e in entries if e["tardis_test"] == "map bybit messages"]


def test_real_instruments_answer_maps_every_contract(linear_instruments):
    url, body_text = linear_instruments
    body = json.loads(body_text)
    expected = {item["symbol"]: item for item in body["result"]["list"]}

    result = bybit.parse_instruments_page(body_text.encode(), url)

    assert result.table.schema == bybit.INSTRUMENTS and result.rejects == []
    rows = {row["symbol"]: row for row in result.table.to_pylist()}
    assert rows.keys() == expected.keys() and len(rows) == 800
    btc, raw = rows["BTCUSDT"], expected["BTCUSDT"]
    assert (btc["contract_type"], btc["base_coin"], btc["settle_coin"]) == (
        "LinearPerpetual", "BTC", "USDT",
    )  # fmt: skip
    assert _ms(btc["launch_time"]) == int(raw["launchTime"]) and btc["delivery_time"] is None
    assert btc["qty_step"] == float(raw["lotSizeFilter"]["qtyStep"])
    assert btc["tick_size"] == float(raw["priceFilter"]["tickSize"])
    assert btc["funding_interval_minutes"] == raw["fundingInterval"] == 480
    assert _ms(btc["snapshot_at"]) == body["time"]
    # 1000PEPEUSDT counts in units of "1000PEPE": staging must know the multiplier.
    assert rows["1000PEPEUSDT"]["base_coin"] == "1000PEPE"
    dated = [r for r in rows.values() if r["contract_type"] == "LinearFutures"]
    assert len(dated) == 40 and all(r["delivery_time"] is not None for r in dated)
    assert rows["BTCUSDT-26MAR27"]["delivery_time"].year == 2027


def test_real_all_liquidation_message_keeps_the_position_side(tardis_bybit):
    (message,) = [m for m in tardis_bybit if m.get("topic", "").startswith("allLiquidation.")]

    result = bybit.parse_liquidation_message(json.dumps(message), 1740480207600, "test://t")

    assert result.table.schema == bybit.LIQUIDATIONS and result.rejects == []
    (row,) = result.table.to_pylist()
    event = message["data"][0]
    assert row["symbol"] == "PIPPINUSDT"
    assert row["side"] == "Sell"  # Bybit: a SHORT position was liquidated; staging translates
    assert (row["executed_qty"], row["bankruptcy_price"]) == (float(event["v"]), float(event["p"]))
    assert _ms(row["trade_time"]) == event["T"] and _ms(row["event_time"]) == message["ts"]
    assert _ms(row["received_at"]) == 1740480207600


def _write_day(root: Path, day: date, messages: list[tuple[int, str]], name: str = "seg-0") -> None:
    write_ws_segment(root, "bybit", "allLiquidation", day, name, messages)


def test_recorded_segment_skips_control_frames_and_quarantines_old_topics(
    tmp_path, tardis_bybit, cryptofeed_records
):
    (liquidation,) = [m for m in tardis_bybit if m.get("topic", "").startswith("allLiquidation.")]
    old_topic = [m for m in tardis_bybit if m.get("topic", "").startswith("liquidation.")]
    control = [
        r["data"]
        for r in cryptofeed_records
        if r["t"] == "recv" and '"op":"subscribe"' in r["data"]
    ]
    received = liquidation["ts"] + 100
    texts = [control[0], json.dumps(liquidation), *(json.dumps(m) for m in old_topic)]
    _write_day(tmp_path, date(2025, 2, 25), [(received, text) for text in texts])

    result = bybit.read_liquidations(tmp_path, date(2025, 2, 25), date(2025, 2, 26))

    assert result.table["symbol"].to_pylist() == ["PIPPINUSDT"]
    assert len(old_topic) == 7 and len(result.rejects) == len(old_topic)
    assert {r["reason"].split(" (")[0] for r in result.rejects} == {"not an allLiquidation message"}
    assert [r["raw"] for r in result.rejects] == texts[2:]
    (source,) = result.sources
    assert source.uri == "ws/bybit/allLiquidation/2025-02-25/seg-0.jsonl.gz"


NOON = _ms(datetime(2025, 10, 10, 12))


def _message(**changes) -> dict:
    event = {"T": NOON, "s": "BTCUSDT", "S": "Buy", "v": "0.5", "p": "104000.5"}
    event.update(changes)
    return {
        "topic": "allLiquidation.BTCUSDT",
        "type": "snapshot",
        "ts": NOON + 300,
        "data": [event],
    }


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"topic":"allLiquidation.BTCUSDT","data":[{"T":', "malformed JSON"),
        (json.dumps(_message(v="abc")), "field 'v' is not a number: 'abc'"),
        (json.dumps(_message(v="0")), "field 'v' must be > 0"),
        (json.dumps(_message(S="Long")), "field 'S' has unexpected value 'Long'"),
        (json.dumps(_message(s="ETHUSDT")), "does not match the topic's 'BTCUSDT'"),
        (json.dumps(_message(T=NOON // 1000)), "not a plausible epoch-ms timestamp"),
        (json.dumps(_message(T=_ms(date(2025, 10, 1)))), "outside this payload's span"),
        (json.dumps({**_message(), "data": {"T": NOON}}), "'data' is not an array"),
    ],
)
def test_bad_liquidation_messages_are_quarantined_with_their_reason(tmp_path, text, reason):
    good = json.dumps(_message())
    _write_day(tmp_path, date(2025, 10, 10), [(NOON + 400, good), (NOON + 400, text)])

    result = bybit.read_liquidations(tmp_path, date(2025, 10, 10), date(2025, 10, 11))

    assert result.table.num_rows == 1 and result.table["side"].to_pylist() == ["Buy"]
    (reject,) = result.rejects
    assert reason in reject["reason"] and reject["raw"] == text
    assert (reject["venue"], reject["dataset"]) == ("bybit", "liquidations")


def test_equal_liquidations_of_one_message_land_as_two_and_a_resent_message_adds_none(
    tmp_path, settings
):
    """Bybit gives liquidations no id: two equal ones pushed together are two liquidations
    (`repeat_index` 0 and 1); the same message received again is a copy."""
    message = _message()
    message["data"] = message["data"] * 2
    received = _ms(datetime(2025, 10, 10, 12, 0, 1))
    text_ = json.dumps(message)
    _write_day(tmp_path, date(2025, 10, 10), [(received, text_), (received, text_)])

    result = bybit.read_liquidations(tmp_path, date(2025, 10, 10), date(2025, 10, 11))
    landed = land_records(
        result.table,
        raw_dir=settings.raw_dir,
        manifest_dir=settings.manifest_dir,
        venue="bybit",
        dataset="liquidations",
        part="BTCUSDT",
        window_start=date(2025, 10, 10),
        window_end=date(2025, 10, 11),
    )

    rows = pq.read_table(landed[0].path).to_pylist()
    assert sorted(row["repeat_index"] for row in rows) == [0, 1]
    assert {(row["executed_qty"], row["bankruptcy_price"]) for row in rows} == {(0.5, 104000.5)}


def test_liquidation_received_after_midnight_lands_on_its_trade_day(tmp_path):
    late = _message(T=_ms(datetime(2025, 10, 10, 23, 59, 59, 800_000)))
    _write_day(
        tmp_path, date(2025, 10, 11), [(_ms(datetime(2025, 10, 11)) + 300, json.dumps(late))]
    )

    first = bybit.read_liquidations(tmp_path, date(2025, 10, 10), date(2025, 10, 11))
    second = bybit.read_liquidations(tmp_path, date(2025, 10, 11), date(2025, 10, 12))

    assert first.table.num_rows == 1 and second.table.num_rows == 0
    assert first.rejects == second.rejects == []


# -------------------------------------------------------------------- REST: fake server


@dataclass
class FakeBybit:
    """Answers like Bybit v5: an envelope with `retCode`, newest-first lists.

    Time-windowed paths (kline, funding) return rows with start <= t <= end, at most `limit`,
    the NEWEST of the range by default or the oldest with `from_start`. Cursor paths
    (open-interest, instruments-info) return `limit` rows per page and a `nextPageCursor`.
    `error` answers every request with (status, body).
    """

    series: dict[str, list[tuple[int, object]]]
    server_time: int = _ms(datetime(2026, 3, 1))
    from_start: bool = False
    error: tuple[int, bytes] | None = None
    calls: list[dict] = field(default_factory=list)

    def get(self, url: str, params=None) -> Response:
        params = {k: str(v) for k, v in (params or {}).items()}
        self.calls.append(params)
        if self.error is not None:
            return Response(url, params, self.error[0], {}, self.error[1], FETCHED_AT)
        path = urlsplit(url).path
        rows = sorted(self.series[path], key=lambda pair: pair[0], reverse=True)
        result = self._page(path, rows, params)
        body = {"retCode": 0, "retMsg": "OK", "result": result, "time": self.server_time}
        return Response(url, params, 200, {}, json.dumps(body).encode(), FETCHED_AT)

    def _page(self, path: str, rows: list[tuple[int, object]], params: dict) -> dict:
        limit = int(params["limit"])
        if path in (bybit.OPEN_INTEREST_PATH, bybit.INSTRUMENTS_PATH):
            if "startTime" in params:
                low, high = int(params["startTime"]), int(params["endTime"])
                rows = [pair for pair in rows if low <= pair[0] <= high]
            offset = int(params.get("cursor", "0"))
            more = offset + limit < len(rows)
            return {
                "symbol": params.get("symbol"),
                "list": [item for _, item in rows[offset : offset + limit]],
                "nextPageCursor": str(offset + limit) if more else "",
            }
        low_key, high_key = (
            ("start", "end") if path == bybit.KLINE_PATH else ("startTime", "endTime")
        )
        low, high = int(params[low_key]), int(params[high_key])
        inside = [pair for pair in rows if low <= pair[0] <= high]
        chosen = inside[-limit:] if self.from_start else inside[:limit]
        return {"symbol": params["symbol"], "list": [item for _, item in chosen]}


@pytest.fixture(scope="module")
def btc_hours(realdata: Path) -> list[tuple[int, list]]:
    """Real BTC 1h candles (Binance USD-M via freqtrade) in Bybit's kline row shape."""
    table = feather.read_table(
        realdata / "binance_usdm_futures_1h_freqtrade/BTC_USDT_USDT-1h-futures.feather"
    )
    times = table.column("date").cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64()).to_pylist()
    rows = table.drop_columns(["date"]).to_pylist()
    return [
        (t, [str(t), str(r["open"]), str(r["high"]), str(r["low"]), str(r["close"]),
             str(r["volume"]), str(round(r["volume"] * r["close"], 4))])
        for t, r in zip(times, rows, strict=True)
    ]  # fmt: skip


@pytest.mark.parametrize("from_start", [False, True])
def test_klines_cover_the_window_whichever_end_bybit_fills_pages_from(btc_hours, from_start):
    start, end = date(2025, 1, 1), date(2025, 4, 1)
    fake = FakeBybit({bybit.KLINE_PATH: btc_hours}, from_start=from_start)
    expected = [(t, float(row[4])) for t, row in btc_hours if _ms(start) <= t < _ms(end)]

    result = bybit.fetch_klines(fake, "BTCUSDT", "1h", start, end)

    assert result.table.schema == bybit.KLINES and result.rejects == []
    closes = result.table["close_price"].to_pylist()
    got = list(zip(_times(result.table, "open_time"), closes, strict=True))
    assert got == expected and len(got) == 90 * 24
    assert {(c["category"], c["interval"], c["limit"]) for c in fake.calls} == {
        ("linear", "60", "1000")
    }
    assert len(fake.calls) == 3  # spans of 1000 hours: never a truncated page
    assert max(int(c["end"]) for c in fake.calls) == _ms(end) - 1
    assert min(int(c["start"]) for c in fake.calls) == _ms(start)


def test_candle_still_open_at_bybit_time_does_not_land(btc_hours):
    day = date(2025, 3, 5)
    now = _ms(datetime(2025, 3, 5, 14, 20))  # the 14:00 candle is open
    fake = FakeBybit({bybit.KLINE_PATH: btc_hours}, server_time=now)

    result = bybit.fetch_klines(fake, "BTCUSDT", "1h", day, date(2025, 3, 6))

    assert _times(result.table, "open_time") == [_ms(day) + h * HOUR for h in range(14)]
    assert result.rejects == []


def test_daily_klines_ask_for_interval_d(btc_hours):
    days = [(t, row) for t, row in btc_hours if t % 86_400_000 == 0]
    fake = FakeBybit({bybit.KLINE_PATH: days})

    result = bybit.fetch_klines(fake, "BTCUSDT", "1d", date(2025, 2, 1), date(2025, 3, 1))

    assert result.table.num_rows == 28 and {c["interval"] for c in fake.calls} == {"D"}
    assert set(result.table["interval"].to_pylist()) == {"1d"}


def test_malformed_kline_rows_are_quarantined_and_the_rest_kept(btc_hours):
    day = date(2025, 3, 5)
    rows = [(t, row) for t, row in btc_hours if _ms(day) <= t < _ms(day) + 86_400_000]
    bad = {
        "x1": (rows[3][0], [rows[3][1][0], "abc", *rows[3][1][2:]]),
        "x2": (rows[5][0], rows[5][1][:5]),
        "x3": (rows[7][0], [rows[7][1][0], "1", "2", "0.5", "-1", "3", "4"]),
    }
    series = [pair for i, pair in enumerate(rows) if i not in (3, 5, 7)] + list(bad.values())
    fake = FakeBybit({bybit.KLINE_PATH: series})

    result = bybit.fetch_klines(fake, "BTCUSDT", "1h", day, date(2025, 3, 6))

    assert result.table.num_rows == 21
    reasons = sorted(r["reason"] for r in result.rejects)
    assert reasons == [
        "expected an array of 7 kline fields",
        "field 'close' must be > 0, got '-1'",
        "field 'open' is not a number: 'abc'",
    ]


def _oi_series(start: date, end: date, single: bool) -> list[tuple[int, dict]]:
    step = bybit.OPEN_INTEREST_STEP_MS
    series = []
    for i, t in enumerate(range(_ms(start) - 10 * step, _ms(end) + 10 * step, step)):
        item = {"openInterest": f"{60000 + i}.5", "timestamp": str(t)}
        if single:
            item["singleOpenInterest"] = f"{(60000 + i) / 2 + 0.25}"
        series.append((t, item))
    return series


@pytest.mark.parametrize("single", [False, True])
def test_open_interest_follows_the_cursor_over_the_window(single):
    start, end = date(2025, 10, 9), date(2025, 10, 12)
    fake = FakeBybit({bybit.OPEN_INTEREST_PATH: _oi_series(start, end, single)})

    result = bybit.fetch_open_interest(fake, "BTCUSDT", start, end)

    step = bybit.OPEN_INTEREST_STEP_MS
    assert _times(result.table, "snapshot_at") == list(range(_ms(start), _ms(end), step))
    assert result.rejects == [] and len(fake.calls) == 5  # 864 snapshots, 200 per page
    assert [c.get("cursor") for c in fake.calls] == [None, "200", "400", "600", "800"]
    assert {(c["intervalTime"], c["limit"]) for c in fake.calls} == {("5min", "200")}
    assert {(c["startTime"], c["endTime"]) for c in fake.calls} == {
        (str(_ms(start)), str(_ms(end) - 1))
    }
    singles = result.table["single_open_interest_base"]
    assert singles.null_count == (0 if single else result.table.num_rows)


def test_a_cursor_that_comes_back_is_a_paging_error():
    class Looping(FakeBybit):
        def _page(self, path, rows, params):
            page = super()._page(path, rows, params)
            return {**page, "nextPageCursor": "200"}  # always the second page again

    fake = Looping(
        {bybit.OPEN_INTEREST_PATH: _oi_series(date(2025, 10, 9), date(2025, 10, 10), False)}
    )
    with pytest.raises(PagingError, match="cursor '200' repeated"):
        bybit.fetch_open_interest(fake, "BTCUSDT", date(2025, 10, 9), date(2025, 10, 10))


def test_funding_is_walked_backwards_by_end_time(realdata):
    table = feather.read_table(
        realdata / "binance_usdm_futures_1h_freqtrade/BTC_USDT_USDT-1h-funding_rate.feather"
    )
    times = table.column("date").cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64()).to_pylist()
    rates = table.column("open").to_pylist()
    series = [
        (t, {"symbol": "BTCUSDT", "fundingRate": f"{r:.8f}", "fundingRateTimestamp": str(t)})
        for t, r in zip(times, rates, strict=True)
    ]
    start, end = date(2025, 1, 1), date(2025, 4, 1)
    fake = FakeBybit({bybit.FUNDING_HISTORY_PATH: series})

    result = bybit.fetch_funding(fake, "BTCUSDT", start, end)

    expected = [t for t in times if _ms(start) <= t < _ms(end)]
    assert _times(result.table, "funding_time") == expected and result.rejects == []
    ends = [int(c["endTime"]) for c in fake.calls]
    assert ends[0] == _ms(end) - 1 and ends == sorted(ends, reverse=True)
    assert all("startTime" in c and c["limit"] == "200" for c in fake.calls)
    assert len(fake.calls) == 11  # 2160 hours in spans of 200


def test_instruments_follow_the_cursor_through_the_real_list(linear_instruments):
    url, body_text = linear_instruments
    items = json.loads(body_text)["result"]["list"]
    fake = FakeBybit({bybit.INSTRUMENTS_PATH: list(enumerate(reversed(items)))})

    result = bybit.fetch_instruments(fake, rest_base="https://api.bybit.com")

    assert sorted(result.table["symbol"].to_pylist()) == sorted(i["symbol"] for i in items)
    assert [c.get("cursor") for c in fake.calls] == [None]  # 800 fit one page of 1000
    assert len(result.sources) == 1 and result.rejects == []


# ---------------------------------------------------------------------- errors, replay


def test_ret_code_error_raises_with_bybits_message():
    body = {"retCode": 10001, "retMsg": "params error: symbol invalid", "result": {}, "time": 1}
    fake = FakeBybit({}, error=(200, json.dumps(body).encode()))
    with pytest.raises(ExchangeAPIError, match=r"10001 \(params error: symbol invalid\)") as caught:
        bybit.fetch_funding(fake, "NOPEUSDT", date(2026, 1, 1), date(2026, 1, 2))
    assert isinstance(caught.value, TransportError) and caught.value.code == 10001


def test_http_error_without_an_envelope_names_the_status():
    fake = FakeBybit({}, error=(403, b"<html>403 ERROR The request could not be satisfied</html>"))
    with pytest.raises(TransportError, match="HTTP 403"):
        bybit.fetch_open_interest(fake, "BTCUSDT", date(2026, 1, 1), date(2026, 1, 2))


def test_body_that_is_not_an_envelope_raises():
    with pytest.raises(PayloadFormatError, match="not JSON"):
        bybit.parse_funding_page(b"<html>502</html>", "BTCUSDT", "test://html")
    with pytest.raises(PayloadFormatError, match="not a Bybit envelope"):
        bybit.parse_funding_page(b"[]", "BTCUSDT", "test://list")


def test_symbols_that_are_not_plain_tokens_are_refused_before_any_request():
    fake = FakeBybit({})
    with pytest.raises(ValueError, match="not a plain token"):
        bybit.fetch_klines(fake, "../BTCUSDT", "1h", date(2026, 1, 1), date(2026, 1, 2))
    assert fake.calls == []


@dataclass
class Retaining:
    """Keeps every answer under `root`, as the live transport does with `retain_dir`."""

    inner: FakeBybit
    root: Path

    def get(self, url: str, params=None) -> Response:
        response = self.inner.get(url, params)
        retain(self.root, response)
        return response


def test_retained_pages_replay_to_the_same_rows(tmp_path, btc_hours):
    start, end = date(2025, 1, 1), date(2025, 3, 1)
    live = bybit.fetch_klines(
        Retaining(FakeBybit({bybit.KLINE_PATH: btc_hours}), tmp_path), "BTCUSDT", "1h", start, end
    )

    replayed = bybit.fetch_klines(ReplayTransport(tmp_path), "BTCUSDT", "1h", start, end)

    assert replayed.table.equals(live.table) and replayed.table.num_rows == 59 * 24
    assert replayed.sources == live.sources
    page = next((tmp_path / "api.bybit.com/v5/market/kline").glob("*.json.gz"))
    envelope = json.loads(gzip.decompress(page.read_bytes()))
    assert envelope["request"]["params"]["category"] == "linear"


def test_retained_error_page_replays_as_the_same_error(tmp_path):
    body = json.dumps({"retCode": 10001, "retMsg": "Illegal category", "result": {}}).encode()
    live = Retaining(FakeBybit({}, error=(200, body)), tmp_path)
    day, next_day = date(2026, 1, 1), date(2026, 1, 2)
    with pytest.raises(ExchangeAPIError):
        bybit.fetch_funding(live, "BTCUSDT", day, next_day)
    with pytest.raises(ExchangeAPIError, match="Illegal category"):
        bybit.fetch_funding(ReplayTransport(tmp_path), "BTCUSDT", day, next_day)
