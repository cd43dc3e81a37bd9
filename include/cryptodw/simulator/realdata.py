"""Readers of the real-data samples the simulator is calibrated against (`<shared>/realdata`).

Each reader returns a small pandas frame indexed by UTC day (or settlement time), already
cleaned of the quirks PROVENANCE.md lists: descending kline rows, the banner line, Coinglass's
zero-filled days before 2020-12-23, Coinalyze's unsorted rows. Nothing here is simulated.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

KLINES = "binance_spot_daily_klines/Binance_{symbol}_d.csv"
FUNDING = "binance_funding_rate/clean_full_history/{symbol}.csv"
COINGLASS_LIQUIDATIONS = "liquidations/coinglass_liquidation_agg_1d.csv"
COINGLASS_OPEN_INTEREST = "open_interest/coinglass_futures_oi_agg_1d.csv"
COINALYZE_LIQUIDATIONS = (
    "liquidations/coinalyze_btc_perp_liquidations_daily_by_exchange_2022-01_to_2024-09.csv"
)
COINALYZE_OPEN_INTEREST = (
    "open_interest/coinalyze_btc_perp_open_interest_usd_daily_by_exchange_2022-01_to_2024-09.csv"
)
COINGLASS_FIRST_REAL_DAY = pd.Timestamp("2020-12-23")  # earlier rows are a zero-filled spine
COINALYZE_EXCHANGES = {"binance": "Binance", "bybit": "Bybit", "okx": "OKX"}


def daily_log_returns(realdata: Path, symbol: str, start: str, end: str) -> pd.Series:
    """Close-to-close log returns of Binance spot daily candles, `start <= day < end`."""
    frame = pd.read_csv(realdata / KLINES.format(symbol=symbol), skiprows=1)
    close = frame.assign(day=pd.to_datetime(frame["Date"])).set_index("day")["Close"].sort_index()
    returns = np.log(close).diff().dropna()
    return returns[(returns.index >= start) & (returns.index < end)]


def funding_rates(realdata: Path, symbol: str) -> pd.Series:
    """Binance's settled funding rates (decimal), indexed by settlement time."""
    frame = pd.read_csv(realdata / FUNDING.format(symbol=symbol))
    when = pd.to_datetime(frame["calc_time"], unit="ms")
    return pd.Series(frame["last_funding_rate"].to_numpy(), index=when).sort_index()


def coinglass_daily(realdata: Path, coin: str) -> pd.DataFrame:
    """Coinglass per day: long and short liquidations (USD, the exchange list the puller was
    configured with) and total open interest at the close (USD, all exchanges)."""
    liquidations = _coinglass(realdata / COINGLASS_LIQUIDATIONS, coin)
    open_interest = _coinglass(realdata / COINGLASS_OPEN_INTEREST, coin)["oi_total_close"]
    frame = liquidations[["liq_long_usd", "liq_short_usd"]].join(open_interest, how="inner")
    return frame[frame.index >= COINGLASS_FIRST_REAL_DAY]


def _coinglass(path: Path, coin: str) -> pd.DataFrame:
    frame = pd.read_csv(path)
    frame = frame[frame["symbol"] == coin]
    day = pd.to_datetime(frame["ts_utc"].str.slice(0, 10))
    return frame.set_index(day).sort_index()


def coinalyze_daily(realdata: Path) -> dict[str, pd.DataFrame]:
    """Coinalyze BTC perpetuals per exchange (Binance, Bybit, OKX; USD- and USDT-margined
    markets together) per day: long and short liquidations and open interest, USD."""
    liquidations = _coinalyze(realdata / COINALYZE_LIQUIDATIONS)
    open_interest = _coinalyze(realdata / COINALYZE_OPEN_INTEREST)
    per_venue = {}
    for venue, exchange in COINALYZE_EXCHANGES.items():
        per_venue[venue] = pd.DataFrame(
            {
                "long_usd": _exchange_sum(liquidations, exchange, "_long"),
                "short_usd": _exchange_sum(liquidations, exchange, "_short"),
                "open_interest_usd": _exchange_sum(open_interest, exchange, ""),
                "usdt_open_interest_usd": _exchange_sum(open_interest, exchange, "", "BTC/USDT"),
            }
        )
    return per_venue


def _coinalyze(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path)
    return frame.set_index(pd.to_datetime(frame.pop("t"))).sort_index()


def _exchange_sum(frame: pd.DataFrame, exchange: str, suffix: str, market: str = "") -> pd.Series:
    """Sum of an exchange's market columns (`<market> - <Exchange>[.n]<suffix>`)."""
    columns = [
        column
        for column in frame.columns
        if column.startswith(market)
        and column.endswith(suffix)
        and column.removesuffix(suffix).split(" - ")[-1].split(".")[0] == exchange
    ]
    return frame[columns].fillna(0.0).sum(axis=1)
