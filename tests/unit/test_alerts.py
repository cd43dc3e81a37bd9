"""Failure alerts: a log line always, a webhook POST when configured, never a second failure."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from include.cryptodw.alerts import WEBHOOK_ENV, notify_failure

CONTEXT = {
    "task_instance": SimpleNamespace(
        dag_id="ingest_binance",
        task_id="land_klines",
        map_index=3,
        run_id="manual__x",
        try_number=2,
    ),
    "exception": ValueError(
        "raw_binance__klines: 4 rows failed expect_column_values_to_not_be_null"
    ),
}


@pytest.fixture
def webhook():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()


def test_failure_is_logged_with_what_failed_and_why(caplog, monkeypatch):
    monkeypatch.delenv(WEBHOOK_ENV, raising=False)
    with caplog.at_level(logging.ERROR):
        notify_failure(CONTEXT)
    (record,) = caplog.records
    assert "ingest_binance.land_klines[3] run manual__x try 2" in record.getMessage()
    assert "ValueError: raw_binance__klines: 4 rows failed" in record.getMessage()


def test_failure_is_posted_to_the_configured_webhook(webhook, monkeypatch):
    url, received = webhook
    monkeypatch.setenv(WEBHOOK_ENV, url)
    notify_failure(CONTEXT)
    (payload,) = received
    assert payload["dag_id"] == "ingest_binance" and payload["map_index"] == "3"
    assert payload["text"].startswith("ingest_binance.land_klines failed (manual__x): ValueError")


def test_an_unreachable_webhook_is_logged_not_raised(caplog):
    with caplog.at_level(logging.WARNING):
        notify_failure(CONTEXT, webhook="http://127.0.0.1:9/unreachable")
    assert any("not delivered" in r.getMessage() for r in caplog.records)
