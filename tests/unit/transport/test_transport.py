"""Transport: retries on throttling and faults, clear errors, retention that replays exactly."""

from __future__ import annotations

import gzip
from datetime import date

import httpx
import pytest

from include.cryptodw.transport import (
    HttpTransport,
    PayloadNotFound,
    RateLimiter,
    ReplayTransport,
    RetryableHTTPError,
    TransportError,
    iter_ws_messages,
    write_ws_segment,
)

URL = "https://fapi.binance.com/fapi/v1/klines"
PARAMS = {"symbol": "BTCUSDT", "interval": "1h", "limit": 1500}


def _scripted(replies: list):
    """An httpx client whose successive requests get the scripted replies (or raise them)."""
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        reply = replies[min(len(calls), len(replies)) - 1]
        if isinstance(reply, Exception):
            raise reply
        return reply

    return httpx.Client(transport=httpx.MockTransport(handler)), calls


def _transport(client, sleeps, **kwargs) -> HttpTransport:
    limiter = RateLimiter(min_interval_s=0.0, sleep=sleeps.append)
    return HttpTransport(limiter=limiter, client=client, sleep=sleeps.append, **kwargs)


def test_429_waits_for_retry_after_then_succeeds():
    client, calls = _scripted(
        [httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json=[[1]])]
    )
    sleeps: list[float] = []
    response = _transport(client, sleeps).get(URL, PARAMS)
    assert response.json() == [[1]] and len(calls) == 2
    assert 7.0 in sleeps


@pytest.mark.parametrize(
    "fault",
    [
        httpx.Response(418, headers={"Retry-After": "1"}),
        httpx.Response(503),
        httpx.ReadTimeout("timed out"),
        httpx.ConnectError("connection reset by peer"),
        httpx.RemoteProtocolError("peer closed connection without sending complete message body"),
    ],
    ids=["418-ban", "503", "timeout", "reset", "truncated-body"],
)
def test_transient_faults_are_retried(fault):
    client, calls = _scripted([fault, httpx.Response(200, json={"ok": True})])
    response = _transport(client, []).get(URL, PARAMS)
    assert response.json() == {"ok": True} and len(calls) == 2


def test_persistent_faults_end_in_a_clear_error_after_the_attempt_budget():
    client, calls = _scripted([httpx.Response(502)])
    with pytest.raises(RetryableHTTPError, match="HTTP 502"):
        _transport(client, [], max_attempts=3).get(URL, PARAMS)
    assert len(calls) == 3


def test_client_errors_are_not_retried():
    client, calls = _scripted([httpx.Response(400, json={"code": -1121, "msg": "Invalid symbol."})])
    with pytest.raises(TransportError, match="Invalid symbol"):
        _transport(client, []).get(URL, PARAMS)
    assert len(calls) == 1


def test_malformed_json_is_a_clear_error():
    client, _ = _scripted([httpx.Response(200, content=b"[[1, 2")])
    response = _transport(client, []).get(URL, PARAMS)
    with pytest.raises(TransportError, match="malformed JSON"):
        response.json()


def test_used_weight_near_budget_pauses_the_next_request():
    clock = [0.0]
    sleeps: list[float] = []
    limiter = RateLimiter(
        min_interval_s=0.0,
        weight_header="x-mbx-used-weight-1m",
        weight_budget=100,
        window_s=60.0,
        sleep=sleeps.append,
        clock=lambda: clock[0],
    )
    limiter.observe({"x-mbx-used-weight-1m": "95"})
    limiter.acquire()
    assert sleeps == [60.0]


def test_live_responses_are_retained_and_replay_identically(tmp_path):
    client, _ = _scripted([httpx.Response(200, json=[[1700000000000, "1.0"]])])
    live = _transport(client, [], retain_dir=tmp_path).get(URL, PARAMS)
    replayed = ReplayTransport(tmp_path).get(URL, PARAMS)
    assert replayed.body == live.body and replayed.sha256 == live.sha256
    assert replayed.source_uri == live.source_uri
    with pytest.raises(PayloadNotFound):
        ReplayTransport(tmp_path).get(URL, {**PARAMS, "symbol": "ETHUSDT"})


def test_websocket_segments_roundtrip_in_order(tmp_path):
    messages = [(1000, '{"a": 1}'), (1001, '{"a": 2}')]
    write_ws_segment(tmp_path, "binance", "forceOrder", date(2026, 1, 1), "0000", messages)
    read = list(iter_ws_messages(tmp_path, "binance", "forceOrder", date(2026, 1, 1)))
    assert [(m.received_at_ms, m.text) for m in read] == messages


def test_a_damaged_segment_line_names_its_file_and_line(tmp_path):
    day = date(2026, 1, 1)
    path = write_ws_segment(tmp_path, "okx", "liquidation-orders", day, "0000", [(1000, "{}")])
    damaged = gzip.decompress(path.read_bytes()) + b'{"recv_ts": "soon", "data": "{}"}\n'
    path.write_bytes(gzip.compress(damaged))
    with pytest.raises(ValueError, match=r"0000\.jsonl\.gz line 2 is not a recorded message"):
        list(iter_ws_messages(tmp_path, "okx", "liquidation-orders", day))
