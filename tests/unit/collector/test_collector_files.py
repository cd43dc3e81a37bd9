"""Segments, coverage and frame sorting of the collector, without a network."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime

import pytest

from include.cryptodw.collector.coverage import Coverage, read_gaps
from include.cryptodw.collector.feeds import (
    FrameKind,
    bybit_feed,
    classify_binance,
    classify_bybit,
    classify_okx,
)
from include.cryptodw.collector.runner import backoff_delay
from include.cryptodw.collector.segments import HourlySegments
from include.cryptodw.transport import iter_ws_messages

DAY = date(2026, 1, 5)
T13 = int(datetime(2026, 1, 5, 13, tzinfo=UTC).timestamp() * 1000)
MINUTE = 60_000


def segment_names(root, venue="okx", stream="liquidation-orders", day=DAY) -> list[str]:
    directory = root / "ws" / venue / stream / day.isoformat()
    return sorted(p.name for p in directory.glob("*.jsonl.gz"))


# ------------------------------------------------------------------------------ segments


def test_each_flush_rewrites_the_hour_with_everything_received_so_far(tmp_path):
    segments = HourlySegments(tmp_path, "okx", "liquidation-orders")
    segments.add(T13 + 1, "a")
    segments.flush(T13 + MINUTE)
    segments.add(T13 + 2 * MINUTE, "b")
    segments.flush(T13 + 3 * MINUTE)  # a crash after this keeps a and b
    segments.add(T13 + 4 * MINUTE, "c")  # ... and loses only c
    messages = list(iter_ws_messages(tmp_path, "okx", "liquidation-orders", DAY))
    assert [(m.received_at_ms, m.text) for m in messages] == [
        (T13 + 1, "a"),
        (T13 + 2 * MINUTE, "b"),
    ]
    assert segment_names(tmp_path) == ["1300.jsonl.gz"]


def test_an_hour_is_closed_and_forgotten_once_it_is_over(tmp_path):
    segments = HourlySegments(tmp_path, "okx", "liquidation-orders")
    segments.add(T13 + 59 * MINUTE, "last of 13h")
    segments.add(T13 + 60 * MINUTE, "first of 14h")
    segments.flush(T13 + 61 * MINUTE)
    assert segments.buffered == 1
    assert segment_names(tmp_path) == ["1300.jsonl.gz", "1400.jsonl.gz"]


def test_a_restart_within_the_hour_never_overwrites_the_earlier_segment(tmp_path):
    first = HourlySegments(tmp_path, "okx", "liquidation-orders")
    first.add(T13 + 1, "before the restart")
    first.flush(T13 + 2)
    second = HourlySegments(tmp_path, "okx", "liquidation-orders")
    second.add(T13 + 25 * MINUTE + 7_000, "after the restart")
    second.flush(T13 + 26 * MINUTE)
    third = HourlySegments(tmp_path, "okx", "liquidation-orders")
    third.add(T13 + 25 * MINUTE + 7_500, "a second restart in the same second")
    third.flush(T13 + 26 * MINUTE)
    assert segment_names(tmp_path) == ["1300.jsonl.gz", "132507.jsonl.gz", "132507_1.jsonl.gz"]
    texts = [m.text for m in iter_ws_messages(tmp_path, "okx", "liquidation-orders", DAY)]
    assert texts == [
        "before the restart",
        "after the restart",
        "a second restart in the same second",
    ]


def test_segments_are_filed_by_receive_day(tmp_path):
    segments = HourlySegments(tmp_path, "bybit", "allLiquidation")
    midnight = int(datetime(2026, 1, 6, tzinfo=UTC).timestamp() * 1000)
    segments.add(midnight - 1, "late")
    segments.add(midnight, "early")
    segments.flush(midnight + 1)
    assert segment_names(tmp_path, "bybit", "allLiquidation") == ["2300.jsonl.gz"]
    assert segment_names(tmp_path, "bybit", "allLiquidation", date(2026, 1, 6)) == ["0000.jsonl.gz"]
    line = gzip.decompress(
        (tmp_path / "ws/bybit/allLiquidation/2026-01-06/0000.jsonl.gz").read_bytes()
    )
    assert json.loads(line) == {"recv_ts": midnight, "data": "early"}


# ------------------------------------------------------------------------------ coverage


def test_first_start_opens_a_process_start_gap_closed_on_subscribe(tmp_path):
    coverage = Coverage(tmp_path, "okx", "liquidation-orders", "test:1")
    coverage.resume(T13)
    coverage.close_gap(T13 + 1500)
    [gap] = read_gaps(tmp_path, "okx")
    assert (gap["gap_start"], gap["gap_end"], gap["reason"]) == (T13, T13 + 1500, "process_start")
    assert gap["collector"] == "test:1"


def test_a_gap_is_on_disk_while_it_is_still_open(tmp_path):
    coverage = Coverage(tmp_path, "okx", "liquidation-orders", "test:1")
    coverage.resume(T13)
    coverage.close_gap(T13 + 10)
    coverage.open_gap(T13 + MINUTE, "server_close", "code 1001: ''")
    coverage.open_gap(T13 + MINUTE + 50, "connect_error", "refused")  # same gap goes on
    [_, gap] = read_gaps(tmp_path, "okx")
    assert (gap["gap_start"], gap["gap_end"], gap["reason"]) == (T13 + MINUTE, None, "server_close")


def test_a_died_process_leaves_a_gap_from_its_last_flush(tmp_path):
    died = Coverage(tmp_path, "okx", "liquidation-orders", "test:1")
    died.resume(T13)
    died.close_gap(T13 + 10)
    died.checkpoint(T13 + MINUTE)  # the last flush; then the process is killed
    restarted = Coverage(tmp_path, "okx", "liquidation-orders", "test:2")
    restarted.resume(T13 + 5 * MINUTE)
    restarted.close_gap(T13 + 5 * MINUTE + 300)
    gap = read_gaps(tmp_path, "okx")[-1]
    assert (gap["gap_start"], gap["gap_end"], gap["reason"]) == (
        T13 + MINUTE,
        T13 + 5 * MINUTE + 300,
        "unclean_stop",
    )
    assert "test:1" in gap["detail"]


def test_a_died_process_inside_a_gap_hands_that_gap_on(tmp_path):
    died = Coverage(tmp_path, "binance", "forceOrder", "test:1")
    died.resume(T13)
    died.close_gap(T13 + 10)
    died.open_gap(T13 + MINUTE, "connect_error", "HTTP 451")
    restarted = Coverage(tmp_path, "binance", "forceOrder", "test:2")
    restarted.resume(T13 + 9 * MINUTE)
    restarted.close_gap(T13 + 10 * MINUTE)
    gaps = read_gaps(tmp_path, "binance")
    assert [(g["gap_start"], g["gap_end"], g["reason"]) for g in gaps] == [
        (T13, T13 + 10, "process_start"),
        (T13 + MINUTE, T13 + 10 * MINUTE, "connect_error"),
    ]


def test_coverage_lines_go_to_the_day_they_are_written(tmp_path):
    coverage = Coverage(tmp_path, "okx", "liquidation-orders", "test:1")
    midnight = int(datetime(2026, 1, 6, tzinfo=UTC).timestamp() * 1000)
    coverage.resume(midnight - 1000)
    coverage.close_gap(midnight + 1000)
    files = sorted(p.name for p in (tmp_path / "ws/okx/_coverage").glob("*.jsonl"))
    assert files == ["2026-01-05.jsonl", "2026-01-06.jsonl"]


def test_unknown_gap_reasons_are_refused(tmp_path):
    coverage = Coverage(tmp_path, "okx", "liquidation-orders", "test:1")
    coverage.resume(T13)
    coverage.close_gap(T13 + 1)
    with pytest.raises(ValueError, match="unknown gap reason"):
        coverage.open_gap(T13 + 2, "bad luck", "")


# ------------------------------------------------------------------------------ frames


@pytest.mark.parametrize(
    ("classify", "frame", "kind"),
    [
        (classify_binance, '{"result":null,"id":1}', FrameKind.CONTROL),
        (classify_binance, '{"e":"forceOrder","E":1,"o":{}}', FrameKind.DATA),
        (classify_binance, '{"e":"forceOrder"', FrameKind.DATA),  # malformed: kept raw
        (
            classify_bybit,
            '{"success":true,"ret_msg":"","conn_id":"c","req_id":"liq-0","op":"subscribe"}',
            FrameKind.ACK,
        ),
        (
            classify_bybit,
            '{"success":false,"ret_msg":"error:handler not found","conn_id":"c","op":"subscribe"}',
            FrameKind.REJECT,
        ),
        (
            classify_bybit,
            '{"success":true,"ret_msg":"pong","conn_id":"c","req_id":"","op":"ping"}',
            FrameKind.CONTROL,
        ),
        (classify_bybit, '{"topic":"allLiquidation.BTCUSDT","data":[]}', FrameKind.DATA),
        (classify_bybit, "not json", FrameKind.DATA),
        (classify_okx, "pong", FrameKind.CONTROL),
        (
            classify_okx,
            '{"event":"subscribe","arg":{"channel":"liquidation-orders","instType":"SWAP"}}',
            FrameKind.ACK,
        ),
        (
            classify_okx,
            '{"event":"error","code":"60012","msg":"Invalid request"}',
            FrameKind.REJECT,
        ),
        (classify_okx, '{"event":"notice","code":"64008","msg":"upgrade"}', FrameKind.CONTROL),
        (classify_okx, '{"arg":{"channel":"liquidation-orders"},"data":[]}', FrameKind.DATA),
    ],
)
def test_frames_are_sorted_like_the_readers_skip_them(classify, frame, kind):
    assert classify(frame)[0] is kind


def test_bybit_subscriptions_are_split_into_requests_of_ten_topics():
    feed = bybit_feed([f"S{i}USDT" for i in range(23)])
    sizes = [len(json.loads(frame)["args"]) for frame in feed.subscribe_frames]
    assert sizes == [10, 10, 3]


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap():
    delays = [backoff_delay(attempt, 1.0, 60.0) for attempt in range(10)]
    assert 0.5 <= delays[0] <= 1.0
    assert 4.0 <= delays[3] <= 8.0
    assert all(30.0 <= d <= 60.0 for d in delays[6:])
