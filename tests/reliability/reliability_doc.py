"""docs/reliability.md, rendered from the ledger of a whole run of tests/reliability."""

from __future__ import annotations

from fault_harness import Ledger

INTRO = """\
# Reliability: what the pipeline does under faults

This page is written by the reliability suite (`tests/reliability/`, part of `make test`) at
the end of a run in which every case ran and passed; do not edit it by hand. To regenerate it:
`make test`, or `.venv/bin/python -m pytest tests/reliability`.

Each case injects one fault into a landing or a refresh of the offline exchange (Binance,
BTCUSDT, 2026-02-03..05, simulated once per session) and compares the result with a clean run
of the same slices. For every case the suite asserts:

- **no row lost**: every input row is landed in the raw lake or quarantined with its reason
  (`rows in = rows out + quarantined + collapsed`); a fault that stops a slice writes nothing
  and the slice is landed in full by the re-run;
- **no duplicate**: no row is landed twice; exact copies collapse when the day file is
  written, re-sent websocket events (same event, later receipt) are kept as receipts and count
  once by the event key staging de-duplicates on;
- **no partial file visible**: readers globbing `*.parquet` (pyarrow, DuckDB as dbt reads the
  lake) see whole files only, never a writer's temp file;
- **published snapshot unchanged** when dbt or a quality gate fails;
- **recovery**: re-running after the fault gives the clean run's result, byte for byte.

Column meanings: *rows in* are the rows the fault was applied to (websocket messages, REST
items, candles; for warehouse cases the raw rows of the refreshed day), *rows out* the rows
landed (distinct events for websocket cases; rows of the published core facts for warehouse
cases), *quarantined* the rows in the quarantine (`lake/quarantine/`, each with its reason),
*collapsed* the duplicates that count once. For faults that stop a slice, the counts are those
of the re-run that recovered.
"""

KNOWN_GAPS = """\
## Known gaps found by this suite

Cases whose outcome starts with **BUG** are expected failures (`xfail(strict=True)`): the
suite asserts the behaviour we want, and the fix is tracked with the case's `reason`.
"""


def render(ledger: Ledger) -> str:
    parts = [INTRO, f"## Cases ({len(ledger.outcomes)})\n", ledger.table() + "\n"]
    if any(o.outcome.startswith("BUG") for o in ledger.outcomes):
        parts.append(KNOWN_GAPS)
    return "\n".join(parts)
