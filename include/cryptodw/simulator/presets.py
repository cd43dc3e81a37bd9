"""Instruments and market regimes the simulator knows: symbol specs, mechanics, presets.

Every number that shapes an outcome is here, named, so tuning a preset never touches the model.
A preset is a sequence of phases (exogenous drift and volatility of the BTC factor, and how
traders open and close leveraged positions) and the mechanics it runs on; everything else
(liquidations, open interest, funding, cascades) follows from them in `market.py`. `calm` and
`multiyear` run on `CALIBRATED` (docs/calibration.md compares them with real data); `crash`
keeps the mechanics its month was tuned with.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

VENUES = ("binance", "bybit", "okx")  # the venues the simulator can publish, in a fixed order
# Share of each symbol's open interest, leveraged positions and volume held on each venue
# (roughly the 2025-26 split of USDT-margined perpetuals among the three largest venues).
DEFAULT_VENUE_SHARES = (("binance", 0.45), ("bybit", 0.30), ("okx", 0.25))


@dataclass(frozen=True)
class SymbolSpec:
    """One USDT-margined perpetual: Binance's precisions, the model's starting state and scale
    (the whole market, every venue together) and how the market splits across venues."""

    symbol: str
    price_decimals: int  # Binance `pricePrecision`: digits printed for prices
    tick_units: int  # tick size in units of 10**-price_decimals (BTCUSDT: 10 = 0.10)
    qty_decimals: int  # Binance `quantityPrecision` (step size 10**-qty_decimals)
    start_price: float  # USDT
    beta: float  # exposure to the BTC factor
    idio_vol: float  # daily log-volatility of the asset's own component
    open_interest_base: float  # starting one-sided open interest, base coin
    leveraged_share: float  # share of open interest held in liquidatable leveraged positions
    volume_base_per_day: float  # typical traded volume, base coin
    trades_per_base: float  # kline trade count per unit of base volume
    maint_margin: float  # maintenance margin rate: gap between liquidation and bankruptcy
    mean_order_usd: float  # average notional of one forced order
    circulating_supply: float  # CMCCirculatingSupply in openInterestHist, base coin
    venue_shares: tuple[tuple[str, float], ...] = DEFAULT_VENUE_SHARES

    def venue_share(self, venue: str, venues: tuple[str, ...]) -> float:
        """`venue`'s share of this market when only `venues` are simulated (they hold it all)."""
        shares = dict(self.venue_shares)
        unknown = [v for v in venues if v not in shares]
        if unknown:
            raise ValueError(f"{self.symbol} has no venue share for {unknown}")
        return shares[venue] / sum(shares[v] for v in venues)

    @property
    def tick(self) -> float:
        return self.tick_units / 10**self.price_decimals

    @property
    def qty_step(self) -> float:
        return 10.0**-self.qty_decimals


KNOWN_SPECS: dict[str, SymbolSpec] = {
    spec.symbol: spec
    for spec in (
        SymbolSpec(
            "BTCUSDT",
            2,
            10,
            3,
            87_600.0,
            1.00,
            0.004,
            215_000.0,
            0.40,
            150_000.0,
            15.0,
            0.004,
            30_000.0,
            19_975_000.0,
            # Coinalyze's USDT-margined BTC open interest, 2023-09 .. 2024-09
            (("binance", 0.45), ("bybit", 0.36), ("okx", 0.19)),
        ),
        SymbolSpec(
            "ETHUSDT",
            2,
            1,
            3,
            2_970.0,
            1.25,
            0.012,
            2_200_000.0,
            0.40,
            4_300_000.0,
            0.6,
            0.005,
            15_000.0,
            120_700_000.0,
        ),
        SymbolSpec(
            "BNBUSDT",
            3,
            10,
            2,
            864.0,
            0.90,
            0.008,
            700_000.0,
            0.40,
            540_000.0,
            0.5,
            0.005,
            5_000.0,
            139_200_000.0,
            (("binance", 0.60), ("bybit", 0.25), ("okx", 0.15)),
        ),
        SymbolSpec(
            "SOLUSDT",
            4,
            100,
            0,
            125.0,
            1.85,
            0.02,  # its quiet days move ~2.4x BTC's, more than beta alone (calibration)
            9_000_000.0,
            0.40,
            23_000_000.0,
            0.05,
            0.005,
            8_000.0,
            560_000_000.0,
            (("binance", 0.42), ("bybit", 0.33), ("okx", 0.25)),
        ),
        SymbolSpec(
            "XRPUSDT",
            4,
            1,
            1,
            1.84,
            1.22,
            0.012,
            450_000_000.0,
            0.40,
            500_000_000.0,
            0.0015,
            0.005,
            6_000.0,
            60_500_000_000.0,
            (("binance", 0.40), ("bybit", 0.38), ("okx", 0.22)),
        ),
    )
}


def generic_spec(symbol: str) -> SymbolSpec:
    """A plausible alt-coin spec for a symbol the simulator has no figures for (deterministic)."""
    digest = hashlib.sha256(symbol.encode()).digest()
    price = 10 ** (-1.0 + 3.0 * digest[0] / 255)  # 0.1 .. 100 USDT
    magnitude = math.floor(math.log10(price))
    price_decimals = max(1, 4 - magnitude)
    qty_decimals = min(3, max(0, magnitude + 1))
    return SymbolSpec(
        symbol=symbol,
        price_decimals=price_decimals,
        tick_units=1,
        qty_decimals=qty_decimals,
        start_price=round(price, price_decimals),
        beta=1.3 + digest[1] / 255,
        idio_vol=0.02,
        open_interest_base=300e6 / price,
        leveraged_share=0.55,
        volume_base_per_day=600e6 / price,
        trades_per_base=0.2 * price / 100,
        maint_margin=0.01,
        mean_order_usd=3_000.0,
        circulating_supply=1e9,
    )


def resolve_specs(symbols: tuple[str, ...] | list[str]) -> tuple[SymbolSpec, ...]:
    """Specs in simulation order: BTCUSDT first (it leads), then the others as given."""
    unique = list(dict.fromkeys(s.upper() for s in symbols))
    if not unique:
        raise ValueError("no symbols to simulate")
    ordered = sorted(unique, key=lambda s: s != "BTCUSDT")
    return tuple(KNOWN_SPECS.get(s) or generic_spec(s) for s in ordered)


@dataclass(frozen=True)
class Phase:
    """A regime: exogenous BTC-factor drift/volatility and how traders position themselves."""

    name: str
    days: int | None  # length in UTC days; None = whatever the window leaves (one per preset)
    drift: float  # daily log drift of the BTC fair value
    vol: float  # daily volatility of the BTC fair value
    open_rate: float  # new leveraged positions per day, as a fraction of open interest
    close_rate: float  # share of positions closed voluntarily per day
    long_share: float  # share of new leveraged positions that are long


@dataclass(frozen=True)
class Mechanics:
    """How prices, positions, liquidations and funding interact.

    The defaults are those the `crash` month was tuned with (what its venues publish matches
    the seed report's figures); `CALIBRATED` is what the other presets use.
    """

    deviation_vol: float = 0.022  # daily vol of the transient deviation from fair value
    deviation_half_life_h: float = 4.0  # how fast the deviation mean-reverts
    tail_dof: float = 3.0  # Student-t degrees of freedom of every shock (fat tails)
    vol_of_vol: float = 0.12  # hourly shocks to log volatility
    vol_half_life_h: float = 8.0
    wick: float = 0.7  # intra-minute high/low excursion, in minute standard deviations
    leverage_median: float = 13.3
    leverage_dispersion: float = 0.65  # log-sd of leverage across new positions
    impact: float = 0.1  # log move per liquidated notional, as a fraction of daily volume
    permanent_impact: float = 0.3  # share of the impact that moves the fair value for good
    impact_spillover: float = 0.6  # share of BTC's liquidation impact that reaches the others
    calm_vol: float = 0.02  # daily vol regarded as calm: above it opening slows, closing rises
    stress_close: float = 0.3  # extra voluntary closing per unit of excess volatility
    funding_imbalance: float = 0.0009  # premium per unit of leveraged long/short imbalance
    funding_deviation: float = 0.01  # premium per unit of log deviation from fair value
    funding_noise: float = 0.00012
    funding_basis: float = 0.0  # premium with balanced positioning (perpetual vs index)
    funding_cap: float = 0.003
    dust_usd: float = 20.0  # bucket remnants below this close without a forced order
    order_delay_ms: float = 350.0  # mean delay between a trigger and each forced order
    idio_scale: float = 1.0  # scales each symbol's own lasting moves (`SymbolSpec.idio_vol`)
    # Multi-day dynamics. Neutral by default: `crash` scripts its month with phases instead.
    regime_vol: float = 0.0  # daily shocks to a slow log-volatility of the whole market
    regime_half_life_days: float = 20.0
    jump_rate: float = 0.0  # news: jumps of the BTC factor per day (Poisson)
    own_jump_rate: float = 0.0  # jumps of each symbol's own component per day
    jump_size: float = 0.04  # sd of a jump's log size (Student-t, `tail_dof`)
    sentiment_vol: float = 0.0  # daily shocks to traders' long bias (share of new longs)
    sentiment_half_life_days: float = 10.0
    oi_reversion: float = 0.0  # opening slows as open interest (USDT) grows past its start
    momentum: float = 0.0  # new positions chase the day's move: long share + this x log move


@dataclass(frozen=True)
class Preset:
    name: str
    phases: tuple[Phase, ...]
    mechanics: Mechanics = field(default_factory=Mechanics)
    cycle: bool = False  # the phases (each of fixed length) repeat over the window

    def schedule(self, n_days: int) -> list[Phase]:
        """The phase of each day of an `n_days` window.

        A cycling preset repeats its phases from the window's start. Otherwise phases after
        the open-ended one are anchored to the end of the window (a crash ends the window
        whatever its length), phases before it to the start; a window shorter than the
        anchored tail keeps only the tail's last days.
        """
        if self.cycle:
            if any(p.days is None for p in self.phases):
                raise ValueError(f"preset {self.name!r} cycles: every phase needs its length")
            cycle = [p for p in self.phases for _ in range(p.days or 0)]
            return [cycle[i % len(cycle)] for i in range(n_days)]
        open_ended = [i for i, p in enumerate(self.phases) if p.days is None]
        if len(open_ended) != 1:
            raise ValueError(f"preset {self.name!r} needs exactly one open-ended phase")
        head, rest, tail = (
            self.phases[: open_ended[0]],
            self.phases[open_ended[0]],
            self.phases[open_ended[0] + 1 :],
        )
        tail_days = [p for p in tail for _ in range(p.days or 0)]
        if n_days <= len(tail_days):
            return tail_days[len(tail_days) - n_days :]
        days: list[Phase] = []
        for phase in head:
            days += [phase] * min(phase.days or 0, n_days - len(tail_days) - len(days))
        days += [rest] * (n_days - len(tail_days) - len(days))
        return days + tail_days


# The mechanics calibrated against real data (docs/calibration.md): leverage from 1.5x to
# 125x around a median of 4x, traders chasing the day's move, funding that follows their
# positioning, and the multi-day dynamics (volatility regimes, news, sentiment, capacity).
CALIBRATED = Mechanics(
    vol_of_vol=0.3,
    leverage_median=4.0,
    leverage_dispersion=1.7,
    funding_imbalance=0.002,
    funding_deviation=0.004,
    funding_noise=0.0003,
    funding_basis=-0.00025,
    idio_scale=3.5,
    regime_vol=0.08,
    jump_rate=0.04,
    own_jump_rate=0.08,
    jump_size=0.06,
    sentiment_vol=0.05,
    oi_reversion=1.0,
    momentum=8.0,
)

PRESETS: dict[str, Preset] = {
    # No drift: whatever the market does over a window comes from its shocks and its traders.
    "calm": Preset(
        "calm",
        (
            Phase(
                "calm",
                None,
                drift=0.0,
                vol=0.013,
                open_rate=0.07,
                close_rate=0.07,
                long_share=0.55,
            ),
        ),
        CALIBRATED,
    ),
    "crash": Preset(
        "crash",
        (
            # Leverage builds up in a quiet, slightly rising market ...
            Phase(
                "accumulation",
                None,
                drift=0.001,
                vol=0.012,
                open_rate=0.09,
                close_rate=0.067,
                long_share=0.64,
            ),
            # ... then a slow grind lower while traders close more than they open ...
            Phase(
                "deleveraging",
                15,
                drift=-0.003,
                vol=0.010,
                open_rate=0.093,
                close_rate=0.113,
                long_share=0.61,
            ),
            # ... that turns into a slide once support gives way (most of the week's
            # liquidations) ...
            Phase(
                "breakdown",
                6,
                drift=-0.009,
                vol=0.011,
                open_rate=0.126,
                close_rate=0.179,
                long_share=0.72,
            ),
            # ... and a last day whose moves come mostly from forced selling, not from news.
            Phase(
                "sell-off",
                1,
                drift=-0.004,
                vol=0.009,
                open_rate=0.069,
                close_rate=0.089,
                long_share=0.58,
            ),
        ),
    ),
}


# Years of market cycles for benchmarks and long backfills: calm stretches, a leveraged rally,
# its unwinding and a sell-off, then a recovery (217 days a cycle, hardly any net drift over one).
PRESETS["multiyear"] = Preset(
    "multiyear",
    (
        Phase("calm", 120, drift=0.0, vol=0.013, open_rate=0.07, close_rate=0.07, long_share=0.55),
        Phase(
            "rally", 45, drift=0.004, vol=0.018, open_rate=0.09, close_rate=0.07, long_share=0.62
        ),
        Phase(
            "deleveraging",
            20,
            drift=-0.006,
            vol=0.02,
            open_rate=0.06,
            close_rate=0.1,
            long_share=0.55,
        ),
        Phase(
            "sell-off", 2, drift=-0.02, vol=0.035, open_rate=0.05, close_rate=0.12, long_share=0.5
        ),
        Phase(
            "recovery", 30, drift=0.0, vol=0.016, open_rate=0.07, close_rate=0.08, long_share=0.5
        ),
    ),
    CALIBRATED,
    cycle=True,
)


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}") from None
