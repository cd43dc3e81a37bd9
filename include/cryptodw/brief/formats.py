"""How the brief writes numbers: the same functions fill the prose, the tables and the charts.

Negative numbers use an ASCII hyphen, so a figure can be searched for in either output.
"""

from __future__ import annotations

from datetime import date, datetime

MISSING = "n/a"


def usd(value: float | None) -> str:
    """A USD amount, compact: $237.4M, $2.16B, $12.3K, $950."""
    if value is None:
        return MISSING
    sign, size = ("-" if value < 0 else ""), abs(value)
    for threshold, suffix, decimals in (
        (1e12, "T", 2),
        (1e9, "B", 2),
        (1e6, "M", 1),
        (1e3, "K", 1),
    ):
        if size >= threshold:
            return f"{sign}${size / threshold:,.{decimals}f}{suffix}"
    return f"{sign}${size:,.0f}"


def price(value: float | None) -> str:
    """A price in USD with cents (4 decimals under $10): $79,993.80, $2.4512."""
    if value is None:
        return MISSING
    return f"${value:,.2f}" if abs(value) >= 10 else f"${value:,.4f}"


def pct(value: float | None) -> str:
    """A signed percentage: +0.72%, -1.88%."""
    return MISSING if value is None else f"{value:+.2f}%"


def pct_abs(value: float | None) -> str:
    """A percentage without its sign, for prose that says up or down: 1.88%."""
    return MISSING if value is None else f"{abs(value):.2f}%"


def share(value: float | None) -> str:
    """A fraction as a whole percentage: 0.8 -> 80%."""
    return MISSING if value is None else f"{value * 100:.0f}%"


def ratio(value: float | None) -> str:
    """A unitless statistic (correlation, beta) with two decimals."""
    return MISSING if value is None else f"{value:.2f}"


def btc(value: float | None) -> str:
    """A BTC quantity with thousands separators: 713,502 BTC."""
    return MISSING if value is None else f"{value:,.0f} BTC"


def day(value: date | None) -> str:
    return MISSING if value is None else value.isoformat()


def clock(value: datetime | None) -> str:
    """A UTC timestamp to the minute: 2026-01-30 01:25 UTC."""
    return MISSING if value is None else f"{value:%Y-%m-%d %H:%M} UTC"


def count(value: int | None) -> str:
    return MISSING if value is None else f"{value:,d}"
