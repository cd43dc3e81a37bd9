"""How one simulated market is listed on each venue: instrument names, quantity units, shares.

The market model is one market per symbol. Each venue lists it as its own contract and holds a
share of its positions, open interest and volume; prices differ by a tiny constant basis.

* Binance and Bybit (linear) count quantities in base coin with the same step (`qty_decimals`).
* OKX counts SWAP quantities in CONTRACTS of `ctVal` base coin (0.01 BTC for BTC-USDT-SWAP).

A venue quantity unit is a whole number of the model's base units (10**-qty_decimals coin),
`lot_units`, so every venue's volume and open interest stay exact in integer units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from include.cryptodw.simulator.presets import VENUES, SymbolSpec

QUOTE = "USDT"
# OKX contract values of the majors (`ctVal`, base coin per contract), as OKX lists them.
OKX_CONTRACT_VALUES = {
    "BTCUSDT": "0.01",
    "ETHUSDT": "0.1",
    "SOLUSDT": "1",
    "XRPUSDT": "100",
    "BNBUSDT": "0.01",
}
# Mean log-price offset of each venue from the model's (Binance's) price, and its spread
# across symbols: a basis of a few hundredths of a percent at most.
VENUE_BASIS = {"binance": (0.0, 0.0), "bybit": (0.00005, 0.0001), "okx": (-0.00004, 0.0001)}


@dataclass(frozen=True)
class Contract:
    """One symbol as one venue lists it."""

    venue: str
    symbol: str  # the model's name, e.g. BTCUSDT
    instrument: str  # the venue's name: BTCUSDT, or BTC-USDT-SWAP on OKX
    share: float  # of the market's positions, open interest and volume
    basis: float  # log offset of this venue's prices from the model's
    qty_decimals: int  # digits the venue prints quantities with (OKX contracts: 0)
    lot_units: int  # model base units (10**-spec.qty_decimals coin) per venue quantity unit
    ct_val: str | None = None  # OKX `ctVal` (base coin per contract), exact decimal text

    def qty_step(self, spec: SymbolSpec) -> float:
        """Base coin per venue quantity unit."""
        return self.lot_units * 10.0**-spec.qty_decimals

    @property
    def family(self) -> str:
        """OKX `instFamily` / `uly` ("BTC-USDT"); the base coin and quote elsewhere."""
        return self.instrument.removesuffix("-SWAP")

    @property
    def base_coin(self) -> str:
        return self.symbol.removesuffix(QUOTE)

    def record(self) -> dict:
        """The contract as `simulation.json` keeps it (the simulated APIs list it)."""
        return {
            "venue": self.venue,
            "symbol": self.symbol,
            "instrument": self.instrument,
            "share": self.share,
            "qty_decimals": self.qty_decimals,
            "lot_units": self.lot_units,
            "ct_val": self.ct_val,
        }


def okx_inst_id(symbol: str) -> str:
    """BTCUSDT -> BTC-USDT-SWAP."""
    if not symbol.endswith(QUOTE):
        raise ValueError(f"{symbol} is not a USDT-margined symbol")
    return f"{symbol.removesuffix(QUOTE)}-{QUOTE}-SWAP"


def okx_contract_value(spec: SymbolSpec) -> str:
    """`ctVal` of a symbol: OKX's for the majors, else a power of ten worth about 10 USDT
    (never finer than the model's quantity step)."""
    if spec.symbol in OKX_CONTRACT_VALUES:
        return OKX_CONTRACT_VALUES[spec.symbol]
    exponent = max(round(math.log10(10.0 / spec.start_price)), -spec.qty_decimals)
    return format(Decimal(1).scaleb(exponent), "f")


def venue_contracts(
    specs: tuple[SymbolSpec, ...], venues: tuple[str, ...], seed: int
) -> dict[str, tuple[Contract, ...]]:
    """Per venue (in `VENUES` order), its contract for each spec (in spec order)."""
    unknown = sorted(set(venues) - set(VENUES))
    if unknown or not venues:
        raise ValueError(f"venues must be a non-empty subset of {VENUES}, got {venues}")
    chosen = tuple(v for v in VENUES if v in venues)
    contracts = {}
    for k, venue in enumerate(VENUES):
        if venue not in chosen:
            continue
        mean, spread = VENUE_BASIS[venue]
        noise = np.random.default_rng([seed, 0xBA515, k]).normal(0.0, 1.0, len(specs))
        contracts[venue] = tuple(
            _contract(venue, spec, spec.venue_share(venue, chosen), mean + spread * float(z))
            for spec, z in zip(specs, noise, strict=True)
        )
    return contracts


def _contract(venue: str, spec: SymbolSpec, share: float, basis: float) -> Contract:
    if venue != "okx":
        return Contract(venue, spec.symbol, spec.symbol, share, basis, spec.qty_decimals, 1)
    ct_val = okx_contract_value(spec)
    lot = Decimal(ct_val).scaleb(spec.qty_decimals)
    if lot != lot.to_integral_value():
        raise ValueError(f"ctVal {ct_val} of {spec.symbol} is finer than its quantity step")
    return Contract(venue, spec.symbol, okx_inst_id(spec.symbol), share, basis, 0, int(lot), ct_val)
