"""Bad payloads: Binance `forceOrder` websocket segments and REST pages with faulty rows.

Websocket cases edit the recorded segments of 2026-02-04 (rows in = messages of the day);
REST cases edit the openInterestHist page of 2026-02-04 on its way to the client (rows in =
items served). Bad rows must be quarantined with a reason, good rows landed, duplicates
collapsed, counts reconciled; landing the same input again must give the same files, and
landing the repaired input the clean run's files.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import httpx
import pytest
from conftest import DAY
from fault_harness import (
    SYMBOL,
    VENUE,
    FaultyExchange,
    Outcome,
    RewriteJson,
    duckdb_count,
    exact_duplicates,
    lake_state,
    quarantined,
    raw_rows,
    temp_files,
    without,
)

from include.cryptodw.pipeline import land_slice
from include.cryptodw.sources.common import PayloadFormatError
from include.cryptodw.transport import write_ws_segment, ws_segment_dir

STREAM = "forceOrder"
# The event key stg_binance__liquidations de-duplicates on (liquidation_id).
EVENT_KEY = ("symbol", "trade_time", "order_side", "filled_qty", "avg_price")

Message = tuple[int, str]  # (receive time ms, raw text)


# ------------------------------------------------------------------- websocket segments


def _segments(settings, day) -> dict[Path, list[Message]]:
    directory = ws_segment_dir(settings.replay_dir, VENUE, STREAM, day)
    return {path: _read_segment(path) for path in sorted(directory.glob("*.jsonl.gz"))}


def _read_segment(path: Path) -> list[Message]:
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    return [(record["recv_ts"], record["data"]) for record in map(json.loads, lines)]


def _write(settings, day, name: str, messages: list[Message]) -> None:
    write_ws_segment(settings.replay_dir, VENUE, STREAM, day, name, messages)


def _name(path: Path) -> str:
    return path.name.removesuffix(".jsonl.gz")


@dataclass(frozen=True)
class Injection:
    """Messages added to the day's first non-empty segment, and what landing must make of them."""

    messages: Callable[[Message], list[Message]]  # from a template message
    landed: int = 0  # new events landed
    quarantined: int = 0
    collapsed: int = 0
    reason: str = ""  # every quarantined row's reason matches this


def _variant(template: Message, shift_ms: int, edit: Callable[[dict], None]) -> Message:
    """A copy of the template event, `shift_ms` later (a distinct event), edited."""
    received, text = template
    event = json.loads(text)
    event["E"] += shift_ms
    event["o"]["T"] += shift_ms
    edit(event)
    return received + shift_ms, json.dumps(event, separators=(",", ":"))


def _set(**fields) -> Callable[[dict], None]:
    return lambda event: event["o"].update(fields)


def _rename(old: str, new: str) -> Callable[[dict], None]:
    return lambda event: event["o"].update({new: event["o"].pop(old)})


def _drop(key: str) -> Callable[[dict], None]:
    return lambda event: event["o"].pop(key)


FAR_FUTURE_MS = 4_200_000_000_000  # 2103
LATER_YEAR_MS = 1_900_000_000_000  # 2030: plausible, but not in this segment's span

WEBSOCKET = {
    "malformed JSON": Injection(
        lambda t: [(t[0] + 11, t[1][:-9])], quarantined=1, reason="malformed JSON"
    ),
    "renamed field (q -> qty)": Injection(
        lambda t: [_variant(t, 12, _rename("q", "qty"))], quarantined=1, reason="missing field 'q'"
    ),
    "missing field (ap)": Injection(
        lambda t: [_variant(t, 13, _drop("ap"))], quarantined=1, reason="missing field 'ap'"
    ),
    "string where a number belongs": Injection(
        lambda t: [_variant(t, 14, _set(q="0.4l2")), _variant(t, 15, _set(T="soon"))],
        quarantined=2,
        reason="is not a number|is not an integer",
    ),
    "negative and zero quantities": Injection(
        lambda t: [_variant(t, 16, _set(q="-0.412")), _variant(t, 17, _set(z="0"))],
        quarantined=2,
        reason="must be > 0",
    ),
    "filled more than ordered": Injection(
        lambda t: [_variant(t, 25, _set(z="9.999"))],
        quarantined=1,
        reason="exceeds the order quantity",
    ),
    "timestamps far in the future / past": Injection(
        lambda t: [
            _variant(t, 18, _set(T=FAR_FUTURE_MS)),
            _variant(t, 19, _set(T=0)),
            _variant(t, 20, _set(T=LATER_YEAR_MS)),
        ],
        quarantined=3,
        reason="not a plausible epoch-ms timestamp|outside this payload's span",
    ),
    "unknown symbol (all-market stream)": Injection(
        lambda t: [_variant(t, 21, _set(s="NOTLISTEDUSDT"))], landed=1
    ),
    "symbols escaping the lake's paths": Injection(
        lambda t: [
            _variant(t, 22, _set(s="../../../../escape")),
            _variant(t, 23, _set(s="BTCUSDT/../../escape")),
            _variant(t, 24, _set(s="..")),
        ],
        quarantined=3,
        reason="is not a plain token",
    ),
    "duplicate messages (exact copy, re-send)": Injection(
        lambda t: [t, (t[0] + 2_000, t[1])], collapsed=2
    ),
}


def _inject(settings, injection: Injection) -> int:
    """Add the injection's messages to the day's first non-empty segment; messages added."""
    path, messages = next((p, m) for p, m in _segments(settings, DAY.start).items() if m)
    added = injection.messages(messages[0])
    _write(settings, DAY.start, _name(path), [messages[0], *added, *messages[1:]])
    return len(added)


def _events(rows: list[dict]) -> set[tuple]:
    return {tuple(row[k] for k in EVENT_KEY) for row in rows}


def _land_liquidations(settings):
    return land_slice(settings, "liquidations", DAY)


def _assert_readers_see_whole_files(settings, dataset: str) -> None:
    assert temp_files(settings.data_dir) == []
    assert duckdb_count(settings, dataset) == len(raw_rows(settings, dataset))


@pytest.mark.parametrize("fault", list(WEBSOCKET))
def test_websocket_faults_are_quarantined_and_counts_reconcile(
    fault, fresh, clean, ledger, tmp_path
):
    injection = WEBSOCKET[fault]
    originals = {p: p.read_bytes() for p in _segments(fresh, DAY.start)}
    clean_rows = raw_rows(clean.settings, "liquidations")
    rows_in = len(clean_rows) + _inject(fresh, injection)

    result = _land_liquidations(fresh)

    landed, rejects = raw_rows(fresh, "liquidations"), quarantined(fresh, "liquidations")
    events = _events(landed)
    outcome = ledger.record(
        Outcome("websocket payload", fault, _describe(injection), rows_in, len(events),
                len(rejects), rows_in - len(events) - len(rejects))
    )  # fmt: skip
    assert (len(rejects), outcome.collapsed) == (injection.quarantined, injection.collapsed)
    assert len(events) == len(_events(clean_rows)) + injection.landed
    assert _events(clean_rows) <= events  # every good row landed
    assert exact_duplicates(landed) == 0
    assert all(r["reason"] and r["raw"] for r in rejects)
    assert all(re.search(injection.reason, r["reason"]) for r in rejects)
    assert result.rejected == len(rejects)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # nothing written outside
    _assert_readers_see_whole_files(fresh, "liquidations")

    first = lake_state(fresh)
    _land_liquidations(fresh)
    assert lake_state(fresh) == first  # replaced, not appended
    for path, data in originals.items():
        path.write_bytes(data)
    _land_liquidations(fresh)
    assert lake_state(fresh) == clean.files("liquidations")


def _describe(injection: Injection) -> str:
    if injection.collapsed:
        return "exact copy collapsed on landing; re-send kept as a receipt, counted once"
    if injection.landed:
        return "landed (the all-market stream carries every symbol)"
    return f"quarantined with reason: {injection.reason.split('|')[0]}"


def test_out_of_order_and_late_messages_land_the_clean_rows(fresh, clean, ledger):
    """Messages reversed in every segment, and the day's last one received after midnight."""
    segments = _segments(fresh, DAY.start)
    for path, messages in segments.items():
        _write(fresh, DAY.start, _name(path), messages[::-1])
    path = max(p for p, m in segments.items() if m)
    messages = _read_segment(path)
    late = max(messages, key=lambda m: json.loads(m[1])["o"]["T"])
    _write(fresh, DAY.start, _name(path), [m for m in messages if m != late])
    next_day = DAY.start + timedelta(days=1)
    after_midnight = int(datetime.combine(next_day, time(), tzinfo=UTC).timestamp() * 1000) + 500
    _write(fresh, next_day, "0000", [(after_midnight, late[1])])

    result = _land_liquidations(fresh)

    clean_rows = raw_rows(clean.settings, "liquidations")
    landed = raw_rows(fresh, "liquidations")
    assert without(landed, "_source", "received_at") == without(
        clean_rows, "_source", "received_at"
    )
    assert quarantined(fresh, "liquidations") == []
    ledger.record(
        Outcome("websocket payload", "out-of-order messages; one received after midnight",
                "landed in event order; equals the clean run", len(clean_rows), result.rows, 0)
    )  # fmt: skip


# ------------------------------------------------------------------------------ REST pages


@dataclass(frozen=True)
class PageEdit:
    """An edit of the openInterestHist page's items, and what landing must make of it."""

    edit: Callable[[list], list]
    quarantined: int = 0
    collapsed: int = 0
    reason: str = ""


def _items(edit: Callable[[list], None]) -> Callable[[list], list]:
    def apply(items: list) -> list:
        edit(items)
        return items

    return apply


def _item(index: int, **fields) -> Callable[[list], list]:
    return _items(lambda items: items[index].update(fields))


def _append(*copies: Callable[[list], dict]) -> Callable[[list], list]:
    return lambda items: items + [make(items) for make in copies]


REST = {
    "renamed field (sumOpenInterest -> sumOpenInt)": PageEdit(
        _items(lambda items: items[5].update(sumOpenInt=items[5].pop("sumOpenInterest"))),
        quarantined=1,
        reason="missing field 'sumOpenInterest'",
    ),
    "missing field (timestamp)": PageEdit(
        _items(lambda items: items[6].pop("timestamp")),
        quarantined=1,
        reason="missing field 'timestamp'",
    ),
    "string where a number belongs": PageEdit(
        _item(7, sumOpenInterest="n/a"), quarantined=1, reason="is not a number"
    ),
    "negative quantity": PageEdit(
        _item(8, sumOpenInterest="-12.5"), quarantined=1, reason="must be > 0"
    ),
    "zero open interest": PageEdit(
        _item(9, sumOpenInterest="0"), quarantined=1, reason="must be > 0"
    ),
    "timestamps far in the future / past": PageEdit(
        lambda items: _item(12, timestamp=LATER_YEAR_MS)(
            _item(11, timestamp=1_000)(_item(10, timestamp=FAR_FUTURE_MS)(items))
        ),
        quarantined=3,
        reason="not a plausible epoch-ms timestamp|outside this payload's span",
    ),
    "another symbol in the page": PageEdit(
        _item(13, symbol="ETHUSDT"), quarantined=1, reason="does not match the requested symbol"
    ),
    "symbol escaping the lake's paths": PageEdit(
        _item(14, symbol="../../BTCUSDT"), quarantined=1, reason="is not a plain token"
    ),
    "duplicate items (exact, conflicting)": PageEdit(
        _append(
            lambda items: dict(items[20]),
            lambda items: {**items[21], "sumOpenInterest": "1.0"},
        ),
        quarantined=1,
        collapsed=1,
        reason="conflicting duplicate",
    ),
    "out-of-order items": PageEdit(lambda items: items[::-1]),
}


def _land_open_interest(settings, exchange: FaultyExchange):
    return land_slice(
        settings, "open_interest", DAY, symbol=SYMBOL, transport=exchange.transport([])
    )


@pytest.mark.parametrize("fault", list(REST))
def test_rest_page_faults_are_quarantined_and_counts_reconcile(fault, fresh, clean, ledger):
    page = REST[fault]
    rewrite = RewriteJson(page.edit)

    result = _land_open_interest(fresh, FaultyExchange(fresh, {0: rewrite}))

    landed, rejects = raw_rows(fresh, "open_interest"), quarantined(fresh, "open_interest")
    outcome = ledger.record(
        Outcome("REST payload", fault, _describe_page(page), rewrite.served, len(landed),
                len(rejects), page.collapsed)
    )  # fmt: skip
    assert outcome.reconciles()
    assert len(rejects) == page.quarantined == result.rejected
    assert all(re.search(page.reason, r["reason"]) for r in rejects)
    assert exact_duplicates(landed) == 0
    assert len({(r["symbol"], r["snapshot_at"]) for r in landed}) == len(landed)
    clean_keys = {r["snapshot_at"] for r in raw_rows(clean.settings, "open_interest")}
    assert {r["snapshot_at"] for r in landed} <= clean_keys
    _assert_readers_see_whole_files(fresh, "open_interest")

    first = lake_state(fresh)
    _land_open_interest(fresh, FaultyExchange(fresh, {0: RewriteJson(page.edit)}))
    assert lake_state(fresh) == first
    _land_open_interest(fresh, FaultyExchange(fresh))
    assert lake_state(fresh) == clean.files("open_interest")


def _describe_page(page: PageEdit) -> str:
    if not page.quarantined:
        return "landed in time order; equals the clean run"
    done = f"quarantined with reason: {page.reason.split('|')[0]}"
    return f"exact copy collapsed; conflicting copy {done}" if page.collapsed else done


def test_a_page_that_is_not_json_stops_the_slice_and_a_rerun_recovers(fresh, clean, ledger):
    def error_page(request, answer):
        return httpx.Response(200, content=b"<html><body>502 Bad Gateway</body></html>")

    with pytest.raises(PayloadFormatError, match="is not JSON"):
        _land_open_interest(fresh, FaultyExchange(fresh, {0: error_page}))
    assert lake_state(fresh) == {}

    result = _land_open_interest(fresh, FaultyExchange(fresh))
    assert lake_state(fresh) == clean.files("open_interest")
    ledger.record(
        Outcome("REST payload", "page is not JSON (an HTML error page with 200)",
                "PayloadFormatError, nothing written; re-run equals the clean run",
                result.rows, result.rows, result.rejected)
    )  # fmt: skip


def test_a_requested_symbol_escaping_the_lake_is_refused_before_any_request(fresh, ledger):
    exchange = FaultyExchange(fresh)
    with pytest.raises(ValueError, match="not a plain token"):
        _land_open_interest_for(fresh, exchange, "../../../escape")
    assert exchange.requests == [] and lake_state(fresh) == {}
    assert not any("escape" in p.name for p in fresh.data_dir.parent.rglob("*"))
    ledger.record(
        Outcome("REST payload", "requested symbol '../../../escape'",
                "ValueError before any request; nothing written", 0, 0, 0)
    )  # fmt: skip


def _land_open_interest_for(settings, exchange: FaultyExchange, symbol: str):
    return land_slice(
        settings, "open_interest", DAY, symbol=symbol, transport=exchange.transport([])
    )
