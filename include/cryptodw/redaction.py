"""Keep credentials out of logs, errors and retained payloads.

Every endpoint the pipeline calls is public, but a user may configure the venues' API keys
(`settings.API_KEY_VARIABLES`). Two mechanisms keep them inside the process:

* by name: a header or query parameter whose name looks like a credential (`is_sensitive_name`:
  ``X-MBX-APIKEY``, ``OK-ACCESS-KEY``, ``signature``, ``Authorization``...) has its value
  replaced by `REDACTED` before a request is retained, named in lineage or in an error;
* by value: every `Secret` (and every credential header given to `HttpTransport`) is registered
  here; `SecretMaskingFilter` masks registered values, and credential-looking query parameters,
  in log records. `install_log_redaction()` puts the filter on the root logger's handlers (the
  CLI, the demo and the collector call it right after configuring logging). Inside an Airflow
  task a registered value also goes to Airflow's own secrets masker, which guards task logs.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "***"

_SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
# A name is a credential when, letters only, it ends with one of these words
_CREDENTIAL_SUFFIXES = ("key", "sign", "signature", "secret", "passphrase", "password", "token")
_CREDENTIAL_PARAM = re.compile(
    r"(?P<name>\b[A-Za-z_-]*(?:key|sign|signature|secret|passphrase|password|token)=)"
    r"[^&\s\"'#]+",
    re.IGNORECASE,
)

_registered: set[str] = set()
_lock = threading.Lock()


class Secret:
    """A configured credential. Its repr and str never show it; `reveal()` does.

    Creating one registers the value for masking in logs (see module docstring).
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not value:
            raise ValueError("a secret cannot be empty")
        self._value = value
        register_secret(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def is_sensitive_name(name: str) -> bool:
    """True for header or parameter names that carry credentials (case and separators ignored)."""
    lowered = name.lower()
    letters = re.sub(r"[^a-z]", "", lowered)
    return lowered in _SENSITIVE_HEADERS or letters.endswith(_CREDENTIAL_SUFFIXES)


def redact_mapping(items: Mapping[str, str]) -> dict[str, str]:
    """A copy of headers or query parameters with every credential value replaced."""
    return {k: REDACTED if is_sensitive_name(k) else v for k, v in items.items()}


def redact_url(url: str) -> str:
    """`url` with credential query parameters and any userinfo password replaced."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", f":{REDACTED}@", 1)
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, REDACTED if is_sensitive_name(k) else v) for k, v in pairs], safe="*"
        )
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def register_secret(value: str) -> None:
    """Mask `value` in every log record from now on (and in Airflow's task logs, in a task)."""
    if not value:
        return
    with _lock:
        _registered.add(value)
    _register_with_airflow(value)


def _register_with_airflow(value: str) -> None:
    """Hand the value to Airflow's secrets masker when this process already runs Airflow code.

    Never imports Airflow itself: a CLI or test process that has not loaded it has no Airflow
    task logs to protect.
    """
    if "airflow.sdk" not in sys.modules:
        return
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:
        return
    mask_secret(value)


def mask_registered(text: str) -> str:
    """`text` with every registered secret value masked (nothing else changes)."""
    with _lock:
        secrets = sorted(_registered, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def mask_text(text: str) -> str:
    """`text` with registered secrets and credential-looking query parameters masked."""
    return _CREDENTIAL_PARAM.sub(lambda m: m.group("name") + REDACTED, mask_registered(text))


class SecretMaskingFilter(logging.Filter):
    """Rewrites a record's message, traceback and stack with `mask_text`; drops nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True


_FILTER = SecretMaskingFilter()


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Put the masking filter on every handler of `logger` (default: root); idempotent.

    Call after configuring logging. Handler filters see records propagated from every
    logger, which a filter on the root logger itself would not.
    """
    for handler in (logger or logging.getLogger()).handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
