"""OKX v5 SWAP connector against real messages and a fake server that pages like OKX.

Real data (`<shared>/realdata`, see PROVENANCE.md): the `liquidation-orders` push and the
REST-polled `liquidations` messages kept by tardis-node, and real BTC hourly candles and
funding (Binance USD-M via freqtrade) as market-realistic values for the REST pages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pyarrow as pa
import pyarrow.feather as feather
import pytest

from include.cryptodw.sources import okx, venues
from include.cryptodw.sources.common import ExchangeAPIError, PayloadFormatError
from include.cryptodw.transport import (
    HttpTransport,
    RateLimiter,
    ReplayTransport,
    Response,
    RetryableHTTPError,
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


# ------------------------------------------------------------------ real liquidations


@pytest.fixture(scope="module")
def tardis_okx(realdata: Path) -> list[dict]:
    path = realdata / "api_fixtures/tardis_node_mappers_test_derivatives_messages.json"
    return [e["message"] for e in json.loads(path.read_text()) if "okex" in e["tardis_test"]]


@pytest.fixture(scope="module")
def liquidation_push(tardis_okx) -> dict:
    """The real `liquidation-orders` push (XRP-USD-230929, FUTURES, 2023-03-30)."""
    (push,) = [m for m in tardis_okx if m.get("arg", {}).get("channel") == "liquidation-orders"]
    return push


def _as_swap(push: dict, **detail_changes) -> dict:
    """The real push as the SWAP channel sends it (instrument renamed, details kept)."""
    item = dict(push["data"][0], instType="SWAP", instId="XRP-USD-SWAP")
    item["details"] = [dict(d, **detail_changes) for d in item["details"]]
    return {"arg": {"channel": "liquidation-orders", "instType": "SWAP"}, "data": [item]}


def test_real_push_keeps_order_side_position_side_and_contracts(liquidation_push):
    text = json.dumps(liquidation_push)

    result = okx.parse_liquidation_message(text, 1680173247700, "test://t", inst_type="FUTURES")

    assert result.table.schema == okx.LIQUIDATIONS and result.rejects == []
    (row,) = result.table.to_pylist()
    detail = liquidation_push["data"][0]["details"][0]
    assert (row["inst_type"], row["inst_family"], row["inst_id"]) == (
        "FUTURES", "XRP-USD", "XRP-USD-230929",
    )  # fmt: skip
    # buy order closing a SHORT position; staging uses pos_side (and side when it is net)
    assert (row["side"], row["pos_side"]) == ("buy", "short")
    assert row["qty_contracts"] == float(detail["sz"]) == 39.0  # contracts, not coins
    assert row["bankruptcy_price"] == float(detail["bkPx"])
    assert row["bankruptcy_loss"] == 0.0 and row["loss_ccy"] is None
    assert _ms(row["trade_time"]) == int(detail["ts"])
    assert _ms(row["received_at"]) == 1680173247700


def _write_day(root: Path, day: date, messages: list[tuple[int, str]], name: str = "seg-0") -> None:
    write_ws_segment(root, "okx", "liquidation-orders", day, name, messages)


def test_swap_recording_quarantines_other_instrument_types_and_channels(
    tmp_path, liquidation_push, tardis_okx
):
    polled = [m for m in tardis_okx if m.get("arg", {}).get("channel") == "liquidations"]
    day = date(2023, 3, 30)
    received = int(liquidation_push["data"][0]["details"][0]["ts"]) + 80
    texts = [json.dumps(liquidation_push), *(json.dumps(m) for m in polled)]
    _write_day(tmp_path, day, [(received, text) for text in texts])

    result = okx.read_liquidations(tmp_path, day, date(2023, 3, 31))

    assert result.table.num_rows == 0 and len(polled) == 2
    reasons = [r["reason"] for r in result.rejects]
    assert reasons[0] == "instType 'FUTURES' is not 'SWAP'"
    assert reasons[1:] == ["not a liquidation-orders message (channel 'liquidations')"] * 2
    assert [r["raw"] for r in result.rejects] == texts


def test_repushed_liquidations_collapse_but_twins_in_one_push_stay(tmp_path, liquidation_push):
    day = date(2023, 3, 30)
    push = _as_swap(liquidation_push)
    twins = _as_swap(liquidation_push, ts="1680173250000")
    twins["data"][0]["details"] *= 2  # two equal liquidations in the same millisecond
    subscribed = {"event": "subscribe", "arg": push["arg"], "connId": "a4d3ae55"}
    received = _ms(day) + 23 * HOUR
    first = [json.dumps(subscribed), json.dumps(push), json.dumps(twins), "pong"]
    second = [json.dumps(push), json.dumps(twins)]  # a second recorder, same pushes
    _write_day(tmp_path, day, [(received, text) for text in first], name="rec-a")
    _write_day(tmp_path, day, [(received + 5, text) for text in second], name="rec-b")

    result = okx.read_liquidations(tmp_path, day, date(2023, 3, 31))

    assert result.rejects == [] and len(result.sources) == 2
    assert _times(result.table, "trade_time") == [1680173247614, 1680173250000, 1680173250000]
    assert set(result.table["inst_id"].to_pylist()) == {"XRP-USD-SWAP"}
    assert set(result.table["_source"].to_pylist()) == {
        "ws/okx/liquidation-orders/2023-03-30/rec-a.jsonl.gz"
    }


NOON = _ms(datetime(2025, 10, 10, 12))


def _push(**detail_changes) -> dict:
    detail = {"bkLoss": "0", "bkPx": "104000.5", "ccy": "", "posSide": "long", "side": "sell",
              "sz": "12", "ts": str(NOON)}  # fmt: skip
    detail.update(detail_changes)
    item = {"details": [detail], "instFamily": "BTC-USDT", "instId": "BTC-USDT-SWAP",
            "instType": "SWAP", "uly": "BTC-USDT"}  # fmt: skip
    return {"arg": {"channel": "liquidation-orders", "instType": "SWAP"}, "data": [item]}


def test_equal_details_of_one_push_are_numbered_apart():
    """OKX gives liquidations no id: two equal details in one push are two liquidations, kept
    apart by `repeat_index` so the lake does not collapse them as copies."""
    push = _push()
    push["data"][0]["details"] *= 2
    other = _push(sz="3")["data"][0]
    push["data"].append(other)

    result = okx.parse_liquidation_message(json.dumps(push), NOON + 50, "test://t")

    rows = result.table.to_pylist()
    assert [(row["qty_contracts"], row["repeat_index"]) for row in rows] == [
        (12.0, 0),
        (12.0, 1),
        (3.0, 0),
    ]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"arg":{"channel":"liquidation-orders"},"data":[{"details":[', "malformed JSON"),
        (json.dumps(_push(sz="abc")), "field 'sz' is not a number: 'abc'"),
        (json.dumps(_push(bkPx="0")), "field 'bkPx' must be > 0"),
        (json.dumps(_push(posSide="both")), "field 'posSide' has unexpected value 'both'"),
        (json.dumps(_push(ts=str(NOON // 1000))), "not a plausible epoch-ms timestamp"),
        (json.dumps({"event": "error", "code": "60012", "msg": "Invalid request"}), "60012"),
        (json.dumps({**_push(), "data": [{"instType": "SWAP"}]}), "no 'details' array"),
    ],
)
def test_bad_pushes_are_quarantined_with_their_reason(tmp_path, text, reason):
    good = json.dumps(_push())
    _write_day(tmp_path, date(2025, 10, 10), [(NOON + 90, good), (NOON + 95, text)])

    result = okx.read_liquidations(tmp_path, date(2025, 10, 10), date(2025, 10, 11))

    assert result.table.num_rows == 1
    (reject,) = result.rejects
    assert reason in reject["reason"] and reject["raw"] == text
    assert (reject["venue"], reject["dataset"]) == ("okx", "liquidations")


# ------------------------------------------------------------------ REST: fake server


@dataclass
class FakeOKX:
    """Answers like OKX v5: `{"code": "0", "data": [...]}`, newest first.

    History paths return rows with lower < t < upper (both exclusive, `after`/`end` = upper,
    `before`/`begin` = lower), the newest `limit` of them. `liquidation-orders` counts
    `details` against the limit. `error` answers every request with (status, body).
    """

    series: dict[str, list[tuple[int, object]]]
    error: tuple[int, bytes] | None = None
    calls: list[dict] = field(default_factory=list)

    def get(self, url: str, params=None) -> Response:
        params = {k: str(v) for k, v in (params or {}).items()}
        self.calls.append(params)
        if self.error is not None:
            return Response(url, params, self.error[0], {}, self.error[1], FETCHED_AT)
        path = urlsplit(url).path
        upper = int(params.get("after", params.get("end", 2**62)))
        lower = int(params.get("before", params.get("begin", -1)))
        rows = sorted(self.series[path], key=lambda pair: pair[0], reverse=True)
        chosen = [item for t, item in rows if lower < t < upper][: int(params.get("limit", 100))]
        if path == okx.LIQUIDATION_ORDERS_PATH:
            family = params["uly"]
            chosen = [{"details": chosen, "instFamily": family, "instType": "SWAP", "uly": family}]
        body = {"code": "0", "msg": "", "data": chosen}
        return Response(url, params, 200, {}, json.dumps(body).encode(), FETCHED_AT)


@pytest.fixture(scope="module")
def btc_hours(realdata: Path) -> list[tuple[int, dict]]:
    table = feather.read_table(
        realdata / "binance_usdm_futures_1h_freqtrade/BTC_USDT_USDT-1h-futures.feather"
    )
    times = table.column("date").cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64()).to_pylist()
    return list(zip(times, table.drop_columns(["date"]).to_pylist(), strict=True))


def _candle(t: int, row: dict, confirm: str = "1") -> list[str]:
    volume, close = row["volume"], row["close"]
    prices = [str(row[k]) for k in ("open", "high", "low", "close")]
    volumes = [str(round(volume / 0.01)), str(volume), str(round(volume * close, 2))]
    return [str(t), *prices, *volumes, confirm]


def test_candles_walk_back_from_the_window_end_and_skip_the_open_one(btc_hours):
    start, end = date(2025, 1, 1), date(2025, 2, 1)
    now = _ms(datetime(2025, 1, 31, 20, 30))
    series = [(t, _candle(t, row, "1" if t + HOUR <= now else "0")) for t, row in btc_hours]
    fake = FakeOKX({okx.CANDLES_PATH: [(t, c) for t, c in series if t <= now]})

    result = okx.fetch_klines(fake, "BTC-USDT-SWAP", "1h", start, end)

    expected = [(t, row["close"]) for t, row in btc_hours if _ms(start) <= t < now - HOUR + 1]
    closes = result.table["close_price"].to_pylist()
    assert list(zip(_times(result.table, "open_time"), closes, strict=True)) == expected
    assert result.rejects == [] and len(expected) == 30 * 24 + 20
    first = result.table.to_pylist()[0]
    assert first["volume_contracts"] == round(first["volume_base"] / 0.01)
    afters = [int(c["after"]) for c in fake.calls]
    assert afters[0] == _ms(end) and afters == sorted(afters, reverse=True)
    assert {(c["bar"], c["before"], c["limit"]) for c in fake.calls} == {
        ("1H", str(_ms(start) - 1), "100")
    }
    assert len(fake.calls) == 8  # 741 rows from the window's end back, 100 per page


def test_daily_candles_ask_for_the_utc_bar(btc_hours):
    days = [(t, _candle(t, row)) for t, row in btc_hours if t % 86_400_000 == 0]
    fake = FakeOKX({okx.CANDLES_PATH: days})

    result = okx.fetch_klines(fake, "BTC-USDT-SWAP", "1d", date(2025, 3, 1), date(2025, 4, 1))

    assert result.table.num_rows == 31 and {c["bar"] for c in fake.calls} == {"1Dutc"}
    assert all(t % 86_400_000 == 0 for t in _times(result.table, "open_time"))


def test_open_interest_keeps_contracts_coin_and_usd():
    start, end = date(2025, 10, 9), date(2025, 10, 11)
    step = 5 * 60_000
    series = [
        (t, [str(t), str(2_500_000 + i), f"{(2_500_000 + i) / 100}", f"{(2_500_000 + i) * 1100}"])
        for i, t in enumerate(range(_ms(start) - 20 * step, _ms(end) + 20 * step, step))
    ]
    fake = FakeOKX({okx.OPEN_INTEREST_PATH: series})

    result = okx.fetch_open_interest(fake, "BTC-USDT-SWAP", start, end)

    assert _times(result.table, "snapshot_at") == list(range(_ms(start), _ms(end), step))
    row = result.table.to_pylist()[0]
    assert row["open_interest_coin"] == row["open_interest_contracts"] / 100
    assert row["open_interest_usd"] == row["open_interest_contracts"] * 1100
    assert {c["period"] for c in fake.calls} == {"5m"} and "end" in fake.calls[0]
    assert len(fake.calls) == 6 and result.rejects == []


def test_funding_lands_the_realized_rate_not_the_predicted_one(realdata):
    table = feather.read_table(
        realdata / "binance_usdm_futures_1h_freqtrade/BTC_USDT_USDT-1h-funding_rate.feather"
    )
    times = table.column("date").cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64()).to_pylist()
    rates = table.column("open").to_pylist()
    series = [
        (t, {"instType": "SWAP", "instId": "BTC-USDT-SWAP", "formulaType": "withRate",
             "fundingRate": f"{r * 3:.8f}", "realizedRate": f"{r:.8f}", "fundingTime": str(t),
             "method": "current_period"})
        for t, r in zip(times, rates, strict=True)
    ]  # fmt: skip
    start, end = date(2025, 1, 1), date(2025, 4, 1)
    fake = FakeOKX({okx.FUNDING_HISTORY_PATH: series})

    result = okx.fetch_funding(fake, "BTC-USDT-SWAP", start, end)

    expected = [(t, float(f"{r:.8f}")) for t, r in zip(times, rates, strict=True)
                if _ms(start) <= t < _ms(end)]  # fmt: skip
    realized = result.table["realized_rate"].to_pylist()
    got = list(zip(_times(result.table, "funding_time"), realized, strict=True))
    assert got == expected and result.rejects == []
    assert result.table["predicted_rate"][0].as_py() == pytest.approx(3 * expected[0][1])
    assert len(fake.calls) == 3  # 270 settlements, 100 per page


def test_funding_row_without_a_realized_rate_is_quarantined():
    page = {"code": "0", "msg": "", "data": [
        {"instId": "BTC-USDT-SWAP", "fundingRate": "0.0001", "realizedRate": "",
         "fundingTime": str(NOON)},
        {"instId": "ETH-USDT-SWAP", "fundingRate": "0.0001", "realizedRate": "0.0001",
         "fundingTime": str(NOON)},
    ]}  # fmt: skip

    result = okx.parse_funding_page(json.dumps(page).encode(), "BTC-USDT-SWAP", "test://f")

    assert result.table.num_rows == 0
    assert [r["reason"] for r in result.rejects] == [
        "field 'realizedRate' is empty",
        "instId 'ETH-USDT-SWAP' does not match the requested 'BTC-USDT-SWAP'",
    ]


def test_instruments_keep_contract_values_and_allow_blanks_only_before_listing():
    live = {"instType": "SWAP", "instId": "BTC-USDT-SWAP", "instFamily": "BTC-USDT",
            "uly": "BTC-USDT", "settleCcy": "USDT", "ctVal": "0.01", "ctMult": "1",
            "ctValCcy": "BTC", "ctType": "linear", "state": "live", "listTime": "1573557408000",
            "expTime": "", "tickSz": "0.1", "lotSz": "0.01", "minSz": "0.01"}  # fmt: skip
    preopen = dict(live, instId="NEW-USDT-SWAP", instFamily="NEW-USDT", state="preopen",
                   ctVal="", ctMult="", ctValCcy="", tickSz="", lotSz="", minSz="")  # fmt: skip
    broken = dict(live, instId="ETH-USDT-SWAP", instFamily="ETH-USDT", ctVal="")
    body = {"code": "0", "msg": "", "data": [live, preopen, broken]}
    fake = FakeOKX({}, error=(200, json.dumps(body).encode()))

    result = okx.fetch_instruments(fake)

    rows = {row["inst_id"]: row for row in result.table.to_pylist()}
    assert rows["BTC-USDT-SWAP"]["ct_val"] == 0.01 and rows["BTC-USDT-SWAP"]["ct_val_ccy"] == "BTC"
    assert rows["BTC-USDT-SWAP"]["exp_time"] is None
    assert rows["NEW-USDT-SWAP"]["ct_val"] is None and rows.keys() == {
        "BTC-USDT-SWAP", "NEW-USDT-SWAP",
    }  # fmt: skip
    (reject,) = result.rejects
    assert reject["reason"] == "field 'ctVal' is empty"
    assert fake.calls == [{"instType": "SWAP"}]
    assert _ms(rows["BTC-USDT-SWAP"]["snapshot_at"]) == _ms(FETCHED_AT)


# ------------------------------------------------------- REST liquidations, back-stop


def _details(times: list[int]) -> list[tuple[int, dict]]:
    return [
        (t, {"bkLoss": "0", "bkPx": f"{60000 + i}", "ccy": "", "posSide": "long", "side": "sell",
             "sz": "3", "ts": str(t)})
        for i, t in enumerate(times)
    ]  # fmt: skip


def test_rest_back_stop_pages_back_without_losing_a_shared_millisecond():
    day = date(2025, 10, 10)
    times = [_ms(day) - 60_000 * k for k in range(1, 6)]  # the day before: not this window
    times += [_ms(day) + 300_000 * k for k in range(250)]
    times[-101] = times[-100]  # two liquidations in the millisecond the first page ends at
    fake = FakeOKX({okx.LIQUIDATION_ORDERS_PATH: _details(times)})

    result = okx.fetch_liquidation_orders(fake, "BTC-USDT", day, date(2025, 10, 11))

    assert result.rejects == []
    assert sorted(_times(result.table, "trade_time")) == sorted(t for t in times if t >= _ms(day))
    assert result.table["received_at"].null_count == result.table.num_rows
    afters = [int(c["after"]) for c in fake.calls]
    assert afters[0] == _ms(date(2025, 10, 11)) and len(afters) == 3
    assert afters[1] == sorted(times)[-100] + 1  # the next page starts AT the oldest time
    assert {(c["instType"], c["state"], c["uly"]) for c in fake.calls} == {
        ("SWAP", "filled", "BTC-USDT")
    }
    assert len(result.sources) == 3


def test_websocket_and_rest_copies_of_a_liquidation_merge_once(tmp_path):
    day = date(2025, 10, 10)
    pushes = [_push(ts=str(NOON)), _push(ts=str(NOON + 1000), sz="7")]
    _write_day(tmp_path, day, [(NOON + 2000, json.dumps(p)) for p in pushes])
    missed = {"bkLoss": "0", "bkPx": "103000", "ccy": "", "posSide": "short", "side": "buy",
              "sz": "2", "ts": str(NOON + 500)}  # fmt: skip
    rest_details = [p["data"][0]["details"][0] for p in pushes] + [missed]
    fake = FakeOKX({okx.LIQUIDATION_ORDERS_PATH: [(int(d["ts"]), d) for d in rest_details]})

    ws = okx.read_liquidations(tmp_path, day, date(2025, 10, 11))
    rest = okx.fetch_liquidation_orders(fake, "BTC-USDT", day, date(2025, 10, 11))
    merged = okx.merge_liquidations(ws, rest)

    assert ws.table.num_rows == 2 and rest.table.num_rows == 3
    assert _times(merged.table, "trade_time") == [NOON, NOON + 500, NOON + 1000]
    received = merged.table["received_at"].to_pylist()
    assert [r is not None for r in received] == [True, False, True]  # websocket copies kept
    assert len(merged.sources) == len(ws.sources) + len(rest.sources)


# ------------------------------------------------------------------- errors, replay


def test_error_code_raises_with_okx_message():
    body = {"code": "51001", "msg": "Instrument ID does not exist", "data": []}
    fake = FakeOKX({}, error=(200, json.dumps(body).encode()))
    with pytest.raises(ExchangeAPIError, match=r"51001 \(Instrument ID does not exist\)") as caught:
        okx.fetch_funding(fake, "NOPE-USDT-SWAP", date(2026, 1, 1), date(2026, 1, 2))
    assert isinstance(caught.value, TransportError) and caught.value.code == "51001"


def test_rate_limit_body_on_an_http_error_names_okx_code():
    body = {"code": "50011", "msg": "Too Many Requests", "data": []}
    fake = FakeOKX({}, error=(429, json.dumps(body).encode()))
    with pytest.raises(ExchangeAPIError, match="50011"):
        okx.fetch_open_interest(fake, "BTC-USDT-SWAP", date(2026, 1, 1), date(2026, 1, 2))
    with pytest.raises(TransportError, match="HTTP 502"):
        okx.fetch_klines(
            FakeOKX({}, error=(502, b"<html>bad gateway</html>")),
            "BTC-USDT-SWAP", "1h", date(2026, 1, 1), date(2026, 1, 2),
        )  # fmt: skip


RATE_LIMITED = json.dumps({"code": "50011", "msg": "Too Many Requests", "data": []}).encode()


def test_rate_limit_code_is_retried_with_backoff_whatever_the_http_status(tmp_path):
    """OKX says 50011 with HTTP 200 as well as 429: the live transport backs off and asks
    again, and only the real answer is parsed and retained (a replay never sees 50011)."""
    funding = {"instId": "BTC-USDT-SWAP", "fundingRate": "0.0001", "realizedRate": "0.0002",
               "fundingTime": str(NOON)}  # fmt: skip
    replies = [
        httpx.Response(200, content=RATE_LIMITED),
        httpx.Response(429, content=RATE_LIMITED),
        httpx.Response(200, json={"code": "0", "msg": "", "data": [funding]}),
    ]
    calls: list[httpx.Request] = []

    def reply(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return replies[min(len(calls), len(replies)) - 1]

    sleeps: list[float] = []
    transport = HttpTransport(
        limiter=RateLimiter(min_interval_s=0.0, sleep=sleeps.append),
        retain_dir=tmp_path,
        client=httpx.Client(transport=httpx.MockTransport(reply)),
        sleep=sleeps.append,
        retry_on_body=venues.venue("okx", ()).retry_on_body,
    )

    day, next_day = date(2025, 10, 10), date(2025, 10, 11)
    result = okx.fetch_funding(transport, "BTC-USDT-SWAP", day, next_day)

    assert result.table["realized_rate"].to_pylist() == [0.0002]
    assert len(calls) == 3  # 50011 twice, then the page (a short page ends the walk)
    assert len(sleeps) == 2 and all(0 <= s <= 60 for s in sleeps)  # exponential, with jitter
    replayed = okx.fetch_funding(ReplayTransport(tmp_path), "BTC-USDT-SWAP", day, next_day)
    assert replayed.table.equals(result.table)


def test_rate_limit_code_ends_in_a_retryable_error_naming_it():
    """Past the attempt budget, or read from a body directly, 50011 is a retryable exchange
    error (the Airflow task's own retries take over), never rows silently missing."""
    transport = HttpTransport(
        limiter=RateLimiter(min_interval_s=0.0, sleep=lambda _: None),
        client=httpx.Client(transport=httpx.MockTransport(
            lambda request: httpx.Response(200, content=RATE_LIMITED)
        )),
        sleep=lambda _: None,
        max_attempts=3,
        retry_on_body=okx.rate_limit_reason,
    )  # fmt: skip
    with pytest.raises(RetryableHTTPError, match=r"OKX 50011 \(Too Many Requests\)"):
        okx.fetch_instruments(transport)
    with pytest.raises(okx.RateLimitedError, match="50011") as caught:
        okx.data_of(RATE_LIMITED, "test://limited")
    assert isinstance(caught.value, ExchangeAPIError | RetryableHTTPError)
    assert isinstance(caught.value, ExchangeAPIError) and caught.value.retry_after is None
    assert okx.rate_limit_reason(b'{"code": "51001", "msg": "no such instrument"}') is None
    assert okx.rate_limit_reason(b"<html>busy</html>") is None


def test_body_that_is_not_an_envelope_raises():
    with pytest.raises(PayloadFormatError, match="not JSON"):
        okx.parse_candles_page(b"<html>", "BTC-USDT-SWAP", "1h", "test://html")
    with pytest.raises(PayloadFormatError, match="'data' is not an array"):
        okx.parse_candles_page(b'{"code":"0","data":{}}', "BTC-USDT-SWAP", "1h", "test://obj")


def test_instrument_ids_that_are_not_plain_are_refused_before_any_request():
    fake = FakeOKX({})
    for bad in ("../BTC-USDT-SWAP", "BTCUSDT", "BTC-USDT-SWAP?x=1"):
        with pytest.raises(ValueError, match="not an OKX instrument id"):
            okx.fetch_funding(fake, bad, date(2026, 1, 1), date(2026, 1, 2))
    assert fake.calls == []


@dataclass
class Retaining:
    """Keeps every answer under `root`, as the live transport does with `retain_dir`."""

    inner: FakeOKX
    root: Path

    def get(self, url: str, params=None) -> Response:
        response = self.inner.get(url, params)
        retain(self.root, response)
        return response


def test_retained_pages_replay_to_the_same_rows(tmp_path, btc_hours):
    series = [(t, _candle(t, row)) for t, row in btc_hours]
    start, end = date(2025, 2, 1), date(2025, 2, 10)
    live = okx.fetch_klines(
        Retaining(FakeOKX({okx.CANDLES_PATH: series}), tmp_path), "BTC-USDT-SWAP", "1h", start, end
    )

    replayed = okx.fetch_klines(ReplayTransport(tmp_path), "BTC-USDT-SWAP", "1h", start, end)

    assert replayed.table.equals(live.table) and replayed.table.num_rows == 9 * 24
    assert replayed.sources == live.sources
    assert (tmp_path / "www.okx.com/api/v5/market/history-candles").is_dir()
