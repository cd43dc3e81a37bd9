"""The peer: the seven marts as an analyst would compute them with pandas from the raw lake.

Reads the parquet day files and the landing manifests directly, applies the same rules as the
dbt models (dedup, closed candles only, the liquidation capture spine, USD conversion from the
seed, stocks never summed over time) and returns one DataFrame per mart.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

SYMBOL_PATTERN = r"^(.+?)(USDT|USDC)(?:_[0-9]{6})?$"
LIQUIDATION_FIGURES = [
    "long_liquidations_usd",
    "short_liquidations_usd",
    "total_liquidations_usd",
    "long_liquidations_coin",
    "short_liquidations_coin",
]
LIQUIDATION_COUNTS = ["long_liquidation_count", "short_liquidation_count", "liquidation_count"]


def read_dataset(raw_dir: Path, dataset: str, pattern: str = "*.parquet") -> pd.DataFrame:
    """Every day file of a Binance dataset, with the partition day as `dt`."""
    frames = [
        pd.read_parquet(path).assign(dt=pd.Timestamp(path.parent.name.removeprefix("dt=")))
        for path in sorted((raw_dir / "binance" / dataset).glob(f"dt=*/{pattern}"))
    ]
    return pd.concat([f for f in frames if len(f)], ignore_index=True)


def read_manifests(manifest_dir: Path, dataset: str) -> pd.DataFrame:
    """One row per landed day file: part, day and the earliest fetch time of its payloads."""
    rows = []
    for path in sorted((manifest_dir / "binance" / dataset).glob("dt=*/*.json")):
        doc = json.loads(path.read_text())
        fetched = [s["fetched_at"] for s in doc["sources"]] or [doc["landed_at"]]
        rows.append({"part": doc["part"], "day": doc["day"], "fetched_at": min(map(_utc, fetched))})
    frame = pd.DataFrame(rows)
    frame["day"] = pd.to_datetime(frame["day"])
    return frame


def _utc(value: str) -> pd.Timestamp:
    return pd.Timestamp(value).tz_convert("UTC").tz_localize(None)


def with_assets(frame: pd.DataFrame, rates: pd.Series) -> pd.DataFrame:
    parts = frame["symbol"].str.extract(SYMBOL_PATTERN)
    return frame.assign(
        exchange_id="binance", base_asset=parts[0], usd_per_quote=parts[1].map(rates)
    )


def build_marts(raw_dir: Path, manifest_dir: Path, seeds_dir: Path) -> dict[str, pd.DataFrame]:
    rates = pd.read_csv(seeds_dir / "quote_asset_usd_rates.csv").set_index("quote_asset")[
        "usd_per_quote_unit"
    ]
    sampled = pd.read_csv(seeds_dir / "exchanges.csv").set_index("exchange_id")[
        "has_sampled_liquidation_feed"
    ]
    candles = daily_candles(raw_dir, manifest_dir, rates)
    open_interest = open_interest_snapshots(raw_dir, rates)
    liquidations = filled_liquidations(raw_dir, rates)
    funding = with_assets(read_dataset(raw_dir, "funding")[["symbol"]], rates)
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


def daily_candles(raw_dir: Path, manifest_dir: Path, rates: pd.Series) -> pd.DataFrame:
    klines = read_dataset(raw_dir, "klines", "*-1d.parquet")
    manifests = read_manifests(manifest_dir, "klines")
    klines["part"] = klines["symbol"] + "-1d"
    klines = klines.merge(manifests, left_on=["part", "dt"], right_on=["part", "day"])
    klines = klines[klines["close_time"] < klines["fetched_at"]]
    klines = klines.sort_values(
        ["symbol", "open_time", "_source", "close_price", "volume_base", "high_price", "low_price"]
    ).drop_duplicates(["symbol", "open_time"])
    klines = with_assets(klines, rates)
    for column in ("open", "high", "low", "close"):
        klines[f"{column}_usd"] = klines[f"{column}_price"] * klines["usd_per_quote"]
    return klines.assign(
        price_date=klines["open_time"].dt.normalize(),
        volume_coin=klines["volume_base"],
        volume_usd=klines["volume_quote"] * klines["usd_per_quote"],
    )


def open_interest_snapshots(raw_dir: Path, rates: pd.Series) -> pd.DataFrame:
    snapshots = read_dataset(raw_dir, "open_interest")
    snapshots = snapshots.sort_values(
        ["symbol", "snapshot_at", "_source", "open_interest_base", "open_interest_quote"]
    ).drop_duplicates(["symbol", "snapshot_at"])
    snapshots = with_assets(snapshots, rates)
    return snapshots.assign(
        snapshot_date=snapshots["snapshot_at"].dt.normalize(),
        open_interest_coin=snapshots["open_interest_base"],
        open_interest_usd=snapshots["open_interest_quote"] * snapshots["usd_per_quote"],
    )


def filled_liquidations(raw_dir: Path, rates: pd.Series) -> pd.DataFrame:
    columns = ["symbol", "order_side", "filled_qty", "avg_price", "trade_time"]
    orders = read_dataset(raw_dir, "liquidations")[columns].drop_duplicates()
    orders = with_assets(orders[orders["filled_qty"] > 0], rates)
    side = orders["order_side"].str.upper().map({"SELL": "long", "BUY": "short"})
    return orders.assign(
        position_side=side,
        liquidation_date=orders["trade_time"].dt.normalize(),
        qty_coin=orders["filled_qty"],
        notional_usd=orders["filled_qty"] * orders["avg_price"] * orders["usd_per_quote"],
    ).sort_values(["trade_time", "symbol", "qty_coin", "notional_usd"])


def liquidations_by_day(
    liquidations: pd.DataFrame, manifest_dir: Path, assets: pd.DataFrame, sampled: pd.Series
) -> pd.DataFrame:
    keys = ["liquidation_date", "exchange_id", "base_asset"]
    captures = read_manifests(manifest_dir, "liquidations")
    captured_days = captures.loc[captures["part"] == "all", ["day"]].drop_duplicates()
    spine = captured_days.rename(columns={"day": "liquidation_date"}).merge(assets, how="cross")
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
    )
    daily = spine.merge(per_day.reset_index(), on=keys, how="left")
    daily["is_sampled_feed"] = daily["exchange_id"].map(sampled).fillna(False).astype(bool) | (
        daily["liquidation_count"].notna()
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
        .sum()
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
