"""Network faults between the connector and the exchange, through the real `HttpTransport`.

The slice is BTCUSDT 1h klines over 2026-02-03..05: request 0 fetches the archive file of
02-03, request 1 the REST page of 02-04. Faults hit request 1 (mid-slice, after the archive
day was fetched) unless said otherwise. A transient fault must leave the lake exactly as the
clean run left it; a persistent one must end in a clear error with nothing written, and the
next run must recover to the clean result.
"""

from __future__ import annotations

import httpx
import pytest
from conftest import WINDOW
from fault_harness import (
    SYMBOL,
    FaultyExchange,
    Outcome,
    cut_but_complete,
    cut_mid_stream,
    lake_state,
    raises,
    raw_rows,
    status,
    temp_files,
)

from include.cryptodw.pipeline import land_slice
from include.cryptodw.sources.common import PayloadFormatError
from include.cryptodw.transport import RetryableHTTPError

KIND = "transport"
REST_REQUEST = 1

TRANSIENT = {
    "HTTP 429 with Retry-After: 7": ([status(429, "7")], 7.0),
    "HTTP 418 IP ban with Retry-After: 120": ([status(418, "120")], 120.0),
    "HTTP 503, three times in a row": ([status(503)] * 3, None),
    "read timeout, twice": ([raises(httpx.ReadTimeout, "timed out")] * 2, None),
    "connection reset by peer": ([raises(httpx.ReadError, "[Errno 104] Connection reset")], None),
    "body cut mid-stream (peer closed)": ([cut_mid_stream], None),
}


def _land(settings, exchange: FaultyExchange, sleeps: list[float]):
    # A live run retains what it fetched; kept apart from the offline exchange's own files.
    transport = exchange.transport(sleeps, retain_dir=settings.data_dir / "retained")
    return land_slice(settings, "klines", WINDOW, symbol=SYMBOL, interval="1h", transport=transport)


@pytest.mark.parametrize("fault", list(TRANSIENT))
def test_transient_faults_are_retried_to_the_clean_result(fault, fresh, clean, ledger):
    faults, retry_after = TRANSIENT[fault]
    exchange = FaultyExchange(fresh, {REST_REQUEST + i: f for i, f in enumerate(faults)})
    sleeps: list[float] = []

    result = _land(fresh, exchange, sleeps)

    assert lake_state(fresh) == clean.files("klines")
    assert len(exchange.requests) == 2 + len(faults)
    assert len([s for s in sleeps if s > 0]) >= len(faults)
    if retry_after is not None:  # the server's wait is honoured, not a guess
        assert retry_after in sleeps
    assert temp_files(fresh.data_dir) == []
    rows_in = len(raw_rows(clean.settings, "klines"))
    ledger.record(
        Outcome(KIND, fault, f"retried {len(faults)}x; lake equals the clean run", rows_in,
                result.rows, result.rejected)
    )  # fmt: skip
    assert result.rows == rows_in and result.rejected == 0


PERSISTENT = {
    "HTTP 502 on every attempt": (
        {i: status(502) for i in range(REST_REQUEST, REST_REQUEST + 6)},
        RetryableHTTPError,
        "HTTP 502",
    ),
    "REST page cut short but delivered as complete (200)": (
        {REST_REQUEST: cut_but_complete},
        PayloadFormatError,
        "is not JSON",
    ),
    "archive zip cut short but delivered as complete (200)": (
        {0: cut_but_complete},
        PayloadFormatError,
        "not a readable zip",
    ),
}


@pytest.mark.parametrize("fault", list(PERSISTENT))
def test_persistent_faults_fail_clearly_write_nothing_and_a_rerun_recovers(
    fault, fresh, clean, ledger
):
    faults, error, message = PERSISTENT[fault]

    with pytest.raises(error, match=message):
        _land(fresh, FaultyExchange(fresh, faults), [])
    assert lake_state(fresh) == {}
    assert not fresh.manifest_dir.exists()
    assert temp_files(fresh.data_dir) == []

    result = _land(fresh, FaultyExchange(fresh), [])
    assert lake_state(fresh) == clean.files("klines")
    rows_in = len(raw_rows(clean.settings, "klines"))
    ledger.record(
        Outcome(KIND, fault, f"{error.__name__}, nothing written; re-run equals the clean run",
                rows_in, result.rows, result.rejected)
    )  # fmt: skip
    assert result.rows == rows_in
