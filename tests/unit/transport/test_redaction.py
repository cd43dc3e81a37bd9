"""Configured API keys reach the venue and nothing else: not the retained payloads, not lineage,
not error messages, not logs, not a repr."""

from __future__ import annotations

import gzip
import hashlib
import inspect
import io
import json
import logging
from datetime import UTC, datetime

import httpx
import pytest

from include.cryptodw.redaction import (
    REDACTED,
    Secret,
    SecretMaskingFilter,
    install_log_redaction,
    is_sensitive_name,
    mask_text,
    redact_url,
)
from include.cryptodw.settings import API_KEY_HEADERS, API_KEY_VARIABLES, load_settings
from include.cryptodw.transport import (
    HttpTransport,
    RateLimiter,
    ReplayTransport,
    Response,
    TransportError,
    request_key,
)

URLS = {
    "binance": "https://fapi.binance.com/fapi/v1/klines",
    "bybit": "https://api.bybit.com/v5/market/kline",
    "okx": "https://www.okx.com/api/v5/market/history-candles",
}
SIGNATURE = "f3e1c0ffee5157a7c8e9d0b1a2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5"
PUBLIC_PARAM_NAMES = (
    # every query parameter the connectors send: none may be taken for a credential, or
    # request keys (file names of retained pages) would change
    "symbol", "interval", "startTime", "endTime", "limit", "period", "category", "cursor",
    "intervalTime", "start", "end", "instId", "instType", "instFamily", "uly", "bar", "after",
    "before", "contractType", "pair", "fromId", "state",
)  # fmt: skip


def _key(venue: str) -> str:
    return f"{venue}-k3y-8a1f0c9e7d6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b"


@pytest.fixture
def keyed_settings(data_dir, monkeypatch):
    """Settings with every venue's API key configured, as a user would in .env."""
    for venue, variable in API_KEY_VARIABLES.items():
        monkeypatch.setenv(variable, _key(venue))
    return load_settings()


def _fake_venue(seen: list[httpx.Request], status: int = 200, body: bytes = b"[[1, 2]]"):
    """An httpx client whose server records each request and answers `status`/`body`."""

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, content=body, headers={"x-mbx-used-weight-1m": "1"})

    return httpx.Client(transport=httpx.MockTransport(handler))


def _transport(settings, venue, client, retain_dir=None) -> HttpTransport:
    return HttpTransport(
        limiter=RateLimiter(min_interval_s=0.0),
        client=client,
        retain_dir=retain_dir,
        sleep=lambda _: None,
        max_attempts=1,
        headers=settings.api_key_headers(venue),
    )


def _retained_text(root) -> str:
    """Everything under `root` as text (gzip members decompressed)."""
    texts = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        raw = path.read_bytes()
        texts.append(path.as_posix())
        texts.append((gzip.decompress(raw) if path.suffix == ".gz" else raw).decode())
    return "\n".join(texts)


@pytest.mark.parametrize("venue", sorted(URLS))
def test_key_is_sent_but_never_retained_nor_in_lineage(keyed_settings, tmp_path, venue):
    seen: list[httpx.Request] = []
    transport = _transport(keyed_settings, venue, _fake_venue(seen), retain_dir=tmp_path)
    params = {"symbol": "BTCUSDT", "limit": 2, "signature": SIGNATURE}

    response = transport.get(URLS[venue], params)

    assert seen[0].headers[API_KEY_HEADERS[venue]] == _key(venue), "the venue gets the key"
    retained = _retained_text(tmp_path)
    assert retained and _key(venue) not in retained and SIGNATURE not in retained
    assert f'"signature": "{REDACTED}"' in retained
    assert _key(venue) not in response.source_uri and SIGNATURE not in response.source_uri
    assert _key(venue) not in repr(transport)
    replayed = ReplayTransport(tmp_path).get(URLS[venue], params)
    assert replayed.body == response.body, "redacted pages still replay"


def test_keys_never_reach_logs_or_errors(keyed_settings, caplog, monkeypatch):
    """What the CLI does (basicConfig, then install_log_redaction) over what a run can log."""
    key = _key("binance")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logging.getLogger().addHandler(handler)
    try:
        install_log_redaction()
        caplog.set_level(logging.DEBUG)
        transport = _transport(keyed_settings, "binance", _fake_venue([], 400, key.encode()))
        with pytest.raises(TransportError) as error:
            transport.get(URLS["binance"], {"symbol": "BTCUSDT", "signature": SIGNATURE})
        log = logging.getLogger("include.cryptodw.tests")
        log.warning("careless: key=%s headers=%s", key, keyed_settings.api_key_headers("okx"))
        log.info("GET %s?symbol=BTCUSDT&signature=%s", URLS["binance"], SIGNATURE)
        try:
            raise RuntimeError(f"venue rejected {key}")
        except RuntimeError:
            log.exception("failed")
    finally:
        logging.getLogger().removeHandler(handler)

    assert key not in str(error.value) and SIGNATURE not in str(error.value)
    for text in (caplog.text, stream.getvalue()):
        assert "careless" in text and "venue rejected" in text and "signature=***" in text
        assert key not in text and _key("okx") not in text and SIGNATURE not in text


def test_settings_and_secrets_never_show_a_key(keyed_settings):
    for shown in (repr(keyed_settings), str(keyed_settings), repr(keyed_settings.api_keys)):
        assert not any(_key(venue) in shown for venue in API_KEY_VARIABLES)
    secret = keyed_settings.api_keys["okx"]
    assert f"{secret}" == repr(secret) == f"Secret('{REDACTED}')"
    assert secret.reveal() == _key("okx")
    assert keyed_settings == load_settings(), "keys take no part in comparisons"


def test_no_key_configured_sends_no_key_header(data_dir):
    settings = load_settings()
    assert settings.api_keys == {} and settings.api_key_headers("binance") == {}


def test_live_transport_carries_the_venues_key(keyed_settings, monkeypatch):
    from include.cryptodw.pipeline import make_transport
    from include.cryptodw.sources.venues import venue

    monkeypatch.setenv("CRYPTODW_SOURCE_MODE", "live")
    settings = load_settings()
    for name in API_KEY_VARIABLES:
        transport = make_transport(settings, venue(name, settings.symbols))
        assert transport.headers == {API_KEY_HEADERS[name]: _key(name)}


def test_entry_points_install_the_log_filter_after_configuring_logging():
    from include.cryptodw import cli, demo
    from include.cryptodw.collector import command

    for main in (cli.main, demo.main, command.main):
        source = inspect.getsource(main)
        assert source.index("install_log_redaction()") > source.index("logging.basicConfig")


def test_credential_names_and_public_names():
    for name in (*API_KEY_HEADERS.values(), "X-BAPI-SIGN", "OK-ACCESS-SIGN",
                 "OK-ACCESS-PASSPHRASE", "Authorization", "apiKey", "api_key", "signature",
                 "listenKey", "secret", "token"):  # fmt: skip
        assert is_sensitive_name(name), name
    assert not [name for name in PUBLIC_PARAM_NAMES if is_sensitive_name(name)]
    params = {name: "v" for name in PUBLIC_PARAM_NAMES}
    unredacted = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:20]
    assert request_key(params) == unredacted, "public requests keep their retained file names"


def test_urls_lose_credentials_but_keep_the_rest():
    url = "https://u:hunter2pass@api.example/v1?symbol=BTCUSDT&apiKey=abc123&timestamp=17"
    assert redact_url(url) == "https://u:***@api.example/v1?symbol=BTCUSDT&apiKey=***&timestamp=17"
    response = Response(URLS["okx"], {"instId": "BTC-USDT-SWAP", "sign": "xyz"}, 200, {}, b"",
                        datetime.now(UTC))  # fmt: skip
    assert response.source_uri == f"{URLS['okx']}?instId=BTC-USDT-SWAP&sign=***"


def test_masking_leaves_ordinary_text_alone():
    text = "landed 1,440 rows of binance klines BTCUSDT-1m for 2024-03-05 (symbol=BTCUSDT)"
    assert mask_text(text) == text
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "rows %d", (5,), None)
    assert SecretMaskingFilter().filter(record) and record.getMessage() == "rows 5"


def test_inside_airflow_keys_also_go_to_airflows_masker():
    pytest.importorskip("airflow.sdk")
    from airflow.sdk.log import redact

    value = "airflow-only-k3y-0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    Secret(value)
    assert value not in str(redact(f"task log line with {value}"))
