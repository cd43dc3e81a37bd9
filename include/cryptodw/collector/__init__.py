"""Continuous liquidation capture from the venues' websockets, with its own coverage record.

* `feeds`: per venue URL, subscription frames, keepalive and which frames are data;
* `segments`: hourly segment files in the layout the connectors' `read_liquidations` read;
* `coverage`: every interval the collector was not connected and subscribed, with a reason,
  and `read_coverage_gaps`, which turns that record into the raw `collector_coverage_gaps`
  rows the ingest DAGs land per venue (the marts' capture coverage);
* `runner`: the asyncio tasks (one per venue connection), flushing and shutdown;
* `command`: ``python -m include.cryptodw.collector`` (runs until SIGTERM / SIGINT).
"""
