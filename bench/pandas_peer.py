"""The peer: the seven marts as an analyst would compute them with pandas from the raw lake.

Reads the parquet day files of the three venues (Binance, Bybit, OKX) and the landing
manifests directly, applies the same rules as the dbt models (each venue's staging
normalisation, dedup, closed candles only, the liquidation capture spine, USD conversion from
the seed, stocks never summed over time) and returns one DataFrame per mart.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

SYMBOL_PATTERN = r"^(.+?)(USDT|USDC)(?:_[0-9]{6})?$"
# Bybit's dated linear futures: BTCUSDT-26MAR27 (the assets rule reads the symbol without it).
DATED_SUFFIX = r"-[0-9]{2}[A-Z]{3}[0-9]{2}$"
QUOTE_ASSETS = ("USDT", "USDC")
# A side field's spelling -> the liquidated position, when the field names the position...
POSITION_SIDES = {"BUY": "long", "SELL": "short", "LONG": "long", "SHORT": "short"}
# ...and when it is the side of the forced (closing) order: a SELL closes a long.
FORCED_ORDER_SIDES = {"SELL": "long", "BUY": "short"}
LIQUIDATION_FIGURES = [
    "long_liquidations_usd",
    "short_liquidations_usd",
    "total_liquidations_usd",
    "long_liquidations_coin",
    "short_liquidations_coin",
]
LIQUIDATION_COUNTS = ["long_liquidation_count", "short_liquidation_count", "liquidation_count"]
LIQUIDATION_COLUMNS = [
    "exchange_id", "symbol", "position_side", "qty_coin", "notional_quote", "trade_time",
]  # fmt: skip
OPEN_INTEREST_COLUMNS = ["exchange_id", "symbol", "snapshot_at", "coin", "quote"]
KLINE_PRICES = ["open_price", "high_price", "low_price", "close_price"]
KLINE_ORDER = ["_source", "close_price", "volume_base", "high_price", "low_price", "open_price"]


def read_dataset(
    raw_dir: Path, venue: str, dataset: str, pattern: str = "*.parquet"
) -> pd.DataFrame:
    """Every day file of a venue's dataset, with the partition day as `dt`."""
    frames = [
        pd.read_parquet(path).assign(dt=pd.Timestamp(path.parent.name.removeprefix("dt=")))
        for path in sorted((raw_dir / venue / dataset).glob(f"dt=*/{pattern}"))
    ]
    return pd.concat([f for f in frames if len(f)], ignore_index=True)


def read_manifests(manifest_dir: Path, dataset: str, pattern: str = "*.json") -> pd.DataFrame:
    """One row per landed day file of every venue: venue, part, day and the earliest fetch
    time of its payloads."""
    rows = []
    for path in sorted(manifest_dir.glob(f"*/{dataset}/dt=*/{pattern}")):
        doc = json.loads(path.read_text())
        fetched = [s["fetched_at"] for s in doc["sources"]] or [doc["landed_at"]]
        rows.append(
            {
                "exchange_id": doc["venue"],
                "part": doc["part"],
                "day": doc["day"],
                "fetched_at": min(map(_utc, fetched)),
            }
        )
    frame = pd.DataFrame(rows)
    frame["day"] = pd.to_datetime(frame["day"])
    return frame


def _utc(value: str) -> pd.Timestamp:
    return pd.Timestamp(value).tz_convert("UTC").tz_localize(None)


def okx_symbol(instrument: pd.Series) -> pd.Series:
    """BTC-USDT-SWAP (or the family BTC-USDT) -> BTCUSDT, the warehouse's spelling."""
    parts = instrument.str.split("-")
    return parts.str[0] + parts.str[1]


def first_by(frame: pd.DataFrame, keys: list[str], order: list[str]) -> pd.DataFrame:
    """One row per `keys`: the first in `order` (NULLs last, as in SQL)."""
    return frame.sort_values([*keys, *order]).drop_duplicates(keys)


def with_assets(frame: pd.DataFrame, rates: pd.Series) -> pd.DataFrame:
    """Base asset and USD rate of each row's symbol (dated suffix aside)."""
    parts = frame["symbol"].str.replace(DATED_SUFFIX, "", regex=True).str.extract(SYMBOL_PATTERN)
    return frame.assign(base_asset=parts[0], usd_per_quote=parts[1].map(rates))


def build_marts(raw_dir: Path, manifest_dir: Path, seeds_dir: Path) -> dict[str, pd.DataFrame]:
    rates = pd.read_csv(seeds_dir / "quote_asset_usd_rates.csv").set_index("quote_asset")[
        "usd_per_quote_unit"
    ]
    sampled = pd.read_csv(seeds_dir / "exchanges.csv").set_index("exchange_id")[
        "has_sampled_liquidation_feed"
    ]
    klines = all_klines(raw_dir)
    candles = daily_candles(klines, manifest_dir, rates)
    open_interest = open_interest_snapshots(raw_dir, klines, rates)
    liquidations = filled_liquidations(raw_dir, rates)
    funding = with_assets(funding_symbols(raw_dir), rates)
    assets = pd.concat(
        [f[["exchange_id", "base_asset"]] for f in (candles, open_interest, funding, liquidations)]
    ).drop_duplicates()
    liquidations_daily = liquidations_by_day(liquidations, manifest_dir, assets, sampled)
    open_interest_daily = open_interest_by_day(open_interest)
    return {
        "liquidations_daily": liquidations_daily,
        "liquidations_weekly": liquidation_rollup(liquidations_daily, "week"),
        "liquidations_monthly": liquidation_rollup(liquidations_daily, "month"),
        "open_interest_daily": open_interest_daily,
        "open_interest_weekly": open_interest_rollup(open_interest_daily, "week"),
        "open_interest_monthly": open_interest_rollup(open_interest_daily, "month"),
        "prices_daily": prices_by_day(candles),
    }


def all_klines(raw_dir: Path) -> pd.DataFrame:
    """Candles of every venue and interval, one per symbol, interval and open time; the close
    time is the candle's last millisecond (Bybit and OKX state none)."""
    binance = read_dataset(raw_dir, "binance", "klines").assign(exchange_id="binance")
    bybit = read_dataset(raw_dir, "bybit", "klines").assign(exchange_id="bybit")
    okx = read_dataset(raw_dir, "okx", "klines")
    okx = okx.assign(exchange_id="okx", symbol=okx_symbol(okx["inst_id"]))
    for frame in (bybit, okx):
        length = frame["interval"].map({"1d": pd.Timedelta(days=1), "1h": pd.Timedelta(hours=1)})
        frame["close_time"] = frame["open_time"] + length - pd.Timedelta(milliseconds=1)
    columns = [
        "exchange_id", "symbol", "interval", "open_time", "close_time", *KLINE_PRICES,
        "volume_base", "volume_quote", "_source", "dt",
    ]  # fmt: skip
    klines = pd.concat([f[columns] for f in (binance, bybit, okx)], ignore_index=True)
    return first_by(klines, ["exchange_id", "symbol", "interval", "open_time"], KLINE_ORDER)


def daily_candles(klines: pd.DataFrame, manifest_dir: Path, rates: pd.Series) -> pd.DataFrame:
    """The 1d candles that had closed when their day file's payloads were fetched, in USD."""
    daily = klines[klines["interval"] == "1d"]
    manifests = read_manifests(manifest_dir, "klines", "*-1d.json")
    daily = daily.assign(part=daily["symbol"] + "-1d").merge(
        manifests, left_on=["exchange_id", "part", "dt"], right_on=["exchange_id", "part", "day"]
    )
    daily = with_assets(daily[daily["close_time"] < daily["fetched_at"]], rates)
    for column in ("open", "high", "low", "close"):
        daily[f"{column}_usd"] = daily[f"{column}_price"] * daily["usd_per_quote"]
    return daily.assign(
        price_date=daily["open_time"].dt.normalize(),
        volume_coin=daily["volume_base"],
        volume_usd=daily["volume_quote"] * daily["usd_per_quote"],
    )


def open_interest_snapshots(raw_dir: Path, klines: pd.DataFrame, rates: pd.Series) -> pd.DataFrame:
    """One-sided open interest of every venue per symbol and snapshot, in coin and USD."""
    snapshots = pd.concat(
        [
            binance_open_interest(raw_dir),
            bybit_open_interest(raw_dir, klines),
            okx_open_interest(raw_dir),
        ],
        ignore_index=True,
    )
    snapshots = with_assets(snapshots, rates)
    return snapshots.assign(
        snapshot_date=snapshots["snapshot_at"].dt.normalize(),
        open_interest_coin=snapshots["coin"],
        open_interest_usd=snapshots["quote"] * snapshots["usd_per_quote"],
    )


def binance_open_interest(raw_dir: Path) -> pd.DataFrame:
    frame = read_dataset(raw_dir, "binance", "open_interest").rename(
        columns={"open_interest_base": "coin", "open_interest_quote": "quote"}
    )
    frame = first_by(frame, ["symbol", "snapshot_at"], ["_source", "coin", "quote"])
    return frame.assign(exchange_id="binance")[OPEN_INTEREST_COLUMNS]


def okx_open_interest(raw_dir: Path) -> pd.DataFrame:
    frame = read_dataset(raw_dir, "okx", "open_interest")
    frame = frame.assign(
        symbol=okx_symbol(frame["inst_id"]),
        coin=frame["open_interest_coin"],
        quote=frame["open_interest_usd"],
    )
    frame = first_by(frame, ["symbol", "snapshot_at"], ["_source", "coin", "quote"])
    return frame.assign(exchange_id="okx")[OPEN_INTEREST_COLUMNS]


def bybit_open_interest(raw_dir: Path, klines: pd.DataFrame) -> pd.DataFrame:
    """Bybit's two-sided figure made one-sided (`singleOpenInterest`, else half), valued at the
    price interpolated inside the hourly candle the snapshot falls in (NaN without a candle in
    the two hours before)."""
    frame = read_dataset(raw_dir, "bybit", "open_interest")
    single = frame.get("single_open_interest_base", pd.Series(np.nan, index=frame.index))
    frame = frame.assign(coin=single.fillna(frame["open_interest_base"] / 2))
    frame = first_by(frame, ["symbol", "snapshot_at"], ["_source", "coin"])
    hourly = klines[(klines["exchange_id"] == "bybit") & (klines["interval"] == "1h")]
    hourly = hourly.astype({"symbol": frame["symbol"].dtype})
    priced = pd.merge_asof(
        frame.sort_values("snapshot_at"),
        hourly[["symbol", "open_time", "open_price", "close_price"]].sort_values("open_time"),
        left_on="snapshot_at",
        right_on="open_time",
        by="symbol",
    )
    elapsed = (priced["snapshot_at"] - priced["open_time"]) / pd.Timedelta(hours=1)
    price = priced["open_price"] + (priced["close_price"] - priced["open_price"]) * elapsed.clip(
        upper=1.0
    )
    recent = priced["snapshot_at"] < priced["open_time"] + pd.Timedelta(hours=2)
    priced["quote"] = (priced["coin"] * price).where(recent)
    return priced.assign(exchange_id="bybit")[OPEN_INTEREST_COLUMNS]


def funding_symbols(raw_dir: Path) -> pd.DataFrame:
    """The symbols each venue paid funding on."""
    okx = read_dataset(raw_dir, "okx", "funding")
    return pd.concat(
        [
            read_dataset(raw_dir, "binance", "funding")[["symbol"]].assign(exchange_id="binance"),
            read_dataset(raw_dir, "bybit", "funding")[["symbol"]].assign(exchange_id="bybit"),
            pd.DataFrame({"symbol": okx_symbol(okx["inst_id"]), "exchange_id": "okx"}),
        ],
        ignore_index=True,
    )


def filled_liquidations(raw_dir: Path, rates: pd.Series) -> pd.DataFrame:
    """Liquidations of every venue with some filled quantity, in USD."""
    orders = pd.concat(
        [binance_liquidations(raw_dir), bybit_liquidations(raw_dir), okx_liquidations(raw_dir)],
        ignore_index=True,
    )
    orders = with_assets(orders[orders["qty_coin"] > 0], rates)
    return orders.assign(
        liquidation_date=orders["trade_time"].dt.normalize(),
        notional_usd=orders["notional_quote"] * orders["usd_per_quote"],
        is_sampled_feed=orders["exchange_id"] == "binance",
    ).sort_values(["trade_time", "symbol", "qty_coin", "notional_usd"])


def binance_liquidations(raw_dir: Path) -> pd.DataFrame:
    """Distinct forced orders (a re-sent message is the same order); the side is the ORDER's."""
    columns = ["symbol", "order_side", "filled_qty", "avg_price", "trade_time"]
    orders = read_dataset(raw_dir, "binance", "liquidations")[columns].drop_duplicates()
    return orders.assign(
        exchange_id="binance",
        position_side=orders["order_side"].str.upper().map(FORCED_ORDER_SIDES),
        qty_coin=orders["filled_qty"],
        notional_quote=orders["filled_qty"] * orders["avg_price"],
    )[LIQUIDATION_COLUMNS]


def bybit_liquidations(raw_dir: Path) -> pd.DataFrame:
    """Every row a liquidation; `side` is the POSITION's; notional at the bankruptcy price."""
    orders = read_dataset(raw_dir, "bybit", "liquidations")
    return orders.assign(
        exchange_id="bybit",
        position_side=orders["side"].str.upper().map(POSITION_SIDES),
        qty_coin=orders["executed_qty"],
        notional_quote=orders["executed_qty"] * orders["bankruptcy_price"],
    )[LIQUIDATION_COLUMNS]


def okx_liquidations(raw_dir: Path) -> pd.DataFrame:
    """Linear swaps only; contracts x the coin per contract of the instruments snapshot in
    force (the first snapshot before it); `pos_side` names the position unless it is `net`,
    where the ORDER's side does."""
    orders = read_dataset(raw_dir, "okx", "liquidations")
    family = orders["inst_family"].str.split("-")
    orders = orders[family.str[1].isin(QUOTE_ASSETS)]
    orders = orders.assign(instrument=orders["inst_id"].fillna(orders["inst_family"] + "-SWAP"))
    sized = with_contract_size(orders, okx_contract_sizes(raw_dir))
    by_position = sized["pos_side"].str.upper().map(POSITION_SIDES)
    by_order = sized["side"].str.upper().map(FORCED_ORDER_SIDES)
    qty_coin = sized["qty_contracts"] * sized["coin_per_contract"]
    return sized.assign(
        exchange_id="okx",
        symbol=okx_symbol(sized["inst_family"]),
        position_side=by_position.fillna(by_order.where(sized["pos_side"].str.lower() == "net")),
        qty_coin=qty_coin,
        notional_quote=qty_coin * sized["bankruptcy_price"],
    )[LIQUIDATION_COLUMNS]


def okx_contract_sizes(raw_dir: Path) -> pd.DataFrame:
    """Coin per contract per instrument snapshot (NaN unless sized in the base coin)."""
    specs = first_by(
        read_dataset(raw_dir, "okx", "instruments"), ["inst_id", "snapshot_at"], ["_source"]
    )
    in_base = specs["ct_val_ccy"] == specs["inst_family"].str.split("-").str[0]
    coin_per_contract = (specs["ct_val"] * specs["ct_mult"]).where(in_base)
    return specs.assign(coin_per_contract=coin_per_contract)[
        ["inst_id", "snapshot_at", "coin_per_contract"]
    ]


def with_contract_size(orders: pd.DataFrame, sizes: pd.DataFrame) -> pd.DataFrame:
    """The latest snapshot at or before each order, else the instrument's first snapshot."""
    sizes = sizes.rename(columns={"inst_id": "instrument"}).sort_values("snapshot_at")
    matched = pd.merge_asof(
        orders.sort_values("trade_time"),
        sizes,
        left_on="trade_time",
        right_on="snapshot_at",
        by="instrument",
    )
    first = sizes.drop_duplicates("instrument").set_index("instrument")["coin_per_contract"]
    before_first = matched["snapshot_at"].isna()
    first_sizes = matched.loc[before_first, "instrument"].map(first)
    matched.loc[before_first, "coin_per_contract"] = first_sizes
    return matched


def liquidations_by_day(
    liquidations: pd.DataFrame, manifest_dir: Path, assets: pd.DataFrame, sampled: pd.Series
) -> pd.DataFrame:
    keys = ["liquidation_date", "exchange_id", "base_asset"]
    captures = read_manifests(manifest_dir, "liquidations")
    captured_days = captures.loc[captures["part"] == "all", ["exchange_id", "day"]]
    spine = (
        captured_days.drop_duplicates()
        .rename(columns={"day": "liquidation_date"})
        .merge(assets, on="exchange_id")
    )
    frame = liquidations.assign(
        long_usd=liquidations["notional_usd"].where(liquidations["position_side"] == "long"),
        short_usd=liquidations["notional_usd"].where(liquidations["position_side"] == "short"),
        long_coin=liquidations["qty_coin"].where(liquidations["position_side"] == "long"),
        short_coin=liquidations["qty_coin"].where(liquidations["position_side"] == "short"),
    )
    per_day = frame.groupby(keys).agg(
        long_liquidations_usd=("long_usd", "sum"),
        short_liquidations_usd=("short_usd", "sum"),
        total_liquidations_usd=("notional_usd", "sum"),
        long_liquidations_coin=("long_coin", "sum"),
        short_liquidations_coin=("short_coin", "sum"),
        long_liquidation_count=("long_usd", "count"),
        short_liquidation_count=("short_usd", "count"),
        liquidation_count=("notional_usd", "size"),
        largest_liquidation_usd=("notional_usd", "max"),
        is_sampled=("is_sampled_feed", "any"),
    )
    daily = spine.merge(per_day.reset_index(), on=keys, how="left")
    daily["is_sampled_feed"] = daily["exchange_id"].map(sampled).fillna(False).astype(bool) | (
        daily.pop("is_sampled").fillna(False).astype(bool)
    )
    figures = [*LIQUIDATION_FIGURES, "largest_liquidation_usd"]
    daily[figures] = daily[figures].fillna(0.0)
    daily[LIQUIDATION_COUNTS] = daily[LIQUIDATION_COUNTS].fillna(0).astype("int64")
    return daily.sort_values(keys, ignore_index=True)


def period_start(dates: pd.Series, grain: str) -> pd.Series:
    if grain == "week":
        return dates - pd.to_timedelta(dates.dt.dayofweek, unit="D")
    return dates.dt.to_period("M").dt.start_time


def period_length(starts: pd.Series, grain: str) -> pd.Series:
    if grain == "week":
        return pd.Series(7, index=starts.index)
    return starts.dt.days_in_month


def liquidation_rollup(daily: pd.DataFrame, grain: str) -> pd.DataFrame:
    column = f"{grain}_start_date"
    frame = daily.sort_values("liquidation_date").assign(
        **{column: period_start(daily["liquidation_date"], grain)}
    )
    rolled = (
        frame.groupby([column, "exchange_id", "base_asset"])
        .agg(
            **{name: (name, "sum") for name in [*LIQUIDATION_FIGURES, *LIQUIDATION_COUNTS]},
            largest_liquidation_usd=("largest_liquidation_usd", "max"),
            is_sampled_feed=("is_sampled_feed", "any"),
            days_with_data=("liquidation_date", "size"),
        )
        .reset_index()
    )
    rolled["days_in_period"] = period_length(rolled[column], grain)
    rolled["is_complete_period"] = rolled["days_with_data"] == rolled["days_in_period"]
    return rolled


def open_interest_by_day(snapshots: pd.DataFrame) -> pd.DataFrame:
    per_asset = (
        snapshots.sort_values("symbol")
        .groupby(["exchange_id", "base_asset", "snapshot_at", "snapshot_date"])[
            ["open_interest_coin", "open_interest_usd"]
        ]
        .sum(min_count=1)  # all NULL stays NULL, as in SQL
        .reset_index()
        .sort_values("snapshot_at")
    )
    daily = (
        per_asset.groupby(["snapshot_date", "exchange_id", "base_asset"])
        .agg(
            open_interest_coin_close=("open_interest_coin", "last"),
            open_interest_coin_avg=("open_interest_coin", "mean"),
            open_interest_coin_min=("open_interest_coin", "min"),
            open_interest_coin_max=("open_interest_coin", "max"),
            open_interest_usd_close=("open_interest_usd", "last"),
            open_interest_usd_avg=("open_interest_usd", "mean"),
            open_interest_usd_min=("open_interest_usd", "min"),
            open_interest_usd_max=("open_interest_usd", "max"),
            snapshot_count=("open_interest_coin", "size"),
        )
        .reset_index()
    )
    return with_change(daily, "snapshot_date", pd.DateOffset(days=1), "open_interest_")


def with_change(frame: pd.DataFrame, date_column: str, step, prefix: str) -> pd.DataFrame:
    """Percent change of the close against the previous period, when that period has data."""
    frame = frame.sort_values(["exchange_id", "base_asset", date_column], ignore_index=True)
    groups = frame.groupby(["exchange_id", "base_asset"])
    consecutive = groups[date_column].shift() == frame[date_column] - step
    closes = ["usd_close", "coin_close"] if prefix else ["close_usd"]
    for close in closes:
        previous = groups[f"{prefix}{close}"].shift().replace(0, np.nan)
        change = (frame[f"{prefix}{close}"] / previous - 1) * 100
        name = f"{prefix}{close.split('_')[0]}_change_pct" if prefix else "change_pct"
        frame[name] = change.where(consecutive)
    return frame


def open_interest_rollup(daily: pd.DataFrame, grain: str) -> pd.DataFrame:
    column = f"{grain}_start_date"
    frame = daily.sort_values("snapshot_date").assign(
        **{column: period_start(daily["snapshot_date"], grain)}
    )
    rolled = (
        frame.groupby([column, "exchange_id", "base_asset"])
        .agg(
            open_interest_coin_close=("open_interest_coin_close", "last"),
            open_interest_coin_avg=("open_interest_coin_avg", "mean"),
            open_interest_coin_min=("open_interest_coin_min", "min"),
            open_interest_coin_max=("open_interest_coin_max", "max"),
            open_interest_usd_close=("open_interest_usd_close", "last"),
            open_interest_usd_avg=("open_interest_usd_avg", "mean"),
            open_interest_usd_min=("open_interest_usd_min", "min"),
            open_interest_usd_max=("open_interest_usd_max", "max"),
            snapshot_count=("snapshot_count", "sum"),
            days_with_data=("snapshot_date", "size"),
        )
        .reset_index()
    )
    step = pd.DateOffset(weeks=1) if grain == "week" else pd.DateOffset(months=1)
    rolled = with_change(rolled, column, step, "open_interest_")
    rolled["days_in_period"] = period_length(rolled[column], grain)
    rolled["is_complete_period"] = rolled["days_with_data"] == rolled["days_in_period"]
    return rolled


def prices_by_day(candles: pd.DataFrame) -> pd.DataFrame:
    keys = ["price_date", "exchange_id", "base_asset"]
    ranked = candles.sort_values(
        [*keys, "volume_usd", "symbol"], ascending=[True, True, True, False, True]
    )
    leaders = ranked.drop_duplicates(keys)[[*keys, "open_usd", "high_usd", "low_usd", "close_usd"]]
    volumes = candles.sort_values("symbol").groupby(keys)[["volume_coin", "volume_usd"]].sum()
    daily = leaders.merge(volumes.reset_index(), on=keys)
    return with_change(daily, "price_date", pd.DateOffset(days=1), "")
