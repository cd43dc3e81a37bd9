"""The brief's words and tables, generated from its figures (no figure is typed in here).

Each `*_section` function turns the rows of a few brief queries into a titled section:
paragraphs of prose, tables of formatted figures, the charts it shows and the queries it
cites. The Markdown and HTML templates only lay these sections out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from include.cryptodw.brief import formats as fmt
from include.cryptodw.brief.figures import Figures

ASSET_NAMES = {"BTC": "Bitcoin", "ETH": "Ethereum", "BNB": "BNB", "SOL": "Solana", "XRP": "XRP"}
BREADTH_MEANING = {
    "systemic": "a broad decline that takes in Bitcoin, not one coin's story",
    "localized": "a sharp fall in part of the market, without a broad decline",
    "calm": "neither a broad decline nor a sharp fall",
}
SIDES = ("long", "short")


@dataclass(frozen=True)
class Table:
    caption: str
    header: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Section:
    anchor: str
    title: str
    paragraphs: list[str]
    sources: list[str]
    tables: list[Table] = field(default_factory=list)
    charts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Headline:
    title: str
    lede: list[str]
    sources: list[str]


def headline(figures: Figures) -> Headline:
    """The title and opening paragraph: the breadth of the day and how the majors closed."""
    stress = figures.row("market_stress")
    label = stress.get("breadth_label")
    if label is None:
        verdict = "no day-over-day change yet"
    else:
        verdict = (
            f"a {label} day, {stress['assets_down']} of {stress['assets_tracked']} "
            f"majors down, Bitcoin {fmt.pct(stress['btc_change_pct'])}"
        )
    title = f"Crypto market brief for {fmt.day(figures.brief_date)}: {verdict}"
    return Headline(
        title=title,
        lede=[_moves_sentence(figures.rows("prices"))],
        sources=["market_stress", "prices"],
    )


def what_moved_section(figures: Figures) -> Section:
    """Each major's close and change, and the breadth label of the day."""
    prices = figures.rows("prices")
    stress = figures.row("market_stress")
    paragraphs = [_breadth_sentence(stress)]
    missing = [asset for asset in ASSET_NAMES if asset not in {p["base_asset"] for p in prices}]
    if missing:
        paragraphs.append(
            f"The warehouse has no price for {_join(missing)} that day, so the brief leaves "
            f"{'it' if len(missing) == 1 else 'them'} out."
        )
    table = Table(
        caption="Reference close and change on the UTC day",
        header=["Asset", "Close", "Change", "Reference venue", "Venues"],
        rows=[
            [
                row["base_asset"],
                fmt.price(row["close_usd"]),
                fmt.pct(row["change_pct"]),
                row["reference_exchange_id"],
                fmt.count(row["venues_reporting"]),
            ]
            for row in prices
        ],
    )
    return Section(
        anchor="what-moved",
        title="What moved",
        paragraphs=paragraphs,
        tables=[table],
        charts=["breadth"],
        sources=["prices", "market_stress", "breadth_history"],
    )


def liquidations_section(figures: Figures) -> Section:
    """Liquidated longs and shorts over 24h / 7d / 30d, for BTC and all assets, by venue."""
    totals = figures.row("liquidation_totals")
    venues = figures.rows("liquidations_by_venue")
    stress = figures.row("market_stress")
    paragraphs = [_liquidation_day_sentence(totals, stress), _liquidation_window_sentence(totals)]
    paragraphs += _venue_sentences(venues)
    periods = [("24h", "the UTC day"), ("7d", "7 days"), ("30d", "30 days")]
    totals_table = Table(
        caption="Liquidated positions across venues (USD)",
        header=["Window", "BTC longs", "BTC shorts", "All longs", "All shorts"],
        rows=[
            [
                text,
                *(fmt.usd(totals.get(f"btc_{side}_liquidations_{period}_usd")) for side in SIDES),
                *(fmt.usd(totals.get(f"{side}_liquidations_{period}_usd")) for side in SIDES),
            ]
            for period, text in periods
        ],
    )
    venue_table = Table(
        caption="Liquidated positions by venue, all assets (USD)",
        header=["Venue", *(f"{p} {side}s" for p, _ in periods for side in SIDES), "Feed"],
        rows=[
            [
                row["exchange_id"],
                *(fmt.usd(row[f"{side}_{p}_usd"]) for p, _ in periods for side in SIDES),
                "sampled" if row["is_sampled_feed"] else "complete",
            ]
            for row in venues
        ],
    )
    return Section(
        anchor="liquidations",
        title="How much was liquidated",
        paragraphs=paragraphs,
        tables=[totals_table, venue_table],
        charts=["liquidations"],
        sources=["liquidation_totals", "liquidations_by_venue", "market_stress"],
    )


def cascades_section(figures: Figures) -> Section:
    """How many cascades started, and the largest of the last 7 days."""
    stress = figures.row("market_stress")
    cascades = figures.rows("cascades")
    paragraphs = [_cascade_count_sentence(stress, cascades)]
    if cascades:
        paragraphs.append(_largest_cascade_sentence(cascades[0]))
    table = Table(
        caption="Largest cascades of the 7 days",
        header=[
            "Asset",
            "Start",
            "Minutes",
            "Venues",
            "Longs",
            "Shorts",
            "Price move",
            "Peak per minute",
        ],
        rows=[
            [
                row["base_asset"],
                fmt.clock(row["start_at"]),
                fmt.count(row["duration_minutes"]),
                fmt.count(row["venues_involved"]),
                fmt.usd(row["long_liquidations_usd"]),
                fmt.usd(row["short_liquidations_usd"]),
                fmt.pct(row["price_move_pct"]),
                fmt.usd(row["peak_liquidation_usd_per_minute"]),
            ]
            for row in cascades
        ],
    )
    return Section(
        anchor="cascades",
        title="Cascades",
        paragraphs=paragraphs,
        tables=[table] if cascades else [],
        sources=["market_stress", "cascades"],
    )


def open_interest_section(figures: Figures) -> Section:
    """Total perpetual open interest, its 1-day and 30-day change, the deleveraging flag."""
    oi = figures.row("open_interest")
    stress = figures.row("market_stress")
    paragraphs = [
        _open_interest_sentence(oi),
        _deleveraging_sentence(stress.get("is_deleveraging")),
    ]
    return Section(
        anchor="open-interest",
        title="The leverage unwind: open interest",
        paragraphs=paragraphs,
        charts=["open_interest"],
        sources=["open_interest", "open_interest_history", "market_stress"],
    )


def contagion_section(figures: Figures) -> Section:
    """How each other major moved with Bitcoin (correlation, beta, share explained)."""
    rows = figures.rows("contagion")
    paragraphs = [_contagion_sentence(row) for row in rows] or [
        "No other major has a price that day, so there is nothing to compare with Bitcoin."
    ]
    table = Table(
        caption="Other majors against Bitcoin",
        header=[
            "Asset",
            "Change",
            "BTC change",
            "Correlation 14d",
            "Beta 14d",
            "Share explained by BTC",
        ],
        rows=[
            [
                row["base_asset"],
                fmt.pct(row["change_pct"]),
                fmt.pct(row["btc_change_pct"]),
                fmt.ratio(row["btc_correlation_14d"]),
                fmt.ratio(row["btc_beta_14d"]),
                fmt.share(row["btc_explained_share"]),
            ]
            for row in rows
        ],
    )
    return Section(
        anchor="contagion",
        title="Beyond Bitcoin: how the stress spreads",
        paragraphs=paragraphs,
        tables=[table] if rows else [],
        sources=["contagion"],
    )


def supports_section(figures: Figures) -> Section:
    """Support levels broken and the next ones below the close, BTC first."""
    stress = figures.row("market_stress")
    summary = figures.rows("support_summary")
    paragraphs = [_btc_support_sentence(stress)]
    paragraphs += [_support_sentence(row) for row in summary if row["base_asset"] != "BTC"]
    table = Table(
        caption="Support levels below the day's close",
        header=[
            "Asset",
            "Close",
            "Next round number",
            "Nearest swing low",
            "Broken in 7 days",
            "Highest broken",
        ],
        rows=[
            [
                row["base_asset"],
                fmt.price(row["close_usd"]),
                fmt.price(row["next_round_number_usd"]),
                fmt.price(row["next_swing_low_usd"]),
                fmt.count(row["levels_broken_7d"]),
                fmt.price(row["highest_broken_7d_usd"]),
            ]
            for row in summary
        ],
    )
    return Section(
        anchor="support-levels",
        title="Critical support levels",
        paragraphs=paragraphs,
        tables=[table],
        charts=["price_support"],
        sources=["market_stress", "support_summary", "btc_support_levels", "price_history"],
    )


def treasury_section(figures: Figures) -> Section:
    """Corporate BTC treasuries marked to the day's close: who is under water."""
    holders = figures.rows("treasury_holdings")
    paragraphs = [_under_water_sentence(holders), *(_holder_sentence(row) for row in holders)]
    table = Table(
        caption="Corporate BTC treasuries marked to the day's close",
        header=[
            "Holder",
            "Holdings",
            "Cost basis",
            "Average cost",
            "Market value",
            "Unrealized P&L",
            "P&L",
            "Filing",
        ],
        rows=[
            [
                row["holder_name"],
                fmt.btc(row["btc_holdings"]),
                fmt.usd(row["cost_basis_usd"]),
                fmt.price(row["average_cost_usd_per_btc"]),
                fmt.usd(row["market_value_usd"]),
                fmt.usd(row["unrealized_pnl_usd"]),
                fmt.pct(row["unrealized_pnl_pct"]),
                f"{fmt.day(row['holdings_as_of_date'])}"
                f"{' (inferred)' if row['is_inferred'] else ''}",
            ]
            for row in holders
        ],
    )
    return Section(
        anchor="treasuries",
        title="Treasury holders",
        paragraphs=paragraphs,
        tables=[table] if holders else [],
        sources=["treasury_holdings"],
    )


def outlook_section(figures: Figures) -> Section:
    """What a recovery needs, in the day's numbers: the next support, the liquidations."""
    stress = figures.row("market_stress")
    totals = figures.row("liquidation_totals")
    watch = "whether long liquidations slow"
    if totals.get("long_liquidations_24h_usd") is not None:
        watch += f" from the day's {fmt.usd(totals['long_liquidations_24h_usd'])}"
    if stress.get("btc_next_support_usd") is not None:
        level = (
            f"Watch whether Bitcoin holds the {fmt.price(stress['btc_next_support_usd'])} "
            f"support, {fmt.pct_abs(stress['btc_next_support_distance_pct'])} below its close"
        )
    else:
        level = "Watch whether Bitcoin finds a floor: no round-number support lies below its close"
    return Section(
        anchor="outlook",
        title="What to watch",
        paragraphs=[
            f"{level}, and {watch}. A recovery needs both: a price that stops falling at a "
            "support level and forced selling that dies down."
        ],
        sources=["market_stress", "liquidation_totals"],
    )


def sections(figures: Figures) -> list[Section]:
    """Every section of the brief after the headline, in order."""
    return [
        what_moved_section(figures),
        liquidations_section(figures),
        cascades_section(figures),
        open_interest_section(figures),
        contagion_section(figures),
        supports_section(figures),
        treasury_section(figures),
        outlook_section(figures),
    ]


def _moves_sentence(prices: list[dict]) -> str:
    if not prices:
        return "The warehouse has no price for the tracked majors that day."
    first, *rest = prices
    sentence = f"{_name(first)} closed the UTC day at {fmt.price(first['close_usd'])}"
    if first["change_pct"] is not None:
        sentence += f", {_direction(first['change_pct'], 'up', 'down')} on the previous close"
    if rest:
        sentence += "; " + _join([_move(row) for row in rest])
    return sentence + "."


def _move(row: dict) -> str:
    if row["change_pct"] is None:
        return f"{_name(row)} closed at {fmt.price(row['close_usd'])}"
    return (
        f"{_name(row)} {_direction(row['change_pct'], 'rose', 'fell')} to "
        f"{fmt.price(row['close_usd'])}"
    )


def _direction(change_pct: float, up: str, down: str) -> str:
    """'down 1.88%' / 'fell 1.88%': the verb for the sign, then the size of the change."""
    return f"{down if change_pct < 0 else up} {fmt.pct_abs(change_pct)}"


def _name(row: dict) -> str:
    return ASSET_NAMES.get(row["base_asset"], row["base_asset"])


def _breadth_sentence(stress: dict) -> str:
    label = stress.get("breadth_label")
    if label is None:
        return "No tracked major has a change that day (it is the first day of the data)."
    return (
        f"{stress['assets_down']} of the {stress['assets_tracked']} tracked majors with a "
        f"change fell: market_stress_daily labels the day {label}, "
        f"{BREADTH_MEANING[label]}."
    )


def _liquidation_day_sentence(totals: dict, stress: dict) -> str:
    longs, shorts = (
        totals.get("long_liquidations_24h_usd"),
        totals.get("short_liquidations_24h_usd"),
    )
    if longs is None:
        return "No liquidation stream was captured on the UTC day."
    dominant = "longs" if longs >= shorts else "shorts"
    return (
        f"Over the UTC day, {fmt.usd(longs)} of long positions and {fmt.usd(shorts)} of short "
        f"positions were liquidated across {stress['venues_reporting']} venues, mostly "
        f"{dominant}; Bitcoin accounts for {fmt.usd(totals['btc_long_liquidations_24h_usd'])} "
        f"of the longs and {fmt.usd(totals['btc_short_liquidations_24h_usd'])} of the shorts."
    )


def _liquidation_window_sentence(totals: dict) -> str:
    if totals.get("long_liquidations_7d_usd") is None:
        return "Without a captured day there are no 7- or 30-day totals."
    sentence = (
        f"Zooming out, long liquidations reached {fmt.usd(totals['long_liquidations_7d_usd'])} "
        f"over 7 days ({fmt.usd(totals['btc_long_liquidations_7d_usd'])} in Bitcoin) and "
        f"{fmt.usd(totals['long_liquidations_30d_usd'])} over 30 days "
        f"({fmt.usd(totals['btc_long_liquidations_30d_usd'])} in Bitcoin)"
    )
    days = totals["liquidation_days_30d"]
    if days < 30:
        sentence += f"; the 30-day window holds only {days} captured days, so it is a lower bound"
    return sentence + "."


def _venue_sentences(venues: list[dict]) -> list[str]:
    day_venues = [row for row in venues if row["long_24h_usd"] is not None]
    sentences = []
    if day_venues:
        top = max(day_venues, key=lambda row: row["long_24h_usd"] + row["short_24h_usd"])
        sentences.append(
            f"{top['exchange_id'].capitalize()} liquidated the most on the day: "
            f"{fmt.usd(top['long_24h_usd'])} of longs and {fmt.usd(top['short_24h_usd'])} "
            "of shorts."
        )
    sampled = [row["exchange_id"].capitalize() for row in venues if row["is_sampled_feed"]]
    if sampled:
        sentences.append(
            f"{_join(sampled)} publish{'es' if len(sampled) == 1 else ''} a sampled "
            "liquidation feed, so those figures are lower bounds."
        )
    return sentences


def _cascade_count_sentence(stress: dict, cascades: list[dict]) -> str:
    week = cascades[0]["cascades_7d"] if cascades else 0
    count = stress.get("cascade_count")
    if count is None:
        day = "No liquidation stream was captured that day, so no cascade could be detected"
    elif count == 0:
        day = "No liquidation cascade started that day"
    else:
        day = f"{_plural(count, 'liquidation cascade')} started that day"
    return f"{day}; {week or 'none'} started in the 7 days ending with it."


def _largest_cascade_sentence(row: dict) -> str:
    name = _name(row)
    sentence = (
        f"The largest of the 7 days, in {name} from {fmt.clock(row['start_at'])} to "
        f"{row['end_at']:%H:%M} UTC, liquidated {fmt.usd(row['long_liquidations_usd'])} of "
        f"longs and {fmt.usd(row['short_liquidations_usd'])} of shorts on "
        f"{row['venues_involved']} venues while the price moved "
        f"{fmt.pct(row['price_move_pct'])}, peaking at "
        f"{fmt.usd(row['peak_liquidation_usd_per_minute'])} per minute."
    )
    if row["dominant_side"] == "long" and (row["price_move_pct"] or 0) < 0:
        sentence += (
            " Forced sales of liquidated longs hit the book as market orders, pushing the "
            "price lower and tripping the next round of liquidations."
        )
    return sentence


def _open_interest_sentence(oi: dict) -> str:
    if oi.get("open_interest_usd") is None:
        return "The warehouse has no open interest for that day."
    sentence = f"Perpetual open interest across venues closed at {fmt.usd(oi['open_interest_usd'])}"
    sentence += _change_clause(
        oi["open_interest_1d_change_pct"], oi["open_interest_1d_change_usd"], "on the day"
    )
    if oi["open_interest_30d_change_pct"] is None:
        return (
            sentence + "; the warehouse does not reach 30 days back, so there is no 30-day change."
        )
    return (
        sentence
        + _change_clause(
            oi["open_interest_30d_change_pct"],
            oi["open_interest_30d_change_usd"],
            "over 30 days",
            joiner=" and",
        )
        + "."
    )


def _change_clause(
    change_pct: float | None, change_usd: float | None, period: str, joiner: str = ","
) -> str:
    if change_pct is None:
        return f"{joiner} with no comparison {period}"
    direction = "down" if change_pct < 0 else "up"
    return f"{joiner} {direction} {fmt.pct_abs(change_pct)} ({fmt.usd(change_usd)}) {period}"


def _deleveraging_sentence(is_deleveraging: bool | None) -> str:
    if is_deleveraging is None:
        return (
            "The deleveraging flag compares open interest with 30 days earlier, so it is not "
            "available for this day."
        )
    if is_deleveraging:
        return (
            "market_stress_daily flags a deleveraging regime: open interest fell steeply over "
            "the month while the week liquidated longs far faster than the month did."
        )
    return "market_stress_daily does not flag a deleveraging regime."


def _contagion_sentence(row: dict) -> str:
    name = _name(row)
    sentence = (
        f"{name} moved {fmt.pct(row['change_pct'])} against Bitcoin's "
        f"{fmt.pct(row['btc_change_pct'])}"
    )
    if row["btc_beta_14d"] is None:
        return sentence + "; too few paired days leave its correlation and beta undefined."
    sentence += (
        f"; over 14 days its correlation with Bitcoin is {fmt.ratio(row['btc_correlation_14d'])}"
        f" and its beta {fmt.ratio(row['btc_beta_14d'])}"
    )
    if row["btc_explained_share"] is not None:
        sentence += (
            f", and Bitcoin's move accounts for {fmt.share(row['btc_explained_share'])} of its move"
        )
    return sentence + "."


def _btc_support_sentence(stress: dict) -> str:
    broken = stress.get("btc_broken_support_usd")
    sentence = (
        f"Bitcoin's close broke the {fmt.price(broken)} round-number support that day. "
        if broken is not None
        else "Bitcoin broke no round-number support that day. "
    )
    if stress.get("btc_next_support_usd") is None:
        return sentence + "No round-number support lies below its close."
    return sentence + (
        f"The next one below is {fmt.price(stress['btc_next_support_usd'])}, "
        f"{fmt.pct_abs(stress['btc_next_support_distance_pct'])} under the close of "
        f"{fmt.price(stress['btc_close_usd'])}: holding it would give buyers a place to "
        "make a stand; a decisive break would turn attention to the level after it."
    )


def _support_sentence(row: dict) -> str:
    name = _name(row)
    sentence = f"{name}'s next round-number support is {fmt.price(row['next_round_number_usd'])}"
    if row["next_swing_low_usd"] is not None:
        sentence += f" (nearest swing low {fmt.price(row['next_swing_low_usd'])})"
    if row["levels_broken_7d"]:
        sentence += (
            f"; {row['levels_broken_7d']} of its levels broke in the last 7 days, the highest "
            f"at {fmt.price(row['highest_broken_7d_usd'])}"
        )
    return sentence + "."


def _under_water_sentence(holders: list[dict]) -> str:
    under_water = [row for row in holders if row["unrealized_pnl_usd"] < 0]
    if not holders:
        return "No corporate BTC treasury is tracked on that day."
    if not under_water:
        return "No tracked corporate BTC treasury is under water at the day's close."
    if len(under_water) == len(holders):
        return (
            f"Every tracked corporate BTC treasury ({len(holders)}) is under water at the day's "
            "close."
        )
    return (
        f"{len(under_water)} of the {len(holders)} tracked corporate BTC treasuries are under "
        "water at the day's close."
    )


def _holder_sentence(row: dict) -> str:
    pnl = row["unrealized_pnl_usd"]
    outcome = "an unrealized loss" if pnl < 0 else "an unrealized gain"
    sentence = (
        f"{row['holder_name']} holds {fmt.btc(row['btc_holdings'])} bought for "
        f"{fmt.usd(row['cost_basis_usd'])} (on average {fmt.price(row['average_cost_usd_per_btc'])}"
        f" per BTC); at Bitcoin's close of {fmt.price(row['btc_close_usd'])} they are worth "
        f"{fmt.usd(row['market_value_usd'])}, {outcome} of {fmt.usd(abs(pnl))} "
        f"({fmt.pct(row['unrealized_pnl_pct'])})."
    )
    source = f"Holdings as filed on {fmt.day(row['holdings_as_of_date'])}"
    if row["is_inferred"]:
        source += ", a filing the data's compiler inferred"
    return f"{sentence} {source} ({row['source_reference']})."


def _plural(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _join(items: list[str]) -> str:
    if len(items) <= 2:
        return " and ".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"
