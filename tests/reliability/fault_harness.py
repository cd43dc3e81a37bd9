"""What the reliability cases share: the offline exchange behind a real HTTP client with faults,
views of the lake as readers see it, and the ledger every case reports its row counts to.

The exchange is the offline one (`include.cryptodw.simulator`); the client is the live
`HttpTransport` over an `httpx.MockTransport` whose handler forwards each request to the
simulated exchange and may replace the answer with a fault. Sleeps are recorded, not slept.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import httpx
import pyarrow.parquet as pq

from include.cryptodw.settings import Settings
from include.cryptodw.simulator import simulated_exchange
from include.cryptodw.transport import HttpTransport, PayloadNotFound, RateLimiter

EXCHANGE_WINDOW = (date(2026, 2, 3), date(2026, 2, 5))  # the archive holds 02-03, REST 02-04
SYMBOL = "BTCUSDT"
VENUE = "binance"

# A fault receives the request and the exchange's true answer; it returns what the client gets
# instead, or raises the network error the client sees.
Fault = Callable[[httpx.Request, httpx.Response], httpx.Response]


# ------------------------------------------------------------------------- faulty exchange


@dataclass
class FaultyExchange:
    """An httpx handler: the simulated exchange, with `faults[i]` applied to request `i`."""

    settings: Settings
    faults: dict[int, Fault] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._exchange = simulated_exchange(
            self.settings.data_dir / "truth", self.settings.replay_dir
        )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        index = len(self.requests)
        self.requests.append(request)
        answer = self._answer(request)
        fault = self.faults.get(index)
        return fault(request, answer) if fault else answer

    def _answer(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url.copy_with(query=None))
        params = dict(request.url.params)
        try:
            response = self._exchange.get(url, params)
        except PayloadNotFound as exc:
            return httpx.Response(404, text=str(exc))
        return httpx.Response(response.status, headers=response.headers, content=response.body)

    def transport(self, sleeps: list[float], retain_dir: Path | None = None) -> HttpTransport:
        """The live transport over this exchange; every wait goes to `sleeps`."""
        client = httpx.Client(transport=httpx.MockTransport(self))
        limiter = RateLimiter(min_interval_s=0.0, sleep=sleeps.append)
        return HttpTransport(
            limiter=limiter, client=client, sleep=sleeps.append, retain_dir=retain_dir
        )


class _CutStream(httpx.SyncByteStream):
    """A body that stops half way: the peer closed the connection mid-transfer."""

    def __init__(self, head: bytes) -> None:
        self.head = head

    def __iter__(self) -> Iterator[bytes]:
        yield self.head
        raise httpx.RemoteProtocolError(
            "peer closed connection without sending complete message body"
        )


def status(code: int, retry_after: str | None = None) -> Fault:
    """Answer `code` (Binance's throttle body for 418/429) instead of the page."""

    def fault(request: httpx.Request, answer: httpx.Response) -> httpx.Response:
        headers = {"Retry-After": retry_after} if retry_after else {}
        body = {"code": -1003, "msg": "Too many requests; IP banned until later."}
        return httpx.Response(code, headers=headers, json=body)

    return fault


def raises(error: type[httpx.TransportError], message: str) -> Fault:
    """The client never gets an answer: `error` (a timeout, a reset connection)."""

    def fault(request: httpx.Request, answer: httpx.Response) -> httpx.Response:
        raise error(message, request=request)

    return fault


def cut_mid_stream(request: httpx.Request, answer: httpx.Response) -> httpx.Response:
    body = answer.read()
    return httpx.Response(answer.status_code, stream=_CutStream(body[: len(body) // 2]))


def cut_but_complete(request: httpx.Request, answer: httpx.Response) -> httpx.Response:
    """Half the body, delivered as if complete (a proxy that truncated it)."""
    body = answer.read()
    return httpx.Response(200, headers=answer.headers, content=body[: len(body) // 2])


@dataclass
class RewriteJson:
    """A fault answering the page with its JSON items edited (payload faults in REST pages)."""

    edit: Callable[[list], list]
    served: int = 0  # items the client received

    def __call__(self, request: httpx.Request, answer: httpx.Response) -> httpx.Response:
        items = self.edit(json.loads(answer.read()))
        self.served = len(items)
        content = json.dumps(items, separators=(",", ":")).encode()
        return httpx.Response(answer.status_code, headers=answer.headers, content=content)


# ------------------------------------------------------------------------------- the lake


def visible_files(root: Path) -> dict[str, bytes]:
    """Every parquet file a reader globbing ``*.parquet`` sees under `root`, by relative path."""
    if not root.exists():
        return {}
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.parquet"))}


def temp_files(root: Path) -> list[str]:
    """Writers' temp files (``.<name>.<pid>.<thread>.tmp``) left under `root`."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.tmp"))


def lake_state(settings: Settings) -> dict[str, bytes]:
    """The raw and quarantine files, by path relative to the lake (what a re-run must equal)."""
    return visible_files(settings.lake_dir)


def read_rows(directory: Path) -> list[dict]:
    """Rows of every visible parquet file under `directory`, read back file by file."""
    paths = sorted(directory.rglob("*.parquet"))
    return [row for path in paths for row in pq.read_table(path).to_pylist()]


def raw_rows(settings: Settings, dataset: str) -> list[dict]:
    return read_rows(settings.raw_dir / VENUE / dataset)


def quarantined(settings: Settings, dataset: str) -> list[dict]:
    return read_rows(settings.quarantine_dir / VENUE / dataset)


def duckdb_count(settings: Settings, dataset: str) -> int:
    """Rows dbt's source would read: DuckDB over ``dt=*/*.parquet``, as the sources yml does."""
    pattern = settings.raw_dir / VENUE / dataset / "dt=*" / "*.parquet"
    with duckdb.connect() as con:
        sql = f"select count(*) from read_parquet('{pattern}', hive_partitioning = true)"
        return con.execute(sql).fetchone()[0]


def exact_duplicates(rows: list[dict]) -> int:
    """Rows that repeat another row exactly (what landing must never leave behind)."""
    return len(rows) - len({tuple(sorted(row.items())) for row in rows})


def without(rows: list[dict], *columns: str) -> list[tuple]:
    """Rows without the lineage columns, sorted: what two runs must agree on."""
    return sorted(tuple((k, v) for k, v in sorted(r.items()) if k not in columns) for r in rows)


# ------------------------------------------------------------------------------ the ledger


@dataclass(frozen=True)
class Outcome:
    """One fault case as the summary table shows it."""

    kind: str  # transport, websocket payload, REST payload, process, warehouse, concurrency
    fault: str
    outcome: str
    rows_in: int  # input rows the fault was applied to (messages, items, rows)
    rows_out: int  # rows landed in the raw lake (or read from the published marts)
    quarantined: int  # rows in the quarantine, each with its reason
    collapsed: int = 0  # exact or re-sent duplicates that collapse to one row

    def reconciles(self) -> bool:
        return self.rows_in == self.rows_out + self.quarantined + self.collapsed


@dataclass
class Ledger:
    """Outcomes reported by the cases of one session, in the order they ran."""

    outcomes: list[Outcome] = field(default_factory=list)

    def record(self, outcome: Outcome) -> Outcome:
        self.outcomes.append(outcome)
        return outcome

    def table(self) -> str:
        header = [
            "| # | fault kind | fault | outcome | rows in | rows out | quarantined | collapsed |",
            "|---|---|---|---|---:|---:|---:|---:|",
        ]
        rows = [
            f"| {i} | {o.kind} | {o.fault} | {o.outcome} | {o.rows_in} | {o.rows_out} | "
            f"{o.quarantined} | {o.collapsed} |"
            for i, o in enumerate(self.outcomes, start=1)
        ]
        return "\n".join(header + rows)


# ------------------------------------------------------------- readers of the published file

FACTS = (
    "fct_liquidations",
    "fct_open_interest_snapshots",
    "fct_price_candles",
    "fct_funding_rates",
)


def fact_rows(path) -> int:
    with duckdb.connect(str(path), read_only=True) as con:
        return sum(con.execute(f"select count(*) from core.{f}").fetchone()[0] for f in FACTS)


def read_until_stopped(path: str, expected: int, ready, stop, results) -> None:
    """A reader process: count the facts' rows of whatever is published, a few times a second
    (readers must not starve the refresh of the two cores). It lives here, not in a test
    module, so a spawned child imports nothing but this harness."""
    errors, reads = [], 0
    ready.set()
    while not stop.is_set():
        try:
            if fact_rows(path) != expected:
                errors.append("a snapshot other than the clean one")
            reads += 1
        except Exception as exc:  # any error is a failure the test reports
            errors.append(repr(exc))
        stop.wait(0.2)
    results.put((errors, reads))
