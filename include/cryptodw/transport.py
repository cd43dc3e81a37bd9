"""How payloads travel: the only difference between a live run and an offline run.

Connectors in `sources/` build real exchange URLs and parse what comes back. They receive a
`Transport`:

* `HttpTransport` calls the exchange (httpx), honours rate limits and retries, and can retain
  every response with its request under a payload directory;
* `ReplayTransport` answers the same requests from such a directory (payloads retained by a
  live run, written by the offline market simulator, or a local mirror of the Binance archive).

Retained layout, shared by both (``<root>`` is the replay directory):

* files (bulk archives):   ``<root>/<host>/<url path>``                         (bytes as served)
* REST pages:              ``<root>/<host>/<url path>/<request key>.json.gz``    (envelope below)
* websocket messages:      ``<root>/ws/<venue>/<stream>/<YYYY-MM-DD>/<segment>.jsonl.gz``

A REST envelope is ``{"request": {"url", "params"}, "status", "headers", "fetched_at", "body"}``.

Credentials never leave the process (`redaction`): `HttpTransport.headers` (e.g. a configured
API key) are sent but not retained, and retained envelopes, request keys, lineage URIs and error
messages carry credential-named parameters and headers as ``***``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import httpx
import msgspec
import tenacity

from include.cryptodw.redaction import (
    is_sensitive_name,
    mask_registered,
    redact_mapping,
    redact_url,
    register_secret,
)

log = logging.getLogger(__name__)

Params = Mapping[str, str | int | float]


class TransportError(RuntimeError):
    """A request failed for good (after retries) or the payload is not available offline."""


class RetryableHTTPError(TransportError):
    """429, 418, 5xx or a network fault: worth another try after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Response:
    url: str
    params: dict[str, str]
    status: int
    headers: dict[str, str]
    body: bytes
    fetched_at: datetime

    @property
    def source_uri(self) -> str:
        """A stable URI naming this payload (lineage in raw rows and manifests); no credentials."""
        if not self.params:
            return redact_url(self.url)
        query = "&".join(f"{k}={v}" for k, v in sorted(redact_mapping(self.params).items()))
        return f"{redact_url(self.url)}?{query}"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    def json(self) -> object:
        try:
            return json.loads(self.body)
        except json.JSONDecodeError as exc:
            raise TransportError(f"malformed JSON from {self.source_uri}: {exc}") from exc


class Transport(Protocol):
    def get(self, url: str, params: Params | None = None) -> Response: ...


def _canonical_params(params: Params | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in sorted((params or {}).items())}


def request_key(params: Params | None) -> str:
    """Deterministic file stem for a REST request's query parameters (credentials excluded)."""
    canonical = json.dumps(redact_mapping(_canonical_params(params)), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:20]


def retained_path(root: Path, url: str, params: Params | None = None) -> Path:
    """Where the payload for `url` (+ `params`) is retained under `root`."""
    parts = urlsplit(url)
    base = root / parts.netloc / parts.path.lstrip("/")
    if params:
        return base / f"{request_key(params)}.json.gz"
    return base


def retain(root: Path, response: Response) -> Path:
    """Keep a response with its request, atomically. Files are stored as served.

    A REST envelope keeps no credential: credential-named parameters and headers are redacted
    and any registered secret value that still shows (say, echoed in a body) is masked.
    """
    path = retained_path(root, response.url, response.params)
    if response.params:
        envelope = {
            "request": {"url": redact_url(response.url), "params": redact_mapping(response.params)},
            "status": response.status,
            "headers": redact_mapping(response.headers),
            "fetched_at": response.fetched_at.isoformat(),
            "body": response.body.decode("utf-8"),
        }
        text = mask_registered(json.dumps(envelope))
        payload = gzip.compress(text.encode(), mtime=0)
    else:
        payload = response.body
    atomic_write_bytes(path, payload)
    return path


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write via a temp file in the same directory, fsync, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@dataclass
class ReplayTransport:
    """Answers requests from retained payloads; no network.

    `hosts` maps a host to another root, e.g. the Binance archive host to a local mirror of
    data.binance.vision laid out as the archive (``<mirror>/data/futures/um/...``).
    """

    root: Path
    hosts: Mapping[str, Path] = field(default_factory=dict)

    def get(self, url: str, params: Params | None = None) -> Response:
        host = urlsplit(url).netloc
        if host in self.hosts:
            path = Path(self.hosts[host]) / urlsplit(url).path.lstrip("/")
            if params:
                path = path / f"{request_key(params)}.json.gz"
        else:
            path = retained_path(self.root, url, params)
        if not path.exists():
            requested = redact_mapping(_canonical_params(params))
            raise PayloadNotFound(f"no retained payload for {url} {requested} at {path}")
        if not params:
            return Response(url, {}, 200, {}, path.read_bytes(), _mtime(path))
        envelope = json.loads(gzip.decompress(path.read_bytes()))
        return Response(
            url=url,
            params=_canonical_params(params),
            status=int(envelope["status"]),
            headers=dict(envelope.get("headers", {})),
            body=envelope["body"].encode("utf-8"),
            fetched_at=datetime.fromisoformat(envelope["fetched_at"]),
        )


class PayloadNotFound(TransportError):
    """The requested payload is not retained (offline) or the server answered 404 (live)."""


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)


class RateLimiter:
    """Per-venue pacing: a minimum spacing between requests and a request-weight budget.

    `observe()` reads the venue's used-weight header (Binance `X-MBX-USED-WEIGHT-1M`) and makes
    the next `acquire()` wait for the window to roll over when the budget is nearly spent.
    """

    def __init__(
        self,
        min_interval_s: float = 0.05,
        weight_header: str | None = None,
        weight_budget: int = 2400,
        window_s: float = 60.0,
        sleep=time.sleep,
        clock=time.monotonic,
    ) -> None:
        self.min_interval_s = min_interval_s
        self.weight_header = weight_header
        self.weight_budget = weight_budget
        self.window_s = window_s
        self._sleep = sleep
        self._clock = clock
        self._last = float("-inf")
        self._blocked_until = float("-inf")
        self._lock = threading.Lock()

    def acquire(self) -> None:
        with self._lock:
            now = self._clock()
            wait = max(self._last + self.min_interval_s - now, self._blocked_until - now, 0.0)
            if wait > 0:
                log.info("rate limiter: waiting %.2fs", wait)
                self._sleep(wait)
            self._last = self._clock()

    def observe(self, headers: Mapping[str, str]) -> None:
        if not self.weight_header:
            return
        used = headers.get(self.weight_header) or headers.get(self.weight_header.lower())
        if used is not None and int(used) >= 0.9 * self.weight_budget:
            log.warning("used weight %s of %s: pausing one window", used, self.weight_budget)
            self._blocked_until = self._clock() + self.window_s

    def block_for(self, seconds: float) -> None:
        self._blocked_until = max(self._blocked_until, self._clock() + seconds)


def _wait_retry_after(retry_state: tenacity.RetryCallState) -> float:
    """Honour the server's Retry-After; otherwise exponential backoff with full jitter."""
    exc = retry_state.outcome.exception() if retry_state.outcome else None
    if isinstance(exc, RetryableHTTPError) and exc.retry_after is not None:
        return exc.retry_after
    return random.uniform(0, min(60.0, 0.5 * 2 ** (retry_state.attempt_number - 1)))


@dataclass
class HttpTransport:
    """Live transport: httpx with a per-venue rate limiter, retries, and payload retention.

    `headers` go with every request (e.g. `Settings.api_key_headers`); credential values among
    them are registered for masking in logs, and no request header is ever retained.
    """

    limiter: RateLimiter = field(default_factory=RateLimiter)
    retain_dir: Path | None = None
    timeout_s: float = 30.0
    max_attempts: int = 6
    client: httpx.Client | None = None
    sleep: object = time.sleep
    retry_on_body: Callable[[bytes], str | None] | None = None
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for name, value in self.headers.items():
            if is_sensitive_name(name):
                register_secret(value)
        self._client = self.client or httpx.Client(
            timeout=self.timeout_s, headers={"User-Agent": "cryptodw/0.1"}
        )

    def get(self, url: str, params: Params | None = None) -> Response:
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(RetryableHTTPError),
            wait=_wait_retry_after,
            stop=tenacity.stop_after_attempt(self.max_attempts),
            sleep=self.sleep,
            before_sleep=tenacity.before_sleep_log(log, logging.WARNING),
            reraise=True,
        )
        response = retrying(self._get_once, url, params)
        if self.retain_dir is not None:
            retain(self.retain_dir, response)
        return response

    def _get_once(self, url: str, params: Params | None) -> Response:
        self.limiter.acquire()
        canonical = _canonical_params(params)
        try:
            reply = self._client.get(url, params=canonical or None, headers=self.headers)
            body = reply.read()
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise RetryableHTTPError(f"{type(exc).__name__} on {url}: {exc}") from exc
        headers = {k.lower(): v for k, v in reply.headers.items()}
        self.limiter.observe(headers)
        status = reply.status_code
        if status in (418, 429) or status >= 500:
            retry_after = _retry_after_seconds(headers)
            if retry_after is not None:
                self.limiter.block_for(retry_after)
            raise RetryableHTTPError(f"HTTP {status} from {url}", retry_after=retry_after)
        if self.retry_on_body is not None and (reason := self.retry_on_body(body)):
            raise RetryableHTTPError(f"{reason} from {url}", _retry_after_seconds(headers))
        if status == 404:
            raise PayloadNotFound(f"HTTP 404 from {url} {redact_mapping(canonical)}")
        if status >= 400:
            detail = mask_registered(repr(body[:300]))
            raise TransportError(f"HTTP {status} from {url} {redact_mapping(canonical)}: {detail}")
        return Response(url, canonical, status, headers, body, datetime.now(UTC))


def _retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


# ---------------------------------------------------------------- websocket message segments


@dataclass(frozen=True)
class WsMessage:
    received_at_ms: int
    text: str
    source: str  # the segment file it came from


def ws_segment_dir(root: Path, venue: str, stream: str, day: date) -> Path:
    return root / "ws" / venue / stream / day.isoformat()


def write_ws_segment(
    root: Path, venue: str, stream: str, day: date, name: str, messages: list[tuple[int, str]]
) -> Path:
    """Write one closed segment of (receive time ms, raw text) messages atomically."""
    lines = "".join(json.dumps({"recv_ts": ts, "data": text}) + "\n" for ts, text in messages)
    path = ws_segment_dir(root, venue, stream, day) / f"{name}.jsonl.gz"
    # level 6: a third of level 9's time for ~6 % more bytes (simulated years write many)
    atomic_write_bytes(path, gzip.compress(lines.encode(), compresslevel=6, mtime=0))
    return path


class _SegmentLine(msgspec.Struct):
    """One line of a segment file, as `write_ws_segment` writes it."""

    recv_ts: int
    data: str


# A typed decoder reads a line in a third of json.loads' time (segments hold millions).
_SEGMENT_LINE = msgspec.json.Decoder(_SegmentLine)


def iter_ws_messages(root: Path, venue: str, stream: str, day: date) -> Iterator[WsMessage]:
    """Yield the recorded messages of a UTC day's closed segments, in file order."""
    directory = ws_segment_dir(root, venue, stream, day)
    for segment in sorted(directory.glob("*.jsonl.gz")):
        source = segment.as_posix()
        # Decompressed whole: a segment is small, and a gzip stream read line by line is slow.
        lines = gzip.decompress(segment.read_bytes()).splitlines()
        for number, line in enumerate(lines, start=1):
            try:
                record = _SEGMENT_LINE.decode(line)
            except msgspec.DecodeError as exc:
                reason = f"{source} line {number} is not a recorded message: {exc}"
                raise ValueError(reason) from exc
            yield WsMessage(record.recv_ts, record.data, source)
