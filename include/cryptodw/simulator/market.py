"""A seeded, causal model of a perpetual-futures market, produced one UTC day at a time.

Prices. Each symbol's log price is a fair value plus a transient deviation. The fair value
follows the BTC factor (phase drift + fat-tailed shocks with clustered volatility) scaled by the
symbol's beta, plus its own shocks; the deviation mean-reverts (Ornstein-Uhlenbeck). Minutes
are the resolution; candles of any longer interval are sums of minutes.

Positions. Leveraged traders open positions at the current price with leverage drawn from a
log-normal distribution; each position's liquidation price (entry x (1 -/+ 1/leverage +/-
maintenance margin)) lands in a bucket of a log-price grid, per side. Opening is brisk when
markets are calm and slows when they are volatile, while voluntary closing rises. Open
interest is passive positions (never liquidated) plus the leveraged book.

Liquidations. When a minute's low (high) reaches a long (short) bucket, those positions are
force-closed: open interest falls by their size, the forced orders are split into individual
orders of heavy-tailed size, and their net notional pushes the price further the next minute
(partly transient, partly permanent; BTC's impact spills over to the others): a cascade when
the book is dense below the price.

Days and months. A slow volatility regime scales every shock of a day; news jumps (Poisson, fat
tailed) move the BTC factor or one symbol's fair value at a random minute; a mean-reverting
sentiment tilts the share of new positions that are long (more for high-beta symbols), and
within a day new positions chase the day's move; opening slows as open interest outgrows the
capital behind it, so it stays bounded over years. The presets set how much of each (`crash`
none: its month is scripted by its phases).

Funding. Every 8 hours the rate follows Binance's formula on a premium driven by the leveraged
long/short imbalance and the price deviation. Funding paid or received moves every leveraged
position's liquidation price (margin changes), which the book applies as a shift of its grid.

Venues. The model is the whole market. Each venue holds a fixed share of every symbol's
positions (so the same price path liquidates each venue's share of a bucket, as that venue's
own forced orders), open interest and volume, and quotes prices at a tiny basis
(`venues.Contract`). Binance's share of a market simulated for Binance alone is all of it, and
then its output is what a Binance-only model would give.

A richer model can replace this one: the emitters only need `days()` yielding `MarketDay`.
"""

from __future__ import annotations

import logging
import math
import statistics
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

import numpy as np

from include.cryptodw.simulator.presets import VENUES, Mechanics, Phase, Preset, SymbolSpec
from include.cryptodw.simulator.venues import Contract, venue_contracts

log = logging.getLogger(__name__)

MINUTES = 1440
MINUTE_MS = 60_000
DAY_MS = 86_400_000
SNAPSHOT_MINUTES = 5  # open interest snapshots (Binance metrics / openInterestHist period 5m)
SNAPSHOTS_PER_DAY = MINUTES // SNAPSHOT_MINUTES  # 00:00 .. 23:55; one more (24:00) closes a day
FUNDING_HOURS = 8
REBALANCE_MINUTES = 15  # how often traders' opening and closing is applied
GRID_STEP = 0.001  # log-price width of a liquidation-price bucket (0.1 %)
GRID_HALF_WIDTH = 3.0  # the grid spans start price x e^-3 .. x e^3
LEVERAGE_QUANTILES = 400
MAX_LEVERAGE = 125.0
MAX_ORDERS_PER_BUCKET = 400
NET_MODE_SHARE = 0.3  # OKX positions held in one-way (net) mode: their posSide is "net"
SEED_DAYS = 60  # history behind the positions open when the window starts
SEED_DAILY_VOL = 0.012  # daily log-volatility of that history (BTC factor)
SEED_DAILY_RANGE = 0.02  # log half-range a day of that history swept (liquidating what it hit)


def day_start_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


# ------------------------------------------------------------------------- day output


@dataclass(frozen=True)
class MinuteBars:
    """One symbol's 1-minute candles of a day, every amount in integer units.

    Prices in 10**-price_decimals, volumes in 10**-qty_decimals, quote volumes in
    10**-(price_decimals + qty_decimals).
    """

    open_ms: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    quote_volume: np.ndarray
    count: np.ndarray
    taker_buy_volume: np.ndarray
    taker_buy_quote_volume: np.ndarray

    COLUMNS = (
        "open_ms",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "quote_volume",
        "count",
        "taker_buy_volume",
        "taker_buy_quote_volume",
    )

    def columns(self) -> list[np.ndarray]:
        return [getattr(self, name) for name in self.COLUMNS]


@dataclass(frozen=True)
class OpenInterestSnapshots:
    """One symbol's 5-minute open interest on one venue (snapshot at `snapshot_ms`, state then).

    289 rows, 00:00 through 24:00: the last row is the state the day ends with (equal to the
    next day's first row), which the metrics archive files under the day that ends then.
    Open interest is one-sided (the base coin held long, which equals that held short).
    """

    snapshot_ms: np.ndarray
    oi_units: np.ndarray  # base coin, 10**-qty_decimals
    mark_units: np.ndarray  # price, 10**-price_decimals
    value_units: np.ndarray  # USDT, 10**-(price_decimals + qty_decimals): exactly oi x mark
    ratios_e8: np.ndarray | None  # (n, 4) Binance metrics ratios x 1e8 (None elsewhere)
    leveraged_long: np.ndarray  # base coin held by liquidatable longs
    leveraged_short: np.ndarray


@dataclass(frozen=True)
class FundingEvent:
    symbol: str
    funding_ms: int  # settlement time (sometimes a few ms past the hour, as on Binance)
    rate_e8: int  # funding rate x 1e8 (Binance prints 8 decimals)
    mark_price: float
    interval_hours: int = FUNDING_HOURS
    predicted_e8: int | None = None  # the rate forecast before settlement (OKX publishes it)


@dataclass(frozen=True)
class Liquidations:
    """Every forced order of a day on one venue (ground truth), columnar, by trade time.

    Quantities are in the venue's units (`qty_step` base coin each, per symbol). `pushed` marks
    the orders the venue's stream delivers: on Binance the latest per symbol and second, on
    Bybit and OKX all of them.
    """

    symbol_index: np.ndarray
    trade_ms: np.ndarray
    event_ms: np.ndarray
    received_ms: np.ndarray
    is_long: np.ndarray  # the liquidated position was long (the order is a SELL)
    qty_units: np.ndarray
    last_qty_units: np.ndarray
    order_price_units: np.ndarray  # bankruptcy price, 10**-price_decimals (not tick-rounded)
    avg_price_units: np.ndarray  # fill price, tick-rounded
    trigger_price: np.ndarray  # liquidation price of the bucket
    pushed: np.ndarray
    qty_step: np.ndarray  # per symbol: base coin per quantity unit
    net_mode: np.ndarray  # the position was held in one-way (net) mode (OKX says posSide=net)

    def __len__(self) -> int:
        return int(self.trade_ms.size)

    def qty_base(self) -> np.ndarray:
        return self.qty_units * self.qty_step[self.symbol_index]

    def notional_usd(self, specs: tuple[SymbolSpec, ...]) -> np.ndarray:
        """Filled quantity x average price of each order, USDT."""
        price_scale = np.array([10.0**-s.price_decimals for s in specs])[self.symbol_index]
        return self.qty_base() * self.avg_price_units * price_scale

    def bankruptcy_notional_usd(self, specs: tuple[SymbolSpec, ...]) -> np.ndarray:
        """Quantity x bankruptcy price, USDT: what a feed without fill prices adds up."""
        price_scale = np.array([10.0**-s.price_decimals for s in specs])[self.symbol_index]
        return self.qty_base() * self.order_price_units * price_scale

    def published_usd(self, specs: tuple[SymbolSpec, ...], venue: str) -> np.ndarray:
        """Each order as the venue's public feed shows it, USDT (0 for an order never pushed).

        Binance's stream pushes the latest order per symbol and second (`pushed`) with its
        average fill price; Bybit's `allLiquidation` and OKX's `liquidation-orders` push every
        order with its bankruptcy price. A warehouse fed by them adds up these figures.
        """
        shown = (
            self.notional_usd(specs) if venue == "binance" else self.bankruptcy_notional_usd(specs)
        )
        return np.where(self.pushed, shown, 0.0)


@dataclass(frozen=True)
class VenueDay:
    """What one venue's share of the market did on a day, in that venue's units."""

    venue: str
    contracts: tuple[Contract, ...]  # in spec order
    bars: dict[str, MinuteBars]
    open_interest: dict[str, OpenInterestSnapshots]
    funding: list[FundingEvent]
    liquidations: Liquidations


@dataclass(frozen=True)
class MarketDay:
    day: date
    phase: str
    specs: tuple[SymbolSpec, ...]
    venues: dict[str, VenueDay]  # in `presets.VENUES` order


@dataclass(frozen=True)
class MarketSummary:
    """One day of the whole market (every venue together), per symbol in spec order, without
    candles or payloads. Liquidated notional is bucket size x liquidation price."""

    day: date
    phase: str
    specs: tuple[SymbolSpec, ...]
    close: np.ndarray  # price at 24:00
    open_interest_base: np.ndarray  # one-sided, at 24:00
    long_liquidated_usd: np.ndarray
    short_liquidated_usd: np.ndarray
    funding_rates: np.ndarray  # (symbols, settlements of the day), decimal
    liquidations: dict[str, Liquidations]  # per venue, when asked for (else empty)

    @classmethod
    def of(
        cls,
        day: date,
        phase: str,
        specs: tuple[SymbolSpec, ...],
        paths: list[_DayPaths],
        funding: list[FundingEvent],
        liquidations: dict[str, Liquidations],
    ) -> MarketSummary:
        liquidated = np.zeros((len(specs), 2))
        for s, path in enumerate(paths):
            for long, prices, qty in zip(path.liq_long, path.liq_price, path.liq_qty, strict=True):
                liquidated[s, 0 if long else 1] += float(np.dot(prices, qty))
        rates: dict[str, list[float]] = {spec.symbol: [] for spec in specs}
        for event in funding:
            rates[event.symbol].append(event.rate_e8 / 1e8)
        return cls(
            day=day,
            phase=phase,
            specs=specs,
            close=np.array([path.close[-1] for path in paths]),
            open_interest_base=np.array([path.snapshots[-1, :3].sum() for path in paths]),
            long_liquidated_usd=liquidated[:, 0],
            short_liquidated_usd=liquidated[:, 1],
            funding_rates=np.array([rates[spec.symbol] for spec in specs]),
            liquidations=liquidations,
        )


class MarketModel(Protocol):
    """What the emitters need from a market model."""

    specs: tuple[SymbolSpec, ...]

    def days(self) -> Iterator[MarketDay]: ...


# --------------------------------------------------------------------------- positions


def leverage_kernel(mech: Mechanics, maint_margin: float, long: bool) -> tuple[np.ndarray, ...]:
    """Grid offsets (in buckets from the entry price) of new positions' liquidation prices."""
    normal = statistics.NormalDist()
    quantiles = [(i + 0.5) / LEVERAGE_QUANTILES for i in range(LEVERAGE_QUANTILES)]
    leverage = np.array(
        [
            mech.leverage_median * math.exp(mech.leverage_dispersion * normal.inv_cdf(q))
            for q in quantiles
        ]
    ).clip(1.5, MAX_LEVERAGE)
    distance = 1.0 / leverage - maint_margin
    ratio = 1.0 - distance if long else 1.0 + distance
    offsets = np.rint(np.log(ratio) / GRID_STEP).astype(np.int64)
    unique, counts = np.unique(offsets, return_counts=True)
    return unique, counts / counts.sum()


class PositionBook:
    """One symbol's leveraged positions by liquidation price, plus the passive open interest."""

    def __init__(self, spec: SymbolSpec, mech: Mechanics, price: float) -> None:
        self.size = int(2 * GRID_HALF_WIDTH / GRID_STEP)
        self.base = math.log(price) - GRID_HALF_WIDTH
        self.offset = 0.0  # funding shifts every liquidation price by this (log)
        self.longs = np.zeros(self.size)
        self.shorts = np.zeros(self.size)
        self.long_total = 0.0
        self.short_total = 0.0
        self.passive = 0.0
        self.top_long = -1  # highest bucket holding longs (first to be hit on the way down)
        self.bottom_short = self.size  # lowest bucket holding shorts
        self.dust_usd = mech.dust_usd
        self._long_kernel = leverage_kernel(mech, spec.maint_margin, long=True)
        self._short_kernel = leverage_kernel(mech, spec.maint_margin, long=False)
        # the kernels as contiguous weights (zeros between offsets): one slice add per side
        self._dense = tuple(_dense(*kernel) for kernel in (self._long_kernel, self._short_kernel))

    @property
    def leveraged(self) -> float:
        return self.long_total + self.short_total

    @property
    def open_interest(self) -> float:
        return self.passive + self.long_total + self.short_total

    def price_of(self, index: int) -> float:
        return math.exp(self.base + self.offset + index * GRID_STEP)

    def long_trigger(self) -> float:
        """Price at which the next longs are liquidated (0 when there are none)."""
        return self.price_of(self.top_long) if self.top_long >= 0 else 0.0

    def short_trigger(self) -> float:
        return self.price_of(self.bottom_short) if self.bottom_short < self.size else math.inf

    def open(self, price: float, long_qty: float, short_qty: float) -> None:
        """Add new positions entered at `price`, spread over the leverage distribution."""
        centre = int(round((math.log(price) - self.base - self.offset) / GRID_STEP))
        for qty, (offsets, weights), side in (
            (long_qty, self._long_kernel, self.longs),
            (short_qty, self._short_kernel, self.shorts),
        ):
            if qty <= 0:
                continue
            first = centre + int(offsets[0])
            dense = self._dense[side is self.shorts]
            if 0 <= first and first + dense.size <= self.size:
                side[first : first + dense.size] += qty * dense
            else:  # at the grid's edge: positions beyond it pile up in its outer buckets
                index = (centre + offsets).clip(0, self.size - 1)
                np.add.at(side, index, qty * weights)
        self.long_total += long_qty
        self.short_total += short_qty
        if long_qty > 0:
            nearest = centre + int(self._long_kernel[0][-1])
            self.top_long = max(self.top_long, min(self.size - 1, nearest))
        if short_qty > 0:
            nearest = centre + int(self._short_kernel[0][0])
            self.bottom_short = min(self.bottom_short, max(0, nearest))

    def close_share(self, share: float) -> None:
        """Voluntary closing: the same share of every bucket (liquidation prices keep)."""
        keep = 1.0 - share
        self.longs *= keep
        self.shorts *= keep
        self.long_total *= keep
        self.short_total *= keep

    def shift(self, log_shift: float) -> None:
        """Funding settled: margins changed, so every liquidation price moved."""
        self.offset += log_shift

    def discard_crossed(self, low: float, high: float) -> None:
        """Drop positions a past range `low .. high` liquidated (before the simulated window)."""
        first_long = max(math.ceil((math.log(low) - self.base - self.offset) / GRID_STEP), 0)
        last_short = min(
            math.floor((math.log(high) - self.base - self.offset) / GRID_STEP), self.size - 1
        )
        self.long_total = max(self.long_total - float(self.longs[first_long:].sum()), 0.0)
        self.short_total = max(self.short_total - float(self.shorts[: last_short + 1].sum()), 0.0)
        self.longs[first_long:] = 0.0
        self.shorts[: last_short + 1] = 0.0
        held_long, held_short = np.flatnonzero(self.longs), np.flatnonzero(self.shorts)
        self.top_long = int(held_long[-1]) if held_long.size else -1
        self.bottom_short = int(held_short[0]) if held_short.size else self.size

    def liquidate_longs(self, low: float) -> tuple[np.ndarray, np.ndarray]:
        """Force-close longs whose liquidation price is >= `low`: (prices, quantities)."""
        first = math.ceil((math.log(low) - self.base - self.offset) / GRID_STEP)
        first = max(first, 0)
        if first > self.top_long:
            return _EMPTY, _EMPTY
        segment = self.longs[first : self.top_long + 1]
        qty, prices = self._take(segment, first)
        self.long_total = max(self.long_total - float(segment.sum()), 0.0)
        segment[:] = 0.0
        self.top_long = first - 1
        while self.top_long >= 0 and self.longs[self.top_long] <= 0.0:
            self.top_long -= 1
        return prices, qty

    def liquidate_shorts(self, high: float) -> tuple[np.ndarray, np.ndarray]:
        last = math.floor((math.log(high) - self.base - self.offset) / GRID_STEP)
        last = min(last, self.size - 1)
        if last < self.bottom_short:
            return _EMPTY, _EMPTY
        segment = self.shorts[self.bottom_short : last + 1]
        qty, prices = self._take(segment, self.bottom_short)
        self.short_total = max(self.short_total - float(segment.sum()), 0.0)
        segment[:] = 0.0
        self.bottom_short = last + 1
        while self.bottom_short < self.size and self.shorts[self.bottom_short] <= 0.0:
            self.bottom_short += 1
        return prices, qty

    def _take(self, segment: np.ndarray, first: int) -> tuple[np.ndarray, np.ndarray]:
        """Buckets worth a forced order (bigger than dust): quantities and trigger prices."""
        index = np.flatnonzero(segment)
        prices = np.exp(self.base + self.offset + (first + index) * GRID_STEP)
        qty = segment[index]
        worth = qty * prices >= self.dust_usd
        return qty[worth], prices[worth]


_EMPTY = np.zeros(0)


def _dense(offsets: np.ndarray, weights: np.ndarray) -> np.ndarray:
    dense = np.zeros(int(offsets[-1] - offsets[0]) + 1)
    dense[offsets - offsets[0]] = weights
    return dense


# ------------------------------------------------------------------------------- model


@dataclass
class _SymbolState:
    log_fair: float
    deviation: float
    close: float
    abs_return_ewma: float
    taker_tail: tuple[np.ndarray, np.ndarray] = field(
        default_factory=lambda: (np.ones(SNAPSHOT_MINUTES), np.ones(SNAPSHOT_MINUTES))
    )


@dataclass
class _DayPaths:
    """The loop's raw output for one symbol: floats, before rounding to units."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    snapshots: np.ndarray  # (289, 4): passive, long, short, mark at 00:00, 00:05 .. 24:00
    liq_minute: list[int]
    liq_long: list[bool]
    liq_price: list[np.ndarray]
    liq_qty: list[np.ndarray]


class MarketSimulation:
    """The reference market model: `days()` yields one `MarketDay` per UTC day of the window."""

    def __init__(
        self,
        preset: Preset,
        start: date,
        end: date,
        specs: tuple[SymbolSpec, ...],
        seed: int,
        venues: tuple[str, ...] = ("binance",),
    ) -> None:
        if end <= start:
            raise ValueError(f"empty window: end {end} must be after start {start}")
        self.preset = preset
        self.mech = preset.mechanics
        self.start = start
        self.end = end
        self.specs = specs
        self.seed = seed
        self.contracts = venue_contracts(specs, venues, seed)
        self.schedule = preset.schedule((end - start).days)
        self._books = [PositionBook(s, self.mech, s.start_price) for s in specs]
        self._states = [
            _SymbolState(math.log(s.start_price), 0.0, s.start_price, self._calm_abs(s))
            for s in specs
        ]
        self._log_vol = 0.0
        self._regime = 0.0  # slow log-volatility of the market (`Mechanics.regime_vol`)
        self._sentiment = 0.0  # traders' long bias over the phase's (`Mechanics.sentiment_vol`)
        self._seed_books()

    # ------------------------------------------------------------------ set-up helpers

    def _calm_sigma(self, spec: SymbolSpec) -> float:
        """Per-minute log-return sd of the symbol in a calm market."""
        mech = self.mech
        daily = math.sqrt(
            spec.beta**2 * (mech.calm_vol**2 + mech.deviation_vol**2) + spec.idio_vol**2
        )
        return daily / math.sqrt(MINUTES)

    def _calm_abs(self, spec: SymbolSpec) -> float:
        return self._calm_sigma(spec) * math.sqrt(2 / math.pi)

    def _seed_books(self) -> None:
        """Start with positions opened over the previous weeks around the start price.

        The weeks before the window are a daily price path ending at the start price. Each
        day's new positions are exposed to every later day's range, so positions that history
        would have liquidated are gone before the window opens (no spike on its first day).
        """
        rng = np.random.default_rng([self.seed, 0xB00C])
        steps = rng.normal(0.0, SEED_DAILY_VOL, SEED_DAYS)
        entries = np.exp(np.cumsum(steps) - steps.sum())
        for spec, book in zip(self.specs, self._books, strict=True):
            leveraged = spec.open_interest_base * spec.leveraged_share
            book.passive = spec.open_interest_base - leveraged
            band = math.exp(SEED_DAILY_RANGE * spec.beta)
            for ratio in entries:
                price = spec.start_price * ratio**spec.beta
                book.discard_crossed(price / band, price * band)
                book.open(price, leveraged * 0.55 / entries.size, leveraged * 0.45 / entries.size)
            book.discard_crossed(spec.start_price / band, spec.start_price * band)

    # ------------------------------------------------------------------------- stream

    def days(self) -> Iterator[MarketDay]:
        for index, phase in enumerate(self.schedule):
            day = self.start + timedelta(days=index)
            rng, paths, funding = self._simulate_market(index, day, phase)
            venues = {}
            for k, venue in enumerate(VENUES):
                if venue in self.contracts:
                    venues[venue] = self._venue_day(
                        rng, index, k, venue, paths, funding, day_start_ms(day)
                    )
            yield MarketDay(day, phase.name, self.specs, venues)

    def summaries(self, leader_orders: bool = False) -> Iterator[MarketSummary]:
        """The same market as `days()`, day by day, without the venues' candles and payloads
        (what calibration needs, several times faster); with `leader_orders`, each venue's
        forced orders of the leading symbol (BTC), the very orders `days()` gives."""
        for index, phase in enumerate(self.schedule):
            day = self.start + timedelta(days=index)
            _, paths, funding = self._simulate_market(index, day, phase)
            liquidations = {
                venue: self._venue_liquidations(index, k, venue, paths[:1], day_start_ms(day))
                for k, venue in enumerate(VENUES)
                if leader_orders and venue in self.contracts
            }
            yield MarketSummary.of(day, phase.name, self.specs, paths, funding, liquidations)

    def _simulate_market(
        self, index: int, day: date, phase: Phase
    ) -> tuple[np.random.Generator, list[_DayPaths], list[FundingEvent]]:
        """Walk every symbol through the day: the market's paths, liquidated buckets and
        funding, and the day's generator (the venues' expansion draws from it next)."""
        rng = np.random.default_rng([self.seed, index])
        day_ms = day_start_ms(day)
        shocks = self._shocks(rng, phase)
        sentiment = self._multi_day(np.random.default_rng([self.seed, index, 0xDA7]), shocks)
        spill = np.zeros(MINUTES + 1)
        paths: list[_DayPaths] = []
        funding: list[FundingEvent] = []
        for s, spec in enumerate(self.specs):
            noise = rng.normal(0.0, 1.0, 3)
            jitter = rng.integers(1, 20, 3) * (rng.random(3) < 0.4)
            # high-beta traders swing harder with the market's mood
            long_share = min(max(phase.long_share + spec.beta * sentiment, 0.1), 0.9)
            path, events = self._run_symbol(
                s, spec, phase, long_share, shocks, spill, day_ms, noise, jitter, leader=(s == 0)
            )
            paths.append(path)
            funding += events
        funding.sort(key=lambda f: (f.funding_ms, f.symbol))
        return rng, paths, funding

    def _venue_day(
        self,
        rng: np.random.Generator,
        index: int,
        k: int,
        venue: str,
        paths: list[_DayPaths],
        funding: list[FundingEvent],
        day_ms: int,
    ) -> VenueDay:
        """One venue's share of the day. Binance draws from the day's generator (as a market
        simulated for Binance alone does); the others from their own."""
        contracts = self.contracts[venue]
        binance = venue == "binance"
        liq = self._venue_liquidations(index, k, venue, paths, day_ms)
        own = rng if binance else np.random.default_rng([self.seed, index, 2, k])
        bars, open_interest = {}, {}
        for s, (spec, contract) in enumerate(zip(self.specs, contracts, strict=True)):
            bars[spec.symbol] = self._bars(own, s, spec, paths[s], liq, day_ms, contract)
            open_interest[spec.symbol] = (
                self._snapshots(own, s, spec, paths[s], bars[spec.symbol], day_ms, contract)
                if binance
                else _venue_snapshots(spec, paths[s], day_ms, contract)
            )
        if not binance:
            funding = self._venue_funding(own, funding, contracts)
        return VenueDay(venue, contracts, bars, open_interest, funding, liq)

    def _venue_liquidations(
        self, index: int, k: int, venue: str, paths: list[_DayPaths], day_ms: int
    ) -> Liquidations:
        """A venue's forced orders of the day (their own generator: Binance's as when alone),
        of the first `len(paths)` symbols (their orders do not depend on the later ones')."""
        own = [] if venue == "binance" else [k]
        rng = np.random.default_rng([self.seed, index, 1, *own])
        return self._expand_liquidations(rng, paths, day_ms, self.contracts[venue], venue)

    def _venue_funding(
        self, rng: np.random.Generator, funding: list[FundingEvent], contracts: tuple[Contract, ...]
    ) -> list[FundingEvent]:
        """Bybit and OKX settle on the hour at a rate near the market's (their own premium)."""
        mech = self.mech
        basis = {c.symbol: c.basis for c in contracts}
        noise = rng.normal(0.0, 0.3 * mech.funding_noise * 1e8, len(funding))
        cap = int(round(mech.funding_cap * 1e8))
        return [
            FundingEvent(
                e.symbol,
                e.funding_ms - e.funding_ms % (60 * MINUTE_MS),
                min(max(e.rate_e8 + int(round(z)), -cap), cap),
                e.mark_price * math.exp(basis[e.symbol]),
                e.interval_hours,
                predicted_e8=e.rate_e8,
            )
            for e, z in zip(funding, noise.tolist(), strict=True)
        ]

    def _shocks(self, rng: np.random.Generator, phase: Phase) -> dict[str, np.ndarray]:
        """Exogenous per-minute shocks of the day, shared factor and per symbol."""
        mech = self.mech
        n = len(self.specs)
        persistence = math.exp(-math.log(2) / mech.vol_half_life_h)
        stationary_var = mech.vol_of_vol**2 / (1 - persistence**2)
        hourly = np.empty(24)
        for hour, shock in enumerate(rng.normal(0.0, mech.vol_of_vol, 24)):
            self._log_vol = persistence * self._log_vol + shock
            hourly[hour] = math.exp(self._log_vol - stationary_var / 2)
        vol_mult = np.repeat(hourly, 60)
        return {
            "vol_mult": vol_mult,
            "factor": self._t(rng, MINUTES) * vol_mult,
            "factor_dev": self._t(rng, MINUTES) * vol_mult,
            "own": self._t(rng, (n, MINUTES)),
            "own_dev": self._t(rng, (n, MINUTES)) * vol_mult,
            "wick_high": np.abs(rng.normal(0.0, 1.0, (n, MINUTES))) * vol_mult,
            "wick_low": np.abs(rng.normal(0.0, 1.0, (n, MINUTES))) * vol_mult,
        }

    def _multi_day(self, rng: np.random.Generator, shocks: dict[str, np.ndarray]) -> float:
        """Advance the slow states by a day (own generator: the day's other draws keep) and
        apply them: the volatility regime scales every shock of the day, news jumps move fair
        values at random minutes. Returns the day's sentiment (added to the long share)."""
        mech = self.mech
        regime_keep = math.exp(-math.log(2) / mech.regime_half_life_days)
        self._regime = regime_keep * self._regime + rng.normal(0.0, mech.regime_vol)
        regime_var = mech.regime_vol**2 / (1 - regime_keep**2)
        shocks["vol_mult"] *= math.exp(self._regime - regime_var / 2)
        sentiment_keep = math.exp(-math.log(2) / mech.sentiment_half_life_days)
        self._sentiment = sentiment_keep * self._sentiment + rng.normal(0.0, mech.sentiment_vol)
        n = len(self.specs)
        shocks["jump"] = self._jumps(rng, mech.jump_rate, 1)[0]
        shocks["own_jump"] = self._jumps(rng, mech.own_jump_rate, n)
        return self._sentiment

    def _jumps(self, rng: np.random.Generator, rate: float, rows: int) -> np.ndarray:
        """Per-minute log jumps of `rows` series: Poisson many a day, symmetric fat-tailed sizes."""
        jumps = np.zeros((rows, MINUTES))
        for row in range(rows):
            count = int(rng.poisson(rate))
            minutes = rng.integers(0, MINUTES, count)
            np.add.at(jumps[row], minutes, self.mech.jump_size * self._t(rng, count))
        return jumps

    def _t(self, rng: np.random.Generator, size) -> np.ndarray:
        """Student-t shocks with unit variance (fat tails), clipped at 12 sd."""
        dof = self.mech.tail_dof
        return (rng.standard_t(dof, size) / math.sqrt(dof / (dof - 2))).clip(-12, 12)

    # --------------------------------------------------------------------- minute loop

    def _run_symbol(
        self,
        s: int,
        spec: SymbolSpec,
        phase: Phase,
        long_share: float,
        shocks: dict[str, np.ndarray],
        spill: np.ndarray,
        day_ms: int,
        funding_noise: np.ndarray,
        funding_jitter: np.ndarray,
        leader: bool,
    ) -> tuple[_DayPaths, list[FundingEvent]]:
        """Walk one symbol through the day's minutes; the only place with feedback."""
        mech = self.mech
        book, state = self._books[s], self._states[s]
        root = math.sqrt(MINUTES)
        dev_vol = mech.deviation_vol * math.sqrt(phase.vol / mech.calm_vol)
        fair_steps = (
            spec.beta * (phase.drift / MINUTES + phase.vol / root * shocks["factor"])
            + 0.5 * mech.idio_scale * spec.idio_vol / root * shocks["own"][s] * shocks["vol_mult"]
            + spec.beta * shocks["jump"]
            + shocks["own_jump"][s]
        ).tolist()
        dev_steps = (
            spec.beta * dev_vol / root * shocks["factor_dev"]
            + 0.85 * spec.idio_vol / root * shocks["own_dev"][s]
        ).tolist()
        minute_sd = math.sqrt(spec.beta**2 * dev_vol**2 + spec.idio_vol**2) / root
        wick_high = np.exp(mech.wick * minute_sd * shocks["wick_high"][s]).tolist()
        wick_low = np.exp(-mech.wick * minute_sd * shocks["wick_low"][s]).tolist()
        spill_list = spill.tolist()
        reversion = math.exp(-math.log(2) / (mech.deviation_half_life_h * 60))
        calm_abs = self._calm_abs(spec)
        adv_base = spec.volume_base_per_day

        opens, highs, lows, closes = ([0.0] * MINUTES for _ in range(4))
        snapshots = np.empty((SNAPSHOTS_PER_DAY + 1, 4))
        path = _DayPaths(
            np.empty(0), np.empty(0), np.empty(0), np.empty(0), snapshots, [], [], [], []
        )
        events: list[FundingEvent] = []
        log_fair, deviation, prev = state.log_fair, state.deviation, state.close
        abs_ewma = state.abs_return_ewma
        pending_transient = pending_permanent = 0.0
        long_trigger, short_trigger = book.long_trigger(), book.short_trigger()

        for m in range(MINUTES):
            if m % SNAPSHOT_MINUTES == 0:
                snapshots[m // SNAPSHOT_MINUTES] = (
                    book.passive,
                    book.long_total,
                    book.short_total,
                    prev,
                )
            if m % (FUNDING_HOURS * 60) == 0:
                k = m // (FUNDING_HOURS * 60)
                rate_e8 = self._funding_rate_e8(book, deviation, funding_noise[k])
                events.append(
                    FundingEvent(
                        spec.symbol, day_ms + m * MINUTE_MS + int(funding_jitter[k]), rate_e8, prev
                    )
                )
                book.shift(rate_e8 / 1e8)
                long_trigger, short_trigger = book.long_trigger(), book.short_trigger()

            deviation = (
                reversion * deviation
                + dev_steps[m]
                + pending_transient
                + (0.0 if leader else spec.beta * spill_list[m])
            )
            log_fair += fair_steps[m] + pending_permanent
            pending_transient = pending_permanent = 0.0
            close = math.exp(log_fair + deviation)
            high = (prev if prev > close else close) * wick_high[m]
            low = (close if prev > close else prev) * wick_low[m]

            net_usd = 0.0
            if low <= long_trigger:
                prices, qty = book.liquidate_longs(low)
                net_usd -= self._record(path, m, True, prices, qty)
                long_trigger = book.long_trigger()
            if high >= short_trigger:
                prices, qty = book.liquidate_shorts(high)
                net_usd += self._record(path, m, False, prices, qty)
                short_trigger = book.short_trigger()
            if net_usd:
                impact = mech.impact * net_usd / (adv_base * close)
                pending_transient = impact * (1 - mech.permanent_impact)
                pending_permanent = impact * mech.permanent_impact
                if leader:
                    spill[m + 1] += impact * mech.impact_spillover

            abs_ewma = 0.98 * abs_ewma + 0.02 * abs(math.log(close / prev))
            opens[m], highs[m], lows[m], closes[m] = prev, high, low, close
            prev = close
            if m % REBALANCE_MINUTES == REBALANCE_MINUTES - 1:
                chasing = mech.momentum * math.log(close / state.close)  # the day's move so far
                share = min(max(long_share + chasing, 0.05), 0.95)
                self._rebalance(book, spec, phase, share, close, abs_ewma / calm_abs)
                long_trigger, short_trigger = book.long_trigger(), book.short_trigger()

        snapshots[SNAPSHOTS_PER_DAY] = (book.passive, book.long_total, book.short_total, prev)
        state.log_fair, state.deviation, state.close = log_fair, deviation, prev
        state.abs_return_ewma = abs_ewma
        path.open, path.high, path.low, path.close = (
            np.array(opens),
            np.array(highs),
            np.array(lows),
            np.array(closes),
        )
        return path, events

    @staticmethod
    def _record(
        path: _DayPaths, minute: int, long: bool, prices: np.ndarray, qty: np.ndarray
    ) -> float:
        """Keep a minute's liquidated buckets; return their notional (USDT)."""
        if qty.size == 0:
            return 0.0
        path.liq_minute.append(minute)
        path.liq_long.append(long)
        path.liq_price.append(prices)
        path.liq_qty.append(qty)
        return float(np.dot(prices, qty))

    def _funding_rate_e8(self, book: PositionBook, deviation: float, noise: float) -> int:
        """Binance: rate = premium + clamp(interest - premium, +-0.05 %), capped; 8 decimals."""
        mech = self.mech
        imbalance = (book.long_total - book.short_total) / max(book.leveraged, 1e-12)
        premium = (
            mech.funding_basis
            + mech.funding_imbalance * imbalance
            + mech.funding_deviation * deviation
            + mech.funding_noise * noise
        )
        rate = premium + min(max(0.0001 - premium, -0.0005), 0.0005)
        rate = min(max(rate, -mech.funding_cap), mech.funding_cap)
        return int(round(rate * 1e8))

    def _rebalance(
        self,
        book: PositionBook,
        spec: SymbolSpec,
        phase: Phase,
        long_share: float,
        price: float,
        vol_ratio: float,
    ) -> None:
        """Traders open in calm markets and close under stress (every 15 minutes); opening
        slows as open interest outgrows the capital behind it (`Mechanics.oi_reversion`)."""
        dt = REBALANCE_MINUTES / MINUTES
        open_mult = min(max(1.3 - 0.3 * vol_ratio, 0.15), 1.3)
        close_rate = phase.close_rate * (1 + self.mech.stress_close * max(vol_ratio - 1, 0.0))
        crowding = spec.open_interest_base * spec.start_price / (book.open_interest * price)
        opened = phase.open_rate * open_mult * crowding**self.mech.oi_reversion
        book.close_share(close_rate * dt)
        book.passive *= 1 + (opened - close_rate) * dt
        new = opened * spec.leveraged_share * book.open_interest * dt
        book.open(price, new * long_share, new * (1 - long_share))

    # -------------------------------------------------------------- forced orders

    def _expand_liquidations(
        self,
        rng: np.random.Generator,
        paths: list[_DayPaths],
        day_ms: int,
        contracts: tuple[Contract, ...],
        venue: str,
    ) -> Liquidations:
        """Split a venue's share of the liquidated buckets into its forced orders (sizes in its
        units, prices at its basis, times)."""
        mech = self.mech
        parts = []
        n = len(paths)  # the first n symbols (calibration expands only the leader's)
        for s, (spec, path, contract) in enumerate(
            zip(self.specs[:n], paths, contracts[:n], strict=True)
        ):
            if not path.liq_qty:
                continue
            counts = [q.size for q in path.liq_qty]
            minute = np.repeat(path.liq_minute, counts)
            is_long = np.repeat(path.liq_long, counts)
            trigger = np.concatenate(path.liq_price)
            bucket_qty = np.concatenate(path.liq_qty) * contract.share
            expected = np.maximum(bucket_qty * trigger / spec.mean_order_usd - 1, 0)
            n_orders = 1 + rng.poisson(expected)
            n_orders = np.minimum(n_orders, MAX_ORDERS_PER_BUCKET)
            bucket = np.repeat(np.arange(bucket_qty.size), n_orders)
            size = rng.lognormal(0.0, 1.1, bucket.size)
            share = size / np.bincount(bucket, weights=size)[bucket]
            qty_units = np.maximum(
                np.rint(bucket_qty[bucket] * share * 10**spec.qty_decimals / contract.lot_units), 1
            )
            minute_o = path.open[minute][bucket]
            extreme = np.where(is_long, path.low[minute], path.high[minute])[bucket]
            trig = trigger[bucket]
            travel = np.log(minute_o / extreme)
            reached = np.log(minute_o / trig)
            fraction = np.divide(
                reached, travel, out=np.full(travel.size, 0.5), where=travel != 0
            ).clip(0.0, 1.0)
            extreme_at = rng.uniform(0.15, 1.0, bucket.size) * MINUTE_MS
            trade_ms = (
                day_ms
                + minute[bucket] * MINUTE_MS
                + fraction * extreme_at
                + rng.exponential(mech.order_delay_ms, bucket.size)
            ).astype(np.int64)
            trade_ms = np.minimum(trade_ms, day_ms + DAY_MS - 1)
            long_b = is_long[bucket]
            slip = np.minimum(rng.exponential(0.0008, bucket.size), 0.8 * spec.maint_margin)
            direction = np.where(long_b, -1.0, 1.0)
            venue_trig = trig * math.exp(contract.basis)
            avg = venue_trig * (1 + direction * slip)
            bankrupt = venue_trig * (1 + direction * spec.maint_margin)
            tick = spec.tick_units
            avg_units = np.rint(avg * 10**spec.price_decimals / tick).astype(np.int64) * tick
            order_units = np.rint(bankrupt * 10**spec.price_decimals).astype(np.int64)
            partial = (qty_units >= 5) & (rng.random(bucket.size) < 0.35)
            last_units = np.where(
                partial,
                np.maximum(np.rint(qty_units * rng.uniform(0.1, 0.95, bucket.size)), 1),
                qty_units,
            )
            event_ms = trade_ms + rng.integers(1, 25, bucket.size)
            received_ms = event_ms + np.rint(rng.lognormal(math.log(35), 0.5, bucket.size))
            net_mode = (
                rng.random(bucket.size) < NET_MODE_SHARE
                if venue == "okx"
                else np.zeros(bucket.size, dtype=bool)
            )
            parts.append(
                (
                    np.full(bucket.size, s),
                    trade_ms,
                    event_ms,
                    received_ms,
                    long_b,
                    qty_units,
                    last_units,
                    order_units,
                    avg_units,
                    venue_trig,
                    net_mode,
                )
            )
        if not parts:
            columns = [np.zeros(0, dtype=np.int64) for _ in range(11)]
        else:
            columns = [np.concatenate(col) for col in zip(*parts, strict=True)]
        order_by = np.lexsort((np.arange(columns[1].size), columns[0], columns[1]))
        columns = [c[order_by] for c in columns]
        symbol, trade = columns[0].astype(np.int64), columns[1].astype(np.int64)
        pushed = (
            latest_per_second(symbol, trade)
            if venue == "binance"
            else np.ones(trade.size, dtype=bool)
        )
        return Liquidations(
            symbol_index=symbol,
            trade_ms=trade,
            event_ms=columns[2].astype(np.int64),
            received_ms=columns[3].astype(np.int64),
            is_long=columns[4].astype(bool),
            qty_units=columns[5].astype(np.int64),
            last_qty_units=columns[6].astype(np.int64),
            order_price_units=columns[7].astype(np.int64),
            avg_price_units=columns[8].astype(np.int64),
            trigger_price=columns[9].astype(np.float64),
            pushed=pushed,
            qty_step=np.array(
                [c.qty_step(spec) for spec, c in zip(self.specs, contracts, strict=True)]
            ),
            net_mode=columns[10].astype(bool),
        )

    # --------------------------------------------------------------- rounding to units

    def _bars(
        self,
        rng: np.random.Generator,
        s: int,
        spec: SymbolSpec,
        path: _DayPaths,
        liq: Liquidations,
        day_ms: int,
        contract: Contract,
    ) -> MinuteBars:
        """Round a venue's minute path to ticks and attach its volumes, trades and taker flow
        (its share of the organic flow plus its own forced orders)."""
        to_ticks = 10**spec.price_decimals / spec.tick_units * math.exp(contract.basis)
        op, cl = (
            np.rint(p * to_ticks).astype(np.int64) * spec.tick_units
            for p in (path.open, path.close)
        )
        hi = np.maximum(
            np.rint(path.high * to_ticks).astype(np.int64) * spec.tick_units, np.maximum(op, cl)
        )
        lo = np.minimum(
            np.rint(path.low * to_ticks).astype(np.int64) * spec.tick_units, np.minimum(op, cl)
        )
        ret = np.log(path.close / path.open)
        sigma = self._calm_sigma(spec)
        minutes = np.arange(MINUTES)
        profile = 1 + 0.35 * np.sin(2 * np.pi * (minutes / MINUTES - 0.3))
        base = (
            spec.volume_base_per_day
            * contract.share
            / MINUTES
            * profile
            * (0.35 + 0.65 * np.abs(ret) / (sigma * math.sqrt(2 / math.pi)))
            * rng.lognormal(-0.06, 0.35, MINUTES)
        )
        mine = liq.symbol_index == s
        liq_minute = ((liq.trade_ms[mine] - day_ms) // MINUTE_MS).clip(0, MINUTES - 1)
        liq_units = liq.qty_units[mine] * contract.lot_units  # in the model's base units
        liq_sell = np.bincount(
            liq_minute[liq.is_long[mine]], weights=liq_units[liq.is_long[mine]], minlength=MINUTES
        )
        liq_buy = np.bincount(
            liq_minute[~liq.is_long[mine]], weights=liq_units[~liq.is_long[mine]], minlength=MINUTES
        )
        liq_orders = np.bincount(liq_minute, minlength=MINUTES)
        organic = np.maximum(np.rint(base * 10**spec.qty_decimals), 1)
        volume = (organic + liq_sell + liq_buy).astype(np.int64)
        buy_share = 0.5 + 0.35 * np.tanh(ret / sigma / 2)
        buy_volume = np.rint(organic * buy_share + liq_buy).astype(np.int64)
        vwap = (op + hi + lo + cl) / 4.0
        quote = np.rint(vwap * volume).astype(np.int64)
        buy_quote = np.rint(vwap * buy_volume).astype(np.int64)
        trades = (
            np.maximum(
                np.rint(
                    organic
                    / 10**spec.qty_decimals
                    * spec.trades_per_base
                    * rng.lognormal(0.0, 0.2, MINUTES)
                ),
                1,
            ).astype(np.int64)
            + liq_orders
        )
        return MinuteBars(
            day_ms + minutes.astype(np.int64) * MINUTE_MS,
            op,
            hi,
            lo,
            cl,
            volume,
            quote,
            trades,
            buy_volume,
            buy_quote,
        )

    def _snapshots(
        self,
        rng: np.random.Generator,
        s: int,
        spec: SymbolSpec,
        path: _DayPaths,
        bars: MinuteBars,
        day_ms: int,
        contract: Contract,
    ) -> OpenInterestSnapshots:
        """Binance's open interest every 5 minutes, in units, with the metrics file's ratios."""
        state = self._states[s]
        passive, longs, shorts, mark = path.snapshots.T
        passive, longs, shorts = (side * contract.share for side in (passive, longs, shorts))
        oi_units = np.rint((passive + longs + shorts) * 10**spec.qty_decimals).astype(np.int64)
        to_ticks = 10**spec.price_decimals / spec.tick_units
        mark_units = np.rint(mark * to_ticks).astype(np.int64) * spec.tick_units
        long_side, short_side = longs + 0.5 * passive, shorts + 0.5 * passive
        position_ratio = long_side / short_side
        n = position_ratio.size
        noise = rng.lognormal(0.0, 0.03, (3, n))
        # taker buy/sell volume over the 5 minutes before each snapshot
        buy = np.concatenate([state.taker_tail[0], bars.taker_buy_volume.astype(float)])
        sell = np.concatenate(
            [state.taker_tail[1], (bars.volume - bars.taker_buy_volume).astype(float)]
        )
        window = SNAPSHOT_MINUTES
        buy_sum = np.add.reduceat(buy[: n * window], np.arange(0, n * window, window))
        sell_sum = np.add.reduceat(sell[: n * window], np.arange(0, n * window, window))
        state.taker_tail = (buy[-window:], sell[-window:])
        ratios = np.stack(
            [
                1.1 * position_ratio**0.8 * noise[0],  # top traders, accounts
                position_ratio * noise[1],  # top traders, positions
                1.25 * position_ratio**1.5 * noise[2],  # all accounts
                buy_sum / np.maximum(sell_sum, 1.0),  # taker buy/sell volume
            ],
            axis=1,
        )
        return OpenInterestSnapshots(
            snapshot_ms=day_ms + np.arange(n, dtype=np.int64) * SNAPSHOT_MINUTES * MINUTE_MS,
            oi_units=oi_units,
            mark_units=mark_units,
            value_units=oi_units * mark_units,
            ratios_e8=np.rint(ratios * 1e8).astype(np.int64),
            leveraged_long=longs.copy(),
            leveraged_short=shorts.copy(),
        )


def latest_per_second(symbol: np.ndarray, trade_ms: np.ndarray) -> np.ndarray:
    """Binance's stream sampling: only the latest order per symbol and 1000 ms is pushed.

    Input is sorted by (trade time, symbol, generation order); ties keep the later row.
    """
    if symbol.size == 0:
        return np.zeros(0, dtype=bool)
    second = trade_ms // 1000
    order = np.lexsort((np.arange(symbol.size), trade_ms, second, symbol))
    key_sym, key_sec = symbol[order], second[order]
    last = np.ones(order.size, dtype=bool)
    last[:-1] = (key_sym[1:] != key_sym[:-1]) | (key_sec[1:] != key_sec[:-1])
    pushed = np.zeros(symbol.size, dtype=bool)
    pushed[order[last]] = True
    return pushed


def _venue_snapshots(
    spec: SymbolSpec, path: _DayPaths, day_ms: int, contract: Contract
) -> OpenInterestSnapshots:
    """A venue's share of the open interest every 5 minutes, marked at its basis."""
    passive, longs, shorts, mark = path.snapshots.T
    share = contract.share
    oi_units = np.rint((passive + longs + shorts) * share * 10**spec.qty_decimals).astype(np.int64)
    to_ticks = 10**spec.price_decimals / spec.tick_units * math.exp(contract.basis)
    mark_units = np.rint(mark * to_ticks).astype(np.int64) * spec.tick_units
    return OpenInterestSnapshots(
        snapshot_ms=day_ms + np.arange(mark.size, dtype=np.int64) * SNAPSHOT_MINUTES * MINUTE_MS,
        oi_units=oi_units,
        mark_units=mark_units,
        value_units=oi_units * mark_units,
        ratios_e8=None,
        leveraged_long=longs * share,
        leveraged_short=shorts * share,
    )
