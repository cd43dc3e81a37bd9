"""The benchmark sizes: how many symbols and days of history each one simulates.

Every size lands the three venues wired end to end (`include.cryptodw.assets.VENUES`: Binance,
Bybit, OKX) for its symbols. The history ends the day before `new_day`, the day the
incremental-refresh step adds on top of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from include.cryptodw.windows import Window

# The five majors the simulator has figures for, then alt-coins it simulates generically.
SYMBOLS = (
    "BTCUSDT",
    "ETHUSDT",
    "BNBUSDT",
    "SOLUSDT",
    "XRPUSDT",
    "DOGEUSDT",
    "ADAUSDT",
    "AVAXUSDT",
    "LINKUSDT",
    "DOTUSDT",
    "LTCUSDT",
    "TRXUSDT",
    "BCHUSDT",
    "NEARUSDT",
    "UNIUSDT",
    "ATOMUSDT",
    "APTUSDT",
    "ARBUSDT",
    "OPUSDT",
    "FILUSDT",
    "ETCUSDT",
    "XLMUSDT",
    "INJUSDT",
    "SUIUSDT",
    "AAVEUSDT",
    "MKRUSDT",
    "RUNEUSDT",
    "SEIUSDT",
    "TIAUSDT",
    "LDOUSDT",
    "ALGOUSDT",
    "SANDUSDT",
    "MANAUSDT",
    "AXSUSDT",
    "GALAUSDT",
    "CRVUSDT",
    "DYDXUSDT",
    "EGLDUSDT",
    "FTMUSDT",
    "GRTUSDT",
    "HBARUSDT",
    "ICPUSDT",
    "IMXUSDT",
    "KASUSDT",
    "ORDIUSDT",
    "PEPEUSDT",
    "QNTUSDT",
    "STXUSDT",
    "THETAUSDT",
    "WLDUSDT",
)
# The shorter history the incremental step compares against (the "1 month").
BASELINE_HISTORY_DAYS = 30


@dataclass(frozen=True)
class Size:
    """History starts on the 1st of a month: Binance archives funding in monthly files."""

    name: str
    symbols: int
    history_start: date
    new_day: date  # the day the incremental step adds; the history ends the day before
    # The simulator preset: `crash` is tuned on the weeks around the Feb 2025 crash; stretched
    # over a year its leveraged book liquidates up to 1.5 M orders a day per venue (20 symbols),
    # so the long sizes simulate `multiyear`, built for years of history.
    preset: str = "crash"

    @property
    def symbol_list(self) -> tuple[str, ...]:
        return SYMBOLS[: self.symbols]

    @property
    def history(self) -> Window:
        return Window(self.history_start, self.new_day)

    @property
    def baseline_history(self) -> Window:
        """The last month of `history`: the short history the incremental step compares with."""
        return Window(
            max(self.history_start, self.new_day - timedelta(days=BASELINE_HISTORY_DAYS)),
            self.new_day,
        )

    @property
    def new_day_window(self) -> Window:
        return Window(self.new_day, self.new_day + timedelta(days=1))

    @property
    def lake_window(self) -> Window:
        """Everything the lake holds: the history and the new day."""
        return Window(self.history_start, self.new_day_window.end)


SIZES = {
    size.name: size
    for size in (
        Size("tiny", symbols=2, history_start=date(2025, 2, 1), new_day=date(2025, 2, 5)),
        Size("month", symbols=20, history_start=date(2025, 2, 1), new_day=date(2025, 3, 1)),
        Size("year", 20, date(2024, 3, 1), new_day=date(2025, 3, 1), preset="multiyear"),
        Size("2y", 50, date(2023, 3, 1), new_day=date(2025, 3, 1), preset="multiyear"),
    )
}
