"""One name per dataset across the stack (Airflow assets, dbt sources, GX suites, lake paths)."""

from __future__ import annotations

from dataclasses import dataclass

VENUES = ("binance", "bybit", "okx")  # venues wired end to end (lake, suites, staging)
# The liquidation collector's record of when it was not capturing a venue's stream
# (include/cryptodw/collector/coverage.py), landed per venue like the venue's own datasets.
COLLECTOR_COVERAGE_GAPS = "collector_coverage_gaps"
# Raw datasets per venue (the connectors in include/cryptodw/sources define their schemas).
VENUE_DATASETS = {
    "binance": ("klines", "open_interest", "funding", "liquidations", COLLECTOR_COVERAGE_GAPS),
    "bybit": ("klines", "open_interest", "funding", "instruments", "liquidations",
              COLLECTOR_COVERAGE_GAPS),
    "okx": ("klines", "open_interest", "funding", "instruments", "liquidations",
            COLLECTOR_COVERAGE_GAPS),
}  # fmt: skip
# The majors the demo and the report track; more symbols are a setting, not a code change.
DEFAULT_SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT")
KLINE_INTERVALS = ("1d", "1h")


@dataclass(frozen=True)
class RawDataset:
    venue: str
    dataset: str

    @property
    def name(self) -> str:
        """`raw_<venue>__<dataset>`: Airflow asset name, GX suite name."""
        return f"raw_{self.venue}__{self.dataset}"

    @property
    def uri(self) -> str:
        """The Airflow Asset URI (a logical name; the lake may live on disk or in S3)."""
        return f"cryptodw://raw/{self.venue}/{self.dataset}"


RAW_DATASETS = tuple(
    RawDataset(venue, dataset) for venue in VENUES for dataset in VENUE_DATASETS[venue]
)
WAREHOUSE_ASSET_URI = "cryptodw://warehouse/marts"

MART_MODELS = (
    "liquidations_hourly",
    "liquidations_daily",
    "liquidations_weekly",
    "liquidations_monthly",
    "open_interest_daily",
    "open_interest_weekly",
    "open_interest_monthly",
    "prices_daily",
)
# The market-stress analytics built on them (schema `marts` too). A short or quiet window may
# leave some of them empty (no cascade detected), so publishing requires them to exist only.
ANALYTICS_MODELS = (
    "asset_prices_daily",
    "market_stress_daily",
    "liquidation_cascades",
    "contagion_daily",
    "support_levels",
    "treasury_holdings_daily",
)
