"""Each venue's own text for numbers, rows and messages, built from exact integer units.

Amounts travel through the simulator as integers in the instrument's units (a price of
"71481.90" is 7148190 with 2 decimals), so a daily candle is the exact sum of its minutes and
the archive file, the REST page and the websocket message of one event print the same digits.
The functions here are shared by the archive writer, the websocket recorders and the simulated
REST APIs.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

RATE_DECIMALS = 8  # funding rates and long/short ratios are printed with 8 decimals
METRICS_DECIMALS = 16  # the metrics archive pads open interest to 16 decimals


def to_units(value: float, decimals: int) -> int:
    """`value` as an integer count of 10**-decimals (round half to even)."""
    return int(round(value * 10**decimals))


def fixed(units: int, decimals: int, pad_to: int | None = None) -> str:
    """Integer units as a plain decimal string with exactly `decimals` (or `pad_to`) digits."""
    if pad_to is not None and pad_to > decimals:
        units *= 10 ** (pad_to - decimals)
        decimals = pad_to
    sign = "-" if units < 0 else ""
    digits = str(abs(units))
    if decimals == 0:
        return sign + digits
    digits = digits.rjust(decimals + 1, "0")
    return f"{sign}{digits[:-decimals]}.{digits[-decimals:]}"


def trimmed(units: int, decimals: int) -> str:
    """Integer units as the shortest plain decimal: 10000 at 8 decimals -> "0.0001"."""
    text = fixed(units, decimals)
    return text.rstrip("0").rstrip(".") if "." in text else text


def quotient(units: int, divisor: int) -> str:
    """`units` / `divisor` as an exact, shortest plain decimal (OKX contracts from base units).

    The divisors are powers of ten, so the quotient always terminates.
    """
    value = Decimal(units) / Decimal(divisor)
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def java_decimal(units: int, scale: int) -> str:
    """Java `BigDecimal.toString()` of unscaled `units` at `scale`, as the funding archive prints.

    Plain notation unless the adjusted exponent is below -6: 0.0001 -> "0.00010000",
    0 -> "0E-8", 1e-7 as 10 units -> "1.0E-7".
    """
    digits = str(abs(units))
    adjusted = -scale + len(digits) - 1
    if adjusted >= -6:
        return fixed(units, scale)
    sign = "-" if units < 0 else ""
    mantissa = digits[0] + (f".{digits[1:]}" if len(digits) > 1 else "")
    return f"{sign}{mantissa}E{adjusted}"


def datetime_text(ms: int) -> str:
    """`2026-01-01 00:05:00`: the metrics archive's `create_time` (UTC, no offset)."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def compact_json(payload: object) -> str:
    """JSON as Binance serialises it: no spaces."""
    return json.dumps(payload, separators=(",", ":"))


# ------------------------------------------------------------------------------- klines

KLINES_HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
    "taker_buy_volume,taker_buy_quote_volume,ignore"
)


def kline_fields(
    row: tuple[int, ...], interval_ms: int, price_decimals: int, qty_decimals: int
) -> list[object]:
    """One candle in Binance's order: ms ints, decimal strings, trade count, "0".

    `row` = (open_ms, open, high, low, close, volume, quote_volume, count, taker_buy_volume,
    taker_buy_quote_volume) in integer units.
    """
    open_ms, op, hi, lo, cl, vol, quote, count, buy_vol, buy_quote = row
    quote_decimals = price_decimals + qty_decimals
    return [
        int(open_ms),
        fixed(op, price_decimals),
        fixed(hi, price_decimals),
        fixed(lo, price_decimals),
        fixed(cl, price_decimals),
        fixed(vol, qty_decimals),
        int(open_ms) + interval_ms - 1,
        fixed(quote, quote_decimals),
        int(count),
        fixed(buy_vol, qty_decimals),
        fixed(buy_quote, quote_decimals),
        "0",
    ]


def kline_csv_line(fields: list[object]) -> str:
    return ",".join(str(field) for field in fields)


# ------------------------------------------------------------------------------ metrics

METRICS_HEADER = (
    "create_time,symbol,sum_open_interest,sum_open_interest_value,"
    "count_toptrader_long_short_ratio,sum_toptrader_long_short_ratio,"
    "count_long_short_ratio,sum_taker_long_short_vol_ratio"
)


def metrics_csv_line(
    symbol: str,
    snapshot_ms: int,
    oi_units: int,
    qty_decimals: int,
    value_units: int,
    value_decimals: int,
    ratios_e8: tuple[int, int, int, int],
) -> str:
    """One 5-minute row of the daily `metrics` archive file."""
    ratios = ",".join(fixed(r, RATE_DECIMALS) for r in ratios_e8)
    return (
        f"{datetime_text(snapshot_ms)},{symbol},"
        f"{fixed(oi_units, qty_decimals, METRICS_DECIMALS)},"
        f"{fixed(value_units, value_decimals, METRICS_DECIMALS)},{ratios}"
    )


def open_interest_hist_item(
    symbol: str,
    snapshot_ms: int,
    oi_units: int,
    qty_decimals: int,
    value_units: int,
    value_decimals: int,
    circulating_supply: float,
) -> dict[str, object]:
    """One element of `GET /futures/data/openInterestHist`."""
    return {
        "symbol": symbol,
        "sumOpenInterest": fixed(oi_units, qty_decimals, RATE_DECIMALS),
        "sumOpenInterestValue": fixed(value_units, value_decimals, RATE_DECIMALS),
        "CMCCirculatingSupply": f"{circulating_supply:.6f}",
        "timestamp": int(snapshot_ms),
    }


# ------------------------------------------------------------------------------ funding

FUNDING_HEADER = "calc_time,funding_interval_hours,last_funding_rate"


def funding_csv_line(calc_ms: int, interval_hours: int, rate_e8: int) -> str:
    """One row of the monthly `fundingRate` archive file (rate in BigDecimal notation)."""
    return f"{calc_ms},{interval_hours},{java_decimal(rate_e8, RATE_DECIMALS)}"


def funding_rate_item(symbol: str, funding_ms: int, rate_e8: int, mark_price: float) -> dict:
    """One element of `GET /fapi/v1/fundingRate`."""
    return {
        "symbol": symbol,
        "fundingTime": int(funding_ms),
        "fundingRate": fixed(rate_e8, RATE_DECIMALS),
        "markPrice": f"{mark_price:.8f}",
    }


# --------------------------------------------------------------------------- forceOrder


def force_order_message(
    symbol: str,
    order_side: str,
    qty: str,
    order_price: str,
    avg_price: str,
    last_qty: str,
    event_ms: int,
    trade_ms: int,
) -> str:
    """The `forceOrder` websocket payload, keys in Binance's order, compact."""
    return (
        f'{{"e":"forceOrder","E":{event_ms},"o":{{"s":"{symbol}","S":"{order_side}",'
        f'"o":"LIMIT","f":"IOC","q":"{qty}","p":"{order_price}","ap":"{avg_price}",'
        f'"X":"FILLED","l":"{last_qty}","z":"{qty}","T":{trade_ms}}}}}'
    )


# ------------------------------------------------------------------------- Bybit, OKX


def bybit_liquidation(symbol: str, position_side: str, qty: str, price: str, trade_ms: int) -> dict:
    """One element of an `allLiquidation` push: `S` is the liquidated POSITION's side."""
    return {"T": trade_ms, "s": symbol, "S": position_side, "v": qty, "p": price}


def bybit_liquidation_message(symbol: str, ts_ms: int, events: list[dict]) -> str:
    return compact_json(
        {"topic": f"allLiquidation.{symbol}", "type": "snapshot", "ts": ts_ms, "data": events}
    )


def okx_liquidation_detail(
    side: str, pos_side: str, contracts: str, bankruptcy_price: str, trade_ms: int
) -> dict:
    """One `details[]` element of OKX's liquidation orders (push and REST alike)."""
    return {
        "bkLoss": "0",
        "bkPx": bankruptcy_price,
        "ccy": "",
        "posSide": pos_side,
        "side": side,
        "sz": contracts,
        "ts": str(trade_ms),
    }


def okx_liquidation_item(family: str, details: list[dict], inst_id: str | None) -> dict:
    """One instrument's entry: the push names the instrument, the REST answer only its family."""
    item: dict[str, object] = {"details": details, "instFamily": family}
    if inst_id is not None:
        item["instId"] = inst_id
    item.update({"instType": "SWAP", "uly": family})
    return item


def okx_liquidation_message(item: dict) -> str:
    return compact_json(
        {"arg": {"channel": "liquidation-orders", "instType": "SWAP"}, "data": [item]}
    )
